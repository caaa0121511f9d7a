// The frame the staff consoles share (the practice console and the moderator
// console): a top bar (brand, language, sign-out) above one view at a time, which a
// language switch re-renders in the new language, and the boot that opens the client
// and shows the sign-in or the signed-in console. The GP panel's own Console
// (main.mjs) has the same frame with live parts of its own.
//
//   class X extends ConsoleShell {      constructor(client) { super(client, {...}) }
//     signedIn()                        what a signed-in console shows first
//   }
//   startConsole((client) => new X(client))

import { CareChatClient } from "../client/index.mjs";
import { clear, h, mount } from "../ui/dom.mjs";
import { LANGUAGES, language, onLanguageChange, setLanguage, t, translateNotice } from "../ui/i18n.mjs";
import { signInView } from "./account.mjs";
import { button, errorLine, errorText } from "./forms.mjs";

const LANGUAGE_NAMES = { fr: "Français", nl: "Nederlands", en: "English" };

export class ConsoleShell {
  /** `mainClass`: the class of the area views are shown in; `languageId`: the select's id. */
  constructor(client, { mainClass, languageId }) {
    this.client = client;
    this.languageId = languageId;
    this.view = null;
    this.errors = errorLine();
    this.tools = h("div", { class: "topbar-tools" });
    this.main = h("div", { class: mainClass });
    this.header = h(
      "header",
      { class: "topbar" },
      h("p", { class: "brand" }, h("span", {}, "CareChat"), h("span", { class: "brand-sub" }, t("panel.brand.sub"))),
      h("span", { class: "spacer" }),
      this.tools,
    );
    mount(this.header, this.main);
    onLanguageChange(() => this.render());
  }

  show(view, ...args) {
    this.view = { view, args };
    this.render();
  }

  render() {
    document.documentElement.lang = language();
    this.header.querySelector(".brand-sub").textContent = t("panel.brand.sub");
    this.paintTools();
    clear(this.main);
    if (this.view === null) return;
    this.main.append(this.view.view(this, ...this.view.args));
    document.title = `${this.main.querySelector("h1")?.textContent ?? "CareChat"} · CareChat`;
  }

  paintTools() {
    clear(this.tools);
    this.tools.append(
      h("label", { for: this.languageId, class: "visually-hidden" }, t("panel.language")),
      h(
        "select",
        { id: this.languageId, class: "language", onchange: (e) => setLanguage(e.target.value) },
        LANGUAGES.map((lang) => h("option", { value: lang, lang, selected: lang === language() }, LANGUAGE_NAMES[lang])),
      ),
    );
    if (this.client.accountId) this.tools.append(button(t("signout"), () => this.signOut(), this.errors, "quiet small"));
  }
}

/** Boots a console page: `make(client)` builds it; signed out, it shows the sign-in. */
export function startConsole(make) {
  const start = async () => {
    translateNotice();
    const client = await CareChatClient.open({ baseUrl: location.origin });
    const console_ = make(client);
    if (!client.accountId) {
      console_.show(signInView);
      return;
    }
    await console_.signedIn();
  };
  start().catch((error) => {
    // The page must never stay blank: say what happened (the console has the detail).
    console.error(error);
    const root = document.getElementById("root");
    if (root) root.replaceChildren(h("p", { class: "alert", role: "alert" }, errorText(error)));
  });
}
