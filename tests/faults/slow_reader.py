"""A receive-only device in its own OS process, so a test can freeze it with SIGSTOP.

Run as ``python -m tests.faults.slow_reader OUT BASE_URL...`` with ``FAULTS_ACCOUNT_ID``,
``FAULTS_DEVICE_ID`` and ``FAULTS_SESSION_TOKEN`` in the environment (a token never
goes on a command line). It is a :class:`~tests.faults.device.ResilientDevice` that
writes every ``msg`` frame to OUT as a JSON array, and every welcome and close as a
JSON object, one line each, flushed at once; SIGTERM ends it cleanly. Its TCP receive
window is small, as on a poor mobile network.

:class:`ReaderProcess` is the test's side: start, pause, resume, stop, and read back
what the device got.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from chat_server.embedded.processes import LocalService, stop_process
from tests.faults.device import Identity, ResilientDevice
from tests.faults.ledger import Inbox

REPOSITORY = Path(__file__).resolve().parents[2]
# A small TCP window (a phone on a poor network): a frozen reader's backlog then piles
# up in the server's bounded queue within a second, not in megabytes of kernel buffers.
RECEIVE_BUFFER = 8192


class ReaderProcess(LocalService):
    def __init__(self, identity: Identity, bases: list[str], out: Path) -> None:
        self.identity = identity
        self.bases = bases
        self.out = out
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "FAULTS_ACCOUNT_ID": self.identity.account_id,
            "FAULTS_DEVICE_ID": self.identity.device_id,
            "FAULTS_SESSION_TOKEN": self.identity.token,
        }
        self._log = self.out.with_suffix(".log").open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.slow_reader", str(self.out), *self.bases],
            env=env, cwd=REPOSITORY, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def pause(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)  # a stopped process cannot handle TERM
            stop_process(self._proc, timeout=10)
            self._proc = None
            self._log.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _lines(self) -> list[str]:
        if not self.out.exists():
            return []
        # The last line may be half-written: only complete lines count.
        text = self.out.read_text()
        return text[: text.rfind("\n") + 1].splitlines()

    def inbox(self) -> Inbox:
        return Inbox.replay(self.identity.ref, [x for x in self._lines() if x.startswith("[")])

    def statuses(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self._lines() if x.startswith("{")]


async def _main(out: Path, bases: list[str]) -> None:
    identity = Identity(
        os.environ["FAULTS_ACCOUNT_ID"],
        os.environ["FAULTS_DEVICE_ID"],
        os.environ["FAULTS_SESSION_TOKEN"],
    )
    with out.open("a", buffering=1) as sink:
        device = ResilientDevice(
            identity, bases, random.Random(),
            on_frame=lambda received: sink.write(received.to_line() + "\n"),
            on_status=lambda event: sink.write(json.dumps(event) + "\n"),
            receive_buffer=RECEIVE_BUFFER,
        )  # fmt: skip
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await device.start()
        await stop.wait()
        await device.close()


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1]), sys.argv[2:]))
