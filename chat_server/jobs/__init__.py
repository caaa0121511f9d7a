"""Durable jobs: work that survives the process that started it.

A job is a document in the ``jobs`` collection (``store.py``): a kind, a payload, a
time it may run after, a lease (owner and expiry) while it runs, a heartbeat, a
cursor, an attempt count with exponential back-off, and the error it failed with::

    enqueue(kind, payload, run_at, dedupe_key)        any process, any time
        │   unique (kind, dedupe_key): the same logical job twice is one job
        ▼
      due ──take (one atomic find_one_and_update)──► running (lease_owner, lease_until)
       ▲                                               │  handler(ctx) on aiojobs
       │ retry: attempts < max, after back-off         │  heartbeat renews the lease;
       │ or the handler asked to run again later       │  ctx.checkpoint(cursor) stores
       ├───────────────────────────────────────────────┤  progress
       │ lease expired (process killed): taken over,   │
       │ the handler resumes from ctx.cursor           ▼
       └─────────────────────────────────────── done (purged after 7 days)
                                                failed (kept, with its error)

The runner (``runner.py``) polls for due jobs and wakes at once on a local enqueue;
handlers are registered by kind (``kinds.py``) in the composition root. aiojobs
executes a job but keeps nothing across a crash, so a handler's effects must be
idempotent by unique keys: a job can run again after its process died mid-way (see
``handlers/notifications.py`` for an e-mail recorded before it is sent).
``carechat admin jobs`` lists failed jobs without their payloads.
"""

from chat_server.jobs.kinds import Handler, JobKinds
from chat_server.jobs.runner import JobContext, JobRunner, LeaseLost
from chat_server.jobs.scheduler import scheduler_ctx
from chat_server.jobs.store import Job, JobState, JobStore

__all__ = [
    "Handler",
    "Job",
    "JobContext",
    "JobKinds",
    "JobRunner",
    "JobState",
    "JobStore",
    "LeaseLost",
    "scheduler_ctx",
]
