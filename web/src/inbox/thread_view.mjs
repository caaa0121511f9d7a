// One thread in the pane: its header (patient, state, the actions the state allows,
// the safety number to compare), the messages as a live log, who is typing, and the
// composer while the thread is open. It holds the thread's messages keyed by
// (sender device, client message id) — the same message arriving twice (history,
// then live; or a resend) replaces itself instead of showing twice — and the highest
// seq each other account has read, which turns the practitioner's own messages "read".
import { announce, arrange, focus, h, replace } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { blockButton } from "./blocks.mjs";
import { Composer } from "./composer.mjs";
import { alertBox, busy } from "./feedback.mjs";
import { messageItem } from "./message_view.mjs";
import { reportAction } from "./report.mjs";
import { text } from "./payloads.mjs";
import { displayNameIn, patientIdOf, patientNameOf, stateOf, threadIdOf } from "./summaries.mjs";

const TYPING_SHOWN_MS = 6000;
const TYPING_SENT_EVERY_MS = 3000;
const STATUS_ORDER = ["failed", "pending", "sent", "delivered", "read"];
const HISTORY_PAGE = 100;

function keyOf(message) {
  return `${message.sender?.device ?? ""}/${message.clientMsgId}`;
}

function bySeq(a, b) {
  // Sent but not yet stored messages (no seq) stay at the end, in the order written.
  const sa = a.seq ?? Number.MAX_SAFE_INTEGER;
  const sb = b.seq ?? Number.MAX_SAFE_INTEGER;
  return sa - sb || String(a.at ?? "").localeCompare(String(b.at ?? ""));
}

export class ThreadView {
  constructor({ client, summary, providerName, onBack, onAction }) {
    this.client = client;
    this.reported = new Set(); // seqs reported from this view
    this.summary = summary;
    this.threadId = threadIdOf(summary);
    this.onBack = onBack;
    this.onAction = onAction;
    this.messages = new Map();
    // The items drawn, by message key ({message, status, element}): a live event (a
    // message, a receipt) redraws only the items it changed, so a report being filed
    // or a decline reason being typed under another message stays, with its focus.
    this.items = new Map();
    this.noticeItems = [];
    this.earlierItem = null;
    this.notices = [];
    this.readBy = new Map(); // account -> highest seq read
    this.answered = new Map(); // renewal request's clientMsgId -> "approved" | "declined"
    this.nextBefore = null; // where the earlier page starts, if there is one
    this.typingUntil = 0;
    this.typingTimer = null;
    this.lastTypingSent = 0;
    this.lastReadSent = 0;
    this.alert = alertBox();
    // A log (new messages are announced) holding a list (each message an item).
    this.list = h("ol", { class: "message-list" });
    this.log = h("div", { class: "messages", role: "log", "aria-label": t("thread.messages") }, this.list);
    this.typingLine = h("p", { class: "typing", "aria-live": "polite" });
    this.safety = h("div", { class: "safety", hidden: true });
    this.header = h("header", { class: "thread-head" });
    this.composer = new Composer({
      send: (payload) => this.send(payload),
      typing: () => this.sendTyping(),
      attach: async (file, onProgress) => this.settle(await client.sendAttachment(this.threadId, file, { onProgress })),
      providerName,
    });
    this.element = h(
      "section",
      { class: "thread", "aria-labelledby": "thread-title", dataset: { thread: this.threadId } },
      this.header,
      this.safety,
      this.alert.element,
      this.log,
      this.typingLine,
      this.composer.element,
    );
    this.renderHeader();
    this.renderComposer();
  }

  get state() {
    return stateOf(this.summary);
  }

  async load() {
    replace(this.list, h("li", { class: "loading" }, t("thread.loading")));
    try {
      // The latest page, back from the very end: the summary's last seq may be older
      // than what the socket already consumed while the thread was not open.
      const page = await this.client.history(this.threadId, { before: Number.MAX_SAFE_INTEGER, limit: HISTORY_PAGE });
      this.keep(page);
      this.nextBefore = page.nextBefore ?? null;
      this.renderMessages();
      this.markRead();
    } catch (error) {
      replace(this.list);
      this.alert.show(error);
    }
  }

  keep(page) {
    for (const message of Array.isArray(page) ? page : page.messages) {
      const key = keyOf(message);
      // A live copy (with its status) wins over the stored one.
      if (!this.messages.has(key)) {
        this.messages.set(key, message);
      }
    }
  }

  async loadEarlier(button) {
    const height = this.log.scrollHeight;
    await busy(button, this.alert, async () => {
      const page = await this.client.history(this.threadId, { before: this.nextBefore, limit: HISTORY_PAGE });
      this.keep(page);
      this.nextBefore = page.nextBefore ?? null;
      this.renderMessages({ keepPosition: true });
      // The messages read before stay where they were on screen.
      this.log.scrollTop = this.log.scrollHeight - height;
      focus(this.list.querySelector(".message"));
    });
  }

  setSummary(summary) {
    const stateChanged = stateOf(summary) !== this.state;
    this.summary = summary;
    if (stateChanged) {
      this.renderHeader();
      this.renderComposer();
    }
  }

