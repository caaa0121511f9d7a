"""A logged exception says what and where, never its message (which may quote input)."""

from __future__ import annotations

import io
import json
import logging

from chat_server.logs import configure_logging

SECRET = "ann@example.org said: chest pain"


def _fail_in_our_code() -> None:
    raise ValueError(SECRET)


def _logged(raiser: object) -> dict[str, str]:
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream)
    try:
        try:
            raiser()  # type: ignore[operator]
        except Exception:
            logging.getLogger("test").exception("frame handler failed")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip().splitlines()[-1]
    assert SECRET not in line
    record: dict[str, str] = json.loads(line)
    return record


def test_the_type_and_the_raising_line_are_kept_the_message_is_not() -> None:
    exc = _logged(_fail_in_our_code)["exc"]
    assert exc.startswith("ValueError at tests/unit/test_log_exceptions.py:")
    assert "in _fail_in_our_code (details withheld)" in exc


def test_a_library_error_names_the_library_line_and_our_caller() -> None:
    def our_caller() -> None:
        json.loads(SECRET)  # raises inside the standard library

    exc = _logged(our_caller)["exc"]
    assert exc.startswith("JSONDecodeError at decoder.py:")
    assert ", called from tests/unit/test_log_exceptions.py:" in exc
    assert exc.endswith("in our_caller (details withheld)")
