// A paid chat in the console: the question of a patient who paid (card hold or
// Bancontact). Once the GP has answered, the box says so, counts down the chat's
// window (the server's window_ends_at; the chat turns read-only for both at its end),
// lets the GP write on, and close early with a closing summary (sent as a sealed
// message first, then POST /paid-chats/{id}/close).

import { h } from "../ui/dom.mjs";
import { formatTime, language, t } from "../ui/i18n.mjs";
import { button, field, form, kept } from "./forms.mjs";

function price(cents, currency) {
  return new Intl.NumberFormat(language(), { style: "currency", currency: String(currency).toUpperCase() }).format(cents / 100);
}

function left(until) {
  const seconds = Math.max(0, Math.floor((Date.parse(until) - Date.now()) / 1000));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours ? t("paid.left.hours", { h: hours, m: String(minutes).padStart(2, "0") }) : t("paid.left.minutes", { m: minutes, s: String(seconds % 60).padStart(2, "0") });
}

/** The countdown line; it stops itself once it left the page, and calls `ended` once
 * the window is over (the pane repaints read-only without waiting for a refresh). */
function countdown(until, ended) {
  const line = h("p", { class: "paid-left", role: "timer", "aria-label": t("paid.window.label") });
  const paint = () => {
    line.textContent = t("paid.window.left", { left: left(until) });
  };
  paint();
  const timer = setInterval(() => {
    if (!line.isConnected) {
      clearInterval(timer);
      return;
    }
    paint();
    if (Date.parse(until) <= Date.now()) {
      clearInterval(timer);
      ended();
    }
  }, 1000);
  return line;
}

/** The paid-chat part of the open question's pane; `chat` is the server's paid chat. */
export function paidBox(console_, q) {
  const chat = q.paid;
  const id = chat.thread_id;
  const open = chat.state === "answered" && chat.window_ends_at && Date.parse(chat.window_ends_at) > Date.now();
  const mine = chat.answered_by === console_.client.accountId;
  // What the GP types survives the pane's repaints (a patient's message arriving).
  const message = kept(console_.drafts, `${id}/body`, field({ label: t("paid.message"), name: "body", multiline: true, maxlength: 10000 }));
  const summary = kept(console_.drafts, `${id}/summary`, field({ label: t("paid.summary"), name: "summary", multiline: true, maxlength: 10000 }));
  return h(
    "section",
    { class: "paid-chat", "aria-labelledby": "p-paid-title" },
    h("h3", { id: "p-paid-title" }, h("span", { class: "badge paid" }, t("paid.badge")), " ", price(chat.amount_cents, chat.currency)),
    open ? countdown(chat.window_ends_at, () => console_.paintQuestion()) : h("p", { class: "hint" }, t(chat.state === "answered" ? "paid.window.over" : `paid.state.${chat.state}`)),
    open && mine
      ? form({
          fields: [message],
          submit: t("paid.message.send"),
          check: (v) => (v.body.trim() ? null : t("answer.empty")),
          action: async (v) => {
            await console_.panel.reply(id, { t: "text", body: v.body.trim() });
            console_.drafts.delete(`${id}/body`);
            await console_.open(id);
          },
        })
      : null,
    open && mine
      ? form({
          fields: [summary],
          submit: t("paid.close"),
          className: "stack paid-close",
          check: (v) => (v.summary.trim() ? null : t("paid.summary.empty")),
          action: async (v) => {
            await console_.panel.reply(id, { t: "text", body: v.summary.trim() });
            await console_.payments.close(id);
            console_.drafts.delete(`${id}/summary`);
            await console_.open(id);
            // The side lists (open paid chats, payouts) drop it now, not at the next refresh.
            await console_.refresh();
          },
        })
      : null,
  );
}

/** The side box (a list of nodes, empty if none): this GP's answered paid chats still
 * open, each with its time left at the last refresh. */
export function paidList(console_, errors) {
  const chats = console_.paidChats ?? [];
  if (!chats.length) return [];
  const item = (chat) =>
    h(
      "li",
      {},
      h("span", { class: "badge paid" }, t("paid.badge")),
      " ",
      chat.window_ends_at ? t("paid.window.left", { left: left(chat.window_ends_at) }) : "",
      " ",
      button(t("mine.open"), () => console_.open(chat.thread_id), errors, "small", `paid-${chat.thread_id}`),
    );
  return [
    h(
      "section",
      { class: "box", "aria-labelledby": "p-paid-list-title" },
      h("h2", { id: "p-paid-list-title" }, t("paid.list.title")),
      h("ul", { class: "paid-list" }, chats.map(item)),
    ),
  ];
}

/** What this GP is paid for: the paid chats they answered (GET /payouts), the total
 * charged and the latest ones (the date of the first reply, what the patient paid). */
export function payoutsBox(console_) {
  const answered = console_.payouts ?? [];
  if (!answered.length) return [];
  const currency = answered[0].currency;
  const total = answered.reduce((sum, p) => sum + Number(p.charged_cents), 0);
  const item = (p) =>
    h(
      "li",
      { dataset: { thread: p.thread_id } },
      t("payouts.item", {
        date: formatTime(p.window_starts_at ?? p.created_at, { dateStyle: "medium" }),
        amount: price(p.charged_cents, p.currency),
      }),
      p.state === "answered" ? [" ", h("span", { class: "badge state-answered" }, t("payouts.open"))] : null,
    );
  return [
    h(
      "section",
      { class: "box payouts", "aria-labelledby": "p-payouts-title" },
      h("h2", { id: "p-payouts-title" }, t("payouts.title")),
      h("p", { class: "hint" }, t("payouts.total", { n: answered.length, amount: price(total, currency) })),
      h("ul", { class: "paid-list" }, answered.slice(0, 10).map(item)),
    ),
  ];
}
