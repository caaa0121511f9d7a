"""The served OpenAPI document: valid, and exactly the routes the server has."""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from schemathesis.core.result import Ok

from chat_server.rest.openapi import OPENAPI_PATH, UNDOCUMENTED_ROUTES

Client = TestClient[web.Request, web.Application]


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get(OPENAPI_PATH)
    assert response.status == 200
    document: dict[str, Any] = await response.json()
    return document


async def test_every_route_is_documented_and_nothing_else(client: Client) -> None:
    served: set[tuple[str, str]] = set()
    for route in client.app.router.routes():
        static = isinstance(route.resource, web.StaticResource)
        if route.method == "HEAD" or route.name in UNDOCUMENTED_ROUTES or static:
            continue
        assert route.resource is not None
        served.add((route.method.lower(), route.resource.canonical))
    document = await _document(client)
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == served
    assert ("get", OPENAPI_PATH) in documented


async def test_the_document_is_valid_openapi_3_1(client: Client) -> None:
    document = await _document(client)
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()
    operations = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in operations)
    assert len(operations) == sum(len(path) for path in document["paths"].values())


async def test_protected_operations_name_the_bearer_scheme(client: Client) -> None:
    document = await _document(client)
    scheme = document["components"]["securitySchemes"]["session"]
    assert scheme == {"type": "http", "scheme": "bearer", "description": scheme["description"]}
    public = {
        "healthz",
        "readyz",
        "openapi",
        "register",
        "verify_email",
        "login",
        "request_password_reset",
        "reset_password",
        "unsubscribe",  # RFC 8058 one-click: the token in the URL is the credential
        # GDPR rights of an account without a session (suspended): the login's proof
        "export_data_with_credentials",
        "erasure_status_with_credentials",
        "request_erasure_with_credentials",
        "cancel_erasure_with_credentials",
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            expected: list[dict[str, list[str]]] = (
                [] if operation["operationId"] in public else [{"session": []}]
            )
            assert operation["security"] == expected, operation["operationId"]
            if expected:
                assert operation["responses"]["401"] == {
                    "$ref": "#/components/responses/Unauthorized"
                }


async def test_an_undocumented_method_is_a_405_naming_the_documented_ones(
    client: Client,
) -> None:
    document = await _document(client)
    for path, operations in document["paths"].items():
        concrete = path.replace("{action}", "close").replace("{epoch}", "1")
        concrete = re.sub(r"\{\w+\}", "x", concrete)
        documented = {method.upper() for method in operations}
        allowed = documented | ({"HEAD"} if "GET" in documented else set())
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - documented):
            response = await client.request(method, concrete)
            assert response.status == 405, (method, path)
            problem = await response.json(content_type="application/problem+json")
            assert problem["code"] == "method_not_allowed"
            assert set(response.headers["Allow"].split(",")) == allowed, (method, path)
