// A care thread: its messages (history, then live), the composer, attachments with
// progress, the renewal-request form, typing and read receipts.
//
// The list is kept in widget.messages (thread id -> Map) so that a re-render (a
// language switch, coming back from the safety numbers) shows the same messages;
// live events update single items in place, so the composer keeps its text and focus.
// Keys: the patient's own messages by client message id (known before the server
// assigns a seq), others by (sender device, client message id) — the pair the client
// library already deduplicates on.

import { announce, focus, h } from "../../ui/dom.mjs";
import { t } from "../../ui/i18n.mjs";
import { errorLine, errorText, hideError, showError } from "../forms.mjs";
import { heading } from "../shell.mjs";
import { messageItem } from "./message.mjs";
import { renewalDialog } from "./renewal.mjs";
import { blockDialog } from "../rights/blocks.mjs";

const TYPING_SHOWN_MS = 6000;
const TYPING_SENT_EVERY_MS = 3000;
const HISTORY_PAGE = 50;
const LIVE_STATES = new Set(["requested", "open"]);

/** Runs a receipt or typing call, sync or async, as a promise that may reject. */
function quietly(call) {
  return Promise.resolve().then(call);
}

function keyOf(message) {
  return message.mine ? `me:${message.clientMsgId}` : `${message.sender?.device}:${message.clientMsgId}`;
}

function store(widget, threadId) {
  let messages = widget.messages.get(threadId);
  if (!messages) {
    messages = new Map();
    widget.messages.set(threadId, messages);
  }
  return messages;
}

/**
 * Keeps a message that arrived while its conversation was not open: the socket's sync
 * may bring it before the patient opens the conversation, and the history page the
 * view loads then holds only the newest HISTORY_PAGE messages.
 */
export function keepMessage(widget, message) {
  const messages = store(widget, message.threadId);
  const key = keyOf(message);
  const known = messages.get(key);
  messages.set(key, known ? { ...known, ...message, payload: message.payload ?? known.payload } : message);
}

function bySeq(a, b) {
  // Unsent (no seq yet) messages stay last, in the order they were written.
  const sa = a.seq ?? Number.MAX_SAFE_INTEGER;
  const sb = b.seq ?? Number.MAX_SAFE_INTEGER;
  return sa - sb || String(a.at ?? "").localeCompare(String(b.at ?? ""));
}

/** Names of the thread's members (account id -> display name), from its summary. */
export function memberNames(thread) {
  const names = new Map();
  for (const member of thread.members ?? []) {
    const id = member.account_id ?? member.accountId;
    const name = member.display_name ?? member.displayName;
    if (id && name) {
      names.set(id, name);
    }
  }
  return names;
}

/** Who the patient is talking to, for the heading: the other members' names. */
export function counterpart(widget, thread) {
  const others = [...memberNames(thread)]
    .filter(([id]) => id !== widget.client.accountId)
    .map(([, name]) => name);
  return others.length ? others.join(", ") : t("message.practice");
}

