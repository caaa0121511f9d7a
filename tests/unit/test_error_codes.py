"""One code per situation: the classes, the table in docs/protocol.md, the OpenAPI
document and the SDK agree, and no server code raises an abstract error class."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from aiohttp import web

import chat_server
from chat_server import errors
from chat_server.error_codes import (
    PROTOCOL_DOC,
    REGENERATE,
    codes_by_status,
    error_classes,
    markdown_table,
    openapi_codes,
    rows,
    with_table,
)
from chat_server.errors import ChatError, Conflict, ErrorCode, RequestCooldown, is_abstract
from chat_server.rest.openapi import build_document
from e2e_crypto.client import errors as sdk_errors

SERVER_PACKAGE = Path(chat_server.__file__).parent


def _all_subclasses(cls: type[ChatError]) -> list[type[ChatError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def test_the_table_in_docs_protocol_md_is_current() -> None:
    document = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert with_table(document) == document, (
        f"docs/protocol.md's table of error codes is stale: run `{REGENERATE}`"
    )


def test_the_table_is_written_between_the_markers_only() -> None:
    stale = "before\n<!-- error-codes:begin (python -m chat_server.error_codes) -->\nSTALE ROW\n"
    stale += "<!-- error-codes:end -->\nafter\n"
    fresh = with_table(stale)
    assert fresh.startswith("before\n")
    assert fresh.endswith("<!-- error-codes:end -->\nafter\n")
    assert "STALE ROW" not in fresh
    assert markdown_table() in fresh
    assert "| `request_cooldown` | 409 | error frame |" in fresh
    with pytest.raises(ValueError, match="error-codes:begin"):
        with_table("no markers here")


def test_every_code_belongs_to_exactly_one_class() -> None:
    codes = [row.code for row in rows()]
    assert len(codes) == len(set(codes)), "two classes share a code: give each its own"
    assert set(codes) == set(ErrorCode), "a code without a class, or a class without a code"


def test_the_conflict_code_is_gone_and_conflict_is_abstract() -> None:
    assert "conflict" not in {str(code) for code in ErrorCode}
    assert is_abstract(Conflict)
    assert Conflict not in error_classes()
    assert not is_abstract(RequestCooldown)  # not inherited
    with pytest.raises(TypeError, match="Conflict is abstract"):
        Conflict("some prose")
    assert RequestCooldown().to_dict()["code"] == "request_cooldown"


def _abstract_calls(tree: ast.AST, names: set[str]) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in names:
                lines.append(node.lineno)
    return lines


def test_no_server_code_calls_an_abstract_error_class() -> None:
    abstract = {cls.__name__ for cls in _all_subclasses(ChatError) if is_abstract(cls)}
    assert "Conflict" in abstract
    offenders = [
        f"{path.relative_to(SERVER_PACKAGE)}:{line}"
        for path in sorted(SERVER_PACKAGE.rglob("*.py"))
        for line in _abstract_calls(ast.parse(path.read_text(encoding="utf-8")), abstract)
    ]
    assert not offenders, f"raise the class of the situation, not {abstract}: {offenders}"
    # The check sees what it looks for.
    assert _abstract_calls(ast.parse('raise errors.Conflict("x")'), abstract) == [1]


def test_every_error_class_lives_in_the_errors_module_and_its_drawing() -> None:
    importlib.import_module("chat_server.app")  # everything the server can raise
    classes = _all_subclasses(ChatError)
    assert {cls.__module__ for cls in classes} == {"chat_server.errors"}
    assert errors.__doc__ is not None
    undrawn = [cls.__name__ for cls in classes if cls.__name__ not in errors.__doc__]
    assert not undrawn, f"add to the hierarchy drawn in chat_server/errors.py: {undrawn}"


def test_the_openapi_document_lists_the_same_codes() -> None:
    document = build_document(web.Application())
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]["code"]["enum"]) == {str(row.code) for row in rows()}
    assert problem["x-error-codes"] == openapi_codes()
    conflict = document["components"]["responses"]["Conflict"]["description"]
    for code in codes_by_status()[409]:
        assert f"`{code}`" in conflict


def test_the_sdk_knows_every_code_with_the_class_of_its_status() -> None:
    for row in rows():
        known = sdk_errors._BY_CODE.get(str(row.code))
        assert known is not None, f"e2e_crypto/client/errors.py does not map {row.code}"
        by_status = sdk_errors._BY_STATUS.get(row.http_status) or (
            sdk_errors.ServerError if row.http_status >= 500 else sdk_errors.CareChatError
        )
        assert issubclass(known, by_status), row.code
    refused = sdk_errors.error_from_frame({"type": "error", "code": "duplicate_client_msg_id"})
    assert isinstance(refused, sdk_errors.ConflictError)
    assert refused.code == "duplicate_client_msg_id"
