// An invitation link from a practice (`<public url>/invite#<code>`). The patient signs
// in (or signs up) first; the code waits in memory and is accepted once this browser
// has keys. An expired, used or otherwise unknown code gets a page that says so and
// what to do, never a blank page.

import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { action, errorText } from "../forms.mjs";
import { heading } from "../shell.mjs";

export function invitationView(widget, code) {
  const status = h("p", { class: "w-loading", role: "status" }, t("invitation.accepting"));
  const body = h("div", { class: "w-step" }, status);
  widget.client
    .acceptInvitation(code)
    .then((link) => {
      widget.pending.invitation = null;
      // The conversation to offer next is with whoever invited the patient.
      const provider = link?.provider;
      if (provider && ["practice", "practitioner"].includes(provider.kind) && provider.id) {
        widget.provider = { kind: provider.kind, id: provider.id };
      }
      widget.show(invitationAcceptedView);
    })
    .catch((error) => {
      widget.pending.invitation = null;
      if (error?.code === "invalid_code" || error?.code === "not_found") {
        widget.show(invitationInvalidView);
      } else {
        status.textContent = errorText(error);
        body.append(action(t("invitation.continue"), () => widget.home()));
      }
    });
  return [...heading(t("invitation.title")), body];
}

function invitationAcceptedView(widget) {
  return [
    ...heading(t("invitation.accepted.title"), t("invitation.accepted.lead")),
    h("div", { class: "w-actions" }, action(t("invitation.continue"), () => widget.home(), "primary")),
  ];
}

export function invitationInvalidView(widget) {
  return [
    ...heading(t("invitation.invalid.title"), t("invitation.invalid.lead")),
    h("p", { class: "w-callout" }, t("invitation.invalid.next")),
    h("div", { class: "w-actions" }, action(t("invitation.continue"), () => widget.home())),
  ];
}
