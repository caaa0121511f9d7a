"""People in tests: register, verify, log in and hold keys, through the real HTTP API.

Nothing here reaches into the server's internals: an actor does what a client does,
reading the verification link from the outbox like a person reads their e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from e2e_crypto.keys import DeviceKeys, RootKey
from e2e_crypto.wire import to_base64url
from tests.servers import FileOutboxReader, UrlClient

Client = TestClient[web.Request, web.Application] | UrlClient
Outbox = MemoryOutbox | FileOutboxReader
PASSWORD = "correct horse battery"


@dataclass
class Actor:
    client: Client
    email: str
    account_id: str
    token: str
    role: str
    root: RootKey = field(default_factory=RootKey.generate)
    devices: dict[str, DeviceKeys] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, json: Any = None, expect: int = 200) -> Any:
        response = await self.client.request(method, path, json=json, headers=self.auth)
        assert response.status == expect, (response.status, await response.text())
        if response.status == 204:
            return None
        return await response.json(content_type=None)

    async def publish_root_key(self) -> None:
        await self.call(
            "PUT",
            "/api/v1/accounts/me/root-key",
            {"root_key": to_base64url(self.root.public_key.raw)},
            expect=204,
        )

    async def add_device(self, device_id: str) -> DeviceKeys:
        keys = DeviceKeys.generate(self.account_id, device_id)
        certificate = self.root.certify(keys)
        await self.call(
            "POST",
            "/api/v1/devices",
            {"certificate": to_base64url(certificate.encode())},
            expect=201,
        )
        self.devices[device_id] = keys
        return keys

    async def ticket(self, device_id: str | None = None) -> str:
        body = await self.call("POST", "/api/v1/ws-tickets", {"device_id": device_id}, expect=201)
        return str(body["ticket"])


def verification_token(outbox: Outbox, email: str) -> str:
    return outbox.last_to(email).body.split("/verify#", 1)[1].split()[0]


async def register(
    client: Client,
    outbox: Outbox,
    email: str,
    role: str = "patient",
    *,
    password: str = PASSWORD,
    registration: dict[str, str] | None = None,
) -> str:
    body: dict[str, Any] = {
        "email": email,
        "password": password,
        "role": role,
        "display_name": email.split("@")[0],
    }
    if role == "practitioner":
        body["registration"] = registration or {"scheme": "riziv", "number": "1234567890"}
    response = await client.post("/api/v1/accounts", json=body)
    assert response.status == 202, await response.text()
    verify = await client.post(
        "/api/v1/accounts/verify",
        json={"token": verification_token(outbox, email), "password": password},
    )
    assert verify.status == 200, await verify.text()
    return str((await verify.json())["account_id"])


async def login(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    response = await client.post(
        "/api/v1/sessions", json={"email": email, "password": password, **extra}
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def actor(client: Client, outbox: Outbox, email: str, role: str = "patient") -> Actor:
    account_id = await register(client, outbox, email, role)
    session = await login(client, email)
    return Actor(client, email, account_id, session["token"], role)


async def app_client(
    aiohttp_client: Any,
    settings: Settings,
    clock: ManualClock,
    outbox: MemoryOutbox,
    **changes: Any,
) -> TestClient[web.Request, web.Application]:
    """A test client of an app built with ``changes`` to the test settings."""
    app = create_app(replace(settings, **changes), clock=clock, mailer=outbox, sms=outbox)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
    return client
