// The staff box (the staff group's admin only): the practice's members, their
// verified devices (how many, and when each was added: a device id means nothing to
// a person), and whether those are in the staff group that opens the labels.
// Adding or removing a member is the group's next epoch, signed in this browser; the
// roster is then sealed again to it (MailingsClient.setStaffAccounts).

import { h } from "../ui/dom.mjs";
import { formatTime, language, t } from "../ui/i18n.mjs";
import { button, errorLine } from "../panel/forms.mjs";

export function staffBox(console_) {
  const errors = errorLine();
  const inGroup = console_.staff.filter((m) => m.inGroup).map((m) => m.accountId);
  const change = (accounts) => async () => {
    await console_.mailings.setStaffAccounts(console_.practiceId, accounts);
    await console_.reloadStaff();
  };
  return h(
    "section",
    { class: "box", dataset: { box: "staff" }, "aria-labelledby": "pr-staff-title" },
    h("h2", { id: "pr-staff-title" }, t("staff.title")),
    h("p", { class: "hint" }, t("staff.lead")),
    // A colleague's devices appear once they signed in to the console.
    h("div", { class: "actions" }, button(t("staff.refresh"), () => console_.reloadStaff(), errors, "quiet", "staff-refresh")),
    errors,
    h(
      "ul",
      { class: "staff" },
      console_.staff.map((m) =>
        h(
          "li",
          { class: "staff-member", dataset: { account: m.accountId, inGroup: String(m.inGroup) } },
          h("p", {}, h("strong", {}, console_.nameOf(m.accountId)), " ", t(`staff.role.${m.role}`)),
          h("p", { class: "hint staff-devices" }, m.devices.length ? t("staff.devices", { n: m.devices.length, dates: addedDates(m.devices) }) : t("staff.no_devices")),
          h("p", { class: "staff-state" }, t(m.inGroup ? "staff.in_group" : "staff.not_in_group")),
          m.role === "admin"
            ? null
            : m.inGroup
              ? button(t("staff.remove"), change(inGroup.filter((a) => a !== m.accountId)), errors, "danger", `staff-remove-${m.accountId}`)
              : m.devices.length
                ? button(t("staff.add"), change([...inGroup, m.accountId]), errors, "primary", `staff-add-${m.accountId}`)
                : null,
        ),
      ),
    ),
  );
}

/** "28 Nov 2026 and 30 Nov 2026": when each device was added, oldest first, localized. */
function addedDates(devices) {
  const dates = devices
    .map((d) => d.addedAt)
    .sort((a, b) => (a === null) - (b === null) || String(a).localeCompare(String(b)))
    .map((at) => (at === null ? t("staff.device_date_unknown") : formatTime(at, { dateStyle: "medium" })));
  return new Intl.ListFormat(language(), { type: "conjunction" }).format(dates);
}
