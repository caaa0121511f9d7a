// The practice console (/practice): a practice's staff import the patient roster,
// label it, and send prevention mailings (docs/mailings.md).
//
//   main.mjs       boot and the Console: sign-in -> keys -> the practice (its staff
//                  group key opened in this browser) -> the workspace; the campaigns'
//                  progress is read again every few seconds while one is under way
//   roster.mjs     the CSV import with its rejected-rows report, the roster table
//   composer.mjs   the audience chosen from labels opened here, the text, schedule
//   campaigns.mjs  the campaigns, their progress counts, pause / resume / cancel
//   i18n.mjs       fr/nl/en
//
// Sign-in and keys are the GP console's (../panel/account.mjs): same client library,
// same TOTP step, same backup passphrase. No label and no text leaves the page in
// the clear: the labels are sealed to the staff group, the text as one broadcast.

import { CareChatClient, MailingsClient, NotReady } from "../client/index.mjs";
import { clear, focus, h, mount } from "../ui/dom.mjs";
import { LANGUAGES, language, onLanguageChange, setLanguage, t, translateNotice } from "../ui/i18n.mjs";
import { keysView, signInView, suspendedView } from "../panel/account.mjs";
import { button, errorLine, errorText, field, form } from "../panel/forms.mjs";
import { campaignsBox, updateCounts } from "./campaigns.mjs";
import { composerBox } from "./composer.mjs";
import "./i18n.mjs";
import { rosterBox } from "./roster.mjs";

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const LANGUAGE_NAMES = { fr: "Français", nl: "Nederlands", en: "English" };
const LIVE_MS = 2_000; // progress while a campaign is scheduled, sending or paused
const LIVE_STATES = new Set(["scheduled", "sending", "paused"]);

class Console {
  constructor(client) {
    this.client = client;
    this.mailings = new MailingsClient(client);
    this.practiceId = null;
    this.rows = [];
    this.campaigns = [];
    this.report = null; // the last import's {imported, rejected} or {failed}
    this.composer = { chosen: new Set(), text: "", when: "now", at: "" };
    this.notice = null;
    this.timer = null;
    this.view = null;
    this.errors = errorLine();
    this.tools = h("div", { class: "topbar-tools" });
    this.main = h("div", { class: "practice-main" });
    this.header = h(
      "header",
      { class: "topbar" },
      h("p", { class: "brand" }, h("span", {}, "CareChat"), h("span", { class: "brand-sub" }, t("panel.brand.sub"))),
      h("span", { class: "spacer" }),
      this.tools,
    );
    mount(this.header, this.main);
    onLanguageChange(() => this.render());
    client.on("connection", ({ revoked, suspended = null } = {}) => {
      if (revoked) this.sessionEnded(suspended);
    });
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
    const languageId = "pr-language";
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

  // -- the flow (account.mjs calls signedIn and ready)

  async signedIn() {
    if (!this.client.hasKeys) {
      this.show(keysView);
      return;
    }
    await this.ready();
  }

  async ready() {
    const asked = new URL(location.href).searchParams.get("practice");
    if (asked && ID.test(asked)) {
      await this.openPractice(asked);
      return;
    }
    this.show(choosePracticeView);
  }

  async openPractice(practiceId) {
    this.show(() => h("p", { class: "status", role: "status" }, t("loading")));
    this.practiceId = practiceId;
    const url = new URL(location.href);
    url.searchParams.set("practice", practiceId);
    history.replaceState(null, "", url);
    try {
      await this.mailings.staffKey(practiceId);
    } catch (error) {
      if (!(error instanceof NotReady)) throw error;
      this.show(notMemberView);
      return;
    }
    await this.reload();
    this.show(workspaceView);
  }

  async reload() {
    const [rows, campaigns] = await Promise.all([
      this.mailings.roster(this.practiceId),
      this.progress(),
    ]);
    this.rows = rows;
    this.campaigns = campaigns;
  }

  /** Every campaign, with the progress of those not finished a long time ago. */
  async progress() {
    const listed = await this.mailings.campaigns(this.practiceId);
    return Promise.all(listed.map((c) => this.mailings.campaign(c.campaignId)));
  }

  /** Repaints one box of the workspace (the others keep their focus and input). */
  paint(name) {
    const box = this.main.querySelector(`[data-box="${name}"]`);
    if (!box) return;
    const focused = box.contains(document.activeElement) ? document.activeElement.dataset?.key : null;
    const fresh = { roster: rosterBox, composer: composerBox, campaigns: campaignsBox }[name](this);
    box.replaceWith(fresh);
    if (focused) fresh.querySelector(`[data-key="${focused}"]`)?.focus();
  }

  async refreshCampaigns() {
    const before = this.campaigns;
    this.campaigns = await this.progress();
    if (!updateCounts(this.main.querySelector('[data-box="campaigns"]'), before, this.campaigns)) this.paint("campaigns");
    this.watch();
  }

  /** Reads the progress again every LIVE_MS while a campaign is under way. */
  watch() {
    const live = this.campaigns.some((c) => LIVE_STATES.has(c.state));
    if (live && this.timer === null) {
      this.timer = setInterval(() => this.refreshCampaigns().catch(() => {}), LIVE_MS);
    } else if (!live && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  stopWatching() {
    clearInterval(this.timer);
    this.timer = null;
  }

  sessionEnded(suspended = null) {
    this.stopWatching();
    // Closed by a suspension (its reason in the close): say so, not "sign in again".
    if (suspended) this.show(suspendedView, { reason: suspended });
    else this.show(signInView, { ended: true });
  }

  async signOut() {
    this.stopWatching();
    await this.client.logout();
    this.show(signInView);
  }
}

function choosePracticeView(console_) {
  const id = field({ label: t("practice.id"), name: "practice", required: true, autocomplete: "off", pattern: "[A-Za-z0-9_-]{1,64}" });
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("practice.choose.title")),
    h("p", { class: "lead" }, t("practice.choose.lead")),
    form({
      fields: [id],
      submit: t("practice.open"),
      check: (values) => (ID.test(values.practice.trim()) ? null : t("error.not_found")),
      action: (values) => console_.openPractice(values.practice.trim()),
    }),
  );
}

function notMemberView(console_) {
  const errors = errorLine();
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("practice.heading", { id: console_.practiceId })),
    h("p", { class: "alert", role: "alert" }, t("practice.not_member")),
    errors,
    h("div", { class: "actions" }, button(t("panel.check_again"), () => console_.openPractice(console_.practiceId), errors, "primary")),
  );
}

function workspaceView(console_) {
  queueMicrotask(() => {
    console_.watch();
    focus(console_.main.querySelector("h1"));
  });
  return h(
    "div",
    { class: "practice-workspace" },
    h("h1", { class: "practice-name", tabindex: "-1" }, t("practice.heading", { id: console_.practiceId })),
    rosterBox(console_),
    composerBox(console_),
    campaignsBox(console_),
  );
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
