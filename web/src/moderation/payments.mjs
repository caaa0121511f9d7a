// Paid chats: the daily reconciliation (GET /admin/payments/reconciliation/{day}) for
// a UTC day: what was captured, kept, released, refunded or disputed, and every
// mismatch between the chats and what Stripe told us (docs/payments.md). Ids and
// integer cents only: nothing of a conversation.

import { h } from "../ui/dom.mjs";
import { language, t } from "../ui/i18n.mjs";
import { field, form } from "../panel/forms.mjs";
import { table } from "./accounts.mjs";
import { fact } from "./reports.mjs";

function euros(cents) {
  return new Intl.NumberFormat(language(), { style: "currency", currency: "EUR" }).format(cents / 100);
}

/** Today in UTC, as the server's days are. */
export function today() {
  return new Date().toISOString().slice(0, 10);
}

export function paymentsView(console_) {
  const chosen = console_.reconciliation?.day ?? today();
  const day = field({ label: t("payments.day"), name: "day", type: "date", required: true, value: chosen });
  const pick = form({
    fields: [day],
    submit: t("payments.show"),
    className: "stack inline",
    check: (values) => (values.day ? null : t("payments.day.empty")),
    action: async (values) => {
      console_.reconciliation = await console_.payments.reconciliation(values.day);
      console_.repaint();
    },
  });
  return h(
    "section",
    { class: "box", "aria-labelledby": "m-payments-title" },
    h("h1", { id: "m-payments-title", tabindex: "-1" }, t("payments.title")),
    pick,
    console_.reconciliation ? report(console_.reconciliation) : null,
  );
}

function report(r) {
  return h(
    "article",
    { class: "reconciliation", dataset: { day: r.day } },
    h(
      "dl",
      { class: "facts" },
      fact(t("payments.captured"), euros(r.captured_cents)),
      fact(t("payments.charged"), euros(r.charged_cents)),
      fact(t("payments.cancelled"), String(r.cancelled)),
      fact(t("payments.refunded"), euros(r.refunded_cents)),
      fact(t("payments.refunds_pending"), String(r.refunds_pending)),
      fact(t("payments.disputed"), r.disputed.length ? r.disputed.map((id) => h("code", {}, id, " ")) : t("payments.none")),
    ),
    h("h2", {}, t("payments.mismatches")),
    r.mismatches.length
      ? table(
          t("payments.mismatches"),
          [t("payments.chat"), t("payments.problem")],
          r.mismatches.map((m) => [m.thread_id ? h("code", {}, m.thread_id) : t("payments.unknown"), m.problem]),
        )
      : h("p", { class: "empty" }, t("payments.mismatches.none")),
  );
}
