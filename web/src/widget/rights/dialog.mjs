// A modal confirmation for the rights pages: a <dialog> (focus stays in it, Escape
// closes it, focus returns to the button that opened it), with the consequence said
// in words before anything is done.

import { h } from "../../ui/dom.mjs";
import { errorLine, errorText, showError } from "../forms.mjs";

/**
 * Opens a dialog titled `title` with `lead`; `choices` are [{label, run, kind}]:
 * each button runs its `run()` (errors shown in the dialog), closes it, then calls
 * its `after()` if any (e.g. showing another view).
 * A last "cancel" button (`cancel` label) just closes it.
 */
export function confirmDialog(widget, { id, title, lead, choices, cancel, body = null }) {
  const opener = document.activeElement;
  const errors = errorLine();
  const titleId = `${id}-title`;
  const dialog = h("dialog", { class: "w-dialog", id, "aria-labelledby": titleId });
  const close = () => dialog.close();
  const cancelButton = h("button", { type: "button", class: "button secondary", onclick: close }, cancel);
  const buttons = choices.map(({ label, run, after = null, kind = "primary" }) =>
    h("button", {
      type: "button",
      class: ["button", kind],
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          await run();
          close();
          after?.();
        } catch (error) {
          event.currentTarget.disabled = false;
          showError(errors, errorText(error));
        }
      },
    }, label),
  );
  // Node.append() would write a missing lead or body as the text "null".
  const parts = [
    h("h2", { id: titleId, class: "w-dialog-title" }, title),
    lead ? h("p", { class: "w-lead" }, lead) : null,
    body,
    errors,
    h("div", { class: "w-actions w-dialog-actions" }, ...buttons, cancelButton),
  ];
  dialog.append(...parts.filter((part) => part !== null && part !== undefined));
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener?.focus?.();
  });
  widget.openDialog(dialog);
  // Focus on the harmless way out: Enter on an opened dialog must not act.
  cancelButton.focus();
  return dialog;
}
