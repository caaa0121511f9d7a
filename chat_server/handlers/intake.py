"""Message intake: the checks a ``send`` passes before its message is stored.

Every send is checked before it is stored: the thread admits the sender (in the
``requested`` state only the patient writes, at most ``REQUEST_MESSAGES`` messages),
the envelope parses, its signed header names this thread, this client message id and
the sending device, its recipients are exactly the participants' active devices, and
the sender device's signature verifies. The server cannot read the message; it can
refuse one that is misaddressed or forged.

A socket whose ``hello`` proved that its device holds its signing key
(``device_proven``) skips the signature check: a session token's thief cannot make
that proof, and every recipient verifies the signature anyway (ADR 0004).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chat_server.clock import Clock
from chat_server.errors import (
    AccountBlocked,
    DeviceRequired,
    DeviceRevoked,
    DuplicateClientMsgId,
    InvalidEnvelope,
    RecipientsChanged,
    ThreadClosed,
    UnknownAttachment,
)
from chat_server.events import Deliver
from chat_server.handlers.access import ThreadGate
from chat_server.handlers.blocks import Blocks
from chat_server.handlers.consents import Consents
from chat_server.handlers.directory import DeviceDirectory
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.model.threads import MessageKind, Thread, ThreadState
from chat_server.principal import Principal
from chat_server.storage.attachments import AttachmentStore
from chat_server.storage.messages import DuplicateMismatch, MessageStore, NewMessage, StoredMessage
from e2e_crypto.errors import CryptoError
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import (
    Kind,
    from_base64url,
    parse_envelope,
    route_envelope,
    verify_envelope_signature,
)
from moderation.consents import Purpose
from moderation.limits import Action

REQUEST_MESSAGES = 5

# A send's limiter call must not hold up its ack: a limiter that has not answered by
# then (Redis slow or stopped) counts as unavailable, and the send fails open. Only
# the send: every other action keeps its own choice (logins fail closed). The
# default of ``send_limit_wait_ms``.
LIMIT_TIMEOUT_SECONDS = 0.05


_PUBLIC_KINDS = {
    Kind.MESSAGE: str(MessageKind.MESSAGE),
    Kind.SYSTEM: str(MessageKind.SYSTEM),
    Kind.REPORT_TO_GP: str(MessageKind.REPORT_TO_GP),
}


@dataclass(frozen=True, slots=True)
class SendRules:
    """Moderation's rules on a send: blocks between accounts, the patient's consent
    for what the envelope's public kind says it is, and how long the send waits for
    the rate limiter (``send_limit_wait_ms``) before going on without it."""

    blocks: Blocks
    consents: Consents
    limit_wait: float = LIMIT_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class Outlets:
    """Where a stored message goes next: to the participants' sockets (``deliver``,
    on every send, a resend too). The offline notifications of new messages are
    written by the message store itself, in the same group commit
    (``MessageStore``'s ``after_write``; ``NewMessage.participants`` says whom)."""

    deliver: Deliver


class MessageIntake:
    def __init__(
        self,
        *,
        gate: ThreadGate,
        messages: MessageStore,
        attachments: AttachmentStore,
        directory: DeviceDirectory,
        clock: Clock,
        throttle: Throttle,
        outlets: Outlets,
        rules: SendRules,
    ) -> None:
        self._gate = gate
        self._messages = messages
        self._attachments = attachments
        self._directory = directory
        self._clock = clock
        self._throttle = throttle
        self._outlets = outlets
        self._rules = rules

    async def send(
        self,
        who: Principal,
        thread_id: str,
        client_msg_id: str,
        envelope_text: str,
        attachment_ids: Sequence[str] = (),
        *,
        device_proven: bool = False,
    ) -> StoredMessage:
        if who.device_id is None:
            raise DeviceRequired("sending needs a registered device (ticket with device_id)")
        thread = await self._gate.open_thread(who, thread_id)
        _check_can_write(thread, who)
        if thread.state is ThreadState.REQUESTED:
            await self._check_request_room(thread)
        # One limiter call (one Redis script) for the device, account and address,
        # given ``rules.limit_wait`` seconds before the send goes on without it.
        await self._throttle.action(
            Action.MESSAGE, subject_of(who), wait_at_most=self._rules.limit_wait
        )
        # Blocks: one in-memory look-up (handlers/blocks.py caches them per account).
        if await self._rules.blocks.separated_from(who.account_id, list(thread.participants)):
            raise AccountBlocked()
        try:
            envelope = from_base64url(envelope_text)
            # One pass over the layout for what the server checks; the full parse
            # only for a signature the server verifies itself.
            header = route_envelope(envelope)
        except CryptoError:
            raise InvalidEnvelope("the envelope does not parse") from None
        if (
            header.thread_id != thread.id
            or header.client_msg_id != client_msg_id
            or header.sender_account != who.account_id
            or header.sender_device != who.device_id
            or header.grouped
            or header.epochs
        ):
            raise InvalidEnvelope("the envelope header does not match this send")
        await self._check_recipients(thread, header.devices)
        if header.kind is Kind.REPORT_TO_GP:
            # The only content rule the server can keep: the public kind, signed by the
            # sender, says a report to the GP; the thread's patient must consent.
            await self._rules.consents.require(thread.patient_id, Purpose.REPORT_TO_GP)
        sender = await self._directory.device(who.account_id, who.device_id)
        if sender is None:
            raise DeviceRevoked("this device is revoked")
        if not device_proven:
            try:
                verify_envelope_signature(
                    parse_envelope(envelope), PublicSigningKey(sender.sign_key_raw)
                )
            except CryptoError:
                raise InvalidEnvelope("the envelope signature does not verify") from None
        # Claimed before the message is stored: a message never points at a file the
        # purge may still take. A send refused after this keeps its files claimed.
        if attachment_ids and not await self._attachments.claim(
            attachment_ids, thread_id=thread.id, uploader=who.account_id, now=self._clock.now()
        ):
            raise UnknownAttachment()
        try:
            stored = await self._messages.append(
                NewMessage(
                    thread_id=thread.id,
                    sender_account=who.account_id,
                    sender_device=who.device_id,
                    client_msg_id=client_msg_id,
                    kind=_PUBLIC_KINDS[header.kind],
                    envelope=envelope,
                    franking_commitment=header.franking_commitment,
                    participants=tuple(thread.participants),
                )
            )
        except DuplicateMismatch:
            raise DuplicateClientMsgId("this client_msg_id was used for another message") from None
        # Announced again on a resend too: the first attempt may have stored it and
        # never told anyone (its process killed between the two, its publication
        # lost), and recipients must not wait for their next sync to see it. Clients
        # drop a seq they already have.
        await self._outlets.deliver(
            list(thread.participants),
            # The sending device has its ack; echoing the message to it again would
            # only cost a frame (clients treat an echo as a duplicate).
            {"t": "msg", "thread": thread.id, "seq": stored.seq, "from": who.device_id},
        )
        return stored

    async def _check_request_room(self, thread: Thread) -> None:
        """A request holds at most ``REQUEST_MESSAGES``, counted on the messages'
        index: the thread's counter may not count the last ones yet."""
        if thread.last_seq >= REQUEST_MESSAGES or (
            await self._messages.last_seq(thread.id) >= REQUEST_MESSAGES
        ):
            raise ThreadClosed("wait for the practitioner to accept the request")

    async def _check_recipients(
        self, thread: Thread, offered: frozenset[tuple[str, str, bytes]]
    ) -> None:
        current = await self._directory.devices_of(list(thread.participants))
        if offered != current:
            # Our cache may be behind a device change the client already saw.
            current = await self._directory.devices_of(list(thread.participants), fresh=True)
            if offered != current:
                raise RecipientsChanged(
                    "encrypt to exactly the participants' active devices",
                    devices=sorted({(a, d) for a, d, _ in current}),
                )


def _check_can_write(thread: Thread, who: Principal) -> None:
    if thread.state is ThreadState.OPEN:
        return
    if thread.state is ThreadState.REQUESTED and who.account_id == thread.patient_id:
        return  # up to REQUEST_MESSAGES (_check_request_room)
    if thread.state is ThreadState.REQUESTED:
        raise ThreadClosed("accept the request before replying")
    raise ThreadClosed(f"the thread is {thread.state}")
