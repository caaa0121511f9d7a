"""A three-member MongoDB replica set on loopback whose primary a test can kill.

Each member is an :class:`~chat_server.embedded.mongod.EmbeddedMongo` process (same
binary, same flags, same start-up checks) that is launched but not initiated on its
own; :class:`ReplicaSet` then initiates the set once with short heartbeats and
election timeouts, so that after a SIGKILL of the primary the two others elect a new
one in about a second, and still form a majority for ``w: "majority"`` writes.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from chat_server.embedded.mongod import REPLICA_SET, EmbeddedMongo, mongod_binary
from chat_server.embedded.processes import LocalService, ServiceStartError

ELECTION_TIMEOUT_MS = 1000
HEARTBEAT_INTERVAL_MS = 250


class ReplicaMember(EmbeddedMongo):
    """One member: started like the embedded MongoDB, initiated by :class:`ReplicaSet`."""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.db_path.mkdir(parents=True, exist_ok=True)
        self._launch(mongod_binary(self._binary))

    def kill(self) -> None:
        """SIGKILL: no step-down, no goodbye to the other members."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
        self.stop()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def hello(self) -> dict[str, Any]:
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.host, directConnection=True, serverSelectionTimeoutMS=2000
        )
        with client:
            reply: dict[str, Any] = client.admin.command("hello")
            return reply


class ReplicaSet(LocalService):
    def __init__(self, data_dir: Path, size: int = 3) -> None:
        # Initiated here without credentials, so without access control.
        self.members = [ReplicaMember(data_dir / f"member{i}", auth=False) for i in range(size)]

    @property
    def uri(self) -> str:
        hosts = ",".join(m.host for m in self.members)
        # Drivers look for the new primary every 0.5 s (their floor) instead of 10 s.
        return f"mongodb://{hosts}/?replicaSet={REPLICA_SET}&heartbeatFrequencyMS=500"

    def start(self) -> None:
        try:
            with ThreadPoolExecutor(len(self.members)) as pool:
                list(pool.map(ReplicaMember.start, self.members))
            self._initiate()
            self.wait_for_primary(60)
            self._wait_for_secondaries(60)
        except BaseException:
            self.stop()
            raise

    def _initiate(self) -> None:
        config = {
            "_id": REPLICA_SET,
            # The first member is preferred, so the primary is known before any fault.
            "members": [
                {"_id": i, "host": m.host, "priority": 2 if i == 0 else 1}
                for i, m in enumerate(self.members)
            ],
            "settings": {
                "electionTimeoutMillis": ELECTION_TIMEOUT_MS,
                "heartbeatIntervalMillis": HEARTBEAT_INTERVAL_MS,
            },
        }
        client: MongoClient[dict[str, Any]] = MongoClient(
            self.members[0].host, directConnection=True, serverSelectionTimeoutMS=10_000
        )
        with client:
            client.admin.command("replSetInitiate", config)

    def primary(self) -> ReplicaMember | None:
        for member in self.members:
            if not member.alive:
                continue
            try:
                if member.hello().get("isWritablePrimary"):
                    return member
            except PyMongoError:
                continue
        return None

    def wait_for_primary(self, timeout: float) -> ReplicaMember:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.primary()
            if found is not None:
                return found
            time.sleep(0.05)
        raise ServiceStartError(f"no primary elected within {timeout} s")

    def _wait_for_secondaries(self, timeout: float) -> None:
        """Every other member replicates, so a majority acknowledges writes at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(m.hello().get("isWritablePrimary") or m.hello().get("secondary")
                       for m in self.members):  # fmt: skip
                    return
            except PyMongoError:
                pass
            time.sleep(0.1)
        raise ServiceStartError(f"members not all secondaries within {timeout} s")

    def stop(self) -> None:
        # SIGKILL: a member asked to shut down waits up to 15 s for the others to
        # catch up, and nothing here needs to outlive the test.
        for member in self.members:
            member.kill()
