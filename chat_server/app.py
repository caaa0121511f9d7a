"""The composition root: ``create_app`` builds every part of a CareChat server.

Resources are cleanup contexts, set up in order and torn down in reverse:
MongoDB (connect, check replica set, ensure indexes) → fan-out broker (Redis, or the
in-process one) → job scheduler → domain services and the durable job runner.
Sockets are closed with 1001 on shutdown, before the resources they use go away.
Nothing else in the code base reads the environment or builds a client.
``domain_ctx`` wires the services through small builders, one per family of
services (accounts, care, devices, jobs): wiring only, every decision is in a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import stripe
from aiohttp import web
from redis.exceptions import RedisError

from chat_server.appkeys import (
    ACCOUNT_LOOKUP,
    ACCOUNTS,
    ANNOUNCEMENTS,
    AUDIT_SEARCH,
    AVAILABILITY,
    BLOCKS,
    BROKER,
    CARE,
    CARE_THREADS,
    CLOCK,
    CONSENTS,
    DB,
    DEVICES,
    FAILED_JOBS,
    FRAME_CONTEXT,
    GROUPS,
    HUB,
    INTAKE,
    INVITATIONS,
    KEY_BACKUPS,
    MAILER,
    MAILINGS,
    METRICS,
    NOTIFICATION_PREFERENCES,
    PAGES,
    PAID_CHATS,
    PANEL_CLAIMS,
    PANEL_MEMBERS,
    PANEL_QUESTIONS,
    PANELS,
    PASSWORDS,
    PENDING_SOCKETS,
    PERSONAL_DATA,
    PRACTICES,
    RECEIPTS,
    RECONCILIATION,
    REDIS,
    REGISTRATION,
    REPORTS,
    ROSTER,
    ROUTER,
    SANCTIONS,
    SCHEDULER,
    SESSIONS,
    SETTINGS,
    SMS,
    THREAD_GATE,
    THREAD_SYNC,
    TICKETS,
    TOTP,
    UPLOADS,
    WRITE_DB,
)
from chat_server.clock import Clock, SystemClock
from chat_server.errors import StartupError
from chat_server.fanout import LocalBroker, RedisBroker
from chat_server.handlers.access import AccessGate, ThreadGate
from chat_server.handlers.account_lookup import AccountLookup
from chat_server.handlers.accounts import AccountService
from chat_server.handlers.announcements import Announcements
from chat_server.handlers.audit import Auditor
from chat_server.handlers.audit_anchor import ANCHOR_KIND, AuditAnchoring
from chat_server.handlers.audit_search import AuditSearch
from chat_server.handlers.availability import Availability
from chat_server.handlers.blocks import Blocks
from chat_server.handlers.care import CareService
from chat_server.handlers.care_threads import CareThreads, Providers
from chat_server.handlers.consents import Consents
from chat_server.handlers.delivered_notices import DeliveredNotices
from chat_server.handlers.devices import DeviceService, KeyRecords
from chat_server.handlers.directory import DeviceDirectory
from chat_server.handlers.failed_jobs import FailedJobs
from chat_server.handlers.groups import GroupService
from chat_server.handlers.intake import MessageIntake, Outlets, SendRules
from chat_server.handlers.invitations import InvitationSending, InvitationService
from chat_server.handlers.key_backup import KeyBackups
from chat_server.handlers.mailing_fanout import (
    FanoutPolicy,
    FanoutStores,
    MailingFanout,
    UnsubscribeLinks,
)
from chat_server.handlers.mailings import FANOUT_KIND, MailingService
from chat_server.handlers.notification_preferences import NotificationPreferences
from chat_server.handlers.notifications import NOTIFY_KIND, Notifier, NotifierReads
from chat_server.handlers.paid_chats import PaidChats
from chat_server.handlers.paid_queue import PaidQueue
from chat_server.handlers.panel_access import PanelGate
from chat_server.handlers.panel_claims import PANEL_TIMER, PanelClaims
from chat_server.handlers.panel_envelopes import PanelEnvelopes
from chat_server.handlers.panel_members import PanelMembers
from chat_server.handlers.panel_questions import PanelQuestions
from chat_server.handlers.panels import PanelService
from chat_server.handlers.passwords import PasswordService, ResetMail
from chat_server.handlers.payment_flow import (
    CHECKOUT_ATTEMPTS,
    CHECKOUT_BACKOFF,
    PAID_CHAT_TIMER,
    STRIPE_CALL,
    STRIPE_CHECKOUT,
    STRIPE_EVENT,
    PaymentConfig,
    PaymentFlow,
)
from chat_server.handlers.personal_data import ERASE_KIND, ErasurePolicy, PersonalData
from chat_server.handlers.practices import PracticeService
from chat_server.handlers.receipts import Receipts
from chat_server.handlers.reconciliation import Reconciliation
from chat_server.handlers.registration import RegistrationService
from chat_server.handlers.reports import AbuseReports, ReportedRecords
from chat_server.handlers.retention import (
    RETENTION_KIND,
    YEAR,
    Retention,
    RetentionPolicy,
)
from chat_server.handlers.roster import RosterLinks, RosterService
from chat_server.handlers.sanctions import Sanctions
from chat_server.handlers.sessions import SessionPolicy, SessionService, SignOut
from chat_server.handlers.sync import ThreadSync
from chat_server.handlers.thread_audit import TransitionAudit
from chat_server.handlers.throttle import Throttle
from chat_server.handlers.tickets import TicketService
from chat_server.handlers.totp import TotpService
from chat_server.handlers.uploads import PURGE_KIND, UploadLimits, UploadPurge, UploadService
from chat_server.jobs import JobKinds, JobRunner, JobStore, scheduler_ctx
from chat_server.mail import BackgroundMailer, FileOutbox, Mailer, SmsSender, SmtpMailer
from chat_server.mailing_mail import (
    FileNoticeMailer,
    NoticeMailer,
    NoticeSender,
    SmtpNoticeMailer,
)
from chat_server.metrics import GcWatch, Metrics, watch_loop_lag
from chat_server.model.queue import PaidOffer, PanelSettings
from chat_server.passwords import PasswordHasher
from chat_server.redis_client import make_redis_client
from chat_server.resources import mongo_ctx
from chat_server.rest import accounts as accounts_routes
from chat_server.rest import care as care_routes
from chat_server.rest import devices as devices_routes
from chat_server.rest import groups as groups_routes
from chat_server.rest import health, mailings, moderator_console, openapi, pages
from chat_server.rest import moderation as moderation_routes
from chat_server.rest import paid_chats as paid_chats_routes
from chat_server.rest import panels as panels_routes
from chat_server.rest import personal_data as personal_data_routes
from chat_server.rest import receipts as receipts_routes
from chat_server.rest import threads as threads_routes
from chat_server.rest.headers import SecurityHeaders
from chat_server.rest.problems import problems_middleware
from chat_server.rest.proxies import TrustedProxies
from chat_server.rest.queries import query_middleware
from chat_server.settings import Settings
from chat_server.storage.accounts import AccountStore
from chat_server.storage.attachments import AttachmentStore, KeyBackupStore
from chat_server.storage.audit import AuditStore
from chat_server.storage.blocks import BlockStore
from chat_server.storage.campaigns import CampaignStore
from chat_server.storage.consents import ConsentStore
from chat_server.storage.devices import DeviceStore
from chat_server.storage.expired import ExpiredItems, RetainedKind
from chat_server.storage.franking_stamp import BroadcastStamper, FrankingStamper, stamp_key
from chat_server.storage.groups import GroupStore
from chat_server.storage.mailing_consent import UnsubscribeTokenStore
from chat_server.storage.messages import MessageStore
from chat_server.storage.notifications import NotificationLog
from chat_server.storage.paid_chats import PaidChatStore
from chat_server.storage.panel_queue import QueueStore
from chat_server.storage.panels import PanelStore
from chat_server.storage.personal_data import PersonalDataStore
from chat_server.storage.practices import CareLinkStore, Practice, PracticeStore
from chat_server.storage.purge import ThreadPurge
from chat_server.storage.reports import ReportStore
from chat_server.storage.retired_keys import RetiredKeyStore
from chat_server.storage.roster import RosterStore
from chat_server.storage.sanctions import SanctionStore
from chat_server.storage.sessions import CodeStore, SessionStore, TicketStore
from chat_server.storage.threads import CursorBuffer, ThreadStore
from chat_server.web_manifest import DEFAULT_BUILD_DIR
from chat_server.ws import session as ws_session
from chat_server.ws.admission import PendingSockets
from chat_server.ws.context import FrameContext
from chat_server.ws.endpoint import websocket_handler
from chat_server.ws.frames import FRAMES, SINKS, SINKS_AT_ONCE
from chat_server.ws.hub import Hub
from chat_server.ws.router import FrameRouter
from moderation.floods import FloodPolicy
from moderation.limits import (
    DEFAULT_TABLE,
    Action,
    ActionLimits,
    Budget,
    Scope,
    Table,
    with_overrides,
)
from moderation.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from payments.gateway import StripeGateway
from payments.terms import PaymentTerms


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    sms: SmsSender | None = None,
    web_build_dir: Path = DEFAULT_BUILD_DIR,
) -> web.Application:
    app = web.Application(
        # The client's address first: everything after it reads request.remote.
        middlewares=[
            TrustedProxies(settings.trusted_proxies).middleware(),
            problems_middleware,
            query_middleware,
        ],
        client_max_size=settings.http_max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = metrics = Metrics()
    app[HUB] = Hub(metrics)
    app[PENDING_SOCKETS] = PendingSockets(settings.ws_unauthenticated_per_ip)
    app[ROUTER] = FrameRouter(FRAMES)
    app[PAGES] = pages.Pages(web_build_dir, settings.widget_embed_origins)
    outbox = FileOutbox(settings.data_dir / "outbox")
    relay = (
        SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            starttls=settings.smtp_starttls,
        )
        if settings.smtp_host
        else None
    )
    app[MAILER] = mailer or relay or outbox
    # No SMS gateway is integrated: texts go to the outbox until one is configured.
    app[SMS] = sms or outbox

    app.cleanup_ctx.extend([runtime_watch_ctx, mongo_ctx, broker_ctx, scheduler_ctx, domain_ctx])
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(SecurityHeaders.for_settings(settings).on_response_prepare)

    health.add_routes(app)
    accounts_routes.add_routes(app)
    devices_routes.add_routes(app)
    groups_routes.add_routes(app)
    panels_routes.add_routes(app)
    paid_chats_routes.add_routes(app)
    receipts_routes.add_routes(app)
    care_routes.add_routes(app)
    threads_routes.add_routes(app)
    moderation_routes.add_routes(app)
    moderator_console.add_routes(app)
    personal_data_routes.add_routes(app)
    mailings.add_routes(app)
    openapi.add_routes(app)
    pages.add_routes(app)
    app.router.add_get("/ws", websocket_handler, name="ws")
    return app


def create_metrics_app(app: web.Application) -> web.Application:
    """The metrics listener's application, reading the registry of ``app`` (the CLI
    serves it on ``metrics_listen``, never on the public port)."""
    return health.metrics_app(app[METRICS], app[SETTINGS].metrics_token)


async def runtime_watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """Event loop lag and garbage collection pauses, for /metrics."""
    watcher = asyncio.create_task(watch_loop_lag(app[METRICS]), name="loop-lag")
    try:
        with GcWatch(app[METRICS]):
            yield
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def broker_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, hub, metrics = app[SETTINGS], app[HUB], app[METRICS]
    if settings.redis_url is None:
        app[BROKER] = broker = LocalBroker(metrics)
        hub.bind_broker(broker)
        yield
        return
    client = make_redis_client(settings.redis_url.reveal(), pool_size=settings.redis_pool_size)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise StartupError(
                f"Redis unreachable at CARECHAT_REDIS_URL ({type(exc).__name__})"
            ) from None
        redis_broker = RedisBroker(
            client, settings.redis_prefix, metrics, hub.on_remote_event, hub.resync_all
        )
        app[BROKER] = redis_broker
        app[REDIS] = client
        hub.bind_broker(redis_broker)
        await redis_broker.start()
        try:
            yield
        finally:
            await redis_broker.close()
    finally:
        await client.aclose()


async def domain_ctx(app: web.Application) -> AsyncIterator[None]:
    """Builds the stores and services: plain objects, wired by constructor arguments."""
    settings, db, clock, hub = app[SETTINGS], app[DB], app[CLOCK], app[HUB]
    secret = server_secret(settings)
    limiter = _rate_limiter(app, secret)
    shared = _shared(app, limiter, secret)
    # The thread wiring below uses these by name.
    throttle, accounts, practices = shared.throttle, shared.accounts, shared.practices
    _account_services(app, shared)
    directory = _device_service(app, shared)
    care = _care_services(
        app,
        shared,
        # Bound late: the care threads are built below and need the care service.
        membership_changed=lambda practice: care_threads.membership_changed(practice),
    )
    app[GROUPS] = GroupService(groups=GroupStore(db), accounts=accounts, clock=clock)
    app[AVAILABILITY] = Availability(accounts)
    app[NOTIFICATION_PREFERENCES] = NotificationPreferences(accounts)
    app[KEY_BACKUPS] = KeyBackups(KeyBackupStore(db), clock)
    attachments = AttachmentStore(db)
    threads = ThreadStore(db, on_transition=shared.transitions)
    cursors = CursorBuffer(
        threads,
        interval=settings.cursor_flush_ms / 1000,
        clock=clock,
        writer=ThreadStore(app[WRITE_DB]),
        on_flush=app[METRICS].cursor_flush_latency.observe,
    )
    messages = MessageStore(
        db,
        clock,
        FrankingStamper(secret),
        write_db=app[WRITE_DB],
        linger_seconds=settings.write_batch_ms / 1000,
        on_batch=app[METRICS].message_batch,
        # Bound late: the notifier below reads the message store.
        after_write=lambda batch: notifier.messages_written(batch),
    )
    # Durable jobs: every kind is registered here, before the runner takes any.
    kinds = JobKinds()
    jobs = _job_runner(app, kinds)
    notifier = Notifier(
        reads=NotifierReads(accounts=accounts, threads=threads, messages=messages, cursors=cursors),
        sent=NotificationLog(db),
        mailer=app[MAILER],
        limiter=limiter,
        jobs=jobs,
        clock=clock,
        delay_seconds=settings.notify_delay_seconds,
    )
    kinds.register(NOTIFY_KIND, notifier.check, backoff=timedelta(seconds=30))
    app[THREAD_GATE] = thread_gate = ThreadGate(threads, attachments, clock)
    app[BLOCKS] = blocks = Blocks(BlockStore(db), accounts, clock)
    app[CONSENTS] = consents = Consents(ConsentStore(db), practices, clock)
    app[CARE_THREADS] = care_threads = CareThreads(
        gate=thread_gate,
        threads=threads,
        providers=Providers(care=care, accounts=accounts, practices=practices),
        clock=clock,
        throttle=throttle,
        deliver=hub.deliver,
        rerequest_after=timedelta(days=settings.rerequest_days),
        blocks=blocks,
    )
    app[INTAKE] = MessageIntake(
        gate=thread_gate,
        messages=messages,
        attachments=attachments,
        directory=directory,
        clock=clock,
        throttle=throttle,
        outlets=Outlets(deliver=hub.deliver),
        rules=SendRules(
            blocks=blocks, consents=consents, limit_wait=settings.send_limit_wait_ms / 1000
        ),
    )
    app[THREAD_SYNC] = ThreadSync(
        gate=thread_gate,
        threads=threads,
        messages=messages,
        accounts=accounts,
        cursors=cursors,
        blocks=blocks,
    )
    reports = ReportStore(db)
    app[REPORTS] = AbuseReports(
        gate=thread_gate,
        records=ReportedRecords(
            messages=messages, campaigns=CampaignStore(db), devices=shared.devices
        ),
        reports=reports,
        clock=clock,
        throttle=throttle,
        auditor=shared.auditor,
        stamp_key=stamp_key(secret),
    )
    app[ACCOUNT_LOOKUP] = AccountLookup(
        accounts=shared.accounts,
        sanctions=SanctionStore(db),
        reports=reports,
        devices=shared.devices,
        auditor=shared.auditor,
    )
    app[AUDIT_SEARCH] = AuditSearch(AuditStore(db))
    app[FAILED_JOBS] = FailedJobs(jobs=JobStore(db), clock=clock, auditor=shared.auditor)
    app[RECEIPTS] = Receipts(
        gate=thread_gate,
        threads=threads,
        messages=messages,
        cursors=cursors,
        throttle=throttle,
        deliver=hub.deliver,
        blocks=blocks,
        notices=DeliveredNotices(stored=messages.remembers),
    )
    app[UPLOADS] = UploadService(
        attachments=attachments,
        gate=thread_gate,
        clock=clock,
        throttle=throttle,
        limits=UploadLimits(
            max_bytes=settings.attachment_max_bytes,
            quota_bytes=settings.attachment_quota_bytes,
        ),
    )
    purge = UploadPurge(
        attachments=attachments,
        jobs=jobs,
        clock=clock,
        grace=timedelta(hours=settings.attachment_grace_hours),
        every=timedelta(minutes=settings.attachment_purge_every_minutes),
    )
    kinds.register(PURGE_KIND, purge.run, max_attempts=8, backoff=timedelta(minutes=1))
    anchoring = AuditAnchoring(
        store=AuditStore(db),
        jobs=jobs,
        clock=clock,
        mailer=app[MAILER],
        directory=settings.audit_anchor_dir,
        auditor_email=settings.audit_anchor_email,
        every=timedelta(hours=settings.audit_anchor_every_hours),
    )
    kinds.register(ANCHOR_KIND, anchoring.run, max_attempts=10, backoff=timedelta(minutes=5))
    retention = Retention(
        policy=_retention_policy(settings),
        expired=ExpiredItems(db),
        purge=ThreadPurge(
            db,
            batch_size=settings.retention_batch_size,
            pause_seconds=settings.retention_pause_ms / 1000,
            monotonic=clock.monotonic,
        ),
        jobs=jobs,
        auditor=shared.auditor,
        clock=clock,
    )
    kinds.register(RETENTION_KIND, retention.run, max_attempts=8, backoff=timedelta(minutes=5))
    _panel_services(app, shared, directory=directory, messages=messages, jobs=jobs, kinds=kinds)
    stripe_http = _payment_services(
        app, shared, directory=directory, messages=messages, jobs=jobs, kinds=kinds
    )
    _mailing_services(app, shared, jobs, kinds, secret)
    _personal_data_service(app, shared, jobs, kinds)
    _bind_frames(app)
    messages.start()
    cursors.start()
    jobs.start()
    await purge.schedule()
    await anchoring.schedule()
    await retention.schedule()
    try:
        yield
    finally:
        await jobs.close()  # hands its running jobs back before the stores close
        await messages.close()
        await cursors.close()
        if stripe_http is not None:
            await stripe_http.close_async()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class _Shared:
    """What several services are built from: the stores they share and the
    cross-cutting pieces (clock, throttle, audit log, access gate)."""

    clock: Clock
    throttle: Throttle
    auditor: Auditor
    gate: AccessGate
    accounts: AccountStore
    practices: PracticeStore
    links: CareLinkStore
    codes: CodeStore
    devices: DeviceStore
    public_url: str
    # Every store that moves a conversation tells the audit log (handlers/thread_audit).
    transitions: TransitionAudit


def _rate_limiter(app: web.Application, secret: bytes) -> RateLimiter:
    # Shared by every process through Redis when there is one; in memory otherwise.
    settings, clock, redis_client = app[SETTINGS], app[CLOCK], app.get(REDIS)
    if redis_client is None:
        return MemoryRateLimiter(clock)
    return RedisRateLimiter(redis_client, settings.redis_prefix, clock, key_secret=secret)


def _limit_table(settings: Settings) -> Table:
    # moderation's defaults, with the budgets the settings file names.
    return with_overrides(
        DEFAULT_TABLE,
        {
            Action.MESSAGE: {
                Scope.DEVICE: Budget(settings.send_limit_per_device, 10),
                Scope.ACCOUNT: Budget(settings.send_limit_per_account, 60),
                Scope.IP: Budget(settings.send_limit_per_ip, 60),
            },
            Action.KEY_LOOKUP: {Scope.IP: Budget(settings.key_lookups_per_ip, 60)},
            Action.INVITATION: {
                Scope.ACCOUNT: Budget(
                    settings.invitation_limit, settings.invitation_window_hours * 3600
                ),
            },
            Action.UPLOAD: {Scope.ACCOUNT: Budget(settings.attachment_uploads_per_hour, 3600)},
        },
    )


def _shared(app: web.Application, limiter: RateLimiter, secret: bytes) -> _Shared:
    db, clock = app[DB], app[CLOCK]
    accounts, practices, links = AccountStore(db), PracticeStore(db), CareLinkStore(db)
    auditor = Auditor(AuditStore(db), clock, secret)
    return _Shared(
        clock=clock,
        throttle=Throttle(limiter, ActionLimits(limiter, _limit_table(app[SETTINGS]))),
        auditor=auditor,
        gate=AccessGate(accounts, practices, links),
        accounts=accounts,
        practices=practices,
        links=links,
        codes=CodeStore(db),
        devices=DeviceStore(db),
        public_url=app[SETTINGS].public_url_or_default(),
        transitions=TransitionAudit(auditor),
    )


def _account_services(app: web.Application, shared: _Shared) -> None:
    """Registration, sessions, passwords, TOTP, WebSocket tickets, admin actions."""
    settings, db = app[SETTINGS], app[DB]
    accounts, clock, throttle, auditor = (
        shared.accounts,
        shared.clock,
        shared.throttle,
        shared.auditor,
    )
    sessions, hasher = SessionStore(db), PasswordHasher()
    sign_out = SignOut(sessions, TicketStore(db), partial(ws_session.revoke_sockets, app[HUB]))
    policy = SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
        ticket=timedelta(seconds=settings.ws_ticket_seconds),
        practitioner_totp_grace=timedelta(days=settings.practitioner_totp_grace_days),
        practitioner_totp_from=settings.practitioner_totp_from(),
        appeal=settings.appeal_contact,
    )
    app[REGISTRATION] = RegistrationService(
        accounts=accounts,
        codes=shared.codes,
        hasher=hasher,
        clock=clock,
        mailer=app[MAILER],
        throttle=throttle,
        public_url=shared.public_url,
    )
    app[SESSIONS] = SessionService(
        accounts=accounts,
        sessions=sessions,
        hasher=hasher,
        clock=clock,
        throttle=throttle,
        auditor=auditor,
        revoke_sockets=sign_out.sockets,
        policy=policy,
    )
    app[PASSWORDS] = PasswordService(
        accounts=accounts,
        codes=shared.codes,
        hasher=hasher,
        clock=clock,
        throttle=throttle,
        auditor=auditor,
        sign_out=sign_out,
        reset_mail=ResetMail(
            # After the answer: a known address must not answer later (or fail) alone.
            mailer=BackgroundMailer(app[MAILER], app[SCHEDULER].spawn),
            public_url=shared.public_url,
            ttl=timedelta(minutes=settings.password_reset_minutes),
        ),
    )
    app[TOTP] = TotpService(accounts=accounts, clock=clock, auditor=auditor)
    app[TICKETS] = TicketService(
        accounts=accounts,
        sessions=sessions,
        tickets=sign_out.tickets,
        devices=shared.devices,
        clock=clock,
        ttl=policy.ticket,
        flood=FloodPolicy(
            settings.ws_flood_refusals,
            settings.ws_flood_window_seconds,
            settings.ws_flood_bar_seconds,
        ),
    )
    app[ACCOUNTS] = AccountService(accounts=accounts, auditor=auditor)
    app[SANCTIONS] = Sanctions(
        accounts=accounts,
        sanctions=SanctionStore(db),
        clock=clock,
        auditor=auditor,
        sign_out=sign_out,
        suspend_sockets=partial(ws_session.suspend_sockets, app[HUB]),
        appeal=settings.appeal_contact,
    )


def _personal_data_service(
    app: web.Application, shared: _Shared, jobs: JobRunner, kinds: JobKinds
) -> None:
    """GDPR export and erasure (docs/gdpr.md), and the erasure's durable job."""
    db = app[DB]
    sign_out = SignOut(
        SessionStore(db), TicketStore(db), partial(ws_session.revoke_sockets, app[HUB])
    )
    app[PERSONAL_DATA] = personal_data = PersonalData(
        store=PersonalDataStore(db),
        accounts=shared.accounts,
        hasher=PasswordHasher(),
        auditor=shared.auditor,
        clock=shared.clock,
        throttle=shared.throttle,
        jobs=jobs,
        policy=ErasurePolicy(
            grace=timedelta(days=app[SETTINGS].erasure_grace_days), sign_out=sign_out
        ),
    )
    kinds.register(ERASE_KIND, personal_data.erase, max_attempts=10, backoff=timedelta(minutes=1))


