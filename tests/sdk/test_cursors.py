"""Per-thread cursors: in order, once, and gaps detected."""

from __future__ import annotations

from e2e_crypto.client.cursors import Cursors


def test_in_order_delivery_with_duplicates_and_gaps() -> None:
    cursors: Cursors[str] = Cursors({"t1": 2})
    assert cursors.offer("t1", 2, "old") == ([], False)  # already had it
    assert cursors.offer("t1", 3, "c") == (["c"], False)
    assert cursors.offer("t1", 5, "e") == ([], True)  # 4 is missing: sync
    assert cursors.offer("t1", 5, "e") == ([], True)  # held once
    assert cursors.has_gaps()
    assert cursors.offer("t1", 4, "d") == (["d", "e"], False)
    assert not cursors.has_gaps()
    assert cursors.snapshot() == {"t1": 5}


def test_threads_are_independent_and_new_threads_start_at_zero() -> None:
    cursors: Cursors[int] = Cursors()
    assert cursors.offer("a", 1, 1) == ([1], False)
    assert cursors.offer("b", 2, 2) == ([], True)
    assert cursors.position("a") == 1
    assert cursors.position("b") == 0
    cursors.start_at("c", 10)
    cursors.start_at("c", 3)  # only the first start counts
    assert cursors.offer("c", 11, 11) == ([11], False)
    assert cursors.snapshot() == {"a": 1, "b": 0, "c": 11}
