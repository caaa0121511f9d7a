// The practice console (/practice): a practice's staff import the patient roster,
// label it, and send prevention mailings (docs/mailings.md).
//
//   main.mjs       the Console (its frame and boot: ../panel/shell.mjs): sign-in ->
//                  keys -> the practice (the account's own, by name: opened at once
//                  if it has one, chosen from a list if several; `?practice=` keeps
//                  it across reloads) (its staff group key opened in this browser)
//                  -> the workspace; the campaigns' progress is read again every few
//                  seconds while one is under way
//   roster.mjs     the CSV import with its rejected-rows report, the roster table
//   composer.mjs   the audience chosen from labels opened here, the text, schedule
//   campaigns.mjs  the campaigns, their progress counts, pause / resume / cancel
//   staff.mjs      (the staff group's admin) members and devices, add to / remove
//                  from the staff group
//   offers.mjs     the roles offered to this account: accept / decline, and what
//                  happens after accepting (shown with the list or the "no practice")
//   membership.mjs (the practice's admin) the signed membership list: offer a role
//                  by e-mail, add to / remove from the list, signed in this browser
//   i18n.mjs       fr/nl/en
//
// Sign-in and keys are the GP console's (../panel/account.mjs): same client library,
// same TOTP step, same backup passphrase. People and the practice are named (the
// admin reads its people's display names: PracticesClient.people), never by id. No label and no text leaves the page in
// the clear: the labels are sealed to the staff group, the text as one broadcast.

