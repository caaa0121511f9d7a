"""The table of error codes, made from the classes of :mod:`chat_server.errors`.

One source, three readers: docs/protocol.md (the table between the two markers below,
rewritten by ``python -m chat_server.error_codes``), the OpenAPI document (the
``Problem`` schema's ``x-error-codes`` and each error response's description) and the
unit test that fails when the document is stale. A class added to ``errors.py`` is
therefore documented by running the command, never by editing the table by hand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chat_server.errors import ChatError, ErrorCode, is_abstract

BEGIN_MARKER: Final = "<!-- error-codes:begin (python -m chat_server.error_codes) -->"
END_MARKER: Final = "<!-- error-codes:end -->"
PROTOCOL_DOC: Final = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
REGENERATE: Final = "python -m chat_server.error_codes"


@dataclass(frozen=True, slots=True)
class CodeRow:
    code: ErrorCode
    http_status: int
    ws_close: int | None  # None: an error frame, and the socket stays open
    title: str
    name: str

    @property
    def ws(self) -> str:
        return "error frame" if self.ws_close is None else f"close {self.ws_close}"


def error_classes() -> list[type[ChatError]]:
    """Every class that can be raised (ChatError itself is ``internal_error``), in the
    order of :class:`ErrorCode`, so the table reads like the enum."""
    found: list[type[ChatError]] = []
    pending: list[type[ChatError]] = [ChatError]
    while pending:
        cls = pending.pop()
        if not is_abstract(cls):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    order = list(ErrorCode)
    return sorted(found, key=lambda cls: (order.index(cls.code), cls.__name__))


def rows() -> list[CodeRow]:
    return [
        CodeRow(cls.code, cls.http_status.value, cls.ws_close, cls.title, cls.__name__)
        for cls in error_classes()
    ]


def codes_by_status() -> dict[int, list[str]]:
    """The codes each HTTP status can carry, for the OpenAPI responses."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for row in rows():
        by_status[row.http_status].append(str(row.code))
    return dict(by_status)


def openapi_codes() -> list[dict[str, object]]:
    """The ``x-error-codes`` list of the OpenAPI ``Problem`` schema."""
    return [
        {"code": str(row.code), "status": row.http_status, "websocket": row.ws, "title": row.title}
        for row in rows()
    ]


def markdown_table() -> str:
    lines = ["| code | HTTP | WebSocket | title |", "|---|---|---|---|"]
    lines += [f"| `{r.code}` | {r.http_status} | {r.ws} | {r.title} |" for r in rows()]
    return "\n".join(lines)


def with_table(document: str) -> str:
    """``document`` with the text between the markers replaced by the current table."""
    begin, end = document.find(BEGIN_MARKER), document.find(END_MARKER)
    if begin < 0 or end < begin:
        raise ValueError(f"the document has no {BEGIN_MARKER} ... {END_MARKER} pair")
    head = document[: begin + len(BEGIN_MARKER)]
    return f"{head}\n{markdown_table()}\n{document[end:]}"


def main() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    PROTOCOL_DOC.write_text(with_table(text), encoding="utf-8")


if __name__ == "__main__":
    main()
