// "My data" for a suspended account (docs/gdpr.md): the suspension ended its sessions
// and refuses new ones, yet the rights to one's data do not depend on good behaviour.
// The page first asks for the login's proof (address and password, checked and
// rate-limited as a login by the server), then offers the same export and erasure
// sections as the signed-in "My data" page, each request carrying that proof to
// /api/v1/personal-data/* (client/personal_data.mjs).
//
// The proof lives in this view's state only (in memory, never stored), so that a
// language switch re-renders without asking again; leaving the view drops it. It is
// asked for here even right after a refused sign-in: a suspension screen left open
// on a shared computer must not be enough to take someone's data or erase it.

import { PersonalDataClient } from "../../client/index.mjs";
import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { action, errorLine, field, onSubmit, submit } from "../forms.mjs";
import { heading } from "../shell.mjs";
import "./i18n.mjs";
import { dataSections } from "./view.mjs";

/** What the view remembers across re-renders: `back` shows the suspension again. */
export function suspendedDataState({ email = "", back }) {
  return { email, back, proof: null, erasure: null, totp: false };
}

/** The suspension screen's way in: a short section with the button to this view. */
export function suspendedDataEntry(widget, state) {
  return h(
    "section",
    { class: "w-step", "aria-labelledby": "w-suspended-data-title" },
    h("h2", { id: "w-suspended-data-title", class: "w-subtitle" }, t("mydata.suspended.entry.title")),
    h("p", {}, t("mydata.suspended.entry.lead")),
    h("div", { class: "w-actions" }, action(t("mydata.suspended.entry.open"), () => widget.show(suspendedDataView, state))),
  );
}

export function suspendedDataView(widget, state) {
  const back = () => {
    state.proof = null;
    state.erasure = null;
    state.back();
  };
  return [
    h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: back }, t("mydata.back"))),
    ...heading(t("mydata.title"), t("mydata.suspended.lead")),
    ...(state.proof ? dataSections(proofAccess(widget, state)) : [proofForm(widget, state)]),
  ];
}

function proofForm(widget, state) {
  const errors = errorLine();
  const email = field({ label: t("field.email"), name: "email", type: "email", autocomplete: "email", required: true, value: state.email });
  const password = field({ label: t("field.password"), name: "password", type: "password", autocomplete: "current-password", required: true });
  // Asked for only once the server said the account has two-factor login set up.
  const code = state.totp
    ? field({ label: t("mydata.suspended.proof.totp"), name: "totp", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 10 })
    : null;
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("legend", { class: "visually-hidden" }, t("mydata.suspended.proof.title")), email, password, code),
    errors,
    submit(t("mydata.suspended.proof.submit")),
  );
  onSubmit(
    form,
    errors,
    async (values) => {
      const proof = { email: values.email.trim(), password: values.password, totpCode: values.totp?.trim() || null };
      try {
        // The erasure's state is the first answer: it also checks the proof.
        state.erasure = await new PersonalDataClient(widget.client).erasure(proof);
      } catch (error) {
        if (error?.code !== "totp_required" || state.totp) throw error;
        state.email = proof.email;
        state.totp = true;
        widget.show(suspendedDataView, state);
        return;
      }
      state.email = proof.email;
      state.proof = proof;
      widget.show(suspendedDataView, state);
    },
    (values) => (!values.email.includes("@") || !values.password ? t("mydata.suspended.proof.missing") : null),
  );
  return h(
    "section",
    { class: "w-step", "aria-labelledby": "w-proof-title" },
    h("h2", { id: "w-proof-title", class: "w-subtitle" }, t("mydata.suspended.proof.title")),
    h("p", {}, t("mydata.suspended.proof.lead")),
    form,
  );
}

/** The sections' access (view.mjs) through the session-less routes, with the proof. */
function proofAccess(widget, state) {
  const data = new PersonalDataClient(widget.client);
  return {
    askPassword: false,
    // A suspended account cannot sign in: it comes back to this page instead.
    texts: {
      "mydata.erase.grace": "mydata.suspended.erase.grace",
      "mydata.erase.pending.lead": "mydata.suspended.erase.pending.lead",
    },
    erasure: () => state.erasure,
    exportData: () => data.exportData(state.proof),
    requestErasure: async () => {
      state.erasure = await data.requestErasure(state.proof);
    },
    cancelErasure: async () => {
      await data.cancelErasure(state.proof);
      state.erasure = { pending: false };
    },
  };
}
