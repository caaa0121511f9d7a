// A person's GDPR actions without a session (docs/gdpr.md, "/api/v1/personal-data/"):
// a suspended account has no session and cannot get one, yet its rights of access
// and erasure remain. Each request carries the login's own proof instead, checked
// exactly as a login checks it. Twin of the session routes on CareChatClient
// (exportData, erasure, requestErasure, cancelErasure).
//
//   PersonalDataClient(client)        uses client.api (no token needed)
//     ├── exportData(proof)           Blob: the export archive (a ZIP)
//     ├── erasure(proof)              {pending: false} | {pending: true, requested_at, erase_after}
//     ├── requestErasure(proof)       the same view, pending; ApiError erasure_already_requested
//     └── cancelErasure(proof)        ApiError erasure_not_requested when nothing is pending
//
// proof: {email, password, totpCode?} (totpCode when two-factor login is set up).
// A wrong one is ApiError invalid_credentials, spent like a failed login.

const BASE = "/api/v1/personal-data";

function body({ email, password, totpCode = null }) {
  const proof = { email: String(email), password: String(password) };
  if (totpCode) proof.totp_code = String(totpCode);
  return proof;
}

export class PersonalDataClient {
  constructor(client) {
    this.api = client.api;
  }

  async exportData(proof) {
    const response = await this.api.fetch("POST", `${BASE}/export`, {
      body: JSON.stringify(body(proof)),
      headers: { "Content-Type": "application/json" },
    });
    return response.blob();
  }

  erasure(proof) {
    return this.api.request("POST", `${BASE}/erasure/status`, body(proof));
  }

  requestErasure(proof) {
    return this.api.request("POST", `${BASE}/erasure`, body(proof));
  }

  async cancelErasure(proof) {
    await this.api.request("POST", `${BASE}/erasure/cancel`, body(proof));
  }
}
