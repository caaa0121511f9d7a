"""Groups: who may publish a group's epoch commits, and who may read them.

The admin's client builds and signs every commit (``e2e_crypto.groups``); the server
holds no group key. It checks each commit with ``verify_epoch_commit`` against the
stored previous epoch and the admin's current root key, then stores it under a
unique (group, epoch) index, so two racing commits for one epoch cannot both land:
the loser gets ``EpochAlreadyCommitted`` and must fetch the latest epoch and rebuild.

Visibility follows the latest commit: the admin and the accounts it lists. Anyone
else, a member removed by a later epoch included, gets ``NotFound`` exactly as for a
group that does not exist. A current member who tries to post gets ``Forbidden``:
they already know the group exists, so a 403 tells them nothing new and says why.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from chat_server.clock import Clock
from chat_server.errors import (
    BadRequest,
    EpochAlreadyCommitted,
    Forbidden,
    GroupIdTaken,
    InvalidSignature,
    NotFound,
    PanelEpochRoute,
    RootKeyRequired,
)
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.groups import EpochTaken, Group, GroupExists, GroupStore, StoredEpoch
from e2e_crypto.errors import CryptoError
from e2e_crypto.groups_public import (
    MAX_COMMIT_BYTES,
    EpochCommit,
    parse_epoch_commit,
    verify_epoch_commit,
)
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.wire import from_base64url

GROUP_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Checks a verified commit before it is stored; raises a ChatError to refuse it.
Admission = Callable[[EpochCommit], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as the caller may see it, with its latest epoch if any."""

    group: Group
    latest: StoredEpoch | None

    def visible_to(self, who: Principal) -> bool:
        return who.account_id == self.group.admin_account or (
            self.latest is not None and who.account_id in self.latest.members
        )


class GroupService:
    def __init__(self, *, groups: GroupStore, accounts: AccountStore, clock: Clock) -> None:
        self._groups = groups
        self._accounts = accounts
        self._clock = clock

    async def create_group(self, who: Principal, group_id: str, *, purpose: str = "group") -> Group:
        # The id is chosen by the client because it is inside every signed commit;
        # a taken id answers 409, so clients should pick random ones.
        if GROUP_ID.fullmatch(group_id) is None:
            raise BadRequest(fields={"group_id": ["1-64 of A-Z a-z 0-9 _ -"]})
        group = Group(group_id, who.account_id, self._clock.now(), purpose)
        try:
            await self._groups.create(group)
        except GroupExists:
            raise GroupIdTaken("that group id is taken; pick another") from None
        return group

    async def commit_epoch(
        self, who: Principal, group_id: str, commit_b64: str, *, admit: Admission | None = None
    ) -> StoredEpoch:
        """``admit`` checks a verified commit's members before it is stored (a panel
        takes only verified practitioners); a panel's group needs one."""
        view = await self._access(who, group_id)
        if who.account_id != view.group.admin_account:
            raise Forbidden("only the group's admin may commit epochs")
        if view.group.purpose == "panel" and admit is None:
            raise PanelEpochRoute()
        admin = await self._accounts.get(view.group.admin_account)
        if admin is None or admin.root_key is None:
            raise RootKeyRequired("publish the account's root key first")
        try:
            raw = from_base64url(commit_b64, max_bytes=MAX_COMMIT_BYTES)
            parsed = parse_epoch_commit(raw)
            previous = await self._previous(group_id, parsed.epoch)
            verified = verify_epoch_commit(
                parsed,
                admin_account=view.group.admin_account,
                admin_root_key=PublicSigningKey(from_base64url(admin.root_key, max_bytes=32)),
                previous=previous,
            )
        except CryptoError as exc:
            raise InvalidSignature(
                "the commit does not verify as the next epoch of this group",
                log_detail=str(exc),
            ) from None
        # An epoch-1 commit has no predecessor to tie it to this group; check the name.
        if verified.group_id != group_id:
            raise InvalidSignature("the commit names another group")
        if admit is not None:
            await admit(verified)
        stored = StoredEpoch(
            group_id=group_id,
            epoch=verified.epoch,
            commit=raw,
            digest=verified.digest(),
            members=tuple(dict.fromkeys(m.account_id for m in verified.members)),
            created_at=self._clock.now(),
        )
        try:
            await self._groups.add_epoch(stored)
        except EpochTaken:
            raise EpochAlreadyCommitted(
                f"epoch {verified.epoch} already committed; fetch the latest and retry"
            ) from None
        return stored

    async def latest(self, who: Principal, group_id: str) -> StoredEpoch:
        view = await self._access(who, group_id)
        if view.latest is None:
            raise NotFound()
        return view.latest

    async def get(self, who: Principal, group_id: str, epoch: int) -> StoredEpoch:
        await self._access(who, group_id)
        stored = await self._groups.epoch(group_id, epoch)
        if stored is None:
            raise NotFound()
        return stored

    async def public_epoch(self, group_id: str, epoch: int | None) -> StoredEpoch:
        """An epoch (the latest when None) of a group whose commits are public: a
        panel's, which patients encrypt their questions to. NotFound for any other."""
        group = await self._groups.get(group_id)
        if group is None or group.purpose != "panel":
            raise NotFound()
        stored = await (
            self._groups.latest(group_id) if epoch is None else self._groups.epoch(group_id, epoch)
        )
        if stored is None:
            raise NotFound()
        return stored

    async def _access(self, who: Principal, group_id: str) -> GroupView:
        """The gate: the same NotFound for a missing group and one that is not yours."""
        group = await self._groups.get(group_id)
        if group is None:
            raise NotFound()
        view = GroupView(group, await self._groups.latest(group_id))
        if not view.visible_to(who):
            raise NotFound()
        return view

    async def _previous(self, group_id: str, epoch: int) -> EpochCommit | None:
        """The stored commit ``epoch`` must follow; None when there is none, so that a
        commit skipping an epoch fails verification ("first commit must be epoch 1")."""
        if epoch <= 1:
            return None
        stored = await self._groups.epoch(group_id, epoch - 1)
        return parse_epoch_commit(stored.commit) if stored else None
