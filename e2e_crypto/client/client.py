"""``CareChatClient``: the one object a practice's software holds.

It wires the parts together and keeps the surface small::

    CareChatClient
     ├── api         Api         HTTP calls, typed errors
     ├── keystore    Keystore    this device's keys and pinned root keys
     ├── directory   Directory   verified device lists (TOFU, root-key changes)
     ├── envelopes   Envelopes   seal for a thread / open and verify
     ├── participants Participants  who may be a recipient: practice lists verified
     └── connection  Connection  WebSocket: send, receive, sync, reconnect

Typical life: ``login`` → ``create_keys`` (first device) or ``restore_keys``
(new device, from the passphrase backup) or ``use_keys`` (state saved earlier) →
``connect`` → ``send``/``messages()`` → ``close``. docs/sdk.md is the guide.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

import aiohttp

from e2e_crypto.client import attachments
from e2e_crypto.client.api import Api, Participant, Provider, SessionGrant, ThreadSummary
from e2e_crypto.client.archive import ExportArchive
from e2e_crypto.client.connection import Backoff, Connection
from e2e_crypto.client.directory import Directory
from e2e_crypto.client.envelopes import Envelopes
from e2e_crypto.client.errors import (
    CareChatSdkError,
    NotConnected,
    NotFoundError,
    TrustError,
    UntrustedThread,
)
from e2e_crypto.client.events import Event
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.client.messages import ReceivedMessage
from e2e_crypto.client.panel import PanelClient
from e2e_crypto.client.participants import Memberships, Participants
from e2e_crypto.client.payloads import Attachment, Payload, Text
from e2e_crypto.client.replays import ReplayGuard
from e2e_crypto.errors import CryptoError
from e2e_crypto.membership import sign_membership
from e2e_crypto.membership_public import (
    MAX_MEMBERSHIP_BYTES,
    Member,
    MemberRole,
    Membership,
    parse_membership,
)
from e2e_crypto.thread_opening import sign_opening
from e2e_crypto.thread_opening_public import ProviderKind as OpeningProviderKind
from e2e_crypto.wire import from_base64url, to_base64url

__all__ = ["CareChatClient", "IdentityExists"]

ThreadAction = Literal["accept", "decline", "block", "close"]


def new_thread_id() -> str:
    """22 base64url characters (128 random bits), chosen by the patient's client so
    that the opening it signs names the thread."""
    return secrets.token_urlsafe(16)


class IdentityExists(CareChatSdkError):
    """The account already has a root key: restore it from the backup instead of
    creating a new identity (which would revoke every device and alarm every peer)."""


class CareChatClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.api = Api(base_url, session=session)
        self._backoff = backoff
        self._keystore: Keystore | None = None
        self._directory: Directory | None = None
        self._envelopes: Envelopes | None = None
        self._participants: Participants | None = None
        self._connection: Connection | None = None
        # Shared by history() and the connection: a replay is dropped on both paths.
        self._replays = ReplayGuard()
        self._panel: PanelClient | None = None

    async def __aenter__(self) -> CareChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (if any) and the HTTP session. The session token
        stays valid: call ``logout`` first to end it."""
        if self._connection is not None:
            await self._connection.close()
        await self.api.close()

    # -- accounts ----------------------------------------------------------------------------

    async def register(
        self,
        email: str,
        password: str,
        role: Literal["patient", "practitioner", "practice_admin"],
        display_name: str,
        registration: Mapping[str, str] | None = None,
    ) -> None:
        await self.api.register(email, password, role, display_name, registration)

    async def verify_email(self, token: str, password: str) -> str:
        return await self.api.verify_email(token, password)

    async def login(self, email: str, password: str, totp_code: str | None = None) -> SessionGrant:
        return await self.api.login(email, password, totp_code)

    async def logout(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        await self.api.logout()

    @property
    def account_id(self) -> str:
        if self.api.account_id is None:
            raise NotConnected("log in first")
        return self.api.account_id

    # -- keys --------------------------------------------------------------------------------

    @property
    def keystore(self) -> Keystore:
        if self._keystore is None:
            raise NotConnected("call create_keys, restore_keys or use_keys first")
        return self._keystore

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            raise NotConnected("call create_keys, restore_keys or use_keys first")
        return self._directory

    def use_keys(self, keystore: Keystore) -> None:
        """Use key material saved earlier (``Keystore.from_state``)."""
        if keystore.account_id != self.account_id:
            raise ValueError("these keys belong to another account")
        self._keystore = keystore
        self._directory = Directory(self.api, keystore)
        self._envelopes = Envelopes(keystore, self._directory)
        self._participants = Participants(
            Memberships(self.api, self._directory, keystore), self._directory, keystore
        )
        self._panel = PanelClient(self.api, keystore, self._directory)

    @property
    def panel(self) -> PanelClient:
        """The GP panel: ask a free question, or answer from the queue (panel.py)."""
        if self._panel is None:
            raise NotConnected("call create_keys, restore_keys or use_keys first")
        return self._panel

    async def create_keys(self, device_id: str | None = None) -> Keystore:
        """First device of the account: new root key and device keys, published."""
        if (await self.api.me()).get("root_key") is not None:
            raise IdentityExists("this account has keys; use restore_keys on a new device")
        keystore = Keystore.create(self.account_id, device_id)
        await self.api.set_root_key(keystore.root.public_key.raw)
        await self.api.add_device(keystore.certificate().encode())
        self.use_keys(keystore)
        return keystore

    async def backup_keys(self, passphrase: str) -> None:
        """Seal the account's keys under ``passphrase`` and store the blob server-side."""
        blob = self.keystore.seal_backup(passphrase)
        await self.api.put_key_backup(blob)

    async def restore_keys(self, passphrase: str, device_id: str | None = None) -> Keystore:
        """New device: open the server-side backup, register this device's new keys
        (certified by the restored root key), and refresh the backup to include them.

        Raises DecryptionFailed for a wrong passphrase, TrustError if the backup's
        root key is not the account's published one.
        """
        blob = await self.api.get_key_backup()
        keystore = Keystore.restore(blob, passphrase, device_id=device_id)
        if keystore.account_id != self.account_id:
            raise TrustError("the backup belongs to another account")
        published = (await self.api.me()).get("root_key")
        if published != to_base64url(keystore.root.public_key.raw):
            raise TrustError("the backup's root key is not the account's current one")
        await self.api.add_device(keystore.certificate().encode())
        self.use_keys(keystore)
        await self.backup_keys(passphrase)
        return keystore

    def safety_number(self, account_id: str) -> str:
        return self.directory.safety_number(account_id)

    def accept_root_key(self, account_id: str, root_key: bytes) -> None:
        """After ``RootKeyChanged``, once the user has checked the new safety number."""
        self.directory.accept_root_key(account_id, root_key)

    def export_state(self) -> dict[str, Any]:
        """Keys, pins and cursors, to persist (secret!) and pass back to ``resume``."""
        cursors = self._connection.cursors() if self._connection is not None else {}
        return {"keys": self.keystore.export_state(), "cursors": cursors}

    # -- threads -----------------------------------------------------------------------------

    async def threads(self) -> list[ThreadSummary]:
        return await self.api.threads()

    async def thread(self, thread_id: str) -> ThreadSummary:
        return await self.api.thread(thread_id)

    async def participants(self, thread_id: str) -> tuple[Participant, ...]:
        """Everyone the thread's messages are encrypted to, by name and role, checked
        against the practice's signed membership list. Raises GhostRecipient if the
        server names anyone else (then ``send`` refuses too)."""
        if self._participants is None:
            raise NotConnected("call create_keys, restore_keys or use_keys first")
        return await self._participants.verify(await self.api.thread(thread_id))

    async def start_thread(self, provider: Provider, kind: str = "care") -> ThreadSummary:
        """Open a thread with ``provider``, signing its opening with this account's root
        key (thread id, patient, provider, time) and pinning what was signed: the
        provider's clients check the opening, and this account's clients refuse a
        thread whose patient or provider the server changes later."""
        opening = sign_opening(
            self.keystore.root,
            thread_id=new_thread_id(),
            patient_account=self.account_id,
            provider_kind=OpeningProviderKind.from_label(provider.kind),
            provider_id=provider.id,
            opened_at=int(time.time()),
        )
        summary = await self.api.create_thread(provider, kind, opening=opening.encode())
        got = (summary.patient_id, summary.provider)
        if summary.thread_id != opening.thread_id or got != (self.account_id, provider):
            raise UntrustedThread(summary.thread_id, "the server opened another thread")
        self.keystore.pin_thread(opening.thread_id, opening.parties)
        return summary

    async def thread_action(self, thread_id: str, action: ThreadAction) -> ThreadSummary | None:
        return await self.api.thread_action(thread_id, action)

    async def history(
        self, thread_id: str, *, after: int = 0, page_size: int = 100
    ) -> AsyncIterator[ReceivedMessage]:
        """Stored messages after ``after``, decrypted, in seq order (HTTP, no socket).

        A replay (an envelope already seen at another seq) is skipped, as on the
        connection (replays.py)."""
        envelopes = self._require_envelopes()
        cursor: int | None = after
        while cursor is not None:
            page = await self.api.messages(thread_id, after=cursor, limit=page_size)
            for sealed in page.messages:
                if self._replays.is_replay(
                    sealed.thread_id, sealed.sender_device, sealed.client_msg_id, sealed.seq
                ):
                    continue
                yield await envelopes.open(sealed)
            cursor = page.next_after

    # -- real time ---------------------------------------------------------------------------

    async def connect(
        self,
        *,
        cursors: Mapping[str, int] | None = None,
        history: Literal["all", "new"] = "all",
    ) -> Connection:
        """Open the WebSocket and sync. ``cursors``: as saved by ``export_state``."""
        if self._connection is None:
            self._connection = Connection(
                self.api,
                self.keystore,
                self._require_envelopes(),
                self._require_participants(),
                cursors=cursors,
                history=history,
                backoff=self._backoff,
                replays=self._replays,
            )
        await self._connection.start()
        return self._connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise NotConnected("call connect() first")
        return self._connection

    async def send(self, thread_id: str, payload: Payload | str) -> int:
        """Send a payload (a ``str`` is sent as ``Text``); returns its seq."""
        if isinstance(payload, str):
            payload = Text(payload)
        return await self.connection.send(thread_id, payload)

    async def receive(self) -> ReceivedMessage:
        """The next message of any thread (see ``Connection.receive``)."""
        return await self.connection.receive()

    def messages(self) -> AsyncIterator[ReceivedMessage]:
        return self.connection.messages()

    def events(self) -> AsyncIterator[Event]:
        return self.connection.events()

    async def consent(self, purpose: str, scope: str = "") -> None:
        """Consent to ``purpose`` as its current text says (show the text first: the
        server's ``text_versions`` name the version the patient agrees to)."""
        versions = (await self.api.consents())["text_versions"]
        await self.api.grant_consent(purpose, str(versions[purpose]), scope)

    async def revoke_consent(self, purpose: str, scope: str = "") -> None:
        await self.api.revoke_consent(purpose, scope)

    async def report(self, message: ReceivedMessage, category: str = "other") -> str:
        """Report ``message`` to the moderators: its plaintext and franking key are
        revealed, and the server checks them against its stamp. Returns the outcome,
        ``"verified"`` or ``"unverifiable"``. Only a message this account can read can
        be reported (the key comes from decrypting the stored envelope again)."""
        page = await self.api.messages(message.thread_id, after=message.seq - 1, limit=1)
        sealed = next((m for m in page.messages if m.seq == message.seq), None)
        if sealed is None:
            raise NotFoundError(404, "not_found", "the message is not in this thread")
        body, franking_key = await self._require_envelopes().reveal(sealed)
        answer = await self.api.report(message.thread_id, message.seq, body, franking_key, category)
        return str(answer["verification"])

    async def read(self, thread_id: str, seq: int) -> None:
        await self.connection.read(thread_id, seq)

    async def typing(self, thread_id: str) -> None:
        await self.connection.typing(thread_id)

    async def send_attachment(
        self,
        thread_id: str,
        source: Path | str | AsyncIterator[bytes],
        name: str,
        mime: str = "application/octet-stream",
    ) -> tuple[int, Attachment]:
        """Encrypt and upload a file, then send its ``Attachment`` payload."""
        payload = await attachments.upload(self.api, thread_id, source, name, mime)
        return await self.send(thread_id, payload), payload

    async def download_attachment(self, attachment: Attachment, dest: Path | str) -> Path:
        """Download and verify into ``dest``; AttachmentCorrupted leaves no file."""
        return await attachments.download(self.api, attachment, dest)

    # -- GDPR (docs/gdpr.md) ------------------------------------------------------------------

    async def export_data(self, password: str, dest: Path | str | None = None) -> ExportArchive:
        """Everything the server stores about this account, as an archive that
        ``ExportArchive.decrypt(passphrase)`` opens offline; also saved to ``dest``."""
        data = await self.api.export_data(password)
        if dest is not None:
            await asyncio.to_thread(Path(dest).write_bytes, data)
        return ExportArchive.open(data)

    async def request_erasure(self, password: str) -> dict[str, Any]:
        """Erase the account after the server's grace period; cancel_erasure() undoes it."""
        return await self.api.request_erasure(password)

    async def cancel_erasure(self) -> None:
        await self.api.cancel_erasure()

    # -- practice membership (the practice admin's client) ------------------------------------

    async def publish_membership(
        self, practice_id: str, members: Mapping[str, Literal["practitioner", "staff"]]
    ) -> int:
        """Sign exactly ``members`` (account -> role) as the practice's next membership
        list with this account's root key, and publish it; returns its epoch.

        Each account must have accepted its role first (``api.accept_membership``);
        the server refuses the list otherwise (``member_not_consented``).
        """
        current = await self.api.membership(practice_id)
        previous = self._previous_membership(practice_id, current.get("membership"))
        signed = sign_membership(
            self.keystore.root,
            admin_account=self.account_id,
            practice_id=practice_id,
            members=[Member(a, MemberRole[r.upper()]) for a, r in members.items()],
            previous=previous,
        )
        epoch = int((await self.api.publish_membership(practice_id, signed.encode()))["epoch"])
        # Our own rollback pin: a server that later serves an older list (or another
        # list at this epoch) as "the current one" is refused, not signed over.
        self.keystore.pin_practice(practice_id, self.account_id, signed.epoch, signed.digest())
        return epoch

    def _previous_membership(self, practice_id: str, stored: object) -> Membership | None:
        """The list the next one chains to. Only its chain matters (its epoch and
        digest become the next list's), not its signature: members are exactly what
        the admin passes, and after a root-key rotation the previous list is signed
        by the old key. What it must not be is older than, or another list at, the
        epoch this device last published or verified."""
        pinned = self.keystore.practice_pin(practice_id)
        if stored is None:
            if pinned is not None and pinned[1] > 0:
                raise TrustError("the published membership list disappeared")
            return None
        try:
            previous = parse_membership(from_base64url(str(stored), max_bytes=MAX_MEMBERSHIP_BYTES))
        except CryptoError as exc:
            raise TrustError(f"the stored membership list does not parse: {exc}") from None
        if (previous.practice_id, previous.admin_account) != (practice_id, self.account_id):
            raise TrustError("the stored membership list is not this practice's or ours")
        if pinned is not None:
            if previous.epoch < pinned[1]:
                raise TrustError("the stored membership list is older than one we published")
            digest = self.keystore.practice_digest(practice_id)
            if previous.epoch == pinned[1] and digest not in (None, previous.digest()):
                raise TrustError("the stored membership list is not the one we published")
        return previous

    def _require_participants(self) -> Participants:
        if self._participants is None:
            raise NotConnected("call create_keys, restore_keys or use_keys first")
        return self._participants

    def _require_envelopes(self) -> Envelopes:
        if self._envelopes is None:
            raise NotConnected("call create_keys, restore_keys or use_keys first")
        return self._envelopes
