"""The delivery checker: what was sent, what MongoDB holds and what each device got
must tell one consistent story.

Given the ledger of every send, the messages stored (read straight from the
``messages`` collection), the recipient devices of each thread and each device's
inbox, :func:`check_delivery` proves:

1. each thread's stored seqs are exactly 1..n, and no (thread, sender device,
   client_msg_id) is stored twice;
2. everything stored was sent by someone (no phantom), and never a send that every
   attempt saw refused, nor one the server should have refused (a "poison" send);
3. every acked send is stored, at the seq of its ack (all its acks agree);
4. every recipient device handed its user exactly the stored messages of each of its
   threads, in seq order, each once, no gap — so an acked message reaches every
   device exactly once, and an unknown one reaches all of them once or none ever;
5. every raw ``msg`` frame names a stored message as stored (a redelivery is the
   same message again, never another one), and only reaches recipient devices.

All problems are collected, so a failure shows the whole picture at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tests.faults.ledger import DeviceRef, Inbox, Ledger, Received, State

MessageKey = tuple[str, DeviceRef, str]  # (thread, sender device, client_msg_id)


@dataclass(frozen=True, slots=True)
class StoredRow:
    thread: str
    seq: int
    cmid: str
    sender: DeviceRef

    @property
    def key(self) -> MessageKey:
        return (self.thread, self.sender, self.cmid)

    def as_received(self) -> Received:
        return Received(self.thread, self.seq, self.cmid, self.sender)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What was checked, for the test's own assertions and its failure messages."""

    states: Counter[State]
    stored: int
    devices: int
    redeliveries: int  # raw frames for a seq the device already had


class DeliveryViolation(AssertionError):
    def __init__(self, problems: list[str]) -> None:
        shown = "\n  ".join(problems[:40])
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        super().__init__(f"{len(problems)} delivery problem(s):\n  {shown}{more}")
        self.problems = problems


def check_delivery(
    ledger: Ledger,
    stored: Iterable[StoredRow],
    recipients: dict[str, set[DeviceRef]],
    inboxes: Iterable[Inbox],
) -> Verdict:
    problems: list[str] = []
    rows = list(stored)
    by_position = _check_stored(rows, problems)
    by_key = {row.key: row for row in rows}
    _check_ledger(ledger, by_key, problems)
    threads: dict[str, list[Received]] = {}
    for (thread, _seq), row in sorted(by_position.items()):
        threads.setdefault(thread, []).append(row.as_received())
    checked = list(inboxes)
    redeliveries = 0
    for inbox in checked:
        redeliveries += _check_inbox(inbox, threads, by_position, recipients, problems)
    watched = {inbox.device for inbox in checked}
    for thread, devices in sorted(recipients.items()):
        for device in sorted(devices - watched):
            problems.append(f"{thread}: no inbox for recipient device {device}")
    if problems:
        raise DeliveryViolation(problems)
    return Verdict(ledger.counts(), len(rows), len(checked), redeliveries)


def _check_stored(rows: list[StoredRow], problems: list[str]) -> dict[tuple[str, int], StoredRow]:
    by_position: dict[tuple[str, int], StoredRow] = {}
    keys: Counter[MessageKey] = Counter(row.key for row in rows)
    for key, times in keys.items():
        if times > 1:
            problems.append(f"{key}: stored {times} times")
    for row in rows:
        if (row.thread, row.seq) in by_position:
            problems.append(f"{row.thread}: seq {row.seq} stored twice")
        by_position[(row.thread, row.seq)] = row
    seqs: dict[str, list[int]] = {}
    for thread, seq in by_position:
        seqs.setdefault(thread, []).append(seq)
    for thread, found in sorted(seqs.items()):
        if sorted(found) != list(range(1, len(found) + 1)):
            missing = sorted(set(range(1, max(found) + 1)) - set(found))
            problems.append(f"{thread}: stored seqs are not 1..n (missing {missing[:10]})")
    return by_position


def _check_ledger(ledger: Ledger, by_key: dict[MessageKey, StoredRow], problems: list[str]) -> None:
    sent: dict[MessageKey, State] = {}
    for record in ledger.records:
        key = (record.thread, record.sender, record.cmid)
        if key in sent:
            problems.append(f"{key}: the ledger holds two sends with one client_msg_id")
        sent[key] = record.state
        row = by_key.get(key)
        if record.poison and (record.state is State.ACKED or row is not None):
            problems.append(f"{key}: an invalid send was acked or stored")
        if record.state is State.ACKED:
            seqs = record.acked_seqs
            if len(seqs) != 1:
                problems.append(f"{key}: acked with different seqs {sorted(seqs)}")
            if row is None:
                problems.append(f"{key}: acked (seq {sorted(seqs)}) but not stored")
            elif row.seq not in seqs:
                problems.append(f"{key}: acked seq {sorted(seqs)} but stored at {row.seq}")
        elif record.state is State.FAILED and row is not None:
            problems.append(f"{key}: every attempt was refused, yet stored at seq {row.seq}")
    for key, row in by_key.items():
        if key not in sent:
            problems.append(f"{key}: stored at seq {row.seq} but never sent")


def _check_inbox(
    inbox: Inbox,
    threads: dict[str, list[Received]],
    by_position: dict[tuple[str, int], StoredRow],
    recipients: dict[str, set[DeviceRef]],
    problems: list[str],
) -> int:
    who = inbox.device
    mine = {thread for thread, devices in recipients.items() if who in devices}
    redeliveries = 0
    seen: set[tuple[str, int]] = set()
    for frame in inbox.frames:
        position = (frame.thread, frame.seq)
        if frame.thread not in mine:
            problems.append(f"{who}: got {position} of a thread it is not a recipient of")
            continue
        row = by_position.get(position)
        if row is None:
            problems.append(f"{who}: got {position}, which is not stored")
        elif row.as_received() != frame:
            problems.append(f"{who}: got {frame} at {position}, but {row} is stored there")
        if position in seen:
            redeliveries += 1
        seen.add(position)
    for thread in sorted(mine):
        expected = threads.get(thread, [])
        got = inbox.delivered.get(thread, [])
        if got == expected:
            continue
        keys = Counter((m.sender, m.cmid) for m in got)
        twice = [key for key, times in keys.items() if times > 1]
        if twice:
            problems.append(f"{who}: {thread}: delivered more than once: {twice[:5]}")
        if len(got) < len(expected):
            lost = [m.seq for m in expected[len(got) :]]
            problems.append(f"{who}: {thread}: missing seqs {lost[:10]} of {len(expected)}")
        for index, (have, want) in enumerate(zip(got, expected, strict=False)):
            if have != want:
                problems.append(
                    f"{who}: {thread}: position {index + 1} holds {have}, stored is {want}"
                )
                break
        if len(got) > len(expected):
            problems.append(f"{who}: {thread}: delivered {len(got)} of {len(expected)} stored")
    return redeliveries
