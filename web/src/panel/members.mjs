// The panel's GPs, by name: who sits on the panel and who is online (every member
// sees it; hand-over names colleagues from it). The panel's admin also adds a GP by
// e-mail address and removes one: each change is the panel's next epoch, signed in
// this browser with the admin's root key (client/panel.mjs commitMembers). The server
// admits only verified practitioners; a removed GP loses their claims and cannot read
// the questions asked after it.

import { ApiError, NoDevices } from "../client/index.mjs";
import { announce, h } from "../ui/dom.mjs";
import { registerMessages, t } from "../ui/i18n.mjs";
import { PageError, errorLine, field, form, kept, showError } from "./forms.mjs";

/**
 * The members box; `console_.members` = [{account_id, display_name, online}]. Its
 * `repaintList()` redraws the list alone: a live change (someone came online) never
 * touches the address the admin is typing.
 */
export function membersBox(console_) {
  const errors = errorLine();
  const roster = h("div", { class: "member-roster" }, memberList(console_, errors));
  const box = h(
    "section",
    { class: "box members", "aria-labelledby": "p-members-title" },
    h("h2", { id: "p-members-title" }, t("members.title")),
    roster,
    errors,
    console_.isAdmin ? addForm(console_) : null,
  );
  box.repaintList = () => roster.replaceChildren(memberList(console_, errors));
  return box;
}

function memberList(console_, errors) {
  const members = console_.members ?? [];
  const me = console_.client.accountId;
  const admin = console_.isAdmin;
  if (!members.length) return h("p", { class: "hint" }, t(admin ? "members.empty.admin" : "members.empty"));
  return h(
    "ul",
    { class: "member-list" },
    members.map((m) =>
      h(
        "li",
        { class: "member", dataset: { account: m.account_id } },
        h(
          "span",
          { class: "member-name" },
          m.display_name || m.account_id,
          m.account_id === me ? ` ${t("members.you")}` : "",
          " ",
          m.online ? h("span", { class: "badge state-claimed" }, t("members.online")) : null,
        ),
        admin && members.length > 1
          ? h(
              "button",
              {
                type: "button",
                class: "danger small",
                "aria-label": t("members.remove.label", { name: m.display_name || m.account_id }),
                dataset: { key: `remove-${m.account_id}` },
                onclick: (event) => remove(console_, m, event.currentTarget, errors),
              },
              t("members.remove"),
            )
          : null,
      ),
    ),
  );
}

async function remove(console_, member, el, errors) {
  el.disabled = true;
  try {
    const rest = console_.members.filter((m) => m.account_id !== member.account_id).map((m) => m.account_id);
    await console_.panel.commitMembers(console_.panelId, rest);
    announce(t("members.removed", { name: member.display_name || member.account_id }));
    await console_.membersChanged();
  } catch {
    showError(errors, t("members.failed"));
  } finally {
    el.disabled = false;
  }
}

function addForm(console_) {
  const email = kept(
    console_.drafts,
    "members/email",
    field({ label: t("members.add.email"), name: "email", type: "email", autocomplete: "off", maxlength: 254, hint: t("members.add.hint") }),
  );
  email.input.dataset.key = "members-email";
  return h(
    "div",
    { class: "member-add" },
    h("h3", {}, t("members.add")),
    form({
      fields: [email],
      submit: t("members.add.submit"),
      check: (v) => (/^[^@\s]+@[^@\s]+$/.test(v.email.trim()) ? null : t("members.add.invalid")),
      action: async (v) => {
        let found;
        try {
          found = await console_.panel.findPractitioner(console_.panelId, v.email.trim());
        } catch (error) {
          if (error instanceof ApiError && error.code === "not_found") throw new PageError(t("members.add.unknown"));
          throw error;
        }
        const name = found.display_name || found.account_id;
        const ids = (console_.members ?? []).map((m) => m.account_id);
        if (ids.includes(found.account_id)) throw new PageError(t("members.add.already", { name }));
        try {
          await console_.panel.commitMembers(console_.panelId, [...ids, found.account_id]);
        } catch (error) {
          if (error instanceof NoDevices) throw new PageError(t("members.add.no_devices", { name }));
          throw error;
        }
        console_.drafts.delete("members/email");
        email.input.value = "";
        announce(t("members.added", { name }));
        await console_.membersChanged();
      },
    }),
  );
}

