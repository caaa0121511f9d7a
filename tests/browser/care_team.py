"""The other side of the widget's conversations, set up as a practice's software would.

A practice with a verified practitioner (the Python SDK against the real ``carechat
serve`` of the browser tests), patients made through the SDK when a test is not
about signing up, and the server's file outbox read as a person reads their e-mail.
The only operator shortcut: the platform admin is created in the server's database,
as ``carechat admin create-admin`` does.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, Final, Literal
from uuid import uuid4

import aiohttp
from pymongo import AsyncMongoClient

from chat_server.admin import create_admin
from chat_server.clock import SystemClock
from e2e_crypto.client import Backoff, CareChatClient, Provider

PASSWORD: Final = "correct horse battery staple"
PASSPHRASE: Final = "seven tidy lanterns glow at dusk"
FAST: Final = Backoff(initial=0.05, factor=2.0, maximum=0.5)
REGISTRATION: Final = {"scheme": "riziv", "number": "12345678901"}
MAIL_TIMEOUT: Final = 10.0


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:8]}@example.org"


def _mails(outbox: Path) -> list[EmailMessage]:
    if not outbox.is_dir():
        return []
    files = sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [message_from_bytes(f.read_bytes(), policy=default) for f in files]


async def link_in_mail(outbox: Path, to: str, marker: str, besides: str | None = None) -> str:
    """The newest link containing ``marker`` (``/verify#``, ``/invite#``) mailed to
    ``to``; with ``besides``, the newest other than that one (waiting for it)."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for mail in reversed(_mails(outbox)):
            if mail["To"] != to:
                continue
            body = mail.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            for word in text.split():
                if marker in word and word != besides:
                    return str(word)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail with {marker} to {to}")


Role = Literal["patient", "practitioner", "practice_admin"]


class People:
    """SDK clients against the browser tests' server, all closed at the end."""

    def __init__(self, base_url: str, outbox: Path) -> None:
        self.base_url = base_url
        self.outbox = outbox
        self._clients: list[CareChatClient] = []
        self._sessions: list[aiohttp.ClientSession] = []
        self._addresses = secrets.randbelow(1 << 20)

    def client(self) -> CareChatClient:
        """A client as if from its own address: the server trusts the loopback as a
        proxy (conftest), so per-address limits see one person, not the whole suite."""
        self._addresses += 1
        n = self._addresses
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        session = aiohttp.ClientSession(headers={"X-Forwarded-For": address})
        self._sessions.append(session)
        sdk = CareChatClient(self.base_url, session=session, backoff=FAST)
        self._clients.append(sdk)
        return sdk

    async def person(
        self, email: str, role: Role = "patient", name: str | None = None
    ) -> CareChatClient:
        """A verified, logged-in account without keys."""
        sdk = self.client()
        registration = REGISTRATION if role == "practitioner" else None
        await sdk.register(email, PASSWORD, role, name or email.split("@")[0], registration)
        token = (await link_in_mail(self.outbox, email, "/verify#")).split("#", 1)[1]
        await sdk.verify_email(token, PASSWORD)
        await sdk.login(email, PASSWORD)
        return sdk

    async def operator(self, mongo_uri: str, db_name: str) -> CareChatClient:
        """A platform admin, created in the database as ``carechat admin create-admin``
        does."""
        email = unique_email("operator")
        password = "an operator's long passphrase"
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
        try:
            await create_admin(mongo[db_name], SystemClock(), email, password)
        finally:
            await mongo.close()
        sdk = self.client()
        await sdk.login(email, password)
        return sdk

    async def close(self) -> None:
        for sdk in self._clients:
            await sdk.close()
        for session in self._sessions:
            await session.close()


@dataclass(frozen=True, slots=True)
class CareTeam:
    """A practice whose signed membership list names one verified practitioner."""

    practice_id: str
    admin: CareChatClient
    practitioner: CareChatClient

    async def accept_link_request(self, patient_id: str) -> None:
        """The practice answers a patient's request to be linked to it."""
        for link in await self.practitioner.api.care_links():
            if link["patient_id"] == patient_id and link["status"] == "requested":
                await self.practitioner.api.answer_care_link(link["care_link_id"], accept=True)
                return
        raise AssertionError("no pending link request from this patient")

    async def link(self, patient: CareChatClient) -> None:
        """An active care link between ``patient`` and the practice."""
        await patient.api.request_care_link(Provider("practice", self.practice_id))
        await self.accept_link_request(patient.account_id)


PRACTITIONER_NAME: Final = "Dr Anna Peeters"
PRACTICE_NAME: Final = "Praktijk Zuid"


async def care_team(people: People, mongo_uri: str, db_name: str) -> CareTeam:
    admin = await people.person(unique_email("admin"), "practice_admin", PRACTICE_NAME)
    await admin.create_keys()
    practitioner = await people.person(unique_email("doctor"), "practitioner", PRACTITIONER_NAME)
    await practitioner.create_keys()
    operator = await people.operator(mongo_uri, db_name)
    await operator.api.request(
        "POST", f"/api/v1/admin/accounts/{practitioner.account_id}/verify-registration"
    )
    practice_id = str((await admin.api.create_practice(PRACTICE_NAME))["practice_id"])
    await admin.api.propose_member(practice_id, practitioner.account_id, "practitioner")
    await practitioner.api.accept_membership(practice_id)
    await admin.publish_membership(practice_id, {practitioner.account_id: "practitioner"})
    return CareTeam(practice_id, admin, practitioner)
