"""Intake triage for free panel questions: red flags stop the flow before anything is queued.

The rules are data, ``config/triage/rules.json`` (versioned, fr/nl/en), written so a
JavaScript evaluator reads the same file: normalise the text (NFKD, drop combining
marks, lower case, every run of characters outside a-z and 0-9 becomes one space),
split it into words, and look for each pattern's words next to each other, in order;
a pattern word ending in ``*`` matches any word starting with its letters. A red-flag
answer to a structured intake question (``main_symptom: chest_pain``) stops the flow
too. Nothing here talks to the server: the server never sees the intake, which travels
inside the encrypted question (``PanelQuestion`` in payloads.py).

A false alarm costs the patient a phone call; a missed red flag may cost more, so the
patterns over-match on purpose (no negation handling: "no chest pain" stops the flow).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_RULES",
    "EmergencyNumber",
    "Intake",
    "RuleSet",
    "TriageResult",
    "load_rules",
    "normalise",
]

# The rule set shipped with a source checkout (config/ is data, not a package).
DEFAULT_RULES: Final = Path(__file__).resolve().parents[2] / "config" / "triage" / "rules.json"
FORMAT: Final = "carechat-triage"
SUPPORTED_VERSION: Final = 1

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> list[str]:
    """The words of ``text`` as the rules see them (accents dropped, lower case)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return _NOT_WORD.sub(" ", bare).split()


@dataclass(frozen=True, slots=True)
class EmergencyNumber:
    number: str
    purpose: str


@dataclass(frozen=True, slots=True)
class Intake:
    """The short structured questions asked before a question is queued."""

    age_band: str
    main_symptom: str
    since: str
    risk_factors: tuple[str, ...]
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "age_band": self.age_band,
            "main_symptom": self.main_symptom,
            "since": self.since,
            "risk_factors": list(self.risk_factors),
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class TriageResult:
    """``stop``: show the emergency screen and queue nothing."""

    rules_version: int
    flags: tuple[str, ...]
    emergency: tuple[EmergencyNumber, ...]

    @property
    def stop(self) -> bool:
        return bool(self.flags)


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    patterns: Mapping[str, tuple[tuple[str, ...], ...]]


class RuleSet:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        if doc.get("format") != FORMAT or doc.get("version") != SUPPORTED_VERSION:
            raise ValueError("not a CareChat triage rule set of a supported version")
        self.version: int = doc["version"]
        self.languages: tuple[str, ...] = tuple(doc["languages"])
        self.intake_options: Mapping[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in doc["intake"].items()
        }
        self._answers: Mapping[str, Mapping[str, str]] = doc["red_flag_answers"]
        self._emergency = {
            country: tuple(EmergencyNumber(n["number"], n["for"]) for n in numbers)
            for country, numbers in doc["emergency"].items()
        }
        self._rules = tuple(
            _Rule(
                rule["id"],
                {
                    lang: tuple(tuple(p.split()) for p in patterns)
                    for lang, patterns in rule["patterns"].items()
                },
            )
            for rule in doc["red_flags"]
        )

    def emergency_numbers(self, country: str) -> tuple[EmergencyNumber, ...]:
        return self._emergency.get(country.upper(), self._emergency["default"])

    def flags_in_text(self, text: str, language: str | None = None) -> tuple[str, ...]:
        """The rules whose patterns occur in ``text``. Every language's patterns are
        tried unless ``language`` is given: a patient may write in another language
        than the page's."""
        words = normalise(text)
        languages = (language,) if language else self.languages
        found = []
        for rule in self._rules:
            if any(
                _occurs(pattern, words)
                for lang in languages
                for pattern in rule.patterns.get(lang, ())
            ):
                found.append(rule.id)
        return tuple(found)

    def evaluate(self, intake: Intake, *, country: str = "BE") -> TriageResult:
        for field, value in (("age_band", intake.age_band), ("main_symptom", intake.main_symptom)):
            if value not in self.intake_options[field]:
                raise ValueError(f"{field}: not one of the rule set's options")
        flags = list(self.flags_in_text(intake.text))
        answered = self._answers.get("main_symptom", {}).get(intake.main_symptom)
        if answered and answered not in flags:
            flags.insert(0, answered)
        return TriageResult(
            self.version,
            tuple(flags),
            self.emergency_numbers(country) if flags else (),
        )


def _occurs(pattern: Sequence[str], words: Sequence[str]) -> bool:
    n = len(pattern)
    return any(
        all(_word_matches(p, w) for p, w in zip(pattern, words[i : i + n], strict=True))
        for i in range(len(words) - n + 1)
    )


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        return word.startswith(pattern[:-1])
    return word == pattern


def load_rules(path: Path = DEFAULT_RULES) -> RuleSet:
    return RuleSet(json.loads(path.read_text(encoding="utf-8")))
