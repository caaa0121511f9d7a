"""Outgoing e-mail and SMS: the edge of the system.

Handlers talk to :class:`Mailer` and :class:`SmsSender`. Production sends e-mail over
SMTP; the embedded default writes ``.eml`` files into ``<data_dir>/outbox`` so a
developer can follow links by hand; tests use :class:`MemoryOutbox`. Bodies carry links
and codes but never medical content, and are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from chat_server.tokens import new_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    channel: str  # "email" | "sms"
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class SmsSender(Protocol):
    async def send_sms(self, to: str, body: str) -> None: ...


class MemoryOutbox:
    """Keeps what would have been sent, for tests and the demo."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append(OutgoingMessage("email", to, subject, body))

    async def send_sms(self, to: str, body: str) -> None:
        self.sent.append(OutgoingMessage("sms", to, "", body))

    def last_to(self, to: str) -> OutgoingMessage:
        return next(m for m in reversed(self.sent) if m.to == to)


class BackgroundMailer:
    """Sends after the request has been answered.

    For mail that exists only for some addresses (a password-reset link): sending it
    inside the request would make a known address answer later, or with a 500 when
    the relay fails, than an unknown one. The message is not durable: it may hold a
    one-time secret, which must not sit in the jobs collection, and whoever asked can
    simply ask again.
    """

    def __init__(
        self, mailer: Mailer, spawn: Callable[[Coroutine[object, object, None]], Awaitable[object]]
    ) -> None:
        self._mailer = mailer
        self._spawn = spawn

    async def send(self, to: str, subject: str, body: str) -> None:
        await self._spawn(self._send(to, subject, body))

    async def _send(self, to: str, subject: str, body: str) -> None:
        try:
            await self._mailer.send(to, subject, body)
        except Exception as exc:  # the relay's failure; nobody is waiting for it
            log.warning("background mail failed", extra={"fields": {"error": type(exc).__name__}})


class FileOutbox:
    """Writes each e-mail or SMS as a file: the embedded default has no relay."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    async def send(self, to: str, subject: str, body: str) -> None:
        await asyncio.to_thread(self._write, "eml", _email(to, subject, body).as_bytes())

    async def send_sms(self, to: str, body: str) -> None:
        await asyncio.to_thread(self._write, "sms.txt", f"To: {to}\n\n{body}\n".encode())

    def _write(self, suffix: str, data: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self._dir / f"{new_id()}.{suffix}").write_bytes(data)


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, *, starttls: bool = True) -> None:
        self._host, self._port, self._sender, self._starttls = host, port, sender, starttls

    async def send(self, to: str, subject: str, body: str) -> None:
        message = _email(to, subject, body, sender=self._sender)
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=10) as smtp:
            if self._starttls:
                smtp.starttls()
            smtp.send_message(message)


def _email(
    to: str, subject: str, body: str, sender: str = "CareChat <no-reply@carechat.invalid>"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message
