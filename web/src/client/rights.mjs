// A patient's rights in the browser: consents per purpose and blocks between accounts
// (moderation/consents.py, chat_server/handlers/blocks.py; docs/protocol.md,
// "Moderation"). Twin of the SDK's CareChatClient.consent / revoke_consent and
// Api.consents.
//
//   RightsClient(client)
//     ├── consents()                 every purpose with its state now (see below)
//     ├── grant(purpose, version, scope?)   to the text version the page showed
//     ├── revoke(purpose, scope?)
//     ├── blocks()                   [{accountId, since}], oldest first
//     ├── block(accountId)           idempotent
//     └── unblock(accountId)
//
// The server keeps an append-only history; the state of a (purpose, scope) is its
// latest record: "granted" (to the current text), "outdated" (granted to an older
// text: it no longer counts, ask again), "revoked", or "none".

const API = "/api/v1";
const enc = encodeURIComponent;

// moderation/consents.py: the purposes, and those consented per practice.
export const PURPOSES = ["care_messaging", "prevention_mailings", "report_to_gp", "paid_chat_terms"];
export const PER_PRACTICE = new Set(["prevention_mailings"]);

export class RightsClient {
  constructor(client) {
    this.client = client;
  }

  _request(method, path, json = undefined) {
    return this.client.api.request(method, `${API}${path}`, json);
  }

  /**
   * {textVersions: {purpose: version}, states: [{purpose, scope, state, version, at}]}:
   * one state per (purpose, scope) that has a record, and one "none" per unscoped
   * purpose without any. `version` is the text agreed to (or revoked), `at` when.
   */
  async consents() {
    const answer = await this._request("GET", "/consents");
    const textVersions = answer.text_versions ?? {};
    const latest = new Map();
    for (const record of answer.history ?? []) {
      latest.set(`${record.purpose}\u0000${record.scope ?? ""}`, record);
    }
    const states = [...latest.values()].map((r) => ({
      purpose: r.purpose,
      scope: r.scope ?? "",
      state: r.action === "revoke" ? "revoked" : r.version === textVersions[r.purpose] ? "granted" : "outdated",
      version: r.version,
      at: r.at,
    }));
    for (const purpose of PURPOSES) {
      if (!PER_PRACTICE.has(purpose) && !states.some((s) => s.purpose === purpose)) {
        states.push({ purpose, scope: "", state: "none", version: null, at: null });
      }
    }
    return { textVersions, states };
  }

  /** Consents to `purpose` as text `version` (the one the page showed: consents()'s
   * textVersions) says; an older one is ApiError consent_text_outdated. */
  grant(purpose, version, scope = "") {
    return this._request("POST", "/consents", { purpose, version: String(version), scope });
  }

  revoke(purpose, scope = "") {
    return this._request("POST", "/consents/revoke", { purpose, scope });
  }

  async blocks() {
    const answer = await this._request("GET", "/blocks");
    return (answer.blocks ?? []).map((b) => ({ accountId: b.account_id, since: b.since }));
  }

  block(accountId) {
    return this._request("PUT", `/blocks/${enc(accountId)}`);
  }

  unblock(accountId) {
    return this._request("DELETE", `/blocks/${enc(accountId)}`);
  }
}
