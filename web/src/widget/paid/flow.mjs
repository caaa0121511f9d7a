// The paid general chat, in the widget: one PaidFlow per widget.
//
//   start()   -> termsView: what it costs and when (VAT included, paid only if a GP
//                answers), the terms to accept -> the intake (question/intake.mjs; a
//                red flag ends on the emergency screen, nothing sent or charged)
//   ask()     -> checkoutView: the price the server fixed for this chat, and the
//                button to Stripe Checkout (the URL the server returned); with no URL
//                yet (Stripe failed, a server job retries it) "Preparing your
//                payment…", polled until the URL comes, with a way to give up
//                (cancel(): the chat closes, nothing charged)
//   resume()  <- back from Checkout (?paid_chat=…&checkout=success|cancel): the
//                webhook may come before or after the patient, so the chat's state is
//                polled until the payment holds (queued) or the session ends
//   chatView  queued -> waiting for a GP within the SLA; answered -> the conversation
//             with the countdown of the window; closed -> read-only, or "nothing was
//             charged" when no GP answered
//   paymentsView: her paid chats, what each cost, the receipt links
//
// The chat's state is polled (every few seconds, only while one of these views is
// shown); its messages are the panel question's, opened by the client library.

import { PaymentsClient } from "../../client/index.mjs";
import { h } from "../../ui/dom.mjs";
import { formatTime, language, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, onSubmit, showError, submit, uid } from "../forms.mjs";
import { country, emergencyView, intakeView } from "../question/intake.mjs";
import { heading } from "../shell.mjs";
import { messageItem } from "../views/message.mjs";
import "./i18n.mjs";

const POLL_MS = 2500;

export class PaidFlow {
  constructor(widget, panelId) {
    this.widget = widget;
    this.panelId = panelId;
    this.payments = new PaymentsClient(widget.client);
    this.chat = null;
    this.messages = [];
    this.returned = null; // "success" | "cancel" after Checkout
    this.draft = "";
    this.terms = null; // GET /paid-chats/terms, read when the flow starts
    // The intake screen is the free question's, with this flow's title.
    this.intakeTitle = "paid.intake.title";
  }

  /** The terms screen, with what a chat started now costs (GET /paid-chats/terms):
   * the patient knows the price before she writes her question. */
  async start() {
    this.chat = null;
    this.messages = [];
    this.returned = null;
    try {
      this.terms = await this.payments.terms();
    } catch {
      this.terms = null; // shown again on the checkout screen, from the started chat
    }
    this.widget.show(termsView, this);
  }

  async acceptTerms() {
    await this.payments.acceptTerms();
    this.widget.show(intakeView, this);
  }

  /** Triage, then seal and start the chat (pending payment). */
  async ask(intake) {
    const { triage, chat } = await this.payments.start(this.panelId, intake, { country: country() });
    if (triage.stop) {
      this.widget.show(emergencyView, this, triage);
      return;
    }
    this.chat = chat;
    this.widget.show(checkoutView, this);
  }

  /** Back from Checkout: show the chat and follow it until the payment is settled. */
  async resume(threadId, outcome) {
    this.returned = outcome === "cancel" ? "cancel" : "success";
    this.chat = await this.payments.status(threadId);
    this.panelId = String(this.chat.panel_id);
    await this.show();
  }

  /** Gives up while the payment is being prepared: the chat closes, nothing charged.
   * A 409 means the payment page came just then: the view shows it instead. */
  async cancel() {
    try {
      this.chat = await this.payments.cancel(this.chat.thread_id);
    } catch (error) {
      if (error?.code !== "paid_chat_not_cancellable") throw error;
      this.chat = await this.payments.status(this.chat.thread_id);
    }
    await this.show();
  }

  async open(threadId) {
    this.returned = null;
    this.chat = await this.payments.status(threadId);
    await this.show();
  }

  async show() {
    await this.refreshMessages();
    this.widget.show(chatView, this);
  }

