"""Who a ``delivered`` notice tells something new, in a thread of several accounts."""

from __future__ import annotations

from chat_server.handlers.delivered_notices import DeliveredNotices

TEAM = ["patient", "gp1", "gp2", "gp3"]


def _others(account: str) -> list[str]:
    return [p for p in TEAM if p != account]


def _everything_stored(thread_id: str, seq: int) -> bool:
    return True


def test_the_first_cursor_at_a_seq_goes_to_everyone_then_only_to_its_author() -> None:
    notices = DeliveredNotices(_everything_stored)
    assert notices.recipients("t", "gp1", 5, _others("gp1")) == ["patient", "gp2", "gp3"]
    # gp1's own messages up to 5 are marked only by someone else's cursor.
    assert notices.recipients("t", "gp2", 5, _others("gp2")) == ["gp1"]
    # Now everyone knows 5 from someone other than themselves.
    assert notices.recipients("t", "gp3", 5, _others("gp3")) == []
    assert notices.recipients("t", "patient", 4, _others("patient")) == []
    assert notices.recipients("t", "gp1", 5, _others("gp1")) == []


def test_a_higher_cursor_goes_to_everyone_and_the_old_leader_keeps_what_it_knew() -> None:
    notices = DeliveredNotices(_everything_stored)
    notices.recipients("t", "gp1", 5, _others("gp1"))
    assert notices.recipients("t", "gp2", 7, _others("gp2")) == ["patient", "gp1", "gp3"]
    # gp2 (leader at 7) knew only gp1's 5: a 6 from gp3 tells gp2 something.
    assert notices.recipients("t", "gp3", 6, _others("gp3")) == ["gp2"]
    assert notices.recipients("t", "gp1", 6, _others("gp1")) == []
    # The leader raising its own cursor tells everyone else; what it knew stays 6.
    assert notices.recipients("t", "gp2", 8, _others("gp2")) == ["patient", "gp1", "gp3"]
    assert notices.recipients("t", "gp1", 7, _others("gp1")) == ["gp2"]


def test_a_seq_not_known_stored_goes_to_everyone_and_is_not_remembered() -> None:
    notices = DeliveredNotices(lambda thread_id, seq: seq <= 10)
    assert notices.recipients("t", "gp1", 99, _others("gp1")) == ["patient", "gp2", "gp3"]
    assert notices.recipients("t", "gp1", 99, _others("gp1")) == ["patient", "gp2", "gp3"]
    assert notices.recipients("t", "gp2", 10, _others("gp2")) == ["patient", "gp1", "gp3"]


def test_a_leader_who_left_the_thread_is_not_told() -> None:
    notices = DeliveredNotices(_everything_stored)
    notices.recipients("t", "gp1", 5, _others("gp1"))
    assert notices.recipients("t", "gp2", 5, ["patient", "gp3"]) == []


def test_threads_are_separate_and_the_least_recent_is_forgotten() -> None:
    notices = DeliveredNotices(_everything_stored, max_threads=2)
    notices.recipients("a", "gp1", 5, _others("gp1"))
    notices.recipients("b", "gp1", 5, _others("gp1"))
    assert notices.recipients("b", "gp1", 5, _others("gp1")) == []
    notices.recipients("c", "gp1", 5, _others("gp1"))
    # "a" was forgotten: its next notice goes to everyone again; "b" is still known.
    assert notices.recipients("a", "gp1", 5, _others("gp1")) == ["patient", "gp2", "gp3"]
    assert notices.recipients("c", "gp1", 5, _others("gp1")) == []
