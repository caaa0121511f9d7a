// The moderator console's calls (platform admins only; the server refuses anyone else
// with 403 on every request) — the admin endpoints of chat_server/rest/moderation.py
// and chat_server/rest/moderator_console.py, camelCased.
//
//   ModerationClient(client)
//     ├── reports: queue (each with the text its reporter revealed, decoded here by
//     │   the payload codec), resolve / dismiss with a reason code
//     ├── accounts: lookup by id or e-mail address, warn / suspend / lift with a reason
//     ├── the audit log: search (a page at a time), verifyAudit (server-side chain check)
//     └── failed jobs: failedJobs, retryJob
//
// Look-up and search are POSTs: an e-mail address in a URL would land in access logs.

import { decodePayload } from "../../../e2e_crypto/js/carechat-payloads.mjs";
import { fromBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";

const API = "/api/v1/admin";
const enc = encodeURIComponent;
const MAX_REVEALED_BYTES = 45_000;

/** What a reporter revealed, readable: the text of a text payload, else its type. */
export function revealedText(bodyB64) {
  let bytes;
  try {
    bytes = fromBase64url(bodyB64, MAX_REVEALED_BYTES);
  } catch {
    return { text: null, type: "unreadable" };
  }
  const payload = decodePayload(bytes);
  if (payload.t === "text") return { text: payload.body, type: "text" };
  if (payload.t === "unsupported") {
    // A report of raw text (an older client, or a forged report) is shown as it is.
    try {
      return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), type: "raw" };
    } catch {
      return { text: null, type: "unreadable" };
    }
  }
  return { text: null, type: payload.t };
}

function report(doc) {
  return {
    reportId: doc.report_id,
    threadId: doc.thread,
    campaignId: doc.campaign ?? null,
    seq: doc.seq,
    reporter: doc.reporter,
    senderAccount: doc.sender.account,
    senderDevice: doc.sender.device,
    category: doc.category,
    verification: doc.verification,
    at: doc.at,
    messageAt: doc.message_at,
    revealed: revealedText(doc.body),
  };
}

function account(doc) {
  return {
    accountId: doc.account_id,
    email: doc.email,
    displayName: doc.display_name,
    role: doc.role,
    status: doc.status,
    createdAt: doc.created_at,
    devices: doc.devices,
    sanctions: doc.sanctions,
    reports: doc.reports.map((r) => ({
      reportId: r.report_id,
      category: r.category,
      verification: r.verification,
      status: r.status,
      at: r.at,
    })),
  };
}

function job(doc) {
  return {
    jobId: doc.job_id,
    kind: doc.kind,
    state: doc.state,
    attempts: doc.attempts,
    maxAttempts: doc.max_attempts,
    error: doc.error,
    createdAt: doc.created_at,
    updatedAt: doc.updated_at,
  };
}

export class ModerationClient {
  constructor(client) {
    this.client = client;
  }

  _request(method, path, json = undefined) {
    return this.client.api.request(method, `${API}${path}`, json);
  }

  // -- reports

  async reports() {
    const { reports } = await this._request("GET", "/reports");
    return reports.map(report);
  }

  /** decision: "resolve" | "dismiss"; reason: action_taken, no_violation, ... */
  async decide(reportId, decision, reason) {
    await this._request("POST", `/reports/${enc(reportId)}/${decision}`, { reason });
  }

  // -- accounts

  /** `{accountId}` or `{email}`; ApiError not_found for neither. */
  async lookup({ accountId = null, email = null }) {
    const body = accountId ? { account_id: accountId } : { email };
    return account(await this._request("POST", "/accounts/lookup", body));
  }

  /** action: "warn" | "suspend" | "lift"; a reason code, and a note for the person. */
  async sanction(accountId, action, reason, note = "") {
    await this._request("POST", `/accounts/${enc(accountId)}/${action}`, { reason, note });
  }

  // -- the audit log

  /** `{actor, subject, action, since, until, before, limit}`, each optional (since and
   * until: Date); -> {entries: [{seq, at, actor, action, subject, details}], before} */
  async searchAudit(filters = {}) {
    const body = {};
    for (const name of ["actor", "subject", "action", "before", "limit"]) {
      if (filters[name] !== undefined && filters[name] !== null && filters[name] !== "") body[name] = filters[name];
    }
    if (filters.since) body.since = filters.since.toISOString();
    if (filters.until) body.until = filters.until.toISOString();
    const page = await this._request("POST", "/audit/search", body);
    return { entries: page.entries, before: page.before ?? null };
  }

  /** -> {ok, entries, broken: {seq, reason} | null} */
  async verifyAudit() {
    const result = await this._request("POST", "/audit/verify");
    return { ok: result.ok, entries: result.entries, broken: result.broken ?? null };
  }

  // -- failed jobs

  async failedJobs() {
    const { jobs } = await this._request("GET", "/jobs");
    return jobs.map(job);
  }

  async retryJob(jobId) {
    return job(await this._request("POST", `/jobs/${enc(jobId)}/retry`));
  }
}
