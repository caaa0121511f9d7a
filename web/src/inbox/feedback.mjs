// How the inbox tells the practitioner something went wrong: an ApiError's stable
// `code` picks a translated sentence (never the server's English `detail`, and never
// anything that could hold patient data); anything else is the generic sentence, and
// the error itself goes to the console for whoever debugs the page.
import { announce, h, replace } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";

// Codes with their own sentence in the catalogs ("error.<code>").
const KNOWN = new Set([
  "invalid_credentials",
  "totp_required",
  "totp_enrolment_overdue",
  "totp_already_enabled",
  "totp_setup_not_started",
  "account_suspended",
  "rate_limited",
  "not_accepting_requests",
  "thread_closed",
  "not_found",
  "too_large",
  "upload_quota_exceeded",
  "upload_rate_limited",
  "empty_upload",
  "validation_failed",
  "unauthenticated",
  "account_blocked", // blocks.mjs has the sentences of these two
  "consent_required",
]);

/** The translated sentence for `error`. */
export function errorText(error) {
  const code = error?.code;
  if (typeof code === "string" && KNOWN.has(code)) {
    return t(`error.${code}`);
  }
  if (error?.name === "DecryptionFailed") {
    return t("error.wrong_passphrase");
  }
  return t("error.generic");
}

/** An empty alert region for a form; `show(error)` fills and announces it. */
export function alertBox() {
  const box = h("p", { class: "alert", role: "alert", hidden: true });
  return {
    element: box,
    show(error) {
      const text = typeof error === "string" ? error : errorText(error);
      if (typeof error !== "string" && !error?.code) {
        console.warn("inbox:", error);
      }
      replace(box, text);
      box.hidden = false;
      announce(text, { assertive: true });
    },
    hide() {
      replace(box);
      box.hidden = true;
    },
  };
}

/** Runs `action` with `button` disabled and marked busy; shows a failure in `alert`. */
export async function busy(button, alert, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  alert?.hide();
  try {
    return await action();
  } catch (error) {
    if (alert) {
      alert.show(error);
      return undefined;
    }
    throw error;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
