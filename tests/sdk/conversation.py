"""A care thread between SDK clients, and patient ways to wait for what arrives."""

from __future__ import annotations

import asyncio

from e2e_crypto.client import CareChatClient, Provider, ReceivedMessage
from tests.sdk.people import link


async def care_thread(patient: CareChatClient, practitioner: CareChatClient) -> str:
    """An accepted care thread (the care link is created if needed)."""
    links = await patient.api.care_links()
    if not any(
        li["provider"]["id"] == practitioner.account_id and li["status"] == "active" for li in links
    ):
        await link(patient, practitioner)
    thread = await patient.start_thread(Provider("practitioner", practitioner.account_id))
    assert thread.state == "requested"
    await practitioner.thread_action(thread.thread_id, "accept")
    return thread.thread_id


async def take(sdk: CareChatClient, count: int, within: float = 10.0) -> list[ReceivedMessage]:
    """The next ``count`` messages ``sdk`` receives."""
    async with asyncio.timeout(within):
        return [await sdk.receive() for _ in range(count)]


async def nothing_more(sdk: CareChatClient, wait: float = 0.3) -> None:
    """Nothing else arrives within ``wait`` seconds (no duplicate, no stray)."""
    try:
        async with asyncio.timeout(wait):
            extra = await sdk.receive()
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {extra}")
