// The roster box: a CSV file picked here is read and parsed in the page (its labels
// sealed to the staff group before anything is posted), then the report: how many rows
// were imported, how many were already on the roster (their labels replaced: a newer
// export), and every rejected row with its line number and reason, whether the page
// or the server refused it. Below, the roster with its labels opened here.

import { RosterFormatError, parseRosterCsv } from "../client/index.mjs";
import { h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { PageError, button, errorLine, form, uid } from "../panel/forms.mjs";

// The parser's and the server's reasons (English, shared with the SDK) -> a text key.
const REASONS = [
  [/^(\d+) fields where the header has (\d+)$/, (m) => t("reason.fields", { got: m[1], want: m[2] })],
  [/^no e-mail address$/, () => t("reason.no_email")],
  [/^the e-mail address is malformed$/, () => t("reason.malformed")],
  [/^the same e-mail address as line (\d+)$/, (m) => t("reason.repeated", { line: m[1] })],
  [/^the language is not one of en, fr, nl$/, () => t("reason.language")],
  [/^the row changed during the import$/, () => t("reason.changed")],
  [/^the header has no 'email' column$/, () => t("reason.no_header")],
  [/^the file is empty$/, () => t("reason.empty")],
  [/^the header has an empty or repeated column name$/, () => t("reason.bad_header")],
];

export function reasonText(reason) {
  for (const [pattern, text] of REASONS) {
    const match = pattern.exec(reason);
    if (match) return text(match);
  }
  return reason;
}

export function rosterBox(console_) {
  const fileId = uid("pr-file");
  const hintId = `${fileId}-hint`;
  const input = h("input", { type: "file", id: fileId, name: "file", accept: ".csv,text/csv", "aria-describedby": hintId, dataset: { key: "roster-file" } });
  const picker = h(
    "div",
    { class: "field" },
    h("label", { for: fileId }, t("roster.file")),
    h("p", { class: "hint", id: hintId }, t("roster.hint")),
    input,
  );
  const progress = h("p", { class: "status", role: "status", hidden: true });
  const importer = form({
    fields: [picker],
    submit: t("roster.import"),
    action: async () => {
      const file = input.files?.[0];
      if (!file) throw new PageError(t("roster.no_file"));
      let parsed;
      try {
        parsed = parseRosterCsv(new Uint8Array(await file.arrayBuffer()));
      } catch (error) {
        if (!(error instanceof RosterFormatError)) throw error;
        throw new PageError(t("roster.bad_file", { reason: reasonText(error.reason) }));
      }
      let report = { imported: 0, updated: 0, rejected: [] };
      if (parsed.rows.length) {
        progress.hidden = false;
        report = await console_.mailings.importRoster(console_.practiceId, parsed.rows, {
          onProgress: (done, total) => {
            progress.textContent = t("roster.importing", { done, total });
          },
        });
      }
      console_.report = {
        imported: report.imported,
        updated: report.updated,
        rejected: [...parsed.rejected, ...report.rejected].sort((a, b) => a.line - b.line),
      };
      console_.rows = await console_.mailings.roster(console_.practiceId);
      console_.paint("roster");
      console_.paint("composer");
      console_.main.querySelector("#pr-report")?.focus();
    },
  });
  // Patients who accepted their invitation since: their rows now name an account.
  const errors = errorLine();
  const reload = button(
    t("roster.refresh"),
    async () => {
      console_.rows = await console_.mailings.roster(console_.practiceId);
      console_.paint("roster");
      console_.paint("composer");
    },
    errors,
    "quiet",
    "roster-refresh",
  );
  return h(
    "section",
    { class: "box", dataset: { box: "roster" }, "aria-labelledby": "pr-roster-title" },
    h("h2", { id: "pr-roster-title" }, t("roster.title")),
    importer,
    h("div", { class: "actions" }, reload),
    errors,
    progress,
    reportView(console_.report),
    rosterTable(console_.rows),
  );
}

function reportView(report) {
  if (report === null) return null;
  return h(
    "div",
    { class: "report", id: "pr-report", tabindex: "-1", role: "status" },
    h("p", { class: "report-imported" }, report.imported === 1 ? t("roster.imported.one") : t("roster.imported", { n: report.imported })),
    // Rows already on the roster: a newer export's labels replaced the old ones.
    report.updated ? h("p", { class: "report-updated" }, report.updated === 1 ? t("roster.updated.one") : t("roster.updated", { n: report.updated })) : null,
    report.rejected.length
      ? [
          h("h3", {}, t("roster.rejected.title", { n: report.rejected.length })),
          h(
            "ul",
            { class: "rejected" },
            report.rejected.map((r) => h("li", { dataset: { line: r.line } }, t("roster.rejected.line", { line: r.line, reason: reasonText(r.reason) }))),
          ),
        ]
      : null,
  );
}

function rosterTable(rows) {
  if (!rows.length) return h("p", { class: "empty" }, t("roster.empty"));
  const linked = rows.filter((r) => r.accountId).length;
  return [
    h("p", { class: "roster-count" }, t("roster.count", { n: rows.length, linked })),
    // Scrolls sideways on a phone: a named region keyboard users can reach and scroll.
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-label": t("roster.title"), tabindex: "0" },
      h(
        "table",
        { class: "roster" },
        h(
          "thead",
          {},
          h("tr", {}, [t("roster.email"), t("roster.language"), t("roster.account"), t("roster.labels")].map((c) => h("th", { scope: "col" }, c))),
        ),
        h(
          "tbody",
          {},
          rows.map((r) =>
            h(
              "tr",
              {},
              h("td", {}, r.email),
              h("td", {}, r.language),
              h("td", {}, r.accountId ? t("roster.linked") : t("roster.invited")),
              h(
                "td",
                { class: "labels" },
                r.labels === null
                  ? t("roster.sealed")
                  : Object.entries(r.labels)
                      .filter(([, value]) => value)
                      .map(([name, value]) => h("span", { class: "label" }, `${name}: ${value}`)),
              ),
            ),
          ),
        ),
      ),
    ),
  ];
}
