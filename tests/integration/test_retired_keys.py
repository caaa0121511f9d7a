"""An erased person's kept public keys (storage/retired_keys.py) last as long as a
retained thread needs them: the erasure of the last other person who had such a
thread deletes it and them, unless a practice colleague still takes part in it."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import ManualClock
from chat_server.principal import Role
from chat_server.storage.accounts import AccountStore
from chat_server.storage.messages import MessageStore, NewMessage, StoredMessage
from chat_server.storage.personal_data import Person, PersonalDataStore
from chat_server.storage.retired_keys import RetiredKeyStore
from chat_server.storage.threads import ThreadStore

Database = AsyncDatabase[dict[str, Any]]


def _stamp(record: StoredMessage) -> bytes:
    return b"s" * 32


async def _thread(
    db: Database, clock: ManualClock, thread_id: str, participants: list[str]
) -> None:
    """A care thread Ann (erased since) and the doctor both wrote in."""
    await ThreadStore(db).create(
        thread_id, patient_id="ann", provider_kind="practice", provider_id="practice",
        participants=participants, now=clock.now(),
    )  # fmt: skip
    store = MessageStore(db, clock, _stamp)
    store.start()
    try:
        for sender in ("ann", "doc"):
            cmid = f"{thread_id}-{sender}"
            await store.append(
                NewMessage(thread_id, sender, f"{sender}-phone", cmid, "message", b"ct", b"f" * 32)
            )
    finally:
        await store.close()


async def _account(db: Database, clock: ManualClock, account_id: str) -> None:
    await AccountStore(db).create(
        account_id=account_id, email=f"{account_id}@example.org", role=Role.PRACTITIONER,
        display_name=account_id, password_hash="x", now=clock.now(), registration=None,
    )  # fmt: skip


async def test_the_doctors_erasure_ends_a_thread_only_a_colleague_would_still_read(
    db: Database,
) -> None:
    clock = ManualClock()
    await _thread(db, clock, "one-to-one", ["ann", "doc"])
    await _thread(db, clock, "practice", ["ann", "doc", "colleague"])
    await RetiredKeyStore(db).keep("ann", "root", [], ["one-to-one", "practice"])
    for account_id in ("doc", "colleague"):
        await _account(db, clock, account_id)

    store = PersonalDataStore(db)
    removed = await store.erase(Person("doc", "doc@example.org", ("doc-phone",)))
    await store.forget_account("doc")

    # Nobody with an account is left in the one-to-one thread: it goes, and Ann's
    # keys stop naming it. The colleague still reads the practice's thread.
    assert await db["messages"].distinct("thread") == ["practice"]
    assert await db["threads"].distinct("_id") == ["practice"]
    kept = await db["retired_device_keys"].find_one({"_id": "ann"})
    assert kept is not None
    assert kept["threads"] == ["practice"]
    assert "retired_device_keys" not in removed
    # The doctor's own keys are kept for the colleague too.
    doc = await db["retired_device_keys"].find_one({"_id": "doc"})
    assert doc is not None
    assert doc["threads"] == ["practice"]

    # The colleague erased in turn (never wrote): the practice's thread is nobody's
    # record any more, and both records go with it.
    removed = await store.erase(Person("colleague", "colleague@example.org", ()))
    assert await db["messages"].count_documents({}) == 0
    assert await db["retired_device_keys"].count_documents({}) == 0
    assert removed["retired_device_keys"] == 2
