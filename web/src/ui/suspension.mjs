// What a suspended person sees, on every page (widget, inbox, panel, practice
// console): why the moderators suspended the account and where to appeal. Two ways
// in: signing in is refused with `account_suspended`, whose problem+json carries
// `suspension: {action, reason, at, note?, appeal}` (moderation/sanctions.py
// Sanction.shown); and a live socket closed with 4003 `account suspended: <reason>`,
// which names only the reason — signing in again then gives the rest.
import { h } from "./dom.mjs";
import { formatTime, registerMessages, t } from "./i18n.mjs";

registerMessages("en", {
  "suspension.title": "This account is suspended",
  "suspension.reason": "Reason: {reason}",
  "suspension.since": "Since {at}",
  "suspension.note": "Message from the moderators: {note}",
  "suspension.appeal": "If you think this is a mistake, you can appeal:",
  "suspension.appeal.later": "Sign in again to see how to appeal.",
  "suspension.signin": "Sign in again",
  "suspension.reason.spam": "spam",
  "suspension.reason.harassment": "harassment",
  "suspension.reason.threats": "threats",
  "suspension.reason.impersonation": "impersonation",
  "suspension.reason.illegal_content": "illegal content",
  "suspension.reason.fraud": "fraud",
  "suspension.reason.terms_violation": "a breach of the terms of use",
  "suspension.reason.other": "another reason",
});
registerMessages("fr", {
  "suspension.title": "Ce compte est suspendu",
  "suspension.reason": "Motif : {reason}",
  "suspension.since": "Depuis le {at}",
  "suspension.note": "Message des modérateurs : {note}",
  "suspension.appeal": "Si vous pensez qu'il s'agit d'une erreur, vous pouvez faire appel :",
  "suspension.appeal.later": "Reconnectez-vous pour savoir comment faire appel.",
  "suspension.signin": "Se reconnecter",
  "suspension.reason.spam": "spam",
  "suspension.reason.harassment": "harcèlement",
  "suspension.reason.threats": "menaces",
  "suspension.reason.impersonation": "usurpation d'identité",
  "suspension.reason.illegal_content": "contenu illégal",
  "suspension.reason.fraud": "fraude",
  "suspension.reason.terms_violation": "un manquement aux conditions d'utilisation",
  "suspension.reason.other": "un autre motif",
});
registerMessages("nl", {
  "suspension.title": "Dit account is geschorst",
  "suspension.reason": "Reden: {reason}",
  "suspension.since": "Sinds {at}",
  "suspension.note": "Bericht van de moderatoren: {note}",
  "suspension.appeal": "Denkt u dat dit een vergissing is, dan kunt u in beroep gaan:",
  "suspension.appeal.later": "Meld u opnieuw aan om te zien hoe u in beroep kunt gaan.",
  "suspension.signin": "Opnieuw aanmelden",
  "suspension.reason.spam": "spam",
  "suspension.reason.harassment": "intimidatie",
  "suspension.reason.threats": "bedreigingen",
  "suspension.reason.impersonation": "zich voordoen als iemand anders",
  "suspension.reason.illegal_content": "illegale inhoud",
  "suspension.reason.fraud": "fraude",
  "suspension.reason.terms_violation": "een inbreuk op de gebruiksvoorwaarden",
  "suspension.reason.other": "een andere reden",
});

/** The `suspension` of a refused sign-in, or null for any other error. */
export function suspensionOf(error) {
  if (error?.code !== "account_suspended") return null;
  return error.suspension ?? {};
}

function reasonText(reason) {
  const key = `suspension.reason.${reason}`;
  const text = t(key);
  return text === key ? t("suspension.reason.other") : text;
}

// Only a mailto: or https: address becomes a link (the server's setting, but a page
// never turns an arbitrary string into a link).
function appealLink(appeal) {
  let url = null;
  try {
    url = new URL(String(appeal));
  } catch {
    url = null;
  }
  if (url && (url.protocol === "mailto:" || url.protocol === "https:")) {
    const shown = url.protocol === "mailto:" ? url.pathname : url.href;
    return h("a", { href: url.href, rel: "noopener noreferrer" }, shown);
  }
  return h("span", {}, String(appeal));
}

/**
 * The notice: `suspension` {reason, at?, note?, appeal?}; without `appeal` (a socket
 * closed by the suspension) it says to sign in again, and `signIn` (optional) is that
 * button's action. `className` lets each page style it its own way.
 */
export function suspensionNotice(suspension, { signIn = null, className = "" } = {}) {
  const at = suspension.at ? new Date(suspension.at) : null;
  return h(
    "section",
    { class: ["suspension", className], role: "alert", "aria-labelledby": "suspension-title", dataset: { reason: suspension.reason ?? "" } },
    h("h2", { id: "suspension-title" }, t("suspension.title")),
    suspension.reason ? h("p", { class: "suspension-reason" }, t("suspension.reason", { reason: reasonText(suspension.reason) })) : null,
    at && !Number.isNaN(at.getTime()) ? h("p", { class: "suspension-since" }, t("suspension.since", { at: formatTime(at) })) : null,
    suspension.note ? h("p", { class: "suspension-note" }, t("suspension.note", { note: suspension.note })) : null,
    suspension.appeal
      ? h("p", { class: "suspension-appeal" }, t("suspension.appeal"), " ", appealLink(suspension.appeal))
      : h("p", { class: "suspension-appeal" }, t("suspension.appeal.later")),
    signIn ? h("button", { type: "button", class: "button", onclick: signIn }, t("suspension.signin")) : null,
  );
}
