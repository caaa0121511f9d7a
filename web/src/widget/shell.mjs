// The widget's frame: a header (name, connection state, language, menu) and one view
// at a time below it. A view is a function (widget, ...args) -> nodes; the frame keeps
// the current one so a language switch re-renders it in the new language, and moves
// focus to the view's heading so keyboard and screen-reader users know where they are.
// The emergency notice is not here: the page shell keeps it outside the app root,
// always visible whatever the view.

import { clear, focus, h, mount } from "../ui/dom.mjs";
import { LANGUAGES, language, onLanguageChange, setLanguage, t } from "../ui/i18n.mjs";
import { HeaderMenu } from "./menu.mjs";

const LANGUAGE_NAMES = { fr: "Français", nl: "Nederlands", en: "English" };

export class Widget {
  constructor(client) {
    this.client = client;
    this.current = null;
    this.leaving = [];
    this.connection = "offline";
    // In memory only, never in storage: the sign-up password, so that verifying the
    // e-mail can log in without asking again, an invitation link to accept once the
    // patient is signed in, and whether the page was opened from a mailing's notice
    // e-mail (/announcements: the announcements are shown once signed in).
    this.pending = { email: null, password: null, invitation: null, announcements: false };
    this.view = h("section", { class: "w-view", id: "view" });
    // Dialogs live beside the view, not in it: a live re-render of the view (a message
    // arriving, a read receipt) must not take away a dialog the person is filling in.
    this.dialogs = h("div", { class: "w-dialogs" });
    // Folded behind a "Menu" button in a narrow frame (menu.mjs).
    this.menu = new HeaderMenu();
    this.connectionText = h("span", { class: "w-connection-text" });
    this.connectionLine = h("p", { class: "w-connection", role: "status", dataset: { state: "offline" } }, this.connectionText);
    this.languageSelect = h(
      "select",
      { id: "w-language", class: "w-language", onchange: (event) => setLanguage(event.target.value) },
      LANGUAGES.map((lang) => h("option", { value: lang, lang, selected: lang === language() }, LANGUAGE_NAMES[lang])),
    );
    this.languageLabel = h("label", { for: "w-language", class: "visually-hidden" });
    this.title = h("p", { class: "w-brand-name" });
    const header = h(
      "header",
      { class: "w-header" },
      h("div", { class: "w-brand" }, h("span", { class: "w-logo", "aria-hidden": "true" }), this.title),
      h("div", { class: "w-tools" }, this.connectionLine, this.languageLabel, this.languageSelect, this.menu.element),
    );
    const el = mount(header, this.view, this.dialogs);
    el.dataset.page = "widget";
    onLanguageChange(() => {
      this.languageSelect.value = language();
      this.rerender();
    });
    client.on?.("connection", ({ state }) => {
      this.connection = state;
      this.paintChrome();
    });
  }

  /** Shows `view(this, ...args)`; `focusHeading` false keeps focus where it is. */
  show(view, ...args) {
    // A dialog belongs to the view it was opened from: going elsewhere closes it.
    for (const dialog of this.dialogs.querySelectorAll("dialog[open]")) dialog.close();
    this.current = { view, args };
    this.render(true);
  }

  rerender() {
    if (this.current !== null) {
      this.render(false);
    }
  }

  /** Opens `dialog` as a modal above the view; it stays open across re-renders. */
  openDialog(dialog) {
    this.dialogs.append(dialog);
    dialog.showModal();
  }

  /** Runs `fn` when the current view is replaced or re-rendered (listeners, timers). */
  onLeave(fn) {
    this.leaving.push(fn);
  }

  render(moveFocus) {
    // A re-render keeps focus on the same control (by id) if it is still there.
    const keep = moveFocus ? null : document.activeElement?.id;
    for (const fn of this.leaving.splice(0)) {
      fn();
    }
    this.paintChrome();
    const { view, args } = this.current;
    const nodes = view(this, ...args);
    clear(this.view);
    this.view.append(...[nodes].flat().filter(Boolean));
    document.title = `${this.view.querySelector("h1, h2")?.textContent ?? "CareChat"} · CareChat`;
    if (moveFocus) {
      // Not from under the open header menu: a view that arrives by itself (the
      // practice page once connected) must not close the menu being used.
      if (!this.menu.isOpen) focus(this.view.querySelector("h1, h2"));
    } else if (keep) {
      document.getElementById(keep)?.focus();
    }
  }

  paintChrome() {
    this.title.textContent = t("widget.brand");
    this.languageLabel.textContent = t("language.label");
    this.connectionLine.dataset.state = this.connection;
    this.connectionText.textContent = this.client.accountId ? t(`connection.${this.connection}`) : "";
    this.connectionLine.hidden = !this.client.accountId || !this.client.hasKeys;
    this.menu.update(this.menuItems ? this.menuItems() : []);
  }
}

/** A view's heading and an optional lead paragraph. */
export function heading(text, lead = null) {
  return [h("h1", { class: "w-title" }, text), lead ? h("p", { class: "w-lead" }, lead) : null];
}
