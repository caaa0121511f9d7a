// Durable jobs that failed, as `carechat admin jobs` lists them: kind, state,
// attempts, the error's type and times; never a payload. A retry makes one due now.

import { h } from "../ui/dom.mjs";
import { formatTime, t } from "../ui/i18n.mjs";
import { button, errorLine } from "../panel/forms.mjs";
import { table } from "./accounts.mjs";

export function jobsView(console_) {
  const jobs = console_.jobs ?? [];
  const errors = errorLine();
  return h(
    "section",
    { class: "box", "aria-labelledby": "m-jobs-title" },
    h(
      "div",
      { class: "box-head" },
      h("h1", { id: "m-jobs-title", tabindex: "-1" }, t("jobs.title")),
      button(t("refresh"), () => console_.open("jobs"), console_.errors, "quiet small"),
    ),
    errors,
    jobs.length === 0
      ? h("p", { class: "empty" }, t("jobs.none"))
      : table(
          t("jobs.title"),
          [t("jobs.kind"), t("jobs.attempts"), t("jobs.error"), t("jobs.created"), t("jobs.updated"), h("span", { class: "visually-hidden" }, t("jobs.retry"))],
          jobs.map((job) => [
            h("code", {}, job.kind),
            `${job.attempts}/${job.maxAttempts}`,
            job.error ?? "—",
            formatTime(job.createdAt),
            formatTime(job.updatedAt),
            button(
              t("jobs.retry"),
              async () => {
                await console_.moderation.retryJob(job.jobId);
                await console_.open("jobs");
              },
              errors,
              "small",
            ),
          ]),
        ),
  );
}
