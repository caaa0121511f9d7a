"""Runs the real ``carechat`` command as a child process, bounded in time.

Each run gets its own process group, so whatever the command starts (the embedded
``mongod``) can be killed with it if a test fails half-way; output goes to files, not
pipes, so a chatty child can never block on a full pipe.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat_server.embedded.processes import free_port

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int
    stderr: str
    stdout: str = ""

    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def carechat_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """The parent's environment without any ``CARECHAT_*``, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECHAT_")}
    env["CARECHAT_DATA_DIR"] = str(data_dir)
    env["CARECHAT_PORT"] = str(port)
    # Its own metrics listener: parallel test sessions share the host's ports.
    env["CARECHAT_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
    env.update({f"CARECHAT_{name.upper()}": value for name, value in settings.items()})
    return env


def run_carechat(
    args: list[str], env: Mapping[str, str], timeout: float = START_TIMEOUT
) -> Finished:
    """Runs a command that is expected to end by itself (a failure, or ``migrate``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "chat_server", *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )
    return Finished(
        proc.returncode,
        proc.stderr.decode("utf-8", "replace"),
        proc.stdout.decode("utf-8", "replace"),
    )


class Server:
    """``carechat serve`` in the background; :meth:`kill` always leaves nothing behind."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = int(env["CARECHAT_PORT"])
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chat_server", "serve"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """The first 200 answer of ``/readyz``; fails if the server exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output}")
            try:
                status, body = self.get("/readyz")
            except (OSError, ValueError):
                time.sleep(0.1)
                continue
            if status == 200:
                return body
            time.sleep(0.1)
        raise AssertionError(f"server not ready in {timeout} s:\n{self.output}")

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> int:
        """Signals the server process alone (not its children) and waits for its exit.

        Whatever it leaves behind stays, for the test to see; :meth:`kill` clears it.
        """
        self.proc.send_signal(signum)
        return self.proc.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            # Anything the server started and left behind shares its process group.
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


def children(pid: int) -> list[int]:
    """Live child processes of ``pid``, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                found.append(int(entry.name))
    return found


def command_line(pid: int) -> list[str]:
    """The argv of a live process, or [] if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode() for part in raw.split(b"\0") if part]


def mongod_child(server_pid: int) -> tuple[int, int]:
    """(pid, port) of the ``mongod`` the server started."""
    for pid in children(server_pid):
        argv = command_line(pid)
        if argv and Path(argv[0]).name == "mongod":
            return pid, int(argv[argv.index("--port") + 1])
    raise AssertionError(f"no mongod child of {server_pid}")


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
