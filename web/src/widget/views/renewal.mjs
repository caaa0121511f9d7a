// The prescription-renewal request: a small form in a modal <dialog> (focus stays in
// it, Escape closes it, focus returns to the button that opened it). It sends a typed
// `renewal_request` payload, which the practitioner's inbox shows as a card with
// approve/decline answers rather than as free text.

import { focusFirst, h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { errorLine, field, onSubmit } from "../forms.mjs";
import { renewalRequest } from "../payloads.mjs";

const MAX_SHORT = 200;

export function renewalDialog(widget, send) {
  const opener = document.activeElement;
  const errors = errorLine();
  const drug = field({ label: t("renewal.drug"), name: "drug", required: true, maxlength: MAX_SHORT, autocomplete: "off" });
  const dose = field({
    label: t("renewal.dose"),
    name: "dose",
    required: true,
    maxlength: MAX_SHORT,
    autocomplete: "off",
    hint: t("renewal.dose.hint"),
  });
  const pharmacy = field({ label: t("renewal.pharmacy"), name: "pharmacy", required: true, maxlength: MAX_SHORT, autocomplete: "off" });
  const note = field({ label: t("renewal.note.optional"), name: "note", multiline: true, maxlength: 2000 });
  const titleId = "w-renewal-title";
  const dialog = h("dialog", { class: "w-dialog", "aria-labelledby": titleId });
  const close = () => dialog.close();
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("h2", { id: titleId, class: "w-dialog-title" }, t("renewal.title")),
    h("p", { class: "w-lead" }, t("renewal.lead")),
    h("fieldset", {}, drug, dose, pharmacy, note),
    errors,
    h(
      "div",
      { class: "w-actions" },
      h("button", { type: "submit", class: "button primary" }, t("renewal.submit")),
      h("button", { type: "button", class: "button secondary", onclick: close }, t("renewal.cancel")),
    ),
  );
  onSubmit(
    form,
    errors,
    async (values) => {
      await send(renewalRequest(values));
      close();
    },
    (values) => (values.drug.trim() && values.dose.trim() && values.pharmacy.trim() ? null : t("renewal.incomplete")),
  );
  dialog.append(form);
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus?.();
  });
  widget.openDialog(dialog);
  focusFirst(form);
}
