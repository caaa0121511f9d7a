"""Thread state changes in the hash-chained audit log.

Care threads (accept, decline, block, close), panel questions and paid chats' questions
(claim, release, hand-over, park, resume, answer, convert, withdraw, close, a lease or
an SLA that ran out) and paid chats themselves (paid, checkout expired, answered,
window ended, closed early, refunded) change state in exactly one place each:
``ThreadStore.transition``, ``QueueStore.claim``/``move`` and ``PaidChatStore.move``.
Each tells :class:`TransitionAudit` of every move it stored, so no handler can move a
conversation without it being audited. Kinds: ``care``, ``panel``, ``paid`` (a paid
chat's question in the queue) and ``paid_chat`` (the chat's payment and window). An entry
names who acted (no one when time did), the conversation, the event and the two
states; never content.
"""

from __future__ import annotations

from chat_server.handlers.audit import Auditor
from chat_server.model.machines import Transition
from moderation.audit import AuditAction


class TransitionAudit:
    def __init__(self, auditor: Auditor) -> None:
        self._auditor = auditor

    async def __call__(self, moved: Transition) -> None:
        await self._auditor.record(
            AuditAction.THREAD_STATE_CHANGED,
            actor=moved.actor,
            subject=moved.thread_id,
            details={
                "kind": moved.kind,
                "event": moved.event,
                "from": moved.from_state,
                "to": moved.to_state,
            },
        )
