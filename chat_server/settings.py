"""Settings: one frozen object, read once by the CLI, validated before anything starts.

Sources, later ones winning: built-in defaults, an optional TOML file (``--config`` or
``CARECHAT_CONFIG``; the format of ``config/carechat.example.toml``), then ``CARECHAT_*``
environment variables. Every value passes through one marshmallow schema, so an invalid
value stops start-up with :class:`SettingsError` naming the setting and the expected
form. Secrets are wrapped in :class:`~chat_server.secret.Secret` and never echoed back.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any

import marshmallow as ma
from platformdirs import user_data_dir
from redis.connection import parse_url

from chat_server.schemas import field_messages
from chat_server.secret import Secret

ENV_PREFIX = "CARECHAT_"


class SettingsError(Exception):
    """An invalid setting; ``str()`` is the one-line message shown to the operator."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Public origin(s) a browser may open the WebSocket from. Empty means "this
    # server's own address", derived in ``allowed_origins_or_default``.
    allowed_origins: tuple[str, ...] = ()
    # Sites allowed to frame the patient widget (the page's CSP frame-ancestors).
    # Empty: none, so no site can embed it until an operator names one.
    widget_embed_origins: tuple[str, ...] = ()
    # No URI means the embedded default: a private single-node replica set.
    mongodb_uri: Secret | None = None
    mongodb_db: str = "carechat"
    mongod_path: Path | None = None
    # Connections per process. Past a few dozen, concurrent queries only queue inside
    # mongod instead of in the driver; idle ones close, so the pool follows the load.
    mongodb_pool_size: int = 32
    mongodb_pool_idle_seconds: float = 60.0
    # No URL means single-process fan-out through the in-process broker.
    redis_url: Secret | None = None
    redis_prefix: str = "carechat:"
    # Connections per process; past them a call waits (up to 2 s) for one to be free.
    redis_pool_size: int = 64
    # Redis is a trust boundary (THREAT_MODEL.md): its URL must carry a password (or an
    # ACL user and password) unless this says the operator knowingly runs without.
    redis_insecure_no_auth: bool = False
    # Prometheus /metrics is served on this second listener only (never the public
    # port); empty turns it off. With a token, a scrape must send it as a bearer.
    metrics_listen: str = "127.0.0.1:9464"
    metrics_token: Secret | None = None
    data_dir: Path = field(default_factory=lambda: Path(user_data_dir("carechat")))
    log_level: str = "INFO"
    log_format: str = "json"
    ws_max_message_bytes: int = 64 * 1024
    ws_heartbeat_seconds: float = 20.0
    ws_send_queue_frames: int = 256
    ws_auth_timeout_seconds: float = 10.0
    # Sockets per client address that have not authenticated yet, counted in each
    # process (behind trusted proxies, the address they forwarded for: rest/proxies.py).
    ws_unauthenticated_per_ip: int = 50
    # A socket refused this many sends (rate_limited) within the window is closed
    # (4029), and its session and device get no new socket for the bar's seconds
    # (moderation/floods.py): a flood stops costing CPU at the door.
    ws_flood_refusals: int = 100
    ws_flood_window_seconds: float = 10.0
    ws_flood_bar_seconds: float = 10.0
    # Load balancers whose X-Forwarded-For names the client (rest/proxies.py). Empty:
    # the header is ignored and the peer of the connection is the client.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    http_max_body_bytes: int = 256 * 1024
    shutdown_grace_seconds: float = 5.0
    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    # Practitioners may log in without TOTP this long after registering (to set it up);
    # after that, login requires it.
    practitioner_totp_grace_days: int = 14
    # The day the rule took effect here (midnight UTC): the grace counts from it for
    # practitioners registered before, so a deploy does not lock them out at once.
    # None: from registration alone.
    practitioner_totp_required_from: date | None = None
    ws_ticket_seconds: int = 30
    # After a declined or blocked request, the patient waits this long to ask again.
    rerequest_days: int = 30
    # Invitations one account may send per window: each one mails or texts a stranger.
    invitation_limit: int = 20
    invitation_window_hours: int = 24
    # How long a password-reset link works (it is single-use either way).
    password_reset_minutes: int = 30
    # Group commit adapts to load (storage/messages.py); this adds a fixed wait before
    # each majority insert_many, for fewer and larger writes at the cost of latency.
    write_batch_ms: float = 0.0
    # Delivery cursors are coalesced in memory and written this often (storage/threads).
    cursor_flush_ms: float = 1000.0
    attachment_max_bytes: int = 100 * 1024 * 1024
    # Per account: uploads per hour (bursts included), and bytes stored at once.
    attachment_uploads_per_hour: int = 30
    attachment_quota_bytes: int = 1024 * 1024 * 1024
    # An upload no message has claimed is deleted after this long, by a purge that
    # runs this often (one durable job for all processes).
    attachment_grace_hours: float = 24.0
    attachment_purge_every_minutes: float = 60.0
    # GDPR erasure (docs/gdpr.md): the days between a request and the erasure job,
    # during which the owner may cancel it.
    erasure_grace_days: float = 30.0
    # Retention (docs/retention.md): how long a conversation is kept once it ended,
    # per kind, before the daily retention job (one durable job for all processes,
    # run at this UTC hour) deletes it, in batches of this many documents, pausing
    # after each as long as it took and at least this long (chats running meanwhile
    # must not feel it).
    retention_panel_days: int = 30
    retention_care_years: int = 30
    retention_paid_years: int = 30
    retention_unpaid_days: int = 30
    retention_mailing_days: int = 365
    retention_failed_jobs_days: int = 90
    retention_hour_utc: int = 3
    retention_batch_size: int = 200
    retention_pause_ms: float = 50.0
    # Sends allowed per device per 10 s, and per account per minute (bursts included).
    # All of a send's budgets (device, account, address) are spent in one limiter call
    # (moderation/limits.py: one Lua script per send).
    send_limit_per_device: int = 60
    send_limit_per_account: int = 600
    # Per client address per minute (moderation/limits.py): sends, and key-directory
    # look-ups. Generous: many people share an address (a practice, a carrier's NAT).
    send_limit_per_ip: int = 3000
    key_lookups_per_ip: int = 6000
    # How long a send waits for a shared (Redis) limiter before going on without it
    # (handlers/intake.py): an ack is never held up by a slow or stopped Redis.
    send_limit_wait_ms: float = 50.0
    # How long a message may wait unseen before its recipient gets an e-mail.
    notify_delay_seconds: float = 120.0
    # Durable jobs (chat_server/jobs): a job whose process died is taken over after
    # its lease; every process looks for due jobs this often.
    jobs_lease_seconds: float = 30.0
    jobs_poll_seconds: float = 1.0
    # The GP panel: defaults for a new panel (its admin may change them per panel),
    # and how long a GP's console heartbeat keeps them online.
    panel_capacity: int = 3
    panel_lease_seconds: int = 300
    panel_max_wait_minutes: int = 30
    panel_follow_up_hours: int = 24
    panel_daily_free_questions: int = 1
    panel_presence_seconds: int = 60
    # Prevention mailings: recipients per second a campaign fans out to (the rate
    # limit), recipients per batch (pause and cancel land between two), consecutive
    # failed notice e-mails after which a campaign pauses itself, failed batches in a
    # row (the job's own failures, each retried with back-off; at most the job's 10
    # attempts) after which it pauses itself too, notice e-mails in flight at once,
    # and attempts per e-mail (back-off doubling from the seconds).
    mailing_rate_per_second: float = 2000.0
    mailing_batch_size: int = 500
    mailing_max_consecutive_failures: int = 50
    mailing_max_failed_batches: int = 5
    mailing_smtp_concurrency: int = 8
    mailing_mail_attempts: int = 3
    mailing_mail_backoff_seconds: float = 1.0
    # Outgoing e-mail. Without a host, e-mails are written to <data_dir>/outbox.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = "CareChat <no-reply@carechat.invalid>"
    smtp_starttls: bool = True
    # Where links in e-mails point (verification, invitations). An https:// URL also
    # turns on Strict-Transport-Security (rest/headers.py).
    public_url: str = ""
    # Where a suspended person appeals (shown with the suspension's reason at login):
    # a mailto: or https: address the moderators read.
    appeal_contact: str = "mailto:appeals@carechat.invalid"
    # Audit chain anchors (handlers/audit_anchor.py): a durable job appends the chain's
    # head to <dir>/audit-anchors.jsonl and/or e-mails it to an auditor this often.
    # Neither set: no anchors. Put the directory where the database's writers cannot
    # rewrite it (another host's mount, a WORM bucket's sync).
    audit_anchor_dir: Path | None = None
    audit_anchor_email: str = ""
    audit_anchor_every_hours: float = 24.0
    # Keys for server-side MACs (hashed tokens, franking stamps). Never a private key
    # of a user: the server cannot decrypt with it.
    server_secret: Secret | None = None
    # Paid general chats (payments/, docs/payments.md). Off until a Stripe key, a
    # webhook secret and the general-practice panel that answers them are set.
    # The price is integer cents; a chat copies it when created, so a change never
    # alters an existing pass. The SLA stays shorter than a card hold (7 days).
    payments_panel_id: str = ""
    payments_price_cents: int = 600
    payments_currency: str = "eur"
    payments_sla_minutes: int = 240
    payments_checkout_expiry_minutes: int = 30
    # In minutes like the SLA (a day by default), so that a test can watch one end.
    payments_window_minutes: int = 24 * 60
    # The seller named on receipts (legal name, address, VAT number).
    payments_seller: str = "CareChat"
    payments_seller_address: str = ""
    payments_seller_vat_id: str = ""
    stripe_secret_key: Secret | None = None
    # Comma-separated: during a rotation, the old and the new endpoint secret.
    stripe_webhook_secrets: Secret | None = None
    # Empty: Stripe itself. Tests point it at their local double of Stripe.
    stripe_api_base: str = ""

    def stripe_webhook_secret_list(self) -> tuple[str, ...]:
        if self.stripe_webhook_secrets is None:
            return ()
        return tuple(
            p.strip() for p in self.stripe_webhook_secrets.reveal().split(",") if p.strip()
        )

    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the metrics listener, or None when it is off."""
        if not self.metrics_listen:
            return None
        host, _, port = self.metrics_listen.rpartition(":")
        return host.strip("[]"), int(port)

    def public_url_or_default(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def practitioner_totp_from(self) -> datetime:
        """When the TOTP rule took effect: midnight UTC of its day, else the epoch."""
        day = self.practitioner_totp_required_from or date(1970, 1, 1)
        return datetime.combine(day, time(), tzinfo=UTC)

    def allowed_origins_or_default(self) -> tuple[str, ...]:
        if self.allowed_origins:
            return self.allowed_origins
        return (f"http://{self.host}:{self.port}", f"http://localhost:{self.port}")


class _Origins(ma.fields.Field[tuple[str, ...]]):
    """Accepts a TOML list or a comma-separated environment string."""

    default_error_messages = {"invalid": "a comma-separated list of http(s)://host[:port]"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise self.make_error("invalid")
        origins = tuple(str(item).strip().rstrip("/") for item in items if str(item).strip())
        for origin in origins:
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise self.make_error("invalid")
        return origins


class _Networks(ma.fields.Field[tuple[IPv4Network | IPv6Network, ...]]):
    """Accepts a TOML list or a comma-separated environment string of IP addresses and
    CIDR networks; an address alone is a network of one."""

    default_error_messages = {  # noqa: RUF012
        "invalid": "a comma-separated list of IP addresses or CIDR networks (10.0.0.0/8)",
        # Trusting every peer would let any client name its own address.
        "everyone": "networks narrower than 0.0.0.0/0 and ::/0",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise self.make_error("invalid")
        networks = []
        for item in items:
            if not isinstance(item, str):
                raise self.make_error("invalid")
            if not item.strip():
                continue
            try:
                # Strict: host bits set (10.0.0.1/8) is a typo, not a network.
                network = ip_network(item.strip())
            except ValueError:
                raise self.make_error("invalid") from None
            if network.prefixlen == 0:
                raise self.make_error("everyone")
            networks.append(network)
        return tuple(networks)


class _SecretField(ma.fields.String):
    def __init__(self, *, min_length: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_length = min_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text and len(text) < self.min_length:
            raise ma.ValidationError(f"at least {self.min_length} characters of random text")
        return Secret(text) if text else None


class _UriField(_SecretField):
    def __init__(self, *schemes: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schemes = schemes

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        secret = super()._deserialize(value, attr, data, **kwargs)
        if secret is not None and not secret.reveal().startswith(self.schemes):
            raise ma.ValidationError(f"a URI starting with {' or '.join(self.schemes)}")
        return secret


class _IsoDate(ma.fields.Date):
    """YYYY-MM-DD from the environment, or a TOML date (already a ``date``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class _PathField(ma.fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        return Path(text).expanduser() if text else None


def _positive(form: str) -> ma.validate.Range:
    return ma.validate.Range(min=1, error=form)


class _SettingsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    host = ma.fields.String(validate=ma.validate.Length(min=1))
    port = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=65535, error="an integer from 1 to 65535")
    )
    allowed_origins = _Origins()
    widget_embed_origins = _Origins()
    mongodb_uri = _UriField("mongodb://", "mongodb+srv://", allow_none=True)
    mongodb_db = ma.fields.String(
        validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,63}$", error="1-63 of A-Z a-z 0-9 _ -")
    )
    mongod_path = _PathField(allow_none=True)
    redis_url = _UriField("redis://", "rediss://", "unix://", allow_none=True)
    redis_insecure_no_auth = ma.fields.Boolean()
    metrics_listen = ma.fields.String(
        validate=ma.validate.Regexp(
            r"^((\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([1-9][0-9]{0,4}))?\Z",
            error="host:port, or empty for no metrics listener",
        )
    )
    metrics_token = _SecretField(allow_none=True, min_length=16)
    redis_prefix = ma.fields.String(
        validate=ma.validate.Regexp(r"^[A-Za-z0-9_:.-]{1,64}$", error="1-64 of A-Z a-z 0-9 _ : . -")
    )
    data_dir = _PathField()
    log_level = ma.fields.String(
        validate=ma.validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"], error="one of {choices}")
    )
    log_format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "text"], error="one of {choices}")
    )
    ws_max_message_bytes = ma.fields.Integer(
        validate=ma.validate.Range(min=1024, max=1024 * 1024, error="bytes from 1024 to 1048576")
    )
    ws_heartbeat_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=1, max=300, error="seconds from 1 to 300")
    )
    ws_send_queue_frames = ma.fields.Integer(validate=_positive("a positive integer"))
    ws_auth_timeout_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0.1, max=120, error="seconds from 0.1 to 120")
    )
    ws_unauthenticated_per_ip = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=100_000, error="an integer from 1 to 100000")
    )
    ws_flood_refusals = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1_000_000, error="an integer from 1 to 1000000")
    )
    ws_flood_window_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0.1, max=3600, error="seconds from 0.1 to 3600")
    )
    ws_flood_bar_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0.1, max=3600, error="seconds from 0.1 to 3600")
    )
    trusted_proxies = _Networks()
    http_max_body_bytes = ma.fields.Integer(validate=_positive("a positive integer"))
    shutdown_grace_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=600, error="seconds from 0 to 600")
    )
    session_idle_minutes = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=24 * 60, error="minutes from 1 to 1440")
    )
    session_absolute_hours = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=24 * 30, error="hours from 1 to 720")
    )
    # At least a day: with none, a new practitioner could not log in to set TOTP up.
    practitioner_totp_grace_days = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=365, error="days from 1 to 365")
    )
    practitioner_totp_required_from = _IsoDate(error_messages={"invalid": "a date, YYYY-MM-DD"})
    ws_ticket_seconds = ma.fields.Integer(
        validate=ma.validate.Range(min=5, max=60, error="seconds from 5 to 60")
    )
    rerequest_days = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=3650, error="days from 0 to 3650")
    )
    invitation_limit = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1000, error="an integer from 1 to 1000")
    )
    invitation_window_hours = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=24 * 7, error="hours from 1 to 168")
    )
    password_reset_minutes = ma.fields.Integer(
        validate=ma.validate.Range(min=5, max=24 * 60, error="minutes from 5 to 1440")
    )
    mongodb_pool_size = ma.fields.Integer(
        validate=ma.validate.Range(min=4, max=500, error="an integer from 4 to 500")
    )
    redis_pool_size = ma.fields.Integer(
        validate=ma.validate.Range(min=4, max=1000, error="an integer from 4 to 1000")
    )
    mongodb_pool_idle_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=1, max=3600, error="seconds from 1 to 3600")
    )
    write_batch_ms = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=50, error="milliseconds from 0 to 50")
    )
    cursor_flush_ms = ma.fields.Float(
        validate=ma.validate.Range(min=10, max=10_000, error="milliseconds from 10 to 10000")
    )
    attachment_max_bytes = ma.fields.Integer(
        validate=ma.validate.Range(min=1024, max=2**31, error="bytes from 1024 to 2147483648")
    )
    attachment_uploads_per_hour = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=100_000, error="an integer from 1 to 100000")
    )
    attachment_quota_bytes = ma.fields.Integer(
        validate=ma.validate.Range(min=1024, max=2**50, error="bytes from 1024 to 2**50")
    )
    attachment_grace_hours = ma.fields.Float(
        validate=ma.validate.Range(min=0.1, max=24 * 365, error="hours from 0.1 to 8760")
    )
    attachment_purge_every_minutes = ma.fields.Float(
        validate=ma.validate.Range(min=1, max=24 * 60, error="minutes from 1 to 1440")
    )
    erasure_grace_days = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=365, error="days from 0 to 365")
    )
    retention_panel_days = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=3650, error="days from 1 to 3650")
    )
    retention_care_years = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=100, error="years from 1 to 100")
    )
    # A paid chat's document is its payment record: Belgian accounting law keeps those
    # 7 years (docs/retention.md), so no setting may delete it earlier.
    retention_paid_years = ma.fields.Integer(
        validate=ma.validate.Range(
            min=7, max=100, error="years from 7 to 100 (payment records are kept 7 years)"
        )
    )
    retention_unpaid_days = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=3650, error="days from 1 to 3650")
    )
    retention_mailing_days = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=3650, error="days from 1 to 3650")
    )
    retention_failed_jobs_days = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=3650, error="days from 1 to 3650")
    )
    retention_hour_utc = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=23, error="an hour from 0 to 23")
    )
    retention_batch_size = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=5000, error="an integer from 1 to 5000")
    )
    retention_pause_ms = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=10_000, error="milliseconds from 0 to 10000")
    )
    send_limit_per_device = ma.fields.Integer(validate=_positive("a positive integer"))
    send_limit_wait_ms = ma.fields.Float(
        validate=ma.validate.Range(min=1, max=10_000, error="milliseconds from 1 to 10000")
    )
    send_limit_per_account = ma.fields.Integer(validate=_positive("a positive integer"))
    send_limit_per_ip = ma.fields.Integer(validate=_positive("a positive integer"))
    key_lookups_per_ip = ma.fields.Integer(validate=_positive("a positive integer"))
    notify_delay_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=86400, error="seconds from 0 to 86400")
    )
    jobs_lease_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=1, max=3600, error="seconds from 1 to 3600")
    )
    jobs_poll_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0.05, max=60, error="seconds from 0.05 to 60")
    )
    panel_capacity = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=100, error="an integer from 1 to 100")
    )
    panel_lease_seconds = ma.fields.Integer(
        validate=ma.validate.Range(min=30, max=3600, error="seconds from 30 to 3600")
    )
    panel_max_wait_minutes = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1440, error="minutes from 1 to 1440")
    )
    panel_follow_up_hours = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=336, error="hours from 0 to 336")
    )
    panel_daily_free_questions = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=100, error="an integer from 0 to 100")
    )
    panel_presence_seconds = ma.fields.Integer(
        validate=ma.validate.Range(min=10, max=3600, error="seconds from 10 to 3600")
    )
    mailing_rate_per_second = ma.fields.Float(
        validate=ma.validate.Range(min=1, max=100_000, error="from 1 to 100000")
    )
    mailing_batch_size = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1000, error="an integer from 1 to 1000")
    )
    mailing_max_consecutive_failures = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=100_000, error="an integer from 1 to 100000")
    )
    mailing_max_failed_batches = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=10, error="an integer from 1 to 10")
    )
    mailing_smtp_concurrency = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=100, error="an integer from 1 to 100")
    )
    mailing_mail_attempts = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=10, error="an integer from 1 to 10")
    )
    mailing_mail_backoff_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=600, error="seconds from 0 to 600")
    )
    smtp_host = ma.fields.String(
        validate=ma.validate.Regexp(r"^[A-Za-z0-9.-]{0,253}$", error="a host name")
    )
    smtp_port = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=65535, error="an integer from 1 to 65535")
    )
    smtp_from = ma.fields.String(validate=ma.validate.Length(min=3, max=254))
    smtp_starttls = ma.fields.Boolean()
    public_url = ma.fields.String(
        validate=ma.validate.Regexp(r"^(https?://[^/\s]+)?$", error="http(s)://host[:port]")
    )
    appeal_contact = ma.fields.String(
        validate=ma.validate.Regexp(
            r"^(mailto:[^\s]+@[^\s]+|https://[^\s]+)\Z", error="mailto: or https:"
        )
    )
    server_secret = _SecretField(allow_none=True, min_length=32)
    audit_anchor_dir = _PathField(allow_none=True)
    audit_anchor_email = ma.fields.String(
        validate=ma.validate.Regexp(r"^([^\s@]+@[^\s@]+)?\Z", error="an e-mail address or empty")
    )
    audit_anchor_every_hours = ma.fields.Float(
        validate=ma.validate.Range(min=0.01, max=24 * 31, error="hours from 0.01 to 744")
    )
    payments_panel_id = ma.fields.String(
        validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{0,64}\Z", error="a panel id or empty")
    )
    payments_price_cents = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1_000_000, error="integer cents")
    )
    payments_currency = ma.fields.String(
        validate=ma.validate.Regexp(r"^[a-z]{3}\Z", error="a lower-case ISO 4217 code")
    )
    payments_sla_minutes = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=6 * 24 * 60, error="minutes, less than 6 days")
    )
    payments_checkout_expiry_minutes = ma.fields.Integer(
        validate=ma.validate.Range(min=30, max=24 * 60, error="minutes from 30 to 1440")
    )
    payments_window_minutes = ma.fields.Integer(validate=_positive("a positive number of minutes"))
    payments_seller = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    payments_seller_address = ma.fields.String(validate=ma.validate.Length(max=300))
    payments_seller_vat_id = ma.fields.String(validate=ma.validate.Length(max=40))
    stripe_secret_key = _SecretField(allow_none=True, min_length=8)
    stripe_webhook_secrets = _SecretField(allow_none=True, min_length=8)
    stripe_api_base = ma.fields.String(
        validate=ma.validate.Regexp(r"^(https?://[^/\s]+)?$", error="http(s)://host[:port]")
    )


