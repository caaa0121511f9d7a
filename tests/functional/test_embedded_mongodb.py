"""The embedded MongoDB's access: loopback only, a generated password, and where to
find the address (printed without the password; the full URI in a 0600 file)."""

from __future__ import annotations

import resource
import stat
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from chat_server.embedded.mongod import URI_FILE, EmbeddedMongo


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=5000)


def test_access_needs_the_generated_password_kept_in_the_data_directory(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "mongodb"
    with EmbeddedMongo(data_dir) as mongo:
        uri, port = mongo.uri, mongo.port
        assert (data_dir / URI_FILE).read_text().strip() == uri
        password = (data_dir / "password").read_text().strip()
        assert len(password) >= 32
        assert f":{password}@" in uri
        assert password not in mongo.address
        assert (
            mongo.address == f"mongodb://carechat@127.0.0.1:{port}/?replicaSet=rs0&authSource=admin"
        )
        assert _mode(data_dir) == 0o700
        assert _mode(data_dir / URI_FILE) == _mode(data_dir / "password") == 0o600
        assert _mode(data_dir / "keyfile") == 0o400

        with _client(uri) as client:
            client.carechat.probe.insert_one({"_id": "kept"})
        with _client(f"mongodb://127.0.0.1:{port}/?directConnection=true") as anonymous:
            with pytest.raises(OperationFailure) as refused:
                anonymous.carechat.probe.find_one({})
            assert refused.value.code == 13  # Unauthorized

    # A restart reuses the password (and the data) on a new port.
    with EmbeddedMongo(data_dir) as again:
        assert again.port != port
        assert (data_dir / "password").read_text().strip() == password
        assert (data_dir / URI_FILE).read_text().strip() == again.uri
        with _client(again.uri) as client:
            assert client.carechat.probe.find_one({}) == {"_id": "kept"}

    # A lost password file: the user gets a new password, the data stays.
    (data_dir / "password").unlink()
    with EmbeddedMongo(data_dir) as rekeyed:
        new_password = (data_dir / "password").read_text().strip()
        assert new_password != password
        with _client(rekeyed.uri) as client:
            assert client.carechat.probe.find_one({}) == {"_id": "kept"}
        stale = rekeyed.uri.replace(new_password, password)
        with _client(stale) as client, pytest.raises(OperationFailure):
            client.carechat.probe.find_one({})


def test_mongod_may_open_as_many_files_as_the_hard_limit_allows(tmp_path: Path) -> None:
    # Each collection and index is a file mongod keeps open: a test session's many
    # databases ran one out of descriptors at a soft limit below the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 1024)
    assert lowered < hard, "the hard limit leaves no room to test this"
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        with EmbeddedMongo(tmp_path / "mongodb", auth=False) as mongo:
            limits = Path(f"/proc/{mongo.pid}/limits").read_text()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    [line] = [row for row in limits.splitlines() if row.startswith("Max open files")]
    unlimited = hard == resource.RLIM_INFINITY
    wanted = [str(1 << 20), "unlimited"] if unlimited else [str(hard), str(hard)]
    assert line.split()[3:5] == wanted