def _device_service(app: web.Application, shared: _Shared) -> DeviceDirectory:
    """The key directory's service; returns the directory cache the thread service shares."""
    directory = DeviceDirectory(shared.devices, shared.clock)
    app[DEVICES] = DeviceService(
        records=KeyRecords(
            accounts=shared.accounts, devices=shared.devices, retired=RetiredKeyStore(app[DB])
        ),
        gate=shared.gate,
        clock=shared.clock,
        throttle=shared.throttle,
        auditor=shared.auditor,
        directory=directory,
        on_revoked=partial(ws_session.revoke_device_sockets, app[HUB]),
    )
    return directory


def _care_services(
    app: web.Application,
    shared: _Shared,
    *,
    membership_changed: Callable[[Practice], Awaitable[None]],
) -> CareService:
    """Practices, invitations and care links; returns the care-link service, which the
    thread service asks whether a patient may open a thread."""
    app[PRACTICES] = PracticeService(
        accounts=shared.accounts,
        practices=shared.practices,
        gate=shared.gate,
        clock=shared.clock,
        auditor=shared.auditor,
        throttle=shared.throttle,
        membership_changed=membership_changed,
    )
    app[INVITATIONS] = InvitationService(
        accounts=shared.accounts,
        links=shared.links,
        codes=shared.codes,
        gate=shared.gate,
        clock=shared.clock,
        throttle=shared.throttle,
        auditor=shared.auditor,
        sending=InvitationSending(
            mailer=app[MAILER],
            sms=app[SMS],
            public_url=shared.public_url,
        ),
    )
    app[CARE] = care = CareService(
        accounts=shared.accounts,
        practices=shared.practices,
        links=shared.links,
        gate=shared.gate,
        clock=shared.clock,
        throttle=shared.throttle,
        auditor=shared.auditor,
    )
    return care


