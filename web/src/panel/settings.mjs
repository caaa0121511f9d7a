// The panel's settings, for its admin: open claims per GP (and a GP's own capacity),
// the lease a claim holds without renewal, the maximum wait before a patient is told,
// the follow-up window after an answer, and the free questions a patient may ask a
// day. The server checks the same ranges (rest/panels.py SettingsSchema).

import { h } from "../ui/dom.mjs";
import { registerMessages, t } from "../ui/i18n.mjs";
import { PageError, field, form, kept } from "./forms.mjs";

// name -> [min, max], as the server allows them.
const RANGES = {
  capacity: [1, 100],
  lease_seconds: [30, 3600],
  max_wait_minutes: [1, 24 * 60],
  follow_up_hours: [0, 24 * 14],
  daily_free_questions: [0, 100],
};

const whole = (text, [low, high]) => {
  const n = Number(text);
  return String(text).trim() !== "" && Number.isInteger(n) && n >= low && n <= high ? n : null;
};

/** The settings box of `panel` (as GET /panels/{P} answers); `saved`: just saved. */
export function settingsBox(console_, panel, saved = false) {
  const settings = panel.settings;
  const drafts = console_.drafts;
  const key = (name) => `settings/${panel.panel_id}/${name}`;
  const number = (name) => {
    const [min, max] = RANGES[name];
    const wrapper = field({ label: t(`settings.${name}`), name, type: "number", min, max, step: 1, inputmode: "numeric", required: true });
    wrapper.input.value = String(settings[name]);
    return kept(drafts, key(name), wrapper);
  };
  const overrides = (console_.members ?? []).map((m) => {
    const wrapper = field({
      label: t("settings.override", { name: m.display_name || m.account_id }),
      name: `override:${m.account_id}`,
      type: "number",
      min: 0,
      max: 100,
      step: 1,
      inputmode: "numeric",
    });
    const own = settings.capacity_overrides?.[m.account_id];
    wrapper.input.value = own === undefined || own === null ? "" : String(own);
    return kept(drafts, key(`override:${m.account_id}`), wrapper);
  });
  const names = Object.keys(RANGES);
  return h(
    "section",
    { class: "box settings", "aria-labelledby": "p-settings-title" },
    h("h2", { id: "p-settings-title" }, t("settings.title")),
    form({
      fields: [
        ...names.map(number),
        overrides.length ? h("p", { class: "hint" }, t("settings.override.hint")) : null,
        ...overrides,
      ],
      submit: t("settings.save"),
      check: (values) => (names.every((name) => whole(values[name], RANGES[name]) !== null) ? null : t("settings.invalid")),
      action: async (values) => {
        const changes = Object.fromEntries(names.map((name) => [name, whole(values[name], RANGES[name])]));
        const capacityOverrides = {};
        for (const m of console_.members ?? []) {
          const text = values[`override:${m.account_id}`] ?? "";
          if (String(text).trim() === "") {
            capacityOverrides[m.account_id] = null;
            continue;
          }
          const own = whole(text, [0, 100]);
          if (own === null) throw new PageError(t("settings.invalid"));
          capacityOverrides[m.account_id] = own;
        }
        const stored = await console_.panel.changeSettings(panel.panel_id, { ...changes, capacity_overrides: capacityOverrides });
        for (const name of [...drafts.keys()]) if (name.startsWith(`settings/${panel.panel_id}/`)) drafts.delete(name);
        console_.settingsChanged(stored);
      },
    }),
    h("p", { class: "hint", role: "status" }, saved ? t("settings.saved") : ""),
  );
}

registerMessages("en", {
  "settings.title": "Panel settings",
  "settings.capacity": "Open questions a GP may hold",
  "settings.lease_seconds": "Seconds a claim holds without renewal",
  "settings.max_wait_minutes": "Minutes before a waiting patient is told nobody claimed",
  "settings.follow_up_hours": "Hours the patient may follow up after the answer",
  "settings.daily_free_questions": "Free questions a patient may ask a day",
  "settings.override.hint": "A GP's own capacity replaces the panel's; leave it empty to use the panel's.",
  "settings.override": "Capacity of {name}",
  "settings.save": "Save the settings",
  "settings.invalid": "Each setting is a whole number within its range.",
  "settings.saved": "The panel's settings were saved.",
});

registerMessages("fr", {
  "settings.title": "Réglages du panel",
  "settings.capacity": "Questions ouvertes qu'un médecin peut tenir",
  "settings.lease_seconds": "Secondes qu'une prise en charge tient sans renouvellement",
  "settings.max_wait_minutes": "Minutes avant de prévenir un patient que personne n'a pris sa question",
  "settings.follow_up_hours": "Heures pendant lesquelles le patient peut réagir après la réponse",
  "settings.daily_free_questions": "Questions gratuites par patient et par jour",
  "settings.override.hint": "La capacité propre à un médecin remplace celle du panel ; laissez vide pour celle du panel.",
  "settings.override": "Capacité de {name}",
  "settings.save": "Enregistrer les réglages",
  "settings.invalid": "Chaque réglage est un nombre entier dans sa plage.",
  "settings.saved": "Les réglages du panel ont été enregistrés.",
});

registerMessages("nl", {
  "settings.title": "Instellingen van het panel",
  "settings.capacity": "Open vragen die een arts mag houden",
  "settings.lease_seconds": "Seconden dat een claim geldt zonder verlenging",
  "settings.max_wait_minutes": "Minuten voor een wachtende patiënt hoort dat niemand de vraag nam",
  "settings.follow_up_hours": "Uren dat de patiënt na het antwoord kan reageren",
  "settings.daily_free_questions": "Gratis vragen per patiënt per dag",
  "settings.override.hint": "De eigen capaciteit van een arts vervangt die van het panel; laat leeg voor die van het panel.",
  "settings.override": "Capaciteit van {name}",
  "settings.save": "Instellingen opslaan",
  "settings.invalid": "Elke instelling is een geheel getal binnen haar bereik.",
  "settings.saved": "De instellingen van het panel zijn opgeslagen.",
});
