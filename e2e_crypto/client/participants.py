"""Who a thread's messages may be encrypted to, verified instead of taken from the server.

The server says who takes part in a thread. For a practice, its practitioners and
staff take part, and a server (or a rogue practice admin without a member's consent)
that could add someone there would read patients' messages: the ghost-participant
attack on end-to-end group messaging. So before anything is sealed:

1. ``Participants.verify`` first settles who the thread is between: its patient and
   its provider (kind and id). The server's word is not enough (it could rewrite a
   practice thread as a "practitioner thread" with a ghost as the practitioner, or
   name a ghost as the patient), so the triple must match the thread opening the
   patient signed with her root key (``e2e_crypto.thread_opening``): checked against
   the patient's pinned root key (or, on the patient's own devices, against her own),
   then pinned per thread in the ``Keystore``. Any later change, or a thread without
   a valid opening, raises ``UntrustedThread``. The patient's client pins what it
   signed in ``start_thread``, so her provider is the one she chose.
2. ``Memberships`` fetches the practice's membership list and verifies it against
   the practice admin's root key, pinned through the ``Directory`` like any peer's
   (trust on first use, ``RootKeyChanged``). It pins which account is the practice's
   admin on first use and never accepts an older epoch than one it verified, nor
   another list at that epoch (its digest is pinned too); the pins live in the
   ``Keystore``, so they survive ``export_state``/``from_state``.
3. It then allows exactly the thread's patient and the provider: the practitioner of
   a practitioner thread, or the members of the verified list of a practice thread,
   and requires this account to be one of them. Anyone else raises
   ``GhostRecipient``: nothing is sent.

The roles shown to the user are the signed list's, not the server's; only the display
names come from the server (a label, not an identity: safety numbers are).
"""

from __future__ import annotations

import asyncio

from e2e_crypto.client.api import Api, Participant, ThreadSummary
from e2e_crypto.client.directory import Directory
from e2e_crypto.client.errors import GhostRecipient, UntrustedMembership, UntrustedThread
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.errors import CryptoError
from e2e_crypto.membership_public import (
    MAX_MEMBERSHIP_BYTES,
    Membership,
    verify_membership_alone,
)
from e2e_crypto.thread_opening_public import MAX_OPENING_BYTES, verify_opening
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
        digest = verified.digest()
        if verified.epoch == self.epoch(practice_id) and self._keystore.practice_digest(
            practice_id
        ) not in (None, digest):
            raise UntrustedMembership(practice_id, "another list was verified at this epoch")
        self._keystore.pin_practice(practice_id, admin, verified.epoch, digest)
        return {m.account_id: m.role.label for m in verified.members}


class Participants:
    """Checks a thread's participants before this device encrypts to them."""

    def __init__(self, memberships: Memberships, directory: Directory, keystore: Keystore) -> None:
        self._memberships = memberships
        self._directory = directory
        self._keystore = keystore

    async def verify(self, summary: ThreadSummary) -> tuple[Participant, ...]:
        """Every participant with its verified role. Raises UntrustedThread if the
        thread's patient or provider is not the one its patient signed (or this
        device pinned) or this account is on neither side, GhostRecipient for a
        participant who is not the patient, the practitioner or a verified member."""
        patient, kind, provider_id = await self.parties(summary)
        allowed: dict[str, str] = {patient: "patient"}
        if kind == "practitioner":
            allowed[provider_id] = "practitioner"
        else:
            # The patient is never on the list: asking for her would refetch each time.
            covering = frozenset(summary.participants) - {patient}
            allowed.update(await self._memberships.roles(provider_id, covering=covering))
        if self._keystore.account_id not in allowed:
            raise UntrustedThread(
                summary.thread_id, "this account is neither its patient nor its provider"
            )
        names = {m.account_id: m.display_name for m in summary.members}
        verified = []
        for account_id in summary.participants:
            role = allowed.get(account_id)
            if role is None:
                raise GhostRecipient(summary.thread_id, account_id)
            verified.append(Participant(account_id, names.get(account_id), role))
        return tuple(verified)

    async def parties(self, summary: ThreadSummary) -> tuple[str, str, str]:
        """(patient, provider kind, provider id), as signed by the patient and pinned."""
        thread_id = summary.thread_id
        if summary.provider is None:
            raise UntrustedThread(thread_id, "it names no provider")
        claimed = (summary.patient_id, summary.provider.kind, summary.provider.id)
        pinned = self._keystore.thread_pin(thread_id)
        if pinned is not None:
            if pinned != claimed:
                raise UntrustedThread(thread_id, "its patient or provider changed")
            return pinned
        encoded = summary.raw.get("opening")
        if not isinstance(encoded, str):
            raise UntrustedThread(thread_id, "it has no opening signed by its patient")
        try:
            if summary.patient_id == self._keystore.account_id:
                root = self._keystore.root.public_key
            else:
                await self._directory.devices(summary.patient_id)  # pins the root key (TOFU)
                trusted = self._keystore.trusted_root(summary.patient_id)
                if trusted is None:
                    raise UntrustedThread(thread_id, "its patient has no root key")
                root = trusted
            opening = verify_opening(
                from_base64url(encoded, max_bytes=MAX_OPENING_BYTES),
                thread_id=thread_id,
                patient_root_key=root,
            )
        except CryptoError as exc:
            raise UntrustedThread(thread_id, f"its opening does not verify: {exc}") from None
        if opening.parties != claimed:
            raise UntrustedThread(thread_id, "its patient signed an opening with other parties")
        self._keystore.pin_thread(thread_id, claimed)
        return claimed
