"""``GET /api/v1/practices``: the practices the caller works in, by name and role,
so the practice console never asks for an identifier; nothing about anyone else's."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from tests.actors import actor
from tests.practices import create_practice, join, platform_admin, verify_registration

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_each_account_sees_its_own_practices_with_its_roles(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin = await actor(client, outbox, "admin@zuid.example", "practice_admin")
    other_admin = await actor(client, outbox, "admin@noord.example", "practice_admin")
    doctor = await actor(client, outbox, "doc@zuid.example", "practitioner")
    platform = await platform_admin(client, db, clock)
    await verify_registration(platform, doctor)
    zuid = await create_practice(admin, "Praktijk Zuid")
    annex = await create_practice(admin, "Annexe du Parc")
    noord = await create_practice(other_admin, "Praktijk Noord")
    await join(admin, zuid, doctor)
    # The other admin works as staff in the first practice (its own is not shown).
    await join(admin, zuid, other_admin, "staff")
    # An admin may also work as staff in its own practice: both roles, in order.
    await join(admin, annex, admin, "staff")
    # An offer not yet accepted is an invitation, not a practice of the account.
    await other_admin.call(
        "POST",
        f"/api/v1/practices/{noord}/members",
        {"account_id": doctor.account_id, "role": "practitioner"},
    )

    mine = await admin.call("GET", "/api/v1/practices")
    assert mine == {
        "practices": [
            {"practice_id": annex, "name": "Annexe du Parc", "roles": ["admin", "staff"]},
            {"practice_id": zuid, "name": "Praktijk Zuid", "roles": ["admin"]},
        ]
    }
    theirs = await other_admin.call("GET", "/api/v1/practices")
    assert theirs == {
        "practices": [
            {"practice_id": noord, "name": "Praktijk Noord", "roles": ["admin"]},
            {"practice_id": zuid, "name": "Praktijk Zuid", "roles": ["staff"]},
        ]
    }
    assert await doctor.call("GET", "/api/v1/practices") == {
        "practices": [{"practice_id": zuid, "name": "Praktijk Zuid", "roles": ["practitioner"]}]
    }


async def test_a_patient_and_a_platform_admin_have_no_practice(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    admin = await actor(client, outbox, "admin@zuid.example", "practice_admin")
    practice_id = await create_practice(admin)
    patient = await actor(client, outbox, "ann@example.org")
    await patient.call(
        "POST", "/api/v1/care-links", {"provider": {"kind": "practice", "id": practice_id}}, 201
    )
    platform = await platform_admin(client, db, clock)

    assert await patient.call("GET", "/api/v1/practices") == {"practices": []}
    assert await platform.call("GET", "/api/v1/practices") == {"practices": []}


async def test_without_a_session_the_list_is_refused(client: Client) -> None:
    response = await client.get("/api/v1/practices")
    assert response.status == 401
    assert (await response.json())["code"] == "unauthenticated"
