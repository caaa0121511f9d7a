"""Every index CareChat needs, created by one function.

Production start-up, ``carechat migrate`` and each test database call
:func:`ensure_indexes`, so the tests run against exactly the production schema.
Unique indexes are how CareChat is idempotent (one message per client id, one
delivery per campaign and patient), so they are part of correctness, not tuning.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

A, D = ASCENDING, DESCENDING

INDEXES: dict[str, list[IndexModel]] = {
    "accounts": [
        IndexModel([("email", A)], name="email", unique=True),
        # The erasure job finds its account by the request's id (docs/gdpr.md).
        IndexModel([("erasure.id", A)], name="erasure", sparse=True),
    ],
    # Expired sessions, tickets and codes are purged by MongoDB itself; the code
    # still checks expiry, since the TTL monitor runs only once a minute.
    "sessions": [
        IndexModel([("expires_at", A)], name="ttl", expireAfterSeconds=0),
        IndexModel([("account_id", A)], name="account"),
    ],
    "ws_tickets": [
        IndexModel([("expires_at", A)], name="ttl", expireAfterSeconds=0),
        IndexModel([("account_id", A)], name="account"),
    ],
    "one_time_codes": [
        IndexModel([("expires_at", A)], name="ttl", expireAfterSeconds=0),
        IndexModel([("subject", A), ("purpose", A)], name="subject"),
    ],
    "devices": [IndexModel([("account_id", A), ("revoked_at", A)], name="account_active")],
    "key_log": [IndexModel([("account_id", A), ("seq", A)], name="account_seq", unique=True)],
    "practices": [
        IndexModel([("admins", A)], name="admins"),
        IndexModel([("practitioners", A)], name="practitioners"),
        IndexModel([("staff", A)], name="staff"),
    ],
    "care_links": [
        # At most one live (requested or active) link per patient and provider.
        IndexModel(
            [("patient_id", A), ("provider_id", A)],
            name="one_live",
            unique=True,
            partialFilterExpression={"status": {"$in": ["requested", "active"]}},
        ),
        IndexModel([("patient_id", A), ("created_at", D)], name="patient"),
        IndexModel([("provider_id", A), ("created_at", D)], name="provider"),
    ],
    "threads": [
        IndexModel([("participants", A), ("updated_at", D)], name="participant"),
        IndexModel(
            [("patient_id", A), ("provider_id", A), ("state", A), ("updated_at", D)],
            name="pair_state",
        ),
        # Ended threads by when, for retention (storage/expired.py).
        IndexModel([("state", A), ("updated_at", A), ("_id", A)], name="ended"),
    ],
    "messages": [
        # Contiguous per-thread numbering rests on this one.
        IndexModel([("thread", A), ("seq", A)], name="thread_seq", unique=True),
        # Idempotent sends: one message per device and client message id.
        IndexModel([("thread", A), ("sender_device", A), ("cmid", A)], name="cmid", unique=True),
    ],
    # One commit per group epoch: of two racing admin devices exactly one wins.
    "group_epochs": [IndexModel([("group", A), ("epoch", A)], name="group_epoch", unique=True)],
    "cursors": [
        IndexModel([("device", A), ("thread", A)], name="device_thread", unique=True),
        IndexModel([("thread", A), ("device", A)], name="thread_device"),
    ],
    # The GP panel: the queue in order, a patient's questions per day (the free cap
    # and duplicate collapse), recent answers (throughput), who is online.
    # One pass per Checkout Session; chats found by their PaymentIntent (refunds and
    # charges name only that), by patient (payments) and by GP (payouts).
    "paid_chats": [
        IndexModel([("session_id", A)], name="session", unique=True, sparse=True),
        IndexModel([("payment_intent", A)], name="intent", sparse=True),
        IndexModel([("patient", A), ("created_at", D)], name="patient"),
        IndexModel([("answered_by", A), ("window_starts_at", D)], name="payouts", sparse=True),
        IndexModel([("state", A), ("closed_at", A), ("_id", A)], name="closed"),
    ],
    # Stripe events by id (``_id``: a redelivery is a duplicate key), by day.
    "stripe_events": [IndexModel([("received_at", A)], name="received")],
    "panel_questions": [
        IndexModel([("panel", A), ("state", A), ("queued_at", A)], name="queue"),
        IndexModel([("patient", A), ("panel", A), ("day", A)], name="patient_day"),
        IndexModel([("panel", A), ("answered_at", D)], name="answered"),
        IndexModel([("panel", A), ("claimed_by", A), ("state", A)], name="held"),
        IndexModel([("state", A), ("closed_at", A), ("_id", A)], name="closed"),
    ],
    "panel_presence": [IndexModel([("panel", A), ("until", A)], name="online")],
    "panel_ratings": [IndexModel([("panel", A)], name="panel")],
    "read_marks": [
        IndexModel([("account", A), ("thread", A)], name="account_thread", unique=True),
        # A thread's marks, for its purge (storage/purge.py).
        IndexModel([("thread", A)], name="thread"),
    ],
    "attachments.files": [
        IndexModel([("filename", A), ("uploadDate", A)], name="gridfs_files"),
        # An account's stored bytes (its quota), and the purge's unclaimed uploads.
        IndexModel([("metadata.uploader", A)], name="uploader"),
        # A thread's files, for its purge (storage/purge.py).
        IndexModel([("metadata.thread", A)], name="thread"),
        IndexModel(
            [("metadata.uploaded_at", A)],
            name="unclaimed",
            partialFilterExpression={"metadata.claimed": False},
        ),
    ],
    "attachments.chunks": [
        IndexModel([("files_id", A), ("n", A)], name="gridfs_chunks", unique=True)
    ],
    # One offline-notification e-mail per (recipient, thread, first seq): a job that
    # runs again after a crash finds its record (handlers/notifications.py).
    "notifications_sent": [IndexModel([("at", A)], name="ttl", expireAfterSeconds=7 * 24 * 3600)],
    "audit_log": [
        IndexModel([("seq", A)], name="seq", unique=True),
        # The moderator console's audit search, by actor or subject, newest first.
        IndexModel([("actor", A), ("seq", D)], name="actor"),
        IndexModel([("subject", A), ("seq", D)], name="subject"),
    ],
    # Moderation (issue 18): one report per reporter and message; the moderators' queue.
    "reports": [
        IndexModel([("reporter", A), ("thread", A), ("seq", A)], name="once", unique=True),
        IndexModel([("status", A), ("at", D)], name="queue"),
        # The moderator console's account look-up: reports against an account.
        IndexModel([("sender_account", A), ("at", D)], name="sender"),
    ],
    # An erased person's kept public keys, found by a retained thread when it goes.
    "retired_device_keys": [IndexModel([("threads", A)], name="thread")],
    "blocks": [
        IndexModel([("blocker", A), ("blocked", A)], name="pair", unique=True),
        IndexModel([("blocked", A)], name="blocked"),
    ],
    "consents": [
        IndexModel([("account", A), ("purpose", A), ("scope", A), ("at", D)], name="latest"),
    ],
    # Prevention mailings (storage/campaigns.py, mailing_consent.py, roster.py; whether
    # a patient receives them is a consent, above). A
    # delivery's and a recipient's _id is "<campaign>:<patient>": one per pair.
    "campaigns": [
        IndexModel([("practice_id", A), ("created_at", D)], name="practice"),
        IndexModel([("state", A), ("updated_at", A), ("_id", A)], name="ended"),
    ],
    "campaign_recipients": [IndexModel([("campaign", A), ("_id", A)], name="campaign")],
    "campaign_deliveries": [
        IndexModel([("campaign", A), ("state", A)], name="campaign_state"),
        IndexModel([("patient", A), ("state", A), ("at", D)], name="patient"),
    ],
    "mailing_unsubscribe_tokens": [IndexModel([("practice", A), ("patient", A)], name="pair")],
    "roster": [
        IndexModel([("practice", A), ("email", A)], name="practice_email", unique=True),
        IndexModel([("practice", A), ("created_at", A)], name="practice_created"),
    ],
    "jobs": [
        # Due jobs, and running ones whose lease (run_at, then) ran out: chat_server/jobs.
        IndexModel([("state", A), ("run_at", A)], name="due"),
        # Finished jobs are purged after a week; failed ones stay for the operator.
        IndexModel(
            [("finished_at", A)],
            name="done_ttl",
            expireAfterSeconds=7 * 24 * 3600,
            partialFilterExpression={"state": "done"},
        ),
        IndexModel(
            [("kind", A), ("dedupe_key", A)],
            name="dedupe",
            unique=True,
            partialFilterExpression={"dedupe_key": {"$type": "string"}},
        ),
        # Jobs that failed for good, by when, for retention (storage/expired.py).
        IndexModel(
            [("finished_at", A), ("_id", A)],
            name="failed",
            partialFilterExpression={"state": "failed"},
        ),
    ],
}


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Creates missing collections' indexes; safe to run again and concurrently."""
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
