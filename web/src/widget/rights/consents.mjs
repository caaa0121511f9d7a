// "Privacy & consents": each purpose the patient can consent to (care messaging,
// prevention mailings of each practice they are linked to, sharing a report with
// their regular GP, the paid-chat terms), its state now, the text version agreed to
// and when; agree or withdraw. The server keeps the history and enforces each purpose
// (moderation/consents.py): no mailing, report to the GP or paid chat without it.
//
// Withdrawing asks first where it takes something away the patient may rely on (a
// report to the GP, paid chats); withdrawing mailings does not: it must be as easy
// as agreeing was (GDPR art. 7(3)), and agreeing again is one click.

import { RightsClient } from "../../client/index.mjs";
import { announce, h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, showError } from "../forms.mjs";
import { heading } from "../shell.mjs";
import { confirmDialog } from "./dialog.mjs";
import "./i18n.mjs";

const CONFIRM_REVOKE = new Set(["report_to_gp", "paid_chat_terms"]);
const ORDER = ["care_messaging", "prevention_mailings", "report_to_gp", "paid_chat_terms"];

export function rightsOf(widget) {
  widget.rights ??= new RightsClient(widget.client);
  return widget.rights;
}

/** What the view loaded; passed to show() so a re-render keeps it. */
export function consentsState() {
  return { loaded: null, status: null };
}

async function load(widget) {
  const [consents, links] = await Promise.all([rightsOf(widget).consents(), widget.client.careLinks()]);
  // Mailings are per practice: every practice the patient is linked to, and any
  // practice they have a record for (a link that ended keeps its history).
  const practiceIds = new Set(
    (links ?? []).filter((l) => l.provider?.kind === "practice" && l.status === "active").map((l) => l.provider.id),
  );
  for (const s of consents.states) {
    if (s.purpose === "prevention_mailings" && s.scope) practiceIds.add(s.scope);
  }
  const names = new Map();
  await Promise.all(
    [...practiceIds].map(async (id) => {
      try {
        names.set(id, (await widget.client.api.practice(id)).name || id);
      } catch {
        names.set(id, id); // no longer visible to this patient: its id is all we have
      }
    }),
  );
  const rows = [];
  for (const purpose of ORDER) {
    if (purpose === "prevention_mailings") {
      for (const [scope, name] of [...names].sort((a, b) => a[1].localeCompare(b[1]))) {
        const found = consents.states.find((s) => s.purpose === purpose && s.scope === scope);
        rows.push({ ...(found ?? { purpose, scope, state: "none", version: null, at: null }), practice: name });
      }
    } else {
      rows.push(consents.states.find((s) => s.purpose === purpose && !s.scope) ?? { purpose, scope: "", state: "none", version: null, at: null });
    }
  }
  return { rows, textVersions: consents.textVersions, linked: practiceIds.size > 0 };
}

export function consentsView(widget, state) {
  const errors = errorLine();
  const back = h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: () => widget.home() }, t("rights.back")));
  const head = heading(t("consents.title"), t("consents.lead"));
  if (state.loaded === null) {
    load(widget)
      .then((loaded) => {
        state.loaded = loaded;
        if (widget.current?.view === consentsView) widget.rerender();
      })
      .catch((error) => showError(errors, errorText(error)));
    return [back, ...head, h("p", { class: "w-loading", role: "status" }, t("loading")), errors];
  }
  const { rows, textVersions, linked } = state.loaded;
  const reload = async (status) => {
    state.loaded = await load(widget);
    state.status = status;
    widget.rerender();
    announce(t(status));
  };
  return [
    back,
    ...head,
    h("p", { class: "w-saved", role: "status" }, state.status ? t(state.status) : ""),
    errors,
    ...rows.map((row) => consentItem(widget, row, textVersions, reload, errors)),
    linked ? null : h("p", { class: "w-empty" }, t("consents.practices.none")),
  ];
}

function consentItem(widget, row, textVersions, reload, errors) {
  const { purpose, scope, state } = row;
  const titleId = `w-consent-${purpose}-${scope || "all"}`;
  const current = textVersions[purpose];
  const stateText =
    state === "none" ? t("consents.state.none") : t(`consents.state.${state}`, { at: formatTime(row.at), version: row.version });
  const grant = async () => {
    try {
      await rightsOf(widget).grant(purpose, current, scope);
      await reload("consents.granted");
    } catch (error) {
      showError(errors, errorText(error));
    }
  };
  const revokeNow = async () => {
    await rightsOf(widget).revoke(purpose, scope);
    await reload("consents.revoked");
  };
  const revoke = () => {
    if (CONFIRM_REVOKE.has(purpose)) {
      confirmDialog(widget, {
        id: "w-consent-confirm",
        title: t("consents.confirm.title"),
        lead: t(`consents.confirm.${purpose}`),
        choices: [{ label: t("consents.confirm.yes"), run: revokeNow, kind: "primary" }],
        cancel: t("consents.confirm.no"),
      });
      return;
    }
    revokeNow().catch((error) => showError(errors, errorText(error)));
  };
  return h(
    "section",
    { class: "w-step w-consent", "aria-labelledby": titleId, dataset: { purpose, scope, state } },
    h("h2", { id: titleId, class: "w-subtitle" }, t(`consents.purpose.${purpose}`, { practice: row.practice ?? "" })),
    h("p", {}, t(`consents.about.${purpose}`)),
    h("p", { class: "w-consent-state" }, stateText),
    h(
      "div",
      { class: "w-actions" },
      state === "granted" ? action(t("consents.revoke"), revoke) : action(t("consents.grant", { version: current }), grant, "primary"),
    ),
  );
}
