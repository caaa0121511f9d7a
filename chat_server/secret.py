"""A value that must never reach a log line, an error message or a repr."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Secret:
    """Wraps a credential (a URI with a password, an API key, a MAC key).

    ``str()``, ``repr()`` and f-strings all print a mask; only ``reveal()`` gives the
    value, so every place that handles the real thing is greppable.
    """

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)
