"""Receipts and typing: what a device says about a thread without writing to it.

``delivered`` moves the device's cursor (buffered, written in batches) and tells
the other participants whom it tells something new (``delivered_notices.py``); ``read``
moves the account's read mark and tells the other participants; ``typing`` tells
them someone is typing, within a small per-device budget.
"""

from __future__ import annotations

from chat_server.errors import RateLimited
from chat_server.events import Deliver
from chat_server.handlers.access import ThreadGate
from chat_server.handlers.blocks import Blocks
from chat_server.handlers.delivered_notices import DeliveredNotices
from chat_server.handlers.sync import device_key
from chat_server.handlers.throttle import Throttle
from chat_server.model.threads import LIVE_CARE_STATES
from chat_server.principal import Principal
from chat_server.storage.messages import MessageStore
from chat_server.storage.threads import CursorBuffer, ThreadStore
from moderation.limits import Action, Subject


class Receipts:
    def __init__(
        self,
        *,
        gate: ThreadGate,
        threads: ThreadStore,
        messages: MessageStore,
        cursors: CursorBuffer,
        throttle: Throttle,
        deliver: Deliver,
        blocks: Blocks,
        notices: DeliveredNotices,
    ) -> None:
        self._gate = gate
        self._notices = notices
        self._threads = threads
        self._messages = messages
        self._cursors = cursors
        self._throttle = throttle
        self._deliver = deliver
        self._blocks = blocks

    async def delivered(self, who: Principal, thread_id: str, seq: int) -> None:
        thread = await self._gate.open_thread(who, thread_id)
        self._cursors.note(who.account_id, device_key(who), thread_id, seq)
        # The senders' clients show "delivered": one push per batch of the device's
        # cumulative cursor (clients send one per thread, not one per message), and
        # only to those it tells more than an earlier push did (delivered_notices.py:
        # in a team thread, N pushes per message instead of N²).
        # (Not clamped to last_seq: the open-thread cache may hold an older one, and a
        # recipient overstating its own cursor misleads only the sender about itself.)
        others = [p for p in thread.participants if p != who.account_id]
        told = self._notices.recipients(thread.id, who.account_id, seq, others)
        if told:
            await self._deliver(
                told, {"t": "delivered", "thread": thread.id, "account": who.account_id, "seq": seq}
            )

    async def read(self, who: Principal, thread_id: str, seq: int) -> None:
        thread = await self._gate.thread(who, thread_id)
        if seq > thread.last_seq:
            # Never past the last stored message (a mark ahead would hide the next
            # ones), which the thread's counter may not count yet (storage/messages.py).
            seq = min(seq, await self._messages.last_seq(thread.id))
        await self._threads.mark_read(who.account_id, thread.id, seq)
        others = [p for p in thread.participants if p != who.account_id]
        await self._deliver(
            others, {"t": "receipt", "thread": thread.id, "account": who.account_id, "seq": seq}
        )

    async def typing(self, who: Principal, thread_id: str) -> bool:
        """Tells the other participants that ``who`` is typing. False when the device
        is over its typing budget: nothing was sent, and the frame gets no answer."""
        try:
            # A client says "typing" every few seconds while someone types (moderation's
            # table: a burst of 5 per device, then one every 2 s). More is noise for
            # every participant's devices, dropped without a word.
            await self._throttle.action(
                Action.TYPING, Subject(account=who.account_id, device=device_key(who))
            )
        except RateLimited:
            return False
        thread = await self._gate.open_thread(who, thread_id)
        if thread.state in LIVE_CARE_STATES:
            others = [p for p in thread.participants if p != who.account_id]
            # Typing is presence: nobody separated by a block sees the other's.
            hidden = await self._blocks.separated_from(who.account_id, others)
            others = [p for p in others if p not in hidden]
            await self._deliver(
                others, {"t": "typing", "thread": thread.id, "account": who.account_id}
            )
        return True
