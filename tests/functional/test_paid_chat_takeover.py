"""A ``carechat serve`` SIGKILLed between Stripe's capture and its record converges on
restart: real processes, a real MongoDB replica set, the real stripe SDK against the
local Stripe double (tests/stripe_double.py, not Stripe).

The first process captures a card hold at the double, which carries the capture out
and holds the answer back; the process is killed while it waits. Stripe has acted, we
have recorded nothing. A second process, started afterwards, takes the ``stripe_call``
job over once the dead one's lease runs out, sends the same idempotency key, gets
Stripe's first answer and records the capture: one capture at Stripe, one record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import aiohttp
from pymongo import AsyncMongoClient

from chat_server.admin import create_admin
from chat_server.clock import SystemClock
from tests.actors import Actor, login
from tests.faults.harness import server_env, until
from tests.paid import accept_terms
from tests.panels import answer, create_panel, gp, online, patient, question_id, seal, verified
from tests.servers import FileOutboxReader, ServerProcess, UrlClient
from tests.services import Services, database_dropped
from tests.stripe_double import StripeDouble

PANEL: Final = "general"
ADMIN_PASSWORD: Final = "an operator's long passphrase"
WAIT_S: Final = 30.0


async def _platform_admin(client: UrlClient, env: dict[str, str]) -> Actor:
    """A platform admin, made in the database as ``carechat admin create-admin`` does."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        env["CARECHAT_MONGODB_URI"], tz_aware=True
    )
    try:
        await create_admin(
            mongo[env["CARECHAT_MONGODB_DB"]], SystemClock(), "root@example.org", ADMIN_PASSWORD
        )
    finally:
        await mongo.close()
    session = await login(client, "root@example.org", ADMIN_PASSWORD)
    return Actor(client, "root@example.org", session["account_id"], session["token"], "admin")


async def test_a_server_killed_between_its_capture_and_the_record_converges_on_restart(
    services: Services, tmp_path: Path
) -> None:
    async with StripeDouble() as double:
        env = server_env(
            services.mongo.uri,
            services.redis.url,
            CARECHAT_JOBS_LEASE_SECONDS="2",
            CARECHAT_JOBS_POLL_SECONDS="0.2",
            CARECHAT_PAYMENTS_PANEL_ID=PANEL,
            CARECHAT_STRIPE_SECRET_KEY="sk_test_double",
            CARECHAT_STRIPE_WEBHOOK_SECRETS=double.webhook_secret,
            CARECHAT_STRIPE_API_BASE=double.url,
        )
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo.uri)
        chats = mongo[env["CARECHAT_MONGODB_DB"]]["paid_chats"]
        first = ServerProcess(tmp_path, env)
        second = ServerProcess(tmp_path, env)
        try:
            with database_dropped(env):
                first.start()
                double.webhook_url = f"{first.url}/api/v1/stripe/webhook"
                async with aiohttp.ClientSession() as http:
                    client = UrlClient(http, first.url)
                    outbox = FileOutboxReader(tmp_path)
                    platform = await _platform_admin(client, env)
                    doctor = await gp(client, outbox, platform, "gp@example.org")
                    panel = await create_panel(doctor, [doctor], panel_id=PANEL)
                    ann = await patient(client, outbox, "ann@example.org")
                    await accept_terms(ann)
                    qid = question_id()
                    envelope = seal(
                        ann,
                        qid,
                        "q1",
                        b"A rash since yesterday, not itchy.",
                        patient_devices=verified(ann),
                        epoch=panel.current,
                    )
                    chat = await ann.call(
                        "POST",
                        "/api/v1/paid-chats",
                        {"thread_id": qid, "client_msg_id": "q1", "envelope": envelope},
                        expect=201,
                    )
                    session_id = str(chat["checkout_url"]).rsplit("/", 1)[1]
                    await double.deliver_all(double.pay(session_id, "card"))

                    async def queued() -> bool:
                        return await chats.count_documents({"_id": qid, "state": "queued"}) == 1

                    await until(queued, WAIT_S, "the paid chat in the queue")
                    # The capture is carried out at the double; its answer never comes.
                    double.hang_seconds = 5.0
                    double.fail("capture", status=-1)
                    await online(doctor, panel_id=PANEL)
                    await doctor.call("POST", f"/api/v1/panels/{PANEL}/claims", {}, expect=201)
                    await answer(doctor, panel, qid, verified(ann))
                    await until(lambda: double.calls("/capture") == 1, WAIT_S, "the capture")
                    first.kill()  # SIGKILL while it waits for Stripe's answer

                intent = (await chats.find_one({"_id": qid}) or {})["payment_intent"]
                assert double.intents[intent]["status"] == "succeeded"  # Stripe acted
                assert "captured" not in (await chats.find_one({"_id": qid}) or {})["facts"]

                second.start()
                double.webhook_url = f"{second.url}/api/v1/stripe/webhook"

                async def recorded() -> bool:
                    return await chats.count_documents({"_id": qid, "facts": "captured"}) == 1

                await until(recorded, WAIT_S, "the second process to record the capture")
                assert double.calls("/capture") == 2
                keys = {key for _, path, key, _ in double.requests if path.endswith("/capture")}
                assert len(keys) == 1  # the same idempotency key: Stripe acted once
                succeeded = [e for e in double.events if e["type"] == "payment_intent.succeeded"]
                assert len(succeeded) == 1
                second.stop()
        finally:
            first.kill()
            second.kill()
            await mongo.close()
