"""This device's key material and trust state: everything the app must keep safe.

::

    Keystore
     ├── root      the account's Ed25519 root key (certifies devices; identity)
     ├── device    this device's keys (decrypt what is wrapped to it, sign what it sends)
     ├── former    keys of the account's earlier devices, restored from a key backup,
     │             kept only to *open* messages that were wrapped to them (history)
     ├── trusted   peers' root keys, pinned on first use (TOFU); a different key later
     │             is a RootKeyChanged the app must show (directory.py)
     ├── practices each practice's admin, highest membership epoch and that list's
     │             digest (participants.py: no rollback, no second list per epoch)
     ├── threads   each thread's (patient, provider kind, provider id), pinned when
     │             this account signed its opening or first verified it
     └── recipients  each thread's last-seen participants, so a change made while
                   this device was offline is still a RecipientsNotice

A key backup (e2e_crypto.backup) seals ``root`` and every device key under a
passphrase; the server keeps it as an opaque blob. ``Keystore.restore`` opens it on a
new device and makes new device keys, certified with the restored root key, which
the caller then registers (``CareChatClient.restore_keys`` does both).

``export_state``/``from_state`` give the app a JSON-able dict holding private keys:
store it like a password (OS keychain, encrypted disk), never in logs.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Final

from e2e_crypto.backup import open_backup, seal_backup
from e2e_crypto.codec import check_id
from e2e_crypto.keys import AccountKeys, DeviceKeys, RootKey
from e2e_crypto.public import DeviceCertificate, PublicSigningKey, VerifiedDevice
from e2e_crypto.wire import from_base64url, to_base64url

__all__ = ["Keystore", "new_device_id"]

STATE_VERSION: Final = 1


def new_device_id() -> str:
    """A random device id (16 base64url characters, 96 bits)."""
    return secrets.token_urlsafe(12)


class Keystore:
    def __init__(
        self,
        root: RootKey,
        device: DeviceKeys,
        *,
        former: tuple[DeviceKeys, ...] = (),
        trusted: Mapping[str, PublicSigningKey] | None = None,
    ) -> None:
        # AccountKeys checks that every device belongs to one account, ids are unique.
        AccountKeys(device.account_id, root, (device, *former))
        self.root = root
        self.device = device
        self.former = former
        self._trusted: dict[str, PublicSigningKey] = dict(trusted or {})
        self._trusted[device.account_id] = root.public_key
        # practice -> (its admin account, highest membership epoch verified)
        self._practices: dict[str, tuple[str, int]] = {}
        # practice -> digest of the list verified at that highest epoch
        self._practice_digests: dict[str, bytes] = {}
        # thread -> (patient account, provider kind, provider id)
        self._threads: dict[str, tuple[str, str, str]] = {}
        # thread -> its participants when this device last looked
        self._recipients: dict[str, tuple[str, ...]] = {}

    @classmethod
    def create(cls, account_id: str, device_id: str | None = None) -> Keystore:
        """Fresh keys for an account's first device."""
        return cls(
            RootKey.generate(), DeviceKeys.generate(account_id, device_id or new_device_id())
        )

    @property
    def account_id(self) -> str:
        return self.device.account_id

    @property
    def device_id(self) -> str:
        return self.device.device_id

    def certificate(self) -> DeviceCertificate:
        return self.root.certify(self.device)

    def verified_self(self) -> VerifiedDevice:
        return self.device.verified(self.certificate(), self.root.public_key)

    def openers(self) -> tuple[DeviceKeys, ...]:
        """Keys that may open a message for this account: this device's first."""
        return (self.device, *self.former)

    # -- trust (pinned root keys) ----------------------------------------------------------

    def trusted_root(self, account_id: str) -> PublicSigningKey | None:
        return self._trusted.get(account_id)

    def trust(self, account_id: str, root_key: PublicSigningKey) -> None:
        """Pin ``root_key`` for ``account_id`` (first use, or after the user accepted a
        change). This account's own root key cannot be re-pinned from outside."""
        check_id(account_id, "account id")
        if account_id == self.account_id and root_key != self.root.public_key:
            raise ValueError("this account's own root key is not taken from the server")
        self._trusted[account_id] = root_key

    def practice_pin(self, practice_id: str) -> tuple[str, int] | None:
        """The practice's admin account and the highest membership epoch verified."""
        return self._practices.get(practice_id)

    def practice_digest(self, practice_id: str) -> bytes | None:
        """The digest of the list verified at the pinned epoch (None: not recorded)."""
        return self._practice_digests.get(practice_id)

    def pin_practice(
        self, practice_id: str, admin_account: str, epoch: int, digest: bytes | None = None
    ) -> None:
        """Pin a practice's admin on first use and remember the highest verified epoch
        and its list's digest, so a restarted client refuses an older list, and a
        different list at the same epoch, too."""
        check_id(practice_id, "practice id")
        check_id(admin_account, "admin account id")
        known = self._practices.get(practice_id)
        if known is not None and known[0] != admin_account:
            raise ValueError("the practice's admin is pinned to another account")
        pinned_epoch = known[1] if known else 0
        if digest is not None and epoch == pinned_epoch:
            seen = self._practice_digests.get(practice_id)
            if seen is not None and seen != digest:
                raise ValueError("another list is pinned at this epoch")
        if digest is not None and epoch >= pinned_epoch:
            self._practice_digests[practice_id] = digest
        self._practices[practice_id] = (admin_account, max(epoch, pinned_epoch))

    def thread_pin(self, thread_id: str) -> tuple[str, str, str] | None:
        """(patient account, provider kind, provider id) pinned for the thread."""
        return self._threads.get(thread_id)

    def pin_thread(self, thread_id: str, parties: tuple[str, str, str]) -> None:
        """Pin who a thread is between; a different triple later is refused."""
        check_id(thread_id, "thread id")
        patient, kind, provider = parties
        check_id(patient, "patient account id")
        check_id(provider, "provider id")
        if kind not in ("practitioner", "practice"):
            raise ValueError("unknown provider kind")
        known = self._threads.get(thread_id)
        if known is not None and known != parties:
            raise ValueError("the thread is pinned to other parties")
        self._threads[thread_id] = (patient, kind, provider)

    def recipients(self, thread_id: str) -> tuple[str, ...] | None:
        """The thread's participants when this device last looked (None: never)."""
        return self._recipients.get(thread_id)

    def remember_recipients(self, thread_id: str, participants: tuple[str, ...]) -> None:
        check_id(thread_id, "thread id")
        self._recipients[thread_id] = tuple(sorted(set(participants)))

    # -- backup ----------------------------------------------------------------------------

    def account_keys(self) -> AccountKeys:
        return AccountKeys(self.account_id, self.root, self.openers())

    def seal_backup(self, passphrase: str) -> bytes:
        """The account's keys sealed under ``passphrase`` (argon2id; takes ~0.1-0.5 s)."""
        return seal_backup(self.account_keys(), passphrase)

    @classmethod
    def restore(
        cls,
        blob: bytes,
        passphrase: str,
        *,
        device_id: str | None = None,
        trusted: Mapping[str, PublicSigningKey] | None = None,
    ) -> Keystore:
        """Open a backup on a new device: DecryptionFailed for a wrong passphrase.

        The new device gets fresh keys (certify and register them); the backed-up
        device keys become ``former`` so old messages stay readable.
        """
        keys = open_backup(blob, passphrase)
        taken = {d.device_id for d in keys.devices}
        new_id = device_id or new_device_id()
        while new_id in taken:
            new_id = new_device_id()
        return cls(
            keys.root,
            DeviceKeys.generate(keys.account_id, new_id),
            former=keys.devices,
            trusted=trusted,
        )

    # -- local persistence -----------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Private keys and pins as JSON-able data: keep it secret."""

        def device(d: DeviceKeys) -> dict[str, str]:
            return {
                "device_id": d.device_id,
                "encryption_secret": to_base64url(d.encryption_secret),
                "signing_seed": to_base64url(d.signing_seed),
            }

        return {
            "version": STATE_VERSION,
            "account_id": self.account_id,
            "root_seed": to_base64url(self.root.seed),
            "device": device(self.device),
            "former": [device(d) for d in self.former],
            "trusted": {a: to_base64url(k.raw) for a, k in sorted(self._trusted.items())},
            "practices": {
                p: {"admin": admin, "epoch": epoch, **self._digest_state(p)}
                for p, (admin, epoch) in sorted(self._practices.items())
            },
            "threads": {
                t: {"patient": patient, "provider_kind": kind, "provider_id": provider}
                for t, (patient, kind, provider) in sorted(self._threads.items())
            },
            "recipients": {t: list(r) for t, r in sorted(self._recipients.items())},
        }

    def _digest_state(self, practice_id: str) -> dict[str, str]:
        digest = self._practice_digests.get(practice_id)
        return {} if digest is None else {"digest": to_base64url(digest)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Keystore:
        if state.get("version") != STATE_VERSION:
            raise ValueError("unsupported keystore state version")
        account_id = str(state["account_id"])

        def device(doc: Mapping[str, str]) -> DeviceKeys:
            return DeviceKeys(
                account_id,
                doc["device_id"],
                from_base64url(doc["encryption_secret"], max_bytes=32),
                from_base64url(doc["signing_seed"], max_bytes=32),
            )

        keystore = cls(
            RootKey(from_base64url(state["root_seed"], max_bytes=32)),
            device(state["device"]),
            former=tuple(device(d) for d in state["former"]),
            trusted={
                a: PublicSigningKey(from_base64url(k, max_bytes=32))
                for a, k in state["trusted"].items()
            },
        )
        # Absent from states saved before practices, their digests, threads and
        # recipients were pinned: the state stays version 1, each part optional.
        for practice_id, pin in state.get("practices", {}).items():
            digest = pin.get("digest")
            keystore.pin_practice(
                practice_id,
                str(pin["admin"]),
                int(pin["epoch"]),
                from_base64url(str(digest), max_bytes=32) if digest is not None else None,
            )
        for thread_id, parties in state.get("threads", {}).items():
            keystore.pin_thread(
                thread_id,
                (
                    str(parties["patient"]),
                    str(parties["provider_kind"]),
                    str(parties["provider_id"]),
                ),
            )
        for thread_id, participants in state.get("recipients", {}).items():
            keystore.remember_recipients(thread_id, tuple(str(p) for p in participants))
        return keystore

    def __repr__(self) -> str:
        return (
            f"Keystore(account_id={self.account_id!r}, device_id={self.device_id!r}, "
            f"former={len(self.former)}, trusted={len(self._trusted)}, secrets=<hidden>)"
        )
