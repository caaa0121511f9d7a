// The patient widget (/widget, framed by a practice's site through the loader; also
// /verify, /invite and /announcements, the pages of the links CareChat e-mails).
//
//   main.mjs         boot: which page, which practice, restore the session; the flow
//                    between views (signed in -> keys -> connected -> the practice)
//   shell.mjs        the frame: header, language, connection state, one view at a time
//   menu.mjs         the header menu, folded behind a "Menu" button in a narrow frame
//   views/*.mjs      account (sign-up, verify, sign-in), keys (create + passphrase,
//                    restore), practice (link, request, conversations), conversation,
//                    message, renewal, safety, settings, invitation
//   announcements/   the practice's read-only announcements (prevention mailings)
//   rights/          privacy & consents, blocked accounts, a conversation's "Block…"
//   my_data/         "My data": the GDPR export, erasure and its cancellation
//   forms.mjs        labelled fields, errors as sentences, busy forms
//   payloads.mjs     the typed payloads as the views read and write them
//   i18n/*.mjs       the widget's fr/nl/en texts
//
// Everything secret (keys, plaintext, the passphrase) stays with the client library
// inside this frame on CareChat's origin; the host page only sees an iframe.

import { CareChatClient } from "../client/index.mjs";
import { h } from "../ui/dom.mjs";
import { t, translateNotice } from "../ui/i18n.mjs";
import "./i18n/en.mjs";
import "./i18n/fr.mjs";
import "./i18n/nl.mjs";
import { action, errorText } from "./forms.mjs";
import { Widget, heading } from "./shell.mjs";
import { signInView, suspendedView, verifyLinkView, welcomeView } from "./views/account.mjs";
import { conversationView, keepMessage } from "./views/conversation.mjs";
import { invitationView } from "./views/invitation.mjs";
import { createKeysView, restoreKeysView } from "./views/keys.mjs";
import { practiceView, withPractice } from "./views/practice.mjs";
import { announcementsState, announcementsView } from "./announcements/view.mjs";
import { blocksState, blocksView } from "./rights/blocks.mjs";
import { consentsState, consentsView } from "./rights/consents.mjs";
import { PaidFlow } from "./paid/flow.mjs";
import { QuestionFlow } from "./question/flow.mjs";
import { safetyView } from "./views/safety.mjs";
import { settingsView } from "./views/settings.mjs";
import { myDataView } from "./my_data/view.mjs";

// The protocol's id alphabet: anything else in ?practice= is ignored, not sent.
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const PRACTICE_KEY = "carechat.widget.practice";

function loadingView(_widget, text) {
  return [...heading(text ?? t("loading")), h("p", { class: "w-loading", role: "status" }, t("loading"))];
}

function failedView(widget, error) {
  return [
    ...heading(t("failed.title")),
    h("p", { class: "form-error", role: "alert" }, errorText(error)),
    h("div", { class: "w-actions" }, action(t("failed.retry"), () => widget.home(), "primary")),
  ];
}

/** The practice this widget is for: ?practice= from the loader, else the last one. */
function practiceFrom(url) {
  const given = url.searchParams.get("practice");
  try {
    if (given && ID.test(given)) {
      localStorage.setItem(PRACTICE_KEY, given);
      return given;
    }
    const remembered = localStorage.getItem(PRACTICE_KEY);
    return remembered && ID.test(remembered) ? remembered : null;
  } catch {
    return given && ID.test(given) ? given : null; // storage blocked in a third-party frame
  }
}

/** The secret in a link's fragment, removed from the address bar and history. */
function takeFragment() {
  const raw = location.hash.slice(1);
  history.replaceState(null, "", location.pathname + location.search);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // a mangled link: the server will say the code is not valid
  }
}

