"""Practice membership lists: structure and verification (server-importable).

A practice's practitioners and staff become participants of the care threads that
patients open with the practice, so the list of them decides whose devices a
patient's message is encrypted to. The server must not be able to add anyone to it
(the "ghost participant" attack on end-to-end group messaging). So the list is
signed by the practice admin's *root key* and numbered, like group epochs::

    membership := u8 version | ident practice_id | u32 epoch | ident admin_account
                  | previous_digest[32]
                  | u16 n | n x (ident account_id | u8 role)
                  | signature[64]
    role       := 1 practitioner | 2 staff

The admin signs ``MEMBERSHIP_CONTEXT | everything before the signature``. Lists form
a hash chain: ``previous_digest`` is ``digest(MEMBERSHIP_LABEL, previous list
bytes)`` (32 zero bytes for epoch 1), so an old list cannot be spliced back in and a
client that has seen epoch N refuses anything older. Accounts are listed once each,
in ascending order, so one membership has one encoding.

Whether each listed account consented, and may hold its role, is not in the
signature: the server checks it before it stores a list (see
``chat_server.handlers.care``), and the client's own check is that nobody outside a
verified list (and the thread's patient) is ever a recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from e2e_crypto.codec import Reader, Writer, check_id
from e2e_crypto.domains import HASH_BYTES, MEMBERSHIP_CONTEXT, MEMBERSHIP_LABEL, digest
from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.public import SIGNATURE_BYTES, PublicSigningKey

__all__ = [
    "GENESIS_DIGEST",
    "MAX_MEMBERS",
    "MAX_MEMBERSHIP_BYTES",
    "MEMBERSHIP_VERSION",
    "Member",
    "MemberRole",
    "Membership",
    "parse_membership",
    "verify_membership",
    "verify_membership_alone",
]

MEMBERSHIP_VERSION: Final = 1
GENESIS_DIGEST: Final = bytes(HASH_BYTES)
MAX_MEMBERS: Final = 1000
MAX_MEMBERSHIP_BYTES: Final = 80 * 1024


class MemberRole(IntEnum):
    PRACTITIONER = 1
    STAFF = 2

    @property
    def label(self) -> str:
        """The name used in JSON ("practitioner", "staff")."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Member:
    account_id: str
    role: MemberRole

    def __post_init__(self) -> None:
        check_id(self.account_id, "account id")
        if not isinstance(self.role, MemberRole):
            raise MalformedData("unknown member role")


@dataclass(frozen=True, slots=True)
class Membership:
    """One numbered membership list of one practice. Structurally valid; see
    ``verify_membership`` for trust."""

    practice_id: str
    epoch: int
    admin_account: str
    previous_digest: bytes
    members: tuple[Member, ...]
    signature: bytes

    def __post_init__(self) -> None:
        check_id(self.practice_id, "practice id")
        check_id(self.admin_account, "admin account id")
        if not 1 <= self.epoch < 2**32:
            raise MalformedData("epoch must be 1..2^32-1")
        if len(self.previous_digest) != HASH_BYTES:
            raise MalformedData("previous digest must be 32 bytes")
        if len(self.members) > MAX_MEMBERS:
            raise MalformedData(f"a practice lists at most {MAX_MEMBERS} members")
        ids = [m.account_id for m in self.members]
        if ids != sorted(set(ids)):
            raise MalformedData("members must be listed once each, in ascending order")
        if len(self.signature) != SIGNATURE_BYTES:
            raise MalformedData("membership signature must be 64 bytes")

    def signed_part(self) -> bytes:
        out = Writer().u8(MEMBERSHIP_VERSION).ident(self.practice_id, "practice id")
        out.u32(self.epoch).ident(self.admin_account, "admin account id")
        out.fixed(self.previous_digest, HASH_BYTES, "previous digest")
        out.u16(len(self.members))
        for m in self.members:
            out.ident(m.account_id, "account id").u8(int(m.role))
        return bytes(out)

    def signed_message(self) -> bytes:
        return MEMBERSHIP_CONTEXT + self.signed_part()

    def encode(self) -> bytes:
        return self.signed_part() + self.signature

    def digest(self) -> bytes:
        """What the next list names as ``previous_digest``."""
        return digest(MEMBERSHIP_LABEL, self.encode())

    def roles(self) -> dict[str, MemberRole]:
        return {m.account_id: m.role for m in self.members}


