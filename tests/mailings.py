"""Prevention mailings in tests: a practice with a staff group, patients, campaigns.

Everything a person does goes through the real HTTP API (and the SDK's mailing and
roster modules). Large audiences (thousands of patients) are built the way a
migration would: care links through the real ``CareLinkStore``, mailing consents
through the real ``ConsentStore`` and recipients
through the real ``CampaignStore``, with real sealed slips, since registering
thousands of accounts over HTTP would take the test's whole budget in argon2id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.model.campaigns import Campaign, CampaignState
from chat_server.storage.campaigns import CampaignStore, Recipient
from chat_server.storage.consents import ConsentStore
from chat_server.storage.practices import CareLinkStore, LinkStatus, ProviderKind
from e2e_crypto.broadcast import SealedBroadcast, seal_broadcast
from e2e_crypto.groups import GroupEpochKey, create_epoch_commit
from e2e_crypto.keys import DeviceKeys, RootKey
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import to_base64url
from moderation.consents import TEXT_VERSIONS, ConsentAction, ConsentRecord, Purpose
from tests.actors import Actor, Client, Outbox, actor
from tests.faults.harness import until
from tests.practices import create_practice

Db = AsyncDatabase[dict[str, Any]]


def verified(person: Actor, device_id: str) -> VerifiedDevice:
    keys = person.devices[device_id]
    return keys.verified(person.root.certify(keys), person.root.public_key)


@dataclass
class PracticeDesk:
    """A practice admin at the console: its device and the staff group's epoch key."""

    admin: Actor
    practice_id: str
    device: DeviceKeys
    staff_key: GroupEpochKey

    @property
    def group(self) -> str:
        return self.staff_key.group_id


async def practice_desk(client: Client, outbox: Outbox, email: str) -> PracticeDesk:
    admin = await actor(client, outbox, email, "practice_admin")
    practice_id = await create_practice(admin)
    local, _, domain = email.partition("@")
    device_id = f"{local}-{domain.split('.')[0]}-console"  # device ids are global
    device = await admin.add_device(device_id)
    group = f"staff-{practice_id}"[:64]
    await admin.call("POST", "/api/v1/groups", {"group_id": group}, expect=201)
    commit, key = create_epoch_commit(
        admin.root,
        admin_account=admin.account_id,
        group_id=group,
        members=[verified(admin, device_id)],
        previous=None,
    )
    await admin.call(
        "POST",
        f"/api/v1/groups/{group}/epochs",
        {"commit": to_base64url(commit.encode())},
        expect=201,
    )
    return PracticeDesk(admin, practice_id, device, key)


async def linked_patient(
    client: Client, outbox: Outbox, desk: PracticeDesk, email: str, *, consents: bool = True
) -> Actor:
    """A patient invited by the practice who accepted: an active care link, and
    (``consents``) their consent to the practice's prevention mailings (opt-in)."""
    await desk.admin.call(
        "POST",
        "/api/v1/invitations",
        {
            "provider": {"kind": "practice", "id": desk.practice_id},
            "channel": "email",
            "to": email,
        },
        expect=202,
    )
    patient = await accept_invitation(client, outbox, email)
    if consents:
        await grant_mailings(patient, desk.practice_id)
    return patient


async def grant_mailings(patient: Actor, practice_id: str) -> None:
    """The patient consents to the practice's prevention mailings (current text)."""
    versions = (await patient.call("GET", "/api/v1/consents"))["text_versions"]
    await patient.call(
        "POST",
        "/api/v1/consents",
        {
            "purpose": "prevention_mailings",
            "version": versions["prevention_mailings"],
            "scope": practice_id,
        },
        expect=204,
    )


async def accept_invitation(client: Client, outbox: Outbox, email: str) -> Actor:
    code = outbox.last_to(email).body.split("/invite#", 1)[1].split()[0]
    patient = await actor(client, outbox, email)
    await patient.call("POST", "/api/v1/invitations/accept", {"code": code}, expect=201)
    await patient.publish_root_key()
    await patient.add_device(email.split("@")[0] + "-phone")
    return patient


def sealed_for(
    desk: PracticeDesk, campaign_id: str, text: bytes, devices: Sequence[VerifiedDevice]
) -> SealedBroadcast:
    return seal_broadcast(
        desk.device,
        campaign_id=campaign_id,
        client_msg_id=campaign_id,
        body=text,
        to_devices=devices,
    )


async def campaign_state(desk: PracticeDesk, campaign_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await desk.admin.call("GET", f"/api/v1/campaigns/{campaign_id}")
    return body


async def until_state(
    desk: PracticeDesk, campaign_id: str, state: str, seconds: float = 30
) -> dict[str, Any]:
    async def reached() -> bool:
        current: str = (await campaign_state(desk, campaign_id))["state"]
        return current == state

    await until(reached, seconds, f"campaign {state}")
    return await campaign_state(desk, campaign_id)


def synthetic_patients(count: int, prefix: str = "p") -> list[VerifiedDevice]:
    """``count`` patients with one certified device each (no accounts: no e-mail).

    Each device is its own key pair, certified and verified; one root key certifies
    them all (the fan-out reads slips, never certificates), which saves a fifth of
    the key work of a 20,000-patient audience."""
    root = RootKey.generate()
    devices = []
    for n in range(count):
        keys = DeviceKeys.generate(f"{prefix}{n:06d}", "d1")
        devices.append(keys.verified(root.certify(keys), root.public_key))
    return devices


async def seed_campaign(
    db: Db,
    *,
    practice_id: str,
    sender: DeviceKeys,
    campaign_id: str,
    patients: Sequence[VerifiedDevice],
    now: datetime,
    link: bool = True,
    consent: bool = True,
) -> None:
    """A scheduled campaign to ``patients`` (linked to the practice and consenting to
    its mailings), as the stores hold it after the practice's client submitted it."""
    if consent:
        purpose = Purpose.PREVENTION_MAILINGS
        await ConsentStore(db).add_many(
            [
                ConsentRecord(
                    d.account_id,
                    purpose,
                    practice_id,
                    ConsentAction.GRANT,
                    TEXT_VERSIONS[purpose],
                    now,
                )
                for d in patients
            ]
        )
    if link:
        # One write for all: one round trip per link took most of a 20,000-patient
        # set-up (minutes on a loaded CI machine).
        await CareLinkStore(db).add_many(
            [(f"link-{d.account_id}", d.account_id) for d in patients],
            ProviderKind.PRACTICE,
            practice_id,
            LinkStatus.ACTIVE,
            "invitation",
            now,
        )
    sealed = seal_broadcast(
        sender,
        campaign_id=campaign_id,
        client_msg_id=campaign_id,
        body=b"Flu vaccination is open",
        to_devices=patients,
    )
    store = CampaignStore(db)
    await store.create(
        Campaign(
            id=campaign_id,
            practice_id=practice_id,
            created_by=sender.account_id,
            state=CampaignState.DRAFT,
            created_at=now,
            body=sealed.body,
        )
    )
    recipients = [
        Recipient(d.account_id, (sealed.slips[(d.account_id, d.device_id)],)) for d in patients
    ]
    for i in range(0, len(recipients), 1000):
        await store.add_recipients(campaign_id, recipients[i : i + 1000], now)
