// The GP-panel console (/panel): GPs of a panel answer free questions from its shared,
// end-to-end encrypted queue.
//
//   main.mjs      the Console (booted by shell.mjs): sign-in -> keys -> the panel (its
//                 verified epoch must list this browser) -> the workspace; presence
//                 heartbeat, lease renewal, live figures and queue
//   account.mjs   sign-in (password, TOTP code) and this browser's keys
//   shell.mjs     the boot, and the frame the practice and moderator consoles share
//   queue.mjs     the live figures, the waiting questions, the GP's own
//   members.mjs   the panel's GPs by name; its admin adds (by e-mail) and removes them
//   settings.mjs  the panel's settings and per-GP capacities (its admin)
//   new_panel.mjs a new panel, its creator its admin
//   question.mjs  the open question: intake, messages, answer, park/resume, release,
//                 hand over, convert
//   forms.mjs     fields, forms and buttons whose failures become sentences
//   i18n.mjs      fr/nl/en
//
// The workspace is three boxes painted apart, so that a live update of the queue never
// re-renders the answer the GP is typing.

import { ApiError, PanelClient, PaymentsClient } from "../client/index.mjs";
import { clear, focus, h, mount, patch } from "../ui/dom.mjs";
import { LANGUAGES, language, onLanguageChange, setLanguage, t } from "../ui/i18n.mjs";
import "../ui/intake-options.mjs";
import { keysView, signInView, suspendedView } from "./account.mjs";
import { button, choice, errorLine, showError } from "./forms.mjs";
import "./i18n.mjs";
import { membersBox } from "./members.mjs";
import { newPanelBox } from "./new_panel.mjs";
import { paidList, payoutsBox } from "./paid.mjs";
import { questionPane } from "./question.mjs";
import { queueBox, ratingsBox, statsBox } from "./queue.mjs";
import { settingsBox } from "./settings.mjs";
import { startConsole } from "./shell.mjs";

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const LANGUAGE_NAMES = { fr: "Français", nl: "Nederlands", en: "English" };
// Refresh of what no frame announces: figures that move with time (oldest wait) and a
// patient's follow-up in the open question.
const REFRESH_MS = 15_000;

class Console {
  constructor(client) {
    this.client = client;
    this.panel = new PanelClient(client);
    this.payments = new PaymentsClient(client, this.panel);
    this.panelId = null;
    this.panels = [];
    this.colleagues = [];
    // The panel's GPs by name ({account_id, display_name, online}), and whether this
    // account is its admin (who adds and removes them); the box is painted apart so a
    // live figure does not take away the address being typed.
    this.members = [];
    this.isAdmin = false;
    this.membersEl = null;
    this.settingsEl = null;
    this.newPanelEl = null;
    this.online = false;
    this.stats = null;
    this.ratings = [];
    this.queue = null;
    this.openId = null;
    this.opened = null;
    // What the GP types or chooses in the open question (its answer, the paid chat's
    // message and closing summary, the hand-over and convert forms), kept across the
    // pane's repaints: "<question id>/<field>" -> value (forms.mjs kept()).
    this.drafts = new Map();
    this.notice = null;
    this.timers = new Map();
    this.view = null;
    this.errors = errorLine();
    this.tools = h("div", { class: "topbar-tools" });
    this.main = h("div", { class: "panel-main" });
    const header = h(
      "header",
      { class: "topbar" },
      h("p", { class: "brand" }, h("span", {}, t("panel.brand")), h("span", { class: "brand-sub" }, t("panel.brand.sub"))),
      h("span", { class: "spacer" }),
      this.tools,
    );
    this.header = header;
    mount(header, this.main);
    client.on("panel", (stats) => this.statsArrived(stats));
    client.on("panelRemoved", ({ panelId }) => this.removed(panelId));
    client.on("connection", ({ revoked, suspended = null }) => {
      if (revoked) this.sessionEnded(suspended);
    });
    onLanguageChange(() => this.render());
    window.addEventListener("pagehide", () => {
      if (this.online && this.panelId) this.panel.offline(this.panelId).catch(() => {});
    });
  }

  // -- the flow