  async refreshMessages() {
    const s = this.chat.state;
    this.messages = s === "answered" || (s === "closed" && this.chat.answered_by) ? await this.payments.panel.messages(this.chat.thread_id) : [];
  }

  /** Polls while the chat is on screen; redraws only when what it shows changed. Each
   * render of the chat starts it (chatView): a re-render stops the one before. */
  follow() {
    let stopped = false;
    this.widget.onLeave(() => {
      stopped = true;
    });
    const tick = async () => {
      if (stopped) return;
      try {
        const chat = await this.payments.status(this.chat.thread_id);
        // The payment's facts too: a refund reaching its end changes what she is told.
        const shown = (c) => [c.state, this.messages.length, (c.payment ?? []).join("+"), Boolean(c.checkout_url)].join();
        const before = shown(this.chat);
        this.chat = chat;
        await this.refreshMessages();
        if (!stopped && before !== shown(chat)) {
          this.widget.rerender();
          return; // the new render follows on
        }
      } catch {
        // offline for a moment: try again at the next tick
      }
      if (!stopped) setTimeout(tick, POLL_MS);
    };
    setTimeout(tick, POLL_MS);
  }

  async reply(body) {
    await this.payments.panel.reply(this.chat.thread_id, { t: "text", body });
    this.draft = "";
    await this.show();
  }

  async showPayments() {
    this.widget.show(paymentsView, this, await this.payments.payments());
  }
}

export function price(cents, currency = "eur") {
  return new Intl.NumberFormat(language(), { style: "currency", currency: String(currency).toUpperCase() }).format(cents / 100);
}

/** "3 h 05 min" or "4 min 10 s" from now to `until`. */
export function timeLeft(until, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((Date.parse(until) - now) / 1000));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours) return t("paid.left.hours", { h: hours, m: String(minutes).padStart(2, "0") });
  return t("paid.left.minutes", { m: minutes, s: String(seconds % 60).padStart(2, "0") });
}

/** "24 hours", or "30 minutes" for a window shorter than an hour. */
function windowText(seconds) {
  const hours = seconds / 3600;
  if (hours >= 1 && Number.isInteger(hours)) return hours === 1 ? t("paid.duration.hour") : t("paid.duration.hours", { n: hours });
  const minutes = Math.max(1, Math.round(seconds / 60));
  return minutes === 1 ? t("paid.duration.minute") : t("paid.duration.minutes", { n: minutes });
}

function termsView(widget, flow) {
  const errors = errorLine();
  const id = uid("paid-terms");
  const terms = flow.terms;
  const duration = windowText(terms ? terms.window_seconds : 24 * 3600);
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h(
      "fieldset",
      {},
      terms ? h("p", { class: "w-price" }, t("paid.price", { price: price(terms.price_cents, terms.currency) })) : null,
      h(
        "ul",
        { class: "w-terms" },
        h("li", {}, t("paid.terms.only_if_answered")),
        h("li", {}, t("paid.terms.window", { duration })),
        h("li", {}, terms ? t("paid.vat_note") : t("paid.terms.vat")),
      ),
      h("div", { class: "field check" }, h("input", { type: "checkbox", id, name: "accept", value: "yes" }), h("label", { for: id }, t("paid.terms.accept"))),
    ),
    errors,
    h("div", { class: "w-actions" }, submit(t("paid.terms.continue"))),
  );
  onSubmit(form, errors, () => flow.acceptTerms(), (values) => (values.accept ? null : t("paid.terms.required")));
  return [...heading(t("paid.terms.title"), t("paid.terms.lead", { duration })), form];
}

/** No checkout URL yet: the server's job is still trying Stripe. Polled (follow())
 * until the URL comes (checkoutView again, with the button) or the chat ends. */
function preparingView(widget, flow) {
  const c = flow.chat;
  flow.follow();
  const errors = errorLine();
  return [
    ...heading(t("paid.preparing.title")),
    h("p", { class: "w-loading", role: "status" }, t("paid.preparing.lead")),
    h("p", { class: "w-price" }, t("paid.price", { price: price(c.amount_cents, c.currency) })),
    errors,
    h(
      "div",
      { class: "w-actions" },
      action(t("paid.preparing.cancel"), async () => {
        try {
          await flow.cancel();
        } catch (error) {
          showError(errors, errorText(error));
        }
      }),
    ),
  ];
}

