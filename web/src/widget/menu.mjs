// The header menu (Announcements, Privacy & consents, Settings, My data, ...). In the
// loader's 400 px frame a row of links wrapped onto two or three lines of a header
// that never scrolls away, so below 40rem (widget.css) the items fold behind one
// "Menu" button: a disclosure (aria-expanded, aria-controls), not an ARIA menu, so
// the items stay plain buttons reached by Tab. Wider, the same list is shown inline
// and the button is not displayed: one list of buttons, never two copies.
//
// Open: focus moves to the first item; Escape closes and gives focus back to the
// button; a click or focus outside closes it; choosing an item closes it (the view
// shown then takes focus). The items are rebuilt only when they change, so a live
// re-render (a message, the connection state) leaves an open menu and its focus alone.

import { clear, h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";

const LIST_ID = "w-menu-list";

export class HeaderMenu {
  constructor() {
    this.toggle = h(
      "button",
      { type: "button", class: "w-menu-toggle", "aria-expanded": "false", "aria-controls": LIST_ID, onclick: () => this.flip() },
      h("span", { class: "w-menu-icon", "aria-hidden": "true" }),
      h("span", { class: "w-menu-toggle-text" }),
    );
    this.list = h("ul", { class: "w-menu-list", id: LIST_ID });
    this.element = h("nav", { class: "w-menu", hidden: true }, this.toggle, this.list);
    this.signature = null;
    // Capture: the menu closes before the item's own handler shows its view.
    this.list.addEventListener("click", (event) => this.chosen(event), { capture: true });
    this.element.addEventListener("keydown", (event) => this.key(event));
    this.element.addEventListener("focusout", (event) => {
      if (!this.element.contains(event.relatedTarget)) {
        this.close();
      }
    });
    this.outside = (event) => {
      if (!this.element.contains(event.target)) {
        this.close();
      }
    };
  }

  get isOpen() {
    return this.toggle.getAttribute("aria-expanded") === "true";
  }

  /** Shows `items` (buttons) in the current language; none hides the whole menu. */
  update(items) {
    this.toggle.lastChild.textContent = t("menu.label");
    this.element.setAttribute("aria-label", t("menu.label"));
    const signature = items.map((item) => item.textContent).join("\n");
    if (signature === this.signature) {
      return;
    }
    this.signature = signature;
    const focused = this.list.contains(document.activeElement) ? document.activeElement.textContent : null;
    clear(this.list);
    this.list.append(...items.map((item) => h("li", {}, item)));
    this.element.hidden = items.length === 0;
    if (items.length === 0) {
      this.close();
    } else if (focused !== null) {
      this.items().find((item) => item.textContent === focused)?.focus();
    }
  }

  items() {
    return [...this.list.querySelectorAll("button")];
  }

  flip() {
    if (this.isOpen) {
      this.close();
    } else {
      this.open();
    }
  }

  open() {
    this.toggle.setAttribute("aria-expanded", "true");
    this.element.dataset.open = "";
    document.addEventListener("click", this.outside, { capture: true });
    this.items()[0]?.focus();
  }

  /** Closes; `returnFocus` gives focus back to the button (Escape). */
  close({ returnFocus = false } = {}) {
    if (!this.isOpen) {
      return;
    }
    this.toggle.setAttribute("aria-expanded", "false");
    delete this.element.dataset.open;
    document.removeEventListener("click", this.outside, { capture: true });
    if (returnFocus) {
      this.toggle.focus();
    }
  }

  chosen(event) {
    if (event.target instanceof Element && event.target.closest("button")) {
      this.close();
    }
  }

  key(event) {
    if (!this.isOpen) {
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      this.close({ returnFocus: true });
      return;
    }
    // Arrows move between the items too, as people expect of a menu; Tab still works.
    const items = this.items();
    const at = items.indexOf(document.activeElement);
    const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (step !== undefined && items.length > 0) {
      event.preventDefault();
      const from = at === -1 ? (step > 0 ? -1 : 0) : at; // from the button: first or last
      items[(from + step + items.length) % items.length].focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      items[event.key === "Home" ? 0 : items.length - 1]?.focus();
    }
  }
}
