// The patient's "practice announcements": read-only (there is nothing to reply to),
// each mailing opened in this browser with its own slip, a read receipt when one is
// opened (the practice sees only a count), and opting out of a practice's prevention
// mailings (the server then skips this patient in that practice's campaigns).

import { MailingsClient } from "../../client/index.mjs";
import { h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, showError } from "../forms.mjs";
import { heading } from "../shell.mjs";
import "./i18n.mjs";

function mailingsOf(widget) {
  widget.mailings ??= new MailingsClient(widget.client);
  return widget.mailings;
}

/** What the view loaded and opened; passed to show() so a re-render keeps it. */
export function announcementsState() {
  return { items: null, open: null, optedOut: new Map() };
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
  const practices = [...new Set(state.items.map((a) => a.practiceId))];
  return [
    back,
    ...heading(t("announcements.title"), t("announcements.lead")),
    state.items.length
      ? h("ul", { class: "w-announcements" }, state.items.map((a) => item(widget, state, a, errors)))
      : h("p", { class: "w-empty" }, t("announcements.none")),
    errors,
    ...practices.map((practiceId) => optOutSection(widget, state, practiceId, errors)),
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
      { type: "button", class: "button link w-announcement-head", "aria-expanded": opened ? "true" : "false", onclick: open },
      a.read ? null : h("span", { class: "w-badge" }, t("announcements.new")),
      h("span", {}, t("announcements.received", { at: formatTime(a.deliveredAt) })),
    ),
    opened
      ? a.text === null
        ? h("p", { class: "form-error" }, t("announcements.unreadable"))
        : h("p", { class: "w-announcement-text" }, a.text)
      : null,
  );
}

function optOutSection(widget, state, practiceId, errors) {
  const out = state.optedOut.get(practiceId);
  const set = async (value) => {
    try {
      await mailingsOf(widget).optOut(practiceId, value);
      state.optedOut.set(practiceId, value);
      widget.rerender();
    } catch (error) {
      showError(errors, errorText(error));
    }
  };
  return h(
    "div",
    { class: "w-step w-opt-out" },
    out === true ? h("p", { role: "status" }, t("announcements.stopped")) : null,
    out === false ? h("p", { role: "status" }, t("announcements.again.done")) : null,
    out === true ? action(t("announcements.again"), () => set(false)) : action(t("announcements.stop"), () => set(true)),
  );
}
