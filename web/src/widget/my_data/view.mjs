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
    ...dataSections(sessionAccess(widget)),
  ];
}

/**
 * How the sections reach the server. With a session (this page) each action asks
 * for the password again; a suspended account's page (suspended.mjs) has no session
 * and asked for the login's proof once, so `askPassword` is false there.
 *   {askPassword, erasure() -> view | undefined, exportData(password) -> Blob,
 *    requestErasure(password), cancelErasure(), texts?: {key: key in its place}}
 */
function sessionAccess(widget) {
  return {
    askPassword: true,
    erasure: () => widget.client.me?.erasure,
    exportData: (password) => widget.client.exportData(password),
    requestErasure: (password) => widget.client.requestErasure(password),
    cancelErasure: () => widget.client.cancelErasure(),
  };
}

/** The export and the erasure sections, through `access` (above). */
export function dataSections(access) {
  return [exportSection(access), erasureSection(access)];
}

function passwordField(access) {
  if (!access.askPassword) return null;
  return field({ label: t("field.password"), name: "password", type: "password", autocomplete: "current-password", required: true });
}

/** The export form's fieldset: only the password, when it is asked for. */
function passwordFieldset(access) {
  return access.askPassword ? h("fieldset", {}, passwordField(access)) : null;
}

function passwordMissing(access, password) {
  return access.askPassword && !password ? t("mydata.password.missing") : null;
}

function exportSection(access) {
  const errors = errorLine();
  const done = h("p", { class: "w-saved", role: "status" });
  const form = h("form", { class: "w-form", novalidate: true }, passwordFieldset(access), errors, done, submit(t("mydata.export.button")));
  onSubmit(
    form,
    errors,
    async ({ password }) => {
      done.textContent = "";
      const archive = await access.exportData(password);
      form.reset();
      saveFile(archive, "carechat-export.zip");
      done.textContent = t("mydata.export.done");
    },
    ({ password }) => passwordMissing(access, password),
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

function erasureSection(access) {
  const section = h("section", { class: "w-step", "aria-labelledby": "w-erasure-title" });
  const status = h("p", { class: "w-saved", role: "status" });
  const render = (message = "") => {
    const pending = access.erasure();
    status.textContent = message;
    section.replaceChildren(
      h("h2", { id: "w-erasure-title", class: "w-subtitle" }, t("mydata.erase.title")),
      ...(pending?.pending ? pendingErasure(access, pending, render) : erasureRequest(access, render)),
      status,
    );
  };
  render();
  return section;
}

/** A text of this page, or the one `access.texts` puts in its place. */
function text(access, key, vars = undefined) {
  return t(access.texts?.[key] ?? key, vars);
}

function pendingErasure(access, pending, render) {
  const errors = errorLine();
  const cancel = async () => {
    try {
      await access.cancelErasure();
      render(t("mydata.erase.cancelled"));
    } catch (error) {
      showError(errors, errorText(error));
    }
  };
  return [
    h("p", { class: "w-notice" }, t("mydata.erase.pending", { date: formatTime(pending.erase_after, { dateStyle: "long" }) })),
    h("p", {}, text(access, "mydata.erase.pending.lead")),
    h("div", { class: "w-actions" }, action(t("mydata.erase.cancel"), cancel, "primary")),
    errors,
  ];
}

function erasureRequest(access, render) {
  const errors = errorLine();
  const confirm = field({ label: t("mydata.erase.confirm"), name: "confirm", type: "checkbox", value: "yes" });
  confirm.classList.add("check");
  // A checkbox reads best with its label after it.
  confirm.append(confirm.querySelector("label"));
  const form = h("form", { class: "w-form", novalidate: true }, h("fieldset", {}, passwordField(access), confirm), errors, submit(t("mydata.erase.button")));
  onSubmit(
    form,
    errors,
    async ({ password }) => {
      await access.requestErasure(password);
      render(t("mydata.erase.requested"));
    },
    ({ password, confirm: confirmed }) => passwordMissing(access, password) ?? (confirmed !== "yes" ? t("mydata.erase.confirm.missing") : null),
  );
  return [
    h("p", {}, t("mydata.erase.lead")),
    h("ul", {}, h("li", {}, t("mydata.erase.removed")), h("li", {}, t("mydata.erase.kept")), h("li", {}, text(access, "mydata.erase.grace"))),
    form,
  ];
}
