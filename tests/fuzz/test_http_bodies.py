"""Any body or query string to any route that reads one: a success or a precise 4xx
problem, never a 5xx.

The routes come from the served OpenAPI document, so a new route is fuzzed without
touching this file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.rest.openapi import OCTETS
from tests.fuzz.conftest import People, refused_or_done
from tests.fuzz.inputs import (
    FUZZ,
    NESTED_TOO_DEEP,
    NOT_A_JSON_OBJECT,
    first,
    json_documents,
    surrogate_in_every_string,
)

Client = TestClient[web.Request, web.Application]
JSON = "application/json"


@dataclass(frozen=True)
class Route:
    operation_id: str
    method: str
    path: str
    media_type: str | None  # what its body is; None: it reads none
    fields: tuple[str, ...]  # the JSON body's properties


def _routes(document: dict[str, Any]) -> list[Route]:
    schemas = document["components"]["schemas"]
    routes = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            media_type = next(iter(content), None)
            fields: tuple[str, ...] = ()
            if media_type == JSON:
                name = content[JSON]["schema"]["$ref"].rsplit("/", 1)[1]
                fields = tuple(schemas[name]["properties"])
            concrete = _concrete(path, operation)
            routes.append(Route(operation["operationId"], method, concrete, media_type, fields))
    return routes


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """``path`` with a value matching each path parameter's pattern."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = first(st.from_regex(parameter["schema"]["pattern"]))
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


@pytest.fixture
def write_routes(document: dict[str, Any]) -> list[Route]:
    return _routes(document)


@pytest.fixture
def json_routes(write_routes: list[Route]) -> list[Route]:
    return [route for route in write_routes if route.media_type == JSON]


async def test_what_is_not_a_json_object_is_a_400_everywhere(
    client: Client, people: People, json_routes: list[Route]
) -> None:
    assert len(json_routes) >= 15
    for route in json_routes:
        for text in [*NOT_A_JSON_OBJECT, *NESTED_TOO_DEEP, "\xff\xfe{"]:
            response = await client.request(
                route.method,
                route.path,
                data=text.encode("utf-8", "surrogatepass"),
                headers={**people.practitioner.auth, "Content-Type": JSON},
            )
            problem = await refused_or_done(response)
            assert problem is not None
            assert (response.status, problem["code"]) == (400, "malformed_json"), (route, text[:40])


async def test_a_lone_surrogate_in_any_string_of_a_valid_body_is_a_400(
    client: Client, people: People, document: dict[str, Any], json_routes: list[Route]
) -> None:
    """Valid JSON (``"\\ud800"``), but no text: MongoDB, argon2 and e-mail refuse it."""
    schema = schemathesis.openapi.from_dict(document)
    for route in json_routes:
        case = first(schema.find_operation_by_id(route.operation_id).as_strategy())
        assert isinstance(case.body, dict)
        for field, value in case.body.items():
            poisoned = {**case.body, field: surrogate_in_every_string(value)}
            if poisoned == case.body:
                continue
            response = await client.request(
                route.method,
                route.path,
                data=json.dumps(poisoned),
                headers={**people.patient.auth, "Content-Type": JSON},
            )
            problem = await refused_or_done(response)
            assert problem is not None
            assert problem["code"] == "malformed_json", (route.operation_id, field)


@settings(FUZZ, max_examples=200)
@given(data=st.data())
async def test_any_json_document_on_any_json_route(
    client: Client, people: People, json_routes: list[Route], data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(json_routes), label="route")
    text = data.draw(json_documents(route.fields), label="body")
    caller = data.draw(st.sampled_from([people.patient, people.practitioner]), label="caller")
    response = await client.request(
        route.method,
        route.path,
        data=text.encode(),
        headers={**caller.auth, "Content-Type": JSON},
    )
    problem = await refused_or_done(response)
    try:
        is_object = isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        is_object = False
    if not is_object:
        assert problem is not None
        assert problem["code"] == "malformed_json"


@settings(FUZZ, max_examples=120)
@given(data=st.data())
async def test_any_bytes_with_any_content_type_on_any_write_route(
    client: Client, people: People, write_routes: list[Route], data: st.DataObject
) -> None:
    route = data.draw(st.sampled_from(write_routes), label="route")
    content_type = data.draw(
        st.sampled_from([JSON, OCTETS, "text/plain", "application/x-www-form-urlencoded"]),
        label="content type",
    )
    body = data.draw(st.binary(max_size=512), label="body")
    response = await client.request(
        route.method,
        route.path,
        data=body,
        headers={**people.practitioner.auth, "Content-Type": content_type},
    )
    problem = await refused_or_done(response)
    if route.media_type is not None and content_type != route.media_type:
        assert problem is not None
        expected = (
            "octet_stream_expected" if route.media_type == OCTETS else "unsupported_media_type"
        )
        assert (response.status, problem["code"]) == (415, expected)
        assert route.media_type in problem["title"]


@dataclass(frozen=True)
class Query:
    path: str
    name: str
    maximum: int


@pytest.fixture
def queries(document: dict[str, Any], people: People) -> list[Query]:
    found = []
    for path, operations in document["paths"].items():
        for operation in operations.values():
            # The caller's own key log exists: its valid queries answer 200, not 404.
            concrete = _concrete(
                path.replace("{account_id}", people.practitioner.account_id), operation
            )
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    found.append(Query(concrete, parameter["name"], parameter["schema"]["maximum"]))
    assert {query.name for query in found} == {"after", "before", "limit", "mine"}
    return found


@settings(FUZZ, max_examples=150)
@given(data=st.data())
async def test_any_query_value_is_read_as_documented_or_a_422(
    client: Client, people: People, queries: list[Query], data: st.DataObject
) -> None:
    query = data.draw(st.sampled_from(queries), label="query")
    value = data.draw(
        st.one_of(
            st.text(max_size=20),
            st.from_regex(r"\d{1,6}", fullmatch=True),  # digits of every script
            st.integers(min_value=0, max_value=2**64).map(str),
            st.integers(min_value=0, max_value=99).map(lambda n: "0" * 30 + str(n)),
            st.just("9" * 5_000),  # over int()'s digit limit
        ),
        label="value",
    )
    response = await client.get(
        query.path, params={query.name: value}, headers=people.practitioner.auth
    )
    problem = await refused_or_done(response)
    digits = re.fullmatch("[0-9]+", value) is not None and len(value.lstrip("0")) <= 30
    valid = digits and int(value) <= query.maximum
    if not valid:
        assert problem is not None
        assert (response.status, problem["code"]) == (422, "validation_failed")
    else:
        assert problem is None or problem["code"] == "not_found", problem
