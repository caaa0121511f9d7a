// The client library's errors. ApiError is the server's problem+json (or WS error
// frame) as data: pages switch on `code`, never on prose. The others are the client's
// own refusals, named after the Python SDK's (e2e_crypto/client/errors.py).

export class CareChatError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** {status, code, title, detail, fields, retryAfter}; status 0 for a network failure. */
export class ApiError extends CareChatError {
  constructor({ status = 0, code = "network_error", title = "", detail = null, fields = null, retryAfter = null, devices = null, suspension = null } = {}) {
    super(`${code}: ${title}`);
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.fields = fields;
    this.retryAfter = retryAfter;
    this.devices = devices;
    // account_suspended at login: {action, reason, at, note?, appeal} (why, and where to appeal).
    this.suspension = suspension;
  }

  static fromProblem(status, body, retryHeader = null) {
    const doc = body && typeof body === "object" ? body : {};
    const retry = doc.retry_after ?? (retryHeader !== null ? Number(retryHeader) : null);
    return new ApiError({
      status,
      code: typeof doc.code === "string" ? doc.code : status >= 500 ? "internal" : "bad_request",
      title: typeof doc.title === "string" ? doc.title : "",
      detail: typeof doc.detail === "string" ? doc.detail : null,
      fields: doc.fields && typeof doc.fields === "object" ? doc.fields : null,
      retryAfter: Number.isFinite(retry) ? retry : null,
      devices: Array.isArray(doc.devices) ? doc.devices : null,
      suspension: doc.suspension && typeof doc.suspension === "object" ? doc.suspension : null,
    });
  }
}

/** Something the client needs first: log in, create or restore keys, connect. */
export class NotReady extends CareChatError {}

/** The account already has a root key: restore it from the backup instead. */
export class IdentityExists extends CareChatError {}

/** A server answer the client will not believe (bad signature, changed pins, ...). */
export class TrustError extends CareChatError {
  constructor(subject, reason) {
    super(`${subject}: ${reason}`);
    this.subject = subject;
    this.reason = reason;
  }
}

/** A peer's root key is not the one pinned: show the new safety number first. */
export class RootKeyChanged extends TrustError {
  constructor(accountId, pinned, announced) {
    super(accountId, "root key changed");
    this.accountId = accountId;
    this.pinned = pinned;
    this.announced = announced;
  }
}

/** A thread's patient or provider is not the one its patient signed (or we pinned). */
export class UntrustedThread extends TrustError {}

/** The server names a participant outside the verified parties: nothing is sent. */
export class GhostRecipient extends TrustError {
  constructor(threadId, accountId) {
    super(threadId, `${accountId} is not a verified participant`);
    this.threadId = threadId;
    this.accountId = accountId;
  }
}

/** A downloaded attachment failed its hash (or decryption): nothing is returned. */
export class AttachmentCorrupted extends CareChatError {}

/**
 * The session or this device was revoked (WS close 4003): log in again. `suspended`
 * is the moderators' reason code when the account was suspended (the close reason
 * `account suspended: <reason>; ...`), else null; signing in then answers
 * `account_suspended` with the details and where to appeal.
 */
export class SessionRevoked extends CareChatError {
  constructor(message, { suspended = null } = {}) {
    super(message);
    this.suspended = suspended;
  }
}

const SUSPENDED_CLOSE = /^account suspended: ([a-z_]{1,40});/;

/** The suspension's reason code in a 4003 close reason, or null. */
export function suspendedReason(closeReason) {
  return SUSPENDED_CLOSE.exec(String(closeReason ?? ""))?.[1] ?? null;
}

/** The seconds a 4029 close ("rate limited") asks to wait: its reason is JSON with retry_after. */
export function closeRetryAfter(closeReason) {
  try {
    const value = JSON.parse(String(closeReason ?? "")).retry_after;
    return Number.isFinite(value) && value > 0 && value <= 3600 ? value : null;
  } catch {
    return null;
  }
}
