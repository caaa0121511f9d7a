"""What a fault test records: every send and how it ended, every frame a device got.

A *send* is one logical message, one ``client_msg_id``; a client may make several
*attempts* at it (the same id, the same envelope) when a connection breaks. Each
attempt ends one of three ways, and the send's state follows from all of them:

=========  ==================================================================
acked      some attempt got an ``ack`` (its ``seq``): it must be stored and
           delivered exactly once to every recipient device
failed     every attempt got a definite refusal (an ``error`` frame): it must
           never be stored
unknown    no ack, and at least one attempt ended without an answer (the
           connection broke, the ack did not come): stored once, or never
invoked    no attempt has ended yet (a test that stops here treats it as unknown)
=========  ==================================================================

An :class:`Inbox` is one device's side: every ``msg`` frame as it arrived
(redeliveries included), and per thread what the device hands its user — only
contiguous runs, in seq order, each seq once, the way a client resumes from one
cursor per thread.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DeviceRef = tuple[str, str]  # (account_id, device_id)


class Outcome(StrEnum):
    ACKED = "acked"
    REFUSED = "refused"
    UNCERTAIN = "uncertain"


class State(StrEnum):
    INVOKED = "invoked"
    ACKED = "acked"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    seq: int | None = None  # the acked seq
    why: str = ""  # the error code of a refusal, or what broke


@dataclass(slots=True)
class SendRecord:
    thread: str
    sender: DeviceRef
    cmid: str
    poison: bool = False  # deliberately invalid: the server must refuse it
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def state(self) -> State:
        outcomes = {a.outcome for a in self.attempts}
        if Outcome.ACKED in outcomes:
            return State.ACKED
        if Outcome.UNCERTAIN in outcomes:
            return State.UNKNOWN
        if outcomes:
            return State.FAILED
        return State.INVOKED

    @property
    def acked_seqs(self) -> set[int]:
        return {a.seq for a in self.attempts if a.outcome is Outcome.ACKED and a.seq is not None}


class Ledger:
    """Every send a test made, in the order they were invoked."""

    def __init__(self) -> None:
        self.records: list[SendRecord] = []

    def invoke(
        self, thread: str, sender: DeviceRef, cmid: str, *, poison: bool = False
    ) -> SendRecord:
        record = SendRecord(thread, sender, cmid, poison)
        self.records.append(record)
        return record

    def counts(self) -> Counter[State]:
        return Counter(r.state for r in self.records)

    @property
    def acked(self) -> int:
        return sum(1 for r in self.records if r.state is State.ACKED)


@dataclass(frozen=True, slots=True)
class Received:
    """One ``msg`` frame, reduced to what identifies the message."""

    thread: str
    seq: int
    cmid: str
    sender: DeviceRef

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Received:
        sender = frame["sender"]
        return cls(frame["thread"], frame["seq"], frame["client_msg_id"],
                   (sender["account"], sender["device"]))  # fmt: skip

    def to_line(self) -> str:
        return json.dumps([self.thread, self.seq, self.cmid, list(self.sender)])

    @classmethod
    def from_line(cls, line: str) -> Received:
        thread, seq, cmid, sender = json.loads(line)
        return cls(thread, seq, cmid, (sender[0], sender[1]))


@dataclass
class Inbox:
    """One device's receiving side: raw frames, and the in-order log its user sees."""

    device: DeviceRef
    frames: list[Received] = field(default_factory=list)
    delivered: dict[str, list[Received]] = field(default_factory=dict)
    _held: dict[str, dict[int, Received]] = field(default_factory=dict)

    def cursor(self, thread: str) -> int:
        return len(self.delivered.get(thread, ()))

    def cursors(self) -> dict[str, int]:
        return {thread: len(log) for thread, log in self.delivered.items()}

    def accept(self, message: Received) -> bool:
        """Takes one frame; True when it shows a gap (a later seq than the next one)."""
        self.frames.append(message)
        log = self.delivered.setdefault(message.thread, [])
        if message.seq <= len(log):
            return False  # a redelivery; the checker compares it with what was stored
        held = self._held.setdefault(message.thread, {})
        held.setdefault(message.seq, message)
        while len(log) + 1 in held:
            log.append(held.pop(len(log) + 1))
        return bool(held)

    @classmethod
    def replay(cls, device: DeviceRef, lines: list[str]) -> Inbox:
        """Rebuilds an inbox from the frames another process wrote, one per line."""
        inbox = cls(device)
        for line in lines:
            if line.strip():
                inbox.accept(Received.from_line(line))
        return inbox