def _panel_services(
    app: web.Application,
    shared: _Shared,
    *,
    directory: DeviceDirectory,
    messages: MessageStore,
    jobs: JobRunner,
    kinds: JobKinds,
) -> None:
    """The GP panel: set-up and figures, claims, questions; its timer job kind."""
    settings, db, clock = app[SETTINGS], app[DB], shared.clock
    panels, queue = PanelStore(db), QueueStore(db, on_transition=shared.transitions)
    gate = PanelGate(panels=panels, groups=GroupStore(db), queue=queue, deliver=app[HUB].deliver)
    # A GP and a patient who meet through a panel may read each other's keys.
    shared.gate.panel_peers = gate.peers
    app[PANELS] = PanelService(
        gate=gate,
        panels=panels,
        queue=queue,
        groups=app[GROUPS],
        accounts=shared.accounts,
        clock=clock,
        defaults=PanelSettings(
            capacity=settings.panel_capacity,
            lease_seconds=settings.panel_lease_seconds,
            max_wait_minutes=settings.panel_max_wait_minutes,
            follow_up_hours=settings.panel_follow_up_hours,
            daily_free_questions=settings.panel_daily_free_questions,
        ),
        presence=timedelta(seconds=settings.panel_presence_seconds),
    )
    app[PANEL_MEMBERS] = PanelMembers(
        gate=gate, panels=panels, accounts=shared.accounts, clock=clock, throttle=shared.throttle
    )
    app[PANEL_CLAIMS] = PanelClaims(
        gate=gate,
        queue=queue,
        panels=panels,
        jobs=jobs,
        clock=clock,
        paid_price=PaidOffer(
            settings.payments_price_cents,
            settings.payments_currency.upper(),
            settings.payments_panel_id or None,
        ),
    )
    app[PANEL_QUESTIONS] = questions = PanelQuestions(
        gate=gate,
        queue=queue,
        panels=panels,
        envelopes=PanelEnvelopes(directory),
        messages=messages,
        jobs=jobs,
        clock=clock,
        throttle=shared.throttle,
    )
    kinds.register(PANEL_TIMER, questions.timer, backoff=timedelta(seconds=5))


