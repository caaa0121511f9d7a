"""A process that runs campaign fan-outs on a real MongoDB, for SIGKILL tests.

``python -m tests.functional.mailing_worker MONGODB_URI DB OUTBOX`` runs CareChat's
job runner with the real ``mailing_fanout`` handler (the same wiring as ``app.py``)
until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiojobs

from chat_server.clock import SystemClock
from chat_server.events import AnnouncementEvent
from chat_server.handlers.consents import Consents
from chat_server.handlers.mailing_fanout import (
    FanoutPolicy,
    FanoutStores,
    MailingFanout,
    UnsubscribeLinks,
)
from chat_server.handlers.mailings import FANOUT_KIND
from chat_server.jobs import JobKinds, JobRunner, JobStore
from chat_server.mailing_mail import FileNoticeMailer, NoticeSender
from chat_server.storage.accounts import AccountStore
from chat_server.storage.campaigns import CampaignStore
from chat_server.storage.consents import ConsentStore
from chat_server.storage.mailing_consent import UnsubscribeTokenStore
from chat_server.storage.mongo import make_client
from chat_server.storage.practices import CareLinkStore, PracticeStore
from chat_server.storage.roster import RosterStore

LEASE_SECONDS = 1.0
RATE_PER_SECOND = 2000.0
BATCH = 200


async def nobody_listens(accounts: list[str], event: AnnouncementEvent) -> None:
    """No sockets in this process: the pushes have nowhere to go."""


async def main(uri: str, db_name: str, outbox: str) -> None:
    client = make_client(uri)
    db = client[db_name]
    clock = SystemClock()
    fanout = MailingFanout(
        stores=FanoutStores(
            CampaignStore(db),
            UnsubscribeTokenStore(db),
            CareLinkStore(db),
            AccountStore(db),
            RosterStore(db),
        ),
        consents=Consents(ConsentStore(db), PracticeStore(db), clock),
        mailer=FileNoticeMailer(Path(outbox)),
        sender=NoticeSender("CareChat <mailings@chat.example.org>", "https://chat.example.org"),
        links=UnsubscribeLinks(b"k" * 32, "https://chat.example.org"),
        clock=clock,
        announce=nobody_listens,
        policy=FanoutPolicy(
            rate_per_second=RATE_PER_SECOND,
            batch=BATCH,
            max_consecutive_failures=50,
            max_failed_batches=5,
            mail_concurrency=8,
            mail_attempts=3,
            mail_backoff_seconds=0.1,
        ),
    )
    kinds = JobKinds()
    kinds.register(FANOUT_KIND, fanout.run, max_attempts=10)
    runner = JobRunner(
        JobStore(db), kinds, aiojobs.Scheduler(), clock, lease_seconds=LEASE_SECONDS,
        poll_seconds=0.1,
    )  # fmt: skip
    print(f"owner {runner.owner}", flush=True)
    runner.start()
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
