"""The e-mail that tells a patient a practice mailing is waiting, and how it is sent.

The e-mail is content-free: it says that the practice has sent a message, in the
patient's language, and nothing about the message, the practice's speciality or the
campaign (all of which could say who is ill). It carries RFC 8058 one-click
unsubscribe headers: ``List-Unsubscribe`` with an HTTPS URL holding an opaque token,
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; a DKIM signer in front of
the relay must sign both (docs/mailings.md).

Senders: :class:`SmtpNoticeMailer` (aiosmtplib) when an SMTP host is configured,
:class:`FileNoticeMailer` (``.eml`` files in ``<data_dir>/outbox``) otherwise.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Final, Protocol

import aiosmtplib

from chat_server.tokens import new_id

DEFAULT_LANGUAGE: Final = "en"
ANNOUNCEMENTS_PAGE: Final = "/announcements"  # rest/pages.py: the widget, announcements shown

# (subject, body) per language. No practice name, no campaign, no medical word.
TEXTS: Final[dict[str, tuple[str, str]]] = {
    "en": (
        "Your practice has sent you a message",
        "Your practice has sent you a message on CareChat.\n\n"
        "Open CareChat to read it: {url}\n\n"
        "You receive this because your practice sends prevention messages and news to "
        "its patients. To receive no more of them: {unsubscribe}\n",
    ),
    "fr": (
        "Votre cabinet vous a envoyé un message",
        "Votre cabinet vous a envoyé un message sur CareChat.\n\n"
        "Ouvrez CareChat pour le lire : {url}\n\n"
        "Vous recevez cet e-mail car votre cabinet envoie des messages de prévention et "
        "des nouvelles à ses patients. Pour ne plus les recevoir : {unsubscribe}\n",
    ),
    "nl": (
        "Uw praktijk heeft u een bericht gestuurd",
        "Uw praktijk heeft u een bericht gestuurd op CareChat.\n\n"
        "Open CareChat om het te lezen: {url}\n\n"
        "U ontvangt deze e-mail omdat uw praktijk preventieberichten en nieuws naar haar "
        "patiënten stuurt. Wilt u ze niet meer ontvangen: {unsubscribe}\n",
    ),
}
LANGUAGES: Final = frozenset(TEXTS)


class NoticeMailer(Protocol):
    async def send_message(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class NoticeSender:
    """Who the notices come from, and where their links point."""

    from_address: str
    public_url: str

    def domain(self) -> str:
        address = parseaddr(self.from_address)[1]
        return address.rpartition("@")[2] or "carechat.invalid"


def notice_email(
    sender: NoticeSender,
    to: str,
    language: str,
    unsubscribe_url: str,
    unsubscribe_page: str,
    at: datetime,
) -> EmailMessage:
    """``unsubscribe_url`` takes the one-click POST (header); ``unsubscribe_page`` is
    the page a person opens from the body, which asks before it unsubscribes."""
    subject, body = TEXTS.get(language, TEXTS[DEFAULT_LANGUAGE])
    message = EmailMessage()
    message["From"] = sender.from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(idstring=new_id()[:12], domain=sender.domain())
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Bulk mail by the providers' rules: marked as such, no auto-replies back.
    message["Precedence"] = "bulk"
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = language if language in LANGUAGES else DEFAULT_LANGUAGE
    # The link opens the patient's announcements (the widget's page), not the
    # practitioners' inbox at /app.
    url = f"{sender.public_url}{ANNOUNCEMENTS_PAGE}"
    message.set_content(body.format(url=url, unsubscribe=unsubscribe_page))
    return message


class SmtpNoticeMailer:
    def __init__(self, host: str, port: int, *, starttls: bool, timeout: float = 10.0) -> None:
        self._host, self._port, self._starttls, self._timeout = host, port, starttls, timeout

    async def send_message(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            start_tls=self._starttls,
            timeout=self._timeout,
        )


class FileNoticeMailer:
    """The embedded default has no relay: each notice is a file in the outbox."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    async def send_message(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message.as_bytes())

    def _write(self, data: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self._dir / f"{new_id()}.eml").write_bytes(data)
