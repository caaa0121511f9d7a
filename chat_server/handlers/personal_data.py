"""GDPR rights over one's own account: export everything, erase everything (docs/gdpr.md).

::

    POST export (password) ──► archive_chunks ──► ZIP streamed to the owner
    POST erasure (password) ─► accounts.erasure = {id, requested_at, erase_after}
                               + job ``erase_account`` {erasure: id} at erase_after
    DELETE erasure ──────────► accounts.erasure = None (the job then finds nothing)
    job at erase_after ──────► sockets closed, rate-limit buckets forgotten,
                               PersonalDataStore.erase, audit ``account_erased``,
                               the account document last

Both actions ask for the password again: a session left open on a shared computer
must not be enough to take someone's medical history away or to erase it.

A suspended account has no session (login refuses it, suspension ends its sessions),
yet its rights of access and erasure do not depend on good behaviour: the same four
actions also take the login's proof itself (``Credentials``: address, password and,
when set up, a TOTP code), with no session. That proof is exactly what a login asks,
spent from the same budget, so it opens nothing a login would not, and nothing else.

The export is answered in the request, not built by a job into GridFS: it is bounded
(messages are ciphertext of at most the frame limit, files at most the account's
attachment quota), streamed entry by entry without being held in memory or written
anywhere, and a stored archive would be one more copy of the person's data to guard,
expire and erase, with a download token that could leak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from chat_server.clock import Clock
from chat_server.errors import (
    ErasureAlreadyRequested,
    ErasureNotRequested,
    InvalidCredentials,
    Unauthenticated,
)
from chat_server.handlers.audit import Auditor
from chat_server.handlers.care import LINK_REQUESTS
from chat_server.handlers.care_threads import THREAD_REQUESTS
from chat_server.handlers.export_archive import archive_chunks
from chat_server.handlers.invitations import (
    INVITATION_PHONE_CODE_ATTEMPTS,
    INVITATION_PHONE_CODES_SENT,
    PHONE_CODE_ATTEMPTS,
    PHONE_CODES_SENT,
)
from chat_server.handlers.notifications import NOTIFY_EVERY
from chat_server.handlers.passwords import RESET_PER_ADDRESS
from chat_server.handlers.registration import VERIFY_PER_ACCOUNT
from chat_server.handlers.sessions import SignOut
from chat_server.handlers.throttle import Throttle
from chat_server.handlers.totp import check_totp
from chat_server.jobs.runner import JobContext, JobRunner
from chat_server.passwords import PasswordHasher
from chat_server.principal import AccountStatus, Principal
from chat_server.storage.accounts import Account, AccountStore, ErasureRequest
from chat_server.storage.personal_data import ERASE_JOB_KIND, PersonalDataStore
from chat_server.tokens import new_id
from moderation.audit import AuditAction
from moderation.limits import Action, Scope, Subject

ERASE_KIND = ERASE_JOB_KIND
# The one-off budgets keyed by an account id or address, besides moderation's table.
_NAMED_LIMITS = (
    LINK_REQUESTS,
    THREAD_REQUESTS,
    PHONE_CODES_SENT,
    PHONE_CODE_ATTEMPTS,
    INVITATION_PHONE_CODES_SENT,
    INVITATION_PHONE_CODE_ATTEMPTS,
    RESET_PER_ADDRESS,
    VERIFY_PER_ACCOUNT,
    NOTIFY_EVERY,
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login asks, for an account that cannot hold a session (suspended)."""

    email: str
    password: str
    totp_code: str | None


@dataclass(frozen=True, slots=True)
class ErasurePolicy:
    grace: timedelta
    sign_out: SignOut


