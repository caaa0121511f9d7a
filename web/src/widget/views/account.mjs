// Signing up, confirming the e-mail address and signing in.
//
// The verification e-mail holds a link `<public url>/verify#<token>`: opened, it shows
// verifyLinkView with the token already there. The patient can also paste the link
// (or just the token) into the widget, which is what happens inside a practice's site.
// The token is read from the fragment, which the browser never sends to any server.

import { h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { suspensionNotice, suspensionOf } from "../../ui/suspension.mjs";
import { action, errorLine, field, onSubmit, submit } from "../forms.mjs";
import { suspendedDataEntry, suspendedDataState } from "../my_data/suspended.mjs";
import { heading } from "../shell.mjs";

const MIN_PASSWORD = 10;

/**
 * Signs in; false when the account is suspended, after showing why and where to
 * appeal instead of the form (the server says so only to the right password).
 */
async function logIn(widget, email, password) {
  try {
    await widget.client.login(email, password);
    return true;
  } catch (error) {
    const suspension = suspensionOf(error);
    if (!suspension) throw error;
    widget.show(suspendedView, suspension, { email });
    return false;
  }
}

/**
 * A suspended account: the moderators' reason and where to appeal, and the way to the
 * person's data, which a suspension does not take away (my_data/suspended.mjs).
 * `email` is the address of the refused sign-in, if any, to fill in there.
 */
export function suspendedView(widget, suspension, { email = "" } = {}) {
  const data = suspendedDataState({ email, back: () => widget.show(suspendedView, suspension, { email: data.email }) });
  return [
    suspensionNotice(suspension, { className: "w-step", signIn: () => widget.show(signInView) }),
    suspendedDataEntry(widget, data),
  ];
}

export function welcomeView(widget) {
  return [
    ...heading(t("welcome.title"), t("welcome.lead")),
    h(
      "ul",
      { class: "w-points" },
      h("li", {}, t("welcome.point.private")),
      h("li", {}, t("welcome.point.practice")),
      h("li", {}, t("welcome.point.notice")),
    ),
    h(
      "div",
      { class: "w-actions" },
      action(t("welcome.signup"), () => widget.show(signUpView), "primary"),
      action(t("welcome.signin"), () => widget.show(signInView)),
    ),
  ];
}

export function signUpView(widget) {
  const errors = errorLine();
  const name = field({ label: t("signup.name"), name: "name", autocomplete: "name", required: true, maxlength: 100 });
  const email = field({ label: t("field.email"), name: "email", type: "email", autocomplete: "email", required: true });
  const password = field({
    label: t("field.password"),
    name: "password",
    type: "password",
    autocomplete: "new-password",
    required: true,
    minlength: MIN_PASSWORD,
    hint: t("signup.password.hint", { n: MIN_PASSWORD }),
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("legend", { class: "visually-hidden" }, t("signup.title")), name, email, password),
    errors,
    submit(t("signup.submit")),
  );
  onSubmit(
    form,
    errors,
    async (values) => {
      await widget.client.register({
        email: values.email.trim(),
        password: values.password,
        displayName: values.name.trim(),
        role: "patient",
      });
      widget.pending.email = values.email.trim();
      widget.pending.password = values.password;
      widget.show(checkEmailView);
    },
    (values) => {
      if (!values.name.trim() || !values.email.includes("@")) {
        return t("signup.incomplete");
      }
      if (values.password.length < MIN_PASSWORD) {
        return t("signup.password.short", { n: MIN_PASSWORD });
      }
      return null;
    },
  );
  return [
    ...heading(t("signup.title"), t("signup.lead")),
    form,
    h("p", { class: "w-switch" }, t("signup.have"), " ", action(t("welcome.signin"), () => widget.show(signInView), "link")),
  ];
}

/** The token from a pasted link (`.../verify#TOKEN`) or the token itself. */
export function tokenFrom(text) {
  const trimmed = text.trim();
  const hash = trimmed.lastIndexOf("#");
  return hash >= 0 ? trimmed.slice(hash + 1) : trimmed;
}

/** After sign-up: the link is in the mailbox; paste it here, or open it. */
export function checkEmailView(widget) {
  const errors = errorLine();
  const token = field({
    label: t("verify.token"),
    name: "token",
    autocomplete: "off",
    required: true,
    hint: t("verify.token.hint"),
  });
  const form = h("form", { class: "w-form", novalidate: true }, h("fieldset", {}, token), errors, submit(t("verify.submit")));
  onSubmit(
    form,
    errors,
    async (values) => {
      const { email, password } = widget.pending;
      await widget.client.verifyEmail(tokenFrom(values.token), password);
      if (!(await logIn(widget, email, password))) return;
      widget.pending.password = null;
      await widget.signedIn();
    },
    (values) => (tokenFrom(values.token) ? null : t("verify.token.missing")),
  );
  return [...heading(t("verify.title"), t("verify.sent", { email: widget.pending.email ?? "" })), form];
}

/** Opened from the e-mail's link: the token is in the URL, the password is asked. */
export function verifyLinkView(widget, token) {
  const errors = errorLine();
  const email = field({ label: t("field.email"), name: "email", type: "email", autocomplete: "email", required: true });
  const password = field({
    label: t("field.password"),
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = h("form", { class: "w-form", novalidate: true }, h("fieldset", {}, email, password), errors, submit(t("verify.submit")));
  onSubmit(form, errors, async (values) => {
    await widget.client.verifyEmail(token, values.password);
    if (await logIn(widget, values.email.trim(), values.password)) await widget.signedIn();
  });
  return [...heading(t("verify.title"), t("verify.link.lead")), form];
}

export function signInView(widget, { ended = false } = {}) {
  const errors = errorLine();
  const email = field({ label: t("field.email"), name: "email", type: "email", autocomplete: "email", required: true });
  const password = field({
    label: t("field.password"),
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    { class: "w-form", novalidate: true },
    h("fieldset", {}, h("legend", { class: "visually-hidden" }, t("signin.title")), email, password),
    errors,
    submit(t("signin.submit")),
  );
  // Patients sign in with a password only (the server offers TOTP to practitioners
  // and admins, who use the inbox).
  onSubmit(form, errors, async (values) => {
    if (await logIn(widget, values.email.trim(), values.password)) await widget.signedIn();
  });
  return [
    ...heading(t("signin.title"), ended ? null : t("signin.lead")),
    ended ? h("p", { class: "w-callout", role: "status" }, t("error.unauthenticated")) : null,
    form,
    h("p", { class: "w-switch" }, t("signin.new"), " ", action(t("welcome.signup"), () => widget.show(signUpView), "link")),
  ];
}
