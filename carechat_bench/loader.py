"""The load generator: a separate process speaking CareChat's real client protocol.

It reads one JSON command per line on stdin and answers one JSON line on stdout, so
the runner can read the server's CPU clock between phases. Everything that is not
the server's work is done before a phase's clock starts: keys are published through
the HTTP API (``CareChatClient.create_keys``), recipients come from the SDK's verified
directory, and every envelope is sealed by ``e2e_crypto`` (what the SDK calls) in a
process pool, then wrapped in its ``send`` frame.

What a recipient does on a ``msg`` frame is what the SDK does minus decryption (a
client cost, not the server's): note the seq, and once per ``ACK_DELAY`` send one
cumulative ``delivered`` per thread.

    python -m carechat_bench.loader
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import uvloop
from aiohttp import WSMsgType

from carechat_bench.rawframes import seal_raw_batch, sealed_send
from carechat_bench.seed import Person, Roster
from carechat_bench.stats import latency_summary, split_p99, timeline
from e2e_crypto.client import CareChatClient
from e2e_crypto.client.connection import ACK_DELAY
from e2e_crypto.client.envelopes import Envelopes
from e2e_crypto.client.errors import CareChatError
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.client.payloads import Text, encode_payload
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.socket_proof import sign_socket_proof
from e2e_crypto.wire import to_base64url

BODY_TEXT = "Goedemorgen dokter, de koorts is gezakt maar de hoest blijft. Moet ik langskomen?"
CONNECT_CONCURRENCY = 64
SEAL_CHUNK = 2_000
# A flooder writes every frame due each tick in one write (``Loader.flood``), and waits
# while this much is still unsent in its socket's buffer (asyncio's default high-water
# mark, where aiohttp's own writer would wait to drain).
FLOOD_TICK = 0.005
FLOOD_BUFFER_BYTES = 64 * 1024


def _seal_batch(
    device: DeviceKeys, thread_id: str, to: Sequence[VerifiedDevice], body: bytes, count: int
) -> list[tuple[str, str]]:
    """``count`` send frames (client_msg_id, frame text), in a pool worker."""
    return [sealed_send(device, thread_id, to, body) for _ in range(count)]


@dataclass
class Phase:
    """What one timed phase saw, shared by every socket's reader."""

    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    # When each latency's message was sent (perf_counter, the same clock in every
    # process of the machine): a timeline of the phase, to align with a flooder's.
    sent_times: list[float] = field(default_factory=list)
    delivered: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_send: float = 0.0
    last_delivery: float = 0.0
    expected: int = 0
    sends: int = 0
    answers: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # A flooder's socket closed by the server (4029) and what it cost the flooder:
    # sends in flight then (never answered, never acknowledged), frames it could not
    # send while closed, its reconnects, and the reconnects refused (ticket 429 or
    # hello closed 4029).
    sent: int = 0
    lost_at_close: int = 0
    not_sent: int = 0
    reconnects: int = 0
    reconnects_refused: int = 0
    # (perf_counter, what) for a flooder's socket: closed, refused, reconnected.
    events: list[tuple[float, str]] = field(default_factory=list)
    over: bool = False

    def answered(self, count: int = 1) -> None:
        self.answers += count
        self.check_done()

    def check_done(self) -> None:
        # Over when every message has arrived and every send has its answer: the
        # recipient may see a message before its sender sees the ack.
        if self.delivered >= self.expected and self.answers >= self.sends:
            self.done.set()

    def result(self) -> dict[str, Any]:
        seconds = max(self.last_delivery - self.first_send, 1e-9)
        early, late = split_p99(self.first_send, self.sent_times, self.latencies)
        return {
            "delivered": self.delivered,
            "expected": self.expected,
            "acked": self.acked,
            "errors": self.errors,
            "seconds": seconds,
            "delivered_per_s": self.delivered / seconds,
            "sent": self.sent,
            "lost_at_close": self.lost_at_close,
            "not_sent": self.not_sent,
            "reconnects": self.reconnects,
            "reconnects_refused": self.reconnects_refused,
            "started_at": self.first_send,
            "timeline": timeline(self.first_send, self.sent_times, self.latencies),
            "p99_first_s_ms": early,
            "p99_after_first_s_ms": late,
            "events": self.events,
            **latency_summary([x * 1000 for x in self.latencies]),
        }


