"""``carechat serve`` and ``carechat migrate`` as an operator runs them.

The embedded default (no MongoDB URI: a private replica set in the data directory,
kept across restarts and stopped with the server) and the production shape (an
external MongoDB replica set and Redis, nothing written to the data directory).
"""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from chat_server.embedded.processes import free_port
from tests.functional.command import (
    accepts_connections,
    children,
    command_line,
    mongod_child,
    run_carechat,
)
from tests.functional.conftest import StartServer
from tests.services import Services

READY = {"mongodb": "ok", "fanout": "ok"}


def _client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, w="majority", serverSelectionTimeoutMS=5000)


def _embedded(data_dir: Path, port: int) -> MongoClient[dict[str, Any]]:
    """The embedded MongoDB through the URI it leaves for operators (it has a password)."""
    uri = (data_dir / "mongodb" / "connection-uri").read_text().strip()
    assert f"@127.0.0.1:{port}/" in uri
    return _client(uri)


def _assert_gone(pid: int, port: int) -> None:
    argv = command_line(pid)
    assert not (argv and Path(argv[0]).name == "mongod"), f"mongod {pid} still running"
    assert not accepts_connections(port), f"something still listens on mongod's port {port}"


def test_embedded_default_starts_stops_and_keeps_its_data(
    start_server: StartServer, env: dict[str, str], data_dir: Path
) -> None:
    server = start_server(env)
    assert server.wait_ready()["checks"] == READY
    mongod_pid, mongod_port = mongod_child(server.proc.pid)
    assert str(data_dir / "mongodb" / "db") in command_line(mongod_pid)
    with _embedded(data_dir, mongod_port) as client:
        assert client.admin.command("hello")["setName"] == "rs0"
        client.carechat.functional_probe.insert_one({"_id": "kept", "n": 1})

    assert server.stop(signal.SIGTERM) == 0
    _assert_gone(mongod_pid, mongod_port)
    assert "Traceback" not in server.output
    assert "carechat: starting embedded MongoDB in " in server.output
    password = (data_dir / "mongodb" / "password").read_text().strip()
    assert f"carechat: embedded MongoDB at mongodb://carechat@127.0.0.1:{mongod_port}/" in (
        server.output
    )
    assert password not in server.output

    # `migrate` on the same directory reuses the data and stops its mongod too.
    migrated = run_carechat(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.last_line() == "carechat: indexes are up to date"

    # A new start picks a new mongod port and re-points the replica set at it.
    second = start_server({**env, "CARECHAT_PORT": str(free_port())})
    assert second.wait_ready()["checks"] == READY
    second_pid, second_port = mongod_child(second.proc.pid)
    with _embedded(data_dir, second_port) as client:
        assert client.carechat.functional_probe.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
        assert "due" in client.carechat.jobs.index_information()
    assert second.stop(signal.SIGTERM) == 0
    _assert_gone(second_pid, second_port)


def test_external_mongodb_and_redis(
    start_server: StartServer,
    external_env: dict[str, str],
    external_db: str,
    data_dir: Path,
    services: Services,
) -> None:
    server = start_server(external_env)
    assert server.wait_ready()["checks"] == READY
    assert not any(
        Path(argv[0]).name == "mongod"
        for argv in map(command_line, children(server.proc.pid))
        if argv
    )
    # Start-up built the production indexes in the configured database.
    with _client(services.mongo.uri) as client:
        assert "dedupe" in client[external_db].jobs.index_information()
    # Prometheus reads its own listener; the public port does not know /metrics.
    assert server.get("/metrics")[0] == 404
    metrics_at = external_env["CARECHAT_METRICS_LISTEN"]
    with urllib.request.urlopen(f"http://{metrics_at}/metrics", timeout=5) as response:
        assert "carechat_ws_connections" in response.read().decode()
    assert server.stop(signal.SIGINT) == 0
    assert "starting embedded MongoDB" not in server.output
    assert "Traceback" not in server.output
    assert not (data_dir / "mongodb").exists()


def test_migrate_creates_indexes_in_the_configured_database(
    external_env: dict[str, str], external_db: str, data_dir: Path, services: Services
) -> None:
    result = run_carechat(["migrate"], external_env)
    assert result.returncode == 0, result.stderr
    assert result.last_line() == "carechat: indexes are up to date"
    # The data migrations ran too, and said how much they changed.
    assert "unsigned practice members dropped" in result.stderr
    assert "mailing opt-outs moved into consents" in result.stderr
    with _client(services.mongo.uri) as client:
        assert {"due", "dedupe"} <= set(client[external_db].jobs.index_information())
    assert not (data_dir / "mongodb").exists()
