"""The results table, on the terminal and in docs/benchmarks.md (between markers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carechat_bench.stats import Figure

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
# A run with several server processes has a table of its own.
PROCESSES_START = "<!-- bench:processes:start -->"
PROCESSES_END = "<!-- bench:processes:end -->"

# (key, what, unit, digits, goal)
ROWS: tuple[tuple[str, str, str, int, str], ...] = (
    ("echo_per_s", "raw transport: aiohttp echo, 1,000 sockets", "frames/s", 0, ""),
    ("max_per_s", "(a) delivered 1:1, 1,000 devices, durable before ack", "msg/s", 0, "≥ 10,000"),
    ("ratio_to_echo", "(a) ratio to the raw echo, same run", "x", 3, "≥ 0.2"),
    ("load70_rate", "(a) offered load at 70 %", "msg/s", 0, ""),
    ("load70_p50_ms", "(a) send→delivery p50 at 70 %", "ms", 1, ""),
    ("load70_p99_ms", "(a) send→delivery p99 at 70 %", "ms", 1, "< 50"),
    ("load70_p999_ms", "(a) send→delivery p99.9 at 70 %", "ms", 1, ""),
    ("load70_send_ms", "(a) at 70 %, in the server: send read → ack ready, mean", "ms", 1, ""),
    ("load70_batch_ms", "(a) at 70 %, in the server: one group-committed write, mean", "ms", 1, ""),
    ("load70_per_batch", "(a) at 70 %, in the server: messages per write, mean", "msg", 1, ""),
    ("load30_rate", "(a) offered load at 30 %", "msg/s", 0, ""),
    ("load30_p50_ms", "(a) send→delivery p50 at 30 %", "ms", 1, "< 3"),
    ("load30_p99_ms", "(a) send→delivery p99 at 30 %", "ms", 1, "< 25"),
    ("load30_p999_ms", "(a) send→delivery p99.9 at 30 %", "ms", 1, ""),
    ("load30_send_ms", "(a) at 30 %, in the server: send read → ack ready, mean", "ms", 1, ""),
    ("load30_batch_ms", "(a) at 30 %, in the server: one group-committed write, mean", "ms", 1, ""),
    ("load30_per_batch", "(a) at 30 %, in the server: messages per write, mean", "msg", 1, ""),
    ("fanout_deliveries_per_s", "(b) 50-member team: deliveries", "deliveries/s", 0, ""),
    ("fanout_messages_per_s", "(b) 50-member team: messages", "msg/s", 0, ""),
    ("fanout_p50_ms", "(b) 50-member team: p50, closed loop", "ms", 1, ""),
    ("fanout_p99_ms", "(b) 50-member team: p99, closed loop", "ms", 1, ""),
    ("idle_sockets", "(c) idle authenticated sockets held", "sockets", 0, "20,000"),
    ("idle_dropped", "(c) of those, closed during the hold", "sockets", 0, "0"),
    ("idle_kb_per_socket", "(c) server memory per idle socket", "KiB", 1, "≤ 32"),
    ("idle_sockets_per_gib", "(c) idle sockets per GiB", "sockets", 0, "≥ 20,000"),
    ("idle_rss_mib", "(c) server RSS holding them (all processes)", "MiB", 0, "< 1,024"),
    ("ready_cold_s", "(d) `carechat serve` → ready, first start", "s", 2, "< 10"),
    ("ready_warm_s", "(d) `carechat serve` → ready, restart", "s", 2, "< 10"),
    ("cpu_us_per_msg", "(e) server CPU per accepted message", "µs", 0, "≤ 150"),
    ("loader_cpu_us_per_msg", "(e) load generator CPU per message, same runs", "µs", 0, ""),
    ("mongo_cpu_us_per_msg", "(e) MongoDB CPU per message, same runs", "µs", 0, ""),
    ("proxy_cpu_us_per_msg", "(e) HAProxy CPU per message, same runs", "µs", 0, ""),
    # Not a goal: the host's speed (runner.cpu_check_ms); quiet, about 130 ms on an AMD
    # EPYC VM and 165 on an Intel Xeon one (the machine line names the CPU).
    ("cpu_check_ms", "CPU check right before each of those runs (quiet: 130-165)", "ms", 0, ""),
    # One run, before those above: the server's caches fill after its start.
    ("cold_max_per_s", "(a) delivered 1:1, first run after the start", "msg/s", 0, ""),
    ("cold_cpu_us_per_msg", "(e) server CPU per message, first run after the start", "µs", 0, ""),
)


@dataclass(frozen=True, slots=True)
class Report:
    command: str
    figures: dict[str, list[float]]
    notes: list[str]
    machine: dict[str, str]
    redis: bool
    processes: int = 1

    @property
    def markers(self) -> tuple[str, str]:
        return (START, END) if self.processes == 1 else (PROCESSES_START, PROCESSES_END)

    def table(self) -> str:
        lines = [
            "| figure | median (min-max) | unit | goal |",
            "|---|---:|---|---|",
        ]
        for key, what, unit, digits, goal in ROWS:
            values = self.figures.get(key)
            if not values:
                continue
            lines.append(f"| {what} | {Figure.of(values).render(digits)} | {unit} | {goal} |")
        return "\n".join(lines)

    def markdown(self) -> str:
        runs = max((len(v) for v in self.figures.values()), default=0)
        machine = ", ".join(f"{k}: {v}" for k, v in self.machine.items())
        fanout = "MongoDB + Redis fan-out" if self.redis else "MongoDB, in-process fan-out"
        if self.processes > 1:
            fanout += f", {self.processes} server processes behind HAProxy"
        start, end = self.markers
        parts = [
            start,
            f"Command: `{self.command}` ({runs} runs per figure; {fanout}).",
            "",
            f"Machine: {machine}.",
            "",
            self.table(),
        ]
        if self.notes:
            parts += ["", *(f"- {note}" for note in self.notes)]
        parts.append(end)
        return "\n".join(parts)

    def write(self, path: Path) -> None:
        """Replaces the table between the markers (or appends it)."""
        start, end = self.markers
        # markdown() already starts and ends with the markers.
        replace_section(path, start, end, self.markdown().removeprefix(start).removesuffix(end))


def phase_table(
    figures: dict[str, list[float]], rows: tuple[tuple[str, str, str, int], ...]
) -> list[str]:
    """The table of a phase of its own (``--mailing``, ``--flood``): one row per
    ``(key, what, unit, digits)`` that has figures."""
    lines = ["| figure | median (min-max) | unit |", "|---|---:|---|"]
    for key, what, unit, digits in rows:
        if figures.get(key):
            lines.append(f"| {what} | {Figure.of(figures[key]).render(digits)} | {unit} |")
    return lines


def replace_section(path: Path, start: str, end: str, body: str) -> None:
    """Puts ``body`` between the ``start`` and ``end`` markers of ``path``, replacing
    what was there (or appends the markers and body at the end)."""
    text = path.read_text() if path.exists() else ""
    section = start + "\n" + body.strip("\n") + "\n" + end
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
