// The practitioner's own settings, in the pane: availability (taking new care
// requests or not) with the away message patients see on their threads, how a waiting
// message is announced (e-mail, text message), two-factor login's state, and the
// account's devices — each can be revoked except this
// browser, which signs out instead — and the accounts blocked (blocks.mjs).
import { announce, h, replace } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import { blocksBlock } from "./blocks.mjs";
import { alertBox, busy } from "./feedback.mjs";

const MAX_AWAY = 500; // the server's limit (rest/threads.py AvailabilitySchema)

function availabilityForm(client, me, onSaved) {
  const alert = alertBox();
  const saved = h("p", { class: "saved", role: "status" });
  const availability = me?.availability ?? { accepting_requests: true, away_message: null };
  const accepting = h("input", { type: "checkbox", id: "accepting", name: "accepting", checked: availability.accepting_requests !== false });
  const away = h("textarea", { id: "away-message", name: "away_message", rows: "3", maxlength: String(MAX_AWAY), value: availability.away_message ?? "" });
  const submit = h("button", { type: "submit", class: "primary" }, t("settings.save"));
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: (event) => {
        event.preventDefault();
        replace(saved);
        busy(submit, alert, async () => {
          const next = { available: accepting.checked, awayMessage: away.value.trim() || null };
          await client.setAvailability(next);
          onSaved({ accepting_requests: next.available, away_message: next.awayMessage });
          replace(saved, t("settings.saved"));
          announce(t("settings.saved"));
        });
      },
    },
    h("div", { class: "check" }, accepting, h("label", { for: "accepting" }, t("settings.accepting"))),
    h("div", { class: "field" }, h("label", { for: "away-message" }, t("settings.away")), away, h("p", { class: "hint" }, t("settings.away_hint"))),
    alert.element,
    h("div", { class: "row-actions" }, submit, saved),
  );
  return h("section", { class: "settings-block", "aria-labelledby": "availability-title" }, h("h2", { id: "availability-title" }, t("settings.availability")), form);
}

function devicesBlock(client) {
  const alert = alertBox();
  const list = h("ul", { class: "devices" }, h("li", { class: "loading" }, t("thread.loading")));
  const load = async () => {
    try {
      const devices = await client.devices();
      replace(
        list,
        devices.map((device) => {
          const id = device.deviceId ?? device.device_id;
          const created = device.addedAt;
          const mine = device.current === true;
          const revoke = h("button", { type: "button", class: "small danger", dataset: { device: id } }, t("devices.revoke"));
          revoke.addEventListener("click", () => {
            if (revoke.dataset.confirm !== "yes") {
              // Revoking cannot be undone: the first press only asks.
              revoke.dataset.confirm = "yes";
              replace(revoke, t("devices.confirm"));
              return;
            }
            busy(revoke, alert, async () => {
              await client.revokeDevice(id);
              await load();
            });
          });
          return h(
            "li",
            { dataset: { device: id } },
            h("span", { class: "device-id" }, id),
            created ? h("time", { datetime: created }, t("devices.added", { at: formatTime(created) })) : null,
            mine ? h("span", { class: "badge" }, t("devices.this")) : revoke,
          );
        }),
      );
    } catch (error) {
      replace(list);
      alert.show(error);
    }
  };
  load();
  return h(
    "section",
    { class: "settings-block", "aria-labelledby": "devices-title" },
    h("h2", { id: "devices-title" }, t("devices.title")),
    h("p", { class: "hint" }, t("devices.lead")),
    list,
    alert.element,
  );
}

function notificationsBlock(client) {
  const alert = alertBox();
  const saved = h("p", { class: "saved", role: "status" });
  const email = h("input", { type: "checkbox", id: "notify-email", name: "email", disabled: true });
  const sms = h("input", { type: "checkbox", id: "notify-sms", name: "sms", disabled: true });
  const submit = h("button", { type: "submit", disabled: true }, t("settings.save"));
  client
    .notificationPreferences()
    .then((prefs) => {
      email.checked = prefs.email !== false;
      sms.checked = prefs.sms !== false;
      for (const control of [email, sms, submit]) {
        control.disabled = false;
      }
    })
    .catch((error) => alert.show(error));
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: (event) => {
        event.preventDefault();
        replace(saved);
        busy(submit, alert, async () => {
          await client.setNotificationPreferences({ email: email.checked, sms: sms.checked });
          replace(saved, t("settings.saved"));
          announce(t("settings.saved"));
        });
      },
    },
    h("p", { class: "hint" }, t("notify.lead")),
    h("div", { class: "check" }, email, h("label", { for: "notify-email" }, t("notify.email"))),
    h("div", { class: "check" }, sms, h("label", { for: "notify-sms" }, t("notify.sms"))),
    alert.element,
    h("div", { class: "row-actions" }, submit, saved),
  );
  return h("section", { class: "settings-block", "aria-labelledby": "notify-title" }, h("h2", { id: "notify-title" }, t("notify.title")), form);
}

function securityBlock(me) {
  return h(
    "section",
    { class: "settings-block", "aria-labelledby": "security-title" },
    h("h2", { id: "security-title" }, t("settings.security")),
    h("p", {}, t(me?.totp_enabled ? "settings.totp_on" : "settings.totp_off")),
  );
}

/** The settings pane; `onAvailability(availability)` after a save; `nameOf(accountId)`
 * names a blocked account (from the threads the inbox knows). */
export function settingsView(client, { onAvailability, onBack, nameOf }) {
  const me = client.me;
  return h(
    "section",
    { class: "settings", "aria-labelledby": "settings-title" },
    h(
      "header",
      { class: "thread-head" },
      h("button", { type: "button", class: "back small quiet", onclick: onBack }, t("thread.back")),
      h("div", { class: "thread-title" }, h("h1", { id: "settings-title" }, t("settings.title"))),
    ),
    h("div", { class: "settings-body" }, availabilityForm(client, me, onAvailability), notificationsBlock(client), securityBlock(me), devicesBlock(client), blocksBlock(client, nameOf)),
  );
}
