// A new panel (Covid-19, dermatology, …), made by a practitioner who becomes its admin:
// its name and the short id patients' widget addresses carry (?panel=ID). It takes no
// questions until its admin adds the first GPs (members.mjs). The server's defaults
// hold for its settings until the admin changes them (settings.mjs).

import { h } from "../ui/dom.mjs";
import { registerMessages, t } from "../ui/i18n.mjs";
import { field, form, kept } from "./forms.mjs";

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A short id from a name: "Dermatologie (Gent)" -> "dermatologie-gent". */
function idFrom(name) {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
}

/** `open`: shown unfolded (the screen of a GP without panels). */
export function newPanelBox(console_, { open = false } = {}) {
  const drafts = console_.drafts;
  const name = kept(drafts, "new-panel/name", field({ label: t("new_panel.name"), name: "name", maxlength: 120, required: true }));
  const id = kept(
    drafts,
    "new-panel/id",
    field({ label: t("new_panel.id"), name: "panel_id", maxlength: 64, hint: t("new_panel.id.hint"), autocomplete: "off", spellcheck: "false" }),
  );
  // The id follows the name until the admin types one of their own.
  name.input.addEventListener("input", () => {
    if (!drafts.get("new-panel/id-typed")) {
      id.input.value = idFrom(name.input.value);
      drafts.set("new-panel/id", id.input.value);
    }
  });
  id.input.addEventListener("input", () => drafts.set("new-panel/id-typed", true));
  const details = h(
    "details",
    { class: "box new-panel", open: open || drafts.get("new-panel/open") === true },
    h("summary", { dataset: { key: "new-panel" } }, t("new_panel.title")),
    form({
      fields: [name, id],
      submit: t("new_panel.create"),
      check: (v) => (v.name.trim() && ID.test(v.panel_id.trim()) ? null : t("new_panel.invalid")),
      action: async (v) => {
        const created = await console_.panel.create(v.panel_id.trim(), v.name.trim());
        for (const key of [...drafts.keys()]) if (key.startsWith("new-panel/")) drafts.delete(key);
        await console_.panelCreated(created);
      },
    }),
  );
  details.addEventListener("toggle", () => drafts.set("new-panel/open", details.open));
  return details;
}

registerMessages("en", {
  "new_panel.title": "Create a panel",
  "new_panel.name": "Name of the panel",
  "new_panel.id": "Short id",
  "new_panel.id.hint": "Letters, digits, - and _: it appears in the widget's address (?panel=…) and cannot change.",
  "new_panel.create": "Create the panel",
  "new_panel.invalid": "Give the panel a name and a short id of letters, digits, - and _.",
  "error.panel_id_taken": "That short id is taken: choose another.",
  "error.practitioners_only": "Only practitioners can create a panel.",
});

registerMessages("fr", {
  "new_panel.title": "Créer un panel",
  "new_panel.name": "Nom du panel",
  "new_panel.id": "Identifiant court",
  "new_panel.id.hint": "Lettres, chiffres, - et _ : il figure dans l'adresse du widget (?panel=…) et ne peut pas changer.",
  "new_panel.create": "Créer le panel",
  "new_panel.invalid": "Donnez au panel un nom et un identifiant court fait de lettres, de chiffres, de - et de _.",
  "error.panel_id_taken": "Cet identifiant est déjà pris : choisissez-en un autre.",
  "error.practitioners_only": "Seuls les praticiens peuvent créer un panel.",
});

registerMessages("nl", {
  "new_panel.title": "Een panel aanmaken",
  "new_panel.name": "Naam van het panel",
  "new_panel.id": "Korte id",
  "new_panel.id.hint": "Letters, cijfers, - en _: ze staat in het adres van de widget (?panel=…) en kan niet veranderen.",
  "new_panel.create": "Het panel aanmaken",
  "new_panel.invalid": "Geef het panel een naam en een korte id van letters, cijfers, - en _.",
  "error.panel_id_taken": "Die korte id is al in gebruik: kies een andere.",
  "error.practitioners_only": "Alleen zorgverleners kunnen een panel aanmaken.",
});
