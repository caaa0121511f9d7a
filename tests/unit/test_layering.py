"""The dependency rule of docs/architecture.md, enforced.

Each check imports modules in a fresh interpreter and inspects ``sys.modules``, so an
indirect import (through a third module) is caught as well as a direct one.
"""

import json
import subprocess
import sys

import pytest

import e2e_crypto


def _modules_after_import(*names: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(names)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout))


def test_the_server_cannot_decrypt() -> None:
    """chat_server imports only the structural half of e2e_crypto, never the SDK."""
    loaded = _modules_after_import("chat_server.app", "chat_server.cli")
    client_only = set(e2e_crypto.CLIENT_ONLY)
    assert "e2e_crypto.keys" in client_only  # the list is what we think it is
    assert "chat_server.app" in loaded
    assert "e2e_crypto.wire" in loaded  # the server does use the structural half
    assert not loaded & client_only
    assert not {m for m in loaded if m.startswith("e2e_crypto.client")}


@pytest.mark.parametrize("package", ["e2e_crypto", "moderation", "payments"])
def test_libraries_know_nothing_of_the_server_or_of_aiohttp(package: str) -> None:
    modules = {
        # The SDK (e2e_crypto.client) may use aiohttp's client; the crypto core may not.
        "e2e_crypto": [
            name
            for name in e2e_crypto.SERVER_IMPORTABLE + e2e_crypto.CLIENT_ONLY
            if not name.startswith("e2e_crypto.client")
        ],
        "moderation": ["moderation.ratelimit", "moderation.audit"],
        # Its deciding half; payments.gateway and payments.checkout import `stripe`,
        # which loads aiohttp itself for its async HTTP client (stripe's, not ours).
        "payments": ["payments.terms", "payments.keys", "payments.signatures", "payments.facts"],
    }[package]
    loaded = _modules_after_import(*modules)
    assert not {m for m in loaded if m.split(".")[0] == "chat_server"}
    assert "aiohttp" not in loaded
    others = {"e2e_crypto", "moderation", "payments"} - {package}
    assert not {m for m in loaded if m.split(".")[0] in others}