def _payment_services(
    app: web.Application,
    shared: _Shared,
    *,
    directory: DeviceDirectory,
    messages: MessageStore,
    jobs: JobRunner,
    kinds: JobKinds,
) -> stripe.AIOHTTPClient | None:
    """Paid chats: the Stripe client (none without a key), the service, its job kinds.
    Returns the HTTP client to close at shutdown."""
    settings = app[SETTINGS]
    terms = PaymentTerms(
        price_cents=settings.payments_price_cents,
        currency=settings.payments_currency,
        sla=timedelta(minutes=settings.payments_sla_minutes),
        checkout_expiry=timedelta(minutes=settings.payments_checkout_expiry_minutes),
        window=timedelta(minutes=settings.payments_window_minutes),
    )
    http: stripe.AIOHTTPClient | None = None
    gateway: StripeGateway | None = None
    if settings.stripe_secret_key is not None:
        http = stripe.AIOHTTPClient()
        bases: dict[str, str] = {}
        if settings.stripe_api_base:
            bases["api"] = settings.stripe_api_base
        client = stripe.StripeClient(
            settings.stripe_secret_key.reveal(),
            http_client=http,
            # Retries are the durable jobs' (same idempotency key), not the SDK's.
            max_network_retries=0,
            base_addresses=bases,  # type: ignore[arg-type]
        )
        gateway = StripeGateway(client)
    config = PaymentConfig(
        clock=shared.clock,
        terms=terms,
        panel_id=settings.payments_panel_id,
        webhook_secrets=settings.stripe_webhook_secret_list(),
        return_url=f"{shared.public_url}/widget",
    )
    db = app[DB]
    queue = PaidQueue(
        gate=PanelGate(
            panels=PanelStore(db),
            groups=GroupStore(db),
            queue=QueueStore(db, on_transition=shared.transitions),
            deliver=app[HUB].deliver,
        ),
        queue=QueueStore(db, on_transition=shared.transitions),
        envelopes=PanelEnvelopes(directory),
        messages=messages,
        clock=shared.clock,
    )
    chats = PaidChatStore(db, on_transition=shared.transitions)
    flow = PaymentFlow(chats=chats, questions=queue, gateway=gateway, jobs=jobs, config=config)
    app[PAID_CHATS] = paid = PaidChats(
        chats=chats,
        questions=queue,
        flow=flow,
        jobs=jobs,
        config=config,
        throttle=shared.throttle,
        consents=app[CONSENTS],
    )
    app[PANEL_QUESTIONS].on_answer = paid.answered
    app[RECONCILIATION] = Reconciliation(chats)
    kinds.register(STRIPE_EVENT, flow.apply_event, backoff=timedelta(seconds=5))
    # Stripe down: retried with the same key, for up to about a day.
    kinds.register(STRIPE_CALL, flow.call_stripe, max_attempts=30, backoff=timedelta(seconds=5))
    kinds.register(PAID_CHAT_TIMER, flow.timer, backoff=timedelta(seconds=5))
    # Stripe down during a start: about ten minutes of tries (5 s doubling), then the
    # chat ends "nothing charged" rather than leave the patient waiting.
    kinds.register(
        STRIPE_CHECKOUT,
        flow.make_checkout,
        max_attempts=CHECKOUT_ATTEMPTS,
        backoff=CHECKOUT_BACKOFF,
    )
    return http


