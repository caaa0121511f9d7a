// The console's left column: the panel's live figures (queue length, oldest wait,
// answered per hour, GPs online, rating) and latest ratings, the waiting questions (claim the oldest or a
// chosen one; those a colleague handed over come first) and the GP's own held ones.
// The server sends ids, states and times only: what a question says is read once it
// is claimed and opened (question.mjs).

import { h } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import { button } from "./forms.mjs";

/** "12 min" / "40 s" for a duration in seconds; "–" when there is none. */
export function wait(seconds) {
  if (seconds === null || seconds === undefined) return t("stats.none");
  if (seconds < 60) return t("wait.seconds", { n: Math.round(seconds) });
  return t("wait.minutes", { n: Math.round(seconds / 60) });
}

function figure(label, value, name) {
  return h("div", { class: "figure", dataset: { figure: name } }, h("dt", {}, label), h("dd", {}, value));
}

export function statsBox(stats) {
  const s = stats ?? {};
  const rating =
    s.rating_average === null || s.rating_average === undefined
      ? t("stats.none")
      : t("stats.rating.value", { average: s.rating_average, count: s.rating_count ?? 0 });
  return h(
    "section",
    { class: "box", "aria-labelledby": "p-stats-title" },
    h("h2", { id: "p-stats-title" }, t("stats.title")),
    h(
      "dl",
      { class: "figures" },
      figure(t("stats.queued"), String(s.queued ?? 0), "queued"),
      figure(t("stats.oldest"), wait(s.oldest_wait_seconds), "oldest"),
      figure(t("stats.per_hour"), String(s.answered_per_hour ?? 0), "per-hour"),
      figure(t("stats.online"), String(s.gps_online ?? 0), "online"),
      figure(t("stats.rating"), rating, "rating"),
    ),
  );
}

/** The panel's latest ratings and their comments (opened in this browser). */
export function ratingsBox(ratings) {
  const shown = (ratings ?? []).slice(0, 10);
  return h(
    "section",
    { class: "box ratings", "aria-labelledby": "p-ratings-title" },
    h("h2", { id: "p-ratings-title" }, t("ratings.title")),
    shown.length
      ? h(
          "ul",
          { class: "rating-list" },
          shown.map((r) =>
            h(
              "li",
              { class: "rating" },
              h("strong", {}, t("ratings.score", { score: r.score })),
              r.at ? h("span", { class: "hint" }, ` · ${formatTime(r.at, { dateStyle: "short", timeStyle: "short" })}`) : null,
              r.comment ? h("p", { class: "rating-comment" }, r.comment) : null,
            ),
          ),
        )
      : h("p", { class: "hint" }, t("ratings.none")),
  );
}

function waitedSince(iso, now) {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : Math.max(0, (now - at) / 1000);
}

/** A short, stable label for a question (its id means nothing to a person). */
export function questionLabel(item, index) {
  return t("queue.item", { n: index + 1 });
}

export function queueBox(console_, errors) {
  const { queued = [], mine = [] } = console_.queue ?? {};
  const now = Date.now();
  const me = console_.client.accountId;
  const waiting = console_.online
    ? queued.length
      ? h(
          "ol",
          { class: "queue-list" },
          queued.map((item, index) =>
            h(
              "li",
              { class: "queue-item", dataset: { question: item.question_id } },
              h(
                "span",
                { class: "queue-what" },
                h("strong", {}, questionLabel(item, index)),
                " ",
                h("span", { class: "hint" }, t("queue.waiting", { wait: wait(waitedSince(item.queued_at, now)) })),
                // Answering a paid chat captures the patient's payment: the GP sees it first.
                item.paid ? h("span", { class: "badge paid" }, t("paid.badge")) : null,
                item.offered_to === me ? h("span", { class: "badge state-requested" }, t("queue.handed")) : null,
                item.overdue ? h("span", { class: "badge" }, t("queue.overdue")) : null,
              ),
              button(t("queue.claim"), () => console_.claim(item.question_id), errors, "small", `claim-${item.question_id}`),
            ),
          ),
        )
      : h("p", { class: "hint" }, t("queue.empty"))
    : h("p", { class: "hint" }, t("queue.offline"));
  return [
    h(
      "section",
      { class: "box", "aria-labelledby": "p-queue-title" },
      h(
        "div",
        { class: "box-head" },
        h("h2", { id: "p-queue-title" }, t("queue.title")),
        console_.online && queued.length ? button(t("queue.claim_oldest"), () => console_.claim(null), errors, "primary small", "claim-oldest") : null,
      ),
      waiting,
    ),
    h(
      "section",
      { class: "box", "aria-labelledby": "p-mine-title" },
      h("h2", { id: "p-mine-title" }, t("mine.title")),
      mine.length
        ? h(
            "ul",
            { class: "queue-list" },
            mine.map((item, index) =>
              h(
                "li",
                { class: ["queue-item", console_.openId === item.question_id ? "is-open" : null], dataset: { question: item.question_id } },
                h(
                  "span",
                  { class: "queue-what" },
                  h("strong", {}, questionLabel(item, index)),
                  " ",
                  h("span", { class: `badge state-${item.state}` }, t(`state.${item.state}`)),
                  item.paid ? h("span", { class: "badge paid" }, t("paid.badge")) : null,
                  item.lease_until ? h("span", { class: "hint" }, formatTime(item.lease_until, { timeStyle: "short" })) : null,
                ),
                button(t("mine.open"), () => console_.open(item.question_id), errors, "small", `open-${item.question_id}`),
              ),
            ),
          )
        : h("p", { class: "hint" }, t("mine.empty")),
    ),
  ];
}
