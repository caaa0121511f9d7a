// The staff box (the staff group's admin only): the practice's members, their
// verified devices, and whether those are in the staff group that opens the labels.
// Adding or removing a member is the group's next epoch, signed in this browser; the
// roster is then sealed again to it (MailingsClient.setStaffAccounts).

import { h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
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
          h("p", { class: "hint" }, m.devices.length ? t("staff.devices", { n: m.devices.length, ids: m.devices.join(", ") }) : t("staff.no_devices")),
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