export function conversationView(widget, thread) {
  const threadId = thread.threadId ?? thread.thread_id;
  const names = memberNames(thread);
  const messages = store(widget, threadId);
  const live = LIVE_STATES.has(thread.state);
  // A live region around a real list: screen readers hear new messages, and still
  // get list semantics (an <ol> cannot itself take the log role).
  const list = h("ol", { class: "w-message-list" });
  // Focusable: it is the part that scrolls, and keyboard users scroll it (axe-core:
  // scrollable-region-focusable, serious, once a conversation is longer than the frame).
  const log = h("div", { class: "w-messages", role: "log", tabindex: "0", "aria-label": t("conversation.messages"), "aria-live": "polite" }, list);
  const items = new Map();
  const typingLine = h("p", { class: "w-typing", "aria-live": "polite" });
  const empty = h("p", { class: "w-empty" }, t("conversation.empty"));
  let readUpTo = 0;
  let typingTimer = null;
  let lastTypingSent = 0;

  const put = (message) => {
    const key = keyOf(message);
    const known = messages.get(key);
    // A status update may carry less than the message itself: keep what we had.
    const merged = known ? { ...known, ...message, payload: message.payload ?? known.payload } : message;
    messages.set(key, merged);
    const item = messageItem(widget, merged, names, thread);
    const old = items.get(key);
    if (old) {
      old.replaceWith(item);
    } else {
      const sorted = [...messages.values()].sort(bySeq);
      const next = sorted[sorted.indexOf(merged) + 1];
      const before = next ? items.get(keyOf(next)) : null;
      list.insertBefore(item, before ?? null);
    }
    items.set(key, item);
    empty.hidden = messages.size > 0;
    log.hidden = messages.size === 0;
    return merged;
  };

  const scrollToEnd = () => {
    log.scrollTop = log.scrollHeight;
  };

  // Read receipts: the newest message from someone else, once the page is seen.
  const markRead = () => {
    if (document.visibilityState !== "visible") {
      return;
    }
    let newest = 0;
    for (const message of messages.values()) {
      if (!message.mine && typeof message.seq === "number" && message.seq > newest) {
        newest = message.seq;
      }
    }
    if (newest > readUpTo) {
      readUpTo = newest;
      quietly(() => widget.client.read(threadId, newest)).catch(() => {
        readUpTo = 0; // try again on the next message or visibility change
      });
    }
  };

  const onMessage = (message) => {
    if (message.threadId !== threadId) {
      return;
    }
    const fresh = !messages.has(keyOf(message));
    put(message);
    if (fresh && !message.mine) {
      typingLine.textContent = "";
      announce(t("conversation.new", { name: names.get(message.sender?.account) ?? t("message.practice") }));
    }
    scrollToEnd();
    markRead();
  };
  const onStatus = ({ threadId: id, clientMsgId, status, seq }) => {
    if (id !== threadId) {
      return;
    }
    const known = messages.get(`me:${clientMsgId}`);
    if (known) {
      put({ ...known, status, seq: seq ?? known.seq });
    }
  };
  const onReceipt = ({ threadId: id, account, seq }) => {
    if (id !== threadId || account === widget.client.accountId) {
      return;
    }
    for (const message of [...messages.values()]) {
      if (message.mine && typeof message.seq === "number" && message.seq <= seq && message.status !== "read") {
        put({ ...message, status: "read" });
      }
    }
  };
  const onTyping = ({ threadId: id, account }) => {
    if (id !== threadId || account === widget.client.accountId) {
      return;
    }
    typingLine.textContent = t("conversation.typing", { name: names.get(account) ?? t("message.practice") });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      typingLine.textContent = "";
    }, TYPING_SHOWN_MS);
  };
  // Who the conversation is encrypted to changed, or a sender's keys could not be
  // trusted: said once, in words, above the messages.
  const noticeLine = h("p", { class: "w-callout", role: "status", hidden: true });
  const onNotice = (notice) => {
    if (notice.threadId !== threadId) {
      return;
    }
    noticeLine.textContent = t(notice.kind === "recipients_changed" ? "notice.recipients" : "notice.trust");
    noticeLine.hidden = false;
  };
  const onVisible = () => markRead();
  widget.client.on("message", onMessage);
  widget.client.on("status", onStatus);
  widget.client.on("receipt", onReceipt);
  widget.client.on("typing", onTyping);
  widget.client.on("notice", onNotice);
  document.addEventListener("visibilitychange", onVisible);
  widget.onLeave(() => {
    widget.client.off("message", onMessage);
    widget.client.off("status", onStatus);
    widget.client.off("receipt", onReceipt);
    widget.client.off("typing", onTyping);
    widget.client.off("notice", onNotice);
    document.removeEventListener("visibilitychange", onVisible);
    clearTimeout(typingTimer);
  });

  for (const message of [...messages.values()].sort(bySeq)) {
    put(message);
  }
  const loading = h("p", { class: "w-loading", role: "status" }, t("conversation.loading"));
  empty.hidden = true;
  log.hidden = messages.size === 0;
  // The newest page of the stored history, for a conversation opened before the
  // socket's sync has caught up; the sync delivers everything after this browser's
  // cursor as live messages, and both land in the same store, once each.
  widget.client
    .history(threadId, { before: Number.MAX_SAFE_INTEGER, limit: HISTORY_PAGE })
    .then((history) => {
      for (const message of history.messages) {
        put(message);
      }
      loading.remove();
      empty.hidden = messages.size > 0;
      log.hidden = messages.size === 0;
      scrollToEnd();
      markRead();
    })
    .catch((error) => {
      loading.textContent = errorText(error);
    });

  const send = async (payload) => {
    const { clientMsgId } = await widget.client.send(threadId, payload);
    // Shown at once as pending if the library did not already tell us about it.
    if (!messages.has(`me:${clientMsgId}`)) {
      put({
        threadId,
        clientMsgId,
        mine: true,
        status: "pending",
        payload: typeof payload === "string" ? { t: "text", body: payload } : payload,
        at: new Date().toISOString(),
        sender: { account: widget.client.accountId },
        verified: true,
      });
    }
    scrollToEnd();
  };

  const stateNote = thread.state === "requested" ? h("p", { class: "w-callout" }, t("conversation.requested")) : null;
  const closedNote = live ? null : h("p", { class: "w-callout" }, t(`conversation.state.${thread.state}`));
  const away = thread.awayMessage ?? thread.away_message;
  const awayNote = live && away ? h("p", { class: "w-callout w-away" }, h("strong", {}, t("conversation.away")), " ", away) : null;
  return h(
    "div",
    { class: "w-conversation" },
    h(
      "div",
      { class: "w-conversation-head" },
      backButton(widget, threadId),
      h("button", { type: "button", class: "button link", onclick: () => widget.showSafety(thread) }, t("safety.open")),
      h("button", { type: "button", class: "button link w-block-open", onclick: () => blockDialog(widget, thread) }, t("blocks.open")),
    ),
    ...heading(counterpart(widget, thread)),
    stateNote,
    closedNote,
    awayNote,
    noticeLine,
    h("div", { class: "w-thread" }, loading, empty, log, typingLine),
    live ? composer(widget, threadId, send, () => {
      const now = Date.now();
      if (now - lastTypingSent > TYPING_SENT_EVERY_MS) {
        lastTypingSent = now;
        quietly(() => widget.client.typing(threadId)).catch(() => {});
      }
    }) : null,
  );
}

