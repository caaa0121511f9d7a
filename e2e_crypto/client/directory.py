"""Whose devices may read what we send, and who really sent what we receive.

The server publishes each account's root key and device certificates, but a server
is exactly what end-to-end encryption must not trust. ``Directory`` therefore:

1. pins a peer's root key the first time it sees it (trust on first use) in the
   ``Keystore``; this account's own root key is never taken from the server;
2. refuses a listing whose root key differs from the pinned one (``RootKeyChanged``)
   until the app has shown the change and called ``accept_root_key``;
3. verifies every certificate in a listing against the *pinned* key
   (``verify_device_certificate``) and refuses the whole listing if one entry does
   not verify or disagrees with its certificate (``UntrustedDirectory``): a server
   that slips in its own device is caught, not silently skipped.

Listings are cached per account and refreshed on demand: when a sender's device is
unknown, or when the server answers ``recipients_changed``. A sender device that is
no longer listed (revoked since) is looked up in the append-only key log, so history
written by a retired device still verifies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from e2e_crypto.client.api import Api
from e2e_crypto.client.errors import NotFoundError, RootKeyChanged, UntrustedDirectory
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.errors import CryptoError
from e2e_crypto.public import PublicSigningKey, VerifiedDevice, verify_device_certificate
from e2e_crypto.safety import format_safety_number, safety_number
from e2e_crypto.wire import from_base64url, to_base64url

__all__ = ["Directory", "verify_listing"]

_CERTIFICATE_BYTES = 512


def _root_key(account_id: str, text: object) -> PublicSigningKey:
    try:
        return PublicSigningKey(from_base64url(str(text), max_bytes=32))
    except CryptoError:
        raise UntrustedDirectory(account_id, "root key is not an Ed25519 key") from None


def _verify_entry(account_id: str, root: PublicSigningKey, entry: object) -> VerifiedDevice:
    if not isinstance(entry, Mapping):
        raise UntrustedDirectory(account_id, "device entry is not an object")
    try:
        device = verify_device_certificate(
            from_base64url(str(entry.get("certificate")), max_bytes=_CERTIFICATE_BYTES),
            account_id=account_id,
            root_key=root,
        )
    except CryptoError:
        raise UntrustedDirectory(account_id, "a device certificate does not verify") from None
    # The listing's convenience fields must say what the certificate says; a mismatch
    # means someone edited the listing, and then nothing in it is believed.
    claimed = (entry.get("device_id"), entry.get("enc_key"), entry.get("sign_key"))
    actual = (
        device.device_id,
        to_base64url(device.encryption_key.raw),
        to_base64url(device.signing_key.raw),
    )
    if any(c is not None and c != a for c, a in zip(claimed, actual, strict=True)):
        raise UntrustedDirectory(account_id, "a device entry disagrees with its certificate")
    return device


def verify_listing(
    keystore: Keystore, account_id: str, listing: Mapping[str, Any]
) -> tuple[VerifiedDevice, ...]:
    """The devices of a server listing that chain to the pinned root key.

    Pins the root key on first use; raises RootKeyChanged or UntrustedDirectory.
    """
    if listing.get("account_id", account_id) != account_id:
        raise UntrustedDirectory(account_id, "listing is for another account")
    announced_text = listing.get("root_key")
    devices = listing.get("devices") or []
    if not isinstance(devices, list):
        raise UntrustedDirectory(account_id, "devices is not a list")
    if announced_text is None:
        if devices:
            raise UntrustedDirectory(account_id, "devices without a root key")
        return ()
    announced = _root_key(account_id, announced_text)
    pinned = keystore.trusted_root(account_id)
    if pinned is None:
        keystore.trust(account_id, announced)
        pinned = announced
    elif pinned != announced:
        raise RootKeyChanged(account_id, pinned.raw, announced.raw)
    verified = tuple(_verify_entry(account_id, pinned, entry) for entry in devices)
    if len({d.device_id for d in verified}) != len(verified):
        raise UntrustedDirectory(account_id, "a device is listed twice")
    return verified


class Directory:
    """Verified device lists of the accounts this device talks to."""

    def __init__(self, api: Api, keystore: Keystore) -> None:
        self._api = api
        self._keystore = keystore
        self._devices: dict[str, tuple[VerifiedDevice, ...]] = {}
        self._retired: dict[tuple[str, str], VerifiedDevice] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def devices(
        self, account_id: str, *, refresh: bool = False
    ) -> tuple[VerifiedDevice, ...]:
        """The account's active, verified devices (cached unless ``refresh``)."""
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            if refresh or account_id not in self._devices:
                listing = await self._api.account_devices(account_id)
                self._devices[account_id] = verify_listing(self._keystore, account_id, listing)
            return self._devices[account_id]

    async def device(self, account_id: str, device_id: str) -> VerifiedDevice:
        """A sender's device, verified: cache, then a fresh listing, then the key log.

        Raises NotFoundError if no verifiable certificate for it exists.
        """
        for refresh in (False, True):
            for d in await self.devices(account_id, refresh=refresh):
                if d.device_id == device_id:
                    return d
        retired = self._retired.get((account_id, device_id))
        if retired is None:
            retired = await self._from_key_log(account_id, device_id)
            self._retired[(account_id, device_id)] = retired
        return retired

    async def _from_key_log(self, account_id: str, device_id: str) -> VerifiedDevice:
        pinned = self._keystore.trusted_root(account_id)
        if pinned is None:  # devices() above has pinned it if the account has one
            raise NotFoundError(404, "not_found", "unknown device")
        for entry in await self._api.key_log(account_id):
            if entry.get("event") == "device_added" and entry.get("device_id") == device_id:
                try:
                    return _verify_entry(account_id, pinned, entry)
                except UntrustedDirectory:
                    continue  # certified by an earlier root key: not verifiable now
        raise NotFoundError(404, "not_found", "unknown device")

    def accept_root_key(self, account_id: str, root_key: bytes) -> None:
        """Pin a peer's new root key after the user has checked it (safety number)."""
        self._keystore.trust(account_id, PublicSigningKey(root_key))
        self._devices.pop(account_id, None)
        self._retired = {k: v for k, v in self._retired.items() if k[0] != account_id}

    def forget(self, account_id: str | None = None) -> None:
        """Drop cached listings (all, or one account's); pins are kept."""
        if account_id is None:
            self._devices.clear()
        else:
            self._devices.pop(account_id, None)

    def safety_number(self, account_id: str) -> str:
        """The 60-digit number to compare with ``account_id`` out of band, grouped by 5."""
        peer = self._keystore.trusted_root(account_id)
        if peer is None:
            raise LookupError("no root key pinned for this account yet")
        me = self._keystore
        return format_safety_number(
            safety_number(me.account_id, me.root.public_key, account_id, peer)
        )
