"""docs/sdk.md's complete example runs, as printed, against the real server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from e2e_crypto.client import CareChatClient, RenewalRequest, Text
from tests.sdk.conversation import care_thread, nothing_more, take
from tests.sdk.people import PASSPHRASE, PASSWORD, People, link

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
Desk = Callable[..., Coroutine[Any, Any, None]]


def _example() -> Desk:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- example:start -->\n```python\n(.*?)```\n<!-- example:end -->", text, re.S
    )
    assert block is not None, "docs/sdk.md lost its example markers"
    namespace: dict[str, Any] = {"__name__": "sdk_example"}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 — our own doc
    desk: Desk = namespace["run_desk"]
    return desk


async def _until_keys(patient: CareChatClient, account_id: str) -> None:
    """Waits (up to ~10 s) for the desk to publish its first device."""
    for _ in range(100):
        if await patient.directory.devices(account_id, refresh=True):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the desk never published its keys")


async def test_the_renewal_desk_answers_and_resumes(people: People, tmp_path: Path) -> None:
    run_desk = _example()
    office = await people.register("doc@example.org", "practitioner")  # keys: the desk's job
    ann = await people.join("ann@example.org")
    await link(ann, office)
    state = tmp_path / "desk.json"

    async def desk() -> None:
        await run_desk(people.base_url, "doc@example.org", PASSWORD, PASSPHRASE, state, 1)

    first = asyncio.create_task(desk())
    try:
        await _until_keys(ann, office.account_id)
        thread_id = await care_thread(ann, office)
        await ann.connect()
        await ann.send(thread_id, RenewalRequest("Amlodipine", "5 mg", "Pharmacie du Parc"))
        [reply] = await take(ann, 1)
        assert reply.payload == Text("Renewed: Amlodipine 5 mg, at Pharmacie du Parc.")
        await asyncio.wait_for(first, 10)
    finally:
        first.cancel()
    assert state.stat().st_mode & 0o077 == 0

    # Restarted from its state file: it does not answer the first request again.
    await ann.send(thread_id, RenewalRequest("Metformin", "500 mg", "Apotheek Noord"))
    again = asyncio.create_task(desk())
    try:
        [second] = await take(ann, 1)
        assert second.payload == Text("Renewed: Metformin 500 mg, at Apotheek Noord.")
        await asyncio.wait_for(again, 10)
    finally:
        again.cancel()
    await nothing_more(ann)
