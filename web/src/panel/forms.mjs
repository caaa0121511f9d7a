// The console's form building blocks: labelled fields, one error line per form read
// out when it appears, and a submit that disables the form while it works and turns a
// failure into a sentence (never a stack trace, never the server's English title).

import { announce, focus, h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";

let nextId = 0;

export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A failure the page words itself (its text is already translated). */
export class PageError extends Error {}

/** The text for a failure: the page's own, `error.<code>`, network, or generic. */
export function errorText(error) {
  if (error instanceof PageError) return error.message;
  if (typeof error?.code === "string") {
    const text = t(`error.${error.code}`);
    if (text !== `error.${error.code}`) return text;
  }
  if (error?.status === 429) return t("error.rate_limited");
  if (error instanceof TypeError || error?.status === 0) return t("error.network");
  return t("error.generic");
}

/** `{label, name, type, multiline, hint, ...attrs}` -> a wrapper; `.input` is the control. */
export function field({ label, name, type = "text", multiline = false, hint = null, ...rest }) {
  const id = uid(`p-${name}`);
  const hintId = hint ? `${id}-hint` : null;
  const attrs = { id, name, "aria-describedby": hintId, ...rest };
  const input = multiline ? h("textarea", { rows: 4, ...attrs }) : h("input", { type, ...attrs });
  const wrapper = h("div", { class: "field" }, h("label", { for: id }, label), hint ? h("p", { class: "hint", id: hintId }, hint) : null, input);
  wrapper.input = input;
  return wrapper;
}

/**
 * Keeps what is typed or chosen in `wrapper.input` across repaints of its pane (a
 * patient's message arriving repaints the open question): in `drafts` (a Map) under
 * `key`, until the caller deletes it once sent. A choice no longer offered falls back
 * to the first option.
 */
export function kept(drafts, key, wrapper) {
  const input = wrapper.input;
  if (drafts.has(key)) {
    input.value = drafts.get(key);
    if (input.tagName === "SELECT" && input.selectedIndex < 0) input.selectedIndex = 0;
  }
  input.addEventListener("input", () => drafts.set(key, input.value));
  return wrapper;
}

/** A labelled <select> of [value, text] pairs. */
export function choice({ label, name, options }) {
  const id = uid(`p-${name}`);
  const select = h("select", { id, name }, options.map(([value, text]) => h("option", { value }, text)));
  const wrapper = h("div", { class: "field" }, h("label", { for: id }, label), select);
  wrapper.input = select;
  return wrapper;
}

export function errorLine() {
  return h("p", { class: "alert", role: "alert", hidden: true });
}

export function showError(line, error) {
  line.textContent = typeof error === "string" ? error : errorText(error);
  line.hidden = false;
  announce(line.textContent, { assertive: true });
}

/**
 * A form: `fields`, a primary `submit` label, `action(values, submitter)`, an optional
 * `check(values)` returning a refusal text, and `extra` buttons (type=submit with a
 * `value` tell the action which one was pressed).
 */
export function form({ fields, submit, action, check = null, extra = [], className = "stack" }) {
  const errors = errorLine();
  const el = h(
    "form",
    { class: className, novalidate: true },
    h("fieldset", { class: "plain" }, fields.filter(Boolean)),
    errors,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", name: "do", value: "submit" }, submit), extra),
  );
  el.addEventListener("input", () => {
    errors.hidden = true;
  });
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(el).entries());
    const refused = check ? check(values) : null;
    if (refused) {
      showError(errors, refused);
      focus(errors);
      return;
    }
    const fieldset = el.querySelector("fieldset");
    const buttons = [...el.querySelectorAll("button")];
    fieldset.disabled = true;
    for (const b of buttons) b.disabled = true;
    el.setAttribute("aria-busy", "true");
    try {
      await action(values, event.submitter?.value ?? "submit");
    } catch (error) {
      showError(errors, error);
    } finally {
      fieldset.disabled = false;
      for (const b of buttons) b.disabled = false;
      el.setAttribute("aria-busy", "false");
    }
  });
  return el;
}

/**
 * A button that runs `work`, disabled meanwhile; failures go to `errors`. `key` names
 * it across repaints, so a live update gives focus back to the same button.
 */
export function button(label, work, errors, kind = null, key = null) {
  return h(
    "button",
    {
      type: "button",
      class: kind,
      dataset: { key },
      onclick: async (event) => {
        const el = event.currentTarget;
        el.disabled = true;
        try {
          await work();
        } catch (error) {
          showError(errors, error);
        } finally {
          el.disabled = false;
        }
      },
    },
    label,
  );
}