def _mailing_services(
    app: web.Application, shared: _Shared, jobs: JobRunner, kinds: JobKinds, secret: bytes
) -> None:
    """Prevention mailings: campaigns and their fan-out job, the roster, the
    patient's side (announcements, one-click unsubscribe). Who receives them is
    the patients' mailing consent (CONSENTS), the one record the fan-out reads."""
    settings, db = app[SETTINGS], app[DB]
    campaigns, tokens, roster = CampaignStore(db), UnsubscribeTokenStore(db), RosterStore(db)
    app[MAILINGS] = MailingService(
        campaigns=campaigns,
        gate=shared.gate,
        clock=shared.clock,
        jobs=jobs,
        stamp=BroadcastStamper(secret),
    )
    app[ROSTER] = RosterService(
        roster=roster,
        gate=shared.gate,
        invitations=app[INVITATIONS],
        found=RosterLinks(shared.accounts, shared.links),
        throttle=shared.throttle,
        clock=shared.clock,
    )
    app[ANNOUNCEMENTS] = Announcements(
        campaigns=campaigns, tokens=tokens, consents=app[CONSENTS], clock=shared.clock
    )
    notices: NoticeMailer = (
        SmtpNoticeMailer(settings.smtp_host, settings.smtp_port, starttls=settings.smtp_starttls)
        if settings.smtp_host
        else FileNoticeMailer(settings.data_dir / "outbox")
    )
    fanout = MailingFanout(
        stores=FanoutStores(campaigns, tokens, shared.links, shared.accounts, roster),
        consents=app[CONSENTS],
        mailer=notices,
        sender=NoticeSender(settings.smtp_from, shared.public_url),
        links=UnsubscribeLinks(secret, shared.public_url),
        clock=shared.clock,
        announce=app[HUB].deliver,
        policy=FanoutPolicy(
            rate_per_second=settings.mailing_rate_per_second,
            batch=settings.mailing_batch_size,
            max_consecutive_failures=settings.mailing_max_consecutive_failures,
            max_failed_batches=settings.mailing_max_failed_batches,
            mail_concurrency=settings.mailing_smtp_concurrency,
            mail_attempts=settings.mailing_mail_attempts,
            mail_backoff_seconds=settings.mailing_mail_backoff_seconds,
        ),
    )
    # Retries are for the job's own failures (MongoDB); e-mail failures are counted
    # per e-mail and pause the campaign instead. The job's failures pause it too, after
    # mailing_max_failed_batches in a row (at most these 10 attempts).
    kinds.register(FANOUT_KIND, fanout.run, max_attempts=10, backoff=timedelta(seconds=5))


