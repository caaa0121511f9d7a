"""Keys, devices and the verified directory: trust on first use, root-key changes,
and a server that lies about a device list."""

from __future__ import annotations

from typing import Any

import pytest

from e2e_crypto.client import (
    CareChatClient,
    IdentityExists,
    Keystore,
    RootKeyChanged,
    UntrustedDirectory,
)
from e2e_crypto.keys import DeviceKeys, RootKey
from e2e_crypto.wire import to_base64url
from tests.sdk.network import LyingServer
from tests.sdk.people import PASSWORD, People, link


async def _pair(people: People) -> tuple[CareChatClient, CareChatClient]:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    await link(ann, doctor)
    return doctor, ann


async def test_first_device_publishes_keys_the_peer_can_verify(people: People) -> None:
    doctor, ann = await _pair(people)
    me = await ann.api.me()
    assert me["root_key"] == to_base64url(ann.keystore.root.public_key.raw)
    seen = await doctor.directory.devices(ann.account_id)
    assert [(d.account_id, d.device_id) for d in seen] == [(ann.account_id, "ann-phone")]
    assert seen[0].encryption_key == ann.keystore.device.encryption_key
    # Both sides compute the same safety number from the pinned keys.
    await ann.directory.devices(doctor.account_id)
    assert doctor.safety_number(ann.account_id) == ann.safety_number(doctor.account_id)
    assert len(doctor.safety_number(ann.account_id).split()) == 12
    # A second "first device" would replace the identity: refused locally.
    with pytest.raises(IdentityExists):
        await ann.create_keys()


async def test_a_new_root_key_is_an_event_the_app_must_accept(people: People) -> None:
    doctor, ann = await _pair(people)
    await doctor.directory.devices(ann.account_id)  # pins Ann's root key
    # Ann (or someone with her password) starts a new identity on a new device.
    newcomer = people.client()
    await newcomer.login("ann@example.org", PASSWORD)
    fresh = Keystore.create(ann.account_id, "ann-tablet")
    await newcomer.api.set_root_key(fresh.root.public_key.raw)
    await newcomer.api.add_device(fresh.certificate().encode())

    with pytest.raises(RootKeyChanged) as changed:
        await doctor.directory.devices(ann.account_id, refresh=True)
    assert changed.value.account_id == ann.account_id
    assert changed.value.trusted == ann.keystore.root.public_key.raw
    assert changed.value.announced == fresh.root.public_key.raw
    before = doctor.safety_number(ann.account_id)
    # Still refused until the user has looked at it.
    with pytest.raises(RootKeyChanged):
        await doctor.directory.device(ann.account_id, "ann-tablet")

    doctor.accept_root_key(ann.account_id, changed.value.announced)
    devices = await doctor.directory.devices(ann.account_id)
    assert [d.device_id for d in devices] == ["ann-tablet"]
    assert doctor.safety_number(ann.account_id) != before


async def test_a_device_certified_by_another_root_key_is_refused(
    people: People, liar: LyingServer
) -> None:
    doctor, ann = await _pair(people)
    # The doctor's software talks to CareChat through a compromised server.
    via_liar = people.client(liar.url)
    await via_liar.login("doc@example.org", PASSWORD)
    via_liar.use_keys(doctor.keystore)
    assert len(await via_liar.directory.devices(ann.account_id)) == 1  # honest so far: pinned

    # The server adds a device of its own, certified with its own root key.
    mallory_root = RootKey.generate()
    planted = DeviceKeys.generate(ann.account_id, "server-spy")
    certificate = mallory_root.certify(planted)
    entry = {
        "device_id": "server-spy",
        "account_id": ann.account_id,
        "enc_key": to_base64url(planted.encryption_key.raw),
        "sign_key": to_base64url(planted.signing_key.raw),
        "certificate": to_base64url(certificate.encode()),
        "created_at": "2026-01-01T00:00:00+00:00",
    }

    def add_spy(path: str, body: Any) -> Any:
        if path.endswith(f"/accounts/{ann.account_id}/devices"):
            body["devices"].append(entry)
        return body

    liar.rewrite = add_spy
    with pytest.raises(UntrustedDirectory) as refused:
        await via_liar.directory.devices(ann.account_id, refresh=True)
    assert "does not verify" in refused.value.reason

    # Swapping the root key too is caught by the pin, not believed.
    def swap_root(path: str, body: Any) -> Any:
        if path.endswith(f"/accounts/{ann.account_id}/devices"):
            body["root_key"] = to_base64url(mallory_root.public_key.raw)
            body["devices"] = [entry]
        return body

    liar.rewrite = swap_root
    with pytest.raises(RootKeyChanged):
        await via_liar.directory.devices(ann.account_id, refresh=True)

    # A genuine certificate with edited convenience fields: refused as a whole.
    def edit_key(path: str, body: Any) -> Any:
        if path.endswith(f"/accounts/{ann.account_id}/devices"):
            body["devices"][0]["enc_key"] = entry["enc_key"]
        return body

    liar.rewrite = edit_key
    with pytest.raises(UntrustedDirectory):
        await via_liar.directory.devices(ann.account_id, refresh=True)

    # The directory never stopped trusting what it verified before.
    liar.rewrite = None
    assert [
        d.device_id for d in await via_liar.directory.devices(ann.account_id, refresh=True)
    ] == ["ann-phone"]


async def test_a_first_contact_through_a_lying_server_is_still_verified(
    people: People, liar: LyingServer
) -> None:
    doctor, ann = await _pair(people)
    via_liar = people.client(liar.url)
    await via_liar.login("doc@example.org", PASSWORD)
    via_liar.use_keys(Keystore.from_state(doctor.keystore.export_state()))
    # Nothing pinned yet: the server swaps the root key but keeps Ann's real devices,
    # whose certificates then do not verify under the announced key.
    liar.rewrite = lambda path, body: (
        {**body, "root_key": to_base64url(RootKey.generate().public_key.raw)}
        if path.endswith(f"/accounts/{ann.account_id}/devices")
        else body
    )
    with pytest.raises(UntrustedDirectory):
        await via_liar.directory.devices(ann.account_id)


async def test_keystore_state_round_trips_and_hides_secrets(people: People) -> None:
    _doctor, ann = await _pair(people)
    await ann.directory.devices(ann.account_id)
    state = ann.keystore.export_state()
    again = Keystore.from_state(state)
    assert again.export_state() == state
    assert again.root.public_key == ann.keystore.root.public_key
    text = repr(ann.keystore)
    assert to_base64url(ann.keystore.root.seed) not in text
    assert "hidden" in text
