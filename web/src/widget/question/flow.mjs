// The free question to a GP panel, in the widget: one QuestionFlow per widget.
//
//   start()  -> intakeView (question/intake.mjs)
//   ask()    -> emergencyView (a red flag: nothing sent) or questionView below
//   questionView: queued   -> place in the queue, wait estimate, GPs online, live;
//                             past the panel's maximum wait: keep waiting / withdraw
//                 claimed  -> a GP is reading it; parked -> the GP waits for a reply
//                 answered -> the question and the answer, a follow-up, the rating
//                 closed   -> withdrawn, or converted (booking, paid chat offer)
//
// The question's status arrives live as the client's "question" event (the server
// pushes it to the patient on every change of the panel's queue); its messages are
// fetched and opened when the state moves on. The question id is kept in memory only.

import { PanelClient } from "../../client/index.mjs";
import { h } from "../../ui/dom.mjs";
import { language, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, onSubmit, showError, submit } from "../forms.mjs";
import { heading } from "../shell.mjs";
import { messageItem } from "../views/message.mjs";
import "./i18n.mjs";
import { country, emergencyView, intakeView } from "./intake.mjs";

export class QuestionFlow {
  constructor(widget, panelId) {
    this.widget = widget;
    this.panelId = panelId;
    this.panel = new PanelClient(widget.client);
    this.status = null;
    this.messages = [];
    this.rated = false;
    this.duplicate = false;
    // What the patient is writing (a follow-up, a rating): a live status or a language
    // switch re-renders the view, and must not take it away.
    this.kept = keptNothing();
    widget.client.on("question", (status) => this.statusArrived(status));
  }

  start() {
    this.status = null;
    this.messages = [];
    this.rated = false;
    this.duplicate = false;
    this.kept = keptNothing();
    this.widget.show(intakeView, this);
  }

  /** Triage, then seal and queue; a red flag shows the emergency screen. */
  async ask(intake) {
    const { triage, status } = await this.panel.ask(this.panelId, intake, { country: country() });
    if (triage.stop) {
      this.widget.show(emergencyView, this, triage);
      return;
    }
    this.duplicate = Boolean(status.duplicate);
    this.status = status;
    await this.refreshMessages();
    this.widget.show(questionView, this);
  }

  async statusArrived(status) {
    if (!this.status || status?.question_id !== this.status.question_id) return;
    const before = shown(this.status);
    const moved = status.state !== this.status.state;
    this.status = { ...this.status, ...status };
    if (moved) await this.refreshMessages().catch(() => {});
    // The server pushes on every change of the panel's queue: redraw only when what
    // this screen shows changed, so a follow-up or a rating being typed is kept.
    if (this.widget.current?.view === questionView && (moved || shown(this.status) !== before)) this.widget.rerender();
  }

  async refreshMessages() {
    if (this.status.state === "queued") return;
    this.messages = await this.panel.messages(this.status.question_id);
  }

  async act(work) {
    const status = await work();
    if (status?.question_id) this.status = { ...this.status, ...status };
    else this.status = await this.panel.status(this.status.question_id);
    await this.refreshMessages();
    this.widget.show(questionView, this);
  }
}

function keptNothing() {
  return { followUp: "", score: null, comment: "" };
}

/** What the question's screen shows of a status (waiting: place, estimate, GPs, overdue). */
function shown(s) {
  if (s.state !== "queued") return s.state;
  const estimate = s.estimate_seconds === null || s.estimate_seconds === undefined ? null : minutes(s.estimate_seconds);
  return JSON.stringify([s.state, s.position, estimate, s.gps_online, s.overdue]);
}

function minutes(seconds) {
  return Math.max(1, Math.round(seconds / 60));
}