  renderHeader() {
    const state = this.state;
    const actions = [];
    const action = (name, cls, confirm = false) => {
      const button = h(
        "button",
        {
          type: "button",
          class: ["small", cls],
          dataset: { action: name },
          onclick: () => {
            if (confirm && button.dataset.confirm !== "yes") {
              // Blocking cannot be undone from here: the first press only asks.
              button.dataset.confirm = "yes";
              replace(button, t(`thread.confirm.${name}`));
              return;
            }
            busy(button, this.alert, () => this.onAction(this.threadId, name));
          },
        },
        t(`thread.action.${name}`),
      );
      actions.push(button);
    };
    if (state === "requested") {
      action("accept", "primary");
      action("decline");
      action("block", "danger", true);
    } else if (state === "open") {
      action("close");
    }
    const safetyButton = h(
      "button",
      { type: "button", class: "small quiet", "aria-expanded": this.safety.hidden ? "false" : "true", onclick: () => this.toggleSafety(safetyButton) },
      t("safety.show"),
    );
    replace(
      this.header,
      h("button", { type: "button", class: "back small quiet", onclick: () => this.onBack() }, t("thread.back")),
      h(
        "div",
        { class: "thread-title" },
        h("h1", { id: "thread-title" }, patientNameOf(this.summary)),
        h("span", { class: ["badge", `state-${state}`] }, t(`state.${state}`)),
      ),
      h("div", { class: "row-actions" }, actions, safetyButton, blockButton(this.client, patientIdOf(this.summary), patientNameOf(this.summary), this.alert)),
    );
  }

  renderComposer() {
    const open = this.state === "open";
    this.composer.element.hidden = !open;
    if (this.state === "requested") {
      replace(this.typingLine, t("thread.requested_hint"));
    } else if (!open) {
      replace(this.typingLine, t("thread.closed_hint"));
    } else {
      replace(this.typingLine);
    }
  }

