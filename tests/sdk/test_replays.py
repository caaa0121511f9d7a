"""A server that replays an old envelope at a new seq gets it dropped by the SDK.

The replay is made the way a compromised server would: the stored message is
copied under the thread's next seq in MongoDB (after dropping the unique index on
(thread, sender device, client message id) that an honest server keeps).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from e2e_crypto.client import Text
from tests.sdk.conversation import care_thread, nothing_more, take
from tests.sdk.people import PASSWORD, People


async def _replay(db: AsyncDatabase[dict[str, Any]], thread_id: str, seq: int, at: int) -> None:
    """Store message ``seq`` of ``thread_id`` again, unchanged, as seq ``at``."""
    original = await db.messages.find_one({"thread": thread_id, "seq": seq})
    assert original is not None
    await db.messages.drop_index("cmid")
    copy = {k: v for k, v in original.items() if k != "_id"} | {"seq": at}
    await db.messages.insert_one(copy)
    await db.threads.update_one({"_id": thread_id}, {"$max": {"last_seq": at}})


async def test_a_replayed_envelope_at_a_new_seq_is_dropped_live_and_in_history(
    people: People, db: AsyncDatabase[dict[str, Any]]
) -> None:
    doctor = await people.join("doc@example.org", "practitioner", "doc-pc")
    ann = await people.join("ann@example.org", "patient", "ann-phone")
    thread_id = await care_thread(ann, doctor)
    await doctor.connect()
    await ann.connect()
    assert await ann.send(thread_id, "Can I double the dose?") == 1
    assert [m.payload for m in await take(doctor, 1)] == [Text("Can I double the dose?")]

    await _replay(db, thread_id, seq=1, at=2)
    # The next real message lands at seq 3; the doctor sees the gap, syncs, is
    # served the replay at seq 2 (it verifies and decrypts like the original) and
    # must not deliver it as a new question.
    assert await ann.send(thread_id, "Thanks") == 3
    [arrived] = await take(doctor, 1)
    assert (arrived.seq, arrived.payload) == (3, Text("Thanks"))
    await nothing_more(doctor)
    assert doctor.connection.cursors()[thread_id] == 3  # the replay's seq is still counted

    # A fresh client (new guard) reading the stored history drops it as well.
    reader = people.client()
    await reader.login("doc@example.org", PASSWORD)
    reader.use_keys(doctor.keystore)
    history = [(m.seq, m.payload) async for m in reader.history(thread_id)]
    assert history == [(1, Text("Can I double the dose?")), (3, Text("Thanks"))]
