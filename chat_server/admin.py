"""Operator tasks run from the command line (``carechat admin ...``).

Platform admins cannot register themselves over the API: the operator creates them
here, with direct database access, and the act is audited like any admin action.
Failed durable jobs are listed here too, without their payloads (which can name
accounts and threads): kind, state, attempts, error type and times are enough to
find the log lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import Clock
from chat_server.errors import WeakPassword
from chat_server.jobs.store import Job, JobState, JobStore
from chat_server.password_strength import check_strength
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Role
from chat_server.storage.accounts import AccountStore, EmailTaken
from chat_server.storage.audit import AuditStore
from chat_server.tokens import new_id
from moderation.audit import AuditAction, BrokenLink
from moderation.audit_anchors import AuditAnchor, InvalidAnchor, check_anchor, parse_anchors


class AdminError(Exception):
    """An operator task failed; ``str()`` is the one line to print."""


async def create_admin(
    db: AsyncDatabase[dict[str, Any]], clock: Clock, email: str, password: str
) -> str:
    if len(password) < 12:
        raise AdminError("an admin password has at least 12 characters")
    try:
        check_strength(password, user_inputs=(email,))
    except WeakPassword as weak:
        raise AdminError(f"the password is too easy to guess: {weak.detail}") from None
    account_id = new_id()
    try:
        await AccountStore(db).create(
            account_id=account_id,
            email=email.strip().lower(),
            role=Role.ADMIN,
            display_name="Platform admin",
            password_hash=await PasswordHasher().hash(password),
            now=clock.now(),
            registration=None,
            status=AccountStatus.ACTIVE,
        )
    except EmailTaken:
        raise AdminError("an account with that e-mail address exists") from None
    await AuditStore(db).append(
        at=clock.now(),
        actor=None,
        action=AuditAction.ADMIN_ACTION,
        subject=account_id,
        ip_hash=None,
        details={"what": "admin_created_by_operator"},
    )
    return account_id


async def verify_audit(
    db: AsyncDatabase[dict[str, Any]], anchors: Sequence[AuditAnchor] = ()
) -> tuple[int, BrokenLink | None]:
    """(number of entries, the first broken link or None).

    The chain alone shows that no entry was changed *without* recomputing the hashes
    after it; each anchor (taken earlier, kept out of the database's reach) also shows
    that the entry it names is still the one anchored.
    """
    store = AuditStore(db)
    count = await store.count()
    broken = await store.verify()
    if broken is not None:
        return count, broken
    for anchor in sorted(anchors, key=lambda a: a.seq):
        broken = check_anchor(anchor, await store.hash_at(anchor.seq))
        if broken is not None:
            return count, broken
    return count, None


def read_anchors(path: Path) -> list[AuditAnchor]:
    """The anchors in a file of anchor lines (``audit-anchors.jsonl``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdminError(f"cannot read anchors from {path}: {exc.strerror}") from None
    try:
        anchors = parse_anchors(text)
    except InvalidAnchor as exc:
        raise AdminError(f"{path}: {exc}") from None
    if not anchors:
        raise AdminError(f"{path} holds no audit anchor")
    return anchors


JOB_COLUMNS = ("id", "kind", "state", "attempts", "error", "created", "updated")


async def list_jobs(db: AsyncDatabase[dict[str, Any]], *, everything: bool) -> list[Job]:
    """Failed jobs, or with ``everything`` jobs in any state; newest first, at most 100."""
    states = list(JobState) if everything else [JobState.FAILED]
    return await JobStore(db).listing(states=states)


def job_row(job: Job) -> tuple[str, ...]:
    """One line of ``carechat admin jobs``: never the payload or the cursor."""
    return (
        job.id,
        job.kind,
        job.state.value,
        f"{job.attempts}/{job.max_attempts}",
        job.error or "-",
        job.created_at.isoformat(timespec="seconds"),
        job.updated_at.isoformat(timespec="seconds"),
    )