function checkoutView(widget, flow) {
  const c = flow.chat;
  if (c.state !== "pending_payment") return chatView(widget, flow);
  if (!c.checkout_url) return preparingView(widget, flow);
  return [
    ...heading(t("paid.checkout.title"), t("paid.checkout.lead")),
    h("p", { class: "w-price" }, t("paid.price", { price: price(c.amount_cents, c.currency) })),
    h("p", { class: "w-hint" }, t("paid.vat_note")),
    h("p", { class: "w-hint" }, t("paid.terms.only_if_answered")),
    h(
      "div",
      { class: "w-actions" },
      // Stripe Checkout cannot be framed: it replaces the whole page, then comes back.
      h("a", { class: "button primary", href: c.checkout_url, target: "_top", rel: "noopener" }, t("paid.checkout.pay")),
    ),
  ];
}

function countdown(flow) {
  const line = h("p", { class: "w-countdown", dataset: { ends: flow.chat.window_ends_at } });
  const paint = () => {
    line.textContent = t("paid.window.left", { left: timeLeft(flow.chat.window_ends_at) });
  };
  paint();
  const timer = setInterval(paint, 1000);
  flow.widget.onLeave(() => clearInterval(timer));
  return h("div", { class: "w-countdown-box", role: "timer", "aria-label": t("paid.window.label") }, line);
}

function conversation(flow) {
  const names = new Map();
  return h(
    "section",
    { class: "w-thread", "aria-labelledby": "w-paid-thread" },
    h("h2", { id: "w-paid-thread", class: "w-subtitle" }, t("paid.thread")),
    h(
      "ul",
      { class: "w-message-list" },
      flow.messages.map((m) => {
        const p = m.payload;
        if (m.verified && p?.t === "panel_question") {
          return h("li", { class: ["w-msg", "mine"], dataset: { kind: "panel_question", seq: m.seq } }, h("p", { class: ["w-bubble", "w-text"] }, p.text || t("paid.intake.sent")));
        }
        names.set(m.sender.account, m.mine ? t("question.you") : t("question.gp"));
        return messageItem(flow.widget, { ...m, status: m.mine ? "sent" : "received" }, names);
      }),
    ),
  );
}

function replyForm(flow) {
  const errors = errorLine();
  // A fixed id: the poll re-renders the view when the GP writes, and focus comes back
  // to this field by its id (shell.mjs render()), the draft with it.
  const id = "w-paid-reply";
  const area = h("textarea", { id, name: "body", rows: 2, maxlength: 2000 });
  area.value = flow.draft;
  area.addEventListener("input", () => {
    flow.draft = area.value;
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("div", { class: "field" }, h("label", { for: id }, t("paid.reply")), area)),
    errors,
    h("div", { class: "w-actions" }, submit(t("paid.reply.send"))),
  );
  onSubmit(
    form,
    errors,
    (values) => flow.reply(values.body.trim()),
    (values) => (values.body?.trim() ? null : t("paid.reply")),
  );
  return form;
}

// closed_reason: handlers/payment_flow.py and paid_chats.py.
function closedText(c) {
  if (c.state === "refunded" || c.closed_reason === "unanswered") {
    // Bancontact was charged at once: it is refunded, not "never charged".
    const facts = c.payment ?? [];
    if (facts.includes("paid")) return t(facts.includes("refunded") ? "paid.closed.refunded" : "paid.closed.refunding");
    return t("paid.closed.nothing_charged");
  }
  if (c.closed_reason === "unpaid") return t("paid.closed.unpaid");
  if (c.closed_reason === "checkout_failed") return t("paid.closed.checkout_failed");
  if (c.closed_reason === "cancelled") return t("paid.closed.cancelled");
  return c.closed_reason === "closed_early" ? t("paid.closed.by_gp") : t("paid.closed.window");
}