def _retention_policy(settings: Settings) -> RetentionPolicy:
    # The order of a pass: the short-lived kinds first, then the long-kept ones.
    ages = {
        RetainedKind.PANEL: timedelta(days=settings.retention_panel_days),
        RetainedKind.UNPAID: timedelta(days=settings.retention_unpaid_days),
        RetainedKind.MAILING: timedelta(days=settings.retention_mailing_days),
        RetainedKind.JOBS: timedelta(days=settings.retention_failed_jobs_days),
        RetainedKind.PAID: YEAR * settings.retention_paid_years,
        RetainedKind.CARE: YEAR * settings.retention_care_years,
    }
    return RetentionPolicy(
        ages, hour_utc=settings.retention_hour_utc, batch_size=settings.retention_batch_size
    )


def _job_runner(app: web.Application, kinds: JobKinds) -> JobRunner:
    settings, jobs_run = app[SETTINGS], app[METRICS].jobs_run
    return JobRunner(
        JobStore(app[DB], write_db=app[WRITE_DB]),
        kinds,
        app[SCHEDULER],
        app[CLOCK],
        lease_seconds=settings.jobs_lease_seconds,
        poll_seconds=settings.jobs_poll_seconds,
        on_outcome=lambda kind, outcome: jobs_run.labels(kind=kind, outcome=outcome).inc(),
    )


