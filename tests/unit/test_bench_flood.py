"""The flood phase's pieces: its roster split, its server limits and its doc section."""

from __future__ import annotations

from pathlib import Path

from carechat_bench.flood import END, START, FloodOptions, production_limits, render, split_roster
from carechat_bench.report import replace_section
from carechat_bench.runner import base_env
from carechat_bench.seed import Pair, Person, Roster, Team


def _person(name: str) -> Person:
    return Person(name, f"token-{name}")


def test_the_last_pair_floods_and_no_one_is_in_both_rosters() -> None:
    pairs = tuple(Pair(f"t{n}", _person(f"p{n}"), _person(f"d{n}")) for n in range(3))
    roster = Roster(pairs, Team("team", _person("tp"), (_person("m1"),)))
    chat, flood = split_roster(roster)
    assert chat.pairs == pairs[:2]
    assert flood.pairs == pairs[2:]


def test_the_flooded_server_keeps_the_shipped_message_limits() -> None:
    env = production_limits(base_env("mongodb://127.0.0.1:1/"))
    assert "CARECHAT_SEND_LIMIT_PER_DEVICE" not in env
    assert "CARECHAT_SEND_LIMIT_PER_ACCOUNT" not in env
    # Everyone connects from 127.0.0.1: the address budget stays raised.
    assert env["CARECHAT_SEND_LIMIT_PER_IP"] == "1000000"


def test_the_flood_table_replaces_only_its_own_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# B\n<!-- bench:start -->\nmain\n<!-- bench:end -->\n{START}\nold\n{END}\nend\n"
    )
    figures = {"during_p99_ms": [40.0, 50.0, 45.0], "flood_limited": [9000.0, 9100.0, 8900.0]}
    replace_section(doc, START, END, render(figures, FloodOptions()))
    text = doc.read_text()
    assert "<!-- bench:start -->\nmain\n<!-- bench:end -->\n" in text
    assert "old" not in text
    assert "| chat p99 during the flood | 45.0 (40.0-50.0) | ms |" in text
    assert "| 9,000 (8,900-9,100) | sends |" in text
    assert text.endswith(f"{END}\nend\n")
