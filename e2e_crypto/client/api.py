"""The HTTP half of the SDK: one method per server endpoint, JSON in, JSON out.

``Api`` holds the base URL, the aiohttp ``ClientSession`` and the bearer session
token, and turns every error answer into a typed ``CareChatError`` (errors.py). It
knows nothing about keys: ``Keystore``/``Directory`` decide what to publish and what
to believe, ``Connection`` uses ``ws_ticket`` and ``ws_connect``.

Answers are returned as the server's JSON objects except where the SDK relies on a
field (sessions, thread summaries, message pages), which get small typed classes
that keep the raw object for anything newer servers add.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import aiohttp
from yarl import URL

from e2e_crypto.client import endpoints
from e2e_crypto.client.errors import error_from_problem
from e2e_crypto.client.messages import SealedMessage
from e2e_crypto.client.paid_chats import PaymentReceipt
from e2e_crypto.wire import to_base64url

__all__ = ["Api", "MessagePage", "Participant", "Provider", "SessionGrant", "ThreadSummary"]

JSON: Final = "application/json"
OCTETS: Final = "application/octet-stream"
ProviderKind = Literal["practitioner", "practice"]


@dataclass(frozen=True, slots=True)
class Provider:
    """Whom a patient writes to: a practitioner account or a practice."""

    kind: ProviderKind
    id: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone a thread's messages are encrypted to, as shown to the user.

    ``role`` is ``patient``, ``practitioner`` or ``staff``; from
    ``CareChatClient.participants`` it is the role the practice's *signed*
    membership list gives (the display name is the server's label for the account).
    """

    account_id: str
    display_name: str | None
    role: str


@dataclass(frozen=True, slots=True)
class SessionGrant:
    account_id: str
    role: str
    expires_at: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """A thread's public summary, as listed by the server (no content)."""

    thread_id: str
    kind: str
    state: str
    participants: tuple[str, ...]
    unread: int
    last_seq: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    patient_id: str = ""
    provider: Provider | None = None
    members: tuple[Participant, ...] = ()  # the server's word: see CareChatClient.participants

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ThreadSummary:
        provider = doc.get("provider")
        kind = provider.get("kind") if isinstance(provider, Mapping) else None
        return cls(
            thread_id=str(doc["thread_id"]),
            kind=str(doc["kind"]),
            state=str(doc["state"]),
            participants=tuple(str(p) for p in doc.get("participants", ())),
            unread=int(doc.get("unread", 0)),
            last_seq=int(doc.get("last_seq", 0)),
            raw=doc,
            patient_id=str(doc.get("patient_id", "")),
            provider=(
                Provider(kind, str(provider["id"]))
                if isinstance(provider, Mapping) and kind in ("practitioner", "practice")
                else None
            ),
            members=tuple(
                Participant(
                    str(m["account_id"]),
                    str(m["display_name"]) if m.get("display_name") is not None else None,
                    str(m["role"]),
                )
                for m in doc.get("members", ())
                if isinstance(m, Mapping)
            ),
        )


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: tuple[SealedMessage, ...]
    next_after: int | None


