// Signing in: e-mail and password, then a TOTP code when the account has two-factor
// login on (the server answers `totp_required`; the code field appears and keeps the
// password typed). And the TOTP set-up a practitioner is offered while the server
// still lets them in without it (handlers/sessions.py: after the grace period, a
// login without TOTP is refused with `totp_enrolment_overdue`).
import { focus, focusFirst, h, mount } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { suspensionNotice, suspensionOf } from "../ui/suspension.mjs";
import { alertBox, busy } from "./feedback.mjs";
import { languageSwitcher } from "./language.mjs";

function field(id, label, attrs) {
  return h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
}

/** A centred card; keyboard focus starts on `focusIn` (its first field). */
function card(title, focusIn, ...children) {
  const heading = h("h1", { id: "card-title" }, title);
  const section = h(
    "section",
    { class: "card narrow", "aria-labelledby": "card-title" },
    h("div", { class: "card-head" }, h("p", { class: "brand" }, "CareChat"), languageSwitcher()),
    heading,
    ...children,
  );
  queueMicrotask(() => focusFirst(focusIn ?? section));
  return section;
}

/** The sign-in form; `done()` once the client holds a session. */
export function signInView(client, done) {
  const alert = alertBox();
  const totp = field("totp", t("signin.totp"), {
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
  });
  totp.hidden = true;
  const submit = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
  const form = h(
    "form",
    {
      class: "stack",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const email = form.elements.email.value.trim();
        const password = form.elements.password.value;
        const code = totp.hidden ? undefined : form.elements.totp.value.trim();
        await busy(submit, null, async () => {
          alert.hide();
          try {
            await client.login(email, password, code || undefined);
            done();
          } catch (error) {
            const suspension = suspensionOf(error);
            if (suspension) {
              // The right password, a suspended account: why, and where to appeal.
              mount(suspendedView(client, suspension, done));
              return;
            }
            if (error?.code === "totp_required" && totp.hidden) {
              // Not a failure: the password was right, the second factor is next.
              totp.hidden = false;
              focus(form.elements.totp);
              return;
            }
            alert.show(error);
            if (!totp.hidden) {
              form.elements.totp.value = "";
              focus(form.elements.totp);
            }
          }
        });
      },
    },
    field("email", t("signin.email"), { type: "email", autocomplete: "username", required: true }),
    field("password", t("signin.password"), { type: "password", autocomplete: "current-password", required: true }),
    totp,
    alert.element,
    submit,
  );
  return card(t("signin.title"), form, h("p", { class: "lead" }, t("signin.lead")), form);
}

/**
 * A suspended account, instead of the inbox: the moderators' reason and where to
 * appeal (from the refused sign-in; after a socket closed by the suspension, only the
 * reason). "Sign in again" goes back to the form.
 */
export function suspendedView(client, suspension, done) {
  return card(t("signin.title"), null, suspensionNotice(suspension, { signIn: () => mount(signInView(client, done)) }));
}

/** Two-factor set-up; `done()` when it is on, or when the practitioner chose "later". */
export function totpSetupView(client, done) {
  const alert = alertBox();
  const secretBox = h("div", { class: "stack" });
  const start = h("button", { type: "button", class: "primary" }, t("totp.start"));
  const later = h("button", { type: "button", class: "quiet", onclick: () => done() }, t("totp.later"));
  start.addEventListener("click", () =>
    busy(start, alert, async () => {
      const { secret, uri } = await client.startTotp();
      start.hidden = true;
      const submit = h("button", { type: "submit", class: "primary" }, t("totp.confirm"));
      const form = h(
        "form",
        {
          class: "stack",
          novalidate: true,
          onsubmit: (event) => {
            event.preventDefault();
            busy(submit, alert, async () => {
              await client.confirmTotp(form.elements["totp-code"].value.trim());
              done();
            });
          },
        },
        h("p", {}, t("totp.scan")),
        h("p", { class: "secret", id: "totp-secret" }, secret.replace(/(.{4})/g, "$1 ").trim()),
        h("p", { class: "uri" }, h("code", {}, uri)),
        field("totp-code", t("totp.code"), {
          inputmode: "numeric",
          autocomplete: "one-time-code",
          pattern: "[0-9]{6}",
          maxlength: "6",
          required: true,
        }),
        submit,
      );
      secretBox.append(form);
      focus(form.elements["totp-code"]);
    }),
  );
  return card(
    t("totp.title"),
    start,
    h("p", { class: "lead" }, t("totp.lead")),
    secretBox,
    alert.element,
    h("div", { class: "actions" }, start, later),
  );
}
