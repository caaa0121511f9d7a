// Whose devices may read what we send, and who really sent what we receive — twin of
// e2e_crypto/client/directory.py. A peer's root key is pinned on first use in the
// keystore; a listing with another root key is RootKeyChanged; every certificate is
// verified against the pinned key and one bad entry refuses the whole listing.

import {
  CryptoError,
  formatSafetyNumber,
  fromBase64url,
  safetyNumber,
  toBase64url,
  verifyDeviceCertificate,
} from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { ApiError, RootKeyChanged, TrustError } from "./errors.mjs";

const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

function rootKeyOf(accountId, text) {
  try {
    const raw = fromBase64url(String(text), 32);
    if (raw.length !== 32) throw new CryptoError("length");
    return raw;
  } catch {
    throw new TrustError(accountId, "root key is not an Ed25519 key");
  }
}

function verifyEntry(accountId, root, entry) {
  if (!entry || typeof entry !== "object") throw new TrustError(accountId, "device entry is not an object");
  let device;
  try {
    device = verifyDeviceCertificate(fromBase64url(String(entry.certificate), 512), { accountId, rootKey: root });
  } catch {
    throw new TrustError(accountId, "a device certificate does not verify");
  }
  // The listing's convenience fields must say what the certificate says.
  const claimed = [entry.device_id, entry.enc_key, entry.sign_key];
  const actual = [device.deviceId, toBase64url(device.encryptionKey), toBase64url(device.signingKey)];
  if (claimed.some((c, i) => c !== undefined && c !== null && c !== actual[i])) {
    throw new TrustError(accountId, "a device entry disagrees with its certificate");
  }
  return device;
}

/** The devices of a listing that chain to the pinned root key (pins on first use). */
export function verifyListing(keystore, accountId, listing) {
  if ((listing.account_id ?? accountId) !== accountId) throw new TrustError(accountId, "listing is for another account");
  const devices = listing.devices ?? [];
  if (!Array.isArray(devices)) throw new TrustError(accountId, "devices is not a list");
  if (listing.root_key === null || listing.root_key === undefined) {
    if (devices.length) throw new TrustError(accountId, "devices without a root key");
    return [];
  }
  const announced = rootKeyOf(accountId, listing.root_key);
  let pinned = keystore.trustedRoot(accountId);
  if (pinned === null) {
    keystore.trust(accountId, announced);
    keystore.saveSoon();
    pinned = announced;
  } else if (!sameBytes(pinned, announced)) {
    throw new RootKeyChanged(accountId, pinned, announced);
  }
  const verified = devices.map((entry) => verifyEntry(accountId, pinned, entry));
  if (new Set(verified.map((d) => d.deviceId)).size !== verified.length) {
    throw new TrustError(accountId, "a device is listed twice");
  }
  return verified;
}

export class Directory {
  constructor(api, keystore) {
    this.api = api;
    this.keystore = keystore;
    this._devices = new Map();
    this._retired = new Map();
    this._inflight = new Map();
    this._addedAt = new Map(); // "account/device" -> the listing's created_at
  }

  /** The account's active, verified devices (cached unless `refresh`). */
  async devices(accountId, { refresh = false } = {}) {
    if (!refresh && this._devices.has(accountId)) return this._devices.get(accountId);
    // One fetch at a time per account (the twin of the SDK's per-account lock).
    const key = accountId;
    if (!this._inflight.has(key)) {
      const run = (async () => {
        const listing = await this.api.accountDevices(accountId);
        const verified = verifyListing(this.keystore, accountId, listing);
        for (const entry of listing.devices ?? []) this._addedAt.set(`${accountId}/${entry.device_id}`, entry.created_at ?? null);
        this._devices.set(accountId, verified);
        return verified;
      })().finally(() => this._inflight.delete(key));
      this._inflight.set(key, run);
    }
    return this._inflight.get(key);
  }

  /**
   * When a listed device was added, as the server's listing says (ISO string; null if
   * not known): shown to people instead of the device's id. Not part of the
   * certificate, so only for display, never for a decision.
   */
  addedAt(accountId, deviceId) {
    return this._addedAt.get(`${accountId}/${deviceId}`) ?? null;
  }

  /** A sender's device: cache, then a fresh listing, then the key log (retired). */
  async device(accountId, deviceId) {
    for (const refresh of [false, true]) {
      const found = (await this.devices(accountId, { refresh })).find((d) => d.deviceId === deviceId);
      if (found) return found;
    }
    const key = `${accountId}/${deviceId}`;
    if (!this._retired.has(key)) this._retired.set(key, await this._fromKeyLog(accountId, deviceId));
    return this._retired.get(key);
  }

  async _fromKeyLog(accountId, deviceId) {
    const pinned = this.keystore.trustedRoot(accountId);
    if (pinned !== null) {
      for (const entry of await this.api.keyLog(accountId)) {
        if (entry.event === "device_added" && entry.device_id === deviceId) {
          try {
            return verifyEntry(accountId, pinned, entry);
          } catch {
            // certified by an earlier root key: not verifiable now
          }
        }
      }
    }
    throw new ApiError({ status: 404, code: "not_found", title: "unknown device" });
  }

  acceptRootKey(accountId, rootPublic) {
    this.keystore.trust(accountId, rootPublic);
    this.keystore.saveSoon();
    this._devices.delete(accountId);
    for (const key of [...this._retired.keys()]) if (key.startsWith(`${accountId}/`)) this._retired.delete(key);
  }

  forget(accountId = null) {
    if (accountId === null) this._devices.clear();
    else this._devices.delete(accountId);
  }

  /** The 60-digit number to compare out of band, grouped by 5; null if none pinned. */
  safetyNumber(accountId) {
    const peer = this.keystore.trustedRoot(accountId);
    if (peer === null) return null;
    const me = this.keystore;
    return formatSafetyNumber(safetyNumber(me.accountId, me.root.publicKey, accountId, peer));
  }
}
