"""A report to the GP through the SDK: marked as one, sent only with the patient's
consent, and never shown when it arrives unmarked."""

from __future__ import annotations

import pytest

from e2e_crypto.client import ForbiddenError, ReportToGp
from e2e_crypto.client.messages import Unreadable
from e2e_crypto.client.payloads import encode_payload
from e2e_crypto.envelope import seal_message
from e2e_crypto.wire import to_base64url
from tests.sdk.conversation import care_thread, take
from tests.sdk.people import People

REPORT = ReportToGp("Hypertension follow-up; dose unchanged.", "Dr Janssens", "+3221234567")


async def test_a_report_to_the_gp_waits_for_consent(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    with pytest.raises(ForbiddenError) as refused:
        await doctor.send(thread_id, REPORT)
    assert refused.value.code == "consent_required"
    await ann.consent("report_to_gp")
    await doctor.send(thread_id, REPORT)
    [received] = await take(ann, 1)
    assert received.payload == REPORT
    assert received.kind == "report_to_gp"
    await ann.revoke_consent("report_to_gp")
    with pytest.raises(ForbiddenError):
        await doctor.send(thread_id, REPORT)


async def test_an_unmarked_report_to_the_gp_is_never_shown(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await ann.connect()
    # A dishonest client seals a report as an ordinary message, past the consent check.
    to = [
        *await doctor.directory.devices(ann.account_id),
        *await doctor.directory.devices(doctor.account_id),
    ]
    envelope = seal_message(
        doctor.keystore.device,
        thread_id=thread_id,
        client_msg_id="unmarked-report-1",
        body=encode_payload(REPORT),
        to_devices=to,
    )
    ws = await doctor.api.ws_connect()
    try:
        await ws.send_json({"type": "hello", "ticket": await doctor.api.ws_ticket("doc-pc")})
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        frame = {
            "type": "send",
            "id": "s1",
            "thread": thread_id,
            "client_msg_id": "unmarked-report-1",
            "envelope": to_base64url(envelope),
        }
        await ws.send_json(frame)
        assert (await ws.receive_json(timeout=5))["type"] == "ack"
    finally:
        await ws.close()
    [received] = await take(ann, 1)
    assert isinstance(received.payload, Unreadable)
