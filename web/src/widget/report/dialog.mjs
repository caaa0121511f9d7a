// "Report" on someone else's message or on a practice announcement: a dialog with the
// category (the server's, moderation/reports.py) and what reporting reveals, then the
// "Reported" state. The client library reveals the one message's plaintext and its
// franking key (CareChatClient.report, MailingsClient.reportAnnouncement); the server
// checks them against its stamp. A second report of the same message is the server's
// `report_already_filed`: shown as reported, kindly. After a chat message's report the
// patient is offered the conversation's block dialog (rights/blocks.mjs).

import { announce, h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { blockDialog } from "../rights/blocks.mjs";
import { confirmDialog } from "../rights/dialog.mjs";
import "./i18n.mjs";

export const CATEGORIES = ["spam", "harassment", "threats", "impersonation", "illegal_content", "fraud", "other"];

/** What this page reported (message `<thread>/<seq>`, announcement `campaign:<id>`). */
function reportedOf(widget) {
  widget.reported ??= new Set();
  return widget.reported;
}

export const messageKey = (message) => `${message.threadId}/${message.seq}`;
export const announcementKey = (a) => `campaign:${a.campaignId}`;

export function isReported(widget, key) {
  return reportedOf(widget).has(key);
}

function categoryField() {
  const select = h(
    "select",
    { id: "w-report-category", name: "category" },
    CATEGORIES.map((c) => h("option", { value: c, selected: c === "other" }, t(`report.category.${c}`))),
  );
  return { select, field: h("div", { class: "field" }, h("label", { for: "w-report-category" }, t("report.category")), select) };
}

/** Runs `send(category)`; the server's "already reported" counts as reported. */
async function filed(send, category) {
  try {
    await send(category);
    return false;
  } catch (error) {
    if (error?.code === "report_already_filed") return true;
    throw error;
  }
}

function reportDialog(widget, { key, title, lead, send, thread }) {
  const { select, field } = categoryField();
  let already = false;
  confirmDialog(widget, {
    id: "w-report-dialog",
    title,
    lead,
    body: field,
    choices: [
      {
        label: t("report.confirm"),
        kind: "primary",
        run: async () => {
          already = await filed(send, select.value);
          reportedOf(widget).add(key);
        },
        after: () => {
          widget.rerender();
          thanks(widget, { already, thread });
        },
      },
    ],
    cancel: t("report.cancel"),
  });
}

function thanks(widget, { already, thread }) {
  const lead = already ? t("report.already") : thread ? t("report.thanks.lead") : null;
  announce(already ? t("report.already") : t("report.thanks.title"));
  confirmDialog(widget, {
    id: "w-reported-dialog",
    title: already ? t("report.done") : t("report.thanks.title"),
    lead,
    // Reuses the conversation's block dialog (who to block, and what it does).
    choices: thread ? [{ label: t("report.block"), kind: "secondary", run: async () => {}, after: () => blockDialog(widget, thread) }] : [],
    cancel: t("report.close"),
  });
}

/** The "Report" button (or "Reported") under someone else's message in `thread`. */
export function reportMessageAction(widget, message, thread) {
  const key = messageKey(message);
  if (isReported(widget, key)) return h("span", { class: "w-reported", dataset: { reported: "yes" } }, t("report.done"));
  return h(
    "button",
    {
      type: "button",
      class: "button link w-report",
      onclick: () =>
        reportDialog(widget, {
          key,
          title: t("report.title"),
          lead: t("report.lead"),
          send: (category) => widget.client.report(message, category),
          thread,
        }),
    },
    t("report.open"),
  );
}

/** The "Report" button (or "Reported") of an opened announcement. */
export function reportAnnouncementAction(widget, mailings, announcement) {
  const key = announcementKey(announcement);
  if (isReported(widget, key)) return h("span", { class: "w-reported", dataset: { reported: "yes" } }, t("report.done"));
  return h(
    "button",
    {
      type: "button",
      class: "button link w-report",
      onclick: () =>
        reportDialog(widget, {
          key,
          title: t("report.title.announcement"),
          lead: t("report.lead.announcement"),
          send: (category) => mailings.reportAnnouncement(announcement, category),
          thread: null,
        }),
    },
    t("report.open"),
  );
}
