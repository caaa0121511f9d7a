"""``carechat demo`` as a new user runs it: it seeds what it prints, and only once.

The command runs as a child process (``--seed-only`` stops it once printed) on the
embedded default and on a configured MongoDB; the database is then read directly,
and a patient signs in on a new device with the printed recovery passphrase and
reads her history, as the widget will in a new browser.
"""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from carechat_demo.cast import (
    CONVERSATIONS,
    MODERATOR_EMAIL,
    PASSWORD,
    PATIENTS,
    PRACTICE_NAME,
    PRACTITIONERS,
    person,
)
from carechat_demo.seed import next_totp_step
from chat_server import totp
from chat_server.clock import SystemClock
from chat_server.embedded.processes import free_port
from e2e_crypto.client import CareChatClient, RenewalRequest, Text
from tests.functional.command import Finished, run_carechat
from tests.functional.conftest import StartServer

DEMO_TIMEOUT = 240.0


def _demo(env: dict[str, str]) -> Finished:
    result = run_carechat(
        ["demo", "--seed-only", "--site-port", str(free_port())], env, timeout=DEMO_TIMEOUT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _counts(db: Any) -> dict[str, int]:
    return {
        name: db[name].count_documents({})
        for name in ("accounts", "devices", "practices", "care_links", "threads", "messages")
    }


def _check_world(db: Any) -> None:
    accounts = {doc["email"]: doc for doc in db.accounts.find()}
    assert set(accounts) >= {p.email for p in (*PATIENTS, person("sofie"), person("marc"))}
    assert all(doc["status"] == "active" for doc in accounts.values())
    sofie, marc = accounts[person("sofie").email], accounts[person("marc").email]
    assert sofie["totp_enabled"] is True
    assert not marc.get("totp_enabled")
    [practice] = db.practices.find({"name": PRACTICE_NAME})
    assert sorted(practice["practitioners"]) == sorted([sofie["_id"], marc["_id"]])
    links = list(db.care_links.find({"provider_id": practice["_id"]}))
    assert sorted(link["status"] for link in links) == ["active"] * 3
    threads = {t["patient_id"]: t for t in db.threads.find()}
    by_patient = {accounts[person(c.patient).email]["_id"]: c for c in CONVERSATIONS}
    assert set(threads) == set(by_patient)
    for patient_id, conversation in by_patient.items():
        thread = threads[patient_id]
        assert thread["state"] == ("open" if conversation.accepted_by else "requested")
        messages = list(db.messages.find({"thread": thread["_id"]}))
        assert len(messages) == len(conversation.lines)
    for message in db.messages.find():  # sealed: no plaintext at rest
        assert b"blood pressure" not in bytes(message["envelope"])


async def test_demo_on_a_configured_mongodb_seeds_once_and_a_patient_restores_her_keys(
    external_env: dict[str, str],
    external_db: str,
    data_dir: Path,
    start_server: StartServer,
) -> None:
    mongo_uri = external_env["CARECHAT_MONGODB_URI"]
    first = _demo(external_env)
    assert "Created this run: operator, account admin" in first.stdout
    # Every browser login needs its recovery passphrase: patients' and practitioners'.
    for who in (*PATIENTS, *PRACTITIONERS):
        assert who.email in first.stdout
        assert who.passphrase in first.stdout
    assert f"password: {PASSWORD}" in first.stdout
    # Where a new sign-up finds the verification link (the embedded default's mailbox).
    assert f"the verification e-mail is a file in {data_dir / 'outbox'}" in first.stdout
    assert "/moderation" in first.stdout
    assert f"Moderator (moderator console): {MODERATOR_EMAIL}" in first.stdout
    [created] = [line for line in first.stdout.splitlines() if "Created this run:" in line]
    assert created.endswith(", moderator")
    keys = data_dir / "demo" / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    with MongoClient[dict[str, Any]](mongo_uri) as client:
        db = client[external_db]
        _check_world(db)
        moderator = db.accounts.find_one({"email": MODERATOR_EMAIL})
        assert moderator is not None
        assert moderator["role"] == "admin"
        before = _counts(db)

    second = _demo(external_env)
    assert "Everything already existed: nothing was created." in second.stdout
    with MongoClient[dict[str, Any]](mongo_uri) as client:
        db = client[external_db]
        assert _counts(db) == before  # no second account, device, link, thread or message
        sofie = db.accounts.find_one({"email": person("sofie").email})
        assert sofie is not None

    # What the printed logins are for: Anne on a new device restores from her backup
    # with her passphrase and reads the seeded history; Sofie logs in with a code.
    server = start_server(external_env)
    server.wait_ready()
    history, doctor_role = await _as_new_devices(
        f"http://127.0.0.1:{server.port}", sofie["totp_secret"], sofie.get("totp_last_step")
    )
    anne = next(c for c in CONVERSATIONS if c.patient == "anne")
    assert history == [line.payload for line in anne.lines]
    assert any(isinstance(p, RenewalRequest) for p in history)
    assert isinstance(history[0], Text)
    assert doctor_role == "practitioner"


async def _as_new_devices(
    base_url: str, totp_secret: str, last_step: int | None
) -> tuple[list[Any], str]:
    anne = person("anne")
    async with CareChatClient(base_url) as sdk:
        await sdk.login(anne.email, PASSWORD)
        await sdk.restore_keys(anne.passphrase)
        [thread] = await sdk.threads()
        assert thread.provider is not None
        assert thread.provider.kind == "practice"
        payloads = [m.payload async for m in sdk.history(thread.thread_id)]
    clock = SystemClock()
    step = next_totp_step(clock, last_step)
    await asyncio.sleep(max(0.0, (step - 1) * totp.STEP_SECONDS - clock.now().timestamp()))
    async with CareChatClient(base_url) as doctor:
        grant = await doctor.login(person("sofie").email, PASSWORD, totp.code_at(totp_secret, step))
    return payloads, grant.role


@pytest.mark.slow
def test_demo_on_the_embedded_default_seeds_once(
    env: dict[str, str], data_dir: Path, start_server: StartServer
) -> None:
    first = _demo(env)
    assert "thread with the practice: open" in first.stdout
    second = _demo(env)
    assert "Everything already existed: nothing was created." in second.stdout
    # The embedded MongoDB runs only while a command does: look through a server.
    start_server(env).wait_ready()
    uri = (data_dir / "mongodb" / "connection-uri").read_text().strip()
    with MongoClient[dict[str, Any]](uri) as client:
        _check_world(client.carechat)
