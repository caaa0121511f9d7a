"""The flood phase's pieces: its roster split, its server limits, its doc section, the
flooder's pre-built frames and the chat's timeline."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from carechat_bench.flood import END, START, FloodOptions, production_limits, render, split_roster
from carechat_bench.rawframes import masked_text_frame
from carechat_bench.report import replace_section
from carechat_bench.runner import base_env
from carechat_bench.seed import Pair, Person, Roster, Team
from carechat_bench.stats import split_p99, timeline


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


def _unmasked(frame: bytes) -> tuple[int, bytes, bytes]:
    """(first byte, mask key, payload) of one client frame, read as RFC 6455 5.2 says."""
    first, second = frame[0], frame[1]
    assert second & 0x80, "a client frame must be masked"
    size, offset = second & 0x7F, 2
    if size == 126:
        (size,), offset = struct.unpack("!H", frame[2:4]), 4
    elif size == 127:
        (size,), offset = struct.unpack("!Q", frame[2:10]), 10
    key = frame[offset : offset + 4]
    masked = frame[offset + 4 :]
    assert len(masked) == size
    return first, key, bytes(b ^ key[i % 4] for i, b in enumerate(masked))


# Bytes of UTF-8: each side of the 7-bit, 16-bit and 64-bit length encodings.
@pytest.mark.parametrize("size", [0, 5, 125, 126, 700, 65535, 65536])
def test_a_flooders_frame_is_one_masked_text_frame(size: int) -> None:
    text = "é" + "x" * (size - 2) if size >= 2 else "x" * size
    first, key, payload = _unmasked(masked_text_frame(text))
    assert first == 0x81  # FIN, text
    assert payload == text.encode()
    assert len(key) == 4


def test_each_flooded_frame_has_its_own_mask_key() -> None:
    keys = {_unmasked(masked_text_frame('{"type":"send"}'))[1] for _ in range(50)}
    assert len(keys) > 45  # random 32-bit keys: a repeat among 50 is ~3e-7 likely


def test_the_timeline_groups_latencies_by_when_their_message_was_sent() -> None:
    start = 100.0
    sent = [100.0, 100.1, 100.2, 100.3, 100.9]
    latencies = [0.010, 0.020, 0.030, 0.500, 0.004]
    rows = timeline(start, sent, latencies)
    assert [r[0] for r in rows] == [3, 1, 0, 1]  # 0-250 ms, 250-500, 500-750 (none), 750+
    assert rows[0][1:] == [20.0, 30.0, 30.0]  # p50, p99, max in ms
    assert rows[1][1:] == [500.0, 500.0, 500.0]
    assert all(math.isnan(v) for v in rows[2][1:])
    assert rows[3][2] == 4.0


def test_the_p99_is_split_between_a_phases_first_second_and_the_rest() -> None:
    sent = [10.0 + n / 100 for n in range(300)]  # 100 messages a second for 3 s
    latencies = [0.5 if n < 50 else 0.01 for n in range(300)]  # a slow first half second
    early, late = split_p99(10.0, sent, latencies)
    assert early == 500.0
    assert late == 10.0
