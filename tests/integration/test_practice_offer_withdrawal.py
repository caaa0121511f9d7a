"""``DELETE /api/v1/practices/{id}/members/{account_id}``: the practice's admin takes
back a role it offered by mistake, accepted or not, while no signed list names the
account; someone on the list leaves it only by the next signed list."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.mail import MemoryOutbox
from tests.actors import Actor, actor
from tests.practices import create_practice, join, publish

Client = TestClient[web.Request, web.Application]
Db = AsyncDatabase[dict[str, Any]]


def _member(practice_id: str, account_id: str) -> str:
    return f"/api/v1/practices/{practice_id}/members/{account_id}"


async def _offer(admin: Actor, practice_id: str, member: Actor, role: str = "staff") -> None:
    await admin.call(
        "POST",
        f"/api/v1/practices/{practice_id}/members",
        {"account_id": member.account_id, "role": role},
    )


async def _offers_seen_by(member: Actor) -> list[str]:
    invitations = (await member.call("GET", "/api/v1/practice-invitations"))["invitations"]
    return [str(i["practice_id"]) for i in invitations]


async def test_the_admin_withdraws_an_offer_accepted_or_not(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    admin = await actor(client, outbox, "admin@zuid.example", "practice_admin")
    nurse = await actor(client, outbox, "nurse@zuid.example", "practice_admin")
    clerk = await actor(client, outbox, "clerk@zuid.example", "practice_admin")
    practice_id = await create_practice(admin)
    await _offer(admin, practice_id, nurse)
    await _offer(admin, practice_id, clerk)
    await clerk.call("POST", f"/api/v1/practices/{practice_id}/membership/accept")
    assert await _offers_seen_by(nurse) == [practice_id]
    assert await _offers_seen_by(clerk) == [practice_id]

    # Offered only, then accepted but on no list: both taken back.
    await admin.call("DELETE", _member(practice_id, nurse.account_id), expect=204)
    await admin.call("DELETE", _member(practice_id, clerk.account_id), expect=204)

    assert await _offers_seen_by(nurse) == []
    assert await _offers_seen_by(clerk) == []
    people = (await admin.call("GET", f"/api/v1/practices/{practice_id}/people"))["people"]
    assert [p["account_id"] for p in people] == [admin.account_id]
    # Gone: nothing left to accept, and no list may name the clerk on her old consent.
    await nurse.call("POST", f"/api/v1/practices/{practice_id}/membership/accept", expect=404)
    refused = await publish(admin, practice_id, {clerk.account_id: "staff"}, expect=409)
    assert refused["code"] == "member_not_consented"
    # A second withdrawal finds nothing.
    again = await admin.call("DELETE", _member(practice_id, nurse.account_id), expect=404)
    assert again["code"] == "not_found"
    # Audited like the invitee's own withdrawal: who, which practice, whose offer.
    audited = [
        (doc["actor"], doc["subject"], doc["details"])
        async for doc in db["audit_log"].find(
            {"details.what": "member_offer_withdrawn"}, sort=[("seq", 1)]
        )
    ]
    assert audited == [
        (admin.account_id, practice_id, {"what": "member_offer_withdrawn", "member": m})
        for m in (nurse.account_id, clerk.account_id)
    ]


async def test_someone_on_the_signed_list_leaves_it_only_by_the_next_list(
    client: Client, outbox: MemoryOutbox, db: Db
) -> None:
    admin = await actor(client, outbox, "admin@zuid.example", "practice_admin")
    nurse = await actor(client, outbox, "nurse@zuid.example", "practice_admin")
    practice_id = await create_practice(admin)
    await join(admin, practice_id, nurse, "staff")

    refused = await admin.call("DELETE", _member(practice_id, nurse.account_id), expect=409)
    assert refused["code"] == "member_on_signed_list"
    practice = await admin.call("GET", f"/api/v1/practices/{practice_id}")
    assert practice["staff"] == [nurse.account_id]
    assert await _offers_seen_by(nurse) == [practice_id]
    # Her consent withdrawn, she is still on the current list: the same answer.
    await nurse.call("DELETE", f"/api/v1/practices/{practice_id}/membership/consent", expect=204)
    refused = await admin.call("DELETE", _member(practice_id, nurse.account_id), expect=409)
    assert refused["code"] == "member_on_signed_list"
    # The next list leaves her out; then there is no offer left to withdraw.
    await publish(admin, practice_id, {})
    await admin.call("DELETE", _member(practice_id, nurse.account_id), expect=404)
    assert await db["audit_log"].count_documents({"details.what": "member_offer_withdrawn"}) == 0


async def test_others_and_unknown_accounts_get_the_same_404(
    client: Client, outbox: MemoryOutbox
) -> None:
    admin = await actor(client, outbox, "admin@zuid.example", "practice_admin")
    other_admin = await actor(client, outbox, "admin@noord.example", "practice_admin")
    nurse = await actor(client, outbox, "nurse@zuid.example", "practice_admin")
    colleague = await actor(client, outbox, "colleague@zuid.example", "practice_admin")
    practice_id = await create_practice(admin)
    await create_practice(other_admin, "Praktijk Noord")
    await join(admin, practice_id, colleague, "staff")
    await _offer(admin, practice_id, nurse)

    offered = _member(practice_id, nurse.account_id)
    answers = [
        # Not the practice's admin: another practice's, a listed member, the invitee.
        await other_admin.call("DELETE", offered, expect=404),
        await colleague.call("DELETE", offered, expect=404),
        await nurse.call("DELETE", offered, expect=404),
        # The admin, for an account or a practice that does not exist.
        await admin.call("DELETE", _member(practice_id, "A" * 22), expect=404),
        await admin.call("DELETE", _member("A" * 22, nurse.account_id), expect=404),
        # The admin, for an account it never offered anything.
        await admin.call("DELETE", _member(practice_id, other_admin.account_id), expect=404),
    ]
    # The same answer, but for the id each response carries for the operators' logs.
    bodies = [{k: v for k, v in a.items() if k != "request_id"} for a in answers]
    assert all(b == bodies[0] for b in bodies), bodies
    assert bodies[0]["code"] == "not_found"
    # Nothing was withdrawn along the way.
    assert await _offers_seen_by(nurse) == [practice_id]


async def test_without_a_session_the_withdrawal_is_refused(client: Client) -> None:
    response = await client.delete(_member("A" * 22, "B" * 22))
    assert response.status == 401
    assert (await response.json())["code"] == "unauthenticated"
