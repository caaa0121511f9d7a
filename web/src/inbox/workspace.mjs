// The signed-in inbox: a top bar (connection, availability, language, sign out), the
// sidebar (care-link requests and threads with unread counts) and the pane (a thread,
// or the settings). It subscribes to the client library's live events and routes
// each to the list and to the open thread; every list redraw keeps keyboard focus
// where it was.
import { announce, focus, h, replace } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { alertBox } from "./feedback.mjs";
import { languageSwitcher } from "./language.mjs";
import { settingsView } from "./settings.mjs";
import { linkIdOf, linkStatusOf, patientIdOf, patientNameOf, shortId, threadIdOf, unreadOf } from "./summaries.mjs";
import { refocusEntry, threadList } from "./thread_list.mjs";
import { ThreadView } from "./thread_view.mjs";

const LINK_POLL_MS = 20_000;
// Notice kinds with their own sentence; any other is "the conversation changed".
const NOTICES = new Set(["recipients_changed", "trust"]);

export class Workspace {
  constructor(client, { onSignedOut, onSuspended = onSignedOut }) {
    this.client = client;
    this.onSignedOut = onSignedOut;
    this.onSuspended = onSuspended;
    this.threads = new Map();
    this.links = [];
    this.selectedId = null;
    this.pane = "empty"; // "empty" | "thread" | "settings"
    this.view = null;
    this.connection = "connecting";
    this.alert = alertBox();
    this.handlers = {
      message: (m) => this.onMessage(m),
      status: (s) => this.view?.threadId === s.threadId && this.view.setStatus(s),
      receipt: (r) => this.view?.threadId === r.threadId && this.view.receipt(r),
      typing: (e) => this.view?.threadId === e.threadId && this.view.typing(e),
      thread: (s) => this.onThread(s),
      connection: (c) => this.onConnection(c),
      notice: (n) => this.onNotice(n),
      error: (e) => this.alert.show(e),
    };
    this.topbar = h("header", { class: "topbar" });
    this.sidebar = h("nav", { class: "sidebar", "aria-label": t("nav.threads") });
    this.paneEl = h("div", { class: "pane" });
    this.element = h("div", { class: "workspace", dataset: { pane: this.pane } }, this.topbar, h("div", { class: "columns" }, this.sidebar, this.paneEl));
    this.render();
  }

  async start() {
    for (const [type, handler] of Object.entries(this.handlers)) {
      this.client.on(type, handler);
    }
    await Promise.all([this.refreshThreads(), this.refreshLinks()]);
    // Care-link requests have no live event (threads do): look again now and then.
    this.linkPoll = setInterval(() => this.refreshLinks(), LINK_POLL_MS);
    // Messages that arrived while the tab was hidden are read once it is seen.
    document.addEventListener("visibilitychange", this.onVisible);
    try {
      await this.client.connect();
    } catch (error) {
      this.alert.show(error);
    }
  }

  onVisible = () => {
    if (document.visibilityState === "visible" && this.view) {
      this.view.markRead();
      const summary = this.threads.get(this.view.threadId);
      if (summary && unreadOf(summary) > 0) {
        this.threads.set(this.view.threadId, { ...summary, unread: 0 });
        this.renderList();
      }
    }
  };

  close() {
    clearInterval(this.linkPoll);
    document.removeEventListener("visibilitychange", this.onVisible);
    for (const [type, handler] of Object.entries(this.handlers)) {
      this.client.off(type, handler);
    }
    this.view?.close();
  }

  async refreshThreads() {
    try {
      const threads = await this.client.threads();
      this.threads = new Map(threads.map((s) => [threadIdOf(s), s]));
      this.renderList();
    } catch (error) {
      this.alert.show(error);
    }
  }

  async refreshLinks() {
    try {
      const links = (await this.client.careLinks()).filter((l) => linkStatusOf(l) === "requested");
      const ids = (list) => list.map(linkIdOf).join(" ");
      // Polled: redraw (and disturb the keyboard user) only when something changed.
      if (ids(links) !== ids(this.links)) {
        this.links = links;
        this.renderList();
      }
    } catch (error) {
      this.alert.show(error);
    }
  }

