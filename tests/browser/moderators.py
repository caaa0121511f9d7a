"""A moderator for browser tests: a platform admin made as ``carechat admin
create-admin`` makes one, on the served process's database, and the moderation
calls tests make through the HTTP API (a suspension, mostly) without a browser."""

from __future__ import annotations

from typing import Any, Final

import aiohttp
from pymongo import AsyncMongoClient

from chat_server.admin import create_admin
from chat_server.clock import SystemClock
from tests.browser.care_team import unique_email

MODERATOR_PASSWORD: Final = "a moderator's long passphrase"
SUSPENSION_NOTE: Final = "Insults to a patient on 29 Nov."


async def create_moderator(mongo_uri: str, db_name: str) -> str:
    """A new platform admin's e-mail address (their password: MODERATOR_PASSWORD)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        email = unique_email("moderator")
        await create_admin(client[db_name], SystemClock(), email, MODERATOR_PASSWORD)
        return email
    finally:
        await client.close()


async def as_moderator(
    carechat: str, moderator: str, method: str, path: str, body: dict[str, str] | None = None
) -> Any:
    """Signs ``moderator`` in and makes one call; its JSON answer, or None for a 204."""
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{carechat}/api/v1/sessions", json={"email": moderator, "password": MODERATOR_PASSWORD}
        ) as response:
            assert response.status == 201, await response.text()
            token = (await response.json())["token"]
        async with session.request(
            method, f"{carechat}{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status in (200, 204), await response.text()
            return await response.json() if response.status == 200 else None


async def suspend(carechat: str, moderator: str, account_id: str) -> None:
    """Suspends the account for harassment, with SUSPENSION_NOTE for the person."""
    await as_moderator(
        carechat,
        moderator,
        "POST",
        f"/api/v1/admin/accounts/{account_id}/suspend",
        {"reason": "harassment", "note": SUSPENSION_NOTE},
    )
