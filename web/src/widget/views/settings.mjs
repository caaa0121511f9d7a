// The patient's settings: how they are told that a message is waiting (the reminder
// never contains the message, its sender or the practice's specialty), and signing
// out of this browser.

import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, onSubmit, showError, submit, uid } from "../forms.mjs";
import { heading } from "../shell.mjs";

// The channels a reminder can go by (client.notificationPreferences(): {email, sms}).
const CHANNELS = ["email", "sms"];

export function settingsView(widget) {
  return [
    h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: () => widget.home() }, t("settings.back"))),
    ...heading(t("settings.title")),
    h("p", { class: "w-lead" }, t("prefs.lead")),
    preferencesForm(widget),
    signOutSection(widget),
  ];
}

function preferencesForm(widget) {
  const errors = errorLine();
  const saved = h("p", { class: "w-saved", role: "status" });
  const fieldset = h("fieldset", { class: "w-prefs" }, h("legend", {}, t("prefs.legend")), h("p", { class: "w-loading" }, t("prefs.loading")));
  const form = h("form", { class: "w-form", novalidate: true }, fieldset, errors, saved, submit(t("prefs.save")));
  let current = {};
  widget.client
    .notificationPreferences()
    .then((prefs) => {
      current = prefs ?? {};
      fieldset.lastChild.remove();
      for (const name of CHANNELS.filter((c) => typeof current[c] === "boolean")) {
        const id = uid(`pref-${name}`);
        fieldset.append(
          h(
            "div",
            { class: "field check" },
            h("input", { type: "checkbox", id, name, checked: current[name] }),
            h("label", { for: id }, t(`prefs.${name}`)),
          ),
        );
      }
    })
    .catch((error) => {
      fieldset.lastChild.textContent = errorText(error);
      form.querySelector("button[type=submit]").hidden = true;
    });
  onSubmit(form, errors, async () => {
    const next = { ...current };
    for (const box of fieldset.querySelectorAll("input[type=checkbox]")) {
      next[box.name] = box.checked;
    }
    saved.textContent = "";
    const answer = await widget.client.setNotificationPreferences(next);
    current = answer ?? next;
    saved.textContent = t("prefs.saved");
  });
  return form;
}

function signOutSection(widget) {
  const signOutErrors = errorLine();
  // Forgetting the keys also revokes this browser's device: on a shared computer
  // nothing is left that could read the conversation, and the passphrase restores it.
  const leave = async (forgetKeys) => {
    try {
      await widget.signOut({ forgetKeys });
    } catch (error) {
      showError(signOutErrors, errorText(error));
    }
  };
  return h(
    "section",
    { class: "w-step", "aria-labelledby": "w-signout-title" },
    h("h2", { id: "w-signout-title", class: "w-subtitle" }, t("settings.device")),
    h("p", {}, t("settings.device.lead")),
    h(
      "div",
      { class: "w-actions" },
      action(t("menu.signout"), () => leave(false)),
      action(t("settings.forget"), () => leave(true)),
    ),
    h("p", { class: "field-hint" }, t("settings.forget.hint")),
    signOutErrors,
  );
}
