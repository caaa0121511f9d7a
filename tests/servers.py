"""Real ``carechat serve`` processes for multi-process tests, sharing MongoDB and Redis."""

from __future__ import annotations

import contextlib
import email
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from carechat_bench.processes import CareChatServer
from chat_server.mail import OutgoingMessage

SERVER_SECRET = "test-server-secret-shared-by-every-process"


class ServerProcess(CareChatServer):
    """``carechat serve`` as the benchmark starts it, with the secret every test
    process shares (tickets and tokens from one process work on the other)."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        super().__init__(data_dir, {"CARECHAT_SERVER_SECRET": SERVER_SECRET, **env})

    async def metric(self, name: str) -> float:
        """One unlabelled sample of the process's ``/metrics``, 0 if absent."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                self.metrics_url + "/metrics", timeout=aiohttp.ClientTimeout(total=5)
            ) as response,
        ):
            text = await response.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        return 0.0


@contextlib.contextmanager
def server_pair(data_dir: Path, env: dict[str, str]) -> Iterator[list[ServerProcess]]:
    """Two server processes sharing the services named in ``env``, always stopped."""
    started = [ServerProcess(data_dir, env), ServerProcess(data_dir, env)]
    with contextlib.ExitStack() as stack:
        for server in started:
            stack.enter_context(server)
        yield started


def outbox_bodies(data_dir: Path) -> list[str]:
    """The e-mails the servers wrote to their file outbox, oldest first."""
    files = sorted((data_dir / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    bodies = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes())
        payload = message.get_payload(decode=True)
        bodies.append(payload.decode() if isinstance(payload, bytes) else "")
    return bodies


class UrlClient:
    """The slice of aiohttp's TestClient that tests use, over real server URLs.

    ``base`` can be switched, as a load balancer would send a reconnecting client to
    another process.
    """

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.session.request(method, self.base + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(self.base + path, **kwargs)

    async def ws_connect(self, path: str, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
        ws: aiohttp.ClientWebSocketResponse = await self.session.ws_connect(
            self.base + path, **kwargs
        )
        return ws


class FileOutboxReader:
    """Reads what server processes wrote to their shared file outbox."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def last_to(self, to: str) -> Any:
        for path in sorted(
            (self.data_dir / "outbox").glob("*.eml"),
            key=lambda p: p.stat().st_mtime_ns,
            reverse=True,
        ):
            message = email.message_from_bytes(path.read_bytes())
            if message["To"] == to:
                payload = message.get_payload(decode=True)
                body = payload.decode() if isinstance(payload, bytes) else ""
                return OutgoingMessage("email", to, str(message["Subject"]), body)
        raise LookupError(to)
