"""Invitations bound to where they were sent, never accepting anything else, and the
per-account invitation limit."""

import dataclasses
import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import Actor, actor, login

Client = TestClient[web.Request, web.Application]
PHONE = "+32470123456"


def _invitation_code(outbox: MemoryOutbox, to: str) -> str:
    return outbox.last_to(to).body.split("/invite#", 1)[1].split()[0]


def _phone_code(outbox: MemoryOutbox) -> str:
    match = re.search(r"\b([0-9]{6})\b", outbox.last_to(PHONE).body)
    assert match is not None
    return match.group(1)


async def _invite(doctor: Actor, channel: str, to: str, expect: int = 202) -> Any:
    return await doctor.call(
        "POST",
        "/api/v1/invitations",
        {
            "provider": {"kind": "practitioner", "id": doctor.account_id},
            "channel": channel,
            "to": to,
        },
        expect=expect,
    )


async def test_an_email_invitation_is_only_for_its_address(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await _invite(doctor, "email", "Ann@Example.org")
    code = _invitation_code(outbox, "Ann@Example.org")
    # Mallory got hold of the link: to her account it is an unknown code...
    mallory = await actor(client, outbox, "mallory@example.org")
    refused = await mallory.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=400)
    assert refused["code"] == "invalid_code"
    assert await mallory.call("GET", "/api/v1/care-links") == {"care_links": []}
    # ...and it is still there for Ann.
    ann = await actor(client, outbox, "ann@example.org")
    link = await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=201)
    assert (link["status"], link["patient_id"]) == ("active", ann.account_id)


async def test_an_sms_invitation_needs_the_code_texted_to_its_number(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await _invite(doctor, "sms", PHONE)
    code = _invitation_code(outbox, PHONE)
    ann = await actor(client, outbox, "ann@example.org")
    bare = await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=400)
    assert bare["code"] == "phone_code_required"
    await ann.call("POST", "/api/v1/invitations/phone-code", {"code": code}, expect=202)
    texted = outbox.last_to(PHONE)
    assert texted.channel == "sms"
    digits = _phone_code(outbox)
    wrong = f"{(int(digits) + 1) % 10**6:06d}"
    await ann.call(
        "POST", "/api/v1/invitations/accept", {"code": code, "phone_code": wrong}, expect=400
    )
    # The texted code works only for the account that asked for it.
    mallory = await actor(client, outbox, "mallory@example.org")
    await mallory.call(
        "POST", "/api/v1/invitations/accept", {"code": code, "phone_code": digits}, expect=400
    )
    link = await ann.call(
        "POST", "/api/v1/invitations/accept", {"code": code, "phone_code": digits}, expect=201
    )
    assert (link["status"], link["patient_id"]) == ("active", ann.account_id)
    # Single use, both of them.
    await ann.call(
        "POST", "/api/v1/invitations/accept", {"code": code, "phone_code": digits}, expect=400
    )


async def test_phone_codes_are_only_for_sms_invitations_and_throttled(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await _invite(doctor, "email", "ann@example.org")
    email_code = _invitation_code(outbox, "ann@example.org")
    await _invite(doctor, "sms", PHONE)
    sms_code = _invitation_code(outbox, PHONE)
    ann = await actor(client, outbox, "ann@example.org")
    for code in (email_code, "x" * 43):
        await ann.call("POST", "/api/v1/invitations/phone-code", {"code": code}, expect=400)
    bad = await ann.call(
        "POST", "/api/v1/invitations/accept", {"code": sms_code, "phone_code": "12345"}, expect=422
    )
    assert "phone_code" in bad["fields"]
    for _ in range(3):  # 5 asks an hour per account, the refused two above included
        await ann.call("POST", "/api/v1/invitations/phone-code", {"code": sms_code}, expect=202)
    await ann.call("POST", "/api/v1/invitations/phone-code", {"code": sms_code}, expect=429)


async def test_a_leaked_sms_link_gets_one_budget_however_many_accounts_use_it(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await _invite(doctor, "sms", PHONE)
    code = _invitation_code(outbox, PHONE)
    sybils = []
    for n in range(11):
        sybils.append(await actor(client, outbox, f"sybil{n}@example.org"))
        clock.advance(400)  # past the registration limit per address
    for sybil in sybils[:5]:  # five texts to the victim's phone per day, not five per account
        await sybil.call("POST", "/api/v1/invitations/phone-code", {"code": code}, expect=202)
    refused = await sybils[5].call(
        "POST", "/api/v1/invitations/phone-code", {"code": code}, expect=429
    )
    assert refused["code"] == "rate_limited"
    guesses = [f"{n:06d}" for n in range(10)]
    for sybil, guess in zip(sybils[:10], guesses, strict=True):  # ten guesses per day
        body = {"code": code, "phone_code": guess}
        answer = await sybil.call("POST", "/api/v1/invitations/accept", body, expect=400)
        assert answer["code"] == "invalid_code"
    body = {"code": code, "phone_code": _phone_code(outbox)}
    blocked = await sybils[10].call("POST", "/api/v1/invitations/accept", body, expect=429)
    assert blocked["code"] == "rate_limited"


async def test_accepting_an_invitation_never_accepts_a_pending_request(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    request = await ann.call(
        "POST",
        "/api/v1/care-links",
        {"provider": {"kind": "practitioner", "id": doctor.account_id}},
        expect=201,
    )
    await _invite(doctor, "email", "ann@example.org")
    code = _invitation_code(outbox, "ann@example.org")
    refused = await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=409)
    assert refused["code"] == "link_request_pending"
    links = await ann.call("GET", "/api/v1/care-links")
    assert [link["status"] for link in links["care_links"]] == ["requested"]
    # Withdrawing the request is the patient's own choice; the invitation then works.
    await ann.call("DELETE", f"/api/v1/care-links/{request['care_link_id']}")
    link = await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=201)
    assert (link["status"], link["created_via"]) == ("active", "invitation")


async def test_invitations_per_account_are_limited_by_default(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    for n in range(20):
        await _invite(doctor, "email", f"patient{n}@example.org")
    refused = await _invite(doctor, "email", "one.more@example.org", expect=429)
    assert refused["code"] == "rate_limited"
    clock.advance(24 * 3600)
    doctor.token = (await login(client, doctor.email))["token"]  # the session expired
    await _invite(doctor, "email", "one.more@example.org")


async def test_the_invitation_limit_is_a_setting(
    aiohttp_client: Any,
    settings: Settings,
    db: Any,
    clock: ManualClock,
    outbox: MemoryOutbox,
) -> None:
    tight = dataclasses.replace(settings, invitation_limit=2, invitation_window_hours=1)
    client: Client = await aiohttp_client(create_app(tight, clock=clock, mailer=outbox, sms=outbox))
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await _invite(doctor, "email", "a@example.org")
    await _invite(doctor, "sms", PHONE)
    await _invite(doctor, "email", "c@example.org", expect=429)
    clock.advance(3600)
    await _invite(doctor, "email", "c@example.org")