class PatientWidget extends Widget {
  constructor(client, practiceId) {
    super(client);
    this.provider = practiceId ? { kind: "practice", id: practiceId } : null;
    this.messages = new Map();
    this.threads = new Map();
    this.drafts = new Map(); // thread id -> unsent text, in memory only
    // ?panel=: this page also offers a free question to that GP panel (question/).
    const panelId = new URL(location.href).searchParams.get("panel");
    this.question = panelId && ID.test(panelId) ? new QuestionFlow(this, panelId) : null;
    // ?paid=: the paid chat with that GP panel (paid/); ?paid_chat=&checkout=: the
    // return from Stripe Checkout, which names the chat (its panel comes with it).
    const url = new URL(location.href);
    const paidPanel = url.searchParams.get("paid");
    const returned = url.searchParams.get("paid_chat");
    this.paid = (paidPanel && ID.test(paidPanel)) || (returned && ID.test(returned)) ? new PaidFlow(this, paidPanel && ID.test(paidPanel) ? paidPanel : null) : null;
    this.pending.paidReturn = returned && ID.test(returned) ? { threadId: returned, outcome: url.searchParams.get("checkout") } : null;
    client.on("thread", (summary) => this.threadChanged(summary));
    client.on("message", (message) => this.messageArrived(message));
    client.on("connection", ({ revoked, suspended }) => {
      if (revoked) {
        this.sessionEnded(suspended);
      }
    });
  }

  menuItems() {
    if (!this.client.accountId || !this.client.hasKeys) {
      return [];
    }
    return [
      this.question
        ? h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.question.start() }, t("menu.question"))
        : null,
      this.paid ? h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.paid.showPayments() }, t("paid.payments")) : null,
      this.paid?.panelId
        ? h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.paid.start() }, t("menu.paid"))
        : null,
      // The practice's announcements: read-only mailings (announcements/).
      h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.show(announcementsView, announcementsState()) }, t("menu.announcements")),
      // The patient's rights (rights/): consents per purpose, blocked accounts.
      h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.showConsents() }, t("menu.consents")),
      h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.show(blocksView, blocksState()) }, t("menu.blocks")),
      h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.show(settingsView) }, t("menu.settings")),
      // Export and erasure (my_data/): also shown first while an erasure is pending.
      h("button", { type: "button", class: "button link w-menu-item", onclick: () => this.show(myDataView) }, t("menu.mydata")),
    ].filter(Boolean);
  }

  /** A GP's paid-chat offer was taken up (question/flow.mjs): the paid chat's own
   * flow, from its terms, with the panel the offer named. */
  startPaidChat(panelId) {
    if (!this.paid || this.paid.panelId !== panelId) this.paid = new PaidFlow(this, panelId);
    this.paid.start();
  }

  /** After a login: keys on this browser, or make them, or restore them. */
  async signedIn() {
    if (this.client.hasKeys) {
      await this.ready();
      return;
    }
    const me = this.client.me;
    this.show(me?.root_key ? restoreKeysView : createKeysView);
  }

  /** Keys are here: connect, then the invitation being accepted, or the practice. */
  async ready() {
    this.show(loadingView, t("connecting"));
    await this.client.connect();
    if (this.client.me?.erasure?.pending) {
      this.show(myDataView); // the pending erasure, with the way to cancel it
      return;
    }
    if (this.pending.invitation) {
      this.show(invitationView, this.pending.invitation);
      return;
    }
    if (this.pending.announcements) {
      // Opened from a mailing's notice e-mail: straight to what it announced.
      this.pending.announcements = false;
      this.show(announcementsView, announcementsState());
      return;
    }
    if (this.pending.paidReturn) {
      const { threadId, outcome } = this.pending.paidReturn;
      this.pending.paidReturn = null;
      // The return address is not to be replayed by a reload once handled.
      history.replaceState(null, "", location.pathname);
      await this.paid.resume(threadId, outcome);
      return;
    }
    if (this.paid?.panelId && !this.provider) {
      this.paid.start();
      return;
    }
    if (this.question && !this.provider) {
      this.question.start();
      return;
    }
    await this.home({ openLive: true });
  }

  async care() {
    const [links, threads] = await Promise.all([this.client.careLinks(), this.client.threads()]);
    this.threads = new Map(threads.map((th) => [th.threadId ?? th.thread_id, th]));
    return { links, threads };
  }

  /** The practice page; `openLive` goes straight into a live thread with it. */
  async home({ openLive = false } = {}) {
    try {
      const care = await this.care();
      this.lastCare = care;
      const { thread } = withPractice(care, this.provider?.id);
      if (openLive && thread) {
        this.openThread(thread);
      } else {
        this.show(practiceView, care);
      }
    } catch (error) {
      this.show(failedView, error);
    }
  }

  openThread(summary) {
    const id = summary.threadId ?? summary.thread_id;
    const known = this.threads.get(id) ?? summary;
    known.unread = 0; // the conversation view marks them read as it shows them
    this.show(conversationView, known);
  }

  showConsents() {
    this.show(consentsView, consentsState());
  }

  showSafety(thread) {
    this.show(safetyView, thread);
  }

  unreadElsewhere(threadId) {
    let total = 0;
    for (const [id, summary] of this.threads) {
      if (id !== threadId) {
        total += Number(summary.unread ?? 0);
      }
    }
    return total;
  }

  threadChanged(summary) {
    const id = summary.threadId ?? summary.thread_id;
    const before = this.threads.get(id);
    this.threads.set(id, summary);
    const view = this.current?.view;
    if (view === practiceView && this.lastCare) {
      this.lastCare.threads = [...this.threads.values()];
      this.rerender();
    } else if (view === conversationView) {
      const shown = this.current.args[0];
      const shownId = shown.threadId ?? shown.thread_id;
      if (shownId === id && before?.state !== summary.state) {
        this.current.args[0] = summary;
        this.rerender();
      }
    }
  }

  /** Unread counts move with live messages: the open thread's are read at once. */
  messageArrived(message) {
    const open = this.current?.view === conversationView ? this.current.args[0] : null;
    const isOpen = (open?.threadId ?? open?.thread_id) === message.threadId;
    if (!isOpen && message.threadId) {
      keepMessage(this, message); // shown when the conversation opens
    }
    const summary = this.threads.get(message.threadId);
    if (!summary || message.mine) {
      return;
    }
    if (isOpen) {
      summary.unread = 0;
      return;
    }
    summary.unread = Number(summary.unread ?? 0) + 1;
    if (this.current?.view === practiceView) {
      this.rerender();
    }
  }

  /**
   * The socket was refused for good. If the session still holds, it is this
   * browser's device that was revoked (from another device, after a theft): its keys
   * are dead, and the passphrase makes it a new device. Otherwise: sign in again.
   */
  async sessionEnded(suspended = null) {
    this.messages.clear();
    this.threads.clear();
    this.drafts.clear();
    if (suspended) {
      // Closed by a suspension (its reason in the close): say so, not "sign in again".
      this.show(suspendedView, { reason: suspended });
      return;
    }
    let devices = null;
    try {
      devices = await this.client.devices();
    } catch {
      // the session itself is over
    }
    if (devices !== null && !devices.some((device) => device.current)) {
      this.show(restoreKeysView, { revoked: true });
    } else {
      this.show(signInView, { ended: true });
    }
  }

  async signOut({ forgetKeys = false } = {}) {
    await this.client.logout({ forgetKeys });
    this.messages.clear();
    this.threads.clear();
    this.drafts.clear();
    this.show(welcomeView);
  }
}

