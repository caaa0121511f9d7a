"""Practices, invitations by e-mail/SMS, link requests, and who may see what."""

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from tests.actors import Actor, actor, login
from tests.practices import create_practice, join, platform_admin, verify_registration

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


def _invitation_code(outbox: MemoryOutbox, to: str) -> str:
    return outbox.last_to(to).body.split("/invite#", 1)[1].split()[0]


async def _practice(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> tuple[Actor, Actor, str]:
    admin = await actor(client, outbox, "admin@practice.example", "practice_admin")
    doctor = await actor(client, outbox, "doc@practice.example", "practitioner")
    await verify_registration(await platform_admin(client, db, clock), doctor)
    practice_id = await create_practice(admin)
    await join(admin, practice_id, doctor)
    return admin, doctor, practice_id


async def test_an_email_invitation_creates_an_active_link_once(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await doctor.call(
        "POST",
        "/api/v1/invitations",
        {
            "provider": {"kind": "practitioner", "id": doctor.account_id},
            "channel": "email",
            "to": "ann@example.org",
        },
        expect=202,
    )
    code = _invitation_code(outbox, "ann@example.org")
    ann = await actor(client, outbox, "ann@example.org")
    link = await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=201)
    assert link["status"] == "active"
    assert link["created_via"] == "invitation"
    body = await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=400)
    assert body["code"] == "invalid_code"
    listed = await doctor.call("GET", "/api/v1/care-links")
    assert [item["patient_id"] for item in listed["care_links"]] == [ann.account_id]


async def test_an_sms_invitation_from_a_practice_expires(
    client: Client, outbox: MemoryOutbox, clock: ManualClock, db: Db
) -> None:
    _, doctor, practice_id = await _practice(client, outbox, db, clock)
    await doctor.call(
        "POST",
        "/api/v1/invitations",
        {
            "provider": {"kind": "practice", "id": practice_id},
            "channel": "sms",
            "to": "+32470123456",
        },
        expect=202,
    )
    message = outbox.last_to("+32470123456")
    assert message.channel == "sms"
    code = _invitation_code(outbox, "+32470123456")
    await actor(client, outbox, "ann@example.org")
    clock.advance(7 * 24 * 3600 + 1)
    ann = Actor(
        client, "ann@example.org", "", (await login(client, "ann@example.org"))["token"], "patient"
    )
    await ann.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=400)


async def test_invitation_input_is_validated(client: Client, outbox: MemoryOutbox) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    provider = {"kind": "practitioner", "id": doctor.account_id}
    for channel, to in (("sms", "0470123456"), ("email", "not-an-address"), ("fax", "+3212345678")):
        await doctor.call(
            "POST",
            "/api/v1/invitations",
            {"provider": provider, "channel": channel, "to": to},
            expect=422,
        )
    # Nobody invites on behalf of someone else.
    other = await actor(client, outbox, "other@example.org", "practitioner")
    await other.call(
        "POST",
        "/api/v1/invitations",
        {"provider": provider, "channel": "email", "to": "a@b.org"},
        expect=404,
    )


async def test_a_link_request_is_accepted_or_declined_by_the_provider(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    request = {"provider": {"kind": "practitioner", "id": doctor.account_id}}
    link = await ann.call("POST", "/api/v1/care-links", request, expect=201)
    assert link["status"] == "requested"
    # The provider decides knowing who asks: the patient's name is in their list.
    [listed] = (await doctor.call("GET", "/api/v1/care-links"))["care_links"]
    assert (listed["care_link_id"], listed["patient_name"]) == (link["care_link_id"], "ann")
    [own] = (await ann.call("GET", "/api/v1/care-links"))["care_links"]
    assert "patient_name" not in own
    # One live link per pair.
    twice = await ann.call("POST", "/api/v1/care-links", request, expect=409)
    assert twice["code"] == "care_link_exists"
    await ann.call(
        "POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True}, expect=403
    )
    answered = await doctor.call(
        "POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": False}
    )
    assert answered["status"] == "declined"
    answered_twice = await doctor.call(
        "POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True}, expect=409
    )
    assert answered_twice["code"] == "care_link_already_answered"
    again = await ann.call("POST", "/api/v1/care-links", request, expect=201)
    accepted = await doctor.call(
        "POST", f"/api/v1/care-links/{again['care_link_id']}/answer", {"accept": True}
    )
    assert accepted["status"] == "active"
    ended = await ann.call("DELETE", f"/api/v1/care-links/{again['care_link_id']}")
    assert ended["status"] == "ended"


async def test_requests_to_non_practitioners_look_missing(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    bob = await actor(client, outbox, "bob@example.org")
    for provider_id in (bob.account_id, "AAAAAAAAAAAAAAAAAAAAAA"):
        await ann.call(
            "POST",
            "/api/v1/care-links",
            {"provider": {"kind": "practitioner", "id": provider_id}},
            expect=404,
        )


async def test_strangers_cannot_see_or_touch_links_or_practices(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin, doctor, practice_id = await _practice(client, outbox, db, clock)
    ann = await actor(client, outbox, "ann@example.org")
    link = await ann.call(
        "POST",
        "/api/v1/care-links",
        {"provider": {"kind": "practice", "id": practice_id}},
        expect=201,
    )
    # A practice member answers for the practice.
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    eve = await actor(client, outbox, "eve@example.org", "practitioner")
    for method, path in (
        ("DELETE", f"/api/v1/care-links/{link['care_link_id']}"),
        ("GET", f"/api/v1/practices/{practice_id}"),
    ):
        hidden = await eve.call(method, path, expect=404)
        missing = await eve.call(
            method, path.replace(path.rsplit("/", 1)[1], "AAAAAAAAAAAAAAAAAAAAAA"), expect=404
        )
        hidden.pop("request_id")
        missing.pop("request_id")
        assert hidden == missing
    await eve.call(
        "POST",
        f"/api/v1/practices/{practice_id}/members",
        {"account_id": eve.account_id, "role": "practitioner"},
        expect=404,
    )
    # The practice's doctor can now read the patient's key directory entry, and back.
    await doctor.call("GET", f"/api/v1/accounts/{ann.account_id}/devices")
    await ann.call("GET", f"/api/v1/accounts/{doctor.account_id}/devices")
    await eve.call("GET", f"/api/v1/accounts/{ann.account_id}/devices", expect=404)
    assert admin.role == "practice_admin"


async def test_only_practice_admins_create_practices(client: Client, outbox: MemoryOutbox) -> None:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    await doctor.call("POST", "/api/v1/practices", {"name": "Mine"}, expect=403)
