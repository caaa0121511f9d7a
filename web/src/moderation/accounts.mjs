// Account look-up (an account id, or an e-mail address: anything with an "@") and the
// moderator's actions on it. A reason is mandatory, chosen from the server's codes;
// the note is shown to the person (never kept in the audit log). A suspension ends
// the person's sessions and closes their sockets on every server process.

import { h } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import { choice, field, form } from "../panel/forms.mjs";
import { fact } from "./reports.mjs";

const ACTION_REASONS = ["spam", "harassment", "threats", "impersonation", "illegal_content", "fraud", "terms_violation", "other"];
const LIFT_REASONS = ["appeal_upheld", "sanction_served", "mistake", "other"];

export function accountsView(console_) {
  const query = field({ label: t("accounts.query"), name: "query", required: true, autocomplete: "off", hint: t("accounts.query.hint") });
  const lookup = form({
    fields: [query],
    submit: t("accounts.look_up"),
    className: "stack inline",
    check: (values) => (values.query.trim() ? null : t("accounts.query.empty")),
    action: async (values) => {
      const text = values.query.trim();
      console_.account = await console_.moderation.lookup(text.includes("@") ? { email: text } : { accountId: text });
      console_.repaint();
    },
  });
  return h(
    "section",
    { class: "box", "aria-labelledby": "m-accounts-title" },
    h("h1", { id: "m-accounts-title", tabindex: "-1" }, t("accounts.title")),
    lookup,
    console_.account ? accountCard(console_, console_.account) : null,
  );
}

function accountCard(console_, account) {
  const suspended = account.status === "suspended";
  return h(
    "article",
    { class: "account", "aria-labelledby": "m-account-name" },
    h("h2", { id: "m-account-name" }, account.displayName),
    h(
      "dl",
      { class: "facts" },
      fact(t("accounts.id"), h("code", {}, account.accountId)),
      fact(t("accounts.email"), account.email),
      fact(t("accounts.role"), t(`role.${account.role}`)),
      fact(t("accounts.status"), h("span", { class: suspended ? "badge unverifiable" : "badge verified" }, t(`status.${account.status}`))),
      fact(t("accounts.created"), formatTime(account.createdAt)),
      fact(t("accounts.devices"), String(account.devices)),
    ),
    sanctionForm(console_, account, suspended),
    h("h3", {}, t("accounts.sanctions")),
    account.sanctions.length === 0
      ? h("p", { class: "empty" }, t("accounts.sanctions.none"))
      : table(
          t("accounts.sanctions"),
          [t("accounts.when"), t("accounts.action"), t("accounts.reason"), t("accounts.note")],
          account.sanctions.map((s) => [formatTime(s.at), t(`action.${s.action}`), t(`reason.${s.reason}`), s.note || "—"]),
        ),
    h("h3", {}, t("accounts.reports")),
    account.reports.length === 0
      ? h("p", { class: "empty" }, t("accounts.reports.none"))
      : table(
          t("accounts.reports"),
          [t("accounts.when"), t("reports.category"), t("reports.verification"), t("accounts.report_state")],
          account.reports.map((r) => [formatTime(r.at), t(`category.${r.category}`), t(`reports.${r.verification}`), t(`report_state.${r.status}`)]),
        ),
  );
}

function sanctionForm(console_, account, suspended) {
  const actions = suspended ? ["lift", "warn"] : ["warn", "suspend"];
  const reasons = suspended ? [...LIFT_REASONS, ...ACTION_REASONS.filter((r) => r !== "other")] : ACTION_REASONS;
  const action = choice({ label: t("accounts.action"), name: "action", options: actions.map((a) => [a, t(`action.${a}`)]) });
  const reason = choice({ label: t("accounts.reason"), name: "reason", options: [["", t("reason.choose")], ...reasons.map((r) => [r, t(`reason.${r}`)])] });
  const note = field({ label: t("accounts.note"), name: "note", multiline: true, maxlength: 500, hint: t("accounts.note.hint") });
  return h(
    "div",
    { class: "sanction" },
    h("h3", {}, t("accounts.act")),
    form({
      fields: [action, reason, note],
      submit: t("accounts.apply"),
      check: (values) => {
        if (!values.reason) return t("reason.required");
        return values.reason === "other" && !values.note.trim() ? t("accounts.note.required") : null;
      },
      action: async (values) => {
        await console_.moderation.sanction(account.accountId, values.action, values.reason, values.note.trim());
        console_.account = await console_.moderation.lookup({ accountId: account.accountId });
        console_.repaint();
      },
    }),
  );
}

/** A listing; on a phone it scrolls sideways, so its box is a named, focusable region. */
export function table(label, headings, rows) {
  return h(
    "div",
    { class: "table-scroll", role: "region", "aria-label": label, tabindex: "0" },
    h(
      "table",
      { class: "listing" },
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
    ),
  );
}