@dataclass
class Device:
    person: Person
    sdk: CareChatClient
    keystore: Keystore
    thread_id: str
    participants: tuple[str, ...]
    ws: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    frames: deque[tuple[str, str]] = field(default_factory=deque)
    # A flooder's frames, already on the wire's format (``rawframes.py``).
    raw: list[bytes] = field(default_factory=list)
    raw_next: int = 0  # the first of ``raw`` not yet written or dropped
    reopened: asyncio.Event = field(default_factory=asyncio.Event)  # a flooder let in again
    in_flight: int = 0
    window: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    unacked: set[str] = field(default_factory=set)
    # An abusive flooder: when the server closes its socket, it reconnects at once,
    # ignoring retry_after, and keeps trying until let in.
    reconnect: bool = False

    @property
    def device_id(self) -> str:
        return self.keystore.device_id


class Loader:
    def __init__(self, base_url: str, roster: Roster) -> None:
        self.base_url = base_url
        self.roster = roster
        self.devices: dict[str, list[Device]] = {}
        self.phase = Phase()
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 2)
        self._acks: asyncio.Task[None] | None = None

    async def close(self) -> None:
        for group in self.devices.values():
            for device in group:
                if device.ws is not None:
                    await device.ws.close()
                await device.sdk.close()
        if self._acks is not None:
            self._acks.cancel()
        await self._http.close()
        self._pool.shutdown()

    # -- set-up, untimed ---------------------------------------------------------------

    async def setup(self, team: bool = True) -> dict[str, Any]:
        """Every person publishes a root key and one device through the HTTP API
        (the team's people only with ``team``: one loader per roster may)."""
        started = time.perf_counter()
        pairs = []
        for pair in self.roster.pairs:
            everyone = (pair.patient.account_id, pair.practitioner.account_id)
            for person in (pair.patient, pair.practitioner):
                pairs.append((person, pair.thread_id, everyone))
        self.devices["pairs"] = await _gather_limited([self._device(*p) for p in pairs])
        if team:
            crew = self.roster.team
            members = (crew.patient.account_id, *(m.account_id for m in crew.members))
            people = [(p, crew.thread_id, members) for p in (crew.patient, *crew.members)]
            self.devices["team"] = await _gather_limited([self._device(*p) for p in people])
        self._acks = asyncio.create_task(self._flush_delivered())
        return {"seconds": time.perf_counter() - started}

    async def _device(
        self, person: Person, thread_id: str, participants: tuple[str, ...]
    ) -> Device:
        sdk = CareChatClient(self.base_url, session=self._http)
        sdk.api.use_token(person.token, person.account_id)
        keystore = await sdk.create_keys()
        return Device(person, sdk, keystore, thread_id, participants)

    async def seal(
        self, group: str, per_device: int, senders: int | None = None, raw: bool = False
    ) -> dict[str, Any]:
        """Seals ``per_device`` messages for each sender of ``group`` (all by default);
        with ``raw``, as masked frames for :meth:`flood`."""
        started = time.perf_counter()
        body = encode_payload(Text(BODY_TEXT))
        loop = asyncio.get_running_loop()
        chosen = self.devices[group][: senders or None]
        batch = seal_raw_batch if raw else _seal_batch
        # A flooder's tens of thousands of frames are sealed in chunks across the pool.
        chunks = [min(SEAL_CHUNK, per_device - n) for n in range(0, per_device, SEAL_CHUNK)]
        jobs: list[Awaitable[list[Any]]] = []
        for device in chosen:
            to = await Envelopes(device.keystore, device.sdk.directory).recipients(
                device.participants
            )
            for count in chunks:
                jobs.append(
                    loop.run_in_executor(
                        self._pool,
                        batch,
                        device.keystore.device,
                        device.thread_id,
                        to,
                        body,
                        count,
                    )
                )
        sealed = iter(await asyncio.gather(*jobs))
        for device in chosen:
            for _ in chunks:
                if raw:
                    device.raw.extend(next(sealed))
                else:
                    device.frames.extend(next(sealed))
        return {"seconds": time.perf_counter() - started, "sealed": per_device * len(chosen)}

    async def connect(self, group: str, first: int | None = None) -> dict[str, Any]:
        """Connects the devices of ``group`` (its ``first`` ones only, if given)."""
        started = time.perf_counter()
        chosen = self.devices[group][: first or None]
        await _gather_limited([self._open(device) for device in chosen])
        return {"seconds": time.perf_counter() - started}

    async def _open(self, device: Device) -> None:
        ws = await _authenticated(
            self._http, self.base_url, device.sdk, device.device_id, device.keystore.device
        )
        device.ws = ws
        device.reader = asyncio.create_task(self._read(device, ws))

    # -- timed phases ----------------------------------------------------------------

    async def closed(self, group: str, window: int, patience: float) -> dict[str, Any]:
        """Every device keeps ``window`` sends in flight until its frames run out."""
        devices = self.devices[group]
        sends = sum(len(d.frames) for d in devices)
        phase = self.phase = Phase(expected=sends * self._fanout(group), sends=sends)
        phase.first_send = time.perf_counter()
        for device in devices:
            device.window = window
            for _ in range(min(window, len(device.frames))):
                await self._send_next(device)
        return await self._finish(phase, patience)

    async def open(
        self, group: str, rate: float, patience: float, deliveries: bool = True
    ) -> dict[str, Any]:
        """Sends every sealed frame of ``group`` at ``rate`` per second, whatever the acks
        (the phase ends at the last answer instead of the last delivery without
        ``deliveries``: for senders whose recipients are not connected)."""
        devices = [d for d in self.devices[group] if d.frames]
        # Round robin over the senders, so the load is spread as people would spread it.
        longest = max((len(d.frames) for d in devices), default=0)
        schedule = [d for k in range(longest) for d in devices if k < len(d.frames)]
        expected = len(schedule) * self._fanout(group) if deliveries else 0
        phase = self.phase = Phase(expected=expected, sends=len(schedule))
        for device in devices:
            device.window = 0
        start = phase.first_send = time.perf_counter()
        sent = 0
        while sent < len(schedule):
            due = min(len(schedule), int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                await self._send_next(schedule[sent])
                sent += 1
            await asyncio.sleep(0.001)
        result = await self._finish(phase, patience)
        elapsed = max(time.perf_counter() - start, 1e-9)
        result["offered_per_s"] = len(schedule) / elapsed
        result["sent_per_s"] = phase.sent / elapsed
        return result

    async def flood(
        self, group: str, rate: float, patience: float, tick: float = FLOOD_TICK, nice: int = 0
    ) -> dict[str, Any]:
        """What an abusive client does, as cheaply as a client can: the first device of
        ``group`` with raw frames (``seal(raw=True)``) writes them at ``rate`` per
        second, every ``tick`` all those due in one write, ignoring every answer.
        When the server closes the socket, it asks for a new one at once and again
        after each refusal (ignoring retry_after); the frames due meanwhile are
        counted as not sent. Its acks and refusals are counted, not timed.

        With ``nice``, this process's event loop runs at that scheduling niceness from
        now on (19: the lowest priority, the cores' leftovers), so that it does not take
        CPU from what it floods; its sealing workers, forked before, keep theirs."""
        if nice:
            # Linux: PRIO_PROCESS 0 is the calling thread, the one running the loop.
            os.setpriority(os.PRIO_PROCESS, 0, max(nice, os.getpriority(os.PRIO_PROCESS, 0)))
        device = next(d for d in self.devices[group] if d.raw)
        if device.ws is None or device.ws.closed:
            # Shut out at the end of a previous phase: in again before the clock starts.
            await self._reopen(device)
        frames, total = device.raw, len(device.raw)
        phase = self.phase = Phase(sends=total)
        device.window, device.reconnect, device.raw_next = 0, True, 0
        start = phase.first_send = time.perf_counter()
        while device.raw_next < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            if self._write_due(device, frames, due):
                await asyncio.sleep(tick)
                continue
            # Shut out: nothing to do until the reader is let in again (its tries are
            # a second apart, each held by the server) or the last frame falls due;
            # what falls due meanwhile is counted in one step.
            device.reopened.clear()
            left = start + total / rate - time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(device.reopened.wait(), max(left, tick))
        result = await self._finish(phase, patience)
        device.raw, device.raw_next = [], 0
        elapsed = max(time.perf_counter() - start, 1e-9)
        result["offered_per_s"] = total / elapsed
        result["sent_per_s"] = phase.sent / elapsed
        return result

    def _write_due(self, device: Device, frames: list[bytes], due: int) -> bool:
        """Writes (or, shut out, drops) the frames due; False while shut out."""
        phase, first = self.phase, device.raw_next
        ws = device.ws
        # aiohttp's client has no public transport: its writer's is the socket's own,
        # which aiohttp's pongs and our ``delivered`` frames also go to, whole frames
        # each, written without an await in between, so frames never interleave.
        transport = None if ws is None or ws.closed else ws._writer.transport
        if transport is None or transport.is_closing():
            # Shut out (the reader is reconnecting): what falls due now is not sent.
            phase.not_sent += due - first
            device.raw_next = due
            phase.answered(due - first)
            return False
        if first >= due or transport.get_write_buffer_size() >= FLOOD_BUFFER_BYTES:
            # Nothing due, or the socket is full (the server reads no faster than it
            # answers): any client must wait here; the frames go in the next write.
            return True
        device.in_flight += due - first
        phase.sent += due - first
        device.raw_next = due
        # One system call for every frame due (uvloop writes at once when it can).
        transport.write(b"".join(frames[first:due]))
        return True

    def _fanout(self, group: str) -> int:
        return len(self.devices[group][0].participants) - 1

    async def _send_next(self, device: Device) -> None:
        if not device.frames or device.ws is None or device.ws.closed:
            return
        cmid, frame = device.frames.popleft()
        device.in_flight += 1
        self.phase.sent += 1
        self.phase.sent_at[cmid] = time.perf_counter()
        await device.ws.send_str(frame)

    async def _finish(self, phase: Phase, patience: float) -> dict[str, Any]:
        try:
            await asyncio.wait_for(phase.done.wait(), patience)
        except TimeoutError:
            pass
        phase.over = True
        result = phase.result()
        devices = [d for group in self.devices.values() for d in group]
        result["unanswered"] = sum(d.in_flight for d in devices)
        result["unsent"] = sum(len(d.frames) for d in devices)
        return result

    async def _read(self, device: Device, ws: aiohttp.ClientWebSocketResponse) -> None:
        own = device.device_id
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            # orjson, as the server: three frames read per message (ack, msg, delivered).
            frame = orjson.loads(message.data)
            kind = frame.get("type")
            phase = self.phase
            if kind == "msg":
                thread, seq = frame["thread"], frame["seq"]
                if seq > device.seen.get(thread, 0):
                    device.seen[thread] = seq
                    device.unacked.add(thread)
                if frame["sender"]["device"] == own:
                    continue
                now = time.perf_counter()
                sent = phase.sent_at.get(frame["client_msg_id"])
                if sent is not None:
                    phase.latencies.append(now - sent)
                    phase.sent_times.append(sent)
                    phase.delivered += 1
                    phase.last_delivery = now
                    phase.check_done()
            elif kind == "ack":
                # Like the SDK: the ack counts toward the cursor (no echo comes).
                thread, seq = frame["thread"], frame["seq"]
                if seq > device.seen.get(thread, 0):
                    device.seen[thread] = seq
                    device.unacked.add(thread)
                phase.acked += 1
                device.in_flight -= 1
                phase.answered()
                if device.window and device.in_flight < device.window:
                    await self._send_next(device)
            elif kind == "resync":
                # The server lost live events for this device (Redis failed them) and
                # asks it to sync. The load generator does not sync: the phase would
                # miss those messages, so the failure names the cause.
                phase.errors["resync"] = phase.errors.get("resync", 0) + 1
            elif kind == "error":
                code = str(frame.get("code"))
                phase.errors[code] = phase.errors.get(code, 0) + 1
                device.in_flight -= 1
                # A refused send is never delivered: the phase ends without waiting
                # for it (a flood's refusals are expected).
                if phase.expected:
                    phase.expected -= len(device.participants) - 1
                phase.answered()
        # A socket the server closed mid-phase loses its in-flight sends: say so.
        phase = self.phase
        code = f"closed {ws.close_code}"
        phase.errors[code] = phase.errors.get(code, 0) + 1
        phase.events.append((time.perf_counter(), code))
        if device.reconnect and device.ws is ws and not phase.over:
            # Never answered, so never acknowledged: lost to the flooder, not to anyone.
            lost, device.in_flight = device.in_flight, 0
            phase.lost_at_close += lost
            phase.answered(lost)
            await self._reconnect_at_once(device, phase)

    async def _reopen(self, device: Device) -> None:
        for _ in range(120):
            try:
                await self._open(device)
                return
            except (CareChatError, TypeError, RuntimeError, aiohttp.ClientError):
                await asyncio.sleep(0.5)  # still barred: untimed, so no hurry
        raise RuntimeError("the flooder could not reconnect within a minute")

    async def _reconnect_at_once(self, device: Device, phase: Phase) -> None:
        """What an abusive client does: ask for a socket again and again, ignoring
        retry_after, until one is granted or the phase is over."""
        while not phase.over and device.raw_next < len(device.raw):
            try:
                ws = await _authenticated(
                    self._http,
                    self.base_url,
                    device.sdk,
                    device.device_id,
                    device.keystore.device,
                )
            except (CareChatError, TypeError, RuntimeError, aiohttp.ClientError):
                phase.reconnects_refused += 1  # ticket 429, or hello closed 4029
                phase.events.append((time.perf_counter(), "refused"))
                continue
            phase.reconnects += 1
            phase.events.append((time.perf_counter(), "reconnected"))
            device.ws = ws
            device.reader = asyncio.create_task(self._read(device, ws))
            device.reopened.set()
            return

    async def _flush_delivered(self) -> None:
        # The SDK's batching: one cumulative ``delivered`` per thread per ACK_DELAY.
        while True:
            await asyncio.sleep(ACK_DELAY)
            for group in self.devices.values():
                for device in group:
                    if not device.unacked or device.ws is None or device.ws.closed:
                        continue
                    try:
                        for thread in device.unacked:
                            frame = {
                                "type": "delivered",
                                "thread": thread,
                                "seq": device.seen[thread],
                            }
                            await device.ws.send_str(orjson.dumps(frame).decode())
                    except (ConnectionError, aiohttp.ClientError):
                        continue  # closed meanwhile (a flooder shut out): after reconnecting
                    device.unacked.clear()


async def _authenticated(
    http: aiohttp.ClientSession,
    base_url: str,
    sdk: CareChatClient,
    device_id: str,
    keys: DeviceKeys | None = None,
) -> aiohttp.ClientWebSocketResponse:
    """A socket past ``hello``: a ticket over HTTP, then the first frame (with the
    device's socket proof when its keys are at hand, as the SDK sends it)."""
    ticket = await sdk.api.ws_ticket(device_id)
    ws = await http.ws_connect(base_url + "/ws", autoping=True)
    hello = {"type": "hello", "id": "h", "ticket": ticket}
    if keys is not None:
        hello["proof"] = to_base64url(sign_socket_proof(keys, ticket))
    await ws.send_json(hello)
    welcome = await ws.receive_json(timeout=60)
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"no welcome: {welcome.get('type')}")
    return ws


