"""The browser's triage evaluator (web/src/client/triage.mjs, run by node) flags every
shipped red-flag phrase of each language with its rule and none of the benign ones,
and agrees with the Python SDK's evaluator phrase by phrase.

Like the other JS tests, a missing node fails these tests; it never skips them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from e2e_crypto.client.triage import load_rules

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("triage_check.mjs")


@cache
def report() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node 20 (see README)"
    result = subprocess.run(
        [node, str(CHECK)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_every_language_has_red_flag_and_benign_phrases_checked() -> None:
    checked = report()["checked"]
    assert sorted(checked) == ["en", "fr", "nl"]
    for counts in checked.values():
        assert counts["red_flag"] > 0
        assert counts["benign"] > 0


def test_every_red_flag_phrase_stops_the_flow_with_its_rule() -> None:
    assert report()["missed"] == []


def test_no_benign_phrase_is_flagged() -> None:
    assert report()["falseAlarms"] == []


def test_a_red_flag_answer_stops_without_text_with_the_country_s_numbers() -> None:
    assert report()["redFlagAnswer"] == {"flags": ["bluish_lips"], "numbers": ["15", "112"]}


def test_normalising_and_prefix_words_match_the_sdk() -> None:
    assert report()["normalised"] == ["levres", "bleues", "l", "air"]
    assert report()["prefix"] == ["breathing_difficulty"]


def test_the_browser_and_the_sdk_flag_the_same_rules_for_every_phrase() -> None:
    rules = load_rules()
    flags: dict[str, list[str]] = report()["flags"]
    assert flags
    for phrase, js_flags in flags.items():
        assert list(rules.flags_in_text(phrase)) == js_flags, phrase
