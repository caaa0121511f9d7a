"""A panel's GPs by name (what the console shows and hands questions over with), and
the admin's look-up of a verified practitioner to add, by e-mail address: the same 404
for every address an admin could not add, and for anyone but the admin."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from tests.actors import actor
from tests.panels import create_panel, gp, online, patient
from tests.practices import platform_admin

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


async def test_members_and_the_admin_read_the_gps_names_and_who_is_online(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    admin, dr_a, dr_b = [
        await gp(client, outbox, platform, f"{name}@example.org")
        for name in ("admin", "lena", "jan")
    ]
    # The admin runs the panel without answering questions: not a member.
    panel = await create_panel(admin, [dr_a, dr_b])
    await online(dr_b)
    expected = [
        {"account_id": dr_a.account_id, "display_name": "lena", "online": False},
        {"account_id": dr_b.account_id, "display_name": "jan", "online": True},
    ]
    for reader in (dr_a, admin):
        listed = await reader.call("GET", "/api/v1/panels/covid/members")
        assert sorted(listed["members"], key=lambda m: str(m["display_name"]), reverse=True) == (
            expected
        )

    # Nobody else: a patient, a stranger, a GP once removed.
    alice = await patient(client, outbox, "alice@example.org")
    mallory = await actor(client, outbox, "mallory@example.org")
    await panel.commit([dr_a])
    for outsider in (alice, mallory, dr_b):
        refused = await outsider.call("GET", "/api/v1/panels/covid/members", expect=404)
        assert refused["code"] == "not_found"
    await dr_a.call("GET", "/api/v1/panels/nowhere/members", expect=404)


async def test_the_admin_finds_a_verified_practitioner_by_e_mail_and_nobody_else(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    admin = await gp(client, outbox, platform, "admin@example.org")
    lena = await gp(client, outbox, platform, "lena@example.org")
    await create_panel(admin, [admin])
    found = await admin.call(
        "POST", "/api/v1/panels/covid/member-lookup", {"email": "Lena@Example.org"}
    )
    assert found == {"account_id": lena.account_id, "display_name": "lena", "online": False}

    # Every address the admin could not add answers the same 404.
    unverified = await actor(client, outbox, "unverified@example.org", "practitioner")
    suspended = await gp(client, outbox, platform, "suspended@example.org")
    await platform.call(
        "POST",
        f"/api/v1/admin/accounts/{suspended.account_id}/suspend",
        {"reason": "impersonation"},
        expect=204,
    )
    await patient(client, outbox, "alice@example.org")
    for email in (
        unverified.email,
        suspended.email,
        "alice@example.org",
        "nobody@example.org",
    ):
        refused = await admin.call(
            "POST", "/api/v1/panels/covid/member-lookup", {"email": email}, expect=404
        )
        assert refused["code"] == "not_found", email
    # Only the panel's admin looks up: a member or another panel's admin gets 404 too.
    await create_panel(lena, [lena], panel_id="derm")
    await admin.call("POST", "/api/v1/panels/derm/member-lookup", {"email": lena.email}, expect=404)
    await lena.call(
        "POST", "/api/v1/panels/covid/member-lookup", {"email": admin.email}, expect=404
    )
    malformed = await admin.call(
        "POST", "/api/v1/panels/covid/member-lookup", {"email": "not an address"}, expect=422
    )
    assert set(malformed["fields"]) == {"email"}


async def test_a_gp_lists_the_panels_they_sit_on_or_administer(
    client: Client, outbox: MemoryOutbox, db: Db, clock: ManualClock
) -> None:
    platform = await platform_admin(client, db, clock)
    dr_a, dr_b = [await gp(client, outbox, platform, f"gp{i}@example.org") for i in range(2)]
    await create_panel(dr_a, [dr_a, dr_b])
    derm = await create_panel(dr_a, [dr_a], panel_id="derm")
    await dr_a.call("POST", "/api/v1/panels", {"panel_id": "new", "name": "New"}, expect=201)

    def ids(listed: Any) -> list[str]:
        return [p["panel_id"] for p in listed["panels"]]

    assert ids(await dr_a.call("GET", "/api/v1/panels?mine=1")) == ["covid", "derm", "new"]
    assert ids(await dr_b.call("GET", "/api/v1/panels?mine=1")) == ["covid"]
    await derm.commit([dr_a, dr_b])
    assert ids(await dr_b.call("GET", "/api/v1/panels?mine=1")) == ["covid", "derm"]
    assert ids(await dr_b.call("GET", "/api/v1/panels")) == ["covid", "derm", "new"]
    alice = await patient(client, outbox, "alice@example.org")
    assert ids(await alice.call("GET", "/api/v1/panels?mine=1")) == []
    refused = await alice.call("GET", "/api/v1/panels?mine=yes", expect=422)
    assert set(refused["fields"]) == {"mine"}