async def _gather_limited(
    jobs: Sequence[Awaitable[Any]], limit: int = CONNECT_CONCURRENCY
) -> list[Any]:
    slots = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with slots:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))


# -- sockets that only stay open: memory per connection, and the echo baseline ------


async def idle(base_url: str, roster: Roster, sockets: int, hold: float) -> dict[str, Any]:
    """``sockets`` authenticated WebSockets, spread over the roster's people, held
    open for ``hold`` seconds while the server pings them."""
    people = [p for pair in roster.pairs for p in (pair.patient, pair.practitioner)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sdks: list[tuple[CareChatClient, str]] = []
        for person in people:
            sdk = CareChatClient(base_url, session=http)
            sdk.api.use_token(person.token, person.account_id)
            devices = await sdk.api.account_devices(person.account_id)
            device_id = devices["devices"][0]["device_id"] if devices["devices"] else None
            if device_id is None:
                keystore = await sdk.create_keys()
                device_id = keystore.device_id
            sdks.append((sdk, device_id))
        opened: list[aiohttp.ClientWebSocketResponse] = []
        readers: list[asyncio.Task[None]] = []

        async def hold_one(index: int) -> None:
            sdk, device_id = sdks[index % len(sdks)]
            ws = await _authenticated(http, base_url, sdk, device_id)
            opened.append(ws)
            # Read from the start: connecting 7,000 sockets takes longer than the
            # server's heartbeat, and a socket nobody reads never answers its pings
            # (the server rightly closed about 0.25 % of them when reading began late).
            readers.append(asyncio.create_task(_drain(ws)))

        started = time.perf_counter()
        await _gather_limited([hold_one(i) for i in range(sockets)])
        connect_seconds = time.perf_counter() - started
        print(json.dumps({"connected": len(opened), "seconds": connect_seconds}), flush=True)
        await asyncio.sleep(hold)
        closed_early = sum(1 for ws in opened if ws.closed)
        for ws in opened:
            await ws.close()
        for reader in readers:
            reader.cancel()
        for sdk, _ in sdks:
            await sdk.close()
    return {"connected": len(opened), "closed_early": closed_early}


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    # Reading is what makes aiohttp answer the server's pings.
    async for _ in ws:
        pass


async def echo(
    url: str, connections: int, per_connection: int, window: int, size: int
) -> dict[str, Any]:
    """Closed loop against the bare echo server: the transport's own rate."""
    payload = json.dumps({"type": "send", "envelope": "x" * size})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sockets = await _gather_limited([http.ws_connect(url) for _ in range(connections)])
        _settle_gc()  # its own sockets, before its clock starts
        total = connections * per_connection
        received = 0
        done = asyncio.Event()
        latencies: list[float] = []

        async def run(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal received
            pending: deque[float] = deque()
            left = per_connection
            for _ in range(min(window, left)):
                pending.append(time.perf_counter())
                await ws.send_str(payload)
                left -= 1
            while pending:
                message = await ws.receive()
                if message.type is not WSMsgType.TEXT:
                    return
                latencies.append(time.perf_counter() - pending.popleft())
                received += 1
                if received >= total:
                    done.set()
                if left:
                    pending.append(time.perf_counter())
                    await ws.send_str(payload)
                    left -= 1

        started = time.perf_counter()
        runners = [asyncio.create_task(run(ws)) for ws in sockets]
        await asyncio.wait_for(done.wait(), timeout=120)
        seconds = time.perf_counter() - started
        await asyncio.gather(*runners)
        for ws in sockets:
            await ws.close()
    return {
        "delivered": received,
        "seconds": seconds,
        "delivered_per_s": received / seconds,
        **latency_summary([x * 1000 for x in latencies]),
    }


# -- the command loop -------------------------------------------------------------------

# The commands that prepare a timed phase: every phase comes after one of them.
_PREPARING = frozenset({"setup", "seal", "connect"})


def _settle_gc() -> None:
    """Keeps the collector off what a phase only reads: the sockets, roster and sealed
    frames. Unfrozen, a full collection walked them all, 90-155 ms in which no frame
    was read, and a phase whose p99 rests on its 1 % slowest took that pause for the
    server's latency (docs/benchmarks.md, "Eleventh step")."""
    gc.collect()
    gc.freeze()


async def serve_commands() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    loader: Loader | None = None
    handlers: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {}
    while line := await reader.readline():
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            break
        if name == "start":
            roster = Roster.from_json(json.loads(open(command["roster"]).read()))  # noqa: SIM115, ASYNC230
            loader = Loader(command["base_url"], roster)
            handlers = {
                "setup": loader.setup,
                "seal": loader.seal,
                "connect": loader.connect,
                "closed": loader.closed,
                "open": loader.open,
                "flood": loader.flood,
            }
            result: dict[str, Any] = {"ok": True}
        elif name == "echo":
            result = await echo(**command)
        elif name == "idle":
            roster = Roster.from_json(json.loads(open(command.pop("roster")).read()))  # noqa: SIM115, ASYNC230
            result = await idle(roster=roster, **command)
        else:
            result = await handlers[name](**command)
        if name in _PREPARING:
            _settle_gc()
        print(json.dumps(result), flush=True)
    if loader is not None:
        await loader.close()


def main() -> None:
    uvloop.run(serve_commands())


if __name__ == "__main__":
    main()
