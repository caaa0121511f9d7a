"""Who a thread's messages may be encrypted to, verified instead of taken from the server.

The server says who takes part in a thread. For a practice, its practitioners and
staff take part, and a server (or a rogue practice admin without a member's consent)
that could add someone there would read patients' messages: the ghost-participant
attack on end-to-end group messaging. So before anything is sealed:

1. ``Memberships`` fetches the practice's membership list and verifies it against
   the practice admin's root key, pinned through the ``Directory`` like any peer's
   (trust on first use, ``RootKeyChanged``). It pins which account is the practice's
   admin on first use and never accepts an older epoch than one it verified; both
   pins live in the ``Keystore``, so they survive ``export_state``/``from_state``.
2. ``Participants.verify`` allows exactly this account, the thread's patient, and the
   provider: the practitioner of a practitioner thread, or the members of the verified
   list of a practice thread. Anyone else raises ``GhostRecipient``: nothing is sent.

The roles shown to the user are the signed list's, not the server's; only the display
names come from the server (a label, not an identity: safety numbers are).
"""

from __future__ import annotations

import asyncio

from e2e_crypto.client.api import Api, Participant, ThreadSummary
from e2e_crypto.client.directory import Directory
from e2e_crypto.client.errors import GhostRecipient, UntrustedMembership
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.errors import CryptoError
from e2e_crypto.membership_public import (
    MAX_MEMBERSHIP_BYTES,
    Membership,
    verify_membership_alone,
)
from e2e_crypto.wire import from_base64url

__all__ = ["Memberships", "Participants"]


class Memberships:
    """Verified membership lists of the practices this device writes to."""

    def __init__(self, api: Api, directory: Directory, keystore: Keystore) -> None:
        self._api = api
        self._directory = directory
        self._keystore = keystore
        self._lists: dict[str, dict[str, str]] = {}  # practice -> account -> role
        self._locks: dict[str, asyncio.Lock] = {}

    def epoch(self, practice_id: str) -> int:
        """The highest epoch verified for the practice (0: none yet)."""
        pin = self._keystore.practice_pin(practice_id)
        return pin[1] if pin else 0

    async def roles(self, practice_id: str, *, covering: frozenset[str]) -> dict[str, str]:
        """The verified list as account -> role; fetched afresh unless the cached list
        already names every account in ``covering`` (a member added since is only
        believed once a newer signed list says so)."""
        lock = self._locks.setdefault(practice_id, asyncio.Lock())
        async with lock:
            cached = self._lists.get(practice_id)
            if cached is None or not covering <= cached.keys():
                self._lists[practice_id] = await self._fetch(practice_id)
            return self._lists[practice_id]

    async def _fetch(self, practice_id: str) -> dict[str, str]:
        body = await self._api.membership(practice_id)
        admin = str(body.get("admin"))
        pin = self._keystore.practice_pin(practice_id)
        if pin is not None and admin != pin[0]:
            raise UntrustedMembership(practice_id, "the practice's admin account changed")
        text = body.get("membership")
        if text is None:
            if self.epoch(practice_id) > 0:
                raise UntrustedMembership(practice_id, "a verified list disappeared")
            return {}
        await self._directory.devices(admin)  # pins the admin's root key (TOFU)
        root = self._keystore.trusted_root(admin)
        if root is None:
            raise UntrustedMembership(practice_id, "the admin has no root key")
        try:
            verified: Membership = verify_membership_alone(
                from_base64url(str(text), max_bytes=MAX_MEMBERSHIP_BYTES),
                practice_id=practice_id,
                admin_account=admin,
                admin_root_key=root,
                at_least=max(1, self.epoch(practice_id)),
            )
        except CryptoError as exc:
            raise UntrustedMembership(practice_id, str(exc)) from None
        self._keystore.pin_practice(practice_id, admin, verified.epoch)
        return {m.account_id: m.role.label for m in verified.members}


class Participants:
    """Checks a thread's participants before this device encrypts to them."""

    def __init__(self, memberships: Memberships) -> None:
        self._memberships = memberships

    async def verify(self, summary: ThreadSummary) -> tuple[Participant, ...]:
        """Every participant with its verified role; raises GhostRecipient for one
        who is not the patient, the practitioner or a verified practice member."""
        provider = summary.provider
        allowed: dict[str, str] = {summary.patient_id: "patient"}
        if provider is not None and provider.kind == "practitioner":
            allowed[provider.id] = "practitioner"
        elif provider is not None:
            allowed.update(
                await self._memberships.roles(provider.id, covering=frozenset(summary.participants))
            )
        names = {m.account_id: m.display_name for m in summary.members}
        verified = []
        for account_id in summary.participants:
            role = allowed.get(account_id)
            if role is None:
                raise GhostRecipient(summary.thread_id, account_id)
            verified.append(Participant(account_id, names.get(account_id), role))
        return tuple(verified)
