// "Report" on a patient's message in the practitioner's inbox: the category (the
// server's, moderation/reports.py), what reporting reveals, confirm; then "Reported"
// and the offer to block the account (blocks.mjs). The client library reveals the
// one message's plaintext and franking key (CareChatClient.report); a second report of
// the same message is the server's `report_already_filed`, shown as reported.
import { announce, focus, h, replace } from "../ui/dom.mjs";
import { registerMessages, t } from "../ui/i18n.mjs";
import { blockButton } from "./blocks.mjs";
import { busy } from "./feedback.mjs";

const CATEGORIES = ["spam", "harassment", "threats", "impersonation", "illegal_content", "fraud", "other"];

registerMessages("en", {
  "report.open": "Report",
  "report.done": "Reported",
  "report.already": "You had already reported this message.",
  "report.lead": "Reporting reveals the text of this one message to CareChat's moderators, and nothing else.",
  "report.category": "What is wrong with it?",
  "report.category.spam": "Spam or advertising",
  "report.category.harassment": "Harassment",
  "report.category.threats": "Threats",
  "report.category.impersonation": "Someone pretending to be someone else",
  "report.category.illegal_content": "Illegal content",
  "report.category.fraud": "Fraud or a scam",
  "report.category.other": "Something else",
  "report.confirm": "Report to CareChat",
  "report.cancel": "Cancel",
});
registerMessages("fr", {
  "report.open": "Signaler",
  "report.done": "Signalé",
  "report.already": "Vous aviez déjà signalé ce message.",
  "report.lead": "Signaler révèle le texte de ce seul message aux modérateurs de CareChat, et rien d'autre.",
  "report.category": "Quel est le problème ?",
  "report.category.spam": "Spam ou publicité",
  "report.category.harassment": "Harcèlement",
  "report.category.threats": "Menaces",
  "report.category.impersonation": "Quelqu'un se fait passer pour un autre",
  "report.category.illegal_content": "Contenu illégal",
  "report.category.fraud": "Fraude ou arnaque",
  "report.category.other": "Autre chose",
  "report.confirm": "Signaler à CareChat",
  "report.cancel": "Annuler",
});
registerMessages("nl", {
  "report.open": "Melden",
  "report.done": "Gemeld",
  "report.already": "U had dit bericht al gemeld.",
  "report.lead": "Melden toont de tekst van dit ene bericht aan de moderatoren van CareChat, en niets anders.",
  "report.category": "Wat is er mis mee?",
  "report.category.spam": "Spam of reclame",
  "report.category.harassment": "Intimidatie",
  "report.category.threats": "Bedreigingen",
  "report.category.impersonation": "Iemand doet zich voor als iemand anders",
  "report.category.illegal_content": "Illegale inhoud",
  "report.category.fraud": "Fraude of oplichting",
  "report.category.other": "Iets anders",
  "report.confirm": "Melden aan CareChat",
  "report.cancel": "Annuleren",
});

/** "Reported", with the offer to block the sender. */
function reportedLine(client, message, name, alert, already) {
  return h(
    "div",
    { class: "report-done", dataset: { reported: "yes" } },
    h("span", { role: "status" }, already ? t("report.already") : t("report.done")),
    " ",
    blockButton(client, message.sender.account, name, alert),
  );
}

/**
 * The action under `message` (someone else's, readable, stored); `reported` is the
 * thread view's Set of reported seqs, so a re-render keeps the state.
 */
export function reportAction(client, message, { name, alert, reported }) {
  const box = h("div", { class: "report" });
  if (reported.has(message.seq)) {
    replace(box, reportedLine(client, message, name, alert, false));
    return box;
  }
  const open = h("button", { type: "button", class: "small quiet", dataset: { action: "report" } }, t("report.open"));
  open.addEventListener("click", () => {
    const id = `report-${message.seq}`;
    const select = h(
      "select",
      { id, name: "category" },
      CATEGORIES.map((c) => h("option", { value: c, selected: c === "other" }, t(`report.category.${c}`))),
    );
    const confirm = h("button", { type: "button", class: "small danger" }, t("report.confirm"));
    const cancel = h("button", { type: "button", class: "small quiet", onclick: () => replace(box, open) }, t("report.cancel"));
    confirm.addEventListener("click", () =>
      busy(confirm, alert, async () => {
        let already = false;
        try {
          await client.report(message, select.value);
        } catch (error) {
          if (error?.code !== "report_already_filed") throw error;
          already = true;
        }
        reported.add(message.seq);
        replace(box, reportedLine(client, message, name, alert, already));
        announce(already ? t("report.already") : t("report.done"));
      }),
    );
    replace(
      box,
      h(
        "div",
        { class: "report-form", role: "group", "aria-label": t("report.open") },
        h("p", { class: "hint" }, t("report.lead")),
        h("div", { class: "field" }, h("label", { for: id }, t("report.category")), select),
        h("div", { class: "row-actions" }, confirm, cancel),
      ),
    );
    focus(select);
  });
  box.append(open);
  return box;
}
