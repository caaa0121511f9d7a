"""``carechat bench --mailing``: a 10,000-recipient campaign fans out under 1:1 chat.

An additive phase in its own module (the other phases are in ``runner.py``):

1. peak      the closed-loop maximum of 1:1 chat (as phase 2 of ``runner.py``)
2. baseline  open-loop 1:1 chat at 30 % of that peak: send→delivery p50/p99
3. campaign  the same chat load while a 10,000-recipient campaign, scheduled to
             start at once, fans out through the server's durable job: its duration
             (start of sending → done, as MongoDB records it) and the chat p99 meanwhile

The campaign's recipients are synthetic patients with a care link to the practice
and a real sealed slip each (a broadcast to 10,000 certified devices), written
through the server's own stores; they have no accounts, so no notice e-mail is
sent (the e-mail path is measured by the tests with a real SMTP server instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from carechat_bench.processes import CareChatServer, LoaderProcess
from carechat_bench.report import phase_table
from carechat_bench.runner import DB, base_env, check_phase, seed_roster
from chat_server.clock import SystemClock
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.jobs import JobStore
from chat_server.model.campaigns import Campaign, CampaignEvent, CampaignState
from chat_server.storage.campaigns import CampaignStore, Recipient
from chat_server.storage.mongo import make_client
from chat_server.storage.practices import LinkStatus, ProviderKind
from e2e_crypto.broadcast import seal_broadcast
from e2e_crypto.keys import DeviceKeys, RootKey
from moderation.consents import TEXT_VERSIONS, ConsentAction, Purpose

FANOUT_KIND = "mailing_fanout"  # chat_server.handlers.mailings.FANOUT_KIND
PRACTICE = "bench-practice"


@dataclass(frozen=True, slots=True)
class MailingOptions:
    runs: int = 3
    pairs: int = 500
    recipients: int = 10_000
    chat_seconds: float = 12.0  # long enough to cover the whole fan-out
    rate_per_second: float = 10_000.0  # the campaign's rate limit setting
    window: int = 4
    command: str = "carechat bench --mailing"


def mailing(options: MailingOptions) -> str:
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="carechat-bench-mailing-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o700)  # the roster holds session tokens
        with contextlib.ExitStack() as stack:
            mongo = stack.enter_context(EmbeddedMongo(workdir / "mongo", cache_gb=1.0))
            env = base_env(mongo.uri) | {
                "CARECHAT_MAILING_RATE_PER_SECOND": str(options.rate_per_second),
                "CARECHAT_JOBS_POLL_SECONDS": "0.1",
            }
            roster = seed_roster(mongo.uri, options.pairs, 2)
            roster_path = workdir / "roster.json"
            roster_path.write_text(json.dumps(roster.to_json()))
            server = stack.enter_context(CareChatServer(workdir / "server", env))
            loader = stack.enter_context(LoaderProcess(workdir))
            loader.call("start", base_url=server.url, roster=str(roster_path))
            loader.call("setup")
            loader.call("connect", group="pairs")
            loader.call("seal", group="pairs", per_device=10)
            top = loader.call("closed", group="pairs", window=options.window, patience=120.0)
            check_phase(top, "max")
            rate = top["delivered_per_s"] * 0.3
            figures.setdefault("chat_rate", []).append(rate)
            per_device = max(1, math.ceil(rate * options.chat_seconds / (options.pairs * 2)))
            for run in range(options.runs):
                loader.call("seal", group="pairs", per_device=per_device)
                alone = loader.call("open", group="pairs", rate=rate, patience=60.0)
                check_phase(alone, "chat alone")
                figures.setdefault("alone_p50_ms", []).append(alone["p50_ms"])
                figures.setdefault("alone_p99_ms", []).append(alone["p99_ms"])
                campaign_id = f"bench-campaign-{run:04d}-0000"
                asyncio.run(_seed_campaign(mongo.uri, campaign_id, options.recipients))
                loader.call("seal", group="pairs", per_device=per_device)
                loader.send("open", group="pairs", rate=rate, patience=60.0)
                duration = asyncio.run(_start_and_wait(mongo.uri, campaign_id, options.recipients))
                during = loader.answer()
                check_phase(during, "chat during the campaign")
                figures.setdefault("campaign_s", []).append(duration)
                figures.setdefault("during_p50_ms", []).append(during["p50_ms"])
                figures.setdefault("during_p99_ms", []).append(during["p99_ms"])
                print(
                    f"  run {run + 1}: campaign {duration:.2f} s; chat p99 "
                    f"{alone['p99_ms']:.1f} ms alone, {during['p99_ms']:.1f} ms during",
                    flush=True,
                )
    return _table(figures, options)


async def _seed_campaign(uri: str, campaign_id: str, recipients: int) -> None:
    """A draft campaign to ``recipients`` linked patients who consent to the
    practice's mailings, as a practice's client would have submitted it (one body,
    one sealed slip per device)."""
    client = make_client(uri)
    try:
        db = client[DB]
        now = SystemClock().now()
        root = RootKey.generate()
        devices = []
        for n in range(recipients):
            keys = DeviceKeys.generate(f"{campaign_id[:20]}-p{n:06d}", "d1")
            devices.append(keys.verified(root.certify(keys), root.public_key))
        await db["care_links"].insert_many(
            [
                {
                    "_id": f"link-{d.account_id}",
                    "patient_id": d.account_id,
                    "provider_kind": str(ProviderKind.PRACTICE),
                    "provider_id": PRACTICE,
                    "status": str(LinkStatus.ACTIVE),
                    "created_via": "invitation",
                    "created_at": now,
                    "updated_at": now,
                }
                for d in devices
            ]
        )
        # Opt-in: each patient consents to the practice's prevention mailings.
        await db["consents"].insert_many(
            [
                {
                    "account": d.account_id,
                    "purpose": str(Purpose.PREVENTION_MAILINGS),
                    "scope": PRACTICE,
                    "action": str(ConsentAction.GRANT),
                    "version": TEXT_VERSIONS[Purpose.PREVENTION_MAILINGS],
                    "at": now,
                }
                for d in devices
            ]
        )
        sender = DeviceKeys.generate("bench-admin", "console")
        sealed = seal_broadcast(
            sender,
            campaign_id=campaign_id,
            client_msg_id=campaign_id,
            body=b"Flu vaccination is open",
            to_devices=devices,
        )
        store = CampaignStore(db)
        await store.create(
            Campaign(
                campaign_id, PRACTICE, sender.account_id, CampaignState.DRAFT, now, sealed.body
            )
        )
        for i in range(0, recipients, 1000):
            chunk = devices[i : i + 1000]
            await store.add_recipients(
                campaign_id,
                [Recipient(d.account_id, (sealed.slips[(d.account_id, "d1")],)) for d in chunk],
                now,
            )
    finally:
        await client.close()


async def _start_and_wait(uri: str, campaign_id: str, recipients: int) -> float:
    """Schedules the campaign for now (what ``POST .../schedule`` does) and waits for
    done; the seconds from sending to done as the server recorded them."""
    client = make_client(uri)
    try:
        db = client[DB]
        now = SystemClock().now()
        store = CampaignStore(db)
        campaign = await store.transition(
            campaign_id, CampaignEvent.SCHEDULE, CampaignState.SCHEDULED, now, new_run=True
        )
        assert campaign is not None
        await JobStore(db).enqueue(
            FANOUT_KIND,
            {"campaign": campaign_id, "run": campaign.run},
            now=now,
            run_at=now,
            max_attempts=10,
            dedupe_key=f"{campaign_id}:{campaign.run}",
        )
        began = time.monotonic()
        while True:
            doc = await db["campaigns"].find_one({"_id": campaign_id})
            assert doc is not None
            if doc["state"] == "done":
                break
            if time.monotonic() - began > 120:
                raise RuntimeError(f"campaign still {doc['state']} after 120 s")
            await asyncio.sleep(0.05)
        took = time.monotonic() - began
        delivered = await db["campaign_deliveries"].count_documents(
            {"campaign": campaign_id, "state": "delivered"}
        )
        if delivered != recipients:  # a benchmark that loses deliveries is not one
            raise RuntimeError(f"campaign delivered {delivered} of {recipients}")
        return took
    finally:
        await client.close()


ROWS = (
    ("chat_rate", "1:1 chat offered load (30 % of peak)", "msg/s", 0),
    ("alone_p50_ms", "chat p50, no campaign", "ms", 1),
    ("alone_p99_ms", "chat p99, no campaign", "ms", 1),
    ("campaign_s", "campaign fan-out, 10,000 recipients", "s", 2),
    ("during_p50_ms", "chat p50 during the campaign", "ms", 1),
    ("during_p99_ms", "chat p99 during the campaign", "ms", 1),
)


def _table(figures: dict[str, list[float]], options: MailingOptions) -> str:
    return "\n".join([f"`{options.command}`", "", *phase_table(figures, ROWS)])
