"""People using the SDK against a real server: register, verify by e-mail, log in.

Everything goes through ``CareChatClient`` as a practice's software would; the only
shortcut is reading the verification e-mail from the test outbox.
"""

from __future__ import annotations

from typing import Literal

from chat_server.mail import MemoryOutbox
from e2e_crypto.client import Backoff, CareChatClient, Provider

PASSWORD = "correct horse battery"
PASSPHRASE = "seven tidy lanterns glow at dusk"
FAST = Backoff(initial=0.05, factor=2.0, maximum=0.5)
Role = Literal["patient", "practitioner", "practice_admin"]


def verification_token(outbox: MemoryOutbox, email: str) -> str:
    return outbox.last_to(email).body.split("/verify#", 1)[1].split()[0]


class People:
    """Creates SDK clients and closes every one of them at the end of the test."""

    def __init__(self, base_url: str, outbox: MemoryOutbox) -> None:
        self.base_url = base_url
        self.outbox = outbox
        self._clients: list[CareChatClient] = []

    def client(self, base_url: str | None = None) -> CareChatClient:
        sdk = CareChatClient(base_url or self.base_url, backoff=FAST)
        self._clients.append(sdk)
        return sdk

    async def register(self, email: str, role: Role = "patient") -> CareChatClient:
        """A verified, logged-in account without keys."""
        sdk = self.client()
        registration = {"scheme": "riziv", "number": "12345678901"}
        await sdk.register(
            email,
            PASSWORD,
            role,
            email.split("@")[0],
            registration if role == "practitioner" else None,
        )
        await sdk.verify_email(verification_token(self.outbox, email), PASSWORD)
        await sdk.login(email, PASSWORD)
        return sdk

    async def join(
        self, email: str, role: Role = "patient", device_id: str | None = None
    ) -> CareChatClient:
        """A verified, logged-in account whose first device has published keys."""
        sdk = await self.register(email, role)
        await sdk.create_keys(device_id)
        return sdk

    async def another_device(
        self, email: str, device_id: str | None = None, base_url: str | None = None
    ) -> CareChatClient:
        """The same person on a new device, keys restored from the passphrase backup."""
        sdk = self.client(base_url)
        await sdk.login(email, PASSWORD)
        await sdk.restore_keys(PASSPHRASE, device_id)
        return sdk

    async def close(self) -> None:
        for sdk in self._clients:
            await sdk.close()


async def link(patient: CareChatClient, practitioner: CareChatClient) -> None:
    """An active care link: the patient asks, the practitioner accepts."""
    asked = await patient.api.request_care_link(Provider("practitioner", practitioner.account_id))
    await practitioner.api.answer_care_link(asked["care_link_id"], accept=True)
