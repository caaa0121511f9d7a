// Intake triage for free panel questions — twin of e2e_crypto/client/triage.py.
//
// The rules are data, config/triage/rules.json (versioned, fr/nl/en), bundled into the
// page at build time (esbuild's JSON import), so the page never asks the server for
// them and the server never sees an intake. Normalise the text (NFKD, drop combining
// marks, lower case, every run of characters outside a-z and 0-9 becomes one space),
// split it into words and look for each pattern's words next to each other, in order;
// a pattern word ending in "*" matches any word starting with its letters. A red-flag
// answer to a structured question (main_symptom: chest_pain) stops the flow too.
//
// A false alarm costs the patient a phone call; a missed red flag may cost more, so
// the patterns over-match on purpose (no negation: "no chest pain" stops the flow).
//
// This module imports no crypto, so node can run it alone (tests/web/triage_check.mjs).

import SHIPPED from "../../../config/triage/rules.json" with { type: "json" };

const FORMAT = "carechat-triage";
const SUPPORTED_VERSION = 1;

/** The words of `text` as the rules see them (accents dropped, lower case). */
export function normalise(text) {
  const bare = String(text).normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  return bare.replace(/[^a-z0-9]+/g, " ").split(" ").filter(Boolean);
}

function wordMatches(pattern, word) {
  return pattern.endsWith("*") ? word.startsWith(pattern.slice(0, -1)) : word === pattern;
}

function occurs(pattern, words) {
  for (let i = 0; i + pattern.length <= words.length; i++) {
    if (pattern.every((p, j) => wordMatches(p, words[i + j]))) return true;
  }
  return false;
}

export class RuleSet {
  constructor(doc) {
    if (doc?.format !== FORMAT || doc?.version !== SUPPORTED_VERSION) {
      throw new Error("not a CareChat triage rule set of a supported version");
    }
    this.version = doc.version;
    this.languages = [...doc.languages];
    this.intakeOptions = Object.fromEntries(Object.entries(doc.intake).map(([k, v]) => [k, [...v]]));
    this._answers = doc.red_flag_answers;
    this._emergency = doc.emergency;
    this._rules = doc.red_flags.map((rule) => ({
      id: rule.id,
      patterns: Object.fromEntries(
        Object.entries(rule.patterns).map(([lang, patterns]) => [lang, patterns.map((p) => p.split(" ").filter(Boolean))]),
      ),
    }));
  }

  /** [{number, purpose}] for a country code ("BE", "FR", ...), else the default. */
  emergencyNumbers(country) {
    const numbers = this._emergency[String(country).toUpperCase()] ?? this._emergency.default;
    return numbers.map((n) => ({ number: n.number, purpose: n.for }));
  }

  /**
   * The ids of the rules whose patterns occur in `text`. Every language's patterns are
   * tried unless `language` is given: a patient may write in another language than
   * the page's.
   */
  flagsInText(text, language = null) {
    const words = normalise(text);
    const languages = language ? [language] : this.languages;
    return this._rules
      .filter((rule) => languages.some((lang) => (rule.patterns[lang] ?? []).some((p) => occurs(p, words))))
      .map((rule) => rule.id);
  }

  /**
   * intake: {ageBand, mainSymptom, since, riskFactors, text}. Returns {rulesVersion,
   * flags, emergency, stop}; `stop` means: show the emergency numbers, queue nothing.
   */
  evaluate(intake, { country = "BE" } = {}) {
    for (const [field, value] of [
      ["age_band", intake.ageBand],
      ["main_symptom", intake.mainSymptom],
    ]) {
      if (!this.intakeOptions[field].includes(value)) throw new Error(`${field}: not one of the rule set's options`);
    }
    const flags = this.flagsInText(intake.text ?? "");
    const answered = this._answers.main_symptom?.[intake.mainSymptom];
    if (answered && !flags.includes(answered)) flags.unshift(answered);
    return {
      rulesVersion: this.version,
      flags,
      emergency: flags.length ? this.emergencyNumbers(country) : [],
      stop: flags.length > 0,
    };
  }
}

/** The rule set shipped with this build. */
export const TRIAGE_RULES = new RuleSet(SHIPPED);
