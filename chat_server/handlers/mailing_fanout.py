"""The fan-out of one campaign run: a durable job (``mailing_fanout``).

::

    scheduled ──(job comes due: start)──► sending ──► done
                                            │ each batch, in recipient-id order:
                                            │  1. state still sending, run still ours?
                                            │     (pause and cancel land here: within
                                            │     one batch, well under a second)
                                            │  2. mailing consent? active care link?
                                            │  3. one delivery per (campaign, patient):
                                            │     insert_many, duplicates ignored
                                            │  4. claim, then send the notice e-mails
                                            │  5. cursor into the campaign and the job
                                            │  6. sleep what the rate limit asks
                                            ▼
                                   paused (consecutive_failures: e-mails;
                                           job_failed: the batches themselves)

A batch that raises (MongoDB refusing writes, say) fails the job's attempt, and the
runner retries it with back-off from the stored cursor. The campaign counts failed
batches in a row (a batch that goes through resets the count); at
``max_failed_batches``, or on the job's last attempt, the campaign pauses itself with
``job_failed`` instead of sending on or silently landing in the failed-jobs list, and
a resume starts from the cursor again.

The recipient set cannot change once the campaign left draft, so the id order is a
stable cursor. A process killed anywhere (SIGKILL) leaves at most one batch between
the stored cursor and what was done; the process that takes the job over does that
batch again and finds every delivery already there (the unique ``_id``). E-mails are
claimed before the relay is called, so one is sent at most once; an e-mail whose
process died mid-send stays ``sending`` and is counted neither sent nor failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Final

from chat_server.clock import Clock
from chat_server.events import AnnouncementEvent
from chat_server.handlers.consents import Consents
from chat_server.jobs.runner import JobContext, LeaseLost
from chat_server.mailing_mail import NoticeMailer, NoticeSender, notice_email
from chat_server.model.campaigns import (
    Campaign,
    CampaignEvent,
    CampaignState,
    DeliveryState,
    PauseReason,
)
from chat_server.storage.accounts import AccountStore
from chat_server.storage.campaigns import (
    MAIL_FAILED,
    MAIL_NO_ADDRESS,
    MAIL_SENT,
    CampaignStore,
)
from chat_server.storage.mailing_consent import UnsubscribeTokenStore
from chat_server.storage.practices import CareLinkStore
from chat_server.storage.roster import RosterStore
from e2e_crypto.wire import to_base64url

log = logging.getLogger(__name__)

UNSUBSCRIBE_PATH: Final = "/api/v1/mailings/unsubscribe"
UNSUBSCRIBE_PAGE: Final = "/mailings/unsubscribe"


# The hub's deliver: an event to every open socket of these accounts, on any process.
Announce = Callable[[list[str], AnnouncementEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FanoutPolicy:
    rate_per_second: float
    batch: int
    max_consecutive_failures: int
    max_failed_batches: int
    mail_concurrency: int
    mail_attempts: int
    mail_backoff_seconds: float


@dataclass(frozen=True, slots=True)
class FanoutStores:
    campaigns: CampaignStore
    tokens: UnsubscribeTokenStore
    links: CareLinkStore
    accounts: AccountStore
    roster: RosterStore


@dataclass(frozen=True, slots=True)
class UnsubscribeLinks:
    """Opaque one-click tokens: a MAC of (practice, patient) under the server secret."""

    secret: bytes
    public_url: str

    def token(self, practice: str, patient: str) -> str:
        mac = hmac.new(
            self.secret, f"unsubscribe\x00{practice}\x00{patient}".encode(), hashlib.sha256
        )
        return to_base64url(mac.digest())

    def url(self, token: str) -> str:
        """The one-click POST target (``List-Unsubscribe``)."""
        return f"{self.public_url}{UNSUBSCRIBE_PATH}/{token}"

    def page(self, token: str) -> str:
        """The page a person reaches from the e-mail's body: it asks, then POSTs."""
        return f"{self.public_url}{UNSUBSCRIBE_PAGE}/{token}"


@dataclass(slots=True)
class _Streak:
    """Consecutive e-mails that failed after all their attempts."""

    failures: int = 0


