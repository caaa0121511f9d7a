"""Practices in tests: the consented, signed membership flow, through the real HTTP API.

An admin proposes a role, the account accepts it with its own session, and the
admin's client signs the next membership list with its root key — the only way an
account becomes a participant of a practice's threads.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import create_admin
from chat_server.clock import Clock
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import Member, MemberRole, Membership, parse_membership
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import Actor, Client, login

PLATFORM_ADMIN_PASSWORD = "an operator's long password"


async def platform_admin(client: Client, db: AsyncDatabase[dict[str, Any]], clock: Clock) -> Actor:
    email = "root@carechat.example"
    account_id = await create_admin(db, clock, email, PLATFORM_ADMIN_PASSWORD)
    session = await login(client, email, PLATFORM_ADMIN_PASSWORD)
    return Actor(client, email, account_id, session["token"], "admin")


async def verify_registration(platform: Actor, practitioner: Actor) -> None:
    await platform.call(
        "POST", f"/api/v1/admin/accounts/{practitioner.account_id}/verify-registration", expect=204
    )


async def create_practice(admin: Actor, name: str = "Dokterspraktijk Zuid") -> str:
    """A practice whose admin has published its root key (it signs the lists)."""
    await admin.publish_root_key()
    practice = await admin.call("POST", "/api/v1/practices", {"name": name}, expect=201)
    return str(practice["practice_id"])


async def current_membership(actor: Actor, practice_id: str) -> Membership | None:
    body = await actor.call("GET", f"/api/v1/practices/{practice_id}/membership")
    text = body["membership"]
    return parse_membership(from_base64url(text)) if text else None


async def publish(
    admin: Actor, practice_id: str, members: dict[str, str], expect: int = 200
) -> Any:
    """Signs ``members`` (account -> role) as the next list and publishes it."""
    previous = await current_membership(admin, practice_id)
    signed = sign_membership(
        admin.root,
        admin_account=admin.account_id,
        practice_id=practice_id,
        members=[Member(a, MemberRole[r.upper()]) for a, r in members.items()],
        previous=previous,
    )
    return await admin.call(
        "PUT",
        f"/api/v1/practices/{practice_id}/membership",
        {"membership": to_base64url(signed.encode())},
        expect=expect,
    )


async def join(admin: Actor, practice_id: str, member: Actor, role: str = "practitioner") -> None:
    """Proposed, accepted by the member itself, then signed into the next list."""
    await admin.call(
        "POST",
        f"/api/v1/practices/{practice_id}/members",
        {"account_id": member.account_id, "role": role},
    )
    await member.call("POST", f"/api/v1/practices/{practice_id}/membership/accept")
    previous = await current_membership(admin, practice_id)
    members = {m.account_id: m.role.label for m in previous.members} if previous else {}
    await publish(admin, practice_id, {**members, member.account_id: role})