import { ApiError, MailingsClient, NotReady, PracticesClient } from "../client/index.mjs";
import { focus, h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { keysView, signInView, suspendedView } from "../panel/account.mjs";
import { button, errorLine } from "../panel/forms.mjs";
import { ConsoleShell, startConsole } from "../panel/shell.mjs";
import { campaignsBox, updateCounts } from "./campaigns.mjs";
import { composerBox } from "./composer.mjs";
import "./i18n.mjs";
import { membershipBox } from "./membership.mjs";
import { awaitingList, offersBox, openOffers } from "./offers.mjs";
import { rosterBox } from "./roster.mjs";
import { staffBox } from "./staff.mjs";

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const LIVE_MS = 2_000; // progress while a campaign is scheduled, sending or paused
const LIVE_STATES = new Set(["scheduled", "sending", "paused"]);

class Console extends ConsoleShell {
  constructor(client) {
    super(client, { mainClass: "practice-main", languageId: "pr-language" });
    this.mailings = new MailingsClient(client);
    this.practices = new PracticesClient(client);
    this.mine = []; // the practices this account works in: [{practiceId, name, roles}]
    this.offers = []; // the roles offered to it: [{practiceId, name, role, accepted}]
    this.practiceId = null;
    this.practiceAdmin = null; // its admin account (signs its membership list)
    this.practiceName = null; // the server's word, once this account may see the practice
    this.people = []; // the practice's admin's view: its people by display name
    this.membership = { epoch: 0, members: [] }; // the verified signed list (the admin)
    this.rows = [];
    this.campaigns = [];
    this.staff = []; // the admin's view of the members and the staff group
    this.report = null; // the last import's {imported, rejected} or {failed}
    this.composer = { chosen: new Set(), text: "", when: "now", at: "" };
    this.notice = null;
    this.timer = null;
    client.on("connection", ({ revoked, suspended = null } = {}) => {
      if (revoked) this.sessionEnded(suspended);
    });
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
    this.show(() => h("p", { class: "status", role: "status" }, t("loading")));
    // Nobody types an identifier: the server lists this account's practices by name.
    [this.mine, this.offers] = await Promise.all([this.practices.mine(), this.practices.offers()]);
    const asked = new URL(location.href).searchParams.get("practice");
    if (asked && ID.test(asked)) {
      await this.openPractice(asked);
      return;
    }
    // An offer to answer keeps the list on screen rather than opening the one practice.
    if (this.mine.length === 1 && !openOffers(this).length) {
      await this.openPractice(this.mine[0].practiceId);
      return;
    }
    this.show(this.mine.length ? practicesView : noPracticeView);
  }

  /** Back from an open practice to the list of this account's practices. */
  showPractices() {
    this.stopWatching();
    this.practiceId = null;
    const url = new URL(location.href);
    url.searchParams.delete("practice");
    history.replaceState(null, "", url);
    this.show(practicesView);
  }

  async openPractice(practiceId) {
    this.show(() => h("p", { class: "status", role: "status" }, t("loading")));
    this.practiceId = practiceId;
    const url = new URL(location.href);
    url.searchParams.set("practice", practiceId);
    history.replaceState(null, "", url);
    this.practiceName = await this.nameOfPractice(practiceId);
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
    this.staff = this.mailings.isStaffAdmin(this.practiceId) ? await this.mailings.staffMembers(this.practiceId) : [];
    if (this.isPracticeAdmin()) await this.loadMembership();
  }

  /** The practice's name; null where the server shows this account no practice. */
  async nameOfPractice(practiceId) {
    try {
      const practice = await this.practices.practice(practiceId);
      this.practiceAdmin = String(practice.admin);
      return String(practice.name);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      this.practiceAdmin = null;
      return null;
    }
  }

  isPracticeAdmin() {
    return this.practiceAdmin !== null && this.practiceAdmin === this.client.accountId;
  }

  /** A person's display name (the admin's view), never their id. */
  nameOf(accountId) {
    if (accountId === this.client.accountId) return this.client.me?.display_name ?? t("person.you");
    return this.people.find((p) => p.accountId === accountId)?.displayName ?? t("person.unnamed");
  }

  async loadMembership() {
    [this.people, this.membership] = await Promise.all([
      this.practices.people(this.practiceId),
      this.practices.membership(this.practiceId),
    ]);
  }

  /** After a role offered or a list published: the people, the list and the staff. */
  async reloadMembership() {
    await this.loadMembership();
    this.paint("membership");
    if (this.mailings.isStaffAdmin(this.practiceId)) {
      this.staff = await this.mailings.staffMembers(this.practiceId);
      this.paint("staff");
    }
  }

  /** After a membership change: the members, and the roster sealed to the new epoch. */
  async reloadStaff() {
    if (this.isPracticeAdmin()) this.people = await this.practices.people(this.practiceId);
    this.staff = await this.mailings.staffMembers(this.practiceId);
    this.rows = await this.mailings.roster(this.practiceId);
    this.paint("staff");
    this.paint("roster");
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
    const fresh = { roster: rosterBox, composer: composerBox, campaigns: campaignsBox, staff: staffBox, membership: membershipBox }[name](this);
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

/** The roles this account holds in a practice, in words: "Administrator, Staff". */
function rolesText(roles) {
  return roles.map((role) => t(`practice.role.${role}`)).join(", ");
}

function practicesView(console_) {
  const errors = errorLine();
  queueMicrotask(() => focus(console_.main.querySelector("h1")));
  return h(
    "section",
    { class: "card narrow" },
    h("h1", { tabindex: "-1" }, t("practice.list.title")),
    offersBox(console_),
    awaitingList(console_) ? h("div", { class: "actions" }, button(t("panel.check_again"), () => console_.ready(), errors)) : null,
    h("p", { class: "lead" }, t("practice.list.lead")),
    errors,
    h(
      "ul",
      { class: "practice-list" },
      console_.mine.map((practice) =>
        h(
          "li",
          {},
          button(
            [h("span", { class: "practice-choice-name" }, practice.name), h("span", { class: "practice-choice-roles" }, rolesText(practice.roles))],
            () => console_.openPractice(practice.practiceId),
            errors,
            "practice-choice",
          ),
        ),
      ),
    ),
  );
}

function noPracticeView(console_) {
  const errors = errorLine();
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("practice.none.title")),
    h("p", { class: "lead" }, t("practice.none.lead")),
    h("p", {}, t("practice.none.who")),
    offersBox(console_),
    errors,
    h("div", { class: "actions" }, button(t("panel.check_again"), () => console_.ready(), errors, "primary")),
  );
}

/** The way back to the list, where the account has several practices. */
function allPractices(console_) {
  if (console_.mine.length < 2) return null;
  return h("div", { class: "practice-back" }, h("button", { type: "button", class: "quiet small", onclick: () => console_.showPractices() }, t("practice.all")));
}

function notMemberView(console_) {
  const errors = errorLine();
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, console_.practiceName ?? t("practice.unnamed")),
    h("p", { class: "alert", role: "alert" }, t("practice.not_member")),
    errors,
    h("div", { class: "actions" }, button(t("panel.check_again"), () => console_.openPractice(console_.practiceId), errors, "primary")),
    allPractices(console_),
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
    allPractices(console_),
    h("h1", { class: "practice-name", tabindex: "-1" }, console_.practiceName ?? t("practice.unnamed")),
    rosterBox(console_),
    composerBox(console_),
    campaignsBox(console_),
    console_.isPracticeAdmin() ? membershipBox(console_) : null,
    console_.mailings.isStaffAdmin(console_.practiceId) ? staffBox(console_) : null,
  );
}

startConsole((client) => new Console(client));
