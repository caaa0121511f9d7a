"""Test actors with real keys: an account, its devices, and how others see them."""

from __future__ import annotations

from dataclasses import dataclass

from e2e_crypto.keys import AccountKeys, DeviceKeys, RootKey
from e2e_crypto.public import VerifiedDevice


@dataclass(frozen=True, slots=True)
class Person:
    keys: AccountKeys

    @classmethod
    def new(cls, account_id: str, *device_ids: str) -> Person:
        devices = tuple(DeviceKeys.generate(account_id, d) for d in device_ids or ("d1",))
        return cls(AccountKeys(account_id, RootKey.generate(), devices))

    @property
    def account_id(self) -> str:
        return self.keys.account_id

    @property
    def device(self) -> DeviceKeys:
        return self.keys.devices[0]

    def verified(self, device_id: str | None = None) -> VerifiedDevice:
        device = self.keys.device(device_id) if device_id else self.device
        return device.verified(self.keys.root.certify(device), self.keys.root.public_key)

    def all_verified(self) -> list[VerifiedDevice]:
        return [self.verified(d.device_id) for d in self.keys.devices]
