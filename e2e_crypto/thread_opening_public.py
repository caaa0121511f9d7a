"""Thread openings: the patient's signed word on who a care thread is between
(structure and verification, server-importable; the signer is in thread_opening).

A care thread's messages are encrypted to its patient and its provider side (one
practitioner, or the members of a practice's signed membership list). If the server
alone said who the patient and the provider are, it could rewrite a practice thread
as a "practitioner thread" with anyone as the practitioner, or name another account
as the patient, and every client would encrypt to that ghost. So the patient's
client signs, with the patient's *root key*, which thread it opens with whom::

    opening := u8 version | ident thread_id | ident patient_account
               | u8 provider_kind | ident provider_id | u64 opened_at
               | signature[64]
    provider_kind := 1 practitioner | 2 practice
    signature     := Ed25519(patient root key, THREAD_OPENING_CONTEXT | opening
                     without signature)

The server verifies it against the patient's published root key and keeps it,
opaque, with the thread; the provider side's clients verify it against the
patient's *pinned* root key, and the patient's own clients against their own.
``opened_at`` (Unix seconds) is informative: the pin is the triple of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from e2e_crypto.codec import Reader, Writer, check_id
from e2e_crypto.domains import THREAD_OPENING_CONTEXT
from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.public import SIGNATURE_BYTES, PublicSigningKey

__all__ = [
    "MAX_OPENING_BYTES",
    "OPENING_VERSION",
    "ProviderKind",
    "ThreadOpening",
    "parse_opening",
    "verify_opening",
]

OPENING_VERSION: Final = 1
# version + 3 idents (1 + 64 each) + kind + time + signature, with room to spare.
MAX_OPENING_BYTES: Final = 512


class ProviderKind(IntEnum):
    PRACTITIONER = 1
    PRACTICE = 2

    @property
    def label(self) -> str:
        """The name used in JSON ("practitioner", "practice")."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> ProviderKind:
        try:
            return cls[label.upper()]
        except KeyError:
            raise MalformedData("unknown provider kind") from None


@dataclass(frozen=True, slots=True)
class ThreadOpening:
    """Structurally valid; see ``verify_opening`` for trust."""

    thread_id: str
    patient_account: str
    provider_kind: ProviderKind
    provider_id: str
    opened_at: int
    signature: bytes

    def __post_init__(self) -> None:
        check_id(self.thread_id, "thread id")
        check_id(self.patient_account, "patient account id")
        check_id(self.provider_id, "provider id")
        if not isinstance(self.provider_kind, ProviderKind):
            raise MalformedData("unknown provider kind")
        if not 0 <= self.opened_at < 2**63:
            raise MalformedData("opened_at out of range")
        if len(self.signature) != SIGNATURE_BYTES:
            raise MalformedData("opening signature must be 64 bytes")

    @property
    def parties(self) -> tuple[str, str, str]:
        """(patient account, provider kind label, provider id): what clients pin."""
        return (self.patient_account, self.provider_kind.label, self.provider_id)

    def signed_part(self) -> bytes:
        out = Writer().u8(OPENING_VERSION).ident(self.thread_id, "thread id")
        out.ident(self.patient_account, "patient account id").u8(int(self.provider_kind))
        out.ident(self.provider_id, "provider id").u64(self.opened_at)
        return bytes(out)

    def signed_message(self) -> bytes:
        return THREAD_OPENING_CONTEXT + self.signed_part()

    def encode(self) -> bytes:
        return self.signed_part() + self.signature


def parse_opening(data: bytes) -> ThreadOpening:
    """Decode an opening; raises MalformedData only."""
    if not isinstance(data, bytes) or len(data) > MAX_OPENING_BYTES:
        raise MalformedData(f"a thread opening is bytes of at most {MAX_OPENING_BYTES}")
    reader = Reader(data)
    if reader.u8("opening version") != OPENING_VERSION:
        raise MalformedData("unsupported opening version")
    thread_id = reader.ident("thread id")
    patient = reader.ident("patient account id")
    try:
        kind = ProviderKind(reader.u8("provider kind"))
    except ValueError:
        raise MalformedData("unknown provider kind") from None
    provider_id = reader.ident("provider id")
    opened_at = reader.u64("opened at")
    signature = reader.take(SIGNATURE_BYTES, "opening signature")
    reader.end("thread opening")
    return ThreadOpening(thread_id, patient, kind, provider_id, opened_at, signature)


def verify_opening(
    opening: ThreadOpening | bytes,
    *,
    thread_id: str,
    patient_root_key: PublicSigningKey,
) -> ThreadOpening:
    """The opening of ``thread_id``, signed by ``patient_root_key``. Pure; raises
    MalformedData or VerificationFailed. The caller compares ``parties`` with what
    it was told (or pinned)."""
    parsed = parse_opening(opening) if isinstance(opening, bytes) else opening
    if parsed.thread_id != check_id(thread_id, "thread id"):
        raise VerificationFailed("thread opening names another thread")
    patient_root_key.verify(parsed.signed_message(), parsed.signature)
    return parsed
