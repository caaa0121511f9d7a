// The membership box (the practice's admin only): who the practice's practitioners
// and staff are on its signed membership list (docs/protocol.md). The admin offers a
// role to a colleague by e-mail (and may take an offer back until the colleague is
// on the list); once the colleague accepted it (in their own account), the admin
// adds them to the list or removes them from it: each change is
// the list's next version, signed in this browser with the admin's root key
// (PracticesClient.publishMembership) — who is on it is whom patients' messages to
// the practice are encrypted to.

import { h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { PageError, button, choice, errorLine, field, form } from "../panel/forms.mjs";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function membershipBox(console_) {
  const errors = errorLine();
  const list = console_.membership;
  const listed = new Map(list.members.map((m) => [m.accountId, m.role]));
  const publish = (members) => async () => {
    await console_.practices.publishMembership(console_.practiceId, members);
    await console_.reloadMembership();
  };
  // An offer made by mistake: taken back while no signed list names the person (a
  // listed one leaves by the next list, above). Gone already (declined meanwhile):
  // the list read again says so.
  const withdraw = (accountId) => async () => {
    try {
      await console_.practices.withdrawOffer(console_.practiceId, accountId);
    } catch (error) {
      if (error?.code === "member_on_signed_list") throw new PageError(t("membership.withdraw_listed"));
      if (error?.code !== "not_found") throw error;
    }
    await console_.reloadMembership();
  };
  const rows = membershipRows(console_, listed);
  return h(
    "section",
    { class: "box", dataset: { box: "membership" }, "aria-labelledby": "pr-membership-title" },
    h("h2", { id: "pr-membership-title" }, t("membership.title")),
    h("p", { class: "hint" }, t("membership.lead")),
    h(
      "p",
      { class: "membership-version", dataset: { epoch: String(list.epoch) } },
      list.epoch ? t("membership.version", { n: list.epoch }) : t("membership.none"),
    ),
    // An offered role is accepted in the colleague's own account, not here.
    h("div", { class: "actions" }, button(t("membership.refresh"), () => console_.reloadMembership(), errors, "quiet", "membership-refresh")),
    errors,
    rows.length
      ? h(
          "ul",
          { class: "staff" },
          rows.map((p) => {
            const role = listed.get(p.accountId) ?? null;
            const others = list.members.filter((m) => m.accountId !== p.accountId);
            return h(
              "li",
              { class: "membership-person", dataset: { account: p.accountId, listed: String(role !== null) } },
              h("p", {}, h("strong", {}, console_.nameOf(p.accountId)), " ", t(`staff.role.${role ?? p.invitation?.role ?? "staff"}`)),
              h("p", { class: "staff-state" }, t(stateKey(role, p.invitation))),
              role !== null
                ? button(t("membership.remove"), publish(others), errors, "danger", `membership-remove-${p.accountId}`)
                : p.invitation
                  ? h(
                      "div",
                      { class: "actions" },
                      p.invitation.accepted
                        ? button(t("membership.add"), publish([...list.members, { accountId: p.accountId, role: p.invitation.role }]), errors, "primary", `membership-add-${p.accountId}`)
                        : null,
                      button(t("membership.withdraw"), withdraw(p.accountId), errors, "quiet", `membership-withdraw-${p.accountId}`),
                    )
                  : null,
            );
          }),
        )
      : h("p", { class: "hint" }, t("membership.empty")),
    inviteForm(console_),
  );
}

/** Everyone on the list or offered a role (not the admin), the list's first. */
function membershipRows(console_, listed) {
  const people = console_.people.filter((p) => p.role !== "admin");
  const known = new Set(people.map((p) => p.accountId));
  // A listed account the server no longer names (erased): still shown, to be removed.
  const missing = [...listed.keys()].filter((a) => !known.has(a)).map((accountId) => ({ accountId, invitation: null }));
  return [...people, ...missing].sort((a, b) => Number(listed.has(b.accountId)) - Number(listed.has(a.accountId)));
}

function stateKey(role, invitation) {
  if (role !== null) return "membership.listed";
  if (invitation?.accepted) return "membership.accepted";
  return "membership.proposed";
}

function inviteForm(console_) {
  const email = field({ label: t("membership.email"), name: "email", type: "email", autocomplete: "off", required: true });
  const role = choice({
    label: t("membership.role"),
    name: "role",
    options: [
      ["practitioner", t("membership.role.practitioner")],
      ["staff", t("membership.role.staff")],
    ],
  });
  return h(
    "div",
    { class: "membership-invite" },
    h("h3", {}, t("membership.invite.title")),
    h("p", { class: "hint" }, t("membership.invite.lead")),
    form({
      fields: [email, role],
      submit: t("membership.invite"),
      check: (values) => (EMAIL.test(String(values.email).trim()) ? null : t("membership.email_invalid")),
      action: async (values) => {
        try {
          await console_.practices.propose(console_.practiceId, String(values.email).trim(), values.role);
        } catch (error) {
          // No such colleague (or a patient's address: the server does not say which).
          if (error?.code === "not_found") throw new PageError(t("membership.not_found"));
          throw error;
        }
        await console_.reloadMembership();
      },
    }),
  );
}