  // -- drawing --------------------------------------------------------------------

  render() {
    this.renderTopbar();
    this.sidebar.setAttribute("aria-label", t("nav.threads"));
    this.renderList();
    this.renderPane();
    this.view?.relabel();
  }

  renderTopbar() {
    const me = this.client.me ?? {};
    const accepting = me.availability?.accepting_requests !== false;
    const signOut = h(
      "button",
      {
        type: "button",
        class: "small quiet",
        onclick: async () => {
          signOut.disabled = true;
          try {
            await this.client.logout();
          } finally {
            this.close();
            this.onSignedOut();
          }
        },
      },
      t("nav.sign_out"),
    );
    replace(
      this.topbar,
      h("p", { class: "brand" }, "CareChat", h("span", { class: "brand-sub" }, t("inbox.title"))),
      h("p", { class: "connection", role: "status", dataset: { state: this.connection } }, t(`connection.${this.connection}`)),
      h("div", { class: "spacer" }),
      h(
        "button",
        {
          type: "button",
          class: ["availability", "small", accepting ? "is-available" : "is-away"],
          dataset: { available: accepting ? "yes" : "no" },
          "aria-pressed": this.pane === "settings" ? "true" : "false",
          onclick: () => this.showSettings(),
        },
        t(accepting ? "availability.accepting" : "availability.away"),
      ),
      h("span", { class: "me" }, me.display_name ?? ""),
      languageSwitcher(),
      signOut,
    );
  }

  renderList() {
    const hadFocus = this.sidebar.contains(document.activeElement) ? document.activeElement?.dataset?.thread : null;
    const unread = [...this.threads.values()].reduce((sum, s) => sum + unreadOf(s), 0);
    const list = threadList({
      threads: [...this.threads.values()],
      links: this.links,
      selectedId: this.selectedId,
      onOpen: (id) => this.openThread(id),
      onAnswer: (id, accept) => this.answerLink(id, accept),
    });
    replace(
      this.sidebar,
      h("h1", { class: "sidebar-title" }, t("nav.threads"), unread > 0 ? h("span", { class: "unread-count total", "aria-label": t("list.unread", { count: unread }) }, String(unread)) : null),
      this.alert.element,
      list,
    );
    if (hadFocus) {
      refocusEntry(list, hadFocus);
    }
    document.title = unread > 0 ? `(${unread}) CareChat` : "CareChat";
  }

  renderPane() {
    this.element.dataset.pane = this.pane;
    if (this.pane === "settings") {
      this.view?.close();
      this.view = null;
      replace(
        this.paneEl,
        settingsView(this.client, {
          onAvailability: (availability) => {
            if (this.client.me) {
              this.client.me.availability = availability;
            }
            this.renderTopbar();
          },
          onBack: () => this.back(),
          nameOf: (id) => {
            const summary = [...this.threads.values()].find((th) => patientIdOf(th) === id);
            return summary ? patientNameOf(summary) : shortId(id);
          },
        }),
      );
      return;
    }
    if (this.pane === "thread" && this.selectedId && this.threads.has(this.selectedId)) {
      const summary = this.threads.get(this.selectedId);
      if (this.view?.threadId !== this.selectedId) {
        this.view?.close();
        this.view = new ThreadView({
          client: this.client,
          summary,
          providerName: this.client.me?.display_name,
          onBack: () => this.back(),
          onAction: (id, action) => this.threadAction(id, action),
        });
        this.view.load();
      }
      replace(this.paneEl, this.view.element);
      return;
    }
    this.view?.close();
    this.view = null;
    replace(this.paneEl, h("div", { class: "pane-empty" }, h("p", {}, t("pane.empty"))));
  }

  // -- navigation -----------------------------------------------------------------

  openThread(threadId) {
    this.selectedId = threadId;
    this.pane = "thread";
    const summary = this.threads.get(threadId);
    if (summary && unreadOf(summary) > 0) {
      this.threads.set(threadId, { ...summary, unread: 0 });
    }
    this.renderPane();
    this.renderList();
    this.renderTopbar();
    this.view?.focusTitle();
  }

