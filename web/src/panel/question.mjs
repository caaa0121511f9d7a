// The question a GP opened: the intake summary first (it travels inside the encrypted
// question, so only the panel and the patient read it), then the messages, then what
// the GP may do while holding it: answer, ask the patient (and park it), release it,
// hand it to a colleague, or convert it into a booking invitation or a paid-chat offer.
// A parked question can be resumed. Everything shown is text nodes.

import { h } from "../ui/dom.mjs";
import { formatTime, language, t } from "../ui/i18n.mjs";
import { button, choice, errorLine, field, form, kept } from "./forms.mjs";
import { paidBox } from "./paid.mjs";

const option = (group, value) => {
  const key = `question.option.${group}.${value}`;
  const text = t(key);
  return text === key ? value : text;
};

function price(cents) {
  return new Intl.NumberFormat(language(), { style: "currency", currency: "EUR" }).format(cents / 100);
}

function intakeCard(p) {
  return h(
    "article",
    { class: "intake", "aria-labelledby": "p-intake-title" },
    h("h3", { id: "p-intake-title" }, t("question.intake")),
    h(
      "dl",
      { class: "intake-fields" },
      h("dt", {}, t("question.age_band")),
      h("dd", {}, option("age_band", p.age_band)),
      h("dt", {}, t("question.main_symptom")),
      h("dd", {}, option("main_symptom", p.main_symptom)),
      h("dt", {}, t("question.since")),
      h("dd", {}, option("since", p.since)),
      h("dt", {}, t("question.risk_factors")),
      h("dd", {}, p.risk_factors.length ? p.risk_factors.map((f) => option("risk_factors", f)).join(", ") : t("stats.none")),
    ),
    p.text ? h("p", { class: "intake-text" }, p.text) : null,
  );
}

function bodyOf(message) {
  const p = message.payload;
  if (!message.verified) return h("p", { class: "msg-body unverified", role: "note" }, t("question.unverified"));
  switch (p.t) {
    case "text":
      return h("p", { class: "msg-body" }, p.body);
    case "panel_question":
      return intakeCard(p);
    case "paid_chat_offer":
      return h("p", { class: "msg-body" }, t("question.offer", { price: price(p.price_cents) }), p.note ? ` — ${p.note}` : "");
    case "booking_invitation":
      return h("p", { class: "msg-body" }, t("question.booking", { name: p.provider_name }), p.url ? ` — ${p.url}` : "");
    default:
      return h("p", { class: "msg-body unverified", role: "note" }, t("question.unsupported"));
  }
}

function messageItem(message) {
  const who = message.mine ? t("question.you") : message.payload?.t === "panel_question" || message.sender.account === message.patient ? t("question.patient") : t("question.gp");
  return h(
    "li",
    { class: ["msg", message.mine ? "mine" : "theirs"], dataset: { seq: message.seq, kind: message.verified ? message.payload.t : "unverified" } },
    h("p", { class: "msg-meta" }, who, message.at ? ` · ${formatTime(message.at, { timeStyle: "short" })}` : ""),
    bodyOf(message),
  );
}

// Everything the GP types or chooses in the pane is kept (forms.mjs kept()) under the
// question's id: a patient's message repaints the pane, and an answer must never show
// up under another patient's question.
function answerForm(console_, q) {
  const id = q.status.question_id;
  const text = kept(console_.drafts, `${id}/answer`, field({ label: t("answer.label"), name: "body", multiline: true, maxlength: 10000 }));
  return form({
    fields: [text],
    submit: t("answer.send"),
    extra: [h("button", { type: "submit", name: "do", value: "ask" }, t("answer.ask"))],
    check: (values) => (values.body.trim() ? null : t("answer.empty")),
    action: async (values, which) => {
      const body = values.body.trim();
      await console_.panel.reply(q.status.question_id, { t: "text", body }, { answer: which !== "ask" });
      if (which === "ask") await console_.panel.park(q.status.question_id);
      console_.drafts.delete(`${id}/answer`);
      await console_.open(q.status.question_id);
    },
  });
}

function handOver(console_, q) {
  const me = console_.client.accountId;
  const colleagues = console_.colleagues.filter((id) => id !== me);
  if (!colleagues.length) return h("p", { class: "hint" }, t("action.handover.none"));
  const to = kept(
    console_.drafts,
    `${q.status.question_id}/to`,
    choice({ label: t("action.handover.to"), name: "to", options: colleagues.map((id) => [id, console_.nameOf(id)]) }),
  );
  return form({
    fields: [to],
    submit: t("action.handover"),
    className: "stack inline-form",
    action: async (values) => {
      await console_.panel.handOver(q.status.question_id, values.to);
      console_.forget(q.status.question_id);
      await console_.closeQuestion();
    },
  });
}

