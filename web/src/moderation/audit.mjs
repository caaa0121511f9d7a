// The audit log: search by actor, subject, action and time range, newest first, a page
// at a time; and the chain verification, run on the server (the whole log, page by
// page), which says the chain holds or names its first broken link.

import { h } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import { button, choice, errorLine, field, form } from "../panel/forms.mjs";
import { table } from "./accounts.mjs";

// moderation/audit.py's AuditAction values (codes, shown as they are stored).
const ACTIONS = [
  "login", "login_failed", "logout", "session_revoked", "password_changed", "password_reset",
  "device_added", "device_revoked", "care_link_created", "care_link_ended", "invitation_created",
  "admin_action", "account_suspended", "account_verified", "data_access", "totp_enabled",
  "report_filed", "account_warned", "suspension_lifted", "report_resolved", "report_dismissed",
  "job_retried",
];
const PAGE = 50;

export function auditView(console_) {
  const state = console_.audit;
  const f = state.filters;
  const actor = field({ label: t("audit.actor"), name: "actor", autocomplete: "off", value: f.actor ?? "" });
  const subject = field({ label: t("audit.subject"), name: "subject", autocomplete: "off", value: f.subject ?? "" });
  const action = choice({ label: t("audit.action"), name: "action", options: [["", t("audit.any")], ...ACTIONS.map((a) => [a, a])] });
  action.input.value = f.action ?? "";
  const since = field({ label: t("audit.since"), name: "since", type: "datetime-local", value: f.sinceText ?? "" });
  const until = field({ label: t("audit.until"), name: "until", type: "datetime-local", value: f.untilText ?? "" });
  const search = form({
    fields: [h("div", { class: "filters" }, actor, subject, action, since, until)],
    submit: t("audit.search"),
    check: (values) => {
      if (values.since && values.until && new Date(values.since) >= new Date(values.until)) return t("audit.range");
      return null;
    },
    action: async (values) => {
      state.filters = {
        actor: values.actor.trim() || null,
        subject: values.subject.trim() || null,
        action: values.action || null,
        since: values.since ? new Date(values.since) : null,
        until: values.until ? new Date(values.until) : null,
        sinceText: values.since,
        untilText: values.until,
      };
      const page = await console_.moderation.searchAudit({ ...state.filters, limit: PAGE });
      state.entries = page.entries;
      state.before = page.before;
      console_.repaint();
    },
  });
  const errors = errorLine();
  return h(
    "section",
    { class: "box", "aria-labelledby": "m-audit-title" },
    h("h1", { id: "m-audit-title", tabindex: "-1" }, t("audit.title")),
    verification(console_, errors),
    h("h2", {}, t("audit.search.title")),
    search,
    results(console_, errors),
  );
}

function verification(console_, errors) {
  const result = console_.audit.verification;
  let outcome = null;
  if (result !== null) {
    outcome = result.ok
      ? h("p", { class: "outcome ok", role: "status" }, t("audit.ok", { n: result.entries }))
      : h("p", { class: "alert", role: "alert" }, t("audit.broken", { seq: result.broken.seq, reason: t(`broken.${result.broken.reason.replace(" ", "_")}`) }));
  }
  return h(
    "div",
    { class: "verify" },
    h("p", { class: "hint" }, t("audit.verify.hint")),
    errors,
    button(
      t("audit.verify"),
      async () => {
        console_.audit.verification = await console_.moderation.verifyAudit();
        console_.repaint();
      },
      errors,
      "primary",
    ),
    outcome,
  );
}

function results(console_, errors) {
  const state = console_.audit;
  if (state.entries === null) return null;
  if (state.entries.length === 0) return h("p", { class: "empty", role: "status" }, t("audit.none"));
  return h(
    "div",
    { class: "results" },
    table(
      t("audit.results"),
      ["#", t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.subject"), t("audit.details")],
      state.entries.map((e) => [
        String(e.seq),
        formatTime(e.at),
        e.actor ? h("code", {}, e.actor) : "—",
        h("code", {}, e.action),
        e.subject ? h("code", {}, e.subject) : "—",
        Object.entries(e.details).map(([k, v]) => `${k}=${v}`).join(", ") || "—",
      ]),
    ),
    state.before === null
      ? null
      : button(
          t("audit.older"),
          async () => {
            const page = await console_.moderation.searchAudit({ ...state.filters, before: state.before, limit: PAGE });
            state.entries = [...state.entries, ...page.entries];
            state.before = page.before;
            console_.repaint();
          },
          errors,
        ),
  );
}
