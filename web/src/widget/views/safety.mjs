// Safety numbers: for each person this conversation is encrypted to, a number derived
// from their keys and the patient's. Read aloud or compared in person with the one the
// practitioner's inbox shows, a match proves that nobody (the server included) put
// other keys in between. The participants come from the client library, which checks
// them against the practice's signed membership list.

import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { errorText } from "../forms.mjs";
import { heading } from "../shell.mjs";

export function safetyView(widget, thread) {
  const threadId = thread.threadId ?? thread.thread_id;
  const list = h("ul", { class: "w-safety-list", "aria-busy": "true" });
  const status = h("p", { class: "w-loading", role: "status" }, t("safety.loading"));
  widget.client
    .participants(threadId)
    .then((participants) => {
      status.remove();
      list.setAttribute("aria-busy", "false");
      for (const person of participants) {
        const account = person.accountId ?? person.account_id;
        if (account === widget.client.accountId) {
          continue;
        }
        // null until this browser has verified the person's keys (no message yet).
        const number = widget.client.safetyNumber(account) ?? t("safety.unknown");
        list.append(
          h(
            "li",
            { class: "w-safety-item" },
            h("p", { class: "w-safety-name" }, person.displayName ?? person.display_name ?? account),
            h("p", { class: "w-safety-role" }, t(`role.${person.role}`)),
            h("p", { class: "w-safety-number", "aria-label": t("safety.number.label") }, number),
          ),
        );
      }
    })
    .catch((error) => {
      status.textContent = errorText(error);
    });
  return [
    h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: () => widget.openThread(thread) }, t("safety.back"))),
    ...heading(t("safety.title"), t("safety.lead")),
    status,
    list,
    h("p", { class: "w-callout" }, t("safety.mismatch")),
  ];
}
