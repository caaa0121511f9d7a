"""The composition root: ``create_app`` builds every part of a CareChat server.

Resources are cleanup contexts, set up in order and torn down in reverse:
MongoDB (connect, check replica set, ensure indexes) → fan-out broker (Redis, or the
in-process one) → job scheduler → domain services and the durable job runner.
Sockets are closed with 1001 on shutdown, before the resources they use go away.
Nothing else in the code base reads the environment or builds a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chat_server.appkeys import (
    ACCOUNTS,
    AVAILABILITY,
    BROKER,
    CARE,
    CARE_THREADS,
    CLOCK,
    DB,
    DEVICES,
    FRAME_CONTEXT,
    GROUPS,
    HUB,
    INTAKE,
    KEY_BACKUPS,
    MAILER,
    METRICS,
    PENDING_SOCKETS,
    RECEIPTS,
    REDIS,
    ROUTER,
    SCHEDULER,
    SETTINGS,
    SMS,
    THREAD_GATE,
    THREAD_SYNC,
    UPLOADS,
    WRITE_DB,
)
from chat_server.clock import Clock, SystemClock
from chat_server.errors import StartupError
from chat_server.fanout import LocalBroker, RedisBroker
from chat_server.handlers.access import AccessGate, ThreadGate
from chat_server.handlers.accounts import AccountService, SessionPolicy
from chat_server.handlers.audit import Auditor
from chat_server.handlers.availability import Availability
from chat_server.handlers.care import CareService
from chat_server.handlers.care_threads import CareThreads, Providers
from chat_server.handlers.devices import DeviceService
from chat_server.handlers.directory import DeviceDirectory
from chat_server.handlers.groups import GroupService
from chat_server.handlers.intake import MessageIntake, Outlets, SendLimits
from chat_server.handlers.key_backup import KeyBackups
from chat_server.handlers.notifications import NOTIFY_KIND, Notifier
from chat_server.handlers.receipts import Receipts
from chat_server.handlers.sync import ThreadSync
from chat_server.handlers.throttle import Throttle
from chat_server.handlers.uploads import UploadLimits, UploadService, purge_hourly
from chat_server.jobs import JobKinds, JobRunner, JobStore, scheduler_ctx
from chat_server.mail import FileOutbox, Mailer, SmsSender, SmtpMailer
from chat_server.metrics import GcWatch, Metrics, watch_loop_lag
from chat_server.passwords import PasswordHasher
from chat_server.resources import mongo_ctx
from chat_server.rest import accounts as accounts_routes
from chat_server.rest import care as care_routes
from chat_server.rest import devices as devices_routes
from chat_server.rest import groups as groups_routes
from chat_server.rest import health, openapi
from chat_server.rest import threads as threads_routes
from chat_server.rest.headers import SecurityHeaders
from chat_server.rest.problems import problems_middleware
from chat_server.settings import Settings
from chat_server.storage.accounts import AccountStore
from chat_server.storage.attachments import AttachmentStore, KeyBackupStore
from chat_server.storage.audit import AuditStore
from chat_server.storage.devices import DeviceStore
from chat_server.storage.franking_stamp import FrankingStamper
from chat_server.storage.groups import GroupStore
from chat_server.storage.messages import MessageStore
from chat_server.storage.notifications import NotificationLog
from chat_server.storage.practices import CareLinkStore, PracticeStore
from chat_server.storage.sessions import CodeStore, SessionStore, TicketStore
from chat_server.storage.threads import CursorBuffer, ThreadStore
from chat_server.ws import session as ws_session
from chat_server.ws.admission import PendingSockets
from chat_server.ws.context import FrameContext
from chat_server.ws.endpoint import websocket_handler
from chat_server.ws.frames import FRAMES, SINKS
from chat_server.ws.hub import Hub
from chat_server.ws.router import FrameRouter
from moderation.ratelimit import MemoryRateLimiter, RateLimit, RateLimiter, RedisRateLimiter


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    sms: SmsSender | None = None,
) -> web.Application:
    app = web.Application(
        middlewares=[problems_middleware], client_max_size=settings.http_max_body_bytes
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = metrics = Metrics()
    app[HUB] = Hub(metrics)
    app[PENDING_SOCKETS] = PendingSockets(settings.ws_unauthenticated_per_ip)
    app[ROUTER] = FrameRouter(FRAMES)
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
    care_routes.add_routes(app)
    threads_routes.add_routes(app)
    openapi.add_routes(app)
    app.router.add_get("/ws", websocket_handler, name="ws")
    return app


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
    # Short timeouts and one immediate retry: a Redis outage must cost a request
    # milliseconds, not redis-py's default seconds of backoff.
    client = aioredis.Redis.from_url(
        settings.redis_url.reveal(),
        health_check_interval=10,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 1),
    )
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
    redis_client = app.get(REDIS)
    limiter: RateLimiter = (
        RedisRateLimiter(redis_client, settings.redis_prefix, clock, key_secret=secret)
        if redis_client is not None
        else MemoryRateLimiter(clock)
    )
    throttle = Throttle(limiter)
    accounts, practices, links = AccountStore(db), PracticeStore(db), CareLinkStore(db)
    sessions, codes, devices = SessionStore(db), CodeStore(db), DeviceStore(db)
    auditor = Auditor(AuditStore(db), clock, secret)
    gate = AccessGate(accounts, practices, links)
    public_url = settings.public_url_or_default()
    app[ACCOUNTS] = account_service = AccountService(
        accounts=accounts,
        sessions=sessions,
        tickets=TicketStore(db),
        codes=codes,
        devices=devices,
        hasher=PasswordHasher(),
        clock=clock,
        mailer=app[MAILER],
        throttle=throttle,
        auditor=auditor,
        revoke_sockets=partial(ws_session.revoke_sockets, hub),
        policy=SessionPolicy(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
            ticket=timedelta(seconds=settings.ws_ticket_seconds),
            practitioner_totp_grace=timedelta(days=settings.practitioner_totp_grace_days),
        ),
        public_url=public_url,
        password_reset_ttl=timedelta(minutes=settings.password_reset_minutes),
    )
    directory = DeviceDirectory(devices, clock)
    app[DEVICES] = DeviceService(
        accounts=accounts,
        devices=devices,
        gate=gate,
        clock=clock,
        throttle=throttle,
        auditor=auditor,
        directory=directory,
        on_revoked=partial(ws_session.revoke_device_sockets, hub),
    )
    app[CARE] = care = CareService(
        accounts=accounts,
        practices=practices,
        links=links,
        codes=codes,
        gate=gate,
        clock=clock,
        mailer=app[MAILER],
        sms=app[SMS],
        throttle=throttle,
        auditor=auditor,
        public_url=public_url,
        invitation_limit=RateLimit(
            "invitations",
            limit=settings.invitation_limit,
            window_seconds=settings.invitation_window_hours * 3600,
        ),
        # Bound late: the care threads are built below and need the care service.
        membership_changed=lambda practice: care_threads.membership_changed(practice),
    )
    app[GROUPS] = GroupService(groups=GroupStore(db), accounts=accounts, clock=clock)
    app[AVAILABILITY] = Availability(accounts)
    app[KEY_BACKUPS] = KeyBackups(KeyBackupStore(db), clock)
    attachments = AttachmentStore(db)
    threads = ThreadStore(db)
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
        window_seconds=settings.write_batch_ms / 1000,
        on_batch=app[METRICS].message_batch,
    )
    # Durable jobs: every kind is registered here, before the runner takes any.
    kinds = JobKinds()
    jobs_run = app[METRICS].jobs_run
    jobs = JobRunner(
        JobStore(db),
        kinds,
        app[SCHEDULER],
        clock,
        lease_seconds=settings.jobs_lease_seconds,
        poll_seconds=settings.jobs_poll_seconds,
        on_outcome=lambda kind, outcome: jobs_run.labels(kind=kind, outcome=outcome).inc(),
    )
    notifier = Notifier(
        accounts=accounts,
        threads=threads,
        messages=messages,
        cursors=cursors,
        sent=NotificationLog(db),
        mailer=app[MAILER],
        limiter=limiter,
        jobs=jobs,
        clock=clock,
        delay_seconds=settings.notify_delay_seconds,
    )
    kinds.register(NOTIFY_KIND, notifier.check, backoff=timedelta(seconds=30))
    app[THREAD_GATE] = thread_gate = ThreadGate(threads, attachments, clock)
    app[CARE_THREADS] = care_threads = CareThreads(
        gate=thread_gate,
        threads=threads,
        providers=Providers(care=care, accounts=accounts, practices=practices),
        clock=clock,
        throttle=throttle,
        deliver=hub.deliver,
        rerequest_after=timedelta(days=settings.rerequest_days),
    )
    app[INTAKE] = intake = MessageIntake(
        gate=thread_gate,
        messages=messages,
        attachments=attachments,
        directory=directory,
        clock=clock,
        throttle=throttle,
        outlets=Outlets(deliver=hub.deliver, after_store=notifier.message_stored),
        limits=SendLimits(settings.send_limit_per_device, settings.send_limit_per_account),
    )
    app[THREAD_SYNC] = thread_sync = ThreadSync(
        gate=thread_gate, threads=threads, messages=messages, accounts=accounts, cursors=cursors
    )
    app[RECEIPTS] = receipts = Receipts(
        gate=thread_gate, threads=threads, cursors=cursors, throttle=throttle, deliver=hub.deliver
    )
    app[UPLOADS] = UploadService(
        attachments=attachments,
        gate=thread_gate,
        clock=clock,
        throttle=throttle,
        limits=UploadLimits(
            max_bytes=settings.attachment_max_bytes,
            quota_bytes=settings.attachment_quota_bytes,
            per_hour=settings.attachment_uploads_per_hour,
        ),
    )
    # Until durable jobs exist: every process purges at start and hourly; the purge is
    # safe to run on several processes at once.
    await app[SCHEDULER].spawn(
        purge_hourly(attachments, clock, timedelta(hours=settings.attachment_grace_hours))
    )
    app[FRAME_CONTEXT] = frame_context = FrameContext(
        hub=hub,
        accounts=account_service,
        gate=thread_gate,
        intake=intake,
        sync=thread_sync,
        receipts=receipts,
        heartbeat=settings.ws_heartbeat_seconds,
    )
    for kind, sink in SINKS.items():
        hub.add_sink(kind, partial(sink, frame_context))
    messages.start()
    cursors.start()
    jobs.start()
    try:
        yield
    finally:
        await jobs.close()  # hands its running jobs back before the stores close
        await messages.close()
        await cursors.close()


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
