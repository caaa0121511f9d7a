"""Practice membership lists, client side: the admin's client signs them (client-only).

See membership_public for the format. The practice admin's client calls
``sign_membership`` after a member has accepted (or to remove one), with the list
the server currently holds as ``previous``; the server verifies and stores it.
"""

from __future__ import annotations

from collections.abc import Iterable

from e2e_crypto.codec import check_id
from e2e_crypto.errors import MalformedData
from e2e_crypto.keys import RootKey
from e2e_crypto.membership_public import GENESIS_DIGEST, Member, Membership

__all__ = ["sign_membership"]


def sign_membership(
    admin: RootKey,
    *,
    admin_account: str,
    practice_id: str,
    members: Iterable[Member],
    previous: Membership | None,
) -> Membership:
    """The next signed list (epoch 1 when ``previous`` is None): exactly ``members``."""
    check_id(admin_account, "admin account id")
    if previous is not None and previous.practice_id != practice_id:
        raise MalformedData("previous list belongs to another practice")
    unsigned = Membership(
        practice_id=practice_id,
        epoch=1 if previous is None else previous.epoch + 1,
        admin_account=admin_account,
        previous_digest=GENESIS_DIGEST if previous is None else previous.digest(),
        members=tuple(sorted(members, key=lambda m: m.account_id)),
        signature=bytes(64),
    )
    return Membership(
        unsigned.practice_id,
        unsigned.epoch,
        unsigned.admin_account,
        unsigned.previous_digest,
        unsigned.members,
        admin._sign(unsigned.signed_message()),
    )
