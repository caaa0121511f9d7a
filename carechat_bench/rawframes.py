"""A flooder's frames, built before the clock starts and written raw.

The flooder shares the benchmark's two cores with the server it floods, so what it
spends per frame is taken from the server, MongoDB and the chat load generator, and
shows up in the others' latencies as if the server had caused it. So its ``send``
frames are sealed, serialised, masked and framed (RFC 6455 5.2, as a client must
send them: masked, each with its own random key) in a pool worker ahead of time,
and during the flood every frame due at a tick goes to the socket's transport in
one write: no encoding, masking, per-frame bookkeeping or system call per send.
"""

from __future__ import annotations

import json
import secrets
import struct
from collections.abc import Sequence

from e2e_crypto.envelope import seal_message
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import to_base64url

_FIN_TEXT = 0x81
_MASKED = 0x80
_HEADER_SHORT, _HEADER_16, _HEADER_64 = (
    struct.Struct("!BB"),
    struct.Struct("!BBH"),
    struct.Struct("!BBQ"),
)


def masked_text_frame(text: str) -> bytes:
    """``text`` as one client text frame: FIN, opcode 1, masked with a fresh key."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = _HEADER_SHORT.pack(_FIN_TEXT, _MASKED | size)
    elif size < 65536:
        header = _HEADER_16.pack(_FIN_TEXT, _MASKED | 126, size)
    else:
        header = _HEADER_64.pack(_FIN_TEXT, _MASKED | 127, size)
    key = secrets.token_bytes(4)
    stream = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")
    return header + key + masked


def sealed_send(
    device: DeviceKeys, thread_id: str, to: Sequence[VerifiedDevice], body: bytes
) -> tuple[str, str]:
    """One ``send`` frame as the SDK writes it: (client_msg_id, frame text)."""
    cmid = secrets.token_urlsafe(12)
    envelope = seal_message(
        device, thread_id=thread_id, client_msg_id=cmid, body=body, to_devices=to
    )
    frame = {
        "type": "send",
        "id": cmid,
        "thread": thread_id,
        "client_msg_id": cmid,
        "envelope": to_base64url(envelope),
    }
    return cmid, json.dumps(frame, separators=(",", ":"))


def seal_raw_batch(
    device: DeviceKeys, thread_id: str, to: Sequence[VerifiedDevice], body: bytes, count: int
) -> list[bytes]:
    """``count`` sealed ``send`` frames on the wire, in a pool worker."""
    return [masked_text_frame(sealed_send(device, thread_id, to, body)[1]) for _ in range(count)]
