"""Franking: verifiable abuse reports, and the server's receipt stamp (server-importable).

The sender puts a fresh random franking key ``fk`` at the start of the encrypted
payload and a commitment to (kind, context, body) under ``fk`` in the signed header::

    commitment = mac(fk, "cc1-franking", u8(kind) | ident(thread or campaign)
                                         | ident(client_msg_id) | ident(sender account)
                                         | ident(sender device) | body)

The server cannot open the commitment (it lacks ``fk``) but stamps it on receipt:
``stamp = mac(server_key, "cc1-server-stamp", ...)`` over the kind, the commitment,
sender, thread (or campaign), sequence number and receipt time, so it can later
recognise its own record without having kept anything else.

The kind byte (:class:`FrankingKind`: a chat message or a broadcast) separates the two
domains: a chat message and a mailing with the same ids, text and key commit to
different values and get different stamps, so a report can never pass one off as the
other (a patient cannot present a practice's mailing as a private message to them, nor
the reverse). A recipient who reports abuse reveals ``body``
and ``fk``; ``verify_report`` recomputes the commitment and checks the sender's
signature over the header holding it, so the reporter cannot alter the text, pick
another key, or replay the report against another message (the context is inside
the commitment and the header is checked against the server's own record).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

from e2e_crypto.broadcast_public import (
    ParsedBroadcast,
    parse_broadcast,
    verify_broadcast_signature,
)
from e2e_crypto.codec import Writer, check_id
from e2e_crypto.domains import FRANKING_PERSON, HASH_BYTES, STAMP_PERSON, derive, mac
from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import (
    FRANKING_KEY_BYTES,
    MAX_ENVELOPE_BYTES,
    ParsedEnvelope,
    parse_envelope,
    verify_envelope_signature,
)

__all__ = [
    "STAMP_BYTES",
    "FrankingKind",
    "Stamper",
    "franking_commitment",
    "stamp",
    "verify_broadcast_report",
    "verify_report",
    "verify_stamp",
]

STAMP_BYTES: Final = 32
# 2: the kind byte after the version (1 had none).
_STAMP_VERSION: Final = 2


class FrankingKind(IntEnum):
    """What was franked: the byte in front of every commitment and stamp."""

    MESSAGE = 1  # a chat message (an envelope in a thread)
    BROADCAST = 2  # a mailing (one ciphertext for many patients, keyed by campaign)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_STAMP_HEAD: Final = struct.Struct(">BB")
_STAMP_TAIL: Final = struct.Struct(">QQ")


def franking_commitment(
    franking_key: bytes,
    body: bytes,
    *,
    kind: FrankingKind,
    thread_id: str,
    client_msg_id: str,
    sender_account: str,
    sender_device: str,
) -> bytes:
    """The 32-byte commitment to ``body`` in its context, under ``franking_key``.

    For a broadcast, ``thread_id`` is the campaign id.
    """
    if len(franking_key) != FRANKING_KEY_BYTES:
        raise MalformedData("franking key must be 32 bytes")
    context = (
        Writer()
        .u8(FrankingKind(kind))
        .ident(thread_id, "thread id")
        .ident(client_msg_id, "client message id")
        .ident(sender_account, "sender account id")
        .ident(sender_device, "sender device id")
        .raw(body)
    )
    return mac(franking_key, FRANKING_PERSON, bytes(context))


def verify_report(
    envelope: ParsedEnvelope | bytes,
    *,
    sender_key: PublicSigningKey,
    thread_id: str,
    client_msg_id: str,
    sender_account: str,
    sender_device: str,
    body: bytes,
    franking_key: bytes,
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> None:
    """Check a reported (body, franking key) against the stored envelope.

    ``envelope`` is the server's stored copy; ``thread_id`` ... ``sender_device`` come
    from the server's own record of that message (never from the reporter), and
    ``sender_key`` from the sender device's verified certificate. Raises
    VerificationFailed (one message, whatever failed) or MalformedData.
    """
    if isinstance(envelope, bytes):
        parsed = parse_envelope(envelope, max_bytes=max_bytes)
    else:
        parsed = envelope
    header = parsed.header
    try:
        verify_envelope_signature(parsed, sender_key)
    except (VerificationFailed, MalformedData):
        raise VerificationFailed("abuse report does not verify") from None
    _check_commitment(
        FrankingKind.MESSAGE,
        recorded=(thread_id, client_msg_id, sender_account, sender_device),
        claimed=(
            header.thread_id,
            header.client_msg_id,
            header.sender_account,
            header.sender_device,
        ),
        franking_key=franking_key,
        body=body,
        commitment=header.franking_commitment,
    )


def verify_broadcast_report(
    body: ParsedBroadcast | bytes,
    *,
    sender_key: PublicSigningKey,
    campaign_id: str,
    client_msg_id: str,
    sender_account: str,
    sender_device: str,
    text: bytes,
    franking_key: bytes,
) -> None:
    """Check a reported mailing (text, franking key) against the stored broadcast body.

    As :func:`verify_report`, for the broadcast domain: the ids come from the server's
    record of the mailing. Raises VerificationFailed (one message) or MalformedData.
    """
    parsed = parse_broadcast(body) if isinstance(body, bytes) else body
    header = parsed.header
    try:
        verify_broadcast_signature(parsed, sender_key)
    except (VerificationFailed, MalformedData):
        raise VerificationFailed("abuse report does not verify") from None
    _check_commitment(
        FrankingKind.BROADCAST,
        recorded=(campaign_id, client_msg_id, sender_account, sender_device),
        claimed=(
            header.campaign_id,
            header.client_msg_id,
            header.sender_account,
            header.sender_device,
        ),
        franking_key=franking_key,
        body=text,
        commitment=header.franking_commitment,
    )


def _check_commitment(
    kind: FrankingKind,
    *,
    recorded: tuple[str, str, str, str],
    claimed: tuple[str, str, str, str],
    franking_key: bytes,
    body: bytes,
    commitment: bytes,
) -> None:
    """The signed header names the server's record (container, message id, sender),
    and the revealed (body, franking key) opens its commitment in ``kind``'s domain.
    One message whatever failed, so a report teaches nothing about which part."""
    failed = VerificationFailed("abuse report does not verify")
    if recorded != claimed:
        raise failed
    container, client_msg_id, sender_account, sender_device = recorded
    try:
        expected = franking_commitment(
            franking_key,
            body,
            kind=kind,
            thread_id=container,
            client_msg_id=client_msg_id,
            sender_account=sender_account,
            sender_device=sender_device,
        )
    except (VerificationFailed, MalformedData):
        raise failed from None
    if not hmac.compare_digest(expected, commitment):
        raise failed


def _stamp_input(
    kind: FrankingKind,
    franking_commitment: bytes,
    sender_account: str,
    sender_device: str,
    thread_id: str,
    seq: int,
    received_at: datetime,
) -> bytes:
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise MalformedData("seq must be a non-negative 63-bit integer")
    if received_at.tzinfo is None:
        raise MalformedData("received_at must be timezone-aware")
    millis = (received_at - _EPOCH) // _MILLISECOND
    if not 0 <= millis < 2**63:
        raise MalformedData("received_at out of range")
    if len(franking_commitment) != HASH_BYTES:
        raise MalformedData(f"franking commitment must be {HASH_BYTES} bytes")
    # What a Writer would build (u8 version, u8 kind, the commitment, three idents, u64
    # seq, u64 milliseconds), packed at once: the server stamps every message it stores,
    # and through the Writer a stamp took 7.4 µs, 4.0 like this (the vectors pin the
    # bytes: tests/crypto/test_vectors.py).
    return b"".join(
        (
            _STAMP_HEAD.pack(_STAMP_VERSION, FrankingKind(kind)),
            franking_commitment,
            _ident(sender_account, "sender account id"),
            _ident(sender_device, "sender device id"),
            _ident(thread_id, "thread id"),
            _STAMP_TAIL.pack(seq, millis),
        )
    )


def _ident(value: str, what: str) -> bytes:
    """``Writer.ident``'s encoding: u8 length, then the identifier's ASCII bytes."""
    raw = check_id(value, what).encode("ascii")
    return bytes((len(raw),)) + raw


def _check_server_key(server_key: bytes) -> None:
    if not isinstance(server_key, bytes) or not 32 <= len(server_key) <= 64:
        raise MalformedData("server stamp key must be 32..64 bytes")


def stamp(
    server_key: bytes,
    *,
    kind: FrankingKind,
    franking_commitment: bytes,
    sender_account: str,
    sender_device: str,
    thread_id: str,
    seq: int,
    received_at: datetime,
) -> bytes:
    """The server's 32-byte MAC over what it knew when it accepted the message.

    For a broadcast (``kind`` BROADCAST), ``thread_id`` is the campaign id and ``seq``
    the mailing's number in its campaign (0 when it has none). ``received_at`` is
    encoded in whole milliseconds since the Unix epoch, so store it with at least
    millisecond precision to verify later.
    """
    _check_server_key(server_key)
    data = _stamp_input(
        kind, franking_commitment, sender_account, sender_device, thread_id, seq, received_at
    )
    return mac(server_key, STAMP_PERSON, data)


class Stamper:
    """:func:`stamp` for a server that stamps every message it stores.

    The same stamp, at a fraction of the cost: the subkey is derived once, not per
    message, and the MAC is ``hashlib``'s keyed BLAKE2b (the same RFC 7693 function as
    libsodium's ``crypto_generichash``, keyed the same way) without PyNaCl's per-call
    argument checks. tests/crypto/test_franking.py checks the two agree, for both kinds.
    """

    __slots__ = ("_subkey",)

    def __init__(self, server_key: bytes) -> None:
        _check_server_key(server_key)
        self._subkey = derive(server_key, STAMP_PERSON)

    def __call__(
        self,
        *,
        kind: FrankingKind,
        franking_commitment: bytes,
        sender_account: str,
        sender_device: str,
        thread_id: str,
        seq: int,
        received_at: datetime,
    ) -> bytes:
        data = _stamp_input(
            kind, franking_commitment, sender_account, sender_device, thread_id, seq, received_at
        )
        return hashlib.blake2b(data, key=self._subkey, digest_size=HASH_BYTES).digest()

    def __repr__(self) -> str:
        return "Stamper('**********')"


def verify_stamp(
    server_key: bytes,
    stamp_value: bytes,
    *,
    kind: FrankingKind,
    franking_commitment: bytes,
    sender_account: str,
    sender_device: str,
    thread_id: str,
    seq: int,
    received_at: datetime,
) -> None:
    """Raise VerificationFailed unless ``stamp_value`` is this server's stamp for these values."""
    expected = stamp(
        server_key,
        kind=kind,
        franking_commitment=franking_commitment,
        sender_account=sender_account,
        sender_device=sender_device,
        thread_id=thread_id,
        seq=seq,
        received_at=received_at,
    )
    if not isinstance(stamp_value, bytes) or not hmac.compare_digest(expected, stamp_value):
        raise VerificationFailed("stamp does not verify")