def _bind_frames(app: web.Application) -> None:
    """What frame handlers and fan-out sinks reach (ws/context.py), and the sinks."""
    hub = app[HUB]
    app[FRAME_CONTEXT] = frame_context = FrameContext(
        hub=hub,
        tickets=app[TICKETS],
        gate=app[THREAD_GATE],
        intake=app[INTAKE],
        sync=app[THREAD_SYNC],
        receipts=app[RECEIPTS],
        heartbeat=app[SETTINGS].ws_heartbeat_seconds,
        panels=app[PANELS],
        questions=app[PANEL_QUESTIONS],
        announcements=app[ANNOUNCEMENTS],
    )
    for kind, sink in SINKS.items():
        at_once = SINKS_AT_ONCE.get(kind)
        hub.add_sink(
            kind,
            partial(sink, frame_context),
            None if at_once is None else partial(at_once, frame_context),
        )


def server_secret(settings: Settings) -> bytes:
    """The key for server-side MACs and pseudonyms, the same on every process.

    Several processes (Redis configured) must share it, so it is then required; the
    single-process embedded default keeps a generated one in its data directory.
    """
    if settings.server_secret is not None:
        return _derive(settings.server_secret.reveal())
    if settings.redis_url is not None:
        raise StartupError(
            "CARECHAT_SERVER_SECRET is required when processes share Redis "
            "(at least 32 random characters, the same on every process)"
        )
    path = settings.data_dir / "server_secret"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return _derive(path.read_text().strip())
    except OSError as exc:
        raise StartupError(f"cannot keep the server secret in {path}: {exc.strerror}") from None


def _derive(text: str) -> bytes:
    # A fixed-size key whatever the configured text looks like.
    return hashlib.sha256(b"carechat-server-secret\x00" + text.encode()).digest()


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all()
