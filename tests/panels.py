"""GP panels in tests: verified GPs, signed epochs, sealed questions and answers,
through the real HTTP API and the real crypto (the server only ever sees ciphertext)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient

from chat_server.appkeys import CLOCK
from chat_server.clock import ManualClock
from e2e_crypto.envelope import seal_message
from e2e_crypto.groups import GroupEpochKey, create_epoch_commit
from e2e_crypto.groups_public import EpochCommit
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import to_base64url
from tests.actors import Actor, Client, Outbox, actor, login, register
from tests.practices import verify_registration


def question_id() -> str:
    return secrets.token_urlsafe(16)  # 22 base64url characters, like thread ids


def verified(person: Actor) -> list[VerifiedDevice]:
    return [
        keys.verified(person.root.certify(keys), person.root.public_key)
        for keys in person.devices.values()
    ]


async def gp(client: Client, outbox: Outbox, platform: Actor, email: str) -> Actor:
    person = await actor(client, outbox, email, "practitioner")
    await verify_registration(platform, person)
    await person.publish_root_key()
    await person.add_device(email.split("@")[0].replace(".", "-") + "-desk")
    return person


async def many_gps(
    client: Client, outbox: Outbox, platform_session: Callable[[], Awaitable[Actor]], count: int
) -> list[Actor]:
    """``count`` verified GPs, more than one address may register in an hour: the
    clock jumps an hour past the limit between batches, and everyone (the platform
    admin too, from ``platform_session``) logs in afterwards, with fresh sessions."""
    for i in range(count):
        await register(client, outbox, f"gp{i}@example.org", "practitioner")
        if i % 9 == 8:
            await _jump(client)
    platform = await platform_session()
    doctors = []
    for i in range(count):
        email = f"gp{i}@example.org"
        session = await login(client, email)
        person = Actor(client, email, session["account_id"], session["token"], "practitioner")
        await verify_registration(platform, person)
        await person.publish_root_key()
        await person.add_device(f"gp{i}-desk")
        doctors.append(person)
    return doctors


async def _jump(client: Client) -> None:
    clock = client.app[CLOCK] if isinstance(client, TestClient) else None
    assert isinstance(clock, ManualClock), "registering many needs the test's ManualClock"
    clock.advance(3601)


async def patient(client: Client, outbox: Outbox, email: str) -> Actor:
    person = await actor(client, outbox, email)
    await person.publish_root_key()
    await person.add_device(email.split("@")[0].replace(".", "-") + "-phone")
    return person


@dataclass
class PanelHandle:
    admin: Actor
    panel_id: str
    commits: list[EpochCommit] = field(default_factory=list)
    keys: list[GroupEpochKey] = field(default_factory=list)

    @property
    def current(self) -> EpochCommit:
        return self.commits[-1]

    async def commit(self, members: list[Actor], expect: int = 201) -> Any:
        commit, key = create_epoch_commit(
            self.admin.root,
            admin_account=self.admin.account_id,
            group_id=self.panel_id,
            members=[d for m in members for d in verified(m)],
            previous=self.commits[-1] if self.commits else None,
        )
        body = await self.admin.call(
            "POST",
            f"/api/v1/panels/{self.panel_id}/epochs",
            {"commit": to_base64url(commit.encode())},
            expect=expect,
        )
        if expect == 201:
            self.commits.append(commit)
            self.keys.append(key)
        return body


async def create_panel(
    admin: Actor, members: list[Actor], *, panel_id: str = "covid", **settings: int
) -> PanelHandle:
    """A panel with ``settings`` (capacity, lease_seconds, ...)."""
    await admin.call(
        "POST",
        "/api/v1/panels",
        {"panel_id": panel_id, "name": "Covid-19 questions", "settings": settings},
        expect=201,
    )
    handle = PanelHandle(admin, panel_id)
    await handle.commit(members)
    return handle


async def online(*gps: Actor, panel_id: str = "covid") -> None:
    for person in gps:
        await person.call("PUT", f"/api/v1/panels/{panel_id}/presence")


def seal(
    sender: Actor,
    question: str,
    client_msg_id: str,
    body: bytes,
    *,
    patient_devices: list[VerifiedDevice],
    epoch: EpochCommit,
) -> str:
    keys = next(iter(sender.devices.values()))
    return to_base64url(
        seal_message(
            keys,
            thread_id=question,
            client_msg_id=client_msg_id,
            body=body,
            to_devices=patient_devices,
            to_epochs=[epoch],
            group=epoch.ref,
        )
    )


async def ask(
    person: Actor,
    panel: PanelHandle,
    body: bytes = b"Fever for two days, what should I do?",
    *,
    qid: str | None = None,
    expect: int = 201,
    epoch: EpochCommit | None = None,
) -> Any:
    qid = qid or question_id()
    envelope = seal(
        person,
        qid,
        "q1",
        body,
        patient_devices=verified(person),
        epoch=epoch or panel.current,
    )
    return await person.call(
        "POST",
        f"/api/v1/panels/{panel.panel_id}/questions",
        {"question_id": qid, "client_msg_id": "q1", "envelope": envelope},
        expect=expect,
    )


async def answer(
    doctor: Actor,
    panel: PanelHandle,
    qid: str,
    patient_devices: list[VerifiedDevice],
    *,
    client_msg_id: str = "a1",
    is_answer: bool = True,
    expect: int = 201,
) -> Any:
    envelope = seal(
        doctor,
        qid,
        client_msg_id,
        b"Rest, fluids, paracetamol; call us if it gets worse.",
        patient_devices=patient_devices,
        epoch=panel.current,
    )
    return await doctor.call(
        "POST",
        f"/api/v1/panel-questions/{qid}/messages",
        {"client_msg_id": client_msg_id, "envelope": envelope, "answer": is_answer},
        expect=expect,
    )
