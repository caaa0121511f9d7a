"""Verifiable abuse reports: a participant reveals a message's plaintext and franking
key; the server checks them and queues the report with the verified sender.

The check uses only what the server already holds: its franking stamp over the
message's record (so the record was not altered since it was stored), the envelope it
stored, and the sender device's signing key from the key directory (kept after a
device is revoked). ``e2e_crypto.franking.verify_report`` recomputes the commitment
from the revealed text and key and checks the sender's signature over the header that
holds it. Whatever fails, the report is still queued, marked UNVERIFIABLE: moderators
see that it proves nothing about its sender (a forged or altered report). A moderator
closes each queued report once, resolved or dismissed with a reason code (audited).

A patient may report a practice mailing delivered to them the same way
(:meth:`AbuseReports.report_mailing`): the campaign's stored body and its broadcast
stamp (made when the campaign was created) are checked with
``verify_broadcast_report``, in the broadcast domain, so a chat message's text and key
never verify as a mailing, nor the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chat_server.clock import Clock
from chat_server.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ReportAlreadyDecided,
    ReportAlreadyFiled,
)
from chat_server.handlers.access import ThreadGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.model.campaigns import Campaign
from chat_server.principal import Principal, Role
from chat_server.storage.campaigns import CampaignStore
from chat_server.storage.devices import DeviceStore
from chat_server.storage.franking_stamp import BROADCAST_SEQ
from chat_server.storage.messages import MessageStore, StoredMessage
from chat_server.storage.reports import Report, ReportExists, ReportStore
from chat_server.tokens import new_id
from e2e_crypto.broadcast_public import parse_broadcast
from e2e_crypto.errors import CryptoError
from e2e_crypto.franking import (
    FrankingKind,
    verify_broadcast_report,
    verify_report,
    verify_stamp,
)
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import FRANKING_KEY_BYTES, from_base64url, to_base64url
from moderation.audit import AuditAction
from moderation.limits import Action
from moderation.reports import (
    MAX_REVEALED_BYTES,
    Category,
    Decision,
    DecisionReason,
    ReportStatus,
    Verification,
)

_DECIDED = {
    Decision.RESOLVE: AuditAction.REPORT_RESOLVED,
    Decision.DISMISS: AuditAction.REPORT_DISMISSED,
}


@dataclass(frozen=True, slots=True)
class ReportedRecords:
    """The server's own records a report is checked against: stored messages, stored
    mailings, and the key directory (sender devices' signing keys)."""

    messages: MessageStore
    campaigns: CampaignStore
    devices: DeviceStore


@dataclass(frozen=True, slots=True)
class _Stamped:
    """A reported record as the server stamped it when it took it in: a chat message
    or a mailing. Both are checked the same way, each in its own franking domain
    (``kind``), so one's text and key never verify as the other."""

    kind: FrankingKind
    stamp: bytes | None  # None: a mailing stored before mailings were stamped
    sealed: bytes  # the stored envelope, or the campaign's broadcast body
    franking_commitment: bytes
    sender_account: str
    sender_device: str
    conversation: str  # the thread, or the campaign
    client_msg_id: str
    seq: int
    at: datetime

    @classmethod
    def message(cls, message: StoredMessage) -> _Stamped:
        return cls(
            FrankingKind.MESSAGE,
            message.stamp,
            message.envelope,
            message.franking_commitment,
            message.sender_account,
            message.sender_device,
            message.thread_id,
            message.client_msg_id,
            message.seq,
            message.at,
        )

    @classmethod
    def mailing(cls, campaign: Campaign) -> _Stamped:
        header = parse_broadcast(campaign.body).header  # checked when it was stored
        return cls(
            FrankingKind.BROADCAST,
            campaign.stamp,
            campaign.body,
            header.franking_commitment,
            campaign.created_by,
            header.sender_device,
            campaign.id,
            header.client_msg_id,
            BROADCAST_SEQ,
            campaign.created_at,
        )


class AbuseReports:
    def __init__(
        self,
        *,
        gate: ThreadGate,
        records: ReportedRecords,
        reports: ReportStore,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
        stamp_key: bytes,
    ) -> None:
        self._gate = gate
        self._messages = records.messages
        self._devices = records.devices
        self._reports = reports
        self._campaigns = records.campaigns
        self._clock = clock
        self._throttle = throttle
        self._audit = auditor
        self._stamp_key = stamp_key

    async def report(
        self,
        who: Principal,
        thread_id: str,
        seq: int,
        *,
        body_b64: str,
        franking_key_b64: str,
        category: Category,
    ) -> dict[str, str]:
        await self._throttle.action(Action.REPORT, subject_of(who))
        # Only a participant reports, and only a message of the thread: one answer
        # (404) for a missing thread, someone else's, and a missing message.
        await self._gate.thread(who, thread_id)
        # The stored record itself (MongoDB), not the store's cache of recent sends:
        # the report is checked against what the server keeps.
        stored = await self._messages.after(thread_id, seq - 1, 1)
        if not stored or stored[0].seq != seq:
            raise NotFound()
        body, franking_key = _revealed(body_b64, franking_key_b64)
        return await self._file(who, _Stamped.message(stored[0]), body, franking_key, category)

    async def report_mailing(
        self,
        who: Principal,
        campaign_id: str,
        *,
        body_b64: str,
        franking_key_b64: str,
        category: Category,
    ) -> dict[str, str]:
        """A patient reports a mailing delivered to them; the same 404 for a campaign
        that does not exist and one that was not delivered to them."""
        await self._throttle.action(Action.REPORT, subject_of(who))
        campaign = await self._campaigns.get(campaign_id)
        if campaign is None or not await self._campaigns.delivered_to(campaign_id, who.account_id):
            raise NotFound()
        body, franking_key = _revealed(body_b64, franking_key_b64)
        return await self._file(who, _Stamped.mailing(campaign), body, franking_key, category)

    async def _file(
        self,
        who: Principal,
        record: _Stamped,
        body: bytes,
        franking_key: bytes,
        category: Category,
    ) -> dict[str, str]:
        mailing = record.kind is FrankingKind.BROADCAST
        report = Report(
            id=new_id(),
            reporter=who.account_id,
            thread_id="" if mailing else record.conversation,
            seq=record.seq,
            sender_account=record.sender_account,
            sender_device=record.sender_device,
            category=category,
            verification=await self._verify(record, body, franking_key),
            status=ReportStatus.QUEUED,
            at=self._clock.now(),
            message_at=record.at,
            body=body,
            campaign_id=record.conversation if mailing else None,
        )
        try:
            await self._reports.add(report)
        except ReportExists:
            raise ReportAlreadyFiled() from None
        await self._audit.record(
            AuditAction.REPORT_FILED,
            actor=report.reporter,
            subject=report.id,
            details={"verification": str(report.verification), "category": str(report.category)},
        )
        return {"report_id": report.id, "verification": str(report.verification)}

    async def _verify(self, record: _Stamped, body: bytes, franking_key: bytes) -> Verification:
        """VERIFIED if the server's stamp still covers the stored record and the sender
        device signed the commitment that ``body`` and ``franking_key`` open, each in
        the record's own franking domain; else UNVERIFIABLE."""
        if record.stamp is None:  # a mailing stored before mailings were stamped
            return Verification.UNVERIFIABLE
        device = await self._devices.get(record.sender_device)
        if device is None or device.account_id != record.sender_account:
            return Verification.UNVERIFIABLE
        try:
            sender_key = PublicSigningKey(from_base64url(device.sign_key, max_bytes=32))
            # The server's own receipt first: the record below is the one it stamped.
            verify_stamp(
                self._stamp_key,
                record.stamp,
                kind=record.kind,
                franking_commitment=record.franking_commitment,
                sender_account=record.sender_account,
                sender_device=record.sender_device,
                thread_id=record.conversation,
                seq=record.seq,
                received_at=record.at,
            )
            if record.kind is FrankingKind.BROADCAST:
                verify_broadcast_report(
                    record.sealed,
                    sender_key=sender_key,
                    campaign_id=record.conversation,
                    client_msg_id=record.client_msg_id,
                    sender_account=record.sender_account,
                    sender_device=record.sender_device,
                    text=body,
                    franking_key=franking_key,
                )
            else:
                verify_report(
                    record.sealed,
                    sender_key=sender_key,
                    thread_id=record.conversation,
                    client_msg_id=record.client_msg_id,
                    sender_account=record.sender_account,
                    sender_device=record.sender_device,
                    body=body,
                    franking_key=franking_key,
                )
        except CryptoError:
            return Verification.UNVERIFIABLE
        return Verification.VERIFIED

    async def queue(self, moderator: Principal) -> list[dict[str, object]]:
        """The newest queued reports, for moderators."""
        require_moderator(moderator)
        return [_shown(r) for r in await self._reports.queued()]

    async def decide(
        self, moderator: Principal, report_id: str, decision: Decision, reason: DecisionReason
    ) -> None:
        """Resolves or dismisses a queued report, once, with a reason code (audited)."""
        require_moderator(moderator)
        if not await self._reports.decide(
            report_id,
            decision.status,
            moderator=moderator.account_id,
            reason=reason,
            now=self._clock.now(),
        ):
            if await self._reports.get(report_id) is None:
                raise NotFound()
            raise ReportAlreadyDecided()
        await self._audit.record(
            _DECIDED[decision],
            actor=moderator.account_id,
            subject=report_id,
            details={"reason": str(reason)},
        )


def _shown(r: Report) -> dict[str, object]:
    return {
        "report_id": r.id,
        # A message's report names its thread and seq; a mailing's, its campaign.
        "thread": r.thread_id if r.campaign_id is None else None,
        "seq": r.seq if r.campaign_id is None else None,
        "campaign": r.campaign_id,
        "reporter": r.reporter,
        "sender": {"account": r.sender_account, "device": r.sender_device},
        "category": str(r.category),
        "verification": str(r.verification),
        "at": r.at.isoformat(),
        "message_at": r.message_at.isoformat(),
        # The payload as the reporter revealed it (the SDK's payload codec
        # reads it: text, or a typed message).
        "body": to_base64url(r.body),
    }


def report_summary(r: Report) -> dict[str, object]:
    """A report in an account look-up: what and how it stands, not the revealed text."""
    return {
        "report_id": r.id,
        "category": str(r.category),
        "verification": str(r.verification),
        "status": str(r.status),
        "at": r.at.isoformat(),
    }


def _revealed(body_b64: str, franking_key_b64: str) -> tuple[bytes, bytes]:
    fields: dict[str, list[str]] = {}
    body = franking_key = b""
    try:
        body = from_base64url(body_b64, max_bytes=MAX_REVEALED_BYTES)
    except CryptoError:
        fields["body"] = [f"base64url of at most {MAX_REVEALED_BYTES} bytes"]
    try:
        franking_key = from_base64url(franking_key_b64, max_bytes=FRANKING_KEY_BYTES)
    except CryptoError:
        pass
    if len(franking_key) != FRANKING_KEY_BYTES:
        fields["franking_key"] = [f"base64url of {FRANKING_KEY_BYTES} bytes"]
    if fields:
        raise BadRequest(fields=fields)
    return body, franking_key


def require_moderator(who: Principal) -> None:
    """Every moderator endpoint asks on every request: platform admins only (403)."""
    if who.role is not Role.ADMIN:
        raise Forbidden("moderators (platform admins) only")
