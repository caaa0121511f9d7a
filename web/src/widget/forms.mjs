// Form building blocks for the widget's views: a labelled field, an error line tied
// to its form, and a submit handler that disables the form while it works and turns
// any failure into a sentence the patient can act on (never a stack trace, never the
// server's English title in a French page).

import { announce, focus, h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";

let nextId = 0;

/** A unique id for label/field pairs (a view can be rendered more than once). */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * A labelled input: `{label, name, type, autocomplete, hint, required, value, ...}`.
 * Returns the wrapper; the input is `wrapper.input`.
 */
export function field({ label, name, type = "text", hint = null, multiline = false, ...rest }) {
  const id = uid(`f-${name}`);
  const hintId = hint ? `${id}-hint` : null;
  const attrs = { id, name, "aria-describedby": hintId, ...rest };
  const input = multiline ? h("textarea", { rows: 3, ...attrs }) : h("input", { type, ...attrs });
  const wrapper = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "field-hint", id: hintId }, hint) : null,
    input,
  );
  wrapper.input = input;
  return wrapper;
}

/** The one error line of a form: role="alert" so it is read out when it appears. */
export function errorLine() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

export function showError(line, text) {
  line.textContent = text;
  line.hidden = false;
}

export function hideError(line) {
  line.textContent = "";
  line.hidden = true;
}

/** A failure found in the page itself, with a code of the same `error.<code>` texts. */
export class PageError extends Error {
  constructor(code) {
    super(code);
    this.name = "PageError";
    this.code = code;
  }
}

/** The text to show for a failure from the client library (ApiError or anything else). */
export function errorText(error) {
  const code = error?.code;
  if (typeof code === "string") {
    const key = `error.${code}`;
    const text = t(key);
    if (text !== key) {
      return text;
    }
  }
  if (error?.status === 429) {
    return t("error.rate_limited");
  }
  if (error instanceof TypeError || error?.status === 0) {
    return t("error.network");
  }
  return t("error.generic");
}

/**
 * Wires `form`'s submit to `action(values)`: the form is busy (fieldset disabled,
 * aria-busy) while it runs; a thrown error is shown in `errors` and announced. `check`
 * may return an error text to refuse the submit before anything is sent.
 */
export function onSubmit(form, errors, action, check = null) {
  // A correction makes the last complaint stale: it goes as soon as the user edits.
  form.addEventListener("input", () => hideError(errors));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    const refused = check ? check(values) : null;
    if (refused) {
      showError(errors, refused);
      focus(errors);
      return;
    }
    hideError(errors);
    const fieldset = form.querySelector("fieldset");
    if (fieldset) {
      fieldset.disabled = true;
    }
    form.setAttribute("aria-busy", "true");
    try {
      await action(values);
    } catch (error) {
      showError(errors, errorText(error));
      announce(errors.textContent, { assertive: true });
    } finally {
      if (fieldset) {
        fieldset.disabled = false;
      }
      form.setAttribute("aria-busy", "false");
    }
  });
}

/** A primary submit button with a label that says what it does. */
export function submit(label) {
  return h("button", { type: "submit", class: "button primary" }, label);
}

/** A secondary action that is a button, not a link (no navigation in the frame). */
export function action(label, onclick, kind = "secondary") {
  return h("button", { type: "button", class: ["button", kind], onclick }, label);
}
