"""A patient and a practitioner on the in-process app, and the API's own description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from chat_server.errors import ErrorCode
from chat_server.mail import MemoryOutbox
from chat_server.rest.openapi import OPENAPI_PATH
from chat_server.rest.problems import PROBLEM_TYPE
from tests.actors import Actor, actor

Client = TestClient[web.Request, web.Application]


@dataclass(frozen=True)
class People:
    patient: Actor
    practitioner: Actor


@pytest.fixture
async def people(client: Client, outbox: MemoryOutbox) -> People:
    return People(
        patient=await actor(client, outbox, "pat@example.org"),
        practitioner=await actor(client, outbox, "doc@example.org", "practitioner"),
    )


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get(OPENAPI_PATH)
    assert response.status == 200
    served: dict[str, Any] = await response.json()
    return served


async def refused_or_done(response: ClientResponse) -> dict[str, Any] | None:
    """Asserts the answer is a success or a well-formed 4xx problem; returns the problem."""
    text = await response.text()
    assert response.status < 500, (response.status, text[:500])
    if response.status < 400:
        return None
    assert response.content_type == PROBLEM_TYPE, (response.status, text[:500])
    problem: dict[str, Any] = await response.json(content_type=PROBLEM_TYPE)
    assert problem["status"] == response.status
    assert problem["code"] in set(ErrorCode)
    assert problem["code"] != ErrorCode.INTERNAL
    return problem
