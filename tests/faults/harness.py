"""The load a fault test runs, and how it ends in one check.

A :class:`Cast` is built once per test over the real HTTP API: two practitioners and
two patients, four care threads between them, six devices (a practitioner and a
patient with two each), so a message has two to four recipient devices and every
account takes part in two threads. :func:`run_load` makes each sending device send
concurrently to its threads while the test breaks something; a share of the sends
are ones the client gives up on after one attempt (they may end *unknown*) and a few
are deliberately invalid (they must *fail*). :func:`verify` lets every device settle,
reads what MongoDB stored, and runs the checker.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import aiohttp
from pymongo.read_concern import ReadConcern

from chat_server.storage.mongo import make_client
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import VerifiedDevice, verify_device_certificate
from tests.actors import Actor, login, register
from tests.faults.checker import StoredRow, Verdict, check_delivery
from tests.faults.device import Identity, ResilientDevice
from tests.faults.ledger import DeviceRef, Inbox, Ledger, State
from tests.servers import FileOutboxReader, UrlClient

# (name, role, devices); the practitioners come first: patients link to them.
# Device ids are unique server-wide, so each is prefixed with its owner's name.
PEOPLE = (
    ("doc1", "practitioner", ("doc1-pc", "doc1-phone")),
    ("doc2", "practitioner", ("doc2-pc",)),
    ("ann", "patient", ("ann-phone", "ann-tablet")),
    ("bob", "patient", ("bob-phone",)),
)
THREADS = (("ann", "doc1"), ("bob", "doc1"), ("ann", "doc2"), ("bob", "doc2"))


def server_env(mongodb_uri: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Settings for server processes sharing one fresh database and Redis prefix."""
    return {
        "CARECHAT_MONGODB_URI": mongodb_uri,
        "CARECHAT_MONGODB_DB": f"faults_{uuid4().hex[:12]}",
        "CARECHAT_REDIS_URL": redis_url,
        "CARECHAT_REDIS_PREFIX": f"f{uuid4().hex[:8]}:",
        # Devices here send as fast as they can: lift the limits meant for people.
        "CARECHAT_SEND_LIMIT_PER_DEVICE": "1000000",
        **extra,
    }


@dataclass
class Cast:
    actors: dict[str, Actor]
    keys: dict[DeviceRef, DeviceKeys]
    threads: dict[str, list[VerifiedDevice]]  # thread id -> its recipient devices
    pairs: dict[tuple[str, str], str]  # (patient, practitioner) names -> thread id

    @property
    def recipients(self) -> dict[str, set[DeviceRef]]:
        return {t: {(d.account_id, d.device_id) for d in to} for t, to in self.threads.items()}

    def threads_of(self, account_id: str) -> list[str]:
        return sorted(t for t, to in self.threads.items() if any(
            d.account_id == account_id for d in to))  # fmt: skip

    def device(self, name: str, device_id: str) -> DeviceRef:
        return (self.actors[name].account_id, device_id)

    def identity(self, ref: DeviceRef) -> Identity:
        owner = next(a for a in self.actors.values() if a.account_id == ref[0])
        return Identity(ref[0], ref[1], owner.token)


async def build_cast(base: str, data_dir: Path) -> Cast:
    """Registers the people, links them, opens and accepts the threads, adds devices."""
    outbox = FileOutboxReader(data_dir)
    actors: dict[str, Actor] = {}
    keys: dict[DeviceRef, DeviceKeys] = {}
    async with aiohttp.ClientSession() as http:
        client = UrlClient(http, base)
        for number, (name, role, device_ids) in enumerate(PEOPLE):
            email = f"{name}@example.org"
            registration = {"scheme": "riziv", "number": f"{number + 1:010d}"}
            account_id = await register(client, outbox, email, role, registration=registration)
            token = (await login(client, email))["token"]
            who = actors[name] = Actor(client, email, account_id, token, role)
            await who.publish_root_key()
            for device_id in device_ids:
                keys[(account_id, device_id)] = await who.add_device(device_id)
        threads: dict[str, list[VerifiedDevice]] = {}
        pairs: dict[tuple[str, str], str] = {}
        for patient_name, doctor_name in THREADS:
            patient, doctor = actors[patient_name], actors[doctor_name]
            provider = {"kind": "practitioner", "id": doctor.account_id}
            link = await patient.call(
                "POST", "/api/v1/care-links", {"provider": provider}, expect=201
            )
            await doctor.call(
                "POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True}
            )
            thread = await patient.call(
                "POST", "/api/v1/threads", {"kind": "care", "provider": provider}, expect=201
            )
            await doctor.call("POST", f"/api/v1/threads/{thread['thread_id']}/accept")
            pairs[(patient_name, doctor_name)] = thread["thread_id"]
            threads[thread["thread_id"]] = [
                verify_device_certificate(
                    who.root.certify(device).encode(),
                    account_id=who.account_id,
                    root_key=who.root.public_key,
                )
                for who in (patient, doctor)
                for device in who.devices.values()
            ]
    return Cast(actors, keys, threads, pairs)


