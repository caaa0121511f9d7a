"""Group epoch commits: structure and verification (server-importable).

A group (a GP panel, a practice's staff) has an admin account whose root key signs
every membership change. Each change starts a new *epoch* with a fresh X25519 key
pair; the commit carries the epoch public key, the member devices, and the epoch
private key sealed to each of them::

    commit := u8 version | ident group_id | u32 epoch | ident admin_account
              | previous_digest[32] | epoch_public_key[32]
              | u16 n | n x (ident account | ident device | encryption_key[32])
              | n x wrap[80] | signature[64]

The admin signs ``GROUP_COMMIT_CONTEXT | everything before the signature``. Commits
form a hash chain: ``previous_digest`` is ``digest(GROUP_COMMIT_LABEL, previous
commit bytes)`` (32 zero bytes for epoch 1), so a server cannot splice an old
membership list back in. A device left out of epoch N+1 never receives its private
key and so cannot open anything wrapped for it. The server enforces "one commit per
epoch" with a unique index; ``verify_epoch_commit`` gives it everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from e2e_crypto.codec import Reader, Writer, check_id
from e2e_crypto.domains import GROUP_COMMIT_CONTEXT, GROUP_COMMIT_LABEL, HASH_BYTES, digest
from e2e_crypto.errors import MalformedData, VerificationFailed
from e2e_crypto.public import (
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    PublicEncryptionKey,
    PublicSigningKey,
)
from e2e_crypto.wire import WRAP_BYTES, EpochRecipient, GroupRef, Header

__all__ = [
    "COMMIT_VERSION",
    "GENESIS_DIGEST",
    "MAX_GROUP_DEVICES",
    "EpochCommit",
    "EpochMember",
    "SenderNotInEpoch",
    "StaleEpoch",
    "check_group_envelope",
    "parse_epoch_commit",
    "verify_epoch_commit",
]

COMMIT_VERSION: Final = 1
GENESIS_DIGEST: Final = bytes(HASH_BYTES)
MAX_GROUP_DEVICES: Final = 1000
MAX_COMMIT_BYTES: Final = 512 * 1024


@dataclass(frozen=True, slots=True)
class EpochMember:
    account_id: str
    device_id: str
    encryption_key: PublicEncryptionKey

    def __post_init__(self) -> None:
        check_id(self.account_id, "account id")
        check_id(self.device_id, "device id")


@dataclass(frozen=True, slots=True)
class EpochCommit:
    """One epoch of one group. Structurally valid; see verify_epoch_commit for trust."""

    group_id: str
    epoch: int
    admin_account: str
    previous_digest: bytes
    epoch_key: PublicEncryptionKey
    members: tuple[EpochMember, ...]
    wraps: tuple[bytes, ...]
    signature: bytes

    def __post_init__(self) -> None:
        GroupRef(self.group_id, self.epoch)
        check_id(self.admin_account, "admin account id")
        if len(self.previous_digest) != HASH_BYTES:
            raise MalformedData("previous digest must be 32 bytes")
        if not 1 <= len(self.members) <= MAX_GROUP_DEVICES:
            raise MalformedData(f"a group epoch has 1..{MAX_GROUP_DEVICES} member devices")
        slots = {(m.account_id, m.device_id) for m in self.members}
        keys = {m.encryption_key.raw for m in self.members}
        if len(slots) != len(self.members) or len(keys) != len(self.members):
            raise MalformedData("duplicate member device")
        if len(self.wraps) != len(self.members) or any(len(w) != WRAP_BYTES for w in self.wraps):
            raise MalformedData("one 80-byte wrap per member device")
        if len(self.signature) != SIGNATURE_BYTES:
            raise MalformedData("commit signature must be 64 bytes")

    @property
    def ref(self) -> GroupRef:
        return GroupRef(self.group_id, self.epoch)

    @property
    def recipient(self) -> EpochRecipient:
        """This epoch as an envelope recipient."""
        return EpochRecipient(self.group_id, self.epoch, self.epoch_key)

    def signed_part(self) -> bytes:
        out = Writer().u8(COMMIT_VERSION).ident(self.group_id, "group id").u32(self.epoch)
        out.ident(self.admin_account, "admin account id")
        out.fixed(self.previous_digest, HASH_BYTES, "previous digest")
        out.fixed(self.epoch_key.raw, PUBLIC_KEY_BYTES, "epoch key")
        out.u16(len(self.members))
        for m in self.members:
            out.ident(m.account_id, "account id").ident(m.device_id, "device id")
            out.fixed(m.encryption_key.raw, PUBLIC_KEY_BYTES, "member key")
        out.raw(b"".join(self.wraps))
        return bytes(out)

    def signed_message(self) -> bytes:
        return GROUP_COMMIT_CONTEXT + self.signed_part()

    def encode(self) -> bytes:
        return self.signed_part() + self.signature

    def digest(self) -> bytes:
        """What the next epoch's commit names as ``previous_digest``."""
        return digest(GROUP_COMMIT_LABEL, self.encode())

    def member_index(self, account_id: str, device_id: str, key: PublicEncryptionKey) -> int:
        for index, m in enumerate(self.members):
            if (m.account_id, m.device_id, m.encryption_key) == (account_id, device_id, key):
                return index
        raise MalformedData("device is not a member of this epoch")


