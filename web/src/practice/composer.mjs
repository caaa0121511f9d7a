// The campaign composer: the audience is chosen from the labels opened in this page
// (the server never learns why a patient was chosen), previewed as a count, then the
// text is sealed once for every device of the chosen patients and scheduled, now or
// at a chosen time.

import { h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { PageError, field, form, uid } from "../panel/forms.mjs";

/** label name -> sorted values, over the rows this browser could open. */
function labelValues(rows) {
  const names = new Map();
  for (const row of rows) {
    for (const [name, value] of Object.entries(row.labels ?? {})) {
      if (!value) continue;
      if (!names.has(name)) names.set(name, new Set());
      names.get(name).add(value);
    }
  }
  return [...names.keys()].sort().map((name) => [name, [...names.get(name)].sort()]);
}

/** The linked patients matching every chosen name, any of its chosen values. */
export function audience(rows, chosen) {
  const wanted = new Map();
  for (const key of chosen) {
    const [name, value] = JSON.parse(key);
    if (!wanted.has(name)) wanted.set(name, new Set());
    wanted.get(name).add(value);
  }
  return rows
    .filter((row) => row.accountId && row.labels)
    .filter((row) => [...wanted].every(([name, values]) => values.has(row.labels[name])))
    .map((row) => row.accountId);
}

export function composerBox(console_) {
  const state = console_.composer;
  const preview = h("p", { class: "preview", role: "status", "aria-live": "polite" });
  const update = () => {
    const n = audience(console_.rows, state.chosen).length;
    preview.textContent = n === 0 ? t("composer.preview.none") : n === 1 ? t("composer.preview.one") : t("composer.preview", { n });
  };
  const groups = labelValues(console_.rows).map(([name, values]) =>
    h(
      "fieldset",
      { class: "label-group" },
      h("legend", {}, name),
      values.map((value) => {
        const key = JSON.stringify([name, value]);
        const id = uid("pr-label");
        return h(
          "div",
          { class: "check" },
          h("input", {
            type: "checkbox",
            id,
            checked: state.chosen.has(key),
            dataset: { key: `label-${key}` },
            onchange: (e) => {
              if (e.target.checked) state.chosen.add(key);
              else state.chosen.delete(key);
              update();
            },
          }),
          h("label", { for: id }, value),
        );
      }),
    ),
  );
  const text = field({ label: t("composer.text"), name: "text", multiline: true, required: true, maxlength: 20000, dataset: { key: "text" } });
  text.input.value = state.text;
  text.input.addEventListener("input", () => {
    state.text = text.input.value;
  });
  const nowId = uid("pr-now");
  const laterId = uid("pr-later");
  const at = field({ label: t("composer.at"), name: "at", type: "datetime-local", dataset: { key: "at" } });
  at.input.value = state.at;
  at.hidden = state.when !== "later";
  at.input.addEventListener("input", () => {
    state.at = at.input.value;
  });
  const pick = (when) => {
    state.when = when;
    at.hidden = when !== "later";
  };
  const when = h(
    "fieldset",
    { class: "when" },
    h("legend", {}, t("composer.when")),
    h("div", { class: "check" }, h("input", { type: "radio", name: "when", value: "now", id: nowId, checked: state.when === "now", onchange: () => pick("now") }), h("label", { for: nowId }, t("composer.now"))),
    h("div", { class: "check" }, h("input", { type: "radio", name: "when", value: "later", id: laterId, checked: state.when === "later", onchange: () => pick("later") }), h("label", { for: laterId }, t("composer.later"))),
    at,
  );
  const sent = h("p", { class: "status", role: "status", hidden: true });
  const composer = form({
    fields: [
      // The preview counts linked patients; consent is the server's to check (opt-in),
      // so the page says that some may be skipped.
      h("fieldset", { class: "audience" }, h("legend", {}, t("composer.audience")), h("p", { class: "hint" }, t("composer.audience.hint")), groups, preview, h("p", { class: "hint" }, t("composer.consent"))),
      text,
      when,
    ],
    submit: t("composer.send"),
    check: () => {
      if (!state.text.trim()) return t("composer.empty_text");
      if (!audience(console_.rows, state.chosen).length) return t("composer.no_audience");
      if (state.when === "later" && Number.isNaN(Date.parse(state.at))) return t("composer.bad_time");
      return null;
    },
    action: async () => {
      const patients = audience(console_.rows, state.chosen);
      const sendAt = state.when === "later" ? new Date(state.at) : null;
      if (sendAt !== null && Number.isNaN(sendAt.getTime())) throw new PageError(t("composer.bad_time"));
      await console_.mailings.sendCampaign(console_.practiceId, { text: state.text, patients, sendAt });
      console_.composer = { chosen: new Set(), text: "", when: "now", at: "" };
      console_.notice = patients.length === 1 ? t("composer.sent.one") : t("composer.sent", { n: patients.length });
      console_.paint("composer");
      await console_.refreshCampaigns();
    },
  });
  update();
  const notice = console_.notice;
  console_.notice = null;
  if (notice) {
    sent.textContent = notice;
    sent.hidden = false;
  }
  return h(
    "section",
    { class: "box", dataset: { box: "composer" }, "aria-labelledby": "pr-composer-title" },
    h("h2", { id: "pr-composer-title" }, t("composer.title")),
    sent,
    composer,
  );
}