  showSettings() {
    this.pane = "settings";
    this.selectedId = null;
    this.renderPane();
    this.renderList();
    this.renderTopbar();
    focus(this.paneEl.querySelector("h1"));
  }

  back() {
    const was = this.selectedId;
    this.pane = "empty";
    this.selectedId = null;
    this.renderPane();
    this.renderList();
    this.renderTopbar();
    const entry = was ? this.sidebar.querySelector(`button.entry[data-thread="${CSS.escape(was)}"]`) : null;
    focus(entry ?? this.sidebar.querySelector("button.entry") ?? this.sidebar);
  }

  async threadAction(threadId, action) {
    const summary = await this.client.threadAction(threadId, action);
    if (summary && threadIdOf(summary)) {
      this.onThread(summary);
    } else {
      await this.refreshThreads();
      this.view?.setSummary(this.threads.get(threadId));
    }
    announce(t(`thread.done.${action}`));
  }

  async answerLink(linkId, accept) {
    try {
      await this.client.answerCareLink(linkId, accept);
      this.links = this.links.filter((l) => linkIdOf(l) !== linkId);
      this.renderList();
      announce(t(accept ? "links.accepted" : "links.declined"));
    } catch (error) {
      this.alert.show(error);
      await this.refreshLinks();
    }
  }

  // -- live events ----------------------------------------------------------------

  onMessage(message) {
    const summary = this.threads.get(message.threadId);
    if (summary === undefined) {
      // A thread this page has not listed yet (a new request): fetch the list.
      this.refreshThreads();
      return;
    }
    const shown = this.view?.threadId === message.threadId && document.visibilityState !== "hidden";
    if (shown) {
      this.view.addMessage(message);
    } else if (!message.mine) {
      const last = Number(summary.lastSeq ?? summary.last_seq ?? 0);
      if (message.seq == null || message.seq > last) {
        this.threads.set(message.threadId, {
          ...summary,
          unread: unreadOf(summary) + 1,
          lastSeq: message.seq ?? last,
          last_seq: message.seq ?? last,
          lastMessageAt: message.at,
          last_message_at: message.at,
        });
        this.renderList();
        announce(t("list.new_message", { name: patientNameOf(summary) }));
      }
    }
    if (this.view?.threadId === message.threadId && !shown) {
      this.view.addMessage(message);
    }
  }

  onThread(summary) {
    const id = threadIdOf(summary);
    const known = this.threads.get(id);
    const isNew = known === undefined;
    // The open thread has been read: the server's count can lag the read receipt.
    const merged = this.view?.threadId === id ? { ...summary, unread: 0 } : summary;
    this.threads.set(id, merged);
    this.renderList();
    if (this.view?.threadId === id) {
      this.view.setSummary(merged);
    }
    if (isNew) {
      announce(t("list.new_thread", { name: patientNameOf(summary) }));
      this.refreshLinks();
    }
  }

  onConnection({ state, revoked, suspended = null }) {
    if (revoked) {
      // This browser's device or session was revoked (elsewhere): sign in again; a
      // suspension (its reason in the close) is shown as such, not as a bare sign-in.
      this.close();
      this.client
        .logout()
        .catch(() => {})
        .finally(() => (suspended ? this.onSuspended(suspended) : this.onSignedOut()));
      return;
    }
    const wasOffline = this.connection === "offline";
    this.connection = state;
    const el = this.topbar.querySelector(".connection");
    if (el) {
      el.dataset.state = state;
      replace(el, t(`connection.${state}`));
    }
    if (state === "online" && wasOffline) {
      this.refreshThreads();
      this.refreshLinks();
    }
  }

  onNotice(notice) {
    if (notice?.threadId && this.view?.threadId === notice.threadId) {
      const key = NOTICES.has(notice.kind) ? notice.kind : "changed";
      this.view.notice(t(`notice.${key}`));
    }
  }
}
