from datetime import UTC, date, datetime
from ipaddress import ip_network
from pathlib import Path

import pytest

from chat_server.secret import Secret
from chat_server.settings import SettingsError, load_settings


def test_defaults_need_nothing() -> None:
    settings = load_settings({})
    assert settings.mongodb_uri is None
    assert settings.redis_url is None
    assert settings.port == 8080
    assert settings.allowed_origins_or_default() == (
        "http://127.0.0.1:8080",
        "http://localhost:8080",
    )


def test_environment_is_typed_and_validated() -> None:
    settings = load_settings(
        {
            "CARECHAT_PORT": "9000",
            "CARECHAT_MONGODB_URI": "mongodb://u:hunter2@db:27017/?replicaSet=rs0",
            "CARECHAT_ALLOWED_ORIGINS": "https://a.example, https://b.example:8443/",
            "CARECHAT_WS_HEARTBEAT_SECONDS": "2.5",
        }
    )
    assert settings.port == 9000
    assert settings.ws_heartbeat_seconds == 2.5
    assert settings.allowed_origins == ("https://a.example", "https://b.example:8443")
    assert isinstance(settings.mongodb_uri, Secret)
    assert settings.mongodb_uri.reveal().startswith("mongodb://u:hunter2@")


def test_secrets_never_print() -> None:
    settings = load_settings(
        {"CARECHAT_REDIS_URL": "redis://:s3cret@cache:6379/0", "CARECHAT_SERVER_SECRET": "k" * 40}
    )
    text = f"{settings!r} {settings} {settings.redis_url}"
    assert "s3cret" not in text
    assert "k" * 40 not in text


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CARECHAT_PORT": "eighty"}, "invalid setting CARECHAT_PORT: expected an integer"),
        (
            {"CARECHAT_PORT": "70000"},
            "invalid setting CARECHAT_PORT: expected an integer from 1 to 65535",
        ),
        (
            {"CARECHAT_MONGODB_URI": "http://x"},
            "invalid setting CARECHAT_MONGODB_URI: expected a URI starting with mongodb:// or mongodb+srv://",
        ),
        (
            {"CARECHAT_ALLOWED_ORIGINS": "ftp://x"},
            "invalid setting CARECHAT_ALLOWED_ORIGINS: expected a comma-separated list",
        ),
        (
            {"CARECHAT_LOG_LEVEL": "LOUD"},
            "invalid setting CARECHAT_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR",
        ),
        (
            {"CARECHAT_SERVER_SECRET": "short"},
            "invalid setting CARECHAT_SERVER_SECRET: expected at least 32 characters",
        ),
        ({"CARECHAT_PROT": "1"}, "unknown setting CARECHAT_PROT"),
    ],
)
def test_invalid_values_name_the_setting_in_one_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(environ)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text


@pytest.mark.parametrize(
    "url",
    [
        "redis://:pw@cache:6379/0",
        "redis://carechat:pw@cache:6379/0",
        "rediss://carechat:pw@cache:6380/0",
        "unix:///run/redis.sock?password=pw",
    ],
)
def test_a_redis_url_with_a_password_is_accepted(url: str) -> None:
    assert load_settings({"CARECHAT_REDIS_URL": url}).redis_url is not None


@pytest.mark.parametrize(
    "url", ["redis://cache:6379/0", "redis://carechat@cache:6379/0", "unix:///run/redis.sock"]
)
def test_a_redis_url_without_a_password_needs_the_insecure_flag(url: str) -> None:
    with pytest.raises(SettingsError, match="invalid setting CARECHAT_REDIS_URL: expected a URL"):
        load_settings({"CARECHAT_REDIS_URL": url})
    with pytest.raises(SettingsError, match="invalid setting redis_url"):
        load_settings({}, redis_url=url)
    settings = load_settings({"CARECHAT_REDIS_URL": url, "CARECHAT_REDIS_INSECURE_NO_AUTH": "1"})
    assert settings.redis_insecure_no_auth


def test_metrics_listen_is_host_port_or_off() -> None:
    assert load_settings({}).metrics_address() == ("127.0.0.1", 9464)
    assert load_settings({"CARECHAT_METRICS_LISTEN": "[::1]:9100"}).metrics_address() == (
        "::1",
        9100,
    )
    assert load_settings({"CARECHAT_METRICS_LISTEN": ""}).metrics_address() is None
    for bad in ("9100", "host:", "host:0", "a b:1", "http://x:1"):
        with pytest.raises(SettingsError, match="CARECHAT_METRICS_LISTEN: expected host:port"):
            load_settings({"CARECHAT_METRICS_LISTEN": bad})
    with pytest.raises(SettingsError, match="CARECHAT_METRICS_TOKEN: expected at least 16"):
        load_settings({"CARECHAT_METRICS_TOKEN": "short"})


