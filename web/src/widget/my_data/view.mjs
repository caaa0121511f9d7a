// "My data" (GDPR, docs/gdpr.md): download everything CareChat stores about me, ask
// for my account's erasure, cancel it within the grace period. Both actions ask for
// the password again (the server checks it): an open session on a shared computer is
// not enough to take someone's history or to erase it.
//
// The archive is ciphertext: the messages inside stay encrypted, and only the
// patient's keys (the recovery passphrase) open them (the Python SDK's ExportArchive).

import { h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, field, onSubmit, showError, submit } from "../forms.mjs";
import { heading } from "../shell.mjs";
import "./i18n.mjs";

export function myDataView(widget) {
  return [
    h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: () => widget.home() }, t("mydata.back"))),
    ...heading(t("mydata.title"), t("mydata.lead")),
    exportSection(widget),
    erasureSection(widget),
  ];
}

function passwordField() {
  return field({ label: t("field.password"), name: "password", type: "password", autocomplete: "current-password", required: true });
}

function exportSection(widget) {
  const errors = errorLine();
  const done = h("p", { class: "w-saved", role: "status" });
  const form = h("form", { class: "w-form", novalidate: true }, h("fieldset", {}, passwordField()), errors, done, submit(t("mydata.export.button")));
  onSubmit(
    form,
    errors,
    async ({ password }) => {
      done.textContent = "";
      const archive = await widget.client.exportData(password);
      form.reset();
      saveFile(archive, "carechat-export.zip");
      done.textContent = t("mydata.export.done");
    },
    ({ password }) => (password ? null : t("mydata.password.missing")),
  );
  return h(
    "section",
    { class: "w-step", "aria-labelledby": "w-export-title" },
    h("h2", { id: "w-export-title", class: "w-subtitle" }, t("mydata.export.title")),
    h("p", {}, t("mydata.export.lead")),
    form,
  );
}

/** Hands `blob` to the browser as a download (nothing leaves this frame otherwise). */
function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function erasureSection(widget) {
  const section = h("section", { class: "w-step", "aria-labelledby": "w-erasure-title" });
  const status = h("p", { class: "w-saved", role: "status" });
  const render = (message = "") => {
    const pending = widget.client.me?.erasure;
    status.textContent = message;
    section.replaceChildren(
      h("h2", { id: "w-erasure-title", class: "w-subtitle" }, t("mydata.erase.title")),
      ...(pending?.pending ? pendingErasure(widget, pending, render) : erasureRequest(widget, render)),
      status,
    );
  };
  render();
  return section;
}

function pendingErasure(widget, pending, render) {
  const errors = errorLine();
  const cancel = async () => {
    try {
      await widget.client.cancelErasure();
      render(t("mydata.erase.cancelled"));
    } catch (error) {
      showError(errors, errorText(error));
    }
  };
  return [
    h("p", { class: "w-notice" }, t("mydata.erase.pending", { date: formatTime(pending.erase_after, { dateStyle: "long" }) })),
    h("p", {}, t("mydata.erase.pending.lead")),
    h("div", { class: "w-actions" }, action(t("mydata.erase.cancel"), cancel, "primary")),
    errors,
  ];
}

function erasureRequest(widget, render) {
  const errors = errorLine();
  const confirm = field({ label: t("mydata.erase.confirm"), name: "confirm", type: "checkbox", value: "yes" });
  confirm.classList.add("check");
  // A checkbox reads best with its label after it.
  confirm.append(confirm.querySelector("label"));
  const form = h("form", { class: "w-form", novalidate: true }, h("fieldset", {}, passwordField(), confirm), errors, submit(t("mydata.erase.button")));
  onSubmit(
    form,
    errors,
    async ({ password }) => {
      await widget.client.requestErasure(password);
      render(t("mydata.erase.requested"));
    },
    ({ password, confirm: confirmed }) => (!password ? t("mydata.password.missing") : confirmed !== "yes" ? t("mydata.erase.confirm.missing") : null),
  );
  return [
    h("p", {}, t("mydata.erase.lead")),
    h("ul", {}, h("li", {}, t("mydata.erase.removed")), h("li", {}, t("mydata.erase.kept")), h("li", {}, t("mydata.erase.grace"))),
    form,
  ];
}
