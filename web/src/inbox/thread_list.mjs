// The sidebar: pending care-link requests, then threads in three groups (requests
// waiting for an answer, open conversations, finished ones), newest first, each with
// its unread count. Keyboard: Tab reaches the list once (roving tabindex); the arrow
// keys, Home and End move between entries; Enter or Space opens one.
import { focus, h } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import {
  lastMessageAtOf,
  linkCreatedAtOf,
  linkIdOf,
  linkPatientNameOf,
  patientNameOf,
  stateOf,
  threadIdOf,
  unreadOf,
} from "./summaries.mjs";

const GROUPS = [
  ["requested", (state) => state === "requested"],
  ["open", (state) => state === "open"],
  ["closed", (state) => state !== "requested" && state !== "open"],
];

function newestFirst(a, b) {
  return String(lastMessageAtOf(b) ?? "").localeCompare(String(lastMessageAtOf(a) ?? ""));
}

function threadEntry(summary, selectedId, onOpen) {
  const id = threadIdOf(summary);
  const unread = unreadOf(summary);
  const state = stateOf(summary);
  const at = lastMessageAtOf(summary);
  const name = patientNameOf(summary);
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: ["entry", unread > 0 && "unread"],
        dataset: { thread: id, state },
        "aria-current": id === selectedId ? "true" : null,
        tabindex: "-1",
        onclick: () => onOpen(id),
      },
      h("span", { class: "entry-name" }, name),
      at ? h("time", { class: "entry-time", datetime: at }, formatTime(at)) : null,
      h("span", { class: ["badge", `state-${state}`] }, t(`state.${state}`)),
      // The name a screen reader hears is the entry's own text: the number alone
      // would read "3", so it hears "3 unread" instead.
      unread > 0
        ? h(
            "span",
            { class: "unread-count" },
            h("span", { "aria-hidden": "true" }, String(unread)),
            h("span", { class: "visually-hidden" }, t("list.unread", { count: unread })),
          )
        : null,
    ),
  );
}

function linkEntry(link, onAnswer) {
  const id = linkIdOf(link);
  const at = linkCreatedAtOf(link);
  const answer = (accept) => (event) => {
    event.currentTarget.disabled = true;
    onAnswer(id, accept);
  };
  return h(
    "li",
    { class: "link-request", dataset: { link: id } },
    h(
      "div",
      { class: "entry-body" },
      h("span", { class: "entry-name" }, t("links.request_from", { patient: linkPatientNameOf(link) })),
      at ? h("time", { class: "entry-time", datetime: at }, formatTime(at)) : null,
    ),
    h(
      "div",
      { class: "row-actions" },
      h("button", { type: "button", class: "small primary", onclick: answer(true) }, t("links.accept")),
      h("button", { type: "button", class: "small", onclick: answer(false) }, t("links.decline")),
    ),
  );
}

/**
 * The sidebar's content for `threads` (summaries) and pending `links`; `selectedId`
 * is the thread shown in the pane. `onOpen(threadId)`, `onAnswer(linkId, accept)`.
 */
export function threadList({ threads, links, selectedId, onOpen, onAnswer }) {
  const sections = [];
  if (links.length > 0) {
    sections.push(
      h(
        "section",
        { class: "group", "aria-labelledby": "group-links" },
        h("h2", { id: "group-links" }, t("group.links"), h("span", { class: "count" }, String(links.length))),
        h("ul", { class: "links" }, links.map((link) => linkEntry(link, onAnswer))),
      ),
    );
  }
  for (const [group, belongs] of GROUPS) {
    const members = threads.filter((s) => belongs(stateOf(s))).sort(newestFirst);
    if (members.length === 0) {
      continue;
    }
    sections.push(
      h(
        "section",
        { class: "group", "aria-labelledby": `group-${group}` },
        h("h2", { id: `group-${group}` }, t(`group.${group}`), h("span", { class: "count" }, String(members.length))),
        h("ul", { class: "threads" }, members.map((s) => threadEntry(s, selectedId, onOpen))),
      ),
    );
  }
  if (sections.length === 0) {
    sections.push(h("p", { class: "empty" }, t("list.empty")));
  }
  const list = h("div", { class: "thread-list", onkeydown: (event) => navigate(list, event) }, sections);
  const entries = list.querySelectorAll("button.entry");
  const current = [...entries].find((b) => b.getAttribute("aria-current") === "true") ?? entries[0];
  current?.setAttribute("tabindex", "0");
  return list;
}

function navigate(list, event) {
  const entries = [...list.querySelectorAll("button.entry")];
  const index = entries.indexOf(document.activeElement);
  if (index < 0) {
    return;
  }
  const target = {
    ArrowDown: Math.min(index + 1, entries.length - 1),
    ArrowUp: Math.max(index - 1, 0),
    Home: 0,
    End: entries.length - 1,
  }[event.key];
  if (target === undefined) {
    return;
  }
  event.preventDefault();
  for (const entry of entries) {
    entry.setAttribute("tabindex", "-1");
  }
  entries[target].setAttribute("tabindex", "0");
  focus(entries[target]);
}

/** Puts focus back on the entry of `threadId` after the list was redrawn. */
export function refocusEntry(list, threadId) {
  const entry = list.querySelector(`button.entry[data-thread="${CSS.escape(threadId)}"]`);
  if (entry) {
    for (const other of list.querySelectorAll("button.entry")) {
      other.setAttribute("tabindex", "-1");
    }
    entry.setAttribute("tabindex", "0");
    focus(entry);
  }
}
