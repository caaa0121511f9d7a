"""Root keys, device certificates, the device list, the key log and its rate limit."""

from aiohttp import web
from aiohttp.test_utils import TestClient

from chat_server.mail import MemoryOutbox
from e2e_crypto.keys import DeviceKeys, RootKey
from e2e_crypto.public import verify_device_certificate
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import Actor, actor

Client = TestClient[web.Request, web.Application]


async def _linked_pair(client: Client, outbox: MemoryOutbox) -> tuple[Actor, Actor]:
    doctor = await actor(client, outbox, "doc@example.org", "practitioner")
    ann = await actor(client, outbox, "ann@example.org")
    link = await ann.call(
        "POST",
        "/api/v1/care-links",
        {"provider": {"kind": "practitioner", "id": doctor.account_id}},
        expect=201,
    )
    await doctor.call("POST", f"/api/v1/care-links/{link['care_link_id']}/answer", {"accept": True})
    return doctor, ann


async def test_devices_need_a_root_key_and_a_valid_certificate(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    keys = DeviceKeys.generate(ann.account_id, "phone")
    certificate = to_base64url(ann.root.certify(keys).encode())
    no_root = await ann.call("POST", "/api/v1/devices", {"certificate": certificate}, expect=409)
    assert no_root["code"] == "root_key_required"
    await ann.publish_root_key()
    # Signed by another root key: a forgery.
    forged = to_base64url(RootKey.generate().certify(keys).encode())
    body = await ann.call("POST", "/api/v1/devices", {"certificate": forged}, expect=422)
    assert body["code"] == "invalid_signature"
    # A certificate for another account, validly signed by that account's key.
    bob = await actor(client, outbox, "bob@example.org")
    bobs = to_base64url(bob.root.certify(DeviceKeys.generate(bob.account_id, "x")).encode())
    await ann.call("POST", "/api/v1/devices", {"certificate": bobs}, expect=422)
    await ann.call("POST", "/api/v1/devices", {"certificate": "!!not base64!!"}, expect=422)
    await ann.call("POST", "/api/v1/devices", {"certificate": certificate}, expect=201)
    taken = await ann.call("POST", "/api/v1/devices", {"certificate": certificate}, expect=409)
    assert taken["code"] == "device_id_taken"


async def test_peers_see_verifiable_devices_and_revoked_ones_disappear(
    client: Client, outbox: MemoryOutbox
) -> None:
    doctor, ann = await _linked_pair(client, outbox)
    await ann.publish_root_key()
    await ann.add_device("phone")
    await ann.add_device("laptop")
    listing = await doctor.call("GET", f"/api/v1/accounts/{ann.account_id}/devices")
    root = from_base64url(listing["root_key"])
    assert root == ann.root.public_key.raw
    assert [d["device_id"] for d in listing["devices"]] == ["phone", "laptop"]
    for device in listing["devices"]:
        verified = verify_device_certificate(
            from_base64url(device["certificate"]),
            account_id=ann.account_id,
            root_key=ann.root.public_key,
        )
        assert to_base64url(verified.encryption_key.raw) == device["enc_key"]

    await ann.call("DELETE", "/api/v1/devices/phone", expect=204)
    listing = await doctor.call("GET", f"/api/v1/accounts/{ann.account_id}/devices")
    assert [d["device_id"] for d in listing["devices"]] == ["laptop"]
    await ann.call("DELETE", "/api/v1/devices/phone", expect=404)


async def test_strangers_get_the_same_answer_as_for_a_missing_account(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    stranger = await actor(client, outbox, "eve@example.org")
    for path in (
        f"/api/v1/accounts/{ann.account_id}/devices",
        f"/api/v1/accounts/{ann.account_id}/key-log",
    ):
        hidden = await stranger.call("GET", path, expect=404)
        missing = await stranger.call(
            "GET", path.replace(ann.account_id, "AAAAAAAAAAAAAAAAAAAAAA"), expect=404
        )
        hidden.pop("request_id")
        missing.pop("request_id")
        assert hidden == missing


async def test_the_key_log_is_append_only_history(client: Client, outbox: MemoryOutbox) -> None:
    doctor, ann = await _linked_pair(client, outbox)
    await ann.publish_root_key()
    await ann.add_device("phone")
    await ann.call("DELETE", "/api/v1/devices/phone", expect=204)
    log = (await doctor.call("GET", f"/api/v1/accounts/{ann.account_id}/key-log"))["entries"]
    assert [(e["seq"], e["event"]) for e in log] == [
        (1, "root_key_set"),
        (2, "device_added"),
        (3, "device_revoked"),
    ]
    later = (await doctor.call("GET", f"/api/v1/accounts/{ann.account_id}/key-log?after=2"))[
        "entries"
    ]
    assert [e["seq"] for e in later] == [3]
    await doctor.call("GET", f"/api/v1/accounts/{ann.account_id}/key-log?after=-1", expect=422)


async def test_a_new_root_key_revokes_every_device(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.publish_root_key()
    await ann.add_device("phone")
    ann.root = RootKey.generate()
    await ann.publish_root_key()
    listing = await ann.call("GET", f"/api/v1/accounts/{ann.account_id}/devices")
    assert listing["devices"] == []
    log = (await ann.call("GET", f"/api/v1/accounts/{ann.account_id}/key-log"))["entries"]
    assert [e["event"] for e in log] == [
        "root_key_set",
        "device_added",
        "device_revoked",
        "root_key_set",
    ]


async def test_directory_lookups_are_rate_limited(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    statuses = [
        (await client.get(f"/api/v1/accounts/{ann.account_id}/devices", headers=ann.auth)).status
        for _ in range(125)
    ]
    assert statuses[:120] == [200] * 120
    assert statuses[-1] == 429