def parse_epoch_commit(data: bytes) -> EpochCommit:
    """Decode a commit; raises MalformedData only."""
    if not isinstance(data, bytes) or len(data) > MAX_COMMIT_BYTES:
        raise MalformedData("commit must be bytes of at most 512 KiB")
    reader = Reader(data)
    if reader.u8("commit version") != COMMIT_VERSION:
        raise MalformedData("unsupported commit version")
    group_id, epoch = reader.ident("group id"), reader.u32("epoch")
    admin_account = reader.ident("admin account id")
    previous = reader.take(HASH_BYTES, "previous digest")
    epoch_key = PublicEncryptionKey(reader.take(PUBLIC_KEY_BYTES, "epoch key"))
    count = reader.u16("member count")
    if not 1 <= count <= MAX_GROUP_DEVICES:
        raise MalformedData("member count out of range")
    members = tuple(
        EpochMember(
            reader.ident("account id"),
            reader.ident("device id"),
            PublicEncryptionKey(reader.take(PUBLIC_KEY_BYTES, "member key")),
        )
        for _ in range(count)
    )
    wraps = tuple(reader.take(WRAP_BYTES, "wrap") for _ in range(count))
    signature = reader.take(SIGNATURE_BYTES, "commit signature")
    reader.end("commit")
    return EpochCommit(
        group_id, epoch, admin_account, previous, epoch_key, members, wraps, signature
    )


def verify_epoch_commit(
    commit: EpochCommit | bytes,
    *,
    admin_account: str,
    admin_root_key: PublicSigningKey,
    previous: EpochCommit | None,
) -> EpochCommit:
    """Verify ``commit`` as the successor of ``previous`` (None: the group's first epoch).

    Checks: it parses; it names ``admin_account`` (and the same group and admin as
    ``previous``); its epoch is exactly ``previous.epoch + 1`` (1 for a new group);
    it chains to ``previous`` by digest; ``admin_root_key`` signed it. Pure: no I/O,
    no private keys. Raises MalformedData or VerificationFailed.
    """
    parsed = parse_epoch_commit(commit) if isinstance(commit, bytes) else commit
    if parsed.admin_account != check_id(admin_account, "admin account id"):
        raise VerificationFailed("commit names another admin")
    if previous is None:
        if parsed.epoch != 1 or parsed.previous_digest != GENESIS_DIGEST:
            raise VerificationFailed("a group's first commit must be epoch 1")
    else:
        if (parsed.group_id, parsed.admin_account) != (previous.group_id, previous.admin_account):
            raise VerificationFailed("commit belongs to another group or admin")
        if parsed.epoch != previous.epoch + 1:
            raise VerificationFailed("epoch must be exactly previous epoch + 1")
        if parsed.previous_digest != previous.digest():
            raise VerificationFailed("commit does not chain to the previous epoch")
    admin_root_key.verify(parsed.signed_message(), parsed.signature)
    return parsed


class StaleEpoch(VerificationFailed):
    """The envelope names an epoch of the group that is not its current one: encrypt
    again to the latest commit (a removed member must not be able to read it)."""


class SenderNotInEpoch(VerificationFailed):
    """The sender of a group envelope is not a member device of the epoch it names."""


def check_group_envelope(
    header: Header,
    current: EpochCommit,
    *,
    outsiders: frozenset[str] = frozenset(),
) -> None:
    """The group rules for an envelope exchanged in ``current``'s group.

    The header must name the group and the epoch of ``current`` (an older epoch raises
    StaleEpoch); its epoch recipients must be exactly ``current``'s epoch key; the
    sender must be a member device of ``current`` or an account in ``outsiders``
    (SenderNotInEpoch). Raises VerificationFailed (or those subclasses) only.
    """
    if header.group is None:
        raise VerificationFailed("a group envelope names its group in the header")
    if header.group.group_id != current.group_id:
        raise VerificationFailed("the envelope names another group")
    if header.group.epoch != current.epoch:
        raise StaleEpoch("the envelope names an epoch that is not the group's current one")
    if list(header.epoch_recipients()) != [current.recipient]:
        raise VerificationFailed("the one epoch recipient must be the header's group epoch")
    member_devices = {(m.account_id, m.device_id) for m in current.members}
    sender = (header.sender_account, header.sender_device)
    if sender not in member_devices and header.sender_account not in outsiders:
        raise SenderNotInEpoch("the sender is not a member of the epoch it writes to")
