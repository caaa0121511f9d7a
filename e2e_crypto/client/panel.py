"""The GP panel in the SDK: ask a free question, answer it from the queue.

::

    PanelClient(api, keystore, directory)     CareChatClient.panel
      │ epochs: the panel's commit chain, verified from epoch 1 against the admin's
      │         root key (pinned on first use by the directory); never an older
      │         epoch than one already seen
      ├── patient: ask (triage first: a red flag returns the emergency numbers and
      │            sends nothing), status, messages, follow_up, withdraw,
      │            keep_waiting, rate
      ├── paid:    terms, start_paid_chat, wait_for_checkout, cancel_paid_chat,
      │            paid_chat, payments, receipt (docs/payments.md)
      ├── GP:      online/offline, queue, stats, claim, renew, release, hand_over,
      │            park, resume, reply/answer, convert (booking or paid offer)
      └── admin:   create, commit_members (a new signed epoch)

Every envelope is sealed to the patient's devices and the panel's *current* epoch
key, with the group in the header; every envelope read is checked with the same
group rules the server applies (``check_group_envelope``: the epoch it names, the
epoch key as its one group recipient, a sender who is a member device of that epoch
or the question's patient) before it is opened.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from e2e_crypto.client import endpoints
from e2e_crypto.client.api import Api
from e2e_crypto.client.directory import Directory
from e2e_crypto.client.errors import NotFoundError, TrustError, UnreadableMessage
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.client.paid_chats import PaidChatTerms, PaymentReceipt
from e2e_crypto.client.payloads import (
    PanelQuestion,
    Payload,
    Text,
    decode_payload,
    encode_payload,
)
from e2e_crypto.client.triage import Intake, RuleSet, TriageResult, load_rules
from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.errors import CryptoError
from e2e_crypto.groups import GroupEpochKey, create_epoch_commit, open_epoch_key
from e2e_crypto.groups_public import EpochCommit, check_group_envelope, verify_epoch_commit
from e2e_crypto.public import PublicSigningKey, VerifiedDevice
from e2e_crypto.wire import from_base64url, parse_envelope, to_base64url

__all__ = ["Asked", "PanelClient", "PanelMessage", "StaleEpoch"]


class StaleEpoch(TrustError):
    """The server offered an older epoch of a panel than one already verified."""


@dataclass(frozen=True, slots=True)
class Asked:
    """What ``ask`` did: ``triage.stop`` means nothing was sent (``status`` is None)."""

    triage: TriageResult
    status: Mapping[str, Any] | None = None

    @property
    def question_id(self) -> str | None:
        return None if self.status is None else str(self.status["question_id"])


@dataclass(frozen=True, slots=True)
class PaidStarted:
    """What ``start_paid_chat`` did: ``triage.stop`` means nothing was sent and nothing
    is to be paid; otherwise ``chat`` is the pending chat with its ``checkout_url`` —
    or, while Stripe is retried by the server, without one yet (``preparing``:
    ``wait_for_checkout`` then gives it, or ``cancel_paid_chat`` gives up)."""

    triage: TriageResult
    chat: Mapping[str, Any] | None = None

    @property
    def checkout_url(self) -> str | None:
        if self.chat is None or "checkout_url" not in self.chat:
            return None
        return str(self.chat["checkout_url"])

    @property
    def preparing(self) -> bool:
        """Started, and the Checkout Session not made yet (Stripe failed at first)."""
        return self.chat is not None and self.checkout_url is None


@dataclass(frozen=True, slots=True)
class PanelMessage:
    seq: int
    sender_account: str
    sender_device: str
    epoch: int  # the panel epoch it was sealed to
    payload: Payload = field(repr=False)


@dataclass(frozen=True, slots=True)
class PanelRating:
    question_id: str
    patient: str
    score: int
    # Opened with the panel's key after the group rules (its patient wrote it).
    comment: Payload | None = field(default=None, repr=False)


class PanelClient:
    def __init__(self, api: Api, keystore: Keystore, directory: Directory) -> None:
        self._api = api
        self._keystore = keystore
        self._directory = directory
        self._chains: dict[str, list[EpochCommit]] = {}
        self._keys: dict[tuple[str, int], GroupEpochKey] = {}

    # -- the panel's epochs ---------------------------------------------------------------

    async def epoch(self, panel_id: str) -> EpochCommit:
        """The panel's current epoch, its chain verified from the first commit."""
        panel = await self._api.request("GET", endpoints.panel(panel_id))
        admin = str(panel["admin_account"])
        root = await self._admin_root(admin)
        latest = await self._api.request("GET", endpoints.panel_epoch(panel_id, None))
        chain = self._chains.setdefault(panel_id, [])
        if int(latest["epoch"]) < len(chain):
            raise StaleEpoch("the server offered an older epoch of this panel")
        for number in range(len(chain) + 1, int(latest["epoch"]) + 1):
            doc = await self._api.request("GET", endpoints.panel_epoch(panel_id, number))
            try:
                commit = verify_epoch_commit(
                    from_base64url(str(doc["commit"])),
                    admin_account=admin,
                    admin_root_key=root,
                    previous=chain[-1] if chain else None,
                )
            except CryptoError:
                raise TrustError("the panel's epoch chain does not verify") from None
            if commit.group_id != panel_id:
                raise TrustError("the panel's epoch names another group")
            chain.append(commit)
        return chain[-1]

    async def _admin_root(self, admin: str) -> PublicSigningKey:
        await self._directory.devices(admin)  # pins the admin's root key (TOFU)
        root = self._keystore.trusted_root(admin)
        if root is None:
            raise TrustError("the panel admin has no root key")
        return root

    def _commit(self, panel_id: str, epoch: int) -> EpochCommit:
        chain = self._chains.get(panel_id, [])
        if not 1 <= epoch <= len(chain):
            raise UnreadableMessage("an envelope names an epoch this device has not verified")
        return chain[epoch - 1]

    # -- patients -----------------------------------------------------------------------------

    async def ask(
        self,
        panel_id: str,
        intake: Intake,
        *,
        country: str = "BE",
        rules: RuleSet | None = None,
    ) -> Asked:
        """Triage first: a red flag returns the emergency numbers and queues nothing.
        Otherwise the intake summary and text are sealed to this account's devices and
        the panel's current epoch, and queued."""
        triage = (rules or load_rules()).evaluate(intake, country=country)
        if triage.stop:
            return Asked(triage)
        question_id = secrets.token_urlsafe(16)
        payload = PanelQuestion(
            intake.age_band,
            intake.main_symptom,
            intake.since,
            intake.risk_factors,
            intake.text,
            triage.rules_version,
        )
        epoch = await self.epoch(panel_id)
        mine = await self._directory.devices(self._keystore.account_id, refresh=True)
        envelope = self._seal(question_id, "q1", payload, mine, epoch)
        status = await self._api.request(
            "POST",
            endpoints.panel_questions(panel_id),
            {"question_id": question_id, "client_msg_id": "q1", "envelope": envelope},
        )
        return Asked(triage, status)

    async def status(self, question_id: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "GET", endpoints.panel_question(question_id)
        )
        return result

    # -- paid chats (docs/payments.md) ----------------------------------------------------------

    async def start_paid_chat(
        self,
        panel_id: str,
        intake: Intake,
        *,
        country: str = "BE",
        rules: RuleSet | None = None,
    ) -> PaidStarted:
        """As ``ask``, to the general-practice panel that answers paid chats: triage
        first (a red flag sends nothing and charges nothing), then the question sealed
        to this account's devices and the panel's epoch; the answer holds the Stripe
        Checkout address to send the patient to (or is ``preparing`` while the server
        retries Stripe: ``wait_for_checkout``). It reaches GPs once paid."""
        triage = (rules or load_rules()).evaluate(intake, country=country)
        if triage.stop:
            return PaidStarted(triage)
        thread_id = secrets.token_urlsafe(16)
        payload = PanelQuestion(
            intake.age_band,
            intake.main_symptom,
            intake.since,
            intake.risk_factors,
            intake.text,
            triage.rules_version,
        )
        epoch = await self.epoch(panel_id)
        mine = await self._directory.devices(self._keystore.account_id, refresh=True)
        envelope = self._seal(thread_id, "q1", payload, mine, epoch)
        chat = await self._api.request(
            "POST",
            endpoints.PAID_CHATS,
            {"thread_id": thread_id, "client_msg_id": "q1", "envelope": envelope},
        )
        return PaidStarted(triage, chat)

    async def terms(self) -> PaidChatTerms:
        """What a paid chat started now costs and how long it lasts, to show before
        the intake. Patients only (ForbiddenError ``patients_only``); ServerError
        ``payments_not_configured`` when this server has paid chats off."""
        return PaidChatTerms.from_json(await self._api.request("GET", endpoints.PAID_CHAT_TERMS))

    async def paid_chat(self, thread_id: str) -> Mapping[str, Any]:
        """State, amount and charge in integer cents, SLA and window times."""
        result: Mapping[str, Any] = await self._api.request("GET", endpoints.paid_chat(thread_id))
        return result

    async def wait_for_checkout(
        self, thread_id: str, *, within: float = 600.0, every: float = 2.0
    ) -> Mapping[str, Any]:
        """Polls a ``preparing`` chat until it has its ``checkout_url`` or has ended
        (``closed_reason`` ``checkout_failed``: the server gave up, nothing charged);
        the chat as it stands after ``within`` seconds otherwise (still preparing)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            chat = await self.paid_chat(thread_id)
            if "checkout_url" in chat or chat["state"] != "pending_payment":
                return chat
            if loop.time() >= deadline:
                return chat
            await asyncio.sleep(every)

    async def cancel_paid_chat(self, thread_id: str) -> Mapping[str, Any]:
        """The patient gives up while the payment is prepared: closed, nothing charged.
        ConflictError (``paid_chat_not_cancellable``) once the checkout URL exists."""
        result: Mapping[str, Any] = await self._api.request(
            "POST", endpoints.cancel_paid_chat(thread_id)
        )
        return result

    async def payments(self) -> list[Mapping[str, Any]]:
        """The patient's paid chats, newest first, with what each finally cost."""
        result = await self._api.request("GET", endpoints.PAYMENTS)
        return list(result["payments"])

    async def receipt(self, thread_id: str) -> PaymentReceipt:
        """The printable HTML receipt of this patient's chat once it cost her something
        (captured at the first reply, or Bancontact paid and answered). NotFoundError
        before that, after a refund, and for anyone else's chat or none at all: the
        same answer, so it tells a stranger nothing."""
        return await self._api.payment_receipt(thread_id)

    async def withdraw(self, question_id: str) -> Mapping[str, Any]:
        return await self._action(question_id, "withdraw")

    async def keep_waiting(self, question_id: str) -> Mapping[str, Any]:
        return await self._action(question_id, "keep-waiting")

    async def rate(self, question_id: str, score: int, comment: str | None = None) -> None:
        body: dict[str, Any] = {"score": score}
        if comment is not None:
            status = await self.status(question_id)
            epoch = await self.epoch(str(status["panel_id"]))
            devices = await self._directory.devices(str(status["patient_id"]), refresh=True)
            cmid = "rating"
            body["comment"] = {
                "client_msg_id": cmid,
                "envelope": self._seal(question_id, cmid, Text(comment), devices, epoch),
            }
        await self._api.request("POST", endpoints.panel_question_part(question_id, "rating"), body)

    # -- both ends ----------------------------------------------------------------------------

    async def messages(self, question_id: str, after: int = 0) -> list[PanelMessage]:
        """The question's messages after ``after``, each checked and opened."""
        status = await self.status(question_id)
        panel_id, patient = str(status["panel_id"]), str(status["patient_id"])
        await self.epoch(panel_id)
        page = await self._api.request(
            "GET",
            endpoints.panel_question_part(question_id, "messages"),
            params={"after": str(after)},
        )
        opened = [await self._open(panel_id, patient, question_id, m) for m in page["messages"]]
        # Within a question, epochs only move forward: a message that names an older
        # epoch than one before it was sealed to a key a removed GP may hold.
        for earlier, later in itertools.pairwise(opened):
            if later.epoch < earlier.epoch:
                raise UnreadableMessage("a panel message names a stale epoch")
        return opened

    async def reply(
        self, question_id: str, payload: Payload, *, answer: bool = False
    ) -> Mapping[str, Any]:
        """A message in the question: a patient's follow-up, or the holding GP's reply
        (``answer=True``: the answer, which starts the follow-up window)."""
        status = await self.status(question_id)
        epoch = await self.epoch(str(status["panel_id"]))
        devices = await self._directory.devices(str(status["patient_id"]), refresh=True)
        cmid = secrets.token_urlsafe(12)
        result: Mapping[str, Any] = await self._api.request(
            "POST",
            endpoints.panel_question_part(question_id, "messages"),
            {
                "client_msg_id": cmid,
                "envelope": self._seal(question_id, cmid, payload, devices, epoch),
                "answer": answer,
            },
        )
        return result

    # -- GPs ----------------------------------------------------------------------------------

    async def online(self, panel_id: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "PUT", endpoints.panel_part(panel_id, "presence")
        )
        return result

    async def offline(self, panel_id: str) -> None:
        await self._api.request("DELETE", endpoints.panel_part(panel_id, "presence"))

    async def queue(self, panel_id: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "GET", endpoints.panel_part(panel_id, "queue")
        )
        return result

    async def stats(self, panel_id: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "GET", endpoints.panel_part(panel_id, "stats")
        )
        return result

    async def ratings(self, panel_id: str) -> list[PanelRating]:
        """The panel's newest ratings (its GPs), each comment checked and opened like
        a message of its question; UnreadableMessage if one breaks the rules."""
        await self.epoch(panel_id)
        page = await self._api.request("GET", endpoints.panel_part(panel_id, "ratings"))
        found = []
        for r in page["ratings"]:
            patient, question_id = str(r["patient_id"]), str(r["question_id"])
            comment = None
            if r["comment"] is not None:
                header = parse_envelope(from_base64url(str(r["comment"]))).header
                frame = {"seq": 0, "client_msg_id": header.client_msg_id, "envelope": r["comment"]}
                opened = await self._open(panel_id, patient, question_id, frame)
                if opened.sender_account != patient:
                    raise UnreadableMessage("a rating's comment is not its patient's")
                comment = opened.payload
            found.append(PanelRating(question_id, patient, int(r["score"]), comment))
        return found

    async def members(self, panel_id: str) -> list[Mapping[str, Any]]:
        """The panel's GPs by name: ``account_id``, ``display_name``, ``online``."""
        result: Mapping[str, Any] = await self._api.request(
            "GET", endpoints.panel_part(panel_id, "members")
        )
        return list(result["members"])

    async def claim(self, panel_id: str, question_id: str | None = None) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "POST", endpoints.panel_part(panel_id, "claims"), {"question_id": question_id}
        )
        return result

    async def renew(self, question_id: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "POST", endpoints.panel_question_part(question_id, "lease")
        )
        return result

    async def release(self, question_id: str) -> Mapping[str, Any]:
        return await self._action(question_id, "release")

    async def park(self, question_id: str) -> Mapping[str, Any]:
        return await self._action(question_id, "park")

    async def resume(self, question_id: str) -> Mapping[str, Any]:
        return await self._action(question_id, "resume")

    async def hand_over(self, question_id: str, colleague: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "POST", endpoints.panel_question_part(question_id, "handover"), {"to": colleague}
        )
        return result

    async def convert(
        self,
        question_id: str,
        outcome: Literal["booking", "paid_offer"],
        price_cents: int | None = None,
    ) -> Mapping[str, Any]:
        """End the free question as a booking invitation or a paid-chat offer; send
        the invitation itself first (``reply`` with a BookingInvitation or
        PaidChatOffer payload). An offer records the configured paid-chat price (the
        queue's ``paid_chat_price``); ``price_cents``, if given, must be that price."""
        result: Mapping[str, Any] = await self._api.request(
            "POST",
            endpoints.panel_question_part(question_id, "convert"),
            {"outcome": outcome, "price_cents": price_cents},
        )
        return result

    # -- panel admins ------------------------------------------------------------------------

    async def create(
        self, panel_id: str, name: str, settings: Mapping[str, int] | None = None
    ) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "POST",
            endpoints.PANELS,
            {"panel_id": panel_id, "name": name, "settings": dict(settings or {})},
        )
        return result

    async def change_settings(
        self,
        panel_id: str,
        changes: Mapping[str, int],
        capacity_overrides: Mapping[str, int | None] | None = None,
    ) -> Mapping[str, Any]:
        """Change ``capacity``, ``lease_seconds``, ``max_wait_minutes``,
        ``follow_up_hours`` or ``daily_free_questions``, and per-GP capacities (None
        falls back to the panel's); returns the panel as stored."""
        result: Mapping[str, Any] = await self._api.request(
            "PATCH",
            endpoints.panel_part(panel_id, "settings"),
            {**changes, "capacity_overrides": dict(capacity_overrides or {})},
        )
        return result

    async def find_practitioner(self, panel_id: str, email: str) -> Mapping[str, Any]:
        """The verified practitioner using ``email`` (to pass to ``commit_members``);
        NotFoundError for anyone else, and for a caller who is not the panel's admin."""
        result: Mapping[str, Any] = await self._api.request(
            "POST", endpoints.panel_part(panel_id, "member-lookup"), {"email": email}
        )
        return result

    async def commit_members(self, panel_id: str, members: Sequence[str]) -> EpochCommit:
        """The next epoch: exactly ``members``' active devices, verified through the
        directory, sealed a fresh epoch key. Anyone left out is removed."""
        previous = await self.epoch(panel_id) if await self._has_epoch(panel_id) else None
        devices: list[VerifiedDevice] = []
        for account_id in dict.fromkeys(members):
            devices.extend(await self._directory.devices(account_id, refresh=True))
        commit, _ = create_epoch_commit(
            self._keystore.root,
            admin_account=self._keystore.account_id,
            group_id=panel_id,
            members=devices,
            previous=previous,
        )
        await self._api.request(
            "POST",
            endpoints.panel_part(panel_id, "epochs"),
            {"commit": to_base64url(commit.encode())},
        )
        self._chains.setdefault(panel_id, []).append(commit)
        return commit

    async def _has_epoch(self, panel_id: str) -> bool:
        try:
            await self._api.request("GET", endpoints.panel_epoch(panel_id, None))
        except NotFoundError:
            return False
        return True

    # -- sealing and opening ------------------------------------------------------------------

    def _seal(
        self,
        question_id: str,
        client_msg_id: str,
        payload: Payload,
        patient_devices: Sequence[VerifiedDevice],
        epoch: EpochCommit,
    ) -> str:
        return to_base64url(
            seal_message(
                self._keystore.device,
                thread_id=question_id,
                client_msg_id=client_msg_id,
                body=encode_payload(payload),
                to_devices=patient_devices,
                to_epochs=[epoch],
                group=epoch.ref,
            )
        )

    async def _open(
        self, panel_id: str, patient: str, question_id: str, frame: Mapping[str, Any]
    ) -> PanelMessage:
        try:
            envelope = from_base64url(str(frame["envelope"]))
            header = parse_envelope(envelope).header
            if header.group is None:
                raise UnreadableMessage("a panel message names its panel's epoch")
            commit = self._commit(panel_id, header.group.epoch)
            check_group_envelope(header, commit, outsiders=frozenset({patient}))
        except CryptoError:
            raise UnreadableMessage("a panel message breaks the group rules") from None
        sender = await self._directory.device(header.sender_account, header.sender_device)
        opener = self._opener(commit) if self._keystore.account_id != patient else None
        openers = [opener] if opener is not None else list(self._keystore.openers())
        for key in openers:
            try:
                opened = open_message(
                    envelope,
                    opener=key,
                    sender=sender,
                    thread_id=question_id,
                    client_msg_id=str(frame["client_msg_id"]),
                    group=commit.ref,
                )
            except CryptoError:
                continue
            return PanelMessage(
                int(frame["seq"]),
                header.sender_account,
                header.sender_device,
                commit.epoch,
                decode_payload(opened.body),
            )
        raise UnreadableMessage("this device cannot open a panel message")

    def _opener(self, commit: EpochCommit) -> GroupEpochKey | None:
        ref = (commit.group_id, commit.epoch)
        if ref not in self._keys:
            try:
                self._keys[ref] = open_epoch_key(commit, self._keystore.device)
            except CryptoError:
                return None  # not a member of that epoch
        return self._keys[ref]

    async def _action(self, question_id: str, action: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._api.request(
            "POST", endpoints.panel_question_part(question_id, action)
        )
        return result
