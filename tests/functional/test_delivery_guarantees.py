"""Nothing acknowledged is lost or duplicated: two real server processes, shared
MongoDB and Redis, connections cut at random, a process killed with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest

from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import VerifiedDevice, verify_device_certificate
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import Actor, actor
from tests.servers import FileOutboxReader, ServerProcess, UrlClient, server_pair
from tests.services import Services


@pytest.fixture
def servers(services: Services, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    env = {
        "CARECHAT_MONGODB_URI": services.mongo.uri,
        "CARECHAT_MONGODB_DB": f"delivery_{uuid4().hex[:12]}",
        "CARECHAT_REDIS_URL": services.redis.url,
        "CARECHAT_REDIS_PREFIX": f"t{uuid4().hex[:8]}:",
        # Two devices send 500 messages each as fast as they can: lift the per-device
        # limit meant for people typing.
        "CARECHAT_SEND_LIMIT_PER_DEVICE": "100000",
        "CARECHAT_SEND_LIMIT_PER_ACCOUNT": "100000",
    }
    with server_pair(tmp_path, env) as started:
        yield started


MESSAGES_EACH = 500


@dataclass
class Sent:
    envelope: str
    state: str = "invoked"  # invoked -> acked | unknown (connection cut before the ack)
    seq: int | None = None


@dataclass
class ResilientDevice:
    """A client that resends every unacknowledged message after a reconnect, with the
    same client message id, and resumes from its contiguous cursor."""

    actor: Actor
    keys: DeviceKeys
    thread: str
    bases: list[str]
    rng: random.Random
    sent: dict[str, Sent] = field(default_factory=dict)
    received: dict[int, str] = field(default_factory=dict)  # seq -> client_msg_id
    ws: aiohttp.ClientWebSocketResponse | None = None
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    duplicates: int = 0

    @property
    def cursor(self) -> int:
        seq = 0
        while seq + 1 in self.received:
            seq += 1
        return seq

    async def connect(self) -> None:
        """Connects to a random live process and says hello; retried until it works
        (the chaos may cut this very connection, or the process may be dead)."""
        assert isinstance(self.actor.client, UrlClient)
        while True:
            self.actor.client.base = self.rng.choice(self.bases)
            try:
                ticket = await self.actor.ticket(self.keys.device_id)
                ws = await self.actor.client.ws_connect("/ws")
                self.ws = ws
                await ws.send_json({"type": "hello", "ticket": ticket})
                welcome = await ws.receive(timeout=10)
            except (aiohttp.ClientError, AssertionError, OSError, TimeoutError):
                await asyncio.sleep(0.05)
                continue
            if (
                welcome.type is aiohttp.WSMsgType.TEXT
                and json.loads(welcome.data)["type"] == "welcome"
            ):
                break
        self.synced.clear()
        self.reader = asyncio.create_task(self._read(ws))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json({"type": "sync", "cursors": {self.thread: self.cursor}})

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["type"] == "msg":
                self._on_message(frame)
                if frame["seq"] > self.cursor + 1:
                    await ws.send_json({"type": "sync", "cursors": {self.thread: self.cursor}})
            elif frame["type"] == "resync":
                # The server may have missed live events (Redis restarted): catch up.
                await ws.send_json({"type": "sync", "cursors": {self.thread: self.cursor}})
            elif frame["type"] == "synced":
                if frame["more"]:
                    await ws.send_json({"type": "sync", "cursors": {self.thread: self.cursor}})
                else:
                    self.synced.set()
            elif frame["type"] == "ack" or (frame["type"] == "error" and frame.get("re")):
                future = self.acks.pop(frame["re"], None)
                if future is not None and not future.done():
                    future.set_result(frame)
        for future in self.acks.values():
            if not future.done():
                future.set_exception(ConnectionError("cut"))
        self.acks.clear()

    def _on_message(self, frame: dict[str, Any]) -> None:
        seq, cmid = frame["seq"], frame["client_msg_id"]
        if seq in self.received:
            assert self.received[seq] == cmid, "one seq, two messages"
            self.duplicates += 1
            return
        self.received[seq] = cmid

    async def cut(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()

    async def send(self, text: str, to: list[VerifiedDevice]) -> None:
        cmid = secrets.token_urlsafe(16)
        envelope = seal_message(
            self.keys, thread_id=self.thread, client_msg_id=cmid, body=text.encode(), to_devices=to
        )
        record = self.sent[cmid] = Sent(to_base64url(envelope))
        while record.state != "acked":
            if self.ws is None or self.ws.closed or self.reader is None or self.reader.done():
                await self.cut()
                await self.connect()
            assert self.ws is not None
            frame_id = secrets.token_hex(6)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.acks[frame_id] = future
            try:
                if self.reader is None or self.reader.done():
                    raise ConnectionError("the reader saw the cut before this send")
                await self.ws.send_json(
                    {"type": "send", "id": frame_id, "thread": self.thread,
                     "client_msg_id": cmid, "envelope": record.envelope}
                )  # fmt: skip
                answer = await asyncio.wait_for(future, 3)
            except (ConnectionError, ConnectionResetError, RuntimeError, TimeoutError):
                record.state = "unknown"
                continue
            if answer["type"] == "error":
                assert answer["code"] in ("rate_limited", "unavailable"), answer
                await asyncio.sleep(answer.get("retry_after", 0.1))
                continue
            assert answer["client_msg_id"] == cmid
            record.state, record.seq = "acked", answer["seq"]

    async def settle(self) -> None:
        """A last clean reconnect and full sync."""
        await self.cut()
        if self.reader is not None:
            await self.reader
        await self.connect()
        await asyncio.wait_for(self.synced.wait(), 20)

    async def close(self) -> None:
        await self.cut()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader


@contextlib.asynccontextmanager
async def _pair(
    servers: list[ServerProcess], tmp_path: Path, seed: int
) -> AsyncIterator[tuple[ResilientDevice, ResilientDevice, list[VerifiedDevice]]]:
    bases = [s.url for s in servers]
    outbox = FileOutboxReader(tmp_path)
    async with aiohttp.ClientSession() as http_a, aiohttp.ClientSession() as http_b:
        doctor = await actor(UrlClient(http_a, bases[0]), outbox, "doc@example.org", "practitioner")
        ann = await actor(UrlClient(http_b, bases[1]), outbox, "ann@example.org")
        link = await ann.call(
            "POST", "/api/v1/care-links",
            {"provider": {"kind": "practitioner", "id": doctor.account_id}}, expect=201,
        )  # fmt: skip
        await doctor.call(
            "POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True}
        )
        thread = await ann.call(
            "POST", "/api/v1/threads",
            {"kind": "care", "provider": {"kind": "practitioner", "id": doctor.account_id}},
            expect=201,
        )  # fmt: skip
        await doctor.call("POST", f"/api/v1/threads/{thread['thread_id']}/accept")
        devices = []
        for who, device_id in ((ann, "ann-phone"), (doctor, "doc-pc")):
            await who.publish_root_key()
            devices.append(await who.add_device(device_id))
        to = [
            verify_device_certificate(
                who.root.certify(keys).encode(),
                account_id=who.account_id,
                root_key=who.root.public_key,
            )
            for who, keys in ((ann, devices[0]), (doctor, devices[1]))
        ]
        rng = random.Random(seed)
        patient = ResilientDevice(ann, devices[0], thread["thread_id"], bases, rng)
        practitioner = ResilientDevice(doctor, devices[1], thread["thread_id"], bases, rng)
        try:
            yield patient, practitioner, to
        finally:
            await patient.close()
            await practitioner.close()


def _check_exactly_once(devices: list[ResilientDevice]) -> None:
    acked = {
        cmid: record.seq
        for d in devices
        for cmid, record in d.sent.items()
        if record.state == "acked" and record.seq is not None
    }
    assert len(acked) == sum(len(d.sent) for d in devices)  # every send was finally acked
    assert sorted(acked.values()) == list(range(1, len(acked) + 1))  # contiguous, no seq twice
    by_seq = {seq: cmid for cmid, seq in acked.items()}
    for device in devices:
        # Every acknowledged message reached every device, once, in thread order.
        assert device.received == by_seq
        assert device.cursor == len(acked)


async def test_random_cuts_during_a_thousand_message_exchange(
    servers: list[ServerProcess], tmp_path: Path
) -> None:
    async with _pair(servers, tmp_path, seed=20261122) as (patient, practitioner, to):
        await patient.connect()
        await practitioner.connect()
        stop = asyncio.Event()

        async def chaos() -> int:
            cuts = 0
            while not stop.is_set():
                await asyncio.sleep(patient.rng.uniform(0.02, 0.25))
                await patient.rng.choice([patient, practitioner]).cut()
                cuts += 1
            return cuts

        async def talk(device: ResilientDevice, who: str) -> None:
            for i in range(MESSAGES_EACH):
                await device.send(f"{who} {i}", to)

        chaos_task = asyncio.create_task(chaos())
        await asyncio.wait_for(
            asyncio.gather(talk(patient, "patient"), talk(practitioner, "doctor")), 240
        )
        stop.set()
        cuts = await chaos_task
        await patient.settle()
        await practitioner.settle()
        assert cuts > 20  # the connections really were cut, many times
        assert any(r.state == "acked" for r in patient.sent.values())
        _check_exactly_once([patient, practitioner])


async def test_a_killed_process_loses_nothing(servers: list[ServerProcess], tmp_path: Path) -> None:
    a, b = servers
    async with _pair(servers, tmp_path, seed=7) as (patient, practitioner, to):
        patient.bases, practitioner.bases = [a.url], [b.url]
        await patient.connect()
        await practitioner.connect()
        for i in range(20):
            await patient.send(f"before {i}", to)
            await practitioner.send(f"reply {i}", to)
        a.kill()  # SIGKILL: no goodbye, no drain
        patient.bases = [b.url]
        for i in range(10):
            await practitioner.send(f"while you were away {i}", to)
        for i in range(10):
            await patient.send(f"back on B {i}", to)
        await patient.settle()
        await practitioner.settle()
        _check_exactly_once([patient, practitioner])
        # The opened text is what was sent: the replay is real ciphertext, not just ids.
        keys = {(d.account_id, d.device_id): d for d in to}
        assert practitioner.received[1] in patient.sent
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{b.url}/api/v1/threads/{patient.thread}/messages?limit=1",
                headers=patient.actor.auth,
            ) as response,
        ):
            first = (await response.json())["messages"][0]
        opened = open_message(
            from_base64url(first["envelope"]), opener=patient.keys,
            sender=keys[(first["sender"]["account"], first["sender"]["device"])],
            thread_id=patient.thread, client_msg_id=first["client_msg_id"],
        )  # fmt: skip
        assert opened.body == b"before 0"
