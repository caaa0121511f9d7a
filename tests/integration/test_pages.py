"""The web client's routes without a browser: the 503 of a missing build, the CSP of
each page, and the files reached only through the manifest."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.rest.pages import APP_POLICY, page_policy
from chat_server.settings import Settings
from chat_server.web_manifest import DEFAULT_BUILD_DIR

Client = TestClient[web.Request, web.Application]
ROUTES = [
    "/app", "/panel", "/practice", "/moderation", "/widget", "/widget.js",
    "/static/build/widget-AAAAAAAA.js",
]  # fmt: skip


async def pages_client(
    aiohttp_client: Any, settings: Settings, build_dir: Path, clock: ManualClock
) -> Client:
    outbox = MemoryOutbox()
    app = create_app(settings, clock=clock, mailer=outbox, sms=outbox, web_build_dir=build_dir)
    test_client: Client = await aiohttp_client(app)
    return test_client


@pytest.mark.parametrize("path", ROUTES)
async def test_a_missing_build_answers_503_saying_to_build(
    aiohttp_client: Any,
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    clock: ManualClock,
    tmp_path: Path,
    path: str,
) -> None:
    client = await pages_client(aiohttp_client, settings, tmp_path / "no-build", clock)
    response = await client.get(path)
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["code"] == "web_client_not_built"
    assert "node web/build.mjs" in body["title"]
    # The operator's detail (the build folder) stays in the log.
    assert str(tmp_path) not in await response.text()


async def test_a_build_made_after_start_is_served_without_restart(
    aiohttp_client: Any,
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    build_dir = tmp_path / "build"
    client = await pages_client(aiohttp_client, settings, build_dir, clock)
    assert (await client.get("/app")).status == 503
    shutil.copytree(DEFAULT_BUILD_DIR, build_dir)
    response = await client.get("/app")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == APP_POLICY


async def test_the_widget_may_be_framed_by_no_site_by_default(client: Client) -> None:
    response = await client.get("/widget")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == page_policy(())
    assert response.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


async def test_the_widget_names_the_configured_sites(
    aiohttp_client: Any,
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    clock: ManualClock,
) -> None:
    sites = ("https://a.example", "https://b.example:8443")
    configured = dataclasses.replace(settings, widget_embed_origins=sites)
    client = await pages_client(aiohttp_client, configured, DEFAULT_BUILD_DIR, clock)
    response = await client.get("/widget")
    policy = response.headers["Content-Security-Policy"]
    assert policy.endswith("frame-ancestors https://a.example https://b.example:8443")
    # /app, /panel, /practice and /moderation are never framed, whatever the widget allows.
    for path in ("/app", "/panel", "/practice", "/moderation"):
        response = await client.get(path)
        assert response.headers["Content-Security-Policy"] == APP_POLICY
        assert APP_POLICY.endswith("frame-ancestors 'none'")


async def test_only_files_of_the_manifest_are_served(client: Client) -> None:
    for path in ["/static/build/manifest.json", "/static/build/.carechat-stamp"]:
        response = await client.get(path)
        assert response.status == 404
        assert (await response.json())["code"] == "not_found"


@pytest.mark.parametrize("path", ["/verify", "/invite", "/announcements"])
async def test_the_links_in_e_mails_open_the_widget(client: Client, path: str) -> None:
    widget = await client.get("/widget")
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == widget.headers["Content-Security-Policy"]
    assert await response.text() == await widget.text()
