"""The world of the end-to-end browser suite: ``carechat demo`` seeded, ``carechat serve``
running on it, and a practice's site embedding the widget.

Built as a new user gets it: ``carechat demo --seed-only`` on the session's MongoDB
and Redis (its own database and key prefix), then a real ``carechat serve`` on the
same settings, logging at DEBUG into files the canary scan reads, which the suite may
stop and start again mid-conversation (``restart``). Nothing here is shared with the
other browser tests' server, so a restart disturbs no one.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiohttp import web
from aiohttp.test_utils import TestServer
from pymongo import MongoClient

from carechat_demo.cast import PRACTICE_NAME
from carechat_demo.keyring import Keyring
from chat_server.embedded.processes import free_port
from chat_server.rest.pages import widget_snippet
from chat_server.web_manifest import DEFAULT_BUILD_DIR, load_manifest
from tests.functional.command import Server, carechat_env, run_carechat
from tests.services import Services

DEMO_TIMEOUT = 240.0


def practice_page(carechat_url: str, practice_id: str) -> web.Application:
    """A practice's own site: a heading and the documented snippet, nothing else."""

    async def index(request: web.Request) -> web.Response:
        snippet = widget_snippet(carechat_url, practice_id, load_manifest(DEFAULT_BUILD_DIR))
        body = (
            '<!doctype html><html lang="en"><meta charset="utf-8">'
            '<link rel="icon" href="data:,"><title>Huisartsenpraktijk Flagey</title>'
            f"<main><h1>Huisartsenpraktijk Flagey</h1></main>{snippet}</html>"
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app


@dataclass
class DemoWorld:
    base_url: str
    site_url: str
    data_dir: Path
    env: dict[str, str]
    mongo_uri: str
    db_name: str
    redis_url: str
    redis_prefix: str
    practice_id: str
    accounts: dict[str, str]  # email -> account id
    servers: list[Server] = field(default_factory=list)

    @property
    def server(self) -> Server:
        return self.servers[-1]

    def start(self) -> None:
        server = Server(self.env, self.data_dir / f"serve-{len(self.servers)}.log")
        self.servers.append(server)
        server.wait_ready()

    def stop(self) -> None:
        """A graceful stop (sockets closed with 1001, as in a deploy)."""
        assert self.server.stop(signal.SIGTERM) == 0

    def restart(self) -> None:
        """A graceful stop, then a new process."""
        self.stop()
        self.start()

    def logs(self) -> str:
        return "\n".join(s.output for s in self.servers)

    def keyring(self) -> Keyring:
        """The demo accounts' SDK keys, as ``carechat demo`` left them."""
        return Keyring(self.data_dir / "data" / "demo")

    def db(self) -> MongoClient[dict[str, Any]]:
        return MongoClient(self.mongo_uri, tz_aware=True)

    def close(self) -> None:
        for server in self.servers:
            server.kill()
        with self.db() as client:
            client.drop_database(self.db_name)


async def demo_world(services: Services, data_dir: Path) -> AsyncIterator[DemoWorld]:
    port, db_name, prefix = free_port(), f"e2e_{uuid4().hex[:12]}", f"e{uuid4().hex[:12]}:"
    settings = {
        "mongodb_uri": services.mongo.uri,
        "mongodb_db": db_name,
        "redis_url": services.redis.url,
        "redis_prefix": prefix,
        "server_secret": secrets.token_urlsafe(32),
        "log_level": "DEBUG",
        # The budgets fill a 200-message thread at once, past the default send limits.
        "send_limit_per_device": "1000",
        "send_limit_per_account": "10000",
    }
    seeding = carechat_env(data_dir / "data", port, **settings)
    seeded = run_carechat(
        ["demo", "--seed-only", "--site-port", str(free_port())], seeding, timeout=DEMO_TIMEOUT
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    with MongoClient[dict[str, Any]](services.mongo.uri) as client:
        practice = client[db_name].practices.find_one({"name": PRACTICE_NAME})
        assert practice is not None
        accounts = {doc["email"]: doc["_id"] for doc in client[db_name].accounts.find()}
    base_url = f"http://127.0.0.1:{port}"
    site = TestServer(practice_page(base_url, practice["_id"]), host="127.0.0.1")
    await site.start_server()
    site_url = str(site.make_url("/"))
    env = carechat_env(
        data_dir / "data", port, **settings, widget_embed_origins=site_url.rstrip("/")
    )
    world = DemoWorld(
        base_url=base_url,
        site_url=site_url,
        data_dir=data_dir,
        env=env,
        mongo_uri=services.mongo.uri,
        db_name=db_name,
        redis_url=services.redis.url,
        redis_prefix=prefix,
        practice_id=practice["_id"],
        accounts=accounts,
    )
    try:
        world.start()
        yield world
    finally:
        world.close()
        await site.close()