/** The chat as it stands. */
export function chatView(widget, flow) {
  const c = flow.chat;
  if (c.state === "pending_payment" && !c.checkout_url) return preparingView(widget, flow);
  flow.follow();
  const errors = errorLine();
  const nodes = [];
  if (c.state === "pending_payment") {
    if (flow.returned === "cancel") {
      nodes.push(...heading(t("paid.cancelled.title"), t("paid.cancelled.lead")));
      if (c.checkout_url) nodes.push(h("div", { class: "w-actions" }, h("a", { class: "button primary", href: c.checkout_url, target: "_top", rel: "noopener" }, t("paid.checkout.pay"))));
    } else {
      nodes.push(...heading(t("paid.confirming.title")), h("p", { class: "w-loading", role: "status" }, t("paid.confirming.lead")));
    }
  } else if (c.state === "queued") {
    nodes.push(...heading(t("paid.queued.title"), t("paid.queued.lead")));
    if (c.sla_due_at) nodes.push(h("p", { class: "w-hint" }, t("paid.queued.sla", { time: formatTime(c.sla_due_at, { timeStyle: "short" }) })));
  } else if (c.state === "answered") {
    nodes.push(...heading(t("paid.answered.title")), countdown(flow), conversation(flow), replyForm(flow));
  } else {
    nodes.push(
      ...heading(t("paid.closed.title")),
      h("p", { class: "w-callout", role: "status" }, closedText(c)),
      flow.messages.length ? conversation(flow) : null,
      flow.messages.length ? h("p", { class: "w-hint" }, t("paid.read_only")) : null,
    );
  }
  nodes.push(
    errors,
    h(
      "div",
      { class: "w-actions" },
      action(t("paid.payments"), async () => {
        try {
          await flow.showPayments();
        } catch (error) {
          showError(errors, errorText(error));
        }
      }),
    ),
  );
  return nodes;
}

/** What a chat finally cost her: paid, refunded (Bancontact, unanswered) or nothing. */
function paymentText(p) {
  if (Number(p.charged_cents) > 0) return t("paid.payments.charged", { price: price(p.charged_cents, p.currency) });
  const facts = p.payment ?? [];
  const refunding = facts.includes("paid") && (facts.includes("refunded") || facts.includes("refund_pending"));
  return refunding ? t("paid.payments.refunded", { price: price(p.amount_cents, p.currency) }) : t("paid.payments.free");
}

/** Saves the receipt (printable HTML): fetched with her session's token, which a
 * plain link would not carry. */
function receiptButton(flow, p, errors) {
  const button = h("button", { type: "button", class: "button link" }, t("paid.payments.receipt"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const blob = await flow.payments.receipt(p.thread_id);
      const url = URL.createObjectURL(blob);
      const day = String(p.window_starts_at ?? p.created_at).slice(0, 10);
      const link = h("a", { href: url, download: `carechat-receipt-${day}-${p.thread_id}.html`, class: "visually-hidden" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      showError(errors, errorText(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** Her paid chats, newest first, and the receipt of each one charged. */
export function paymentsView(widget, flow, payments) {
  const errors = errorLine();
  return [
    ...heading(t("paid.payments.title"), t("paid.vat_note")),
    payments.length
      ? h(
          "ul",
          { class: "w-payments" },
          payments.map((p) =>
            h(
              "li",
              { class: "w-payment", dataset: { thread: p.thread_id } },
              h("span", {}, formatTime(p.created_at, { dateStyle: "medium" })),
              " · ",
              h("span", {}, paymentText(p)),
              Number(p.charged_cents) > 0 ? [" · ", receiptButton(flow, p, errors)] : null,
              " · ",
              h("button", { type: "button", class: "button link", onclick: () => flow.open(p.thread_id) }, t("paid.payments.open")),
            ),
          ),
        )
      : h("p", {}, t("paid.payments.none")),
    errors,
    h("div", { class: "w-actions" }, flow.panelId ? action(t("paid.new"), () => flow.start(), "primary") : null),
  ];
}
