// One message in the thread: who, when, its content by payload type, and for the
// practitioner's own messages the delivery status. A message the library could not
// verify (tampered, wrong signature, undecryptable) is shown as "could not be
// verified" and nothing of it as text; a payload of a type this page does not know is
// "cannot be displayed". Text is always a text node (ui/dom.mjs h()), never markup.
import { h } from "../ui/dom.mjs";
import { formatTime, language, t } from "../ui/i18n.mjs";
import { payloadType, textOf } from "./payloads.mjs";

export function formatSize(bytes) {
  const units = ["B", "kB", "MB", "GB"];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${new Intl.NumberFormat(language(), { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}

function dl(pairs) {
  return h(
    "dl",
    { class: "fields" },
    pairs
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
  );
}

function cardOf(kind, title, ...children) {
  return h("div", { class: ["payload-card", `card-${kind}`] }, h("p", { class: "card-title" }, title), ...children);
}

/**
 * The content of `message`. `actions` gives the buttons some payloads offer:
 * `renewal(message)` → [approve, decline] elements, `download(message)` → a button.
 */
function content(message, actions) {
  if (message.verified === false || message.payload == null) {
    return h("p", { class: "unverified", role: "note" }, t("message.unverified"));
  }
  const p = message.payload;
  switch (payloadType(p)) {
    case "text":
      return h("p", { class: "text" }, textOf(p));
    case "renewal_request":
      return cardOf(
        "renewal",
        t("renewal.title"),
        dl([
          [t("renewal.drug"), p.drug],
          [t("renewal.dose"), p.dose],
          [t("renewal.pharmacy"), p.pharmacy],
          [t("renewal.note"), p.note],
        ]),
        message.mine ? null : actions.renewal(message),
      );
    case "booking_invitation":
      return cardOf(
        "booking",
        t("booking.title"),
        dl([
          [t("booking.provider"), p.provider_name],
          [t("booking.link"), p.url],
          [t("booking.note"), p.note],
        ]),
        (p.slots ?? []).length > 0
          ? h(
              "ul",
              { class: "slots", "aria-label": t("booking.slots") },
              p.slots.map((slot) => h("li", {}, h("time", { datetime: slot }, formatTime(slot, { dateStyle: "full", timeStyle: "short" })))),
            )
          : null,
      );
    case "closing_summary":
      return cardOf(
        "summary",
        t("summary.title"),
        dl([
          [t("summary.summary"), p.summary],
          [t("summary.follow_up"), p.follow_up],
        ]),
      );
    case "report_to_gp":
      return cardOf(
        "report",
        t("report.title"),
        dl([
          [t("report.gp_name"), p.gp_name],
          [t("report.gp_contact"), p.gp_contact],
          [t("report.summary"), p.summary],
        ]),
      );
    case "attachment":
      return cardOf(
        "attachment",
        t("attachment.title"),
        h("p", { class: "file" }, h("span", { class: "file-name" }, p.name), " ", h("span", { class: "file-size" }, formatSize(p.size))),
        actions.download(message),
      );
    default:
      return h("p", { class: "unsupported", role: "note" }, t("message.unsupported"));
  }
}

/** The <li> for `message`; `senderName(account)` names the sender; `status` for mine. */
export function messageItem(message, { senderName, status, actions }) {
  const at = message.at;
  return h(
    "li",
    {
      class: ["message", message.mine ? "mine" : "theirs", message.verified === false && "is-unverified"],
      dataset: { seq: message.seq ?? "", msg: message.clientMsgId, type: payloadType(message.payload) ?? "unverified" },
    },
    h(
      "p",
      { class: "meta" },
      h("span", { class: "sender" }, message.mine ? t("message.you") : senderName(message.sender?.account)),
      at ? h("time", { datetime: String(at) }, formatTime(at)) : null,
    ),
    content(message, actions),
    message.mine ? h("p", { class: ["status", `status-${status}`], dataset: { status } }, t(`status.${status}`)) : null,
    // Someone else's message this browser could open, once stored, can be reported.
    !message.mine && message.verified !== false && message.seq && actions.report ? actions.report(message) : null,
  );
}
