// This browser's device keys. The first time an account signs in anywhere it creates
// its root key and this device, then seals them under a recovery passphrase (the
// encrypted backup the server stores and cannot open). Signing in from a new browser
// restores from that backup with the passphrase and adds this browser as a device.
// Every secret stays in the client library's keystore; this view only sees the
// passphrase, which it hands over and never keeps.
import { focusFirst, h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { alertBox, busy } from "./feedback.mjs";
import { languageSwitcher } from "./language.mjs";

// The Python SDK's minimum (e2e_crypto/backup.py); the library refuses shorter ones too.
const MIN_PASSPHRASE = 12;

function passphraseField(id, label, autocomplete) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, type: "password", autocomplete, minlength: String(MIN_PASSPHRASE), required: true }),
  );
}

export function keysView(client, done) {
  const firstDevice = !client.me?.root_key;
  const alert = alertBox();
  const working = h("p", { class: "working", role: "status", hidden: true }, t("keys.working"));
  const submit = h("button", { type: "submit", class: "primary" }, t(firstDevice ? "keys.create" : "keys.restore"));
  const fields = firstDevice
    ? [
        passphraseField("passphrase", t("keys.passphrase"), "new-password"),
        passphraseField("passphrase-again", t("keys.passphrase_again"), "new-password"),
      ]
    : [passphraseField("passphrase", t("keys.passphrase"), "current-password")];
  const form = h(
    "form",
    {
      class: "stack",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const passphrase = form.elements.passphrase.value;
        if (passphrase.length < MIN_PASSPHRASE) {
          alert.show(t("keys.too_short", { min: MIN_PASSPHRASE }));
          return;
        }
        if (firstDevice && passphrase !== form.elements["passphrase-again"].value) {
          alert.show(t("keys.mismatch"));
          return;
        }
        busy(submit, alert, async () => {
          working.hidden = false;
          try {
            if (firstDevice) {
              await client.createKeys();
              await client.backupKeys(passphrase);
            } else {
              await client.restoreKeys(passphrase);
            }
          } finally {
            working.hidden = true;
          }
          done();
        });
      },
    },
    ...fields,
    alert.element,
    working,
    submit,
  );
  const signOut = h(
    "button",
    {
      type: "button",
      class: "quiet",
      onclick: () => busy(signOut, alert, async () => {
        await client.logout();
        done();
      }),
    },
    t("nav.sign_out"),
  );
  const section = h(
    "section",
    { class: "card narrow", "aria-labelledby": "card-title" },
    h("div", { class: "card-head" }, h("p", { class: "brand" }, "CareChat"), languageSwitcher()),
    h("h1", { id: "card-title" }, t(firstDevice ? "keys.create_title" : "keys.restore_title")),
    h("p", { class: "lead" }, t(firstDevice ? "keys.create_lead" : "keys.restore_lead")),
    form,
    h("div", { class: "actions" }, signOut),
  );
  queueMicrotask(() => focusFirst(form));
  return section;
}
