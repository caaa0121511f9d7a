"""The processes a benchmark starts, and what /proc says about them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from chat_server.embedded.processes import LocalService, free_port, stop_process

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int]:
    """(stolen, total) CPU ticks of the whole machine so far, from /proc/stat.

    Steal is time a virtual CPU was runnable but the hypervisor ran someone else: on a
    shared VM it, not our code, can explain a stall."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    return fields[7], sum(fields[:8])


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far: every core, every process."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total  # less idle and iowait


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> float:
    """Seconds until ``url`` answers 200; raises if the process dies or time runs out."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} not ready after {timeout} s")


class Served(LocalService):
    """A Python program of ours serving HTTP on a loopback port, logging to a file."""

    def __init__(self, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.argv = argv
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{Path(self.argv[2]).name}-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, *self.argv],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.ready_seconds = wait_ready(self.url + "/readyz", self.proc, timeout, self.log_path)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self._closed()

    def kill(self) -> None:
        """SIGKILL: no goodbye, no drain (for fault tests)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._closed()

    def _closed(self) -> None:
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


class CareChatServer(Served):
    """``carechat serve`` on an external MongoDB (and Redis), as deployed."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(["-m", "chat_server", "serve"], workdir, env)
        # Several servers share the host: each gets its own metrics listener.
        self.metrics_port = free_port()
        self.env.update(
            {
                "CARECHAT_PORT": str(self.port),
                "CARECHAT_METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
                "CARECHAT_DATA_DIR": str(workdir),
                "CARECHAT_LOG_LEVEL": "WARNING",
            }
        )

    @property
    def metrics_url(self) -> str:
        """Where its ``/metrics`` is: a listener of its own, not the public port."""
        return f"http://127.0.0.1:{self.metrics_port}"


class EchoServer(Served):
    def __init__(self, workdir: Path) -> None:
        super().__init__(["-m", "carechat_bench.echo", "PORT"], workdir)
        self.argv[2] = str(self.port)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"echo-{self.port}.log"


def metrics_text(metrics_url: str) -> str:
    """A server's Prometheus exposition (``CareChatServer.metrics_url``)."""
    with urllib.request.urlopen(metrics_url + "/metrics", timeout=5) as response:  # noqa: S310 (loopback)
        return str(response.read().decode())


class LoaderProcess(LocalService):
    """The load generator, driven one JSON command per line."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "carechat_bench.loader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(self.workdir / "loader.log").open("ab"),
            text=True,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def send(self, cmd: str, **args: Any) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            log = (self.workdir / "loader.log").read_text(errors="replace")
            raise RuntimeError(f"the loader died: {log[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        self.send(cmd, **args)
        return self.answer()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc = None