function waiting(flow, errors) {
  const s = flow.status;
  const run = (work) => async () => {
    try {
      await flow.act(work);
    } catch (error) {
      showError(errors, errorText(error));
    }
  };
  return [
    flow.duplicate ? h("p", { class: "w-callout" }, t("question.waiting.duplicate")) : null,
    h(
      "div",
      { class: "w-queue", role: "status", "aria-live": "polite" },
      h("p", { class: "w-position" }, t("question.waiting.position", { n: s.position ?? "–" })),
      h("p", { class: "w-gps" }, t("question.waiting.gps", { n: s.gps_online ?? 0 })),
    ),
    h(
      "p",
      { class: "w-estimate" },
      s.estimate_seconds === null || s.estimate_seconds === undefined
        ? t("question.waiting.no_estimate")
        : t("question.waiting.estimate", { minutes: minutes(s.estimate_seconds) }),
    ),
    s.overdue ? h("p", { class: "w-callout", role: "alert" }, t("question.waiting.overdue")) : null,
    h(
      "div",
      { class: "w-actions" },
      s.overdue ? action(t("question.waiting.keep"), run(() => flow.panel.keepWaiting(s.question_id)), "primary") : null,
      action(t("question.waiting.withdraw"), run(() => flow.panel.withdraw(s.question_id))),
    ),
  ];
}

function price(cents) {
  return new Intl.NumberFormat(language(), { style: "currency", currency: "EUR" }).format(cents / 100);
}

function panelItem(flow, message) {
  const p = message.payload;
  const who = message.mine ? t("question.you") : t("question.gp");
  if (message.verified && p?.t === "panel_question") {
    const factors = p.risk_factors.map((f) => t(`question.option.risk_factors.${f}`)).join(", ");
    return h(
      "li",
      { class: ["w-msg", message.mine ? "mine" : "theirs"], dataset: { kind: "panel_question", seq: message.seq } },
      h(
        "article",
        { class: ["w-bubble", "w-card"] },
        h("h3", { class: "w-card-title" }, t("question.summary")),
        h(
          "dl",
          { class: "w-card-fields" },
          h("dt", {}, t("question.age_band")),
          h("dd", {}, t(`question.option.age_band.${p.age_band}`)),
          h("dt", {}, t("question.main_symptom")),
          h("dd", {}, t(`question.option.main_symptom.${p.main_symptom}`)),
          h("dt", {}, t("question.since")),
          h("dd", {}, t(`question.option.since.${p.since}`)),
          factors ? [h("dt", {}, t("question.risk_factors")), h("dd", {}, factors)] : null,
        ),
        p.text ? h("p", { class: "w-text" }, p.text) : null,
      ),
    );
  }
  if (message.verified && p?.t === "paid_chat_offer") {
    // Once converted, the offer the server recorded is the one to act on: its price
    // is what the paid chat costs (the configured price, not a figure in the
    // message), and it names the panel the paid chat goes to. Nothing rides in the URL.
    const recorded = flow.status?.outcome === "paid_offer" ? flow.status.offer : null;
    const cents = recorded?.price_cents ?? p.price_cents;
    return h(
      "li",
      { class: ["w-msg", "theirs"], dataset: { kind: "paid_chat_offer", seq: message.seq } },
      h(
        "article",
        { class: ["w-bubble", "w-card"] },
        h("h3", { class: "w-card-title" }, t("question.offer", { price: price(cents) })),
        p.note ? h("p", { class: "w-text" }, p.note) : null,
        recorded?.panel_id
          ? h("div", { class: "w-actions" }, action(t("question.offer.start"), () => flow.widget.startPaidChat(recorded.panel_id), "primary"))
          : null,
      ),
    );
  }
  return messageItem(flow.widget, { ...message, status: message.mine ? "sent" : "received" }, new Map([[message.sender.account, who]]));
}

function conversation(flow) {
  return h(
    "section",
    { class: "w-thread", "aria-labelledby": "w-q-thread" },
    h("h2", { id: "w-q-thread", class: "w-subtitle" }, t("question.thread")),
    h("ul", { class: "w-message-list" }, flow.messages.map((m) => panelItem(flow, m))),
  );
}

