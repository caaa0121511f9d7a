"""Intake triage: the shipped rule set flags every shipped red-flag phrase, in each
language, with the rule the phrase names, and none of the shipped benign phrases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e_crypto.client.triage import DEFAULT_RULES, Intake, load_rules, normalise

PHRASES: dict[str, Any] = json.loads(
    (Path(DEFAULT_RULES).parent / "phrases.json").read_text(encoding="utf-8")
)
RULES = load_rules()
LANGUAGES = ("fr", "nl", "en")


def _intake(text: str, symptom: str = "fever") -> Intake:
    return Intake("16_64", symptom, "2_3_days", ("none",), text)


def test_the_phrase_lists_cover_every_language_and_this_rules_version() -> None:
    assert RULES.languages == LANGUAGES
    assert PHRASES["rules_version"] == RULES.version
    for kind in ("red_flag", "benign"):
        assert all(PHRASES[kind][lang] for lang in LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_red_flag_phrase_stops_the_flow_with_its_rule(lang: str) -> None:
    for phrase, rule in PHRASES["red_flag"][lang]:
        assert rule in RULES.flags_in_text(phrase, lang), phrase
        result = RULES.evaluate(_intake(phrase))
        assert result.stop, phrase
        assert [n.number for n in result.emergency] == ["112", "100"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_benign_phrase_is_flagged(lang: str) -> None:
    for phrase in PHRASES["benign"][lang]:
        result = RULES.evaluate(_intake(phrase))
        assert not result.stop, (phrase, result.flags)
        assert result.emergency == ()


def test_a_red_flag_answer_stops_without_any_text() -> None:
    result = RULES.evaluate(_intake("", symptom="bluish_lips"), country="FR")
    assert result.flags == ("bluish_lips",)
    assert [n.number for n in result.emergency] == ["15", "112"]


def test_normalising_drops_accents_case_and_punctuation() -> None:
    assert normalise("Lèvres BLEUES, l'air!") == ["levres", "bleues", "l", "air"]


def test_a_prefix_word_matches_only_from_the_start_of_a_word() -> None:
    assert RULES.flags_in_text("I feel breathless", "en") == ("breathing_difficulty",)
    # "suicid*" must not fire inside another word, nor a stem match across words.
    assert RULES.flags_in_text("antisuicidal leaflet", "en") == ()


def test_an_unknown_intake_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="main_symptom"):
        RULES.evaluate(_intake("hello", symptom="sneezing"))
