"""Every way ``carechat`` can be started wrongly ends the same way.

One line on stderr that starts with ``carechat: `` and names what to fix, exit status
2, no traceback, no credential echoed back, and no half-initialised data directory.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat_server.embedded.mongod import _wheel_bin_dirs
from chat_server.embedded.processes import find_binary, free_port, stop_process, wait_for_port
from tests.functional.command import Finished, run_carechat
from tests.services import Services

PROGRESS = "carechat: starting embedded MongoDB in "
PASSWORD = "hunter2-do-not-print"


def assert_refused(result: Finished, *fragments: str) -> None:
    """Exit 2 and exactly one ``carechat:`` message (besides progress and JSON logs)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.last_line()
    assert last.startswith("carechat: "), result.stderr
    for fragment in fragments:
        assert fragment in last, result.stderr
    messages = []
    for line in filter(str.strip, result.stderr.splitlines()):
        if line.startswith(PROGRESS):
            continue
        if line.startswith("carechat: "):
            messages.append(line)
        else:
            assert isinstance(json.loads(line), dict), f"stray stderr line: {line!r}"
    assert messages == [last], result.stderr


@pytest.fixture
def standalone_mongod(tmp_path: Path) -> Iterator[int]:
    """A MongoDB that is not a replica set member (no --replSet), from the same binary."""
    binary = find_binary("mongod", None, _wheel_bin_dirs())
    db_path = tmp_path / "standalone"
    db_path.mkdir()
    port = free_port()
    args = [
        str(binary),
        "--dbpath", str(db_path),
        "--port", str(port),
        "--bind_ip", "127.0.0.1",
        "--nounixsocket",
        "--wiredTigerCacheSizeGB", "0.25",
        "--logpath", str(tmp_path / "standalone.log"),
        "--setParameter", "diagnosticDataCollectionEnabled=false",
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for_port(proc, "127.0.0.1", port, 30.0), "standalone mongod did not start"
        yield port
    finally:
        stop_process(proc)


@pytest.mark.parametrize(
    ("settings", "fragments"),
    [
        pytest.param({"port": "abc"}, ["invalid setting CARECHAT_PORT"], id="port-not-integer"),
        pytest.param(
            {"ws_heartbeat_seconds": "-1"},
            ["invalid setting CARECHAT_WS_HEARTBEAT_SECONDS", "seconds from 1 to 300"],
            id="negative-heartbeat",
        ),
        pytest.param({"foo": "1"}, ["unknown setting CARECHAT_FOO"], id="unknown-setting"),
        pytest.param(
            {"mongodb_uri": f"http://carechat:{PASSWORD}@db.example/"},
            ["invalid setting CARECHAT_MONGODB_URI", "mongodb://"],
            id="wrong-uri-scheme",
        ),
    ],
)
def test_invalid_setting(
    env: dict[str, str], data_dir: Path, settings: dict[str, str], fragments: list[str]
) -> None:
    env.update({f"CARECHAT_{name.upper()}": value for name, value in settings.items()})
    result = run_carechat(["serve"], env)
    assert_refused(result, *fragments)
    assert PASSWORD not in result.stderr
    assert not data_dir.exists()


def test_out_of_range_port_option(env: dict[str, str], data_dir: Path) -> None:
    assert_refused(run_carechat(["serve", "--port", "70000"], env), "invalid setting port")
    assert not data_dir.exists()


def test_missing_command(env: dict[str, str], data_dir: Path) -> None:
    # argparse's own form: a usage line, then the error, exit status 2.
    result = run_carechat([], env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: carechat ")
    assert result.last_line().startswith("carechat: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize("via", ["option", "environment"])
def test_toml_syntax_error(env: dict[str, str], data_dir: Path, tmp_path: Path, via: str) -> None:
    config = tmp_path / "carechat.toml"
    config.write_text('[carechat]\nport = 8080\nhost = "127.0.0.1\n', encoding="utf-8")
    if via == "option":
        result = run_carechat(["--config", str(config), "serve"], env)
    else:
        result = run_carechat(["serve"], {**env, "CARECHAT_CONFIG": str(config)})
    assert_refused(result, f"config file {config} is not valid TOML", "line 3")
    assert not data_dir.exists()


def test_missing_config_file(env: dict[str, str], data_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert_refused(
        run_carechat(["--config", str(missing), "serve"], env),
        f"cannot read config file {missing}",
    )
    assert not data_dir.exists()


def test_missing_mongod_binary(env: dict[str, str], data_dir: Path) -> None:
    env["CARECHAT_MONGOD_PATH"] = "/nonexistent/mongod"
    result = run_carechat(["serve"], env)
    assert_refused(result, "mongod not found at configured path /nonexistent/mongod")
    assert not (data_dir / "mongodb").exists()


def test_mongod_binary_that_cannot_start(env: dict[str, str], data_dir: Path) -> None:
    false = shutil.which("false")
    assert false is not None
    env["CARECHAT_MONGOD_PATH"] = false
    result = run_carechat(["serve"], env)
    assert_refused(result, "embedded MongoDB did not start")
    # It got as far as creating the directory: the failed first start removed it.
    assert not (data_dir / "mongodb").exists()


def test_http_port_in_use(env: dict[str, str], data_dir: Path) -> None:
    port = int(env["CARECHAT_PORT"])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = run_carechat(["serve"], env)
    assert_refused(result, f"port {port} on 127.0.0.1 is in use", "CARECHAT_PORT")
    assert not (data_dir / "mongodb").exists()


def test_metrics_port_in_use(external_env: dict[str, str], data_dir: Path) -> None:
    host, _, port = external_env["CARECHAT_METRICS_LISTEN"].rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((host, int(port)))
        taken.listen()
        result = run_carechat(["serve"], external_env)
    assert_refused(result, f"cannot listen for metrics on {host}:{port}", "CARECHAT_METRICS_LISTEN")


def test_unreachable_mongodb(env: dict[str, str], data_dir: Path) -> None:
    # Nothing listens on a port just released; the driver gives up after its 10 s.
    env["CARECHAT_MONGODB_URI"] = f"mongodb://carechat:{PASSWORD}@127.0.0.1:{free_port()}/"
    result = run_carechat(["serve"], env)
    assert_refused(result, "MongoDB unreachable at CARECHAT_MONGODB_URI")
    assert PASSWORD not in result.stderr
    assert not (data_dir / "mongodb").exists()


def test_mongodb_that_is_not_a_replica_set(
    env: dict[str, str], data_dir: Path, standalone_mongod: int
) -> None:
    env["CARECHAT_MONGODB_URI"] = f"mongodb://127.0.0.1:{standalone_mongod}/?directConnection=true"
    result = run_carechat(["serve"], env)
    assert_refused(result, "not a replica set member", "--replSet")
    assert not (data_dir / "mongodb").exists()


def test_unreachable_redis(
    external_env: dict[str, str], data_dir: Path, services: Services
) -> None:
    external_env["CARECHAT_REDIS_URL"] = f"redis://carechat:pw@127.0.0.1:{free_port()}/0"
    result = run_carechat(["serve"], external_env)
    assert_refused(result, "Redis unreachable at CARECHAT_REDIS_URL")
    assert not (data_dir / "mongodb").exists()


def test_redis_with_a_wrong_password(
    external_env: dict[str, str], data_dir: Path, services: Services
) -> None:
    port = services.redis.port
    external_env["CARECHAT_REDIS_URL"] = f"redis://carechat:not-the-password@127.0.0.1:{port}/0"
    result = run_carechat(["serve"], external_env)
    assert_refused(result, "Redis unreachable at CARECHAT_REDIS_URL (AuthenticationError)")
    assert "not-the-password" not in result.stderr + result.stdout


def test_redis_without_credentials_is_refused_unless_said_insecure(
    external_env: dict[str, str], data_dir: Path, services: Services
) -> None:
    external_env["CARECHAT_REDIS_URL"] = f"redis://127.0.0.1:{services.redis.port}/0"
    assert_refused(
        run_carechat(["serve"], external_env),
        "invalid setting CARECHAT_REDIS_URL: expected a URL with a password",
    )
    # Said insecure, it starts, and the session's Redis (which has a password) is
    # what refuses it: the whole suite's Redis runs with authentication.
    external_env["CARECHAT_REDIS_INSECURE_NO_AUTH"] = "true"
    result = run_carechat(["serve"], external_env)
    assert_refused(result, "Redis unreachable at CARECHAT_REDIS_URL (AuthenticationError)")


def test_redis_without_server_secret(
    external_env: dict[str, str], data_dir: Path, services: Services
) -> None:
    del external_env["CARECHAT_SERVER_SECRET"]
    result = run_carechat(["serve"], external_env)
    assert_refused(result, "CARECHAT_SERVER_SECRET is required")
    assert not (data_dir / "mongodb").exists()
