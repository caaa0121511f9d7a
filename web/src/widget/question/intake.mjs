// The free question's first steps: the intake (age band, main symptom, since when,
// risk factors, free text) and, when triage finds a red flag, the emergency screen.
//
// Triage runs here, in the page, against the rule set bundled at build time
// (client/triage.mjs); a red flag ends on the emergency numbers and nothing is sent.
// Otherwise the client library seals the intake to the patient's devices and the
// panel's current epoch (client/panel.mjs), and the flow goes on to the waiting
// screen (question/waiting.mjs).

import { TRIAGE_RULES } from "../../client/index.mjs";
import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { action, errorLine, field, onSubmit, submit, uid } from "../forms.mjs";
import { heading } from "../shell.mjs";

const MAX_TEXT = 2000;

/** The country whose emergency numbers come first: the browser's region, else Belgium. */
export function country() {
  for (const tag of navigator.languages ?? [navigator.language]) {
    const region = String(tag).split("-")[1]?.toUpperCase();
    if (region === "BE" || region === "FR" || region === "NL") return region;
  }
  return "BE";
}

/** The rule set says what a number is for in English; the page says it in its language. */
function purposeText(purpose) {
  const key = `question.emergency.for.${purpose}`;
  const text = t(key);
  return text === key ? purpose : text;
}

function optionLabel(group, option) {
  return t(`question.option.${group}.${option}`);
}

function choice(group, required = true) {
  const id = uid(`q-${group}`);
  const select = h(
    "select",
    { id, name: group, required },
    h("option", { value: "" }, t("question.choose")),
    TRIAGE_RULES.intakeOptions[group].map((option) => h("option", { value: option }, optionLabel(group, option))),
  );
  return h("div", { class: "field" }, h("label", { for: id }, t(`question.${group}`)), select);
}

function riskFactors() {
  return h(
    "fieldset",
    { class: "w-choices" },
    h("legend", {}, t("question.risk_factors")),
    TRIAGE_RULES.intakeOptions.risk_factors.map((option) => {
      const id = uid(`q-risk-${option}`);
      return h(
        "div",
        { class: "field check" },
        h("input", { type: "checkbox", id, name: "risk_factors", value: option }),
        h("label", { for: id }, optionLabel("risk_factors", option)),
      );
    }),
  );
}

/** The intake form; `flow` is the widget's QuestionFlow (question/flow.mjs). */
export function intakeView(widget, flow) {
  const errors = errorLine();
  const text = field({
    label: t("question.text"),
    name: "text",
    multiline: true,
    maxlength: MAX_TEXT,
    hint: t("question.text.hint"),
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, choice("age_band"), choice("main_symptom"), choice("since"), riskFactors(), text),
    errors,
    h("div", { class: "w-actions" }, submit(t("question.submit"))),
  );
  onSubmit(
    form,
    errors,
    async (values) => {
      const intake = {
        ageBand: values.age_band,
        mainSymptom: values.main_symptom,
        since: values.since,
        // Read from the boxes: the form's fieldset is disabled (so out of FormData) now.
        riskFactors: [...form.querySelectorAll('input[name="risk_factors"]:checked')].map((box) => box.value),
        text: String(values.text ?? "").trim(),
      };
      await flow.ask(intake);
    },
    (values) => (values.age_band && values.main_symptom && values.since ? null : t("question.incomplete")),
  );
  // The paid chat (paid/flow.mjs) reuses this form under its own title.
  return [...heading(t(flow.intakeTitle ?? "question.intake.title"), t("question.intake.lead")), form];
}

/** The stop screen: call now; nothing was sent. */
export function emergencyView(widget, flow, triage) {
  return [
    ...heading(t("question.emergency.title"), t("question.emergency.lead")),
    h(
      "ul",
      { class: "w-emergency", "aria-label": t("question.emergency.title") },
      triage.emergency.map((n) =>
        h(
          "li",
          {},
          h("a", { class: "button primary w-call", href: `tel:${n.number}` }, t("question.emergency.call", { number: n.number })),
          h("span", { class: "w-call-purpose" }, purposeText(n.purpose)),
        ),
      ),
    ),
    h("p", { class: "w-callout" }, t("question.emergency.elsewhere")),
    h("div", { class: "w-actions" }, action(t("question.emergency.back"), () => flow.start())),
  ];
}
