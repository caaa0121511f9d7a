"""Schemathesis against a real ``carechat serve``, as a logged-in practitioner.

Every documented operation gets schema-valid cases and, when it takes any input,
schema-violating ones; every answer must be documented (status, content type, body
schema), never a 5xx, and violating input must be refused. The checks run on what
the server really answers, so they keep ``rest/openapi.py`` and ``rest/replies.py``
true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from pymongo import MongoClient
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from chat_server.rest.openapi import OPENAPI_PATH, OPERATIONS
from tests.actors import actor, login
from tests.fuzz.inputs import FUZZ
from tests.servers import FileOutboxReader, ServerProcess, UrlClient
from tests.services import Services

EMAIL = "fuzz-practitioner@example.org"
EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass(frozen=True)
class LiveApi:
    url: str
    token: str
    # Logging out ends a session: that operation gets its own, so the others keep theirs.
    logout_token: str


@pytest.fixture(scope="module")
async def live_api(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveApi]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-server")
    db_name = f"fuzz_{uuid4().hex[:12]}"
    env = {
        "CARECHAT_MONGODB_URI": services.mongo.uri,
        "CARECHAT_MONGODB_DB": db_name,
        "CARECHAT_REDIS_URL": services.redis.url,
        "CARECHAT_REDIS_PREFIX": f"fz{uuid4().hex[:12]}:",
    }
    try:
        with ServerProcess(data_dir, env) as server:
            async with aiohttp.ClientSession() as session:
                client = UrlClient(session, server.url)
                person = await actor(client, FileOutboxReader(data_dir), EMAIL, "practitioner")
                second = await login(client, EMAIL)
            yield LiveApi(server.url, person.token, second["token"])
    finally:
        with MongoClient[dict[str, Any]](services.mongo.uri) as mongo:
            mongo.drop_database(db_name)


@pytest.fixture(scope="module")
def api_schema(live_api: LiveApi) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(live_api.url + OPENAPI_PATH)
    assert isinstance(schema, OpenApiSchema)
    schema.config.update(base_url=live_api.url)
    # A body over the size limit is refused before it is read: 413 refuses it too.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_operation(
    operation_id: str, api_schema: OpenApiSchema, live_api: LiveApi, http: requests.Session
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    token = live_api.logout_token if operation_id == "logout" else live_api.token
    auth = {"Authorization": f"Bearer {token}"}
    modes = [GenerationMode.POSITIVE]
    if {"parameters", "requestBody"} & set(operation.definition.raw):
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:
        # Every health check off: Schemathesis's own strategies filter a lot (negative
        # data must stay negative once serialised), which is theirs to tune, not ours.
        @settings(FUZZ, max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Case[Any]) -> None:
            case.call_and_validate(session=http, headers=auth, checks=CHECKS)

        check()