function convertForms(console_, q) {
  const id = q.status.question_id;
  const drafts = console_.drafts;
  const name = kept(drafts, `${id}/name`, field({ label: t("convert.booking.name"), name: "name", maxlength: 200 }));
  const url = kept(drafts, `${id}/url`, field({ label: t("convert.booking.url"), name: "url", type: "url", maxlength: 2000 }));
  const booking = form({
    fields: [name, url],
    submit: t("convert.booking.send"),
    check: (v) => (v.name.trim() && v.url.trim().startsWith("https://") ? null : t("convert.invalid")),
    action: async (v) => {
      await console_.panel.reply(id, { t: "booking_invitation", provider_kind: "practitioner", provider_name: v.name.trim(), slots: [], url: v.url.trim(), note: null });
      await console_.panel.convert(id, "booking");
      console_.forget(id);
      await console_.open(id);
    },
  });
  // The price is not the GP's to choose: the offer quotes the configured paid-chat
  // price (the queue names it), the one Checkout asks if the patient takes it.
  const quoted = console_.queue?.paid_chat_price ?? null;
  const note = kept(drafts, `${id}/note`, field({ label: t("convert.offer.note"), name: "note", maxlength: 2000 }));
  const offer = form({
    fields: [note],
    submit: t("convert.offer.send"),
    check: () => (quoted ? null : t("convert.invalid")),
    action: async (v) => {
      await console_.panel.reply(id, { t: "paid_chat_offer", price_cents: quoted.price_cents, currency: quoted.currency, note: v.note.trim() || null });
      await console_.panel.convert(id, "paid_offer");
      console_.forget(id);
      await console_.open(id);
    },
  });
  // Opened, it stays open across repaints.
  const details = h(
    "details",
    { class: "convert", open: drafts.get(`${id}/convert`) === true },
    h("summary", { dataset: { key: "convert" } }, t("convert.title")),
    h("h3", {}, t("convert.booking")),
    booking,
    h("h3", {}, t("convert.offer")),
    quoted ? h("p", { class: "offer-price" }, t("convert.offer.price", { price: price(quoted.price_cents) })) : null,
    offer,
  );
  details.addEventListener("toggle", () => drafts.set(`${id}/convert`, details.open));
  return details;
}

/** The open question's pane; `q` = {status, messages}. */
export function questionPane(console_, q) {
  const s = q.status;
  const errors = errorLine();
  const id = s.question_id;
  const held = s.claimed_by === console_.client.accountId;
  const claimed = held && s.state === "claimed";
  const parked = held && s.state === "parked";
  const act = (work) => async () => {
    await work();
    await console_.open(id);
  };
  return h(
    "section",
    { class: "box question", "aria-labelledby": "p-question-title" },
    h(
      "div",
      { class: "box-head" },
      h("h2", { id: "p-question-title", tabindex: "-1" }, t("question.title")),
      h("span", { class: `badge state-${s.state}` }, t(`state.${s.state}`)),
      button(t("question.back"), () => console_.closeQuestion(), errors, "quiet small", "question-back"),
    ),
    claimed && s.lease_until ? h("p", { class: "hint" }, t("question.lease", { time: formatTime(s.lease_until, { timeStyle: "medium" }) })) : null,
    q.paid ? paidBox(console_, q) : null,
    h("ol", { class: "messages", "aria-label": t("question.title") }, q.messages.map((m) => messageItem({ ...m, patient: s.patient_id }))),
    errors,
    claimed ? answerForm(console_, q) : null,
    held
      ? h(
          "div",
          { class: "actions" },
          claimed ? button(t("action.park"), act(() => console_.panel.park(id)), errors, null, "park") : null,
          parked ? button(t("action.resume"), act(() => console_.panel.resume(id)), errors, "primary", "resume") : null,
          button(
            t("action.release"),
            async () => {
              await console_.panel.release(id);
              console_.forget(id);
              await console_.closeQuestion();
            },
            errors,
            "danger",
            "release",
          ),
        )
      : null,
    held ? handOver(console_, q) : null,
    held && !q.paid ? convertForms(console_, q) : null,
  );
}
