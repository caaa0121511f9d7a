// This browser's key material and trust state, twin of e2e_crypto/client/keystore.py,
// kept in IndexedDB (database "carechat", one object store "kv").
//
// At rest, everything secret — the account's root seed, this device's keys, the former
// devices' keys restored from a backup, the pins, the session token — is one JSON
// document per account encrypted with AES-256-GCM under a *wrapping key*: a WebCrypto
// CryptoKey generated with extractable=false and stored in the same database
// (structured clone keeps it non-extractable). Page script can ask the browser to
// decrypt with it but can never read its bytes, so a copy of the database (a backup
// of the profile, a forensic image, another origin's bug) holds only ciphertext.
// The record's name is the GCM associated data, so records cannot be swapped.
// Nothing secret goes to localStorage, sessionStorage or cookies.
//
//   Keystore
//    ├── root      the account's Ed25519 root key (certifies devices; identity)
//    ├── device    this browser's device keys
//    ├── former    earlier devices' keys from a backup (to open history only)
//    ├── trusted   peers' root keys, pinned on first use
//    ├── practices practice -> {admin, epoch, digest}: no rollback, one list per epoch
//    ├── threads   thread -> [patient, provider kind, provider id], as signed
//    ├── recipients thread -> participants last seen (RecipientsNotice across reloads)
//    └── cursors   thread -> last seq handed to the page (resume after a reload)

import {
  deviceKeys,
  fromBase64url,
  openBackup,
  rootKey,
  sealBackup,
  toBase64url,
  certifyDevice,
  checkId,
  verifyDeviceCertificate,
} from "../../../e2e_crypto/js/carechat-e2e.mjs";

const DB_NAME = "carechat";
const STORE = "kv";
const WRAPPING = "wrapping-key";
const SESSION = "session";
const STATE_VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder();

// ---------------------------------------------------------------- IndexedDB

let dbPromise = null;

function db() {
  if (dbPromise === null) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

async function idb(mode, run) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction(STORE, mode);
    const request = run(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

const idbGet = (key) => idb("readonly", (store) => store.get(key));
const idbPut = (key, value) => idb("readwrite", (store) => store.put(value, key));
const idbDelete = (key) => idb("readwrite", (store) => store.delete(key));

/** The wrapping key: created once per browser profile, never extractable. */
async function wrappingKey() {
  const existing = await idbGet(WRAPPING);
  if (existing) return existing;
  const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  // Two tabs may race here: add() lets only the first one win; the other rereads it.
  try {
    await idb("readwrite", (store) => store.add(key, WRAPPING));
    return key;
  } catch {
    return idbGet(WRAPPING);
  }
}

async function putSealed(name, value) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: enc.encode(name) },
    await wrappingKey(),
    enc.encode(JSON.stringify(value)),
  );
  await idbPut(name, { iv, data });
}

async function getSealed(name) {
  const record = await idbGet(name);
  if (!record) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: record.iv, additionalData: enc.encode(name) },
      await wrappingKey(),
      record.data,
    );
    return JSON.parse(dec.decode(plain));
  } catch {
    return null; // another profile's key, or damaged: as if absent
  }
}

const accountRecord = (accountId) => `account:${checkId(accountId, "account id")}`;

/** The session saved by saveSession, or null. */
export const loadSession = () => getSealed(SESSION);
export const saveSession = (session) => putSealed(SESSION, session);
export const forgetSession = () => idbDelete(SESSION);

/** True if this browser holds keys for `accountId`. */
export async function hasStoredKeys(accountId) {
  return (await idbGet(accountRecord(accountId))) !== undefined;
}

