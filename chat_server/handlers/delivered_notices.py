"""Which participants a ``delivered`` notice still tells something.

A device's ``delivered`` cursor is pushed to the thread's other participants, whose
clients mark their own messages up to it as delivered ("a device of another
participant has it"; statuses never go back). In a thread of N people every message
moves N-1 cursors, and each was pushed to N-1 accounts: N² frames per message, 2,400
for a 50-member practice team, which more than halved the team benchmark's deliveries
per second (docs/benchmarks.md, "Latency and the team fan-out"). Most of them tell
nothing: once one member's cursor at seq s reached everyone, another member's at s
moves no status anywhere except at the first member, whose own messages only others
can mark.

So per thread this process remembers the highest seq already pushed and who pushed it
(the leader), and the highest pushed by anyone else: an account knows "delivered up
to" the first unless it is the leader, then the second. A notice goes only to the
accounts it tells more. What is remembered is only a seq this process knows was
stored (``stored``): a participant overstating its cursor is still pushed, as
before, but cannot silence the notices of messages not yet written. Each process
keeps its own memory, so several processes push a little more, never less than what
each of them alone would have told. A device that was offline when a notice went out
missed it before this too: delivered is live news, not history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

# Threads remembered per process; the least recently noticed is forgotten first (and
# its next notice simply goes to every other participant again).
MAX_THREADS = 50_000


class DeliveredNotices:
    def __init__(self, stored: Callable[[str, int], bool], max_threads: int = MAX_THREADS) -> None:
        self._stored = stored
        self._max_threads = max_threads
        # thread -> (leader, highest seq pushed, highest seq pushed by anyone else)
        self._pushed: OrderedDict[str, tuple[str, int, int]] = OrderedDict()

    def recipients(
        self, thread_id: str, account_id: str, seq: int, others: Sequence[str]
    ) -> list[str]:
        """Of ``others`` (the thread's participants but ``account_id``), those whose
        clients a notice "``account_id`` has up to ``seq``" tells something new."""
        if not self._stored(thread_id, seq):
            return list(others)
        leader, top, second = self._pushed.get(thread_id, ("", 0, 0))
        if seq > top:
            # Everyone else knew at most ``top``. The old leader's ``top`` is now the
            # best that anyone but the new leader pushed.
            state = (account_id, seq, second if account_id == leader else top)
            told = list(others)
        elif seq > second and account_id != leader:
            # Only the leader knew less: nobody but itself had pushed more than second.
            state = (leader, top, seq)
            told = [leader] if leader in others else []
        else:
            return []
        self._pushed[thread_id] = state
        self._pushed.move_to_end(thread_id)
        if len(self._pushed) > self._max_threads:
            self._pushed.popitem(last=False)
        return told