/** Back to the list, with how many unread messages wait in the other conversations. */
function backButton(widget, threadId) {
  const unread = widget.unreadElsewhere(threadId);
  return h(
    "button",
    { type: "button", class: "button link w-back", onclick: () => widget.home() },
    t("conversation.back"),
    unread > 0
      ? [" ", h("span", { class: "w-badge", "aria-hidden": "true" }, String(unread)), h("span", { class: "visually-hidden" }, t("practice.unread", { n: unread }))]
      : null,
  );
}

/** Upload progress as 0..1, from (loaded, total), ({loaded, total}) or (fraction). */
function fractionOf(first, total) {
  let fraction = 0;
  if (first !== null && typeof first === "object") {
    fraction = first.total ? first.loaded / first.total : Number(first.fraction ?? 0);
  } else if (typeof total === "number" && total > 0) {
    fraction = first / total;
  } else {
    fraction = Number(first);
  }
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}

function composer(widget, threadId, send, typing) {
  const errors = errorLine();
  const textId = "w-compose-text";
  const text = h("textarea", {
    id: textId,
    name: "text",
    rows: 2,
    class: "w-compose-text",
    maxlength: 10000,
    placeholder: t("compose.placeholder"),
    // The draft outlives a re-render (the thread accepted meanwhile, a language switch).
    value: widget.drafts.get(threadId) ?? "",
    oninput: () => {
      widget.drafts.set(threadId, text.value);
      typing();
    },
  });
  // Enter sends, Shift+Enter is a new line (as in every chat); IME composition is left alone.
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const progress = h("progress", { class: "w-progress", max: 100, value: 0, "aria-label": t("attachment.progress") });
  const progressLine = h("div", { class: "w-upload", hidden: true }, h("p", { class: "w-upload-name" }), progress);
  const file = h("input", { type: "file", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    file.value = "";
    if (!chosen) {
      return;
    }
    hideError(errors);
    progressLine.hidden = false;
    progressLine.firstChild.textContent = t("attachment.sending", { name: chosen.name });
    progress.value = 0;
    try {
      await widget.client.sendAttachment(threadId, chosen, {
        onProgress: (...report) => {
          progress.value = Math.round(fractionOf(...report) * 100);
        },
      });
      announce(t("attachment.sent", { name: chosen.name }));
    } catch (error) {
      showError(errors, errorText(error));
      announce(errors.textContent, { assertive: true });
    } finally {
      progressLine.hidden = true;
    }
  });
  const attach = h("button", { type: "button", class: "button secondary w-attach", onclick: () => file.click() }, t("compose.attach"));
  const renewal = h(
    "button",
    { type: "button", class: "button secondary w-renewal", onclick: () => renewalDialog(widget, send) },
    t("compose.renewal"),
  );
  const form = h(
    "form",
    { class: "w-compose", novalidate: true },
    h("label", { for: textId, class: "visually-hidden" }, t("compose.label")),
    h("div", { class: "w-compose-row" }, text, h("button", { type: "submit", class: "button primary w-send" }, t("compose.send"))),
    h("div", { class: "w-compose-tools" }, attach, renewal, file),
    progressLine,
    errors,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value;
    if (!value.trim()) {
      focus(text);
      return;
    }
    hideError(errors);
    text.value = "";
    widget.drafts.delete(threadId);
    try {
      await send(value);
    } catch (error) {
      text.value = value; // nothing lost: the patient can send it again
      widget.drafts.set(threadId, value);
      showError(errors, errorText(error));
      announce(errors.textContent, { assertive: true });
    }
    focus(text);
  });
  return form;
}

/** Clears a thread's cached messages (signing out). */
export function forgetMessages(widget) {
  widget.messages.clear();
}
