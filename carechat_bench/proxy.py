"""HAProxy in front of several ``carechat serve`` processes, on loopback only.

The deployment shape of docs/deploy.md, minus TLS: one listener, WebSocket upgrades
passed through (HTTP mode, ``timeout tunnel`` for the long-lived sockets), each new
connection to the server with the fewest. HAProxy is Debian's package
(``scripts/bootstrap --bench`` installs it); the benchmark starts and stops it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import IO

from chat_server.embedded.processes import LocalService, free_port, stop_process, wait_for_port

# Sockets the proxy accepts at once: the benchmark's 1,000 devices and their HTTP
# calls, with room. Each costs HAProxy two descriptors.
MAX_CONNECTIONS = 8_000


def haproxy_config(port: int, backends: list[int]) -> str:
    servers = "\n".join(f"  server s{n} 127.0.0.1:{p}" for n, p in enumerate(backends))
    return f"""global
  maxconn {MAX_CONNECTIONS}
  nbthread 1

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  # A WebSocket after its upgrade: the server's heartbeats keep it busy.
  timeout tunnel 1h

frontend carechat
  bind 127.0.0.1:{port}
  default_backend servers

backend servers
  balance leastconn
{servers}
"""


class Haproxy(LocalService):
    def __init__(self, workdir: Path, backends: list[int]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.backends = backends
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise RuntimeError(
                "--processes needs HAProxy: run scripts/bootstrap --bench "
                "(Debian: apt-get install haproxy)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, self.backends))
        self._log = (self.workdir / "haproxy.log").open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 (Debian's haproxy, our own config)
            [binary, "-db", "-f", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )
        if not wait_for_port(self.proc, "127.0.0.1", self.port, 15.0):
            log = (self.workdir / "haproxy.log").read_text(errors="replace")
            self.stop()
            raise RuntimeError(f"haproxy did not start: {log[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
