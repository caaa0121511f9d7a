// The patient's "practice announcements": read-only (there is nothing to reply to),
// each mailing opened in this browser with its own slip, a read receipt when one is
// opened (the practice sees only a count). Receiving a practice's prevention mailings
// is a consent, given or withdrawn on the "Privacy & consents" page (rights/).

import { MailingsClient } from "../../client/index.mjs";
import { h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, showError } from "../forms.mjs";
import { reportAnnouncementAction } from "../report/dialog.mjs";
import { heading } from "../shell.mjs";
import "./i18n.mjs";

function mailingsOf(widget) {
  widget.mailings ??= new MailingsClient(widget.client);
  return widget.mailings;
}

/** What the view loaded and opened; passed to show() so a re-render keeps it. */
export function announcementsState() {
  return { items: null, open: null };
}

export function announcementsView(widget, state) {
  const errors = errorLine();
  const back = h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: () => widget.home() }, t("announcements.back")));
  if (state.items === null) {
    mailingsOf(widget)
      .announcements()
      .then((items) => {
        state.items = items;
        if (widget.current?.view === announcementsView) widget.rerender();
      })
      .catch((error) => showError(errors, errorText(error)));
    return [back, ...heading(t("announcements.title"), t("announcements.lead")), h("p", { class: "w-loading", role: "status" }, t("loading")), errors];
  }
  return [
    back,
    ...heading(t("announcements.title"), t("announcements.lead")),
    state.items.length
      ? h("ul", { class: "w-announcements" }, state.items.map((a) => item(widget, state, a, errors)))
      : h("p", { class: "w-empty" }, t("announcements.none")),
    errors,
    h(
      "div",
      { class: "w-step w-opt-out" },
      h("p", {}, t("announcements.consent")),
      action(t("menu.consents"), () => widget.showConsents()),
    ),
  ];
}

function item(widget, state, a, errors) {
  const opened = state.open === a.campaignId;
  const open = async () => {
    state.open = opened ? null : a.campaignId;
    widget.rerender();
    if (!a.read && a.text !== null) {
      try {
        await mailingsOf(widget).markRead(a.campaignId);
        a.read = true;
        widget.rerender();
      } catch (error) {
        showError(errors, errorText(error));
      }
    }
  };
  return h(
    "li",
    { class: ["w-announcement", a.read ? null : "is-unread"], dataset: { campaign: a.campaignId } },
    h(
      "button",
      // An id: opening re-renders the view twice (opened, then read), and focus comes
      // back to the same button by its id (shell.mjs render()).
      { type: "button", id: `w-announcement-${a.campaignId}`, class: "button link w-announcement-head", "aria-expanded": opened ? "true" : "false", onclick: open },
      a.read ? null : h("span", { class: "w-badge" }, t("announcements.new")),
      h("span", {}, t("announcements.received", { at: formatTime(a.deliveredAt) })),
    ),
    opened
      ? a.text === null
        ? h("p", { class: "form-error" }, t("announcements.unreadable"))
        : [h("p", { class: "w-announcement-text" }, a.text), reportAnnouncementAction(widget, mailingsOf(widget), a)]
      : null,
  );
}