class Api:
    """HTTP client for one account. Use as ``async with Api(url) as api:``.

    Pass ``session`` to share an aiohttp ``ClientSession`` (then closing it is yours);
    otherwise the ``Api`` creates one and ``close()`` closes it.
    """

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = URL(base_url)
        self._session = session
        self._owns_session = session is None
        self._token: str | None = None
        self.account_id: str | None = None

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    def use_token(self, token: str, account_id: str) -> None:
        """Resume a session obtained earlier (e.g. kept in the OS keychain)."""
        self._token, self.account_id = token, account_id

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def __repr__(self) -> str:
        return f"Api({str(self.base_url)!r}, account_id={self.account_id!r})"

    # -- plumbing ----------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def _raise_for(self, response: aiohttp.ClientResponse) -> None:
        if response.status < 400:
            return
        try:
            body: object = await response.json(content_type=None)
        except ValueError:
            body = None
        raise error_from_problem(response.status, body)

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One JSON call; returns the decoded body (None for 204). Raises CareChatError."""
        async with self.session.request(
            method,
            self.base_url.join(URL(path)),
            json=json,
            params=params,
            headers=self._headers(),
        ) as response:
            await self._raise_for(response)
            if response.status == 204:
                return None
            return await response.json(content_type=None)

    # -- accounts and sessions -----------------------------------------------------------

    async def register(
        self,
        email: str,
        password: str,
        role: str,
        display_name: str,
        registration: Mapping[str, str] | None = None,
    ) -> None:
        """Starts a registration; the server e-mails a verification link (202)."""
        body: dict[str, Any] = {
            "email": email,
            "password": password,
            "role": role,
            "display_name": display_name,
        }
        if registration is not None:
            body["registration"] = dict(registration)
        await self.request("POST", endpoints.ACCOUNTS, body)

    async def verify_email(self, token: str, password: str) -> str:
        """Confirms the address with the token from the e-mail and the password the
        account was registered with; returns the account id. Either one wrong is the
        same ``invalid_code`` error (someone else may have registered the address
        since: register again)."""
        body = await self.request(
            "POST", endpoints.VERIFY_EMAIL, {"token": token, "password": password}
        )
        return str(body["account_id"])

    async def request_password_reset(self, email: str) -> None:
        """Asks for a reset link by e-mail (202, the same answer for any address)."""
        await self.request("POST", endpoints.PASSWORD_RESET, {"email": email})

    async def reset_password(self, token: str, new_password: str) -> None:
        """Sets a new password with the token from the reset e-mail. Every session
        ends (this client's too: log in again); keys and devices stay as they are."""
        await self.request(
            "POST",
            endpoints.PASSWORD_RESET_CONFIRM,
            {"token": token, "new_password": new_password},
        )

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Every other session ends; this one stays."""
        await self.request(
            "POST",
            endpoints.PASSWORD,
            {"current_password": current_password, "new_password": new_password},
        )

    async def login(self, email: str, password: str, totp_code: str | None = None) -> SessionGrant:
        body: dict[str, Any] = {"email": email, "password": password}
        if totp_code is not None:
            body["totp_code"] = totp_code
        answer = await self.request("POST", endpoints.SESSIONS, body)
        grant = SessionGrant(
            account_id=str(answer["account_id"]),
            role=str(answer["role"]),
            expires_at=str(answer["expires_at"]),
            token=str(answer["token"]),
        )
        self.use_token(grant.token, grant.account_id)
        return grant

    async def logout(self) -> None:
        await self.request("DELETE", endpoints.SESSION_CURRENT)
        self._token = None

    async def me(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", endpoints.ME)
        return body

    async def ws_ticket(self, device_id: str) -> str:
        body = await self.request("POST", endpoints.WS_TICKETS, {"device_id": device_id})
        return str(body["ticket"])

    async def ws_connect(self, *, heartbeat: float = 20.0) -> aiohttp.ClientWebSocketResponse:
        url = self.base_url.join(URL(endpoints.WEBSOCKET))
        scheme = {"http": "ws", "https": "wss"}.get(url.scheme, url.scheme)
        return await self.session.ws_connect(
            url.with_scheme(scheme), heartbeat=heartbeat, max_msg_size=64 * 1024, compress=0
        )

    # -- key directory -------------------------------------------------------------------

    async def set_root_key(self, root_key: bytes) -> None:
        await self.request("PUT", endpoints.ROOT_KEY, {"root_key": to_base64url(root_key)})

    async def add_device(self, certificate: bytes) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", endpoints.DEVICES, {"certificate": to_base64url(certificate)}
        )
        return body

    async def revoke_device(self, device_id: str) -> None:
        await self.request("DELETE", endpoints.device(device_id))

    async def account_devices(self, account_id: str) -> dict[str, Any]:
        """``{"account_id", "root_key", "devices": [...]}`` — unverified: see Directory."""
        body: dict[str, Any] = await self.request("GET", endpoints.account_devices(account_id))
        return body

    async def key_log(self, account_id: str, after: int = 0) -> list[dict[str, Any]]:
        body = await self.request(
            "GET", endpoints.account_key_log(account_id), params={"after": str(after)}
        )
        return list(body["entries"])

    async def put_key_backup(self, blob: bytes) -> None:
        async with self.session.put(
            self.base_url.join(URL(endpoints.KEY_BACKUP)),
            data=blob,
            headers=self._headers({"Content-Type": OCTETS}),
        ) as response:
            await self._raise_for(response)

    async def get_key_backup(self) -> bytes:
        async with self.session.get(
            self.base_url.join(URL(endpoints.KEY_BACKUP)), headers=self._headers()
        ) as response:
            await self._raise_for(response)
            return await response.read()

    # -- care links ----------------------------------------------------------------------

    async def request_care_link(self, provider: Provider) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", endpoints.CARE_LINKS, {"provider": provider.to_json()}
        )
        return body

    async def answer_care_link(self, link_id: str, accept: bool) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", endpoints.care_link_answer(link_id), {"accept": accept}
        )
        return body

    async def care_links(self) -> list[dict[str, Any]]:
        body = await self.request("GET", endpoints.CARE_LINKS)
        return list(body["care_links"])

    async def invite(self, provider: Provider, channel: Literal["email", "sms"], to: str) -> None:
        await self.request(
            "POST",
            endpoints.INVITATIONS,
            {"provider": provider.to_json(), "channel": channel, "to": to},
        )

    async def request_phone_code(self, code: str) -> None:
        """For an SMS invitation: texts a 6-digit code to the invited number."""
        await self.request("POST", endpoints.INVITATIONS_PHONE_CODE, {"code": code})

    async def accept_invitation(self, code: str, phone_code: str | None = None) -> dict[str, Any]:
        """An e-mail invitation is accepted by the account with the invited address;
        an SMS one needs ``phone_code``, texted by :meth:`request_phone_code`."""
        payload: dict[str, Any] = {"code": code}
        if phone_code is not None:
            payload["phone_code"] = phone_code
        body: dict[str, Any] = await self.request("POST", endpoints.INVITATIONS_ACCEPT, payload)
        return body

    # -- practices and their membership -------------------------------------------------

    async def create_practice(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("POST", endpoints.PRACTICES, {"name": name})
        return body

    async def practice(self, practice_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", endpoints.practice(practice_id))
        return body

    async def propose_member(
        self, practice_id: str, account_id: str, role: Literal["practitioner", "staff"]
    ) -> dict[str, Any]:
        """The admin offers a role; the account must accept it (``accept_membership``)."""
        body: dict[str, Any] = await self.request(
            "POST",
            endpoints.practice_members(practice_id),
            {"account_id": account_id, "role": role},
        )
        return body

    async def propose_member_by_email(
        self, practice_id: str, email: str, role: Literal["practitioner", "staff"]
    ) -> dict[str, Any]:
        """``propose_member`` for the account using ``email``; ``ApiError`` 404 when
        no account may be found by it (patients' addresses alike)."""
        body: dict[str, Any] = await self.request(
            "POST", endpoints.practice_members(practice_id), {"email": email, "role": role}
        )
        return body

    async def practice_people(self, practice_id: str) -> list[dict[str, Any]]:
        """The practice's admins only: its admins, listed members and invitees,
        ``[{"account_id", "display_name", "role", "invitation"}]``."""
        body = await self.request("GET", endpoints.practice_people(practice_id))
        return list(body["people"])

    async def own_practices(self) -> list[dict[str, Any]]:
        """The practices naming this account as an admin or on their signed list, by
        name: ``[{"practice_id", "name", "roles"}]``."""
        body = await self.request("GET", endpoints.PRACTICES)
        return list(body["practices"])

    async def membership_invitations(self) -> list[dict[str, Any]]:
        body = await self.request("GET", endpoints.PRACTICE_INVITATIONS)
        return list(body["invitations"])

    async def accept_membership(self, practice_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "POST", endpoints.practice_membership_accept(practice_id)
        )
        return body

    async def withdraw_membership(self, practice_id: str) -> None:
        await self.request("DELETE", endpoints.practice_membership_consent(practice_id))

    async def membership(self, practice_id: str) -> dict[str, Any]:
        """``{"practice_id", "admin", "epoch", "membership"}`` — unverified: see
        ``Memberships``."""
        body: dict[str, Any] = await self.request("GET", endpoints.practice_membership(practice_id))
        return body

    async def publish_membership(self, practice_id: str, signed: bytes) -> dict[str, Any]:
        body: dict[str, Any] = await self.request(
            "PUT",
            endpoints.practice_membership(practice_id),
            {"membership": to_base64url(signed)},
        )
        return body

    # -- threads -------------------------------------------------------------------------

    async def create_thread(
        self, provider: Provider, kind: str = "care", *, opening: bytes | None = None
    ) -> ThreadSummary:
        """``opening``: the signed thread opening (see ``CareChatClient.start_thread``)."""
        request: dict[str, Any] = {"kind": kind, "provider": provider.to_json()}
        if opening is not None:
            request["opening"] = to_base64url(opening)
        body = await self.request("POST", endpoints.THREADS, request)
        return ThreadSummary.from_json(body)

    async def threads(self) -> list[ThreadSummary]:
        body = await self.request("GET", endpoints.THREADS)
        return [ThreadSummary.from_json(t) for t in body["threads"]]

    async def thread(self, thread_id: str) -> ThreadSummary:
        return ThreadSummary.from_json(await self.request("GET", endpoints.thread(thread_id)))

    async def thread_action(
        self, thread_id: str, action: Literal["accept", "decline", "block", "close"]
    ) -> ThreadSummary | None:
        body = await self.request("POST", endpoints.thread_action(thread_id, action))
        return ThreadSummary.from_json(body) if isinstance(body, dict) else None

    async def messages(self, thread_id: str, *, after: int = 0, limit: int = 100) -> MessagePage:
        body = await self.request(
            "GET",
            endpoints.thread_messages(thread_id),
            params={"after": str(after), "limit": str(limit)},
        )
        next_after = body.get("next_after")
        return MessagePage(
            messages=tuple(SealedMessage.from_json(m) for m in body["messages"]),
            next_after=int(next_after) if next_after is not None else None,
        )

    async def consents(self) -> dict[str, Any]:
        """Text versions, the consents that count now, and the history."""
        body: dict[str, Any] = await self.request("GET", endpoints.CONSENTS)
        return body

    async def grant_consent(self, purpose: str, version: str, scope: str = "") -> None:
        await self.request(
            "POST", endpoints.CONSENTS, {"purpose": purpose, "version": version, "scope": scope}
        )

    async def revoke_consent(self, purpose: str, scope: str = "") -> None:
        await self.request("POST", endpoints.CONSENTS_REVOKE, {"purpose": purpose, "scope": scope})

    async def report(
        self, thread_id: str, seq: int, body: bytes, franking_key: bytes, category: str
    ) -> dict[str, Any]:
        """Reveal a message's plaintext and franking key to the moderators."""
        answer: dict[str, Any] = await self.request(
            "POST",
            endpoints.REPORTS,
            {
                "thread": thread_id,
                "seq": seq,
                "body": to_base64url(body),
                "franking_key": to_base64url(franking_key),
                "category": category,
            },
        )
        return answer

    async def report_mailing(
        self, campaign_id: str, text: bytes, franking_key: bytes, category: str
    ) -> dict[str, Any]:
        """Reveal a received mailing's text and franking key to the moderators."""
        answer: dict[str, Any] = await self.request(
            "POST",
            endpoints.REPORTS,
            {
                "campaign": campaign_id,
                "body": to_base64url(text),
                "franking_key": to_base64url(franking_key),
                "category": category,
            },
        )
        return answer

    # -- attachments ---------------------------------------------------------------------

    async def upload_attachment(
        self, thread_id: str, ciphertext: AsyncIterable[bytes], size: int | None = None
    ) -> dict[str, Any]:
        """Streams ``ciphertext`` up; ``{"attachment_id", "size"}``."""
        headers = {"Content-Type": OCTETS}
        if size is not None:
            headers["X-Content-Length"] = str(size)
        async with self.session.post(
            self.base_url.join(URL(endpoints.thread_attachments(thread_id))),
            data=ciphertext,
            headers=self._headers(headers),
        ) as response:
            await self._raise_for(response)
            body: dict[str, Any] = await response.json(content_type=None)
            return body

    # -- paid chats (docs/payments.md; the JSON calls are PanelClient's) ---------------

    async def payment_receipt(self, thread_id: str) -> PaymentReceipt:
        """The printable HTML receipt of the patient's charged paid chat."""
        async with self.session.get(
            self.base_url.join(URL(endpoints.payment_receipt(thread_id))),
            headers=self._headers(),
        ) as response:
            await self._raise_for(response)
            return PaymentReceipt(thread_id, response.content_type, await response.text())

    # -- GDPR (docs/gdpr.md) ------------------------------------------------------------

    async def export_data(self, password: str) -> bytes:
        """The export archive (a ZIP); the password is asked again by the server."""
        async with self.session.post(
            self.base_url.join(URL(endpoints.EXPORT)),
            json={"password": password},
            headers=self._headers(),
        ) as response:
            await self._raise_for(response)
            return await response.read()

    async def erasure(self) -> dict[str, Any]:
        body: dict[str, Any] = await self.request("GET", endpoints.ERASURE)
        return body

    async def request_erasure(self, password: str) -> dict[str, Any]:
        """Starts the grace period; ``{"pending", "requested_at", "erase_after"}``."""
        body: dict[str, Any] = await self.request("POST", endpoints.ERASURE, {"password": password})
        return body

    async def cancel_erasure(self) -> None:
        await self.request("DELETE", endpoints.ERASURE)

    @contextlib.asynccontextmanager
    async def download_attachment(self, attachment_id: str) -> AsyncIterator[aiohttp.StreamReader]:
        """``async with api.download_attachment(id) as stream:`` the ciphertext bytes."""
        async with self.session.get(
            self.base_url.join(URL(endpoints.attachment(attachment_id))), headers=self._headers()
        ) as response:
            await self._raise_for(response)
            yield response.content
