"""The GP panel's page texts exist in fr, nl and en alike (the console's catalog, the
widget's question flow and the intake's option labels), and every intake option of
the shipped triage rule set has a label in each language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [
    ROOT / "web" / "src" / "panel" / "i18n.mjs",
    ROOT / "web" / "src" / "widget" / "question" / "i18n.mjs",
    ROOT / "web" / "src" / "ui" / "intake-options.mjs",
    ROOT / "web" / "src" / "widget" / "rights" / "i18n.mjs",
    ROOT / "web" / "src" / "widget" / "announcements" / "i18n.mjs",
    ROOT / "web" / "src" / "widget" / "my_data" / "i18n.mjs",
    ROOT / "web" / "src" / "widget" / "report" / "i18n.mjs",
    ROOT / "web" / "src" / "inbox" / "report.mjs",
    ROOT / "web" / "src" / "ui" / "suspension.mjs",
    ROOT / "web" / "src" / "practice" / "i18n.mjs",
    ROOT / "web" / "src" / "panel" / "members.mjs",
    ROOT / "web" / "src" / "panel" / "settings.mjs",
    ROOT / "web" / "src" / "panel" / "new_panel.mjs",
]
_BLOCK = re.compile(r'registerMessages\("(\w+)", \{(.*?)\n\}\);', re.S)
_KEY = re.compile(r'^\s+(?:"([^"]+)"|([A-Za-z_][\w]*)):\s', re.M)


def keys_by_language(path: Path) -> dict[str, set[str]]:
    blocks = _BLOCK.findall(path.read_text(encoding="utf-8"))
    return {lang: {a or b for a, b in _KEY.findall(body)} for lang, body in blocks}


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_every_text_is_in_french_dutch_and_english(path: Path) -> None:
    found = keys_by_language(path)
    assert sorted(found) == ["en", "fr", "nl"]
    assert found["en"]
    assert found["fr"] == found["en"], found["en"] ^ found["fr"]
    assert found["nl"] == found["en"], found["en"] ^ found["nl"]


def test_every_intake_option_of_the_rule_set_has_a_label() -> None:
    rules = json.loads((ROOT / "config" / "triage" / "rules.json").read_text(encoding="utf-8"))
    labels = keys_by_language(CATALOGS[2])
    for group, options in rules["intake"].items():
        for option in options:
            for lang in ("en", "fr", "nl"):
                assert f"question.option.{group}.{option}" in labels[lang], (lang, group, option)


def test_the_widgets_own_texts_are_in_french_dutch_and_english() -> None:
    """The widget's main catalog is one file per language (widget/i18n/*.mjs)."""
    found = {
        lang: keys_by_language(ROOT / "web" / "src" / "widget" / "i18n" / f"{lang}.mjs")[lang]
        for lang in ("en", "fr", "nl")
    }
    assert "menu.label" in found["en"]  # the header's "Menu" button (widget/menu.mjs)
    assert found["fr"] == found["en"], found["en"] ^ found["fr"]
    assert found["nl"] == found["en"], found["en"] ^ found["nl"]


def test_the_practice_consoles_list_of_practices_is_worded_in_every_language() -> None:
    """The list of the account's practices, its roles there (named by the server's
    ``roles``: practice.role.<role>), the way back and the "no practice" page."""
    found = keys_by_language(ROOT / "web" / "src" / "practice" / "i18n.mjs")
    wanted = {
        "practice.list.title",
        "practice.list.lead",
        "practice.all",
        "practice.none.title",
        "practice.none.lead",
        "practice.none.who",
        *(f"practice.role.{role}" for role in ("admin", "practitioner", "staff")),
    }
    for lang in ("en", "fr", "nl"):
        assert wanted <= found[lang], (lang, wanted - found[lang])
    # Nobody types a practice's identifier any more.
    assert "practice.id" not in found["en"]


def test_the_practice_consoles_offers_are_worded_in_every_language() -> None:
    """The roles offered to the account (offers.mjs): accept, decline, what comes next
    (its {practice} and {role} filled in by the page)."""
    catalog = ROOT / "web" / "src" / "practice" / "i18n.mjs"
    found = keys_by_language(catalog)
    wanted = {f"offers.{key}" for key in ("title", "role", "accepted", "next", "accept", "decline")}
    for lang in ("en", "fr", "nl"):
        assert wanted <= found[lang], (lang, wanted - found[lang])
    for lang, body in _BLOCK.findall(catalog.read_text(encoding="utf-8")):
        assert re.search(r'"offers\.next": "[^"]*\{practice\}', body), lang
        assert re.search(r'"offers\.role": "[^"]*\{role\}', body), lang


def test_the_practice_consoles_admin_views_name_no_device_and_withdraw_offers() -> None:
    """The membership box's "withdraw the offer" (and why it cannot once listed), and
    the staff box's devices by count and date added ({n}, {dates}), never by id."""
    catalog = ROOT / "web" / "src" / "practice" / "i18n.mjs"
    found = keys_by_language(catalog)
    wanted = {"membership.withdraw", "membership.withdraw_listed", "staff.device_date_unknown"}
    for lang in ("en", "fr", "nl"):
        assert wanted <= found[lang], (lang, wanted - found[lang])
    for lang, body in _BLOCK.findall(catalog.read_text(encoding="utf-8")):
        devices = re.search(r'"staff\.devices": "([^"]*)"', body)
        assert devices is not None, lang
        assert "{n}" in devices[1], lang
        assert "{dates}" in devices[1], lang
        assert "{ids}" not in devices[1], lang