/** A random id of `bytes` random bytes in base64url (16 chars for devices). */
export function randomId(bytes = 12) {
  return toBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

// ---------------------------------------------------------------- Keystore

const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export class Keystore {
  constructor(root, device, { former = [], trusted = {} } = {}) {
    this.root = root;
    this.device = device;
    this.former = former;
    this._trusted = new Map(Object.entries(trusted));
    this._trusted.set(device.accountId, root.publicKey);
    this._practices = new Map(); // practice -> {admin, epoch, digest?}
    this._threads = new Map(); // thread -> [patient, kind, provider]
    this._recipients = new Map(); // thread -> sorted participants
    this.cursors = {}; // thread -> seq handed to the page
    this._saveTimer = null;
  }

  static create(accountId) {
    return new Keystore(rootKey(), deviceKeys(accountId, randomId()));
  }

  get accountId() {
    return this.device.accountId;
  }

  get deviceId() {
    return this.device.deviceId;
  }

  certificate() {
    return certifyDevice(this.root, this.device);
  }

  /** This device as a verified recipient (it reads what this account sends). */
  verifiedSelf() {
    return verifyDeviceCertificate(this.certificate(), { accountId: this.accountId, rootKey: this.root.publicKey });
  }

  openers() {
    return [this.device, ...this.former];
  }

  // -- trust

  trustedRoot(accountId) {
    return this._trusted.get(accountId) ?? null;
  }

  trust(accountId, rootPublic) {
    checkId(accountId, "account id");
    if (accountId === this.accountId && !sameBytes(rootPublic, this.root.publicKey)) {
      throw new Error("this account's own root key is not taken from the server");
    }
    this._trusted.set(accountId, rootPublic);
  }

  practicePin(practiceId) {
    return this._practices.get(practiceId) ?? null;
  }

  pinPractice(practiceId, admin, epoch, digest = null) {
    checkId(practiceId, "practice id");
    checkId(admin, "admin account id");
    const known = this._practices.get(practiceId);
    if (known && known.admin !== admin) throw new Error("the practice's admin is pinned to another account");
    const pinnedEpoch = known ? known.epoch : 0;
    let pinnedDigest = known?.digest ?? null;
    if (digest !== null && epoch === pinnedEpoch && pinnedDigest !== null && !sameBytes(pinnedDigest, digest)) {
      throw new Error("another list is pinned at this epoch");
    }
    if (digest !== null && epoch >= pinnedEpoch) pinnedDigest = digest;
    this._practices.set(practiceId, { admin, epoch: Math.max(epoch, pinnedEpoch), digest: pinnedDigest });
  }

  threadPin(threadId) {
    return this._threads.get(threadId) ?? null;
  }

  pinThread(threadId, parties) {
    checkId(threadId, "thread id");
    const [patient, kind, provider] = parties;
    checkId(patient, "patient account id");
    checkId(provider, "provider id");
    if (kind !== "practitioner" && kind !== "practice") throw new Error("unknown provider kind");
    const known = this._threads.get(threadId);
    if (known && known.join("\n") !== parties.join("\n")) throw new Error("the thread is pinned to other parties");
    this._threads.set(threadId, [patient, kind, provider]);
  }

  recipients(threadId) {
    return this._recipients.get(threadId) ?? null;
  }

  rememberRecipients(threadId, participants) {
    checkId(threadId, "thread id");
    this._recipients.set(threadId, [...new Set(participants)].sort());
  }

  // -- backup

  sealBackup(passphrase) {
    return sealBackup({ accountId: this.accountId, root: this.root, devices: this.openers() }, passphrase);
  }

  /** A new device for this browser from a backup; the backed-up devices become former. */
  static restore(blob, passphrase) {
    const keys = openBackup(blob, passphrase);
    const taken = new Set(keys.devices.map((d) => d.deviceId));
    let deviceId = randomId();
    while (taken.has(deviceId)) deviceId = randomId();
    return new Keystore(keys.root, deviceKeys(keys.accountId, deviceId), { former: keys.devices });
  }

  // -- persistence

  exportState() {
    const device = (d) => ({
      device_id: d.deviceId,
      encryption_secret: toBase64url(d.encryptionSecret),
      signing_seed: toBase64url(d.signingSeed),
    });
    const practices = {};
    for (const [p, pin] of this._practices) {
      practices[p] = { admin: pin.admin, epoch: pin.epoch, ...(pin.digest ? { digest: toBase64url(pin.digest) } : {}) };
    }
    const threads = {};
    for (const [t, [patient, kind, provider]] of this._threads) {
      threads[t] = { patient, provider_kind: kind, provider_id: provider };
    }
    return {
      version: STATE_VERSION,
      account_id: this.accountId,
      root_seed: toBase64url(this.root.seed),
      device: device(this.device),
      former: this.former.map(device),
      trusted: Object.fromEntries([...this._trusted].map(([a, k]) => [a, toBase64url(k)])),
      practices,
      threads,
      recipients: Object.fromEntries(this._recipients),
      cursors: { ...this.cursors },
    };
  }

  static fromState(state) {
    if (state?.version !== STATE_VERSION) throw new Error("unsupported keystore state version");
    const accountId = state.account_id;
    const device = (d) => deviceKeys(accountId, d.device_id, fromBase64url(d.encryption_secret, 32), fromBase64url(d.signing_seed, 32));
    const keystore = new Keystore(rootKey(fromBase64url(state.root_seed, 32)), device(state.device), {
      former: state.former.map(device),
      trusted: Object.fromEntries(Object.entries(state.trusted).map(([a, k]) => [a, fromBase64url(k, 32)])),
    });
    for (const [p, pin] of Object.entries(state.practices ?? {})) {
      keystore.pinPractice(p, pin.admin, pin.epoch, pin.digest ? fromBase64url(pin.digest, 32) : null);
    }
    for (const [t, pin] of Object.entries(state.threads ?? {})) {
      keystore.pinThread(t, [pin.patient, pin.provider_kind, pin.provider_id]);
    }
    for (const [t, participants] of Object.entries(state.recipients ?? {})) {
      keystore.rememberRecipients(t, participants);
    }
    keystore.cursors = { ...(state.cursors ?? {}) };
    return keystore;
  }

  /**
   * Writes the state now (encrypted under the wrapping key). Another tab of the same
   * account may have saved pins this one does not hold: they are adopted first, so the
   * last writer never drops a pinned root key, thread or practice epoch (a dropped pin
   * would be trusted on first use again).
   */
  async save() {
    clearTimeout(this._saveTimer);
    this._saveTimer = null;
    const stored = await getSealed(accountRecord(this.accountId));
    if (stored?.version === STATE_VERSION && stored.device?.device_id === this.deviceId) this._adopt(stored);
    await putSealed(accountRecord(this.accountId), this.exportState());
  }

  _adopt(state) {
    for (const [account, key] of Object.entries(state.trusted ?? {})) {
      if (!this._trusted.has(account)) this._trusted.set(account, fromBase64url(key, 32));
    }
    for (const [p, pin] of Object.entries(state.practices ?? {})) {
      const known = this._practices.get(p);
      if (!known || (known.admin === pin.admin && pin.epoch > known.epoch)) {
        this._practices.set(p, { admin: pin.admin, epoch: pin.epoch, digest: pin.digest ? fromBase64url(pin.digest, 32) : null });
      }
    }
    for (const [t, pin] of Object.entries(state.threads ?? {})) {
      if (!this._threads.has(t)) this._threads.set(t, [pin.patient, pin.provider_kind, pin.provider_id]);
    }
    for (const [t, participants] of Object.entries(state.recipients ?? {})) {
      if (!this._recipients.has(t)) this._recipients.set(t, [...participants]);
    }
    for (const [t, seq] of Object.entries(state.cursors ?? {})) {
      if (seq > (this.cursors[t] ?? 0)) this.cursors[t] = seq;
    }
  }

  /** Saves soon, once for a burst of changes (cursors move with every message). */
  saveSoon() {
    if (this._saveTimer === null) {
      this._saveTimer = setTimeout(() => {
        this.save().catch((error) => console.warn("keystore not saved", error?.name));
      }, 200);
    }
  }

  /** This browser's keys for `accountId`, or null. */
  static async load(accountId) {
    const state = await getSealed(accountRecord(accountId));
    return state ? Keystore.fromState(state) : null;
  }

  /** Deletes this browser's copy of the account's keys (the backup stays on the server). */
  static forget(accountId) {
    return idbDelete(accountRecord(accountId));
  }
}