def test_a_bad_secret_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"CARECHAT_REDIS_URL": "http://:topsecretpw@x"})
    assert "topsecretpw" not in str(info.value)


def test_toml_file_then_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "carechat.toml"
    config.write_text(
        '[carechat]\nport = 9100\nmongodb_db = "fromfile"\nallowed_origins = ["https://a.example"]\n'
    )
    settings = load_settings({"CARECHAT_PORT": "9200"}, config)
    assert settings.port == 9200
    assert settings.mongodb_db == "fromfile"
    assert settings.allowed_origins == ("https://a.example",)


def test_toml_errors_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[carechat\nport = ")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings({}, config)
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings({}, tmp_path / "missing.toml")
    config.write_text("[carechat]\nport = 'x'\n")
    with pytest.raises(SettingsError, match=r"^invalid setting port: expected an integer$"):
        load_settings({}, config)


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "config" / "carechat.example.toml"
    settings = load_settings({}, example)
    assert settings.port == 8080


def test_smtp_settings_are_typed() -> None:
    settings = load_settings(
        {
            "CARECHAT_SMTP_HOST": "smtp.example.org",
            "CARECHAT_SMTP_PORT": "2525",
            "CARECHAT_SMTP_STARTTLS": "false",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "smtp.example.org",
        2525,
        False,
    )
    with pytest.raises(SettingsError, match="CARECHAT_SMTP_HOST"):
        load_settings({"CARECHAT_SMTP_HOST": "bad host/name"})


def test_attachment_limits_are_typed_and_bounded() -> None:
    settings = load_settings(
        {
            "CARECHAT_ATTACHMENT_UPLOADS_PER_HOUR": "5",
            "CARECHAT_ATTACHMENT_QUOTA_BYTES": "2048",
            "CARECHAT_ATTACHMENT_GRACE_HOURS": "0.5",
        }
    )
    assert settings.attachment_uploads_per_hour == 5
    assert settings.attachment_quota_bytes == 2048
    assert settings.attachment_grace_hours == 0.5
    for name, value in [
        ("ATTACHMENT_UPLOADS_PER_HOUR", "0"),
        ("ATTACHMENT_QUOTA_BYTES", "10"),
        ("ATTACHMENT_GRACE_HOURS", "0"),
    ]:
        with pytest.raises(SettingsError, match=f"^invalid setting CARECHAT_{name}: expected"):
            load_settings({f"CARECHAT_{name}": value})


def test_invitation_limit_and_reset_expiry_are_settings() -> None:
    defaults = load_settings({})
    assert (defaults.invitation_limit, defaults.invitation_window_hours) == (20, 24)
    assert defaults.password_reset_minutes == 30
    settings = load_settings(
        {
            "CARECHAT_INVITATION_LIMIT": "5",
            "CARECHAT_INVITATION_WINDOW_HOURS": "1",
            "CARECHAT_PASSWORD_RESET_MINUTES": "15",
        }
    )
    assert (settings.invitation_limit, settings.invitation_window_hours) == (5, 1)
    assert settings.password_reset_minutes == 15
    with pytest.raises(SettingsError, match="CARECHAT_INVITATION_LIMIT: expected an integer"):
        load_settings({"CARECHAT_INVITATION_LIMIT": "0"})
    with pytest.raises(SettingsError, match="CARECHAT_PASSWORD_RESET_MINUTES: expected minutes"):
        load_settings({"CARECHAT_PASSWORD_RESET_MINUTES": "0"})


def test_socket_admission_and_totp_grace_are_typed_and_bounded() -> None:
    settings = load_settings(
        {"CARECHAT_WS_UNAUTHENTICATED_PER_IP": "7", "CARECHAT_PRACTITIONER_TOTP_GRACE_DAYS": "1"}
    )
    assert (settings.ws_unauthenticated_per_ip, settings.practitioner_totp_grace_days) == (7, 1)
    with pytest.raises(SettingsError, match="CARECHAT_WS_UNAUTHENTICATED_PER_IP: expected an"):
        load_settings({"CARECHAT_WS_UNAUTHENTICATED_PER_IP": "0"})
    with pytest.raises(SettingsError, match="CARECHAT_PRACTITIONER_TOTP_GRACE_DAYS: expected days"):
        load_settings({"CARECHAT_PRACTITIONER_TOTP_GRACE_DAYS": "0"})


def test_trusted_proxies_are_networks_and_none_by_default() -> None:
    assert load_settings({}).trusted_proxies == ()
    settings = load_settings({"CARECHAT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 ,fd00::/8"})
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
        ip_network("fd00::/8"),
    )
    from_toml = load_settings({}, None, trusted_proxies=["172.16.0.0/12"])
    assert from_toml.trusted_proxies == (ip_network("172.16.0.0/12"),)
    for wrong in ("10.0.0.0/33", "balancer.internal", "10.0.0.1/8", "0.0.0.0/0", "::/0"):
        with pytest.raises(SettingsError, match="invalid setting CARECHAT_TRUSTED_PROXIES"):
            load_settings({"CARECHAT_TRUSTED_PROXIES": wrong})
    with pytest.raises(SettingsError, match="invalid setting trusted_proxies: expected a comma"):
        load_settings({}, None, trusted_proxies=[10])


def test_the_totp_rule_start_is_a_date_from_the_environment_or_toml(tmp_path: Path) -> None:
    assert load_settings({}).practitioner_totp_from() == datetime(1970, 1, 1, tzinfo=UTC)
    settings = load_settings({"CARECHAT_PRACTITIONER_TOTP_REQUIRED_FROM": "2026-12-01"})
    assert settings.practitioner_totp_required_from == date(2026, 12, 1)
    assert settings.practitioner_totp_from() == datetime(2026, 12, 1, tzinfo=UTC)
    config = tmp_path / "c.toml"
    config.write_text("[carechat]\npractitioner_totp_required_from = 2027-01-15\n")
    assert load_settings({}, config).practitioner_totp_required_from == date(2027, 1, 15)
    for wrong in ("2026-13-01", "1 December", "2026-12-01T00:00:00"):
        with pytest.raises(
            SettingsError,
            match=r"CARECHAT_PRACTITIONER_TOTP_REQUIRED_FROM: expected a date, YYYY-MM-DD$",
        ):
            load_settings({"CARECHAT_PRACTITIONER_TOTP_REQUIRED_FROM": wrong})


def test_widget_embed_origins_are_origins_and_none_by_default() -> None:
    assert load_settings({}).widget_embed_origins == ()
    settings = load_settings(
        {"CARECHAT_WIDGET_EMBED_ORIGINS": "https://www.practice.example, http://127.0.0.1:8000/"}
    )
    assert settings.widget_embed_origins == (
        "https://www.practice.example",
        "http://127.0.0.1:8000",
    )
    # A path or a wildcard would not be one origin: frame-ancestors must name sites.
    for bad in ("https://practice.example/page", "*", "'self'"):
        with pytest.raises(SettingsError, match="CARECHAT_WIDGET_EMBED_ORIGINS"):
            load_settings({"CARECHAT_WIDGET_EMBED_ORIGINS": bad})


def test_payment_settings_are_integer_cents_and_secrets_split_for_rotation() -> None:
    settings = load_settings(
        {
            "CARECHAT_PAYMENTS_PRICE_CENTS": "750",
            "CARECHAT_STRIPE_WEBHOOK_SECRETS": "whsec_old_one, whsec_new_one",
        }
    )
    assert settings.payments_price_cents == 750
    assert settings.stripe_webhook_secret_list() == ("whsec_old_one", "whsec_new_one")
    assert "whsec" not in repr(settings)
    with pytest.raises(SettingsError, match="PAYMENTS_PRICE_CENTS"):
        load_settings({"CARECHAT_PAYMENTS_PRICE_CENTS": "6.50"})
    with pytest.raises(SettingsError, match="PAYMENTS_CHECKOUT_EXPIRY_MINUTES"):
        load_settings({"CARECHAT_PAYMENTS_CHECKOUT_EXPIRY_MINUTES": "5"})


def test_retention_settings_have_legal_defaults_and_clear_errors() -> None:
    settings = load_settings({})
    assert (settings.retention_panel_days, settings.retention_care_years) == (30, 30)
    assert (settings.retention_paid_years, settings.retention_hour_utc) == (30, 3)
    tuned = load_settings(
        {"CARECHAT_RETENTION_PANEL_DAYS": "7", "CARECHAT_RETENTION_HOUR_UTC": "0"}
    )
    assert (tuned.retention_panel_days, tuned.retention_hour_utc) == (7, 0)
    for name, value, expected in [
        ("RETENTION_PANEL_DAYS", "0", "days from 1 to 3650"),
        ("RETENTION_CARE_YEARS", "-1", "years from 1 to 100"),
        ("RETENTION_PAID_YEARS", "5", r"years from 7 to 100 \(payment records are kept 7 years\)"),
        ("RETENTION_HOUR_UTC", "24", "an hour from 0 to 23"),
        ("RETENTION_BATCH_SIZE", "0", "an integer from 1 to 5000"),
        ("RETENTION_MAILING_DAYS", "soon", "an integer"),
    ]:
        with pytest.raises(
            SettingsError, match=f"^invalid setting CARECHAT_{name}: expected {expected}$"
        ):
            load_settings({f"CARECHAT_{name}": value})
