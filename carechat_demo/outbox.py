"""The demo server's mail: to the data directory's outbox, and remembered for the seeder.

People who sign up in the browser find their verification link in
``<data_dir>/outbox`` (the embedded default's "mailbox", as with ``carechat serve``);
the seeder reads its own accounts' links from memory instead of parsing files.
"""

from __future__ import annotations

from pathlib import Path

from chat_server.mail import FileOutbox, MemoryOutbox


class DemoOutbox(MemoryOutbox):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._files = FileOutbox(directory)

    async def send(self, to: str, subject: str, body: str) -> None:
        await super().send(to, subject, body)
        await self._files.send(to, subject, body)

    async def send_sms(self, to: str, body: str) -> None:
        await super().send_sms(to, body)
        await self._files.send_sms(to, body)

    def verification_token(self, email: str) -> str:
        """The token of the last verification link mailed to ``email``."""
        body = self.last_to(email).body
        return body.split("/verify#", 1)[1].split()[0]

    def forget(self) -> None:
        """Drop what was kept (it holds one-time links): called once seeding is done."""
        self.sent.clear()
