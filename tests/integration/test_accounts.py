"""Registration, verification, login, throttling, sessions, passwords and TOTP."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server import totp
from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import PASSWORD, actor, login, register, verification_token

Client = TestClient[web.Request, web.Application]


async def _problem(response: Any) -> dict[str, Any]:
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    body.pop("request_id")
    return body


async def test_registration_needs_a_verified_address(client: Client, outbox: MemoryOutbox) -> None:
    body = {
        "email": "ann@example.org",
        "password": PASSWORD,
        "role": "patient",
        "display_name": "Ann",
    }
    response = await client.post("/api/v1/accounts", json=body)
    assert response.status == 202
    refused = await client.post(
        "/api/v1/sessions", json={"email": "ann@example.org", "password": PASSWORD}
    )
    assert refused.status == 401
    token = verification_token(outbox, "ann@example.org")
    verify = {"token": token, "password": PASSWORD}
    assert (await client.post("/api/v1/accounts/verify", json=verify)).status == 200
    # Single use.
    again = await client.post("/api/v1/accounts/verify", json=verify)
    assert again.status == 400
    assert (await _problem(again))["code"] == "invalid_code"
    await login(client, "ann@example.org")


async def test_registering_a_known_address_answers_the_same(
    client: Client, outbox: MemoryOutbox
) -> None:
    await register(client, outbox, "bob@example.org")
    body = {
        "email": "bob@example.org",
        "password": "another password",
        "role": "patient",
        "display_name": "X",
    }
    response = await client.post("/api/v1/accounts", json=body)
    fresh = await client.post("/api/v1/accounts", json={**body, "email": "new@example.org"})
    assert response.status == fresh.status == 202
    assert await response.json() == await fresh.json()
    assert "already has one" in outbox.last_to("bob@example.org").body


async def test_practitioners_give_a_registration_number_shown_unverified(
    client: Client, outbox: MemoryOutbox
) -> None:
    body = {
        "email": "dr@example.org",
        "password": PASSWORD,
        "role": "practitioner",
        "display_name": "Dr",
    }
    missing = await client.post("/api/v1/accounts", json=body)
    assert missing.status == 422
    assert "registration" in (await _problem(missing))["fields"]
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    me = await doctor.call("GET", "/api/v1/accounts/me")
    assert me["registration"] == {"scheme": "riziv", "number": "1234567890", "status": "unverified"}


async def test_admins_cannot_self_register(client: Client) -> None:
    body = {"email": "x@example.org", "password": PASSWORD, "role": "admin", "display_name": "X"}
    assert (await client.post("/api/v1/accounts", json=body)).status == 422


async def test_unknown_account_and_wrong_password_look_the_same(
    client: Client, outbox: MemoryOutbox
) -> None:
    await register(client, outbox, "carl@example.org")
    wrong = await client.post(
        "/api/v1/sessions", json={"email": "carl@example.org", "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/v1/sessions", json={"email": "nobody@example.org", "password": "wrong password"}
    )
    assert wrong.status == unknown.status == 401
    assert await _problem(wrong) == await _problem(unknown)


async def test_malformed_bodies_are_clear_4xx(client: Client) -> None:
    cases = [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"[1]", "application/json", 400, "malformed_json"),
        (b'{"email": "x"}', "text/plain", 415, "unsupported_media_type"),
        (
            b'{"email": "not-an-email", "password": "x"}',
            "application/json",
            422,
            "validation_failed",
        ),
        (
            b'{"email": "a@b.org", "password": "x", "extra": 1}',
            "application/json",
            422,
            "validation_failed",
        ),
        (b"x" * 300_000, "application/json", 413, "too_large"),
    ]
    for data, content_type, status, code in cases:
        response = await client.post(
            "/api/v1/sessions", data=data, headers={"Content-Type": content_type}
        )
        assert response.status == status, (data[:20], await response.text())
        assert (await _problem(response))["code"] == code


async def test_concurrent_wrong_logins_do_not_lock_out_the_owner_forever(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    await register(client, outbox, "dana@example.org")

    async def attempt(password: str) -> int:
        response = await client.post(
            "/api/v1/sessions", json={"email": "dana@example.org", "password": password}
        )
        return response.status

    statuses = await asyncio.gather(*(attempt(f"wrong {i}") for i in range(50)))
    assert set(statuses) <= {401, 429}
    assert statuses.count(429) >= 30  # throttled: at most the budget was tried
    throttled = await client.post(
        "/api/v1/sessions", json={"email": "dana@example.org", "password": PASSWORD}
    )
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) > 0
    clock.advance(301)
    await login(client, "dana@example.org")


async def test_sessions_expire_when_idle(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.call("GET", "/api/v1/accounts/me")
    clock.advance(119 * 60)
    await ann.call("GET", "/api/v1/accounts/me")  # use slides the idle expiry
    clock.advance(119 * 60)
    await ann.call("GET", "/api/v1/accounts/me")
    clock.advance(121 * 60)
    await ann.call("GET", "/api/v1/accounts/me", expect=401)


async def test_sessions_have_an_absolute_expiry(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    for _ in range(12):
        clock.advance(59 * 60)
        await ann.call("GET", "/api/v1/accounts/me")
    clock.advance(61 * 60)
    await ann.call("GET", "/api/v1/accounts/me", expect=401)


async def test_logout_ends_the_session(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.call("DELETE", "/api/v1/sessions/current", expect=204)
    await ann.call("GET", "/api/v1/accounts/me", expect=401)
    response = await client.get("/api/v1/accounts/me", headers={"Authorization": "Bearer junk"})
    assert response.status == 401


async def test_password_change_revokes_other_sessions(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    other = (await login(client, "ann@example.org"))["token"]
    await ann.call(
        "POST",
        "/api/v1/accounts/me/password",
        {"current_password": "not it at all", "new_password": "a new long password"},
        expect=401,
    )
    await ann.call(
        "POST",
        "/api/v1/accounts/me/password",
        {"current_password": PASSWORD, "new_password": "a new long password"},
        expect=204,
    )
    await ann.call("GET", "/api/v1/accounts/me")
    stale = await client.get("/api/v1/accounts/me", headers={"Authorization": f"Bearer {other}"})
    assert stale.status == 401
    await login(client, "ann@example.org", "a new long password")


async def test_totp_for_practitioners(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    setup = await doctor.call("POST", "/api/v1/accounts/me/totp", expect=201)
    secret = setup["secret"]
    assert setup["uri"].startswith("otpauth://totp/CareChat:")
    await doctor.call("POST", "/api/v1/accounts/me/totp/confirm", {"code": "000000"}, expect=401)
    code = totp.code_at(secret, totp.step_of(clock.now()))
    await doctor.call("POST", "/api/v1/accounts/me/totp/confirm", {"code": code}, expect=204)

    no_code = await client.post(
        "/api/v1/sessions", json={"email": "doc@example.org", "password": PASSWORD}
    )
    assert no_code.status == 401
    assert (await _problem(no_code))["code"] == "totp_required"
    # The code used to confirm cannot be replayed.
    replay = await client.post(
        "/api/v1/sessions",
        json={"email": "doc@example.org", "password": PASSWORD, "totp_code": code},
    )
    assert replay.status == 401
    clock.advance(30)
    fresh = totp.code_at(secret, totp.step_of(clock.now()))
    await login(client, "doc@example.org", totp_code=fresh)


async def test_patients_are_not_offered_totp(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.call("POST", "/api/v1/accounts/me/totp", expect=403)


async def test_weak_passwords_are_refused_with_a_reason(
    client: Client, outbox: MemoryOutbox
) -> None:
    body = {
        "email": "annelies.peeters@example.org",
        "password": "password12",  # long enough, and once accepted
        "role": "patient",
        "display_name": "Annelies",
    }
    common = await client.post("/api/v1/accounts", json=body)
    assert common.status == 422
    problem = await _problem(common)
    assert problem["code"] == "weak_password"
    assert "common password" in problem["detail"]
    assert problem["fields"] == {"password": [problem["detail"]]}
    # Strong for a stranger, guessable from the account's own address.
    personal = await client.post("/api/v1/accounts", json={**body, "password": "anneliespeeters"})
    assert (await _problem(personal))["code"] == "weak_password"
    assert not outbox.sent

    ann = await actor(client, outbox, "ann@example.org")
    refused = await client.post(
        "/api/v1/accounts/me/password",
        json={"current_password": PASSWORD, "new_password": "qwertyuiop"},
        headers=ann.auth,
    )
    assert refused.status == 422
    assert list((await _problem(refused))["fields"]) == ["new_password"]
    await login(client, "ann@example.org")


async def test_practitioners_need_totp_once_the_grace_period_ends(
    client: Client, outbox: MemoryOutbox, clock: ManualClock, settings: Settings
) -> None:
    grace = settings.practitioner_totp_grace_days * 24 * 3600
    await actor(client, outbox, "late@example.org", "practitioner")
    early = await actor(client, outbox, "early@example.org", "practitioner")
    secret = (await early.call("POST", "/api/v1/accounts/me/totp", expect=201))["secret"]
    code = totp.code_at(secret, totp.step_of(clock.now()))
    await early.call("POST", "/api/v1/accounts/me/totp/confirm", {"code": code}, expect=204)
    await actor(client, outbox, "ann@example.org")

    clock.advance(grace - 60)
    await login(client, "late@example.org")  # still within the grace period
    clock.advance(60)
    overdue = await client.post(
        "/api/v1/sessions", json={"email": "late@example.org", "password": PASSWORD}
    )
    assert overdue.status == 401
    assert (await _problem(overdue))["code"] == "totp_enrolment_overdue"
    # Without the password, the answer is the usual one: no hint of the account's state.
    wrong = await client.post(
        "/api/v1/sessions", json={"email": "late@example.org", "password": "wrong password"}
    )
    assert (await _problem(wrong))["code"] == "invalid_credentials"
    # Set up in time, a code is the way in; patients are not asked.
    await login(
        client, "early@example.org", totp_code=totp.code_at(secret, totp.step_of(clock.now()))
    )
    await login(client, "ann@example.org")


async def test_practitioners_registered_before_the_totp_rule_get_their_grace_from_its_start(
    aiohttp_client: Any, outbox: MemoryOutbox, clock: ManualClock, settings: Settings
) -> None:
    grace = timedelta(days=settings.practitioner_totp_grace_days)
    rule_day = (clock.now() + timedelta(days=30)).date()
    starts = datetime.combine(rule_day, time(), tzinfo=UTC)
    ruled = replace(settings, practitioner_totp_required_from=rule_day)
    client: Client = await aiohttp_client(create_app(ruled, clock=clock, mailer=outbox, sms=outbox))
    await actor(client, outbox, "veteran@example.org", "practitioner")

    clock.advance((grace + timedelta(days=1)).total_seconds())
    await login(client, "veteran@example.org")  # past the grace since registering
    clock.advance((starts - clock.now() + timedelta(days=2)).total_seconds())
    await actor(client, outbox, "newcomer@example.org", "practitioner")  # after the start
    clock.advance((starts + grace - clock.now()).total_seconds() - 60)
    await login(client, "veteran@example.org")  # within the grace counted from the start
    clock.advance(60)
    assert await _overdue(client, "veteran@example.org")
    await login(client, "newcomer@example.org")  # counted from their own registration
    clock.advance(timedelta(days=2).total_seconds())
    assert await _overdue(client, "newcomer@example.org")


async def _overdue(client: Client, email: str) -> bool:
    response = await client.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    return response.status == 401 and (await _problem(response))["code"] == (
        "totp_enrolment_overdue"
    )


async def test_names_refuse_control_invisible_and_bidi_formatting_characters(
    client: Client, outbox: MemoryOutbox
) -> None:
    invisible = ("An\u200bn", "An\u200dn", "Ann\u2060", "\ufeffAnn", "\u3164", "Ann\uffa0")
    separators = ("line\u2028break", "para\u2029break", "\u115f\u1160")
    for name in (
        "Ann\x00",
        "Dr\u202eevil",
        "line\nbreak",
        "\u2067Ann",
        "Ann\u200f",
        *invisible,
        *separators,
    ):
        body = {
            "email": "ann@example.org",
            "password": PASSWORD,
            "role": "patient",
            "display_name": name,
        }
        refused = await client.post("/api/v1/accounts", json=body)
        assert refused.status == 422, name
        assert list((await _problem(refused))["fields"]) == ["display_name"]
    # Letters of any script, accents and spaces are names.
    await register(client, outbox, "ann@example.org")
    body["display_name"] = "Anne-Marie Ñúñez 李 محمد 김민준"
    body["email"] = "anne@example.org"
    assert (await client.post("/api/v1/accounts", json=body)).status == 202
    admin = await actor(client, outbox, "pa@example.org", "practice_admin")
    for name in ("Clinic\x00", "Clinic\u202d"):
        response = await admin.call("POST", "/api/v1/practices", {"name": name}, expect=422)
        assert list(response["fields"]) == ["name"]


async def test_the_register_schema_offers_only_self_registered_roles(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    role = document["components"]["schemas"]["Register"]["properties"]["role"]
    assert sorted(role["enum"]) == ["patient", "practice_admin", "practitioner"]
    name = document["components"]["schemas"]["Register"]["properties"]["display_name"]
    assert name["pattern"].startswith("^[^\\x00-\\x1f")
