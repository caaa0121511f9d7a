// The JavaScript triage evaluator (web/src/client/triage.mjs) against the shipped
// phrase lists (config/triage/phrases.json): every red-flag phrase, in each language,
// stops the flow with the rule it names; no benign phrase does. Prints one JSON
// report; tests/web/test_triage_js.py runs it and asserts on it.

import { readFile } from "node:fs/promises";
import { TRIAGE_RULES, normalise } from "../../web/src/client/triage.mjs";

const phrases = JSON.parse(await readFile(new URL("../../config/triage/phrases.json", import.meta.url), "utf-8"));
const intake = (text, mainSymptom = "fever") => ({ ageBand: "16_64", mainSymptom, since: "2_3_days", riskFactors: ["none"], text });

const report = { version: TRIAGE_RULES.version, checked: {}, missed: [], falseAlarms: [] };
for (const lang of TRIAGE_RULES.languages) {
  report.checked[lang] = { red_flag: 0, benign: 0 };
  for (const [phrase, rule] of phrases.red_flag[lang] ?? []) {
    report.checked[lang].red_flag += 1;
    const result = TRIAGE_RULES.evaluate(intake(phrase));
    const numbers = result.emergency.map((n) => n.number).join(",");
    if (!TRIAGE_RULES.flagsInText(phrase, lang).includes(rule) || !result.stop || numbers !== "112,100") {
      report.missed.push({ lang, phrase, rule, flags: result.flags });
    }
  }
  for (const phrase of phrases.benign[lang] ?? []) {
    report.checked[lang].benign += 1;
    const result = TRIAGE_RULES.evaluate(intake(phrase));
    if (result.stop || result.emergency.length) report.falseAlarms.push({ lang, phrase, flags: result.flags });
  }
}
const answer = TRIAGE_RULES.evaluate(intake("", "bluish_lips"), { country: "FR" });
report.redFlagAnswer = { flags: answer.flags, numbers: answer.emergency.map((n) => n.number) };
report.normalised = normalise("Lèvres BLEUES, l'air!");
report.prefix = TRIAGE_RULES.flagsInText("I feel breathless", "en");
// Every phrase's flags in every language, for the Python test to compare with the SDK's.
report.flags = {};
for (const lang of TRIAGE_RULES.languages) {
  for (const phrase of [...(phrases.red_flag[lang] ?? []).map(([p]) => p), ...(phrases.benign[lang] ?? [])]) {
    report.flags[phrase] = TRIAGE_RULES.flagsInText(phrase);
  }
}
process.stdout.write(JSON.stringify(report));