class PersonalData:
    def __init__(
        self,
        *,
        store: PersonalDataStore,
        accounts: AccountStore,
        hasher: PasswordHasher,
        auditor: Auditor,
        clock: Clock,
        throttle: Throttle,
        jobs: JobRunner,
        policy: ErasurePolicy,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._hasher = hasher
        self._audit = auditor
        self._clock = clock
        self._throttle = throttle
        self._jobs = jobs
        self._policy = policy

    async def export(self, who: Principal, password: str, ip: str) -> AsyncIterator[bytes]:
        """Checks the password, then gives the archive's bytes as they are made."""
        return await self._export(await self._reauthenticate(who, password, ip), ip)

    async def _export(self, account: Account, ip: str) -> AsyncIterator[bytes]:
        person = await self._store.person(account.id)
        if person is None:
            raise Unauthenticated()
        await self._audit.record(AuditAction.DATA_EXPORTED, actor=account.id, ip=ip)
        return archive_chunks(self._store, person, self._clock.now())

    async def erasure(self, who: Principal) -> dict[str, object]:
        account = await self._require(who.account_id)
        return erasure_view(account)

    async def request_erasure(self, who: Principal, password: str, ip: str) -> dict[str, object]:
        return await self._request_erasure(await self._reauthenticate(who, password, ip), ip)

    async def _request_erasure(self, account: Account, ip: str) -> dict[str, object]:
        now = self._clock.now()
        request = ErasureRequest(new_id(), now, now + self._policy.grace)
        if not await self._accounts.request_erasure(account.id, request):
            raise ErasureAlreadyRequested()
        await self._jobs.enqueue(
            ERASE_KIND, {"erasure": request.id}, run_at=request.erase_after, dedupe_key=request.id
        )
        await self._audit.record(AuditAction.ERASURE_REQUESTED, actor=account.id, ip=ip)
        return erasure_view(await self._require(account.id))

    async def cancel_erasure(self, who: Principal, ip: str) -> None:
        await self._cancel_erasure(who.account_id, ip)

    async def _cancel_erasure(self, account_id: str, ip: str) -> None:
        if not await self._accounts.cancel_erasure(account_id):
            raise ErasureNotRequested()
        await self._audit.record(AuditAction.ERASURE_CANCELLED, actor=account_id, ip=ip)

    # -- the same, with the login's proof instead of a session (suspended accounts) ------

    async def export_with(self, credentials: Credentials, ip: str) -> AsyncIterator[bytes]:
        return await self._export(await self._authenticate(credentials, ip), ip)

    async def erasure_with(self, credentials: Credentials, ip: str) -> dict[str, object]:
        return erasure_view(await self._authenticate(credentials, ip))

    async def request_erasure_with(self, credentials: Credentials, ip: str) -> dict[str, object]:
        return await self._request_erasure(await self._authenticate(credentials, ip), ip)

    async def cancel_erasure_with(self, credentials: Credentials, ip: str) -> None:
        await self._cancel_erasure((await self._authenticate(credentials, ip)).id, ip)

    async def _authenticate(self, credentials: Credentials, ip: str) -> Account:
        """The login's checks but the status one (handlers/sessions.py): the address
        and password, a confirmed address, the TOTP code when set up. Suspended or
        not, the answers are the same."""
        email = credentials.email
        await self._throttle.action(Action.LOGIN, Subject(account=email, ip=ip), fail_closed=True)
        account = await self._accounts.by_email(email)
        password_hash = account.password_hash if account else None
        if not await self._hasher.verify(password_hash, credentials.password) or account is None:
            await self._audit.record(
                AuditAction.LOGIN_FAILED, actor=account.id if account else None, ip=ip
            )
            raise InvalidCredentials()
        if account.status is AccountStatus.UNVERIFIED:
            raise InvalidCredentials("confirm your e-mail address first (see the link we sent)")
        if account.totp_enabled:
            await check_totp(self._accounts, account, credentials.totp_code, self._clock.now())
        await self._throttle.reset_action(Action.LOGIN, Scope.ACCOUNT, email)
        return account

    async def erase(self, ctx: JobContext) -> datetime | None:
        """The ``erase_account`` job: nothing if the request was cancelled (or the
        account is already gone), later if its date has not come (a clock moved)."""
        account = await self._accounts.by_erasure(str(ctx.payload["erasure"]))
        if account is None or account.erasure is None:
            return None
        if account.erasure.erase_after > self._clock.now():
            return account.erasure.erase_after
        person = await self._store.person(account.id)
        if person is None:
            return None
        await self._policy.sign_out.sessions.revoke_all(account.id)
        await self._policy.sign_out.sockets(account.id, None)
        await self._throttle.forget([account.id, account.email, *person.device_ids], _NAMED_LIMITS)
        removed = await self._store.erase(person)
        await self._audit.record(
            AuditAction.ACCOUNT_ERASED,
            subject=account.id,
            details={name.replace(".", "_"): count for name, count in sorted(removed.items())},
        )
        await self._store.forget_account(account.id)
        return None

    async def _reauthenticate(self, who: Principal, password: str, ip: str) -> Account:
        # Spent like a login: re-authentication must not become a password oracle.
        await self._throttle.action(Action.LOGIN, Subject(account=who.account_id, ip=ip))
        account = await self._require(who.account_id)
        if not await self._hasher.verify(account.password_hash, password):
            await self._audit.record(AuditAction.LOGIN_FAILED, actor=who.account_id, ip=ip)
            raise InvalidCredentials("the password is wrong")
        return account

    async def _require(self, account_id: str) -> Account:
        account = await self._accounts.get(account_id)
        if account is None:
            raise Unauthenticated()
        return account


def erasure_view(account: Account) -> dict[str, object]:
    """What the owner is shown of a pending erasure (also in the login answer)."""
    if account.erasure is None:
        return {"pending": False}
    return {
        "pending": True,
        "requested_at": account.erasure.requested_at.isoformat(),
        "erase_after": account.erasure.erase_after.isoformat(),
    }
