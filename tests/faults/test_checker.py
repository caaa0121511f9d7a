"""The delivery checker fails on every kind of broken story, and only on those.

Each case starts from one hand-made, consistent history (acked, unknown-and-stored,
unknown-and-never-stored and refused sends; frames arriving out of order and twice)
and breaks it in one way; the checker must name that way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.faults.checker import DeliveryViolation, StoredRow, check_delivery
from tests.faults.ledger import (
    Attempt,
    DeviceRef,
    Inbox,
    Ledger,
    Outcome,
    Received,
    SendRecord,
    State,
)

T, U = "thread-t", "thread-u"
ANN: DeviceRef = ("ann", "ann-phone")
DOC: DeviceRef = ("doc", "doc-pc")
DOC2: DeviceRef = ("doc", "doc-phone")
BOB: DeviceRef = ("bob", "bob-phone")

ACK = {seq: Attempt(Outcome.ACKED, seq=seq) for seq in range(1, 10)}
CUT = Attempt(Outcome.UNCERTAIN, why="ConnectionResetError")
REFUSED = Attempt(Outcome.REFUSED, why="invalid_envelope")


@dataclass
class History:
    records: list[SendRecord]
    stored: list[StoredRow]
    recipients: dict[str, set[DeviceRef]]
    frames: dict[DeviceRef, list[Received]]
    delivered: dict[DeviceRef, dict[str, list[Received]]] = field(default_factory=dict)

    def check(self) -> None:
        ledger = Ledger()
        ledger.records = self.records
        inboxes = []
        for device, frames in self.frames.items():
            inbox = Inbox(device)
            for frame in frames:
                inbox.accept(frame)
            # A hand-made user-visible log, for clients that would get it wrong.
            inbox.delivered.update(self.delivered.get(device, {}))
            inboxes.append(inbox)
        check_delivery(ledger, self.stored, self.recipients, inboxes)

    def row(self, thread: str, seq: int) -> StoredRow:
        return next(r for r in self.stored if (r.thread, r.seq) == (thread, seq))


def _history() -> History:
    stored = [
        StoredRow(T, 1, "m1", ANN),  # acked
        StoredRow(T, 2, "m2", DOC),  # acked after a cut and a resend
        StoredRow(T, 3, "m3", ANN),  # unknown: the ack never came, yet it was stored
        StoredRow(U, 1, "u1", BOB),
    ]
    records = [
        SendRecord(T, ANN, "m1", attempts=[ACK[1]]),
        SendRecord(T, DOC, "m2", attempts=[CUT, ACK[2]]),
        SendRecord(T, ANN, "m3", attempts=[CUT]),
        SendRecord(T, ANN, "m4", attempts=[CUT]),  # unknown, never stored
        SendRecord(T, DOC, "m5", poison=True, attempts=[REFUSED]),
        SendRecord(U, BOB, "u1", attempts=[ACK[1]]),
    ]
    r = {(row.thread, row.seq): row.as_received() for row in stored}
    frames = {
        ANN: [r[T, 1], r[T, 3], r[T, 2], r[T, 2], r[T, 3]],  # out of order, redelivered
        DOC: [r[T, 1], r[T, 2], r[T, 3]],
        DOC2: [r[T, 2], r[T, 1], r[T, 3], r[U, 1]],
        BOB: [r[U, 1]],
    }
    recipients = {T: {ANN, DOC, DOC2}, U: {BOB, DOC2}}
    return History(records, stored, recipients, frames)


def test_a_consistent_history_passes() -> None:
    history = _history()
    ledger = Ledger()
    ledger.records = history.records
    assert ledger.counts() == {State.ACKED: 3, State.UNKNOWN: 2, State.FAILED: 1}
    history.check()


def _drop_stored(h: History, thread: str, seq: int) -> None:
    h.stored.remove(h.row(thread, seq))


def _lose_acked_last(h: History) -> None:
    # The acked u1 vanished from MongoDB (and so from every sync).
    _drop_stored(h, U, 1)
    h.frames[BOB], h.frames[DOC2] = [], h.frames[DOC2][:3]


def _ack_elsewhere(h: History) -> None:
    h.records[0].attempts.append(ACK[3])


def _store_twice(h: History) -> None:
    h.stored.append(StoredRow(T, 4, "m1", ANN))
    for device in (ANN, DOC, DOC2):
        h.frames[device].append(h.stored[-1].as_received())


def _store_with_gap(h: History) -> None:
    h.stored.append(StoredRow(T, 5, "m4", ANN))


def _store_phantom(h: History) -> None:
    h.stored.append(StoredRow(U, 2, "never-sent", BOB))
    for device in (BOB, DOC2):
        h.frames[device].append(h.stored[-1].as_received())


def _store_refused(h: History) -> None:
    h.records.append(SendRecord(U, BOB, "u2", attempts=[REFUSED]))
    h.stored.append(StoredRow(U, 2, "u2", BOB))
    for device in (BOB, DOC2):
        h.frames[device].append(h.stored[-1].as_received())


def _accept_poison(h: History) -> None:
    h.records[4].attempts = [ACK[4]]
    h.stored.append(StoredRow(T, 4, "m5", DOC))
    for device in (ANN, DOC, DOC2):
        h.frames[device].append(h.stored[-1].as_received())


def _miss_one_on_one_device(h: History) -> None:
    h.frames[DOC] = h.frames[DOC][:2]  # the unknown-but-stored m3 never reached doc-pc


def _deliver_out_of_order(h: History) -> None:
    r = [row.as_received() for row in h.stored[:3]]
    h.delivered[DOC] = {T: [r[0], r[2], r[1]]}


def _deliver_twice(h: History) -> None:
    r = [row.as_received() for row in h.stored[:3]]
    h.delivered[DOC] = {T: [r[0], r[1], r[1], r[2]]}


def _push_unstored(h: History) -> None:
    # m4 is unknown and was never stored, yet a device was sent it.
    h.frames[DOC2].append(Received(T, 4, "m4", ANN))


def _push_wrong_message(h: History) -> None:
    h.frames[ANN].append(Received(T, 2, "m3", ANN))


def _push_to_outsider(h: History) -> None:
    h.frames[BOB].append(h.row(T, 1).as_received())


def _forget_a_device(h: History) -> None:
    del h.frames[DOC2]


def _send_one_id_twice(h: History) -> None:
    h.records.append(SendRecord(T, ANN, "m4", attempts=[CUT]))


BROKEN: list[tuple[Callable[[History], None], str]] = [
    (_lose_acked_last, "acked (seq [1]) but not stored"),
    (_ack_elsewhere, "acked with different seqs [1, 3]"),
    (_store_twice, "stored 2 times"),
    (_store_with_gap, "stored seqs are not 1..n (missing [4])"),
    (_store_phantom, "but never sent"),
    (_store_refused, "every attempt was refused, yet stored"),
    (_accept_poison, "an invalid send was acked or stored"),
    (_miss_one_on_one_device, "missing seqs [3]"),
    (_deliver_out_of_order, "position 2 holds"),
    (_deliver_twice, "delivered more than once"),
    (_push_unstored, "which is not stored"),
    (_push_wrong_message, "is stored there"),
    (_push_to_outsider, "not a recipient of"),
    (_forget_a_device, "no inbox for recipient device"),
    (_send_one_id_twice, "two sends with one client_msg_id"),
]


@pytest.mark.parametrize(("breaking", "named"), BROKEN, ids=[f.__name__ for f, _ in BROKEN])
def test_a_broken_history_fails(breaking: Callable[[History], None], named: str) -> None:
    history = _history()
    breaking(history)
    with pytest.raises(DeliveryViolation) as failure:
        history.check()
    assert any(named in problem for problem in failure.value.problems), failure.value.problems


def test_the_inbox_hands_over_contiguous_runs_only() -> None:
    inbox = Inbox(ANN)
    first, second, third = (Received(T, seq, f"m{seq}", DOC) for seq in (1, 2, 3))
    assert inbox.accept(third)  # a gap: seq 3 before 1 and 2
    assert inbox.delivered[T] == []
    assert inbox.accept(first)  # still missing 2
    assert inbox.delivered[T] == [first]
    assert not inbox.accept(second)
    assert inbox.delivered[T] == [first, second, third]
    assert not inbox.accept(second)  # a redelivery changes nothing
    assert inbox.cursors() == {T: 3}
    assert Inbox.replay(ANN, [m.to_line() for m in inbox.frames]) == inbox
