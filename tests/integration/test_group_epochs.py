"""Group epoch commits: verified against the chain, one per epoch, visible to members."""

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.mail import MemoryOutbox
from e2e_crypto.errors import DecryptionFailed
from e2e_crypto.groups import create_epoch_commit, open_epoch_key
from e2e_crypto.groups_public import EpochCommit, parse_epoch_commit, verify_epoch_commit
from e2e_crypto.keys import RootKey
from e2e_crypto.public import VerifiedDevice
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import Actor, actor

Client = TestClient[web.Request, web.Application]
GROUP = "gp-panel_1"


async def _member(client: Client, outbox: MemoryOutbox, email: str) -> Actor:
    person = await actor(client, outbox, email, "practitioner")
    await person.publish_root_key()
    await person.add_device(_device_id(person))  # device ids are global
    return person


def _device_id(person: Actor) -> str:
    return person.email.split("@")[0] + "-phone"


def _verified(person: Actor) -> VerifiedDevice:
    keys = person.devices[_device_id(person)]
    return keys.verified(person.root.certify(keys), person.root.public_key)


async def _panel(client: Client, outbox: MemoryOutbox) -> tuple[Actor, Actor, Actor]:
    admin = await _member(client, outbox, "admin@example.org")
    gp1 = await _member(client, outbox, "gp1@example.org")
    gp2 = await _member(client, outbox, "gp2@example.org")
    await admin.call("POST", "/api/v1/groups", {"group_id": GROUP}, expect=201)
    return admin, gp1, gp2


def _commit(
    admin: Actor,
    members: list[Actor],
    previous: EpochCommit | None,
    *,
    group_id: str = GROUP,
    signer: RootKey | None = None,
) -> EpochCommit:
    commit, _ = create_epoch_commit(
        signer or admin.root,
        admin_account=admin.account_id,
        group_id=group_id,
        members=[_verified(m) for m in members],
        previous=previous,
    )
    return commit


async def _post(admin: Actor, commit: EpochCommit, expect: int = 201) -> Any:
    return await admin.call(
        "POST",
        f"/api/v1/groups/{GROUP}/epochs",
        {"commit": to_base64url(commit.encode())},
        expect=expect,
    )


def _without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def test_epochs_chain_and_removed_members_lose_access(
    client: Client, outbox: MemoryOutbox
) -> None:
    admin, gp1, gp2 = await _panel(client, outbox)
    await admin.call("GET", f"/api/v1/groups/{GROUP}/epochs/latest", expect=404)

    first = _commit(admin, [admin, gp1, gp2], None)
    posted = await _post(admin, first)
    assert posted == {
        "group_id": GROUP,
        "epoch": 1,
        "digest": to_base64url(first.digest()),
    }
    latest = await gp2.call("GET", f"/api/v1/groups/{GROUP}/epochs/latest")
    assert latest == {"group_id": GROUP, "epoch": 1, "commit": to_base64url(first.encode())}

    second = _commit(admin, [admin, gp1], first)  # gp2 leaves the panel
    assert (await _post(admin, second))["epoch"] == 2

    # A remaining member fetches, verifies the chain and opens the new epoch key.
    latest = await gp1.call("GET", f"/api/v1/groups/{GROUP}/epochs/latest")
    fetched = verify_epoch_commit(
        from_base64url(latest["commit"]),
        admin_account=admin.account_id,
        admin_root_key=admin.root.public_key,
        previous=first,
    )
    assert fetched == second
    assert open_epoch_key(fetched, gp1.devices[_device_id(gp1)]).public_key == second.epoch_key
    with pytest.raises(DecryptionFailed):
        open_epoch_key(fetched, gp2.devices[_device_id(gp2)])
    older = await admin.call("GET", f"/api/v1/groups/{GROUP}/epochs/1")
    assert parse_epoch_commit(from_base64url(older["commit"])) == first
    await admin.call("GET", f"/api/v1/groups/{GROUP}/epochs/3", expect=404)

    # The removed member now gets exactly the answer for a group that does not exist.
    missing = await gp2.call("GET", "/api/v1/groups/no-such-group/epochs/latest", expect=404)
    for path in (f"/api/v1/groups/{GROUP}/epochs/latest", f"/api/v1/groups/{GROUP}/epochs/1"):
        hidden = await gp2.call("GET", path, expect=404)
        assert _without_request_id(hidden) == _without_request_id(missing)


