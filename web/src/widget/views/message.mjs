// One message of a conversation: a text bubble or a card for a typed payload, with
// who sent it, when, and (for the patient's own) how far it got. Everything is put in
// as text nodes. A message the client library could not verify (tampered, wrong
// signature, undecryptable) shows only that fact, never a body.

import { announce, h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { errorText } from "../forms.mjs";
import { fieldOf, kindOf, safeUrl, textOf } from "../payloads.mjs";
import { reportMessageAction } from "../report/dialog.mjs";

const STATUSES = new Set(["pending", "sent", "delivered", "read", "failed"]);

/**
 * `names`: account id -> display name of the thread's members; `thread` (its summary)
 * gives someone else's stored, readable message a "Report" action.
 */
export function messageItem(widget, message, names, thread = null) {
  const mine = Boolean(message.mine);
  const kind = message.verified === false ? "unverified" : kindOf(message.payload) ?? "unsupported";
  const sender = mine ? t("message.you") : names.get(message.sender?.account) ?? t("message.practice");
  const item = h(
    "li",
    {
      class: ["w-msg", mine ? "mine" : "theirs"],
      dataset: { kind, status: mine ? message.status : null, seq: message.seq ?? null },
    },
    h("p", { class: "visually-hidden" }, sender),
    body(widget, message, kind),
    meta(message, mine, sender),
    // Only what this browser could open, once stored (a seq), can be reported.
    thread && !mine && message.verified !== false && message.seq ? reportMessageAction(widget, message, thread) : null,
  );
  return item;
}

function meta(message, mine, sender) {
  const at = message.at ? new Date(message.at) : null;
  const status = mine && STATUSES.has(message.status) ? message.status : null;
  return h(
    "p",
    { class: "w-meta" },
    mine ? null : h("span", { class: "w-sender", "aria-hidden": "true" }, sender),
    at && !Number.isNaN(at.getTime())
      ? h("time", { datetime: at.toISOString() }, formatTime(at, { timeStyle: "short" }))
      : null,
    status ? h("span", { class: "w-status", dataset: { status } }, t(`status.${status}`)) : null,
  );
}

function body(widget, message, kind) {
  const payload = message.payload;
  switch (kind) {
    case "unverified":
      return h("p", { class: "w-bubble w-unverified", role: "note" }, t("message.unverified"));
    case "text":
      return h("p", { class: "w-bubble w-text" }, textOf(payload));
    case "renewal_request":
      return card("renewal", t("card.renewal"), [
        [t("renewal.drug"), fieldOf(payload, "drug")],
        [t("renewal.dose"), fieldOf(payload, "dose")],
        [t("renewal.pharmacy"), fieldOf(payload, "pharmacy")],
        [t("renewal.note"), fieldOf(payload, "note")],
      ]);
    case "booking_invitation":
      return bookingCard(payload);
    case "closing_summary":
      return card("closing", t("card.closing"), [
        [t("card.summary"), fieldOf(payload, "summary")],
        [t("card.followup"), fieldOf(payload, "follow_up")],
      ]);
    case "report_to_gp":
      return card("report", t("card.report"), [
        [t("card.summary"), fieldOf(payload, "summary")],
        [t("card.gp"), fieldOf(payload, "gp_name")],
      ]);
    case "attachment":
      return attachmentCard(widget, payload);
    default:
      return h("p", { class: "w-bubble w-unsupported", role: "note" }, t("message.unsupported"));
  }
}

function card(name, title, rows, ...extra) {
  return h(
    "article",
    { class: ["w-bubble", "w-card", `w-card-${name}`] },
    h("h3", { class: "w-card-title" }, title),
    h(
      "dl",
      { class: "w-card-fields" },
      rows.filter(([, value]) => value !== null && value !== "").map(([label, value]) => [h("dt", {}, label), h("dd", {}, String(value))]),
    ),
    ...extra,
  );
}

function bookingCard(payload) {
  const slots = fieldOf(payload, "slots") ?? [];
  const url = safeUrl(fieldOf(payload, "url"));
  return card(
    "booking",
    t("card.booking"),
    [
      [t("card.with"), fieldOf(payload, "provider_name")],
      [t("card.note"), fieldOf(payload, "note")],
    ],
    slots.length
      ? h(
          "div",
          { class: "w-card-slots" },
          h("p", { class: "w-card-label" }, t("card.slots")),
          h(
            "ul",
            {},
            slots.map((slot) => {
              const date = new Date(slot);
              return h(
                "li",
                {},
                Number.isNaN(date.getTime())
                  ? String(slot)
                  : h("time", { datetime: date.toISOString() }, formatTime(date, { dateStyle: "full", timeStyle: "short" })),
              );
            }),
          ),
        )
      : null,
    url ? h("a", { class: "button secondary", href: url, target: "_blank", rel: "noopener noreferrer" }, t("card.book")) : null,
  );
}

function size(bytes) {
  if (typeof bytes !== "number") {
    return "";
  }
  if (bytes < 1024) {
    return t("size.bytes", { n: bytes });
  }
  if (bytes < 1024 * 1024) {
    return t("size.kb", { n: (bytes / 1024).toFixed(0) });
  }
  return t("size.mb", { n: (bytes / (1024 * 1024)).toFixed(1) });
}

function attachmentCard(widget, payload) {
  const name = String(fieldOf(payload, "name") ?? "");
  const problem = h("p", { class: "form-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", class: "button secondary" }, t("attachment.download"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    problem.hidden = true;
    try {
      // The library checks the ciphertext's hash before decrypting and refuses a
      // mismatch: then nothing is offered for download.
      const blob = await widget.client.downloadAttachment(payload);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: name, class: "visually-hidden" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      // An ApiError (with a status) is the server's refusal; anything else is the
      // library refusing the bytes (AttachmentCorrupted: the hash did not match).
      problem.textContent = typeof error?.status === "number" ? errorText(error) : t("attachment.refused");
      problem.hidden = false;
      announce(problem.textContent, { assertive: true });
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "div",
    { class: ["w-bubble", "w-card", "w-card-file"] },
    h("p", { class: "w-file-name" }, name),
    h("p", { class: "w-file-size" }, size(fieldOf(payload, "size"))),
    button,
    problem,
  );
}
