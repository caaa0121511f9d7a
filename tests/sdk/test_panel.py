"""The GP panel through the SDK: a red-flag intake sends nothing; a question goes from
a patient's client through the queue to a GP's client and back, end to end encrypted;
a removed GP's client can no longer claim, and the SDK refuses envelopes that break
the group rules."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.admin import create_admin
from chat_server.clock import ManualClock
from e2e_crypto.client import CareChatClient, NotFoundError
from e2e_crypto.client.errors import ConflictError, UnreadableMessage
from e2e_crypto.client.payloads import PaidChatOffer, PanelQuestion, Text
from e2e_crypto.client.triage import Intake
from e2e_crypto.envelope import seal_message
from e2e_crypto.wire import to_base64url
from tests.sdk.people import People

Db = AsyncDatabase[dict[str, Any]]


async def _panel(
    people: People, db: Db, clock: ManualClock
) -> tuple[CareChatClient, CareChatClient, CareChatClient]:
    await create_admin(db, clock, "root@carechat.example", "an operator's long password")
    platform = people.client()
    await platform.login("root@carechat.example", "an operator's long password")
    dr_a = await people.join("a@gp.example", "practitioner", "a-desk")
    dr_b = await people.join("b@gp.example", "practitioner", "b-desk")
    for doctor in (dr_a, dr_b):
        await platform.api.request(
            "POST", f"/api/v1/admin/accounts/{doctor.account_id}/verify-registration"
        )
    await dr_a.panel.create("covid", "Covid-19 questions", {"daily_free_questions": 3})
    await dr_a.panel.commit_members("covid", [dr_a.account_id, dr_b.account_id])
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    return dr_a, dr_b, ann


async def test_red_flags_stop_the_flow_and_a_question_is_answered_end_to_end(
    people: People, db: Db, clock: ManualClock
) -> None:
    dr_a, dr_b, ann = await _panel(people, db, clock)

    stopped = await ann.panel.ask(
        "covid", Intake("16_64", "cough", "today", ("none",), "Ik krijg geen lucht meer")
    )
    assert stopped.triage.stop
    assert stopped.status is None
    assert [n.number for n in stopped.triage.emergency] == ["112", "100"]
    assert await db["panel_questions"].count_documents({}) == 0

    asked = await ann.panel.ask(
        "covid",
        Intake("16_64", "fever", "2_3_days", ("diabetes",), "38.5 since Tuesday"),
    )
    qid = asked.question_id
    assert qid is not None
    assert asked.status is not None
    assert asked.status["position"] == 1

    await dr_b.panel.online("covid")
    claimed = await dr_b.panel.claim("covid")
    assert claimed["question_id"] == qid
    [question] = await dr_b.panel.messages(qid)
    assert question.payload == PanelQuestion(
        "16_64", "fever", "2_3_days", ("diabetes",), "38.5 since Tuesday", 1
    )
    await dr_b.panel.renew(qid)
    await dr_b.panel.reply(qid, Text("Rest and fluids; paracetamol if needed."), answer=True)
    # The patient reads the answer and follows up within the window.
    question_again, answer = await ann.panel.messages(qid)
    assert question_again.payload == question.payload
    assert answer.payload == Text("Rest and fluids; paracetamol if needed.")
    assert answer.sender_account == dr_b.account_id
    await ann.panel.reply(qid, Text("Thank you!"))
    await ann.panel.rate(qid, 5, "Very clear")
    stats = await dr_a.panel.stats("covid")
    assert stats["rating_average"] == 5.0
    assert stats["rating_count"] == 1
    [rating] = await dr_a.panel.ratings("covid")  # any GP of the panel opens the comment
    assert (rating.question_id, rating.patient, rating.score) == (qid, ann.account_id, 5)
    assert rating.comment == Text("Very clear")
    comment = await db["panel_ratings"].find_one({"_id": qid})
    assert comment is not None
    assert b"Very clear" not in bytes(comment["comment"])  # sealed, not stored in clear

    # A second question becomes a paid-chat offer.
    second = await ann.panel.ask("covid", Intake("16_64", "fatigue", "over_a_week", (), ""))
    assert second.question_id is not None
    await dr_a.panel.online("covid")
    await dr_a.panel.claim("covid")
    await dr_a.panel.reply(second.question_id, PaidChatOffer(600, "EUR", "A longer talk"))
    converted = await dr_a.panel.convert(second.question_id, "paid_offer", 600)
    assert converted["outcome"] == "paid_offer"
    *_, offer = await ann.panel.messages(second.question_id)
    assert offer.payload == PaidChatOffer(600, "EUR", "A longer talk")


async def test_a_removed_gp_cannot_claim_and_bad_group_envelopes_are_refused(
    people: People, db: Db, clock: ManualClock
) -> None:
    dr_a, dr_b, ann = await _panel(people, db, clock)
    asked = await ann.panel.ask("covid", Intake("65_plus", "fever", "today", (), "fever"))
    qid = asked.question_id
    assert qid is not None
    await dr_a.panel.commit_members("covid", [dr_a.account_id])  # dr_b removed
    with pytest.raises(NotFoundError):
        await dr_b.panel.claim("covid")
    with pytest.raises(NotFoundError):
        await dr_b.panel.messages(qid)

    # The server refuses an envelope to the old epoch (the SDK always seals to the
    # latest one it verified) ...
    old = dr_a.panel._chains["covid"][0]
    envelope = seal_message(
        ann.keystore.device,
        thread_id=qid,
        client_msg_id="stale",
        body=b"{}",
        to_devices=[ann.keystore.verified_self()],
        to_epochs=[old],
        group=old.ref,
    )
    with pytest.raises(ConflictError) as stale:
        await ann.api.request(
            "POST",
            f"/api/v1/panel-questions/{qid}/messages",
            {"client_msg_id": "stale", "envelope": to_base64url(envelope)},
        )
    assert stale.value.code == "stale_group_epoch"
    # ... and the SDK refuses one whose sender is outside the epoch it names, even
    # if a server stored it (written here straight into the database).
    await dr_a.panel.online("covid")
    await dr_a.panel.claim("covid")
    outsider = seal_message(
        dr_b.keystore.device,
        thread_id=qid,
        client_msg_id="ghost",
        body=b"{}",
        to_devices=[ann.keystore.verified_self()],
        to_epochs=[dr_a.panel._chains["covid"][1]],
        group=dr_a.panel._chains["covid"][1].ref,
    )
    first = await db["messages"].find_one({"thread": qid})
    assert first is not None
    await db["messages"].insert_one(
        {
            **{k: v for k, v in first.items() if k != "_id"},
            "seq": 2,
            "cmid": "ghost",
            "sender_account": dr_b.account_id,
            "sender_device": dr_b.keystore.device_id,
            "envelope": outsider,
        }
    )
    with pytest.raises(UnreadableMessage):
        await ann.panel.messages(qid)


async def test_the_admin_adds_a_gp_found_by_e_mail_and_every_member_sees_names(
    people: People, db: Db, clock: ManualClock
) -> None:
    dr_a, dr_b, _ = await _panel(people, db, clock)
    await dr_a.panel.commit_members("covid", [dr_a.account_id])  # dr_b removed
    found = await dr_a.panel.find_practitioner("covid", "B@gp.example")
    assert found["account_id"] == dr_b.account_id
    await dr_a.panel.commit_members("covid", [dr_a.account_id, found["account_id"]])
    await dr_a.panel.online("covid")
    listed = await dr_b.panel.members("covid")
    members = {m["account_id"]: (m["display_name"], m["online"]) for m in listed}
    assert members == {dr_a.account_id: ("a", True), dr_b.account_id: ("b", False)}
    # A member who is not the admin finds nobody.
    with pytest.raises(NotFoundError):
        await dr_b.panel.find_practitioner("covid", "a@gp.example")
    changed = await dr_a.panel.change_settings(
        "covid", {"max_wait_minutes": 45}, {dr_b.account_id: 1}
    )
    assert changed["settings"]["max_wait_minutes"] == 45
    assert changed["settings"]["capacity_overrides"] == {dr_b.account_id: 1}
