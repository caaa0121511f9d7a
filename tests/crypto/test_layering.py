"""The server-importable half never imports the decrypting half (fresh interpreters)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import e2e_crypto
from e2e_crypto import CLIENT_ONLY, SERVER_IMPORTABLE

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def test_every_module_is_classified() -> None:
    found = {f"e2e_crypto.{m.name}" for m in pkgutil.iter_modules(e2e_crypto.__path__)}
    found.discard("e2e_crypto.client")  # the SDK package, client-only by definition
    assert found == set(SERVER_IMPORTABLE) | set(CLIENT_ONLY)
    assert not set(SERVER_IMPORTABLE) & set(CLIENT_ONLY)


@pytest.mark.parametrize("module", SERVER_IMPORTABLE)
def test_server_module_pulls_in_no_client_module(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert module in loaded
    leaked = {m for m in loaded if m in CLIENT_ONLY or m.startswith("e2e_crypto.client")}
    assert not leaked, f"{module} imports client-only {sorted(leaked)}"


def test_the_probe_does_see_client_modules() -> None:
    # Guards the guard: importing the decrypting half must show up in the probe.
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "e2e_crypto.envelope"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "e2e_crypto.keys" in json.loads(result.stdout)
