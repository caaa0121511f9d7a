"""Group epochs, client side: create commits, open epoch keys (client-only).

See groups_public for the commit format. The admin's client calls
``create_epoch_commit`` on every membership change; members call
``open_epoch_key`` with a commit they verified (``verify_epoch_commit``) to get the
epoch's private key, which then opens envelopes that list the epoch as a recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions

from e2e_crypto._randomness import SYSTEM, Randomness
from e2e_crypto.codec import check_id
from e2e_crypto.errors import CryptoError, DecryptionFailed, MalformedData
from e2e_crypto.groups_public import GENESIS_DIGEST, EpochCommit, EpochMember
from e2e_crypto.keys import SECRET_BYTES, DeviceKeys, RootKey
from e2e_crypto.public import PublicEncryptionKey, VerifiedDevice
from e2e_crypto.wire import GroupRef

__all__ = ["GroupEpochKey", "create_epoch_commit", "open_epoch_key"]


@dataclass(frozen=True, slots=True, repr=False)
class GroupEpochKey:
    """The X25519 private key of one group epoch."""

    group_id: str
    epoch: int
    secret: bytes
    public_key: PublicEncryptionKey = field(init=False, compare=False)

    def __post_init__(self) -> None:
        GroupRef(self.group_id, self.epoch)
        if len(self.secret) != SECRET_BYTES:
            raise MalformedData("epoch secret must be 32 bytes")
        public = nacl.bindings.crypto_scalarmult_base(self.secret)
        object.__setattr__(self, "public_key", PublicEncryptionKey(bytes(public)))

    @property
    def ref(self) -> GroupRef:
        return GroupRef(self.group_id, self.epoch)

    def _unseal(self, wrap: bytes) -> bytes:
        opened: bytes = nacl.bindings.crypto_box_seal_open(wrap, self.public_key.raw, self.secret)
        return opened

    def __repr__(self) -> str:
        return f"GroupEpochKey(group_id={self.group_id!r}, epoch={self.epoch}, secret=<hidden>)"


def create_epoch_commit(
    admin: RootKey,
    *,
    admin_account: str,
    group_id: str,
    members: Sequence[VerifiedDevice],
    previous: EpochCommit | None,
) -> tuple[EpochCommit, GroupEpochKey]:
    """A signed commit for the next epoch (epoch 1 when ``previous`` is None).

    ``members`` are every device that may read the new epoch, the admin's own
    included; anyone absent is removed from this epoch on.
    """
    return _create_epoch_commit(admin, admin_account, group_id, members, previous, SYSTEM)


def _create_epoch_commit(
    admin: RootKey,
    admin_account: str,
    group_id: str,
    members: Sequence[VerifiedDevice],
    previous: EpochCommit | None,
    rng: Randomness,
) -> tuple[EpochCommit, GroupEpochKey]:
    check_id(admin_account, "admin account id")
    if previous is not None and previous.group_id != group_id:
        raise MalformedData("previous commit belongs to another group")
    epoch = 1 if previous is None else previous.epoch + 1
    key = GroupEpochKey(group_id, epoch, rng.random_bytes(SECRET_BYTES))
    unsigned = EpochCommit(
        group_id=group_id,
        epoch=epoch,
        admin_account=admin_account,
        previous_digest=GENESIS_DIGEST if previous is None else previous.digest(),
        epoch_key=key.public_key,
        members=tuple(EpochMember(m.account_id, m.device_id, m.encryption_key) for m in members),
        wraps=tuple(rng.seal(key.secret, m.encryption_key.raw) for m in members),
        signature=bytes(64),
    )
    signature = admin._sign(unsigned.signed_message())
    commit = EpochCommit(
        unsigned.group_id,
        unsigned.epoch,
        unsigned.admin_account,
        unsigned.previous_digest,
        unsigned.epoch_key,
        unsigned.members,
        unsigned.wraps,
        signature,
    )
    return commit, key


def open_epoch_key(commit: EpochCommit, device: DeviceKeys) -> GroupEpochKey:
    """The epoch private key sealed to ``device`` in a commit already verified with
    ``verify_epoch_commit``. Raises DecryptionFailed if this device is not a member.
    """
    try:
        index = commit.member_index(device.account_id, device.device_id, device.encryption_key)
        secret = device._unseal(commit.wraps[index])
        key = GroupEpochKey(commit.group_id, commit.epoch, secret)
        # The wrap must hold the private half of the key the admin signed; otherwise
        # a member could be handed a key nobody else shares.
        if key.public_key != commit.epoch_key:
            raise DecryptionFailed
    except (CryptoError, nacl.exceptions.CryptoError, ValueError):
        raise DecryptionFailed from None
    return key