@contextlib.asynccontextmanager
async def devices_of(
    cast: Cast,
    bases: list[str],
    ledger: Ledger,
    seed: int,
    *,
    skip: Iterable[DeviceRef] = (),
    pinned: bool = False,
    ack_timeout: float = 15.0,
) -> AsyncIterator[dict[DeviceRef, ResilientDevice]]:
    """Every device of the cast (but ``skip``), connected, closed afterwards.

    Each picks a process at random for every connection, or, ``pinned``, the i-th
    device always uses process ``i % len(bases)`` (in the order of ``PEOPLE``).
    """
    rng = random.Random(seed)
    left_out = set(skip)
    devices = {
        ref: ResilientDevice(
            cast.identity(ref),
            [bases[i % len(bases)]] if pinned else list(bases),
            random.Random(rng.random()),
            keys=keys,
            ledger=ledger,
            ack_timeout=ack_timeout,
        )
        for i, (ref, keys) in enumerate(cast.keys.items())
        if ref not in left_out
    }
    try:
        await asyncio.gather(*(d.start() for d in devices.values()))
        yield devices
    finally:
        await asyncio.gather(*(d.close() for d in devices.values()), return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Workload:
    messages: int  # per sending device
    in_flight: int = 2  # concurrent sends per device
    give_up_share: float = 0.1  # sends abandoned after one attempt
    poison_share: float = 0.02  # invalid sends, which must be refused
    pause: float = 0.0  # the longest random pause between two sends of one sender
    body_bytes: int = 0  # pad each message's plaintext to this size


@dataclass
class Progress:
    """Per sender device, how long each acked send took (for latency claims)."""

    latencies: dict[DeviceRef, list[float]] = field(default_factory=dict)


async def run_load(
    cast: Cast,
    senders: Iterable[ResilientDevice],
    workload: Workload,
    seed: int,
    seconds: float,
) -> Progress:
    progress = Progress()
    rng = random.Random(seed)

    async def sender(device: ResilientDevice, count: int, r: random.Random) -> None:
        threads = cast.threads_of(device.ref[0])
        spent = progress.latencies.setdefault(device.ref, [])
        loop = asyncio.get_running_loop()
        for i in range(count):
            thread = r.choice(threads)
            poison = r.random() < workload.poison_share
            persistent = not poison and r.random() >= workload.give_up_share
            started = loop.time()
            record = await device.send(
                thread,
                cast.threads[thread],
                f"{device.ref[1]} {i} ".ljust(workload.body_bytes, "."),
                persistent=persistent,
                poison=poison,
            )
            if record.state is State.ACKED:
                spent.append(loop.time() - started)
            if workload.pause:
                await asyncio.sleep(r.uniform(0, workload.pause))

    tasks = []
    for device in senders:
        share, extra = divmod(workload.messages, workload.in_flight)
        for n in range(workload.in_flight):
            count = share + (1 if n < extra else 0)
            tasks.append(sender(device, count, random.Random(rng.random())))
    await asyncio.wait_for(asyncio.gather(*tasks), seconds)
    return progress


async def until(condition: Callable[[], bool | Awaitable[bool]], seconds: float, what: str) -> None:
    """Waits for ``condition`` (a plain or async check), failing after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        met = condition()
        if met if isinstance(met, bool) else await met:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.02)


async def stored_rows(mongodb_uri: str, db_name: str) -> list[StoredRow]:
    """Every stored message, read-only, as a majority of the replica set has it."""
    client = make_client(mongodb_uri, timeout_ms=30_000)
    try:
        messages = client[db_name].get_collection("messages", read_concern=ReadConcern("majority"))
        projection = {"thread": 1, "seq": 1, "cmid": 1, "sender_account": 1, "sender_device": 1}
        return [
            StoredRow(
                doc["thread"],
                doc["seq"],
                doc["cmid"],
                (doc["sender_account"], doc["sender_device"]),
            )
            async for doc in messages.find({}, projection)
        ]
    finally:
        await client.close()


async def verify(
    cast: Cast,
    ledger: Ledger,
    devices: Iterable[ResilientDevice],
    mongodb_uri: str,
    db_name: str,
    *,
    extra_inboxes: Iterable[Inbox] = (),
) -> Verdict:
    """Settles every device (a fresh connection, a full sync), then runs the checker."""
    settled = list(devices)
    await asyncio.gather(*(d.settle() for d in settled))
    for device in settled:
        # Every connection ended as the protocol says: never 1011 (internal error).
        assert 1011 not in device.close_codes, (device.ref, device.close_codes)
        assert not device.errors, (device.ref, device.errors[:3])
    rows = await stored_rows(mongodb_uri, db_name)
    inboxes = [d.inbox for d in settled] + list(extra_inboxes)
    verdict = check_delivery(ledger, rows, cast.recipients, inboxes)
    # The workload itself went as designed: only the invalid sends were refused.
    for record in ledger.records:
        if record.poison:
            assert record.state in (State.FAILED, State.UNKNOWN), record
        else:
            assert record.state is not State.FAILED, record
    return verdict