_FIELD_NAMES = frozenset(f.name for f in fields(Settings))
_SCHEMA = _SettingsSchema()


def _source_name(name: str, from_env: frozenset[str]) -> str:
    return ENV_PREFIX + name.upper() if name in from_env else name


def load_settings(
    environ: Mapping[str, str], config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Builds validated settings from a TOML file, the environment and overrides."""
    raw: dict[str, Any] = {}
    path = config_file or (
        Path(environ[ENV_PREFIX + "CONFIG"]) if environ.get(ENV_PREFIX + "CONFIG") else None
    )
    if path is not None:
        try:
            raw.update(tomllib.loads(path.read_text(encoding="utf-8")).get("carechat", {}))
        except OSError as exc:
            raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    from_env: set[str] = set()
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "CONFIG":
            name = key.removeprefix(ENV_PREFIX).lower()
            if name not in _FIELD_NAMES:
                raise SettingsError(f"unknown setting {key}")
            raw[name] = value
            from_env.add(name)
    raw.update(overrides)
    from_env.difference_update(overrides)  # a command-line option wins over the env
    try:
        values = _SCHEMA.load(raw)
    except ma.ValidationError as exc:
        messages = field_messages(exc)
        name = sorted(messages)[0]
        form = messages[name][0]
        if form == "Unknown field.":
            raise SettingsError(f"unknown setting {name}") from None
        # Say what was expected, never echo the value: it may be a credential.
        raise SettingsError(
            f"invalid setting {_source_name(name, frozenset(from_env))}: expected {_form(form)}"
        ) from None
    settings = Settings(**values)
    _check_redis_credentials(settings, frozenset(from_env))
    return settings


def _check_redis_credentials(settings: Settings, from_env: frozenset[str]) -> None:
    """Refuses a Redis URL without a password: whoever reaches an open Redis reads the
    fan-out, spends or resets rate limits and publishes events to every process."""
    if settings.redis_url is None or settings.redis_insecure_no_auth:
        return
    try:
        parsed: dict[str, Any] = parse_url(settings.redis_url.reveal())  # type: ignore[no-untyped-call]
        password = parsed.get("password")
    except ValueError:
        password = None
    if not password:
        raise SettingsError(
            f"invalid setting {_source_name('redis_url', from_env)}: expected a URL with "
            "a password (redis://:PASSWORD@host or redis://USER:PASSWORD@host), or "
            "redis_insecure_no_auth = true"
        )


def _form(message: str) -> str:
    """Turns marshmallow's generic messages into an 'expected ...' phrase."""
    generic = {
        "Not a valid integer.": "an integer",
        "Not a valid number.": "a number",
        "Not a valid string.": "a string",
        "Field may not be null.": "a value",
    }
    return generic.get(message, message.rstrip("."))