class MailingFanout:
    def __init__(
        self,
        *,
        stores: FanoutStores,
        consents: Consents,
        mailer: NoticeMailer,
        sender: NoticeSender,
        links: UnsubscribeLinks,
        clock: Clock,
        policy: FanoutPolicy,
        announce: Announce,
    ) -> None:
        self._s = stores
        self._consents = consents
        self._announce = announce
        self._mailer = mailer
        self._sender = sender
        self._links = links
        self._clock = clock
        self._policy = policy

    async def run(self, ctx: JobContext) -> datetime | None:
        campaign_id, run = str(ctx.payload["campaign"]), int(ctx.payload["run"])
        try:
            return await self._run(ctx, campaign_id, run)
        except LeaseLost:
            raise  # another process sends it now: not a failure of the campaign
        except Exception as exc:
            if not await self._failed_batch(ctx, campaign_id, run, exc):
                raise  # the runner retries from the cursor after its back-off
            return None

    async def _failed_batch(
        self, ctx: JobContext, campaign_id: str, run: int, exc: Exception
    ) -> bool:
        """Counts a failed batch; True if the job is over (it paused the campaign, or
        the campaign is no longer this run's to send), False to have it retried."""
        failed = await self._s.campaigns.count_failed_batch(campaign_id, run)
        if failed is None:
            # Paused, cancelled or a newer run meanwhile: nothing to retry. Unless its
            # start itself failed: still scheduled, it is retried like a batch.
            current = await self._s.campaigns.get(campaign_id)
            return not (
                current is not None
                and current.run == run
                and current.state is CampaignState.SCHEDULED
            )
        last_attempt = ctx.job.attempts >= ctx.job.max_attempts
        if failed < self._policy.max_failed_batches and not last_attempt:
            return False
        paused = await self._s.campaigns.transition(
            campaign_id,
            CampaignEvent.PAUSE,
            CampaignState.PAUSED,
            self._clock.now(),
            fields={"pause_reason": str(PauseReason.JOB_FAILED)},
        )
        if paused is not None:  # else someone paused or cancelled it first: over as well
            log.warning(
                "mailings: campaign paused after failed batches",
                extra={
                    "fields": {
                        "campaign": campaign_id,
                        "failed": failed,
                        "error": type(exc).__name__,
                    }
                },
            )
        return True

    async def _run(self, ctx: JobContext, campaign_id: str, run: int) -> datetime | None:
        campaign = await self._start(campaign_id, run)
        if campaign is None:
            return None
        cursor = await self._s.campaigns.cursor(campaign_id)
        streak = _Streak()
        batches = 0
        owner = f"{ctx.job.lease_owner}/{ctx.job.attempts}"
        while True:
            began = self._clock.monotonic()
            current = await self._s.campaigns.get(campaign_id)
            if current is None or current.run != run or current.state is not CampaignState.SENDING:
                return None  # paused, cancelled, or a newer run took over
            batch = await self._s.campaigns.recipients_after(
                campaign_id, cursor, self._policy.batch
            )
            if not batch:
                # A finished campaign needs no resume point: none left to name a
                # patient once they are erased (docs/gdpr.md).
                await self._s.campaigns.transition(
                    campaign_id,
                    CampaignEvent.FINISH,
                    CampaignState.DONE,
                    self._clock.now(),
                    fields={"cursor": None},
                )
                return None
            patients = [r.patient for r in batch]
            delivered = await self._deliver(campaign, patients)
            await self._mail(campaign, delivered, owner, streak)
            cursor = patients[-1]
            if not await self._s.campaigns.save_cursor(campaign_id, run, cursor):
                return None
            # The resume point is the campaign's; the job's checkpoint only renews its
            # lease, and counts batches rather than naming a patient.
            batches += 1
            await ctx.checkpoint(batches)
            if streak.failures >= self._policy.max_consecutive_failures:
                await self._s.campaigns.transition(
                    campaign_id,
                    CampaignEvent.PAUSE,
                    CampaignState.PAUSED,
                    self._clock.now(),
                    fields={"pause_reason": str(PauseReason.CONSECUTIVE_FAILURES)},
                )
                log.warning(
                    "mailings: campaign paused after consecutive failures",
                    extra={"fields": {"campaign": campaign_id, "failures": streak.failures}},
                )
                return None
            spare = len(batch) / self._policy.rate_per_second - (self._clock.monotonic() - began)
            if spare > 0:
                await asyncio.sleep(spare)  # the rate limit: recipients per second

    async def _start(self, campaign_id: str, run: int) -> Campaign | None:
        """The campaign if this run should send it: moved to sending if it was due."""
        campaign = await self._s.campaigns.get(campaign_id)
        if campaign is None or campaign.run != run:
            return None
        if campaign.state is CampaignState.SCHEDULED:
            started = await self._s.campaigns.transition(
                campaign_id, CampaignEvent.START, CampaignState.SENDING, self._clock.now()
            )
            campaign = started or await self._s.campaigns.get(campaign_id)
        if campaign is None or campaign.run != run or campaign.state is not CampaignState.SENDING:
            return None
        return campaign

    async def _deliver(self, campaign: Campaign, patients: list[str]) -> list[str]:
        """Records this batch's deliveries; the patients it was delivered to (new or
        found from an earlier attempt: their e-mail may still be pending)."""
        # The server's own check, whatever the practice's client chose: no mailing
        # reaches a patient without their consent for this practice (opt-in).
        consenting = set(await self._consents.mailing_recipients(campaign.practice_id, patients))
        linked = await self._s.links.active_patients(campaign.practice_id, patients)

        def outcome(patient: str) -> DeliveryState:
            if patient not in consenting:
                return DeliveryState.OPTED_OUT
            if patient not in linked:
                return DeliveryState.NO_CARE_LINK
            return DeliveryState.DELIVERED

        outcomes = [(p, outcome(p)) for p in patients]
        new = await self._s.campaigns.record_deliveries(campaign, outcomes, self._clock.now())
        delivered = [p for p, state in outcomes if state is DeliveryState.DELIVERED]
        # Live push to the patients' open sockets, once, for deliveries made now (a
        # batch done again after a crash announces only what it newly delivered; a
        # missed push costs nothing: the list endpoint is the truth).
        fresh = [p for p in delivered if p in new]
        if fresh:
            await self._announce(
                fresh,
                {"t": "announcement", "campaign": campaign.id, "practice": campaign.practice_id},
            )
        return delivered

    async def _mail(
        self, campaign: Campaign, patients: list[str], owner: str, streak: _Streak
    ) -> None:
        claimed = await self._s.campaigns.claim_mail(campaign.id, patients, owner)
        if not claimed:
            return
        accounts = await self._s.accounts.many(claimed)
        emails = {p: a.email for p, a in accounts.items()}
        unreachable = [p for p in claimed if p not in emails]
        if unreachable:  # no account any more (erased): delivered, but nobody to mail
            await self._s.campaigns.mail_outcome_many(campaign.id, unreachable, MAIL_NO_ADDRESS)
        languages = await self._s.roster.languages(campaign.practice_id, list(emails.values()))
        tokens = {p: self._links.token(campaign.practice_id, p) for p in emails}
        await self._s.tokens.remember_tokens(campaign.practice_id, tokens)
        gate = asyncio.Semaphore(self._policy.mail_concurrency)

        async def one(patient: str, address: str) -> bool:
            message = notice_email(
                self._sender,
                address,
                languages.get(address, ""),
                self._links.url(tokens[patient]),
                self._links.page(tokens[patient]),
                self._clock.now(),
            )
            async with gate:
                attempts, sent = await self._send(message)
            outcome = MAIL_SENT if sent else MAIL_FAILED
            await self._s.campaigns.mail_outcome(campaign.id, patient, outcome, attempts)
            return sent

        for sent in await asyncio.gather(*(one(p, a) for p, a in emails.items())):
            streak.failures = 0 if sent else streak.failures + 1

    async def _send(self, message: EmailMessage) -> tuple[int, bool]:
        """Sends with retries and exponential back-off: (attempts made, sent?)."""
        for attempt in range(1, self._policy.mail_attempts + 1):
            try:
                await self._mailer.send_message(message)
            except Exception as exc:  # the relay's failure: retried, then counted
                log.info(
                    "mailings: notice e-mail failed",
                    extra={"fields": {"error": type(exc).__name__, "attempt": attempt}},
                )
                if attempt < self._policy.mail_attempts:
                    await asyncio.sleep(self._policy.mail_backoff_seconds * 2 ** (attempt - 1))
                continue
            return attempt, True
        return self._policy.mail_attempts, False
