// The patient's place with the practice whose site shows the widget: whether they are
// linked to it yet (ask, or wait for its answer), a button to request a conversation,
// and the list of their conversations with unread counts.
//
// A care thread needs an active care link: the practice accepts a link request, or
// the patient accepted an invitation from it. Then the patient's client opens the
// thread (signing its opening) and the practice accepts the request.

import { h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { action, errorLine, errorText, showError } from "../forms.mjs";
import { heading } from "../shell.mjs";
import { counterpart } from "./conversation.mjs";

const LIVE_STATES = new Set(["requested", "open"]);

function providerOf(thing) {
  return thing?.provider ?? null;
}

/** The live link and live thread with provider `providerId`, if any, in `care`. */
export function withPractice(care, providerId) {
  if (!providerId) {
    return { link: null, thread: null };
  }
  const link = care.links.find((l) => providerOf(l)?.id === providerId && ["requested", "active"].includes(l.status)) ?? null;
  const thread =
    care.threads.find((th) => providerOf(th)?.id === providerId && LIVE_STATES.has(th.state)) ?? null;
  return { link, thread };
}

export function practiceView(widget, care) {
  const errors = errorLine();
  const provider = widget.provider;
  const { link, thread } = withPractice(care, provider?.id);
  const run = (work) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      showError(errors, errorText(error));
    } finally {
      button.disabled = false;
    }
  };
  let step = null;
  if (!provider) {
    step = h("p", { class: "w-callout" }, t("practice.none"));
  } else if (link === null) {
    step = h(
      "div",
      { class: "w-step" },
      h("p", {}, t("practice.link.none")),
      action(t("practice.link.request"), run(async () => {
        await widget.client.requestCareLink(provider);
        await widget.home();
      }), "primary"),
    );
  } else if (link.status === "requested") {
    step = h(
      "div",
      { class: "w-step" },
      h("p", { class: "w-callout" }, t("practice.link.waiting")),
      action(t("practice.refresh"), run(() => widget.home())),
    );
  } else if (thread === null) {
    step = h(
      "div",
      { class: "w-step" },
      h("p", {}, t("practice.thread.none")),
      action(t("practice.thread.request"), run(async () => {
        const opened = await widget.client.startThread(provider, "care");
        await widget.openThread(opened);
      }), "primary"),
    );
  }
  const threads = [...care.threads].sort((a, b) => (b.lastSeq ?? b.last_seq ?? 0) - (a.lastSeq ?? a.last_seq ?? 0));
  return [
    ...heading(t("practice.title"), t("practice.lead")),
    step,
    errors,
    threads.length
      ? h(
          "section",
          { class: "w-threads", "aria-labelledby": "w-threads-title" },
          h("h2", { id: "w-threads-title", class: "w-subtitle" }, t("practice.threads")),
          h("ul", { class: "w-thread-list" }, threads.map((summary) => threadRow(widget, summary))),
        )
      : null,
  ];
}

function threadRow(widget, summary) {
  const unread = Number(summary.unread ?? 0);
  const name = counterpart(widget, summary);
  const last = summary.lastMessageAt ?? summary.last_message_at;
  const lastAt = last ? new Date(last) : null;
  return h(
    "li",
    {},
    h(
      "button",
      { type: "button", class: "w-thread-row", onclick: () => widget.openThread(summary) },
      h(
        "span",
        { class: "w-thread-who" },
        h("span", { class: "w-thread-name" }, name),
        lastAt && !Number.isNaN(lastAt.getTime())
          ? h("time", { class: "w-thread-time", datetime: lastAt.toISOString() }, formatTime(lastAt))
          : null,
      ),
      h("span", { class: "w-thread-state", dataset: { state: summary.state } }, t(`thread.state.${summary.state}`)),
      unread > 0
        ? [
            h("span", { class: "w-badge", "aria-hidden": "true" }, String(unread)),
            h("span", { class: "visually-hidden" }, t("practice.unread", { n: unread })),
          ]
        : null,
    ),
  );
}
