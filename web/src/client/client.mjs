// CareChatClient: the one object a page holds — twin of e2e_crypto/client/client.py.
//
//   CareChatClient
//    ├── api          Api           HTTP calls, ApiError
//    ├── keystore     Keystore      this browser's keys and pins (IndexedDB, wrapped)
//    ├── directory    Directory     verified device lists (TOFU, RootKeyChanged)
//    ├── envelopes    Envelopes     seal for a thread / open and verify
//    ├── participants Participants  thread openings + signed membership lists
//    └── socket       Socket        live messages, outbox, reconnects
//
// Everything secret stays in the page: the server gets public keys, certificates,
// envelopes, the backup sealed under the passphrase (Argon2id) and attachment
// ciphertext — never a plaintext, a private key or the passphrase.

import { toBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { signOpening } from "../../../e2e_crypto/js/carechat-care.mjs";
import { Api } from "./api.mjs";
import { downloadAttachment, uploadAttachment } from "./attachments.mjs";
import { Directory, verifyListing } from "./directory.mjs";
import { ApiError, IdentityExists, NotReady, TrustError, UntrustedThread } from "./errors.mjs";
import { Keystore, forgetSession, loadSession, randomId, saveSession } from "./keystore.mjs";
import { Envelopes } from "./messages.mjs";
import { Memberships, Participants } from "./participants.mjs";
import { Socket, sealedFromJson } from "./socket.mjs";

/** The server's thread JSON as the pages see it (camelCase; `raw` keeps the rest). */
export function threadSummary(doc) {
  return {
    threadId: doc.thread_id,
    kind: doc.kind,
    state: doc.state,
    patientId: doc.patient_id,
    provider: doc.provider ?? null,
    participants: [...(doc.participants ?? [])],
    members: (doc.members ?? []).map((m) => ({ accountId: m.account_id, displayName: m.display_name ?? null, role: m.role })),
    unread: doc.unread ?? 0,
    lastSeq: doc.last_seq ?? 0,
    createdAt: doc.created_at ?? null,
    lastMessageAt: doc.last_message_at ?? null,
    awayMessage: doc.away_message ?? null,
    raw: doc,
  };
}

export class CareChatClient {
  constructor({ baseUrl = location.origin } = {}) {
    this.api = new Api(baseUrl);
    this.me = null;
    this.keystore = null;
    this.directory = null;
    this.envelopes = null;
    this.participantsCheck = null;
    this.socket = null;
    this._handlers = new Map();
  }

  /** A client, signed in again if this browser kept a session that still holds. */
  static async open({ baseUrl = location.origin } = {}) {
    const client = new CareChatClient({ baseUrl });
    const session = await loadSession();
    if (session?.token && session?.accountId) {
      client.api.useToken(session.token, session.accountId);
      try {
        await client._signedIn();
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 401) throw error;
        client.api.useToken(null, null);
        await forgetSession();
      }
    }
    return client;
  }

  get accountId() {
    return this.api.accountId;
  }

  get hasKeys() {
    return this.keystore !== null;
  }

  // -- events

  on(type, handler) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(handler);
  }

  off(type, handler) {
    this._handlers.get(type)?.delete(handler);
  }

  _emit(type, detail) {
    for (const handler of this._handlers.get(type) ?? []) {
      try {
        handler(detail);
      } catch (error) {
        console.error("a handler failed", type, error);
      }
    }
  }

  // -- accounts and sessions

  register({ email, password, displayName, role = "patient", registration = null }) {
    return this.api.register({ email, password, role, displayName, registration });
  }

  verifyEmail(token, password) {
    return this.api.verifyEmail(token, password);
  }

  requestPasswordReset(email) {
    return this.api.requestPasswordReset(email);
  }

  resetPassword(token, newPassword) {
    return this.api.resetPassword(token, newPassword);
  }

  /** Throws ApiError (code "totp_required", "invalid_credentials", ...). */
  async login(email, password, totpCode = null) {
    const grant = await this.api.login(email, password, totpCode);
    await saveSession({ token: grant.token, accountId: grant.account_id });
    await this._signedIn();
    return this.me;
  }

  async _signedIn() {
    this.me = await this.api.me();
    const keystore = await Keystore.load(this.accountId);
    // Keys from an identity the account no longer has (reset elsewhere) are not used.
    if (keystore && this.me.root_key === toBase64url(keystore.root.publicKey)) this._useKeys(keystore);
  }

  /**
   * Ends the session. `forgetKeys: true` (a shared computer) also revokes this browser's
   * device on the server and deletes its keys here; the backup stays, so the account's
   * other devices and a restore are unaffected.
   */
  async logout({ forgetKeys = false } = {}) {
    this.close();
    try {
      if (forgetKeys && this.keystore !== null) {
        await this.api.revokeDevice(this.keystore.deviceId);
        await Keystore.forget(this.accountId);
      }
      await this.api.logout();
    } finally {
      await forgetSession();
      this.me = null;
      this.keystore = null;
    }
  }

  startTotp() {
    return this.api.startTotp();
  }

  confirmTotp(code) {
    return this.api.confirmTotp(code);
  }

  // -- keys

  _useKeys(keystore) {
    this.keystore = keystore;
    this.directory = new Directory(this.api, keystore);
    this.envelopes = new Envelopes(keystore, this.directory);
    this.participantsCheck = new Participants(new Memberships(this.api, this.directory, keystore), this.directory, keystore);
    this.socket = new Socket({
      api: this.api,
      keystore,
      envelopes: this.envelopes,
      participants: this.participantsCheck,
      // The socket hands over the server's thread JSON; pages get ThreadSummary.
      emit: (type, detail) => this._emit(type, type === "thread" ? threadSummary(detail) : detail),
    });
  }

  _requireKeys() {
    if (this.keystore === null) throw new NotReady("create or restore keys first");
    return this.keystore;
  }

  _requireLogin() {
    if (!this.api.loggedIn) throw new NotReady("log in first");
  }

  /** First device of the account: root key and device keys, published (public parts). */
  async createKeys() {
    this._requireLogin();
    if ((await this.api.me()).root_key) throw new IdentityExists("this account has keys; restore them from the backup");
    const keystore = Keystore.create(this.accountId);
    await this.api.setRootKey(keystore.root.publicKey);
    await this.api.addDevice(keystore.certificate());
    await keystore.save();
    await keepStorage();
    this._useKeys(keystore);
    this.me = await this.api.me();
  }

  /** Seals the account's keys under `passphrase` (Argon2id) and stores the blob. */
  async backupKeys(passphrase) {
    await this.api.putKeyBackup(this._requireKeys().sealBackup(passphrase));
  }

  /**
   * New device on this browser from the server-side backup. Throws DecryptionFailed
   * (from the crypto) for a wrong passphrase, TrustError if the backup is not this
   * account's current identity.
   */
  async restoreKeys(passphrase) {
    this._requireLogin();
    const blob = await this.api.getKeyBackup();
    const keystore = Keystore.restore(blob, passphrase);
    if (keystore.accountId !== this.accountId) throw new TrustError(this.accountId, "the backup belongs to another account");
    const published = (await this.api.me()).root_key;
    if (published !== toBase64url(keystore.root.publicKey)) {
      throw new TrustError(this.accountId, "the backup's root key is not the account's current one");
    }
    await this.api.addDevice(keystore.certificate());
    await keystore.save();
    await keepStorage();
    this._useKeys(keystore);
    await this.backupKeys(passphrase); // now including this device's keys
  }

  /** The 60-digit safety number with `accountId`, grouped by 5 (null: not met yet). */
  safetyNumber(accountId) {
    this._requireKeys();
    return this.directory.safetyNumber(accountId);
  }

  /** After a RootKeyChanged, once the user compared the new safety number. */
  acceptRootKey(accountId, rootPublic) {
    this._requireKeys();
    this.directory.acceptRootKey(accountId, rootPublic);
  }

  /** This account's devices, verified against its own root key: [{deviceId, current}]. */
  async devices() {
    const keystore = this._requireKeys();
    const listing = await this.api.accountDevices(this.accountId);
    const byId = new Map((listing.devices ?? []).map((d) => [d.device_id, d]));
    return verifyListing(keystore, this.accountId, listing).map((d) => ({
      deviceId: d.deviceId,
      current: d.deviceId === keystore.deviceId,
      addedAt: byId.get(d.deviceId)?.created_at ?? null,
    }));
  }

  revokeDevice(deviceId) {
    return this.api.revokeDevice(deviceId);
  }

  // -- care

  acceptInvitation(code, { phoneCode = null } = {}) {
    return this.api.acceptInvitation(code, phoneCode);
  }

  requestPhoneCode(code) {
    return this.api.requestPhoneCode(code);
  }

  invite(provider, channel, to) {
    return this.api.invite(provider, channel, to);
  }

  careLinks() {
    return this.api.careLinks();
  }

  requestCareLink(provider) {
    return this.api.requestCareLink(provider);
  }

  answerCareLink(linkId, accept) {
    return this.api.answerCareLink(linkId, accept);
  }

  async threads() {
    const summaries = await this.api.threads();
    if (this.socket) for (const s of summaries) this.socket.learn(s);
    return summaries.map(threadSummary);
  }

  async thread(threadId) {
    const summary = await this.api.thread(threadId);
    this.socket?.learn(summary);
    return threadSummary(summary);
  }

  /** [{accountId, displayName, role}], checked against the signed opening and membership. */
  async participants(threadId) {
    this._requireKeys();
    return this.participantsCheck.verify(await this.api.thread(threadId));
  }

  /** Opens a thread with `provider` ({kind, id}), signing its opening with the root key. */
  async startThread(provider, kind = "care") {
    const keystore = this._requireKeys();
    const opening = signOpening(keystore.root, {
      threadId: randomId(16),
      patientAccount: this.accountId,
      providerKind: provider.kind,
      providerId: provider.id,
      openedAt: Math.floor(Date.now() / 1000),
    });
    const summary = await this.api.createThread({ kind: provider.kind, id: provider.id }, kind, opening.encoded);
    const got = [summary.patient_id, summary.provider?.kind, summary.provider?.id];
    if (summary.thread_id !== opening.threadId || got.join("\n") !== opening.parties.join("\n")) {
      throw new UntrustedThread(summary.thread_id, "the server opened another thread");
    }
    keystore.pinThread(opening.threadId, [...opening.parties]);
    await keystore.save();
    this.socket.learn(summary);
    return threadSummary(summary);
  }

  async threadAction(threadId, action) {
    const summary = await this.api.threadAction(threadId, action);
    return summary ? threadSummary(summary) : null;
  }

  /**
   * Stored messages, decrypted, oldest first: {before, limit} pages back from the end,
   * {after} forward. Returns {messages: [Message], nextBefore, nextAfter}.
   */
  async history(threadId, { before = null, after = null, limit = 100 } = {}) {
    this._requireKeys();
    const page = await this.api.messages(threadId, { before, after: before === null ? (after ?? 0) : null, limit });
    const messages = [];
    const pairs = new Set();
    for (const doc of page.messages) {
      const sealed = sealedFromJson(doc);
      // Within what the server returned: one message per (sender device, client_msg_id).
      const pair = `${sealed.senderAccount}/${sealed.senderDevice}/${sealed.clientMsgId}`;
      if (pairs.has(pair)) continue;
      pairs.add(pair);
      this.socket.isReplay(sealed); // so the live stream does not show it again
      const opened = await this.envelopes.open(sealed);
      const mine = sealed.senderAccount === this.accountId;
      messages.push({
        threadId,
        seq: sealed.seq,
        clientMsgId: sealed.clientMsgId,
        sender: { account: sealed.senderAccount, device: sealed.senderDevice },
        at: sealed.at,
        mine,
        status: mine ? "sent" : "received",
        payload: opened.payload,
        verified: opened.verified,
      });
    }
    messages.sort((a, b) => a.seq - b.seq);
    return { messages, nextBefore: page.next_before ?? null, nextAfter: page.next_after ?? null };
  }

  /**
   * Reports `message` (from history() or a `message` event) to CareChat's moderators
   * with `category` (moderation/reports.py): its plaintext and franking key are
   * revealed, and the server checks them against its stamp. Like the Python SDK, the
   * stored envelope is fetched and opened again, so no page keeps franking keys.
   * Resolves to "verified" | "unverifiable"; a second report of the same message is
   * ApiError `report_already_filed`; a message this browser cannot open, NotReady.
   */
  async report(message, category = "other") {
    this._requireKeys();
    const page = await this.api.messages(message.threadId, { after: message.seq - 1, limit: 1 });
    const doc = page.messages.find((m) => m.seq === message.seq);
    if (!doc) throw new ApiError({ status: 404, code: "not_found", title: "the message is not in this thread" });
    const opened = await this.envelopes.reveal(sealedFromJson(doc));
    if (!opened.verified) throw new NotReady("this message cannot be opened here, so it cannot be reported");
    const answer = await this.api.report({
      thread: message.threadId,
      seq: message.seq,
      body: toBase64url(opened.body),
      franking_key: toBase64url(opened.frankingKey),
      category,
    });
    return answer.verification;
  }

  setAvailability({ available, awayMessage = null }) {
    return this.api.setAvailability({ acceptingRequests: available, awayMessage });
  }

  /** {email, sms}: how a waiting message is announced (never its content). */
  notificationPreferences() {
    return this.api.notificationPreferences();
  }

  /** Sets both channels; resolves to what the server now holds. */
  setNotificationPreferences({ email, sms }) {
    return this.api.setNotificationPreferences({ email, sms });
  }

  // -- your data (GDPR, docs/gdpr.md)

  /** Everything the server stores about this account: a ZIP Blob (ciphertext inside). */
  exportData(password) {
    return this.api.exportData(password);
  }

  /** {pending: false} or {pending: true, requested_at, erase_after}; also `me.erasure`. */
  async erasure() {
    const view = await this.api.erasure();
    if (this.me) this.me.erasure = view;
    return view;
  }

  /** Asks for the account's erasure after the server's grace period. */
  async requestErasure(password) {
    const view = await this.api.requestErasure(password);
    if (this.me) this.me.erasure = view;
    return view;
  }

  async cancelErasure() {
    await this.api.cancelErasure();
    if (this.me) this.me.erasure = { pending: false };
  }

  // -- live

  /** Opens the socket (idempotent); it then reconnects by itself until close(). */
  async connect() {
    this._requireKeys();
    await this.socket.start();
  }

  close() {
    this.socket?.close();
  }

  /** payload: a string or a typed payload ({t: "renewal_request", ...}). */
  async send(threadId, payload) {
    this._requireKeys();
    const attachments = payload?.t === "attachment" ? [payload.attachment_id] : [];
    const { clientMsgId, sent } = await this.socket.send(threadId, payload, { attachments });
    return { clientMsgId, sent };
  }

  read(threadId, seq) {
    this._requireKeys();
    this.socket.read(threadId, seq);
  }

  typing(threadId) {
    this._requireKeys();
    this.socket.typing(threadId);
  }

  /** Encrypts, uploads (onProgress) and sends `file`; returns {clientMsgId, sent, attachment}. */
  async sendAttachment(threadId, file, { onProgress = null, name, mime } = {}) {
    this._requireKeys();
    const attachment = await uploadAttachment(this.api, threadId, file, { onProgress, name, mime });
    return { ...(await this.send(threadId, attachment)), attachment };
  }

  /** A Blob of the attachment; AttachmentCorrupted if it fails its hash. */
  downloadAttachment(attachment) {
    return downloadAttachment(this.api, attachment);
  }
}

/**
 * Asks the browser not to evict this origin's storage under pressure: the device keys
 * live there (the backup on the server can restore them, but only with the passphrase).
 * Browsers may say no without asking; nothing depends on the answer.
 */
async function keepStorage() {
  try {
    await navigator.storage?.persist?.();
  } catch {
    // not granted: the keys stay, as best-effort storage
  }
}
