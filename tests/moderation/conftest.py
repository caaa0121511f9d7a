"""Redis for the moderation tests: the session's real server, one key prefix per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from tests.services import Services

KEY_SECRET = b"k" * 32


@pytest.fixture
async def redis_client(services: Services) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(services.redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    return f"t{uuid4().hex[:12]}:"
