// This browser's keys: created here on the first device (then sealed under a recovery
// passphrase the patient chooses and confirms), or restored from that backup on a new
// browser. The passphrase goes to the client library only, which derives the backup
// key in the page: the server receives the sealed backup, never the passphrase.

import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { PageError, action, errorLine, field, onSubmit, submit } from "../forms.mjs";
import { heading } from "../shell.mjs";

// Long enough to survive an offline guessing attempt on the stolen backup; the
// client library's key derivation is deliberately slow on top of that.
export const MIN_PASSPHRASE = 16;

/** First device: a recovery passphrase, typed twice, then keys are made and sealed. */
export function createKeysView(widget) {
  const errors = errorLine();
  const passphrase = field({
    label: t("keys.passphrase"),
    name: "passphrase",
    type: "password",
    autocomplete: "new-password",
    required: true,
    minlength: MIN_PASSPHRASE,
    hint: t("keys.passphrase.hint", { n: MIN_PASSPHRASE }),
  });
  const confirm = field({
    label: t("keys.confirm"),
    name: "confirm",
    type: "password",
    autocomplete: "new-password",
    required: true,
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("legend", { class: "visually-hidden" }, t("keys.title")), passphrase, confirm),
    errors,
    submit(t("keys.submit")),
  );
  onSubmit(
    form,
    errors,
    async (values) => {
      // A failed backup after the keys exist is retried alone: a second createKeys
      // would be a new identity.
      if (!widget.client.hasKeys) {
        await widget.client.createKeys();
      }
      await widget.client.backupKeys(values.passphrase);
      await widget.ready();
    },
    (values) => {
      if (values.passphrase.length < MIN_PASSPHRASE) {
        return t("keys.passphrase.short", { n: MIN_PASSPHRASE });
      }
      if (values.passphrase !== values.confirm) {
        return t("keys.mismatch");
      }
      return null;
    },
  );
  return [
    ...heading(t("keys.title"), t("keys.lead")),
    h("p", { class: "w-callout" }, t("keys.warning")),
    form,
  ];
}

/** A new browser for an account that has keys: open the backup with the passphrase. */
export function restoreKeysView(widget, { revoked = false } = {}) {
  const errors = errorLine();
  const passphrase = field({
    label: t("keys.passphrase"),
    name: "passphrase",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("legend", { class: "visually-hidden" }, t("restore.title")), passphrase),
    errors,
    submit(t("restore.submit")),
  );
  onSubmit(form, errors, async (values) => {
    try {
      await widget.client.restoreKeys(values.passphrase);
    } catch (error) {
      // A wrong passphrase fails in the page (the backup does not open), not at the
      // server; a server's refusal is an ApiError (with a status) and says itself.
      if (!(error instanceof TypeError) && typeof error?.status !== "number") {
        throw new PageError("wrong_passphrase");
      }
      throw error;
    }
    await widget.ready();
  });
  return [
    ...heading(t("restore.title"), t("restore.lead")),
    revoked ? h("p", { class: "w-callout", role: "status" }, t("restore.revoked")) : null,
    form,
    h("p", { class: "w-switch" }, t("restore.lost"), " ", action(t("menu.signout"), () => widget.signOut(), "link")),
  ];
}
