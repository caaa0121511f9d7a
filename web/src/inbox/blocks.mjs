// Blocks in the practitioner's inbox: "Block this account" on a thread (any state:
// unlike the thread's own "block" answer to a request, it keeps the two accounts apart
// everywhere, chat_server/handlers/blocks.py) and the list of blocked accounts in the
// settings, each with "Unblock". Also the sentences of the refusals these rights cause
// (a blocked account, a report to the GP without the patient's consent).
import { RightsClient } from "../client/index.mjs";
import { announce, h, replace } from "../ui/dom.mjs";
import { formatTime, registerMessages, t } from "../ui/i18n.mjs";
import { alertBox, busy } from "./feedback.mjs";

registerMessages("en", {
  "blocks.action": "Block this account",
  "blocks.confirm": "Block? Press again",
  "blocks.done": "{name} is blocked. Undo it in Settings.",
  "blocks.title": "Blocked accounts",
  "blocks.lead": "Accounts you blocked cannot request a conversation with you, send you messages or see when you type.",
  "blocks.none": "You have not blocked anyone.",
  "blocks.since": "blocked on {at}",
  "blocks.unblock": "Unblock",
  "blocks.unblocked": "Unblocked.",
  "error.account_blocked": "One of you has blocked the other: nothing can be sent.",
  "error.consent_required": "The patient has not agreed to this (for a report to their GP: the patient's consent is needed first).",
});
registerMessages("fr", {
  "blocks.action": "Bloquer ce compte",
  "blocks.confirm": "Bloquer ? Appuyez encore",
  "blocks.done": "{name} est bloqué. Annulez-le dans les paramètres.",
  "blocks.title": "Comptes bloqués",
  "blocks.lead": "Les comptes que vous bloquez ne peuvent plus vous demander de conversation, vous envoyer de messages ni voir quand vous écrivez.",
  "blocks.none": "Vous n'avez bloqué personne.",
  "blocks.since": "bloqué le {at}",
  "blocks.unblock": "Débloquer",
  "blocks.unblocked": "Débloqué.",
  "error.account_blocked": "L'un de vous a bloqué l'autre : rien ne peut être envoyé.",
  "error.consent_required": "Le patient n'a pas donné son accord (pour un rapport à son médecin traitant, son consentement est d'abord nécessaire).",
});
registerMessages("nl", {
  "blocks.action": "Dit account blokkeren",
  "blocks.confirm": "Blokkeren? Druk opnieuw",
  "blocks.done": "{name} is geblokkeerd. Maak het ongedaan in Instellingen.",
  "blocks.title": "Geblokkeerde accounts",
  "blocks.lead": "Accounts die u blokkeert, kunnen u geen gesprek meer vragen, geen berichten sturen en niet zien wanneer u typt.",
  "blocks.none": "U hebt niemand geblokkeerd.",
  "blocks.since": "geblokkeerd op {at}",
  "blocks.unblock": "Deblokkeren",
  "blocks.unblocked": "Gedeblokkeerd.",
  "error.account_blocked": "Een van u heeft de ander geblokkeerd: er kan niets worden verzonden.",
  "error.consent_required": "De patiënt heeft hier niet mee ingestemd (voor een verslag aan de huisarts is eerst de toestemming van de patiënt nodig).",
});

function rightsOf(client) {
  client.rights ??= new RightsClient(client);
  return client.rights;
}

/** The thread header's "Block this account" (pressed twice: it asks first). */
export function blockButton(client, accountId, name, alert) {
  const button = h("button", { type: "button", class: "small danger", dataset: { action: "block-account" } }, t("blocks.action"));
  button.addEventListener("click", () => {
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      replace(button, t("blocks.confirm"));
      return;
    }
    busy(button, alert, async () => {
      await rightsOf(client).block(accountId);
      const done = t("blocks.done", { name });
      replace(button, done);
      button.disabled = true;
      announce(done);
    });
  });
  return button;
}

/** The settings' list of blocked accounts, each with "Unblock". `nameOf(id)`. */
export function blocksBlock(client, nameOf = (id) => id) {
  const alert = alertBox();
  const saved = h("p", { class: "saved", role: "status" });
  const list = h("ul", { class: "blocked-accounts" }, h("li", { class: "loading" }, t("thread.loading")));
  const load = async () => {
    try {
      const blocks = await rightsOf(client).blocks();
      replace(
        list,
        blocks.length
          ? blocks.map((b) => {
              const unblock = h("button", { type: "button", class: "small", dataset: { account: b.accountId } }, t("blocks.unblock"));
              unblock.addEventListener("click", () =>
                busy(unblock, alert, async () => {
                  await rightsOf(client).unblock(b.accountId);
                  replace(saved, t("blocks.unblocked"));
                  announce(t("blocks.unblocked"));
                  await load();
                }),
              );
              return h(
                "li",
                { dataset: { account: b.accountId } },
                h("span", { class: "blocked-name" }, nameOf(b.accountId)),
                h("time", { datetime: b.since }, t("blocks.since", { at: formatTime(b.since) })),
                unblock,
              );
            })
          : [h("li", {}, t("blocks.none"))],
      );
    } catch (error) {
      replace(list);
      alert.show(error);
    }
  };
  load();
  return h(
    "section",
    { class: "settings-block", "aria-labelledby": "blocks-title" },
    h("h2", { id: "blocks-title" }, t("blocks.title")),
    h("p", { class: "hint" }, t("blocks.lead")),
    list,
    saved,
    alert.element,
  );
}