/** The page for the address: an e-mailed link's view, or the widget's start. */
async function route(widget) {
  const { pathname } = location;
  if (pathname === "/verify" && location.hash.length > 1) {
    widget.show(verifyLinkView, takeFragment());
    return;
  }
  if (pathname === "/invite" && location.hash.length > 1) {
    widget.pending.invitation = takeFragment();
  }
  // The notice e-mail of a practice mailing links here (chat_server/mailing_mail.py).
  widget.pending.announcements = pathname === "/announcements";
  if (!widget.client.accountId) {
    widget.show(widget.pending.invitation || widget.pending.announcements ? signInView : welcomeView);
    return;
  }
  await widget.signedIn();
}

async function start() {
  translateNotice();
  const client = await CareChatClient.open({ baseUrl: location.origin });
  const widget = new PatientWidget(client, practiceFrom(new URL(location.href)));
  // A second link opened in this same tab only changes the fragment: no new page load.
  window.addEventListener("hashchange", () => {
    if (location.hash.length > 1) {
      route(widget).catch((error) => widget.show(failedView, error));
    }
  });
  await route(widget);
}

start().catch((error) => {
  // The page must never stay blank: say what happened (the console has the detail).
  console.error(error);
  const root = document.getElementById("root");
  if (root) {
    root.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorText(error)));
  }
});