// Fixed ids: a re-render gives focus back to the same control (shell.mjs render()).
function followUp(flow) {
  const errors = errorLine();
  const id = "w-q-follow";
  const area = h("textarea", { id, name: "body", rows: 2, maxlength: 2000 });
  area.value = flow.kept.followUp;
  area.addEventListener("input", () => {
    flow.kept.followUp = area.value;
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("div", { class: "field" }, h("label", { for: id }, t("question.follow_up")), area)),
    errors,
    h("div", { class: "w-actions" }, submit(t("question.follow_up.send"))),
  );
  onSubmit(
    form,
    errors,
    (values) =>
      flow.act(async () => {
        const status = await flow.panel.reply(flow.status.question_id, { t: "text", body: values.body.trim() });
        flow.kept.followUp = ""; // sent: the view drawn next starts empty
        return status;
      }),
    (values) => (values.body?.trim() ? null : t("question.follow_up")),
  );
  return form;
}

function rating(flow) {
  if (flow.rated) return h("p", { class: "w-callout", role: "status" }, t("question.rating.thanks"));
  const errors = errorLine();
  const comment = "w-q-comment";
  const commentArea = h("textarea", { id: comment, name: "comment", rows: 2, maxlength: 2000 });
  commentArea.value = flow.kept.comment;
  commentArea.addEventListener("input", () => {
    flow.kept.comment = commentArea.value;
  });
  const form = h(
    "form",
    { class: "w-form w-rating", novalidate: true, "aria-labelledby": "w-q-rating" },
    h("h2", { id: "w-q-rating", class: "w-subtitle" }, t("question.rating.title")),
    h(
      "fieldset",
      {},
      h(
        "fieldset",
        { class: "w-choices w-stars" },
        h("legend", {}, t("question.rating.score")),
        [1, 2, 3, 4, 5].map((n) => {
          const id = `w-q-score-${n}`;
          return h(
            "div",
            { class: "field check" },
            h("input", {
              type: "radio",
              id,
              name: "score",
              value: String(n),
              checked: flow.kept.score === String(n),
              onchange: () => {
                flow.kept.score = String(n);
              },
            }),
            h("label", { for: id }, t("question.rating.star", { n })),
          );
        }),
      ),
      h("div", { class: "field" }, h("label", { for: comment }, t("question.rating.comment")), commentArea),
    ),
    errors,
    h("div", { class: "w-actions" }, submit(t("question.rating.submit"))),
  );
  onSubmit(
    form,
    errors,
    async (values) => {
      await flow.panel.rate(flow.status.question_id, Number(values.score), values.comment?.trim() || null);
      flow.rated = true;
      flow.kept.score = null;
      flow.kept.comment = "";
      flow.widget.rerender();
    },
    (values) => (values.score ? null : t("question.rating.choose")),
  );
  return form;
}

const TITLES = {
  queued: "question.waiting.title",
  claimed: "question.claimed.title",
  parked: "question.parked.title",
  answered: "question.answered.title",
  closed: "question.closed.title",
};

/** The question as it stands: waiting, being read, answered or closed. */
export function questionView(widget, flow) {
  const s = flow.status;
  const errors = errorLine();
  const lead = { claimed: t("question.claimed.lead"), parked: t("question.parked.lead") }[s.state] ?? null;
  // How a closed question ended: withdrawn, converted, or answered (then no note).
  const closedText = { withdrawn: t("question.withdrawn"), booking: t("question.converted.booking"), paid_offer: t("question.converted.paid_offer") }[s.outcome];
  const closedNote = s.state === "closed" && closedText ? h("p", { class: "w-callout", role: "status" }, closedText) : null;
  return [
    ...heading(t(TITLES[s.state] ?? "question.closed.title"), lead),
    ...(s.state === "queued" ? waiting(flow, errors) : []),
    closedNote,
    flow.messages.length ? conversation(flow) : null,
    s.state === "answered" || s.state === "parked" ? followUp(flow) : null,
    s.state === "answered" || (s.state === "closed" && s.answered_by) ? rating(flow) : null,
    errors,
    s.state === "closed" ? h("div", { class: "w-actions" }, action(t("question.new"), () => flow.start())) : null,
  ];
}
