"""Every time read in the server goes through the injected clock (chat_server/clock.py).

A direct read of the system clock is a boundary no test can reach. Two places are
exempt, on purpose: ``embedded/`` waits for real child processes before any app
exists, and ``metrics.py`` measures the event loop and the garbage collector
themselves, which a manual clock cannot stand in for.
"""

from __future__ import annotations

import re
from pathlib import Path

import chat_server

PACKAGE = Path(chat_server.__file__).parent
EXEMPT = {"clock.py", "metrics.py"}
DIRECT = re.compile(
    r"\btime\.(monotonic|time|perf_counter|process_time)(_ns)?\b"
    r"|\bfrom time import\b"
    r"|\bdatetime\.(now|utcnow|today)\b|\bdate\.today\b"
    r"|\bloop\.time\b"
)


def test_no_direct_time_read_outside_the_clock() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in EXEMPT and path.relative_to(PACKAGE).parts[0] != "embedded"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DIRECT.search(line)
    ]
    assert not found, "read the injected Clock instead:\n" + "\n".join(found)


def test_the_scan_sees_a_direct_read() -> None:
    assert DIRECT.search("started = time.perf_counter()")
    assert DIRECT.search("now = datetime.now(UTC)")
    assert not DIRECT.search("now = self._clock.now()")
