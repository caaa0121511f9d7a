// The moderator console (/moderation): platform admins (created by `carechat admin`)
// read verified abuse reports, look accounts up and warn / suspend / lift them with a
// reason, search the audit log and verify its hash chain, and retry failed jobs.
//
//   main.mjs      the Console (its frame and boot: ../panel/shell.mjs): sign-in (the
//                 GP console's, no keys: nothing here is end-to-end encrypted) ->
//                 admins only -> the five sections
//   reports.mjs   the report queue: verification, revealed text, resolve / dismiss
//   accounts.mjs  look-up by id or e-mail, sanctions with a mandatory reason
//   audit.mjs     audit search a page at a time, chain verification
//   jobs.mjs      failed jobs (no payloads), retry
//   payments.mjs  paid chats: the daily reconciliation against Stripe's events
//   i18n.mjs      fr/nl/en
//
// The server checks the role on every request; the page only spares a non-admin a
// screen of 403s.

import { ModerationClient, PaymentsClient } from "../client/index.mjs";
import { focus, h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { signInView } from "../panel/account.mjs";
import { button } from "../panel/forms.mjs";
import { ConsoleShell, startConsole } from "../panel/shell.mjs";
import { accountsView } from "./accounts.mjs";
import { auditView } from "./audit.mjs";
import "./i18n.mjs";
import { jobsView } from "./jobs.mjs";
import { paymentsView, today } from "./payments.mjs";
import { reportsView } from "./reports.mjs";

const SECTIONS = { reports: reportsView, accounts: accountsView, audit: auditView, jobs: jobsView, payments: paymentsView };

class Console extends ConsoleShell {
  constructor(client) {
    super(client, { mainClass: "moderation-main", languageId: "m-language" });
    this.moderation = new ModerationClient(client);
    this.payments = new PaymentsClient(client);
    this.section = "reports";
    this.reports = null;
    this.account = null;
    this.audit = { filters: {}, entries: null, before: null, verification: null };
    this.jobs = null;
    this.reconciliation = null;
  }

  // -- the flow (account.mjs calls signedIn)

  async signedIn() {
    if (this.client.me?.role !== "admin") {
      this.show(notModeratorView);
      return;
    }
    await this.open(this.section);
  }

  /** Shows a section, with what it lists read afresh. */
  async open(section) {
    this.section = section;
    if (section === "reports") this.reports = await this.moderation.reports();
    if (section === "jobs") this.jobs = await this.moderation.failedJobs();
    if (section === "payments") this.reconciliation = await this.payments.reconciliation(this.reconciliation?.day ?? today());
    this.show(workspaceView);
    queueMicrotask(() => focus(this.main.querySelector("h1")));
  }

  /** Repaints the current section only (its forms keep no state worth keeping). */
  repaint() {
    this.show(workspaceView);
  }

  /** From a report to its sender's account. */
  async lookUp(accountId) {
    this.account = await this.moderation.lookup({ accountId });
    await this.open("accounts");
  }

  async signOut() {
    await this.client.logout();
    this.account = null;
    this.reports = null;
    this.jobs = null;
    this.reconciliation = null;
    this.audit = { filters: {}, entries: null, before: null, verification: null };
    this.show(signInView);
  }
}

function notModeratorView() {
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, t("moderation.title")),
    h("p", { class: "alert", role: "alert" }, t("moderation.not_admin")),
  );
}

function workspaceView(console_) {
  const tabs = h(
    "nav",
    { class: "sections", "aria-label": t("moderation.sections") },
    h(
      "ul",
      {},
      Object.keys(SECTIONS).map((name) =>
        h(
          "li",
          {},
          button(
            t(`section.${name}`),
            () => console_.open(name),
            console_.errors,
            name === console_.section ? "tab current" : "tab",
          ),
        ),
      ),
    ),
  );
  for (const tab of tabs.querySelectorAll("button.current")) tab.setAttribute("aria-current", "page");
  return h("div", { class: "moderation-workspace" }, tabs, console_.errors, SECTIONS[console_.section](console_));
}

startConsole((client) => new Console(client));
