// The HTTP half of the client: one method per server endpoint, JSON in, JSON out,
// twin of e2e_crypto/client/api.py.
//
// Authentication is the server's bearer session token (Authorization header), not a
// cookie: a browser never attaches it to a request on its own, so no other site can
// make a request in the user's name (no CSRF by construction), and the CSP's
// connect-src 'self' keeps it on this origin. The token lives in this object's memory
// and, across reloads, in the keystore encrypted under the non-extractable wrapping
// key (keystore.mjs) — never in localStorage or a cookie.

import { checkId, toBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { ApiError } from "./errors.mjs";

const API = "/api/v1";
const id = (value, what) => encodeURIComponent(checkId(value, what));

export class Api {
  constructor(baseUrl = location.origin) {
    this.baseUrl = new URL(baseUrl);
    this.token = null;
    this.accountId = null;
  }

  useToken(token, accountId) {
    this.token = token;
    this.accountId = accountId;
  }

  get loggedIn() {
    return this.token !== null;
  }

  url(path, params = null) {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(params ?? {})) {
      if (value !== null && value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  headers(extra = {}) {
    const headers = { ...extra };
    if (this.token !== null) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  async raiseFor(response) {
    if (response.ok) return;
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw ApiError.fromProblem(response.status, body, response.headers.get("Retry-After"));
  }

  /** Raw fetch with the session header; network failures become ApiError status 0. */
  async fetch(method, path, { params = null, body = undefined, headers = {} } = {}) {
    let response;
    try {
      response = await fetch(this.url(path, params), {
        method,
        body,
        headers: this.headers(headers),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError({ status: 0, code: "network_error", title: String(error?.message ?? error) });
    }
    await this.raiseFor(response);
    return response;
  }

  /** One JSON call; the decoded body, or null for 204. */
  async request(method, path, json = undefined, params = null) {
    const response = await this.fetch(method, path, {
      params,
      body: json === undefined ? undefined : JSON.stringify(json),
      headers: json === undefined ? {} : { "Content-Type": "application/json" },
    });
    return response.status === 204 ? null : response.json();
  }

  // -- accounts and sessions

  register({ email, password, role, displayName, registration = null }) {
    const body = { email, password, role, display_name: displayName };
    if (registration) body.registration = registration;
    return this.request("POST", `${API}/accounts`, body);
  }

  async verifyEmail(token, password) {
    return (await this.request("POST", `${API}/accounts/verify`, { token, password })).account_id;
  }

  requestPasswordReset(email) {
    return this.request("POST", `${API}/accounts/password-reset`, { email });
  }

  resetPassword(token, newPassword) {
    return this.request("POST", `${API}/accounts/password-reset/confirm`, { token, new_password: newPassword });
  }

  async login(email, password, totpCode = null) {
    const body = { email, password };
    if (totpCode) body.totp_code = totpCode;
    const grant = await this.request("POST", `${API}/sessions`, body);
    this.useToken(grant.token, grant.account_id);
    return grant;
  }

  async logout() {
    try {
      await this.request("DELETE", `${API}/sessions/current`);
    } finally {
      this.token = null;
      this.accountId = null;
    }
  }

  me() {
    return this.request("GET", `${API}/accounts/me`);
  }

  startTotp() {
    return this.request("POST", `${API}/accounts/me/totp`);
  }

  confirmTotp(code) {
    return this.request("POST", `${API}/accounts/me/totp/confirm`, { code });
  }

  async wsTicket(deviceId) {
    return (await this.request("POST", `${API}/ws-tickets`, { device_id: deviceId })).ticket;
  }

  wsUrl() {
    const url = this.url("/ws");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  // -- keys

  setRootKey(rootPublic) {
    return this.request("PUT", `${API}/accounts/me/root-key`, { root_key: toBase64url(rootPublic) });
  }

  addDevice(certificate) {
    return this.request("POST", `${API}/devices`, { certificate: toBase64url(certificate) });
  }

  revokeDevice(deviceId) {
    return this.request("DELETE", `${API}/devices/${id(deviceId, "device id")}`);
  }

  accountDevices(accountId) {
    return this.request("GET", `${API}/accounts/${id(accountId, "account id")}/devices`);
  }

  async keyLog(accountId, after = 0) {
    return (await this.request("GET", `${API}/accounts/${id(accountId, "account id")}/key-log`, undefined, { after })).entries;
  }

  async putKeyBackup(blob) {
    await this.fetch("PUT", `${API}/accounts/me/key-backup`, {
      body: blob,
      headers: { "Content-Type": "application/octet-stream" },
    });
  }

  async getKeyBackup() {
    const response = await this.fetch("GET", `${API}/accounts/me/key-backup`);
    return new Uint8Array(await response.arrayBuffer());
  }

  // -- care links, invitations, practices

  async careLinks() {
    return (await this.request("GET", `${API}/care-links`)).care_links;
  }

  requestCareLink(provider) {
    return this.request("POST", `${API}/care-links`, { provider });
  }

  answerCareLink(linkId, accept) {
    return this.request("POST", `${API}/care-links/${id(linkId, "care link id")}/answer`, { accept });
  }

  invite(provider, channel, to) {
    return this.request("POST", `${API}/invitations`, { provider, channel, to });
  }

  requestPhoneCode(code) {
    return this.request("POST", `${API}/invitations/phone-code`, { code });
  }

  acceptInvitation(code, phoneCode = null) {
    const body = { code };
    if (phoneCode) body.phone_code = phoneCode;
    return this.request("POST", `${API}/invitations/accept`, body);
  }

  practice(practiceId) {
    return this.request("GET", `${API}/practices/${id(practiceId, "practice id")}`);
  }

  membership(practiceId) {
    return this.request("GET", `${API}/practices/${id(practiceId, "practice id")}/membership`);
  }

  // -- threads

  createThread(provider, kind, opening) {
    return this.request("POST", `${API}/threads`, { kind, provider, opening: toBase64url(opening) });
  }

  async threads() {
    return (await this.request("GET", `${API}/threads`)).threads;
  }

  thread(threadId) {
    return this.request("GET", `${API}/threads/${id(threadId, "thread id")}`);
  }

  threadAction(threadId, action) {
    if (!["accept", "decline", "block", "close"].includes(action)) throw new RangeError(`unknown thread action ${action}`);
    return this.request("POST", `${API}/threads/${id(threadId, "thread id")}/${action}`);
  }

  messages(threadId, { after = null, before = null, limit = 100 } = {}) {
    return this.request("GET", `${API}/threads/${id(threadId, "thread id")}/messages`, undefined, { after, before, limit });
  }

  /** POST /reports: a chat message ({thread, seq, ...}) or a mailing ({campaign, ...}). */
  report(body) {
    return this.request("POST", `${API}/reports`, body);
  }

  setAvailability({ acceptingRequests, awayMessage = null }) {
    return this.request("PUT", `${API}/accounts/me/availability`, {
      accepting_requests: acceptingRequests,
      away_message: awayMessage,
    });
  }

  notificationPreferences() {
    return this.request("GET", `${API}/accounts/me/notification-preferences`);
  }

  setNotificationPreferences({ email, sms }) {
    return this.request("PUT", `${API}/accounts/me/notification-preferences`, { email, sms });
  }

  // -- GDPR (docs/gdpr.md): the password is asked again for export and erasure

  /** The export archive (a ZIP) as a Blob. */
  async exportData(password) {
    const response = await this.fetch("POST", `${API}/accounts/me/export`, {
      body: JSON.stringify({ password }),
      headers: { "Content-Type": "application/json" },
    });
    return response.blob();
  }

  erasure() {
    return this.request("GET", `${API}/accounts/me/erasure`);
  }

  requestErasure(password) {
    return this.request("POST", `${API}/accounts/me/erasure`, { password });
  }

  cancelErasure() {
    return this.request("DELETE", `${API}/accounts/me/erasure`);
  }

  // -- attachments

  /**
   * Uploads ciphertext with XMLHttpRequest, the one browser API that reports upload
   * progress; resolves to {attachment_id, size}.
   */
  uploadAttachment(threadId, ciphertext, onProgress = null) {
    const url = this.url(`${API}/threads/${id(threadId, "thread id")}/attachments`);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url.href);
      for (const [name, value] of Object.entries(this.headers({ "Content-Type": "application/octet-stream" }))) {
        xhr.setRequestHeader(name, value);
      }
      xhr.responseType = "json";
      if (onProgress) {
        xhr.upload.onprogress = (event) => onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : ciphertext.size });
      }
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
        else reject(ApiError.fromProblem(xhr.status, xhr.response, xhr.getResponseHeader("Retry-After")));
      };
      xhr.onerror = () => reject(new ApiError({ status: 0, code: "network_error", title: "upload failed" }));
      xhr.send(ciphertext);
    });
  }

  async downloadAttachment(attachmentId) {
    const response = await this.fetch("GET", `${API}/attachments/${id(attachmentId, "attachment id")}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}
