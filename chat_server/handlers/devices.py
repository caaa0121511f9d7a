"""The key directory: root keys, device certificates, revocation and the key log.

The server checks every certificate against the account's root key before listing a
device, but clients must not trust the server for that: they verify the chain
themselves (``e2e_crypto.public.verify_device_certificate``) and show a root-key
change. The append-only key log lets them notice a device list that was rewritten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chat_server.clock import Clock
from chat_server.errors import (
    BadRequest,
    DeviceIdTaken,
    DeviceLimitReached,
    InvalidSignature,
    NotFound,
    RootKeyRequired,
)
from chat_server.handlers.access import AccessGate
from chat_server.handlers.audit import Auditor
from chat_server.handlers.directory import DeviceDirectory
from chat_server.handlers.throttle import Throttle, subject_of
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.devices import Device, DeviceExists, DeviceStore
from chat_server.storage.retired_keys import RetiredKeys, RetiredKeyStore
from e2e_crypto.errors import CryptoError
from e2e_crypto.public import PublicSigningKey, verify_device_certificate
from e2e_crypto.wire import from_base64url, to_base64url
from moderation.audit import AuditAction
from moderation.limits import Action

MAX_DEVICES = 20
_KEY_TEXT_BYTES = 64


@dataclass(frozen=True, slots=True)
class KeyRecords:
    """What the key directory reads: live accounts and their devices, and the public
    keys kept for erased accounts' retained threads (storage/retired_keys.py)."""

    accounts: AccountStore
    devices: DeviceStore
    retired: RetiredKeyStore


class DeviceService:
    def __init__(
        self,
        *,
        records: KeyRecords,
        gate: AccessGate,
        clock: Clock,
        throttle: Throttle,
        auditor: Auditor,
        directory: DeviceDirectory,
        on_revoked: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self._retired = records.retired
        self._accounts = records.accounts
        self._devices = records.devices
        self._gate = gate
        self._clock = clock
        self._throttle = throttle
        self._audit = auditor
        self._directory = directory
        self._on_revoked = on_revoked

    async def set_root_key(self, who: Principal, root_key_b64: str) -> None:
        """Sets the account's root key once. Replacing it means a new identity: every
        device is revoked and the change is logged, so peers are warned."""
        key = _public_key(root_key_b64)
        account = await self._accounts.get(who.account_id)
        assert account is not None
        if account.root_key == to_base64url(key.raw):
            return
        now = self._clock.now()
        if account.root_key is not None:
            for device_id in await self._devices.revoke_all(who.account_id, now):
                await self._devices.append_log(
                    who.account_id, now, {"event": "device_revoked", "device_id": device_id}
                )
                await self._on_revoked(who.account_id, device_id)
        self._directory.invalidate(who.account_id)
        await self._accounts.set_fields(who.account_id, root_key=to_base64url(key.raw))
        await self._devices.append_log(
            who.account_id, now, {"event": "root_key_set", "root_key": to_base64url(key.raw)}
        )

    async def add_device(self, who: Principal, certificate_b64: str, ip: str) -> Device:
        account = await self._accounts.get(who.account_id)
        assert account is not None
        if account.root_key is None:
            raise RootKeyRequired("publish the account's root key first")
        try:
            raw = from_base64url(certificate_b64, max_bytes=512)
            verified = verify_device_certificate(
                raw,
                account_id=who.account_id,
                root_key=PublicSigningKey(from_base64url(account.root_key, max_bytes=32)),
            )
        except CryptoError:
            raise InvalidSignature("the device certificate does not verify") from None
        if len(await self._devices.active([who.account_id])) >= MAX_DEVICES:
            raise DeviceLimitReached(f"at most {MAX_DEVICES} active devices; revoke one first")
        device = Device(
            id=verified.device_id,
            account_id=who.account_id,
            enc_key=to_base64url(verified.encryption_key.raw),
            sign_key=to_base64url(verified.signing_key.raw),
            certificate=to_base64url(raw),
            created_at=self._clock.now(),
            revoked_at=None,
        )
        try:
            await self._devices.add(device)
        except DeviceExists:
            raise DeviceIdTaken("that device id is taken; pick another") from None
        self._directory.invalidate(who.account_id)
        await self._devices.append_log(
            who.account_id,
            device.created_at,
            {"event": "device_added", "device_id": device.id, "certificate": device.certificate},
        )
        await self._audit.record(
            AuditAction.DEVICE_ADDED, actor=who.account_id, subject=device.id, ip=ip
        )
        return device

    async def revoke_device(self, who: Principal, device_id: str, ip: str) -> None:
        now = self._clock.now()
        if not await self._devices.revoke(who.account_id, device_id, now):
            raise NotFound()
        self._directory.invalidate(who.account_id)
        await self._devices.append_log(
            who.account_id, now, {"event": "device_revoked", "device_id": device_id}
        )
        await self._audit.record(
            AuditAction.DEVICE_REVOKED, actor=who.account_id, subject=device_id, ip=ip
        )
        await self._on_revoked(who.account_id, device_id)

    async def list_devices(self, who: Principal, account_id: str) -> dict[str, Any]:
        await self._throttle.action(Action.KEY_LOOKUP, subject_of(who))
        try:
            account = await self._gate.directory_entry(who, account_id)
        except NotFound:
            retired = await self._retired_for(who, account_id)
            # Nothing to encrypt to: the root key only, to pin and verify the key log.
            return {"account_id": account_id, "root_key": retired.root_key, "devices": []}
        devices = await self._devices.active([account_id])
        return {
            "account_id": account_id,
            "root_key": account.root_key,
            "devices": [d.to_public() for d in devices],
        }

    async def key_log(self, who: Principal, account_id: str, after: int) -> list[dict[str, Any]]:
        await self._throttle.action(Action.KEY_LOOKUP, subject_of(who))
        try:
            await self._gate.directory_entry(who, account_id)
        except NotFound:
            retired = await self._retired_for(who, account_id)
            return [
                {**entry, "account_id": account_id, "at": entry["at"].isoformat()}
                for entry in retired.key_log
                if entry["seq"] > after
            ]
        return await self._devices.log(account_id, after)

    async def _retired_for(self, who: Principal, account_id: str) -> RetiredKeys:
        """An erased account's kept keys, for the other party of a retained thread
        only; the same 404 as an unknown id for anyone else (storage/retired_keys.py)."""
        retired = await self._retired.for_reader(account_id, who.account_id)
        if retired is None:
            raise NotFound()
        return retired


def _public_key(text: str) -> PublicSigningKey:
    try:
        return PublicSigningKey(from_base64url(text, max_bytes=_KEY_TEXT_BYTES))
    except CryptoError:
        raise BadRequest(fields={"root_key": ["an Ed25519 public key, base64url"]}) from None
