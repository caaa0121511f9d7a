// The language switcher: a labelled <select> of fr/nl/en, each named in its own
// language (a reader who does not understand the current one still finds theirs).
import { h } from "../ui/dom.mjs";
import { LANGUAGES, language, setLanguage, t } from "../ui/i18n.mjs";

const NAMES = { fr: "Français", nl: "Nederlands", en: "English" };

let counter = 0;

export function languageSwitcher() {
  const id = `language-${++counter}`;
  const select = h(
    "select",
    { id, class: "language", onchange: () => setLanguage(select.value) },
    LANGUAGES.map((lang) =>
      h("option", { value: lang, lang, selected: lang === language() }, NAMES[lang]),
    ),
  );
  return h("div", { class: "language-switcher" }, h("label", { for: id }, t("language.label")), select);
}
