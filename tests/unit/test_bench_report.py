"""The benchmark's tables: a multi-process run writes its own, and its proxy config."""

from __future__ import annotations

from pathlib import Path

from carechat_bench.proxy import haproxy_config
from carechat_bench.report import END, PROCESSES_END, PROCESSES_START, START, Report
from carechat_bench.runner import _machine

MACHINE = {"cpu": "2 x test"}


def _report(processes: int, value: float) -> Report:
    figures = {"max_per_s": [value], "proxy_cpu_us_per_msg": [value / 10]}
    return Report("carechat bench", figures, [], MACHINE, redis=True, processes=processes)


def test_a_multi_process_run_replaces_only_its_own_table(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# B\n{START}\nsingle\n{END}\nprose\n{PROCESSES_START}\nold\n{PROCESSES_END}\nend\n"
    )
    _report(2, 1234.0).write(doc)
    text = doc.read_text()
    assert f"{START}\nsingle\n{END}\nprose\n" in text  # untouched
    assert "old" not in text
    assert "2 server processes behind HAProxy" in text
    assert "| 1,234 |" in text
    assert "HAProxy CPU per message" in text
    assert text.endswith(f"{PROCESSES_END}\nend\n")
    _report(1, 999.0).write(doc)
    text = doc.read_text()
    assert "single" not in text
    assert "| 1,234 |" in text  # the multi-process table stays


def test_the_proxy_config_listens_on_loopback_and_passes_websockets() -> None:
    config = haproxy_config(8000, [8001, 8002])
    assert "bind 127.0.0.1:8000\n" in config
    assert "server s0 127.0.0.1:8001\n" in config
    assert "server s1 127.0.0.1:8002\n" in config
    assert "timeout tunnel" in config
    assert "mode http" in config


def test_the_machine_line_says_how_fast_the_machine_was_at_the_start() -> None:
    # A quiet host runs the check in about 130 ms here; a slowed one in 200 or more.
    machine = _machine()
    value, unit = machine["CPU check at the start"].split()
    assert unit == "ms"
    assert float(value) > 0
    assert list(machine).index("CPU check at the start") == 2  # beside the load average