registerMessages("en", {
  "members.title": "GPs on this panel",
  "members.you": "(you)",
  "members.online": "online",
  "members.empty": "No GP sits on this panel yet.",
  "members.no_epoch": "This panel has no GPs yet, so it takes no questions.",
  "members.empty.admin": "No GP sits on this panel yet: add the first ones below (yourself too, if you answer questions).",
  "members.remove": "Remove",
  "members.remove.label": "Remove {name} from the panel",
  "members.removed": "{name} was removed: their questions went back to the queue, and they cannot read the questions asked from now on.",
  "members.failed": "The panel's members could not be changed. Please try again.",
  "members.add": "Add a GP",
  "members.add.email": "The GP's e-mail address",
  "members.add.hint": "Only practitioners whose registration was verified can join. Each change signs a new panel key in this browser.",
  "members.add.submit": "Add to the panel",
  "members.add.invalid": "Enter an e-mail address.",
  "members.add.unknown": "No verified practitioner uses this address.",
  "members.add.already": "{name} is already on this panel.",
  "members.add.no_devices": "{name} has no keys yet: ask them to sign in to the GP console once, then add them again.",
  "members.added": "{name} was added to the panel.",
});

registerMessages("fr", {
  "members.title": "Médecins de ce panel",
  "members.you": "(vous)",
  "members.online": "en ligne",
  "members.empty": "Aucun médecin ne siège encore dans ce panel.",
  "members.no_epoch": "Ce panel n'a pas encore de médecins : il ne reçoit donc pas de questions.",
  "members.empty.admin": "Aucun médecin ne siège encore dans ce panel : ajoutez les premiers ci-dessous (vous aussi, si vous répondez aux questions).",
  "members.remove": "Retirer",
  "members.remove.label": "Retirer {name} du panel",
  "members.removed": "{name} a été retiré : ses questions sont retournées dans la file, et il ne peut pas lire les questions posées désormais.",
  "members.failed": "Les membres du panel n'ont pas pu être modifiés. Veuillez réessayer.",
  "members.add": "Ajouter un médecin",
  "members.add.email": "Adresse e-mail du médecin",
  "members.add.hint": "Seuls les praticiens dont l'inscription a été vérifiée peuvent rejoindre le panel. Chaque changement signe une nouvelle clé du panel dans ce navigateur.",
  "members.add.submit": "Ajouter au panel",
  "members.add.invalid": "Saisissez une adresse e-mail.",
  "members.add.unknown": "Aucun praticien vérifié n'utilise cette adresse.",
  "members.add.already": "{name} fait déjà partie de ce panel.",
  "members.add.no_devices": "{name} n'a pas encore de clés : demandez-lui de se connecter une fois à la console, puis ajoutez-le à nouveau.",
  "members.added": "{name} a été ajouté au panel.",
});

registerMessages("nl", {
  "members.title": "Artsen in dit panel",
  "members.you": "(u)",
  "members.online": "online",
  "members.empty": "Er zit nog geen arts in dit panel.",
  "members.no_epoch": "Dit panel heeft nog geen artsen en ontvangt dus geen vragen.",
  "members.empty.admin": "Er zit nog geen arts in dit panel: voeg hieronder de eersten toe (uzelf ook, als u vragen beantwoordt).",
  "members.remove": "Verwijderen",
  "members.remove.label": "{name} uit het panel verwijderen",
  "members.removed": "{name} is verwijderd: de vragen gingen terug naar de wachtrij, en vanaf nu gestelde vragen kan deze arts niet lezen.",
  "members.failed": "De leden van het panel konden niet worden gewijzigd. Probeer het opnieuw.",
  "members.add": "Een arts toevoegen",
  "members.add.email": "E-mailadres van de arts",
  "members.add.hint": "Alleen zorgverleners van wie de registratie is geverifieerd, kunnen lid worden. Elke wijziging ondertekent in deze browser een nieuwe panelsleutel.",
  "members.add.submit": "Aan het panel toevoegen",
  "members.add.invalid": "Voer een e-mailadres in.",
  "members.add.unknown": "Geen geverifieerde zorgverlener gebruikt dit adres.",
  "members.add.already": "{name} zit al in dit panel.",
  "members.add.no_devices": "{name} heeft nog geen sleutels: vraag om één keer in te loggen op de artsenconsole en voeg daarna opnieuw toe.",
  "members.added": "{name} is aan het panel toegevoegd.",
});
