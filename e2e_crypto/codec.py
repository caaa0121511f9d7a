"""The length-prefixed binary codec every CareChat structure is written in.

Why not JSON: signatures and AEAD associated data need ONE canonical byte string per
value. Here every field has exactly one encoding (big-endian integers of fixed width,
length-prefixed strings, fixed-size keys), a reader refuses trailing bytes, and the
encoder and the decoder are the same few primitives, so "parse then re-encode"
is the identity. docs/protocol.md, "Primitive encodings", specifies them.

Identifiers (account, device, thread, group and client message ids) are opaque
ASCII strings of 1..64 characters from ``[A-Za-z0-9_-]``.
"""

from __future__ import annotations

import re
import struct
from typing import Final

from e2e_crypto.errors import MalformedData

__all__ = ["ID_MAX_CHARS", "Reader", "Writer", "check_id"]

ID_MAX_CHARS: Final = 64
_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_id(value: object, what: str) -> str:
    """Return ``value`` if it is a valid identifier, else raise MalformedData naming ``what``."""
    if not isinstance(value, str) or _ID_PATTERN.fullmatch(value) is None:
        # Never echo the value: identifiers are opaque but may still be personal.
        raise MalformedData(f"{what} must be 1..64 characters of [A-Za-z0-9_-]")
    return value


class Writer:
    """Appends fields; ``bytes(writer)`` is the encoding."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        self._parts.append(struct.pack(">B", value))
        return self

    def u16(self, value: int) -> Writer:
        self._parts.append(struct.pack(">H", value))
        return self

    def u32(self, value: int) -> Writer:
        self._parts.append(struct.pack(">I", value))
        return self

    def u64(self, value: int) -> Writer:
        self._parts.append(struct.pack(">Q", value))
        return self

    def ident(self, value: str, what: str) -> Writer:
        """An identifier: u8 length, then its ASCII bytes."""
        raw = check_id(value, what).encode("ascii")
        self._parts.append(struct.pack(">B", len(raw)) + raw)
        return self

    def fixed(self, value: bytes, size: int, what: str) -> Writer:
        """Exactly ``size`` raw bytes (keys, nonces, hashes, signatures)."""
        if len(value) != size:
            raise MalformedData(f"{what} must be {size} bytes")
        self._parts.append(value)
        return self

    def blob32(self, value: bytes) -> Writer:
        """u32 length, then the bytes."""
        self._parts.append(struct.pack(">I", len(value)) + value)
        return self

    def raw(self, value: bytes) -> Writer:
        self._parts.append(value)
        return self

    def __bytes__(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Consumes fields from a buffer; every short read raises MalformedData."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedData("expected bytes")
        self._data = bytes(data)
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.remaining < size:
            raise MalformedData(f"truncated {what}")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def u8(self, what: str) -> int:
        value: int = self.take(1, what)[0]
        return value

    def u16(self, what: str) -> int:
        value: int = struct.unpack(">H", self.take(2, what))[0]
        return value

    def u32(self, what: str) -> int:
        value: int = struct.unpack(">I", self.take(4, what))[0]
        return value

    def u64(self, what: str) -> int:
        value: int = struct.unpack(">Q", self.take(8, what))[0]
        return value

    def ident(self, what: str) -> str:
        raw = self.take(self.u8(what), what)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedData(f"{what} must be ASCII") from None
        return check_id(text, what)

    def blob32(self, what: str, limit: int) -> bytes:
        size = self.u32(what)
        if size > limit:
            raise MalformedData(f"{what} too large")
        return self.take(size, what)

    def flag(self, what: str) -> bool:
        value = self.u8(what)
        if value not in (0, 1):
            raise MalformedData(f"{what} must be 0 or 1")
        return value == 1

    def end(self, what: str) -> None:
        """Refuse trailing bytes: they would make two encodings of one value."""
        if self.remaining:
            raise MalformedData(f"trailing bytes after {what}")
