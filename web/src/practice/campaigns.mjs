// The campaigns box: each campaign's state and its progress as counts only (delivered,
// read, opted out, no care link, notice e-mails failed), with pause, resume and cancel where the state allows.
// main.mjs reads it again every few seconds while a campaign is under way.

import { formatTime, t } from "../ui/i18n.mjs";
import { h } from "../ui/dom.mjs";
import { button, errorLine } from "../panel/forms.mjs";

const COUNTS = ["recipients", "delivered", "read", "opted_out", "no_care_link", "failed"];

function newestFirst(campaigns) {
  return [...campaigns].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
}

/** What the box shows of `campaigns` besides their counts. */
function shape(campaigns) {
  return JSON.stringify(newestFirst(campaigns).map((c) => [c.campaignId, c.state, c.pauseReason ?? null, c.sendAt ?? null, c.createdAt ?? null]));
}

/**
 * The poll's update: when only counts moved (a campaign sending, or waiting for its
 * time), they are written into `box` in place, and its buttons stay the same elements:
 * a box painted anew under the pointer swallowed a click (pressed on one button,
 * released on its copy) and wiped the box's error line. False: paint it again.
 */
export function updateCounts(box, before, campaigns) {
  if (!box || shape(before) !== shape(campaigns)) return false;
  for (const c of campaigns) {
    for (const name of COUNTS) {
      const dd = box.querySelector(`.campaign[data-campaign="${CSS.escape(c.campaignId)}"] [data-count="${name}"] dd`);
      if (!dd) return false;
      const text = String(c.progress?.[name] ?? 0);
      if (dd.textContent !== text) dd.textContent = text;
    }
  }
  return true;
}

export function campaignsBox(console_) {
  const errors = errorLine();
  const act = (work) => async () => {
    await work();
    await console_.refreshCampaigns();
  };
  const m = console_.mailings;
  const items = newestFirst(console_.campaigns);
  return h(
    "section",
    { class: "box", dataset: { box: "campaigns" }, "aria-labelledby": "pr-campaigns-title" },
    h("h2", { id: "pr-campaigns-title" }, t("campaigns.title")),
    // Campaigns a colleague started elsewhere appear here too.
    h("div", { class: "actions" }, button(t("campaigns.refresh"), () => console_.refreshCampaigns(), errors, "quiet", "campaigns-refresh")),
    errors,
    items.length
      ? h(
          "ul",
          { class: "campaigns" },
          items.map((c) =>
            h(
              "li",
              { class: "campaign", dataset: { campaign: c.campaignId, state: c.state } },
              h(
                "p",
                { class: "campaign-head" },
                h("span", { class: ["state", `state-${c.state}`] }, t(`state.${c.state}`)),
                h("span", { class: "campaign-when" }, c.sendAt && c.state === "scheduled" ? t("campaigns.send_at", { at: formatTime(c.sendAt) }) : t("campaigns.created", { at: formatTime(c.createdAt) })),
              ),
              // The start of its text (the note only the staff group opens): which campaign this is.
              c.preview ? h("p", { class: "campaign-preview" }, c.preview) : null,
              c.pauseReason ? h("p", { class: "alert" }, t("campaigns.pause_reason", { reason: t(`pause.${c.pauseReason}`) })) : null,
              h(
                "dl",
                { class: "progress" },
                COUNTS.map((name) => h("div", { dataset: { count: name } }, h("dt", {}, t(`progress.${name}`)), h("dd", {}, String(c.progress?.[name] ?? 0)))),
              ),
              h(
                "div",
                { class: "actions" },
                c.state === "sending" ? button(t("campaigns.pause"), act(() => m.pause(c.campaignId)), errors, null, `pause-${c.campaignId}`) : null,
                c.state === "paused" ? button(t("campaigns.resume"), act(() => m.resume(c.campaignId)), errors, "primary", `resume-${c.campaignId}`) : null,
                ["scheduled", "sending", "paused", "draft"].includes(c.state) ? button(t("campaigns.cancel"), act(() => m.cancel(c.campaignId)), errors, "danger", `cancel-${c.campaignId}`) : null,
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("campaigns.none")),
  );
}