async def test_forged_mislabelled_and_skipping_commits_are_refused(
    client: Client, outbox: MemoryOutbox
) -> None:
    admin, gp1, _ = await _panel(client, outbox)
    forged = _commit(admin, [admin, gp1], None, signer=RootKey.generate())
    body = await _post(admin, forged, expect=422)
    assert body["code"] == "invalid_signature"
    other_group = _commit(admin, [admin, gp1], None, group_id="another-group")
    assert (await _post(admin, other_group, expect=422))["code"] == "invalid_signature"
    await admin.call(
        "POST", f"/api/v1/groups/{GROUP}/epochs", {"commit": "!!not base64!!"}, expect=422
    )

    first = _commit(admin, [admin, gp1], None)
    await _post(admin, first)
    second = _commit(admin, [admin], first)
    third = _commit(admin, [admin, gp1], second)
    assert (await _post(admin, third, expect=422))["code"] == "invalid_signature"
    # A second epoch 1 (a fresh genesis) cannot replace the first.
    genesis = await _post(admin, _commit(admin, [admin], None), expect=409)
    assert genesis["code"] == "epoch_already_committed"
    await _post(admin, second)
    await _post(admin, third)


async def test_one_commit_per_epoch(client: Client, outbox: MemoryOutbox) -> None:
    admin, gp1, gp2 = await _panel(client, outbox)
    first = _commit(admin, [admin, gp1, gp2], None)
    await _post(admin, first)
    second = _commit(admin, [admin, gp1], first)
    await _post(admin, second)
    body = await _post(admin, second, expect=409)
    assert body["code"] == "epoch_already_committed"
    assert body["detail"] == "epoch 2 already committed; fetch the latest and retry"

    # Two admin devices race for epoch 3 with different, individually valid commits.
    racers = [_commit(admin, [admin, gp1, gp2], second), _commit(admin, [admin], second)]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/groups/{GROUP}/epochs",
                json={"commit": to_base64url(c.encode())},
                headers=admin.auth,
            )
            for c in racers
        )
    )
    assert sorted(r.status for r in responses) == [201, 409]
    winner = racers[[r.status for r in responses].index(201)]
    latest = await admin.call("GET", f"/api/v1/groups/{GROUP}/epochs/latest")
    assert latest == {"group_id": GROUP, "epoch": 3, "commit": to_base64url(winner.encode())}


async def test_only_the_admin_posts_and_strangers_learn_nothing(
    client: Client, outbox: MemoryOutbox
) -> None:
    admin, gp1, _ = await _panel(client, outbox)
    stranger = await _member(client, outbox, "eve@example.org")
    taken = await admin.call("POST", "/api/v1/groups", {"group_id": GROUP}, expect=409)
    assert taken["code"] == "group_id_taken"
    await stranger.call("POST", "/api/v1/groups", {"group_id": "bad id!"}, expect=422)
    first = _commit(admin, [admin, gp1], None)
    await _post(admin, first)

    # A member already knows the group exists: 403 says why, and leaks nothing.
    second = _commit(admin, [admin], first)
    body = {"commit": to_base64url(second.encode())}
    refused = await gp1.call("POST", f"/api/v1/groups/{GROUP}/epochs", body, expect=403)
    assert refused["code"] == "forbidden"
    # Anyone else gets the answer for a group that does not exist.
    hidden = await stranger.call("POST", f"/api/v1/groups/{GROUP}/epochs", body, expect=404)
    missing = await stranger.call("POST", "/api/v1/groups/nothing/epochs", body, expect=404)
    assert _without_request_id(hidden) == _without_request_id(missing)
    for path in (f"/api/v1/groups/{GROUP}/epochs/latest", f"/api/v1/groups/{GROUP}/epochs/1"):
        await stranger.call("GET", path, expect=404)
    assert (await admin.call("GET", f"/api/v1/groups/{GROUP}/epochs/latest"))["epoch"] == 1
