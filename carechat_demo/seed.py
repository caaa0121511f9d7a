"""Makes the cast exist, through the real HTTP API and the Python SDK, idempotently.

Everything a person does goes through their own ``CareChatClient`` against the running
server — registration and e-mail verification, keys created on a first device and
backed up under the recovery passphrase, care links, thread openings signed by the
patient, messages sealed end to end — so the demo holds exactly what real use would
leave behind. The database is read only to find what exists (the practice by its
admin, a TOTP secret to log in with) and to create the platform operator, which only
``carechat admin create-admin`` can do.

Idempotent by looking before doing: an account that logs in is not registered
again, a practice, membership, care link or thread that exists is reused, and a
conversation is written only into a thread this run created. A second run changes
nothing but the sessions it logs in with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from carechat_demo.cast import (
    ADMIN,
    CONVERSATIONS,
    MODERATOR_EMAIL,
    OPERATOR_EMAIL,
    PASSWORD,
    PEOPLE,
    PRACTICE_NAME,
    PRACTITIONERS,
    Conversation,
    Person,
)
from carechat_demo.keyring import Keyring
from carechat_demo.outbox import DemoOutbox
from chat_server import totp
from chat_server.admin import AdminError, create_admin
from chat_server.clock import Clock
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import PracticeStore
from e2e_crypto.client import AuthenticationError, CareChatClient, Provider, ThreadSummary
from e2e_crypto.membership_public import parse_membership
from e2e_crypto.wire import from_base64url

__all__ = ["DemoSeeder", "SeededThread", "World", "next_totp_step"]

log = logging.getLogger(__name__)

# A practitioner's professional registration as the server takes it (RIZIV/INAMI).
REGISTRATION = {"scheme": "riziv", "number": "10000000001"}
LIVE_THREAD_STATES = ("requested", "open")


@dataclass(frozen=True, slots=True)
class SeededThread:
    patient: str
    thread_id: str
    state: str


@dataclass(slots=True)
class World:
    """What exists after seeding: printed by the command, checked by the tests."""

    practice_id: str
    accounts: dict[str, str] = field(default_factory=dict)  # cast key -> account id
    threads: list[SeededThread] = field(default_factory=list)
    totp_secrets: dict[str, str] = field(default_factory=dict)  # cast key -> secret
    totp_steps: dict[str, int] = field(default_factory=dict)  # cast key -> next unused step
    created: list[str] = field(default_factory=list)  # what this run made, in order


class DemoSeeder:
    def __init__(
        self,
        base_url: str,
        db: AsyncDatabase[dict[str, Any]],
        clock: Clock,
        outbox: DemoOutbox,
        keyring: Keyring,
    ) -> None:
        self._base_url = base_url
        self._db = db
        self._clock = clock
        self._outbox = outbox
        self._keyring = keyring
        self._accounts = AccountStore(db)
        self._clients: dict[str, CareChatClient] = {}
        self._created: list[str] = []

    async def run(self) -> World:
        try:
            return await self._run()
        finally:
            for sdk in self._clients.values():
                await sdk.close()
            self._outbox.forget()

    async def _run(self) -> World:
        operator = await self._operator()
        for who in PEOPLE:
            self._clients[who.key] = await self._account(who)
        for who in PRACTITIONERS:
            # Idempotent on the server: verifying twice is the same 204.
            await operator.api.request(
                "POST",
                f"/api/v1/admin/accounts/{self._clients[who.key].account_id}/verify-registration",
            )
        await operator.close()
        practice_id = await self._practice()
        await self._membership(practice_id)
        threads = []
        for conversation in CONVERSATIONS:
            await self._care_link(conversation.patient, practice_id)
            threads.append(await self._thread(conversation, practice_id))
        # Last: after it, logging in takes a one-time code (each usable once).
        for who in PRACTITIONERS:
            if who.totp:
                await self._enable_totp(who)
        await self._moderator()
        world = World(practice_id, created=self._created, threads=threads)
        for who in PEOPLE:
            account_id = self._clients[who.key].account_id
            world.accounts[who.key] = account_id
            account = await self._accounts.get(account_id)
            if who.totp and account is not None and account.totp_secret is not None:
                world.totp_secrets[who.key] = account.totp_secret
                world.totp_steps[who.key] = next_totp_step(self._clock, account.totp_last_step)
        return world

    # -- accounts --------------------------------------------------------------------------

    async def _operator(self) -> CareChatClient:
        """The platform admin who verifies practitioners' registrations."""
        with contextlib.suppress(AdminError):  # it exists already
            await create_admin(self._db, self._clock, OPERATOR_EMAIL, PASSWORD)
            self._created.append("operator")
        sdk = CareChatClient(self._base_url)
        await sdk.login(OPERATOR_EMAIL, PASSWORD)
        return sdk

    async def _moderator(self) -> None:
        """The platform admin who signs in to the moderator console."""
        with contextlib.suppress(AdminError):  # it exists already
            await create_admin(self._db, self._clock, MODERATOR_EMAIL, PASSWORD)
            self._created.append("moderator")

    async def _account(self, who: Person) -> CareChatClient:
        """Logged in, with keys on a device and a backup under the passphrase."""
        sdk = CareChatClient(self._base_url)
        try:
            await self._login(sdk, who)
        except AuthenticationError as exc:
            if exc.code != "invalid_credentials":
                await sdk.close()
                raise
            await sdk.register(
                who.email,
                PASSWORD,
                who.role,
                who.display_name,
                REGISTRATION if who.role == "practitioner" else None,
            )
            await sdk.verify_email(self._outbox.verification_token(who.email), PASSWORD)
            await self._login(sdk, who)
            self._created.append(f"account {who.key}")
        kept = self._keyring.get(sdk.account_id)
        if kept is not None:
            sdk.use_keys(kept)
        elif (await sdk.api.me()).get("root_key") is not None:
            # Keys exist but this data directory lost them: a new device, from the backup.
            await sdk.restore_keys(who.passphrase)
        else:
            await sdk.create_keys()
            await sdk.backup_keys(who.passphrase)
            self._created.append(f"keys {who.key}")
        self._keyring.put(sdk.keystore)
        return sdk

    async def _login(self, sdk: CareChatClient, who: Person) -> None:
        try:
            await sdk.login(who.email, PASSWORD)
            return
        except AuthenticationError as exc:
            account = await self._accounts.by_email(who.email)
            if exc.code != "totp_required" or account is None or account.totp_secret is None:
                raise
        # Each code is accepted once: a run a moment ago may have used this step's.
        step = next_totp_step(self._clock, account.totp_last_step)
        wait = (step - 1) * totp.STEP_SECONDS - self._clock.now().timestamp()
        if wait > 0:  # only the step after next is unused: its code is valid soon
            await asyncio.sleep(wait + 0.1)
        await sdk.login(who.email, PASSWORD, totp.code_at(account.totp_secret, step))

    async def _enable_totp(self, who: Person) -> None:
        sdk = self._clients[who.key]
        if (await sdk.api.me()).get("totp_enabled"):
            return
        started = await sdk.api.request("POST", "/api/v1/accounts/me/totp")
        code = totp.code_at(started["secret"], totp.step_of(self._clock.now()))
        await sdk.api.request("POST", "/api/v1/accounts/me/totp/confirm", {"code": code})
        self._created.append(f"totp {who.key}")

    # -- the practice ----------------------------------------------------------------------

    async def _practice(self) -> str:
        admin = self._clients[ADMIN.key]
        for practice in await PracticeStore(self._db).of_member(admin.account_id):
            if practice.name == PRACTICE_NAME:
                return practice.id
        created = await admin.api.create_practice(PRACTICE_NAME)
        self._created.append("practice")
        return str(created["practice_id"])

    async def _membership(self, practice_id: str) -> None:
        """Both practitioners proposed, consenting, and signed into the list."""
        admin = self._clients[ADMIN.key]
        current = (await admin.api.membership(practice_id)).get("membership")
        listed = (
            {m.account_id for m in parse_membership(from_base64url(current)).members}
            if current
            else set()
        )
        wanted: dict[str, Literal["practitioner", "staff"]] = {
            self._clients[p.key].account_id: "practitioner" for p in PRACTITIONERS
        }
        if set(wanted) <= listed:
            return
        for who in PRACTITIONERS:
            member = self._clients[who.key]
            if member.account_id in listed:
                continue
            await admin.api.propose_member(practice_id, member.account_id, "practitioner")
            await member.api.accept_membership(practice_id)
        await admin.publish_membership(practice_id, wanted)
        self._created.append("membership")

    async def _care_link(self, patient_key: str, practice_id: str) -> None:
        patient, admin = self._clients[patient_key], self._clients[ADMIN.key]
        links = [
            link
            for link in await patient.api.care_links()
            if link["provider"]["id"] == practice_id and link["status"] in ("requested", "active")
        ]
        if any(link["status"] == "active" for link in links):
            return
        if links:
            link_id = links[0]["care_link_id"]
        else:
            link_id = (await patient.api.request_care_link(Provider("practice", practice_id)))[
                "care_link_id"
            ]
        await admin.api.answer_care_link(link_id, accept=True)
        self._created.append(f"care link {patient_key}")

    # -- threads ---------------------------------------------------------------------------

    async def _thread(self, conversation: Conversation, practice_id: str) -> SeededThread:
        patient = self._clients[conversation.patient]
        for summary in await patient.threads():
            if summary.provider == Provider("practice", practice_id) and (
                summary.state in LIVE_THREAD_STATES
            ):
                return SeededThread(conversation.patient, summary.thread_id, summary.state)
        thread = await patient.start_thread(Provider("practice", practice_id))
        self._created.append(f"thread {conversation.patient}")
        state = await self._converse(conversation, thread)
        return SeededThread(conversation.patient, thread.thread_id, state)

    async def _converse(self, conversation: Conversation, thread: ThreadSummary) -> str:
        """Writes the conversation, accepting the request before the first reply."""
        patient = self._clients[conversation.patient]
        doctor = self._clients[conversation.accepted_by] if conversation.accepted_by else None
        state = thread.state
        for line in conversation.lines:
            if line.side == "practitioner":
                assert doctor is not None, "a reply needs the practitioner who accepts"
                if state == "requested":
                    state = await self._accept(doctor, thread.thread_id)
                await doctor.connect(history="new")
                await doctor.send(thread.thread_id, line.payload)
            else:
                await patient.connect(history="new")
                await patient.send(thread.thread_id, line.payload)
        if doctor is not None and state == "requested":
            state = await self._accept(doctor, thread.thread_id)
        return state

    async def _accept(self, doctor: CareChatClient, thread_id: str) -> str:
        accepted = await doctor.thread_action(thread_id, "accept")
        return accepted.state if accepted is not None else "open"


def next_totp_step(clock: Clock, last_used: int | None) -> int:
    """The earliest step whose code the server will still take: not used yet, and
    at most one step ahead of now once it is valid (the server allows that drift)."""
    now = totp.step_of(clock.now())
    return max(now, (last_used if last_used is not None else now - 1) + 1)
