"""State machines as data: a table of allowed moves and one function that applies it.

A table maps ``(state, event)`` to the next state; whatever it does not list is
forbidden. Storage applies a move as one conditional update on the states it may come
from (``sources``), so two people acting at once cannot both win; the table says which
moves exist at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class ForbiddenTransition(Exception):
    """The event is not allowed in the state; handlers turn it into a client error."""

    def __init__(self, machine: str, state: StrEnum, event: StrEnum) -> None:
        super().__init__(f"{machine}: no {event} from {state}")
        self.machine = machine
        self.state = state
        self.event = event


@dataclass(frozen=True, slots=True)
class Transition:
    """A conversation moved from one state to another: what the audit log keeps of
    it (who, which conversation, the event and the two states; never content).
    ``actor`` is None when time moved it (a lease or a window ran out)."""

    kind: str
    thread_id: str
    event: str
    from_state: str
    to_state: str
    actor: str | None


# Told of every move after it is stored (storage calls it; the composition root
# points it at the audit log).
OnTransition = Callable[[Transition], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StateMachine(Generic[S, E]):
    name: str
    initial: S
    table: Mapping[tuple[S, E], S]
    states: tuple[S, ...] = field(init=False)

    def __post_init__(self) -> None:
        # Every state the table mentions, in declaration order of the enum.
        seen = {self.initial} | {s for s, _ in self.table} | set(self.table.values())
        order = list(type(self.initial))
        object.__setattr__(self, "states", tuple(s for s in order if s in seen))

    def transition(self, state: S, event: E) -> S:
        try:
            return self.table[(state, event)]
        except KeyError:
            raise ForbiddenTransition(self.name, state, event) from None

    def allows(self, state: S, event: E) -> bool:
        return (state, event) in self.table

    def events(self, state: S) -> frozenset[E]:
        return frozenset(e for s, e in self.table if s == state)

    def sources(self, event: E, target: S) -> list[S]:
        """The states from which ``event`` leads to ``target`` (a conditional update's
        filter: the stored state must still be one of them)."""
        return [s for (s, e), t in self.table.items() if e == event and t == target]

    def terminal(self) -> frozenset[S]:
        return frozenset(s for s in self.states if not self.events(s))

    def reachable(self) -> frozenset[S]:
        """Every state some sequence of events leads to from ``initial``."""
        found, frontier = {self.initial}, [self.initial]
        while frontier:
            state = frontier.pop()
            for event in self.events(state):
                target = self.table[(state, event)]
                if target not in found:
                    found.add(target)
                    frontier.append(target)
        return frozenset(found)