def parse_membership(data: bytes) -> Membership:
    """Decode a membership list; raises MalformedData only."""
    if not isinstance(data, bytes) or len(data) > MAX_MEMBERSHIP_BYTES:
        raise MalformedData("a membership list is bytes of at most 80 KiB")
    reader = Reader(data)
    if reader.u8("membership version") != MEMBERSHIP_VERSION:
        raise MalformedData("unsupported membership version")
    practice_id, epoch = reader.ident("practice id"), reader.u32("epoch")
    admin_account = reader.ident("admin account id")
    previous = reader.take(HASH_BYTES, "previous digest")
    count = reader.u16("member count")
    if count > MAX_MEMBERS:
        raise MalformedData("member count out of range")
    members = []
    for _ in range(count):
        account_id = reader.ident("account id")
        try:
            role = MemberRole(reader.u8("member role"))
        except ValueError:
            raise MalformedData("unknown member role") from None
        members.append(Member(account_id, role))
    signature = reader.take(SIGNATURE_BYTES, "membership signature")
    reader.end("membership")
    return Membership(practice_id, epoch, admin_account, previous, tuple(members), signature)


def verify_membership(
    membership: Membership | bytes,
    *,
    practice_id: str,
    admin_account: str,
    admin_root_key: PublicSigningKey,
    previous: Membership | None,
) -> Membership:
    """Verify ``membership`` as the successor of ``previous`` (None: the first list).

    Checks: it parses; it names ``practice_id`` and ``admin_account``; its epoch is
    exactly ``previous.epoch + 1`` (1 for the first list) and it chains to
    ``previous`` by digest; ``admin_root_key`` signed it. Pure: no I/O, no private
    keys. Raises MalformedData or VerificationFailed.
    """
    parsed = parse_membership(membership) if isinstance(membership, bytes) else membership
    if parsed.practice_id != check_id(practice_id, "practice id"):
        raise VerificationFailed("membership list names another practice")
    if parsed.admin_account != check_id(admin_account, "admin account id"):
        raise VerificationFailed("membership list names another admin")
    if previous is None:
        if parsed.epoch != 1 or parsed.previous_digest != GENESIS_DIGEST:
            raise VerificationFailed("a practice's first membership list must be epoch 1")
    else:
        if (previous.practice_id, previous.admin_account) != (practice_id, admin_account):
            raise VerificationFailed("previous list belongs to another practice or admin")
        if parsed.epoch != previous.epoch + 1:
            raise VerificationFailed("epoch must be exactly previous epoch + 1")
        if parsed.previous_digest != previous.digest():
            raise VerificationFailed("membership list does not chain to the previous one")
    admin_root_key.verify(parsed.signed_message(), parsed.signature)
    return parsed


def verify_membership_alone(
    membership: Membership | bytes,
    *,
    practice_id: str,
    admin_account: str,
    admin_root_key: PublicSigningKey,
    at_least: int = 1,
) -> Membership:
    """For a client that keeps only the highest epoch it has seen, not the chain:
    the names, the signature and an epoch of at least ``at_least`` (no rollback)."""
    parsed = parse_membership(membership) if isinstance(membership, bytes) else membership
    if parsed.practice_id != check_id(practice_id, "practice id"):
        raise VerificationFailed("membership list names another practice")
    if parsed.admin_account != check_id(admin_account, "admin account id"):
        raise VerificationFailed("membership list names another admin")
    if parsed.epoch < at_least:
        raise VerificationFailed("membership list is older than one already seen")
    admin_root_key.verify(parsed.signed_message(), parsed.signature)
    return parsed