  show(view, ...args) {
    this.view = { view, args };
    this.render();
  }

  render() {
    document.documentElement.lang = language();
    this.paintTools();
    clear(this.main);
    // Drawn again, in the language now chosen.
    this.membersEl = null;
    this.settingsEl = null;
    this.newPanelEl = null;
    if (this.view === null) return;
    this.main.append(this.view.view(this, ...this.view.args));
    document.title = `${this.main.querySelector("h1, h2")?.textContent ?? "CareChat"} · CareChat`;
  }

  paintTools() {
    this.header.querySelector(".brand span").textContent = t("panel.brand");
    this.header.querySelector(".brand-sub").textContent = t("panel.brand.sub");
    clear(this.tools);
    const languageId = "p-language";
    this.tools.append(
      h("label", { for: languageId, class: "visually-hidden" }, t("panel.language")),
      h(
        "select",
        { id: languageId, class: "language", onchange: (e) => setLanguage(e.target.value) },
        LANGUAGES.map((lang) => h("option", { value: lang, lang, selected: lang === language() }, LANGUAGE_NAMES[lang])),
      ),
    );
    if (this.client.accountId) {
      this.tools.append(button(t("signout"), () => this.signOut(), this.errors, "quiet small"));
    }
  }

  async signedIn() {
    if (!this.client.hasKeys) {
      this.show(keysView);
      return;
    }
    await this.ready();
  }

  async ready() {
    this.show(() => h("p", { class: "status", role: "status" }, t("loading")));
    await this.client.connect();
    // The panels this GP sits on or runs; one named in the address is shown too (to
    // say this browser is not, or not yet, a member of it).
    this.panels = await this.panel.panels({ mine: true });
    const asked = new URL(location.href).searchParams.get("panel");
    if (asked && ID.test(asked) && !this.panels.some((p) => p.panel_id === asked)) {
      const named = await this.panel.panel(asked).catch(() => null);
      if (named) this.panels.push(named);
    }
    const known = this.panels.map((p) => p.panel_id);
    const chosen = asked && ID.test(asked) && known.includes(asked) ? asked : known[0] ?? null;
    await this.choosePanel(chosen);
  }

