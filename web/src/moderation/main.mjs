// The moderator console (/moderation): platform admins (created by `carechat admin`)
// read verified abuse reports, look accounts up and warn / suspend / lift them with a
// reason, search the audit log and verify its hash chain, and retry failed jobs.
//
//   main.mjs      boot and the Console: sign-in (the GP console's, no keys: nothing
//                 here is end-to-end encrypted) -> admins only -> the four sections
//   reports.mjs   the report queue: verification, revealed text, resolve / dismiss
//   accounts.mjs  look-up by id or e-mail, sanctions with a mandatory reason
//   audit.mjs     audit search a page at a time, chain verification
//   jobs.mjs      failed jobs (no payloads), retry
//   i18n.mjs      fr/nl/en
//
// The server checks the role on every request; the page only spares a non-admin a
// screen of 403s.

import { CareChatClient, ModerationClient } from "../client/index.mjs";
import { clear, focus, h, mount } from "../ui/dom.mjs";
import { LANGUAGES, language, onLanguageChange, setLanguage, t, translateNotice } from "../ui/i18n.mjs";
import { signInView } from "../panel/account.mjs";
import { button, errorLine, errorText } from "../panel/forms.mjs";
import { accountsView } from "./accounts.mjs";
import { auditView } from "./audit.mjs";
import "./i18n.mjs";
import { jobsView } from "./jobs.mjs";
import { reportsView } from "./reports.mjs";

const LANGUAGE_NAMES = { fr: "Français", nl: "Nederlands", en: "English" };
const SECTIONS = { reports: reportsView, accounts: accountsView, audit: auditView, jobs: jobsView };

class Console {
  constructor(client) {
    this.client = client;
    this.moderation = new ModerationClient(client);
    this.section = "reports";
    this.reports = null;
    this.account = null;
    this.audit = { filters: {}, entries: null, before: null, verification: null };
    this.jobs = null;
    this.view = null;
    this.errors = errorLine();
    this.tools = h("div", { class: "topbar-tools" });
    this.main = h("div", { class: "moderation-main" });
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
    const languageId = "m-language";
    this.tools.append(
      h("label", { for: languageId, class: "visually-hidden" }, t("panel.language")),
      h(
        "select",
        { id: languageId, class: "language", onchange: (e) => setLanguage(e.target.value) },
        LANGUAGES.map((lang) => h("option", { value: lang, lang, selected: lang === language() }, LANGUAGE_NAMES[lang])),
      ),
    );
    if (this.client.accountId) this.tools.append(button(t("signout"), () => this.signOut(), this.errors, "quiet small"));
  }

  // -- the flow (account.mjs calls signedIn)

  async signedIn() {
    if (this.client.me?.role !== "admin") {
      this.show(notModeratorView);
      return;
    }
    await this.open(this.section);
  }

  /** Shows a section, with what it lists read afresh. */
  async open(section) {
    this.section = section;
    if (section === "reports") this.reports = await this.moderation.reports();
    if (section === "jobs") this.jobs = await this.moderation.failedJobs();
    this.show(workspaceView);
    queueMicrotask(() => focus(this.main.querySelector("h1")));
  }

  /** Repaints the current section only (its forms keep no state worth keeping). */
  repaint() {
    this.show(workspaceView);
  }

  /** From a report to its sender's account. */
  async lookUp(accountId) {
    this.account = await this.moderation.lookup({ accountId });
    await this.open("accounts");
  }

  async signOut() {
    await this.client.logout();
    this.account = null;
    this.reports = null;
    this.jobs = null;
    this.audit = { filters: {}, entries: null, before: null, verification: null };
    this.show(signInView);
  }
}

function notModeratorView() {
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("moderation.title")),
    h("p", { class: "alert", role: "alert" }, t("moderation.not_admin")),
  );
}

function workspaceView(console_) {
  const tabs = h(
    "nav",
    { class: "sections", "aria-label": t("moderation.sections") },
    h(
      "ul",
      {},
      Object.keys(SECTIONS).map((name) =>
        h(
          "li",
          {},
          button(
            t(`section.${name}`),
            () => console_.open(name),
            console_.errors,
            name === console_.section ? "tab current" : "tab",
          ),
        ),
      ),
    ),
  );
  for (const tab of tabs.querySelectorAll("button.current")) tab.setAttribute("aria-current", "page");
  return h("div", { class: "moderation-workspace" }, tabs, console_.errors, SECTIONS[console_.section](console_));
}

async function start() {
  translateNotice();
  const client = await CareChatClient.open({ baseUrl: location.origin });
  const console_ = new Console(client);
  if (!client.accountId) {
    console_.show(signInView);
    return;
  }
  await console_.signedIn();
}

start().catch((error) => {
  // The page must never stay blank: say what happened (the console has the detail).
  console.error(error);
  const root = document.getElementById("root");
  if (root) root.replaceChildren(h("p", { class: "alert", role: "alert" }, errorText(error)));
});
