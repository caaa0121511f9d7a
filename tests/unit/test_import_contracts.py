"""The layer contracts of setup.cfg (import-linter) hold, and do fail on a violation.

``make check`` runs ``lint-imports`` on the tree; these tests run it here too, and on a
copy of the packages with one forbidden import added, so a contract that silently
stopped matching anything would be noticed.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import e2e_crypto

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chat_server", "e2e_crypto", "payments", "moderation", "carechat_bench")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and setup.cfg: each test adds one import to a fresh one."""
    base = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, base / package, ignore=shutil.ignore_patterns("__pycache__", "js")
        )
    shutil.copy(ROOT / "setup.cfg", base / "setup.cfg")
    return base


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every contract ran and was kept (a renamed module would make one match nothing).
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    contracts = [name for name in config.sections() if name.startswith("importlinter:contract")]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


# (module that gains the import, the import, the contract that must break)
VIOLATIONS = [
    ("chat_server/rest/health.py", "from chat_server.ws import hub", "Layers"),
    ("chat_server/ws/router.py", "from chat_server.rest import bodies", "Layers"),
    ("chat_server/handlers/audit.py", "from chat_server.rest import auth", "Layers"),
    ("chat_server/storage/audit.py", "from chat_server.handlers import throttle", "Layers"),
    ("chat_server/model/threads.py", "from chat_server.storage import mongo", "Layers"),
    ("chat_server/storage/audit.py", "import aiohttp", "Storage knows neither"),
    ("chat_server/storage/audit.py", "from chat_server import appkeys", "Storage knows neither"),
    ("chat_server/handlers/audit.py", "import aiohttp", "Handlers decide without aiohttp"),
    ("chat_server/model/threads.py", "import pymongo", "The domain model does no I/O"),
    ("moderation/audit.py", "import payments", "The libraries are independent"),
    ("payments/__init__.py", "import chat_server.errors", "The libraries never import the server"),
    ("moderation/ratelimit.py", "import aiohttp", "The libraries know nothing of aiohttp"),
    ("moderation/ratelimit.py", "from moderation import limits", "Moderation's layers"),
    ("moderation/pseudonym.py", "from moderation import audit", "Moderation's layers"),
    ("e2e_crypto/wire.py", "from e2e_crypto import keys", "e2e_crypto's structural half"),
    (
        "chat_server/handlers/intake.py",
        "from e2e_crypto import envelope",
        "The server cannot decrypt",
    ),
    ("chat_server/cli.py", "import carechat_bench.command", "The server cannot decrypt"),
]


@pytest.mark.parametrize(("module", "line", "contract"), VIOLATIONS)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert broken, result.stdout
    assert any(row.startswith(contract) for row in broken), result.stdout


def test_the_crypto_contracts_list_both_halves() -> None:
    """setup.cfg repeats e2e_crypto's two lists; they must not drift apart."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    halves = config["importlinter:contract:crypto-halves"]
    server = config["importlinter:contract:server-cannot-decrypt"]
    assert halves["source_modules"].split() == list(e2e_crypto.SERVER_IMPORTABLE)
    client_only = [*e2e_crypto.CLIENT_ONLY, "e2e_crypto.client"]
    assert halves["forbidden_modules"].split() == client_only
    assert server["forbidden_modules"].split() == [*client_only, "carechat_bench"]
