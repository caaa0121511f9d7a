"""The domain model's state machines, property-tested.

Whatever sequence of events arrives, a machine only ever moves along its table: each
allowed event lands in the state the table names, each other event is refused and
changes nothing, and no sequence reaches a state the table cannot reach.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat_server.model.campaigns import CAMPAIGN, CampaignEvent, CampaignState
from chat_server.model.machines import ForbiddenTransition, StateMachine
from chat_server.model.passes import CHAT_PASS, ChatPass, PassEvent, PassState
from chat_server.model.queue import QueueItem
from chat_server.model.threads import (
    ANNOUNCEMENT_THREAD,
    CARE_THREAD,
    PAID_THREAD,
    PANEL_THREAD,
    CareEvent,
    PaidEvent,
    PaidState,
    PanelEvent,
    PanelState,
    ThreadState,
)

Machine = StateMachine[Any, Any]
MACHINES: list[Machine] = [CARE_THREAD, PANEL_THREAD, PAID_THREAD, ANNOUNCEMENT_THREAD, CAMPAIGN]
MACHINES.append(CHAT_PASS)
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _events(machine: Machine) -> list[StrEnum]:
    event_type: type[StrEnum] = type(next(iter(machine.table))[1])
    return list(event_type)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
@given(data=st.data())
def test_no_sequence_of_events_leaves_the_table(machine: Machine, data: st.DataObject) -> None:
    events = data.draw(st.lists(st.sampled_from(_events(machine)), max_size=40))
    reachable = machine.reachable()
    state = machine.initial
    for event in events:
        if (state, event) not in machine.table:
            with pytest.raises(ForbiddenTransition) as refused:
                machine.transition(state, event)
            assert (refused.value.state, refused.value.event) == (state, event)
            continue  # refused: the state is unchanged
        after = machine.transition(state, event)
        assert after == machine.table[(state, event)]
        assert event in machine.events(state)
        assert state in machine.sources(event, after)
        state = after
        assert state in reachable
    if state in machine.terminal():
        assert not machine.events(state)


def _run(machine: Machine, events: list[Any]) -> list[Any]:
    """The states a machine passes through; refused events are skipped."""
    states = [machine.initial]
    for event in events:
        if machine.allows(states[-1], event):
            states.append(machine.transition(states[-1], event))
    return states


@given(events=st.lists(st.sampled_from(list(PaidEvent)), max_size=40))
def test_a_paid_question_is_claimed_only_after_payment_and_never_reopens(
    events: list[PaidEvent],
) -> None:
    states = _run(PAID_THREAD, events)
    if PaidState.CLAIMED in states or PaidState.ANSWERED in states:
        assert states[1] is PaidState.QUEUED  # the first move was the payment
    ended = {PaidState.CLOSED, PaidState.REFUNDED}
    first_end = next((i for i, s in enumerate(states) if s in ended), len(states))
    assert all(s in ended for s in states[first_end:])
    if PaidState.ANSWERED in states:  # answered means no refund, ever
        assert PaidState.REFUNDED not in states


@given(events=st.lists(st.sampled_from(list(PanelEvent)), max_size=40))
def test_a_panel_question_is_answered_only_by_its_claimant(events: list[PanelEvent]) -> None:
    states = _run(PANEL_THREAD, events)
    for before, after in itertools.pairwise(states):
        if after is PanelState.ANSWERED:
            assert before is PanelState.CLAIMED


@given(events=st.lists(st.sampled_from(list(CareEvent)), max_size=40))
def test_a_care_thread_never_returns_to_requested_or_leaves_an_end(
    events: list[CareEvent],
) -> None:
    states = _run(CARE_THREAD, events)
    assert ThreadState.REQUESTED not in states[1:]
    ended = CARE_THREAD.terminal()
    for i, state in enumerate(states):
        if state in ended:
            assert states[i:] == [state] * (len(states) - i)


@given(events=st.lists(st.sampled_from(list(CampaignEvent)), max_size=40))
def test_a_finished_or_cancelled_campaign_never_sends_again(events: list[CampaignEvent]) -> None:
    states = _run(CAMPAIGN, events)
    ended = {CampaignState.DONE, CampaignState.CANCELLED}
    first_end = next((i for i, s in enumerate(states) if s in ended), len(states))
    assert CampaignState.SENDING not in states[first_end:]


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_state_is_reachable_and_some_end(machine: Machine) -> None:
    assert machine.reachable() == set(machine.states)
    assert machine.terminal()  # every lifecycle can finish
    assert machine.initial not in machine.terminal()


def test_the_care_thread_as_the_issue_draws_it() -> None:
    t = CARE_THREAD.transition
    assert t(ThreadState.REQUESTED, CareEvent.ACCEPT) is ThreadState.OPEN
    assert t(ThreadState.REQUESTED, CareEvent.DECLINE) is ThreadState.DECLINED
    for live in (ThreadState.REQUESTED, ThreadState.OPEN):
        assert t(live, CareEvent.BLOCK) is ThreadState.BLOCKED
        assert t(live, CareEvent.CLOSE) is ThreadState.CLOSED
    assert CARE_THREAD.terminal() == {ThreadState.DECLINED, ThreadState.BLOCKED, ThreadState.CLOSED}
    with pytest.raises(ForbiddenTransition):
        t(ThreadState.OPEN, CareEvent.ACCEPT)
    # Each care event has one target, so a conditional update on its sources is exact.
    for event in CareEvent:
        assert len({CARE_THREAD.table[(s, e)] for s, e in CARE_THREAD.table if e == event}) == 1


def test_an_expired_lease_puts_a_question_back_in_the_queue() -> None:
    assert PANEL_THREAD.transition(PanelState.CLAIMED, PanelEvent.LEASE_EXPIRED) is (
        PanelState.QUEUED
    )
    assert PAID_THREAD.transition(PaidState.CLAIMED, PaidEvent.LEASE_EXPIRED) is PaidState.QUEUED
    assert PAID_THREAD.transition(PaidState.QUEUED, PaidEvent.SLA_MISSED) is PaidState.REFUNDED
    assert PaidState.REFUNDED in PAID_THREAD.terminal()
    with pytest.raises(ForbiddenTransition):
        PAID_THREAD.transition(PaidState.PENDING_PAYMENT, PaidEvent.CLAIM)  # pay first


def test_a_campaign_pauses_resumes_and_finishes() -> None:
    state = CAMPAIGN.initial
    for event in ("schedule", "start", "pause", "resume", "finish"):
        state = CAMPAIGN.transition(state, CampaignEvent(event))
    assert state is CampaignState.DONE
    assert CAMPAIGN.terminal() == {CampaignState.DONE, CampaignState.CANCELLED}


@given(minutes=st.integers(min_value=-3000, max_value=3000))
def test_the_pass_window_closes_exactly_at_its_boundary(minutes: int) -> None:
    paid = ChatPass("p", "ann", "t", 600, "eur", PassState.PAID, NOW, timedelta(hours=24))
    active = paid.first_reply(NOW)
    assert active.state is PassState.ACTIVE
    at = NOW + timedelta(minutes=minutes)
    assert active.window_open(at) == (0 <= minutes < 24 * 60)
    assert not paid.window_open(at)
    assert CHAT_PASS.transition(PassState.ACTIVE, PassEvent.WINDOW_ENDED) is PassState.EXPIRED


@given(seconds=st.integers(min_value=-600, max_value=600))
def test_a_lease_runs_out_at_lease_until(seconds: int) -> None:
    until = NOW + timedelta(minutes=5)
    item = QueueItem("t", "panel", "ann", PanelState.CLAIMED, NOW, "gp", until)
    at = until + timedelta(seconds=seconds)
    assert item.lease_expired(at) == (seconds >= 0)
    assert item.held_by("gp", at) == (seconds < 0)
    assert not item.held_by("other-gp", at)


def test_a_queue_item_is_claimed_with_a_claimant_and_a_lease_or_not_at_all() -> None:
    with pytest.raises(ValueError, match="claimant"):
        QueueItem("t", "panel", "ann", PanelState.CLAIMED, NOW)
    with pytest.raises(ValueError, match="claimant"):
        QueueItem("t", "panel", "ann", PanelState.QUEUED, NOW, "gp", NOW)
