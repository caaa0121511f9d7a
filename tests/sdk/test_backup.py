"""Key backup: a new device restores the account's keys and reads old messages."""

from __future__ import annotations

import pytest

from e2e_crypto.client import NotFoundError, Text
from e2e_crypto.errors import DecryptionFailed
from tests.sdk.conversation import care_thread, take
from tests.sdk.people import PASSPHRASE, PASSWORD, People


async def test_a_restored_device_reads_the_history(people: People) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    with pytest.raises(NotFoundError):
        await people.another_device("ann@example.org")  # no backup yet
    thread_id = await care_thread(ann, doctor)
    await ann.connect()
    await doctor.connect()
    await ann.send(thread_id, "written on the old phone")
    await take(doctor, 1)
    await doctor.send(thread_id, "answered to the old phone")
    await take(ann, 1)
    await ann.backup_keys(PASSPHRASE)

    # The phone is lost; Ann logs in on a new one with her recovery passphrase.
    wrong = people.client()
    await wrong.login("ann@example.org", PASSWORD)
    with pytest.raises(DecryptionFailed):
        await wrong.restore_keys("not the right passphrase")
    new_phone = await people.another_device("ann@example.org", "ann-new-phone")
    assert new_phone.keystore.root.public_key == ann.keystore.root.public_key
    assert [d.device_id for d in new_phone.keystore.former] == ["ann-phone"]

    history = [m async for m in new_phone.history(thread_id)]
    assert [(m.seq, m.payload) for m in history] == [
        (1, Text("written on the old phone")),
        (2, Text("answered to the old phone")),
    ]
    # The socket replays the same history, then carries new messages.
    await new_phone.connect()
    assert [m.seq for m in await take(new_phone, 2)] == [1, 2]
    await doctor.send(thread_id, "welcome back")
    assert [m.payload for m in await take(new_phone, 1)] == [Text("welcome back")]

    # The refreshed backup includes the new device: a third device reads its messages.
    third = await people.another_device("ann@example.org", "ann-tablet")
    assert {d.device_id for d in third.keystore.former} == {"ann-phone", "ann-new-phone"}
    assert len([m async for m in third.history(thread_id)]) == 3


async def test_history_from_a_revoked_device_still_verifies(people: People) -> None:
    """A retired device is no longer listed; its certificate is found in the key log."""
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await ann.connect()
    await ann.send(thread_id, "from the phone I am about to lose")
    await ann.backup_keys(PASSPHRASE)
    laptop = await people.another_device("ann@example.org", "ann-laptop")
    await laptop.api.revoke_device("ann-phone")

    later = people.client()  # the doctor's software, started fresh: nothing cached
    await later.login("doc@example.org", PASSWORD)
    later.use_keys(doctor.keystore)
    [message] = [m async for m in later.history(thread_id)]
    assert message.sender_device == "ann-phone"
    assert message.payload == Text("from the phone I am about to lose")
    assert [d.device_id for d in await later.directory.devices(ann.account_id)] == ["ann-laptop"]
