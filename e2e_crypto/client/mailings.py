"""Prevention mailings from the practice's SDK: seal once, submit in chunks, schedule.

``send_campaign`` seals the body once for every device of every chosen patient
(``e2e_crypto.broadcast``), creates the campaign with the body, uploads each
patient's slips in chunks the server's body limit allows, and schedules it. Patients
read theirs with ``read_announcements``, and may report one to the moderators with
``report_announcement`` (its text and franking key revealed; the server checks them
against its stamp of the mailing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from e2e_crypto.broadcast import open_broadcast, seal_broadcast
from e2e_crypto.client.api import Api
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import from_base64url, to_base64url

RECIPIENTS_CHUNK: Final = 200
_MAX_BODY: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class ReceivedMailing:
    campaign_id: str
    practice_id: str
    text: bytes
    read: bool
    # What opens the mailing's franking commitment: revealed only by a report.
    franking_key: bytes = field(default=b"", repr=False)


async def send_campaign(
    api: Api,
    sender: DeviceKeys,
    *,
    practice_id: str,
    campaign_id: str,
    text: bytes,
    devices: Mapping[str, Sequence[VerifiedDevice]],
    send_at: datetime | None = None,
) -> dict[str, Any]:
    """Seals ``text`` for ``devices`` (patient -> their verified devices), creates,
    fills and schedules the campaign; the server's answer to the schedule."""
    everyone = [d for patient_devices in devices.values() for d in patient_devices]
    sealed = seal_broadcast(
        sender, campaign_id=campaign_id, client_msg_id=campaign_id, body=text, to_devices=everyone
    )
    await api.request(
        "POST",
        f"/api/v1/practices/{practice_id}/campaigns",
        {"campaign_id": campaign_id, "body": to_base64url(sealed.body)},
    )
    patients = [p for p, d in devices.items() if d]
    for i in range(0, len(patients), RECIPIENTS_CHUNK):
        chunk = patients[i : i + RECIPIENTS_CHUNK]
        recipients = [
            {
                "patient": p,
                "slips": [to_base64url(sealed.slips[(p, d.device_id)]) for d in devices[p]],
            }
            for p in chunk
        ]
        await api.request(
            "POST", f"/api/v1/campaigns/{campaign_id}/recipients", {"recipients": recipients}
        )
    schedule = {"send_at": send_at.isoformat() if send_at else None}
    answer: dict[str, Any] = await api.request(
        "POST", f"/api/v1/campaigns/{campaign_id}/schedule", schedule
    )
    return answer


async def read_announcements(
    api: Api, opener: DeviceKeys, senders: Mapping[str, VerifiedDevice]
) -> list[ReceivedMailing]:
    """Opens every announcement this device has a slip for; ``senders`` maps a
    sending account to its verified device (from the directory)."""
    listing = await api.request("GET", "/api/v1/announcements")
    found: list[ReceivedMailing] = []
    for item in listing["announcements"]:
        body = from_base64url(item["body"], max_bytes=_MAX_BODY)
        for slip_text in item["slips"]:
            slip = from_base64url(slip_text, max_bytes=1024)
            for sender in senders.values():
                try:
                    opened = open_broadcast(
                        body,
                        slip,
                        opener=opener,
                        sender=sender,
                        campaign_id=item["campaign_id"],
                        client_msg_id=item["campaign_id"],
                    )
                except Exception:  # noqa: S112 - not this device's slip, or not this sender
                    continue
                found.append(
                    ReceivedMailing(
                        item["campaign_id"],
                        item["practice_id"],
                        opened.body,
                        item["read"],
                        franking_key=opened.franking_key,
                    )
                )
    return found


async def report_announcement(api: Api, mailing: ReceivedMailing, category: str = "other") -> str:
    """Reports a mailing this account received to the moderators: its text and franking
    key are revealed. Returns ``"verified"`` or ``"unverifiable"``."""
    answer = await api.report_mailing(
        mailing.campaign_id, mailing.text, mailing.franking_key, category
    )
    return str(answer["verification"])
