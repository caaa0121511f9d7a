// Signing in to the console and this browser's keys, with the client library directly
// (the inbox's sign-in lives on another branch and is bound to the inbox's frame).
// A practitioner signs in with a password and, once TOTP is set up, its code; keys are
// created here on a first device (sealed under a recovery passphrase) or restored from
// that backup. The passphrase never leaves the page.

import { ApiError } from "../client/index.mjs";
import { h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { suspensionNotice, suspensionOf } from "../ui/suspension.mjs";
import { PageError, errorText, field, form } from "./forms.mjs";

const MIN_PASSPHRASE = 16;

export function signInView(console_, { ended = false } = {}) {
  const email = field({ label: t("signin.email"), name: "email", type: "email", autocomplete: "username", required: true });
  const password = field({ label: t("signin.password"), name: "password", type: "password", autocomplete: "current-password", required: true });
  const totp = field({ label: t("signin.totp"), name: "totp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 8 });
  totp.hidden = true;
  const signIn = form({
    fields: [email, password, totp],
    submit: t("signin.submit"),
    action: async (values) => {
      try {
        await console_.client.login(values.email.trim(), values.password, values.totp?.trim() || null);
      } catch (error) {
        const suspension = suspensionOf(error);
        if (suspension) {
          // The right password, a suspended account: why, and where to appeal.
          console_.show(suspendedView, suspension);
          return;
        }
        if (error instanceof ApiError && error.code === "totp_required") {
          totp.hidden = false;
          totp.input.focus();
        }
        throw error;
      }
      await console_.signedIn();
    },
  });
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("signin.title")),
    h("p", { class: "lead" }, t("signin.lead")),
    ended ? h("p", { class: "alert", role: "alert" }, t("signin.ended")) : null,
    signIn,
  );
}

/**
 * A suspended account (the GP-panel and practice consoles): the moderators' reason
 * and where to appeal, from the refused sign-in or (reason only) the closed socket.
 */
export function suspendedView(console_, suspension) {
  return h("div", { class: "card narrow" }, suspensionNotice(suspension, { signIn: () => console_.show(signInView) }));
}

export function keysView(console_) {
  const restoring = Boolean(console_.client.me?.root_key);
  const passphrase = field({
    label: t("keys.passphrase"),
    name: "passphrase",
    type: "password",
    autocomplete: restoring ? "current-password" : "new-password",
    required: true,
  });
  const confirm = restoring
    ? null
    : field({ label: t("keys.confirm"), name: "confirm", type: "password", autocomplete: "new-password", required: true });
  const keys = form({
    fields: [passphrase, confirm],
    submit: restoring ? t("keys.restore") : t("keys.create"),
    check: (values) => {
      if (restoring) return null;
      if (values.passphrase.length < MIN_PASSPHRASE) return t("keys.passphrase.short", { n: MIN_PASSPHRASE });
      return values.passphrase === values.confirm ? null : t("keys.mismatch");
    },
    action: async (values) => {
      if (restoring) {
        try {
          await console_.client.restoreKeys(values.passphrase);
        } catch (error) {
          if (error instanceof ApiError || error instanceof TypeError) throw error;
          throw new PageError(t("keys.wrong"));
        }
      } else {
        // A failed backup after the keys exist is retried alone: a second createKeys
        // would be a new identity.
        if (!console_.client.hasKeys) await console_.client.createKeys();
        await console_.client.backupKeys(values.passphrase);
      }
      await console_.ready();
    },
  });
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("keys.title")),
    h("p", { class: "lead" }, restoring ? t("keys.restore.lead") : t("keys.create.lead")),
    keys,
  );
}

export { errorText };