  async toggleSafety(button) {
    if (!this.safety.hidden) {
      this.safety.hidden = true;
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const patient = patientIdOf(this.summary);
    try {
      const number = await this.client.safetyNumber(patient);
      replace(
        this.safety,
        number === null
          ? h("p", {}, t("safety.unknown", { name: patientNameOf(this.summary) }))
          : [
              h("p", {}, t("safety.explain", { name: patientNameOf(this.summary) })),
              h("p", { class: "safety-number", "aria-label": t("safety.number") }, String(number)),
            ],
      );
      this.safety.hidden = false;
      button.setAttribute("aria-expanded", "true");
    } catch (error) {
      this.alert.show(error);
    }
  }

  renderMessages({ keepPosition = false } = {}) {
    const drawn = new Map();
    const items = [...this.messages.values()].sort(bySeq).map((message) => {
      const key = keyOf(message);
      const status = this.statusOf(message);
      const before = this.items.get(key);
      // The same message object with the same status shows the same: kept as it is.
      const element =
        before && before.message === message && before.status === status
          ? before.element
          : messageItem(message, {
              senderName: (account) => displayNameIn(this.summary, account),
              status,
              actions: {
                renewal: (m) => this.renewalActions(m),
                download: (m) => this.downloadButton(m),
                report: (m) => reportAction(this.client, m, { name: displayNameIn(this.summary, m.sender?.account), alert: this.alert, reported: this.reported }),
              },
            });
      drawn.set(key, { message, status, element });
      return element;
    });
    this.items = drawn;
    for (const notice of this.notices.slice(this.noticeItems.length)) {
      this.noticeItems.push(h("li", { class: "notice-line", role: "note" }, notice));
    }
    const notices = this.noticeItems;
    if (items.length === 0 && notices.length === 0) {
      replace(this.list, h("li", { class: "empty" }, t("thread.empty")));
      return;
    }
    if (!this.nextBefore) {
      this.earlierItem = null;
    } else if (this.earlierItem === null) {
      this.earlierItem = h("li", { class: "earlier" }, h("button", { type: "button", class: "small quiet", onclick: (event) => this.loadEarlier(event.currentTarget) }, t("thread.earlier")));
    }
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    arrange(this.list, [this.earlierItem, ...items, ...notices].filter(Boolean));
    if (!keepPosition && (atBottom || this.log.scrollTop === 0)) {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  statusOf(message) {
    if (!message.mine) {
      return null;
    }
    let status = message.status ?? "sent";
    if (message.seq != null && [...this.readBy.values()].some((seq) => seq >= message.seq)) {
      status = "read";
    }
    return status;
  }

  renewalActions(message) {
    const p = message.payload;
    const answer = this.answered.get(message.clientMsgId);
    if (answer) {
      return h("p", { class: "answered", role: "note" }, t(`renewal.${answer}`));
    }
    const answered = (how) => {
      this.answered.set(message.clientMsgId, how);
      this.items.delete(keyOf(message));
      this.renderMessages();
      announce(t(`renewal.${how}`));
    };
    const reason = h("input", { name: "reason", maxlength: "500" });
    const reasonField = h(
      "div",
      { class: "field", hidden: true },
      h("label", { for: `reason-${message.clientMsgId}` }, t("renewal.reason")),
      reason,
    );
    reason.id = `reason-${message.clientMsgId}`;
    const approve = h("button", { type: "button", class: "small primary", dataset: { reply: "approve" } }, t("renewal.approve"));
    const decline = h("button", { type: "button", class: "small", dataset: { reply: "decline" } }, t("renewal.decline"));
    const vars = { drug: p.drug, dose: p.dose, pharmacy: p.pharmacy };
    approve.addEventListener("click", () =>
      busy(approve, this.alert, async () => {
        await this.send(text(t("renewal.approved_text", vars)));
        answered("approved");
      }),
    );
    decline.addEventListener("click", () => {
      if (reasonField.hidden) {
        // First press asks for an optional reason; the second sends.
        reasonField.hidden = false;
        replace(decline, t("renewal.send_decline"));
        focus(reason);
        return;
      }
      const why = reason.value.trim();
      const body = t("renewal.declined_text", vars) + (why ? ` ${t("renewal.reason_prefix")} ${why}` : "");
      busy(decline, this.alert, async () => {
        await this.send(text(body));
        answered("declined");
      });
    });
    return h("div", { class: "card-actions" }, reasonField, h("div", { class: "row-actions" }, approve, decline));
  }

  downloadButton(message) {
    const p = message.payload;
    const button = h("button", { type: "button", class: "small" }, t("attachment.download"));
    button.addEventListener("click", () =>
      busy(button, this.alert, async () => {
        let blob;
        try {
          blob = await this.client.downloadAttachment(p);
        } catch (error) {
          if (error?.code) {
            throw error;
          }
          // A hash or decryption failure: the file is refused, never offered.
          throw t("attachment.refused");
        }
        const url = URL.createObjectURL(blob);
        const link = h("a", { href: url, download: p.name, class: "visually-hidden" }, p.name);
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      }),
    );
    return button;
  }

  async send(payload) {
    this.settle(await this.client.send(this.threadId, payload));
  }

  /**
   * A send is accepted once queued (the library resends it across reconnects); its
   * `sent` promise settles when the server stores it or refuses it for good. A refusal
   * is already the message's "failed" status; it is also said in the thread's alert.
   */
  settle(result) {
    result?.sent?.catch?.((error) => this.alert.show(error));
    return result;
  }

  sendTyping() {
    const now = Date.now();
    if (now - this.lastTypingSent > TYPING_SENT_EVERY_MS) {
      this.lastTypingSent = now;
      try {
        this.client.typing(this.threadId);
      } catch {
        // Offline or not set up: typing is best effort.
      }
    }
  }

  // -- live events ------------------------------------------------------------------

  addMessage(message) {
    const key = keyOf(message);
    const known = this.messages.get(key);
    this.messages.set(key, known ? { ...known, ...message } : message);
    this.renderMessages();
    if (!message.mine && !known) {
      this.stopTyping();
      announce(t("thread.new_message", { name: displayNameIn(this.summary, message.sender?.account) }));
    }
    this.markRead();
  }

  setStatus({ clientMsgId, status, seq }) {
    for (const [key, message] of this.messages) {
      if (message.mine && message.clientMsgId === clientMsgId) {
        const better = STATUS_ORDER.indexOf(status) >= STATUS_ORDER.indexOf(message.status ?? "pending") || status === "failed";
        this.messages.set(key, { ...message, status: better ? status : message.status, seq: seq ?? message.seq });
      }
    }
    this.renderMessages();
  }

  receipt({ account, seq }) {
    if (account === this.client.accountId) {
      return;
    }
    this.readBy.set(account, Math.max(seq, this.readBy.get(account) ?? 0));
    this.renderMessages();
  }

  typing({ account }) {
    if (account === this.client.accountId || this.state !== "open") {
      return;
    }
    this.typingUntil = Date.now() + TYPING_SHOWN_MS;
    replace(this.typingLine, t("thread.typing", { name: displayNameIn(this.summary, account) }));
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_SHOWN_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.state === "open") {
      replace(this.typingLine);
    }
  }

  notice(text) {
    this.notices.push(text);
    this.renderMessages();
  }

  /** Tells the others (and the unread count) that everything shown has been read. */
  markRead() {
    let last = 0;
    for (const message of this.messages.values()) {
      if (!message.mine && message.seq != null) {
        last = Math.max(last, message.seq);
      }
    }
    if (last > this.lastReadSent && document.visibilityState !== "hidden") {
      this.lastReadSent = last;
      try {
        this.client.read(this.threadId, last);
      } catch {
        // Offline: the next message or reconnect sends it again.
        this.lastReadSent = 0;
      }
    }
  }

  /** Redraws every text in the current language (the language switcher). */
  relabel() {
    this.log.setAttribute("aria-label", t("thread.messages"));
    this.renderHeader();
    this.renderComposer();
    this.composer.render();
    // Every item says something in the old language: all drawn again.
    this.items.clear();
    this.earlierItem = null;
    this.renderMessages();
  }

  focusTitle() {
    focus(this.header.querySelector("h1"));
  }

  close() {
    clearTimeout(this.typingTimer);
  }
}
