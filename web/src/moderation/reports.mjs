// The report queue: each report with what the server's check found (the sender
// proven, or nothing proven), the text its reporter chose to reveal, where it was
// said (thread and message number, not the thread's content) and when; a moderator
// resolves or dismisses it with a reason code.

import { h } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import { button, choice, errorLine, form } from "../panel/forms.mjs";

export const DECISION_REASONS = ["action_taken", "no_violation", "unverifiable", "duplicate", "other"];

export function reportsView(console_) {
  const reports = console_.reports ?? [];
  return h(
    "section",
    { class: "box", "aria-labelledby": "m-reports-title" },
    h(
      "div",
      { class: "box-head" },
      h("h1", { id: "m-reports-title", tabindex: "-1" }, t("reports.title")),
      button(t("refresh"), () => console_.open("reports"), console_.errors, "quiet small"),
    ),
    reports.length === 0 ? h("p", { class: "empty" }, t("reports.empty")) : h("ol", { class: "reports" }, reports.map((r) => reportItem(console_, r))),
  );
}

function reportItem(console_, report) {
  const verified = report.verification === "verified";
  const errors = errorLine();
  const reason = choice({
    label: t("reports.reason"),
    name: "reason",
    options: [["", t("reason.choose")], ...DECISION_REASONS.map((code) => [code, t(`decision.${code}`)])],
  });
  const decide = form({
    fields: [reason],
    submit: t("reports.resolve"),
    extra: [h("button", { type: "submit", name: "do", value: "dismiss" }, t("reports.dismiss"))],
    className: "stack decide",
    check: (values) => (values.reason ? null : t("reason.required")),
    action: async (values, pressed) => {
      await console_.moderation.decide(report.reportId, pressed === "dismiss" ? "dismiss" : "resolve", values.reason);
      await console_.open("reports");
    },
  });
  const revealed = report.revealed;
  return h(
    "li",
    { class: "report-card", dataset: { report: report.reportId } },
    h(
      "article",
      { "aria-label": t("reports.item", { category: t(`category.${report.category}`) }) },
      h(
        "p",
        { class: "report-head" },
        h("span", { class: "category" }, t(`category.${report.category}`)),
        h("span", { class: verified ? "badge verified" : "badge unverifiable" }, verified ? t("reports.verified") : t("reports.unverifiable")),
      ),
      verified ? null : h("p", { class: "hint" }, t("reports.unverifiable.hint")),
      h(
        "blockquote",
        { class: "revealed", lang: "" },
        revealed.text !== null ? revealed.text : t("reports.revealed.other", { type: revealed.type }),
      ),
      h(
        "dl",
        { class: "facts" },
        fact(t("reports.sender"), h("span", {}, h("code", {}, report.senderAccount), " ", button(t("reports.look_up"), () => console_.lookUp(report.senderAccount), errors, "quiet small"))),
        fact(t("reports.reporter"), h("code", {}, report.reporter)),
        // A reported practice mailing names its campaign, not a thread.
        report.campaignId !== null
          ? fact(t("reports.campaign"), h("code", {}, report.campaignId))
          : fact(t("reports.thread"), h("code", {}, `${report.threadId} #${report.seq}`)),
        fact(t("reports.sent_at"), formatTime(report.messageAt)),
        fact(t("reports.filed_at"), formatTime(report.at)),
      ),
      errors,
      decide,
    ),
  );
}

export function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}