  async choosePanel(panelId) {
    if (this.online && this.panelId && this.panelId !== panelId) await this.goOffline();
    this.panelId = panelId;
    this.openId = null;
    this.opened = null;
    this.ratings = [];
    if (panelId === null) {
      this.show(() => h("section", { class: "card narrow" }, h("h1", {}, t("panel.none")), this.newPanelBox({ open: true })));
      return;
    }
    this.isAdmin = this.panels.find((p) => p.panel_id === panelId)?.admin_account === this.client.accountId;
    let epoch = null;
    try {
      epoch = await this.panel.epoch(panelId);
    } catch (error) {
      // A new panel has no epoch until its admin adds the first GPs.
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    this.colleagues = epoch ? [...new Set(epoch.members.map((m) => m.accountId))] : [];
    // Only its GPs and its admin may read the names (anyone else: a 404 not worth asking).
    this.members = [];
    if (this.isAdmin || this.isMember(epoch)) await this.loadMembers();
    if (!this.isMember(epoch)) {
      this.show(notMemberView, epoch ? "panel.not_member" : "members.no_epoch");
      return;
    }
    this.show(workspaceView);
    await this.refresh();
    this.every("refresh", REFRESH_MS, () => this.refresh().catch(() => {}));
  }

  nameOf(accountId) {
    return this.members.find((m) => m.account_id === accountId)?.display_name || accountId;
  }

  isMember(epoch) {
    const me = this.client.accountId;
    return Boolean(epoch?.members.some((m) => m.accountId === me && m.deviceId === this.client.keystore.deviceId));
  }

  // -- the panel's GPs

  async loadMembers() {
    this.members = await this.panel.members(this.panelId).catch(() => []);
  }

  /** After the admin signed a new epoch here: names, colleagues, and this browser's place. */
  async membersChanged() {
    const epoch = await this.panel.epoch(this.panelId);
    this.colleagues = [...new Set(epoch.members.map((m) => m.accountId))];
    await this.loadMembers();
    const inWorkspace = this.view?.view === workspaceView;
    // Added to it (the admin added themselves): the workspace opens; removed, the
    // server's panel_removed frame says so.
    if (this.isMember(epoch) && !inWorkspace) await this.choosePanel(this.panelId);
    else this.paintMembers();
  }

  membersBox() {
    this.membersEl ??= membersBox(this);
    return this.membersEl;
  }

  paintMembers() {
    const box = this.membersEl;
    if (!box) return;
    const key = box.contains(document.activeElement) ? document.activeElement.dataset?.key : null;
    box.repaintList();
    if (key && !box.contains(document.activeElement)) box.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
    // A GP's own capacity is set beside the panel's: the settings list the members.
    if (this.settingsEl?.isConnected && !this.settingsEl.contains(document.activeElement)) this.paintSettings();
  }

  /** A new panel (the admin's side, and the screen of a GP without panels). */
  newPanelBox({ open = false } = {}) {
    this.newPanelEl ??= newPanelBox(this, { open });
    return this.newPanelEl;
  }

  async panelCreated(panel) {
    this.panels = [...this.panels.filter((p) => p.panel_id !== panel.panel_id), panel];
    await this.choosePanel(panel.panel_id);
  }

  /** The admin's settings box (null for the panel's other GPs). */
  settingsBox() {
    const panel = this.panels.find((p) => p.panel_id === this.panelId);
    if (!this.isAdmin || !panel) return null;
    this.settingsEl ??= settingsBox(this, panel);
    return this.settingsEl;
  }

  paintSettings(saved = false) {
    const old = this.settingsEl;
    const panel = this.panels.find((p) => p.panel_id === this.panelId);
    if (!old || !panel) return;
    this.settingsEl = settingsBox(this, panel, saved);
    if (old.isConnected) old.replaceWith(this.settingsEl);
  }

  /** The panel as the server stored it after the admin changed its settings. */
  settingsChanged(stored) {
    this.panels = this.panels.map((p) => (p.panel_id === stored.panel_id ? stored : p));
    this.paintSettings(true);
  }

  // -- live figures and queue

  async refresh() {
    if (!this.panelId) return;
    const [stats, queue, payouts, members, ratings] = await Promise.all([
      this.panel.stats(this.panelId),
      this.panel.queue(this.panelId),
      this.payments.payouts(),
      this.panel.members(this.panelId).catch(() => this.members),
      this.panel.ratings(this.panelId).catch(() => this.ratings),
    ]);
    this.stats = stats;
    this.ratings = ratings;
    if (JSON.stringify(members) !== JSON.stringify(this.members)) {
      this.members = members;
      this.paintMembers();
    }
    this.queue = queue;
    // Answered paid chats leave "my questions": they are listed apart while open.
    this.paidChats = payouts.filter((p) => p.panel_id === this.panelId && p.state === "answered");
    this.payouts = payouts;
    this.paintSide();
    this.renewHeld();
    await this.newMessages();
  }

  /** A patient's follow-up reaches the open question at the next refresh. */
  async newMessages() {
    const opened = this.opened;
    if (!opened) return;
    const after = opened.messages.at(-1)?.seq ?? 0;
    let fresh;
    try {
      fresh = await this.panel.messages(opened.status.question_id, { after });
    } catch {
      return; // no longer this GP's to read (handed over, removed): the queue says so
    }
    if (!fresh.length || this.opened !== opened) return;
    opened.messages.push(...fresh);
    this.paintQuestion();
  }

  statsArrived(stats) {
    if (stats?.panel_id !== this.panelId) return;
    // Someone came online or left: who it was is in the members box.
    if (stats.gps_online !== this.stats?.gps_online) {
      this.loadMembers()
        .then(() => this.paintMembers())
        .catch(() => {});
    }
    const rated = stats.rating_count !== this.stats?.rating_count;
    this.stats = stats;
    // The figures came with the frame; the queue (and a new rating) are read again.
    Promise.all([this.panel.queue(this.panelId), rated ? this.panel.ratings(this.panelId) : this.ratings])
      .then(([queue, ratings]) => {
        this.queue = queue;
        this.ratings = ratings;
        this.paintSide();
      })
      .catch(() => this.paintSide());
  }

  paintSide() {
    const side = this.main.querySelector(".panel-side");
    if (!side) return;
    // A live update must not take the keyboard's place away: the same button gets it back.
    const focused = side.contains(document.activeElement) ? document.activeElement.dataset?.key : null;
    const fresh = [presenceBox(this), statsBox(this.stats), ratingsBox(this.ratings), ...queueBox(this, this.errors), ...paidList(this, this.errors), ...payoutsBox(this), this.membersBox(), this.settingsBox(), this.isAdmin ? this.newPanelBox() : null].filter(Boolean);
    const boxes = [...side.children].filter((el) => el !== this.errors);
    if (boxes.length === fresh.length) {
      // The same boxes: only what changed is redrawn (patch), so a live figure or a
      // wait that ticked does not swap the Claim button being pressed for a copy
      // (pressed on one, released on the other: no click).
      fresh.forEach((box, index) => patch(boxes[index], box));
    } else {
      clear(side);
      side.append(...fresh, this.errors);
    }
    if (focused && !side.contains(document.activeElement)) side.querySelector(`[data-key="${focused}"]`)?.focus();
  }

  paintQuestion() {
    const pane = this.main.querySelector(".panel-question");
    if (!pane) return;
    // The control being used keeps its focus (what it holds is kept in this.drafts):
    // a field by its name, a button or the convert toggle by its key.
    const active = pane.contains(document.activeElement) ? document.activeElement : null;
    const key = active?.dataset?.key;
    const name = !key && ["INPUT", "TEXTAREA", "SELECT"].includes(active?.tagName) ? active.name : null;
    clear(pane);
    if (this.opened) {
      pane.append(questionPane(this, this.opened));
    } else if (this.notice) {
      pane.append(h("p", { class: "alert", role: "status" }, t(this.notice)));
    }
    const again = key
      ? pane.querySelector(`[data-key="${CSS.escape(key)}"]`)
      : name
        ? pane.querySelector(`:is(input, textarea, select)[name="${CSS.escape(name)}"]`)
        : null;
    if (again) {
      again.focus();
      // The caret back at the end of the text (not every input type has one).
      if (typeof again.selectionStart === "number") again.setSelectionRange(again.value.length, again.value.length);
    }
  }

  /** Drops what was typed for `questionId` (it left this GP: handed over, released,
   * converted). */
  forget(questionId) {
    for (const key of [...this.drafts.keys()]) {
      if (key.startsWith(`${questionId}/`)) this.drafts.delete(key);
    }
  }

  // -- presence: only online GPs are offered questions

  async goOnline() {
    const { online_until: until } = await this.panel.online(this.panelId);
    this.online = true;
    // Renew at half the period the server granted, so one late beat does not drop us.
    const period = Math.max(5_000, (Date.parse(until) - Date.now()) / 2);
    this.every("presence", period, () => this.panel.online(this.panelId).catch(() => {}));
    await this.refresh();
  }

  async goOffline() {
    this.stop("presence");
    this.online = false;
    await this.panel.offline(this.panelId);
    await this.refresh();
  }

  // -- claims and leases

  async claim(questionId) {
    const claimed = await this.panel.claim(this.panelId, questionId);
    await this.open(claimed.question_id);
    await this.refresh();
  }

  async open(questionId) {
    const [status, messages, payouts] = await Promise.all([
      this.panel.status(questionId),
      this.panel.messages(questionId),
      // A paid chat this GP answered (GET /payouts): marked, its window counted down.
      this.payments.payouts(),
    ]);
    this.openId = questionId;
    this.opened = { status, messages, paid: payouts.find((p) => p.thread_id === questionId) ?? null };
    this.notice = null;
    this.paintQuestion();
    this.paintSide();
    focus(this.main.querySelector("#p-question-title"));
  }

  async closeQuestion() {
    this.openId = null;
    this.opened = null;
    this.paintQuestion();
    await this.refresh();
  }

  /** The console renews the lease of every question the GP holds while it is open. */
  renewHeld() {
    const held = (this.queue?.mine ?? []).filter((q) => q.state === "claimed");
    if (!held.length) {
      this.stop("lease");
      return;
    }
    const lease = this.panels.find((p) => p.panel_id === this.panelId)?.settings?.lease_seconds ?? 300;
    if (this.timers.has("lease")) return;
    this.every("lease", Math.max(5_000, (lease * 1000) / 3), async () => {
      for (const q of (this.queue?.mine ?? []).filter((item) => item.state === "claimed")) {
        try {
          await this.panel.renew(q.question_id);
        } catch (error) {
          if (error?.code !== "question_not_held") continue;
          if (this.openId === q.question_id) {
            this.opened = null;
            this.openId = null;
            this.notice = "question.lease_lost";
            this.paintQuestion();
          }
          await this.refresh().catch(() => {});
        }
      }
    });
  }

  every(name, ms, fn) {
    this.stop(name);
    this.timers.set(name, setInterval(() => fn(), ms));
  }

  stop(name) {
    clearInterval(this.timers.get(name));
    this.timers.delete(name);
  }

  removed(panelId) {
    if (panelId !== this.panelId) return;
    this.stop("presence");
    this.stop("lease");
    // Its figures and queue are closed to this account now: no more asking (each a 404).
    this.stop("refresh");
    this.online = false;
    this.opened = null;
    this.openId = null;
    this.show(notMemberView, "panel.removed");
  }

  sessionEnded(suspended = null) {
    for (const name of [...this.timers.keys()]) this.stop(name);
    this.online = false;
    // Closed by a suspension (its reason in the close): say so, not "sign in again".
    if (suspended) this.show(suspendedView, { reason: suspended });
    else this.show(signInView, { ended: true });
  }

  async signOut() {
    if (this.online && this.panelId) await this.panel.offline(this.panelId).catch(() => {});
    for (const name of [...this.timers.keys()]) this.stop(name);
    this.online = false;
    await this.client.logout();
    this.show(signInView);
  }
}

function presenceBox(console_) {
  const errors = console_.errors;
  const panels = console_.panels;
  // A GP may sit on several panels: the one shown is the heading, the others a choice.
  let switcher = null;
  if (panels.length > 1) {
    switcher = choice({ label: t("panel.choose"), name: "panel", options: panels.map((p) => [p.panel_id, p.name]) });
    switcher.input.value = console_.panelId;
    // Named across the side's repaints (a live figure), so focus comes back to it.
    switcher.input.dataset.key = "panel-choice";
    switcher.input.addEventListener("change", () => console_.choosePanel(switcher.input.value).catch((e) => showError(errors, e)));
  }
  return h(
    "section",
    { class: "box presence", "aria-labelledby": "p-panel-name" },
    h("h1", { class: "panel-name", id: "p-panel-name" }, panels.find((p) => p.panel_id === console_.panelId)?.name ?? ""),
    switcher,
    h(
      "p",
      { class: ["presence-state", console_.online ? "is-online" : "is-offline"], role: "status" },
      console_.online ? t("presence.online") : t("presence.offline"),
    ),
    console_.online
      ? button(t("presence.go_offline"), () => console_.goOffline(), errors, null, "presence")
      : button(t("presence.go_online"), () => console_.goOnline(), errors, "primary", "presence"),
  );
}

function workspaceView(console_) {
  const el = h(
    "div",
    { class: "workspace" },
    h("div", { class: "panel-side" }),
    h("div", { class: "panel-question" }),
  );
  queueMicrotask(() => {
    console_.paintSide();
    console_.paintQuestion();
  });
  return el;
}

/** `why`: the key of the text to show (a key, so a language switch translates it). */
function notMemberView(console_, why = "panel.not_member") {
  const errors = errorLine();
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, console_.panels.find((p) => p.panel_id === console_.panelId)?.name ?? t("panel.choose")),
    h("p", { class: "alert", role: "alert" }, t(why)),
    errors,
    h("div", { class: "actions" }, button(t("panel.check_again"), () => console_.choosePanel(console_.panelId), errors, "primary")),
    // Its admin adds GPs (themselves too) from here.
    console_.isAdmin ? console_.membersBox() : null,
  );
}

startConsole((client) => new Console(client));
