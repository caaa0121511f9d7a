// CareChat end-to-end encryption v1 — the JavaScript twin of the Python package
// e2e_crypto, on libsodium-wrappers-sumo (argon2id needs the sumo build).
//
// docs/protocol.md specifies every byte; tests/crypto/test_js_interop.py runs this
// module against the Python implementation in both directions and against the
// known-answer vectors in tests/data. Keep the two in lock-step: a change here
// without the same change in Python (and a regenerated vector) fails the suite.
//
// The public API never accepts a nonce or an ephemeral key: the module draws them
// from libsodium's CSPRNG. Every failure to open something throws DecryptionFailed
// with one fixed message, whatever check failed.

import _sodium from "libsodium-wrappers-sumo";

await _sodium.ready;
const sodium = _sodium;

// ---------------------------------------------------------------- errors

export class CryptoError extends Error {}
export class MalformedData extends CryptoError {}
export class VerificationFailed extends CryptoError {}
export class DecryptionFailed extends CryptoError {
  constructor() {
    super("could not open the encrypted data");
  }
}

// ---------------------------------------------------------------- constants

const enc = new TextEncoder();
const person = (s) => {
  const out = new Uint8Array(16);
  out.set(enc.encode(s));
  return out;
};

export const LABELS = Object.freeze({
  CIPHERTEXT_HASH: enc.encode("CareChat v1 envelope ciphertext"),
  WRAPS_HASH: enc.encode("CareChat v1 envelope wraps"),
  BROADCAST_BODY: enc.encode("CareChat v1 broadcast body"),
  ATTACHMENT_HASH: enc.encode("CareChat v1 attachment ciphertext"),
  GROUP_COMMIT: enc.encode("CareChat v1 group commit"),
  SAFETY_NUMBER: enc.encode("CareChat v1 safety number"),
  KEY_COMMITMENT_PERSON: person("cc1-key-commit"),
  FRANKING_PERSON: person("cc1-franking"),
  STAMP_PERSON: person("cc1-server-stamp"),
  ENVELOPE_SIGNATURE: enc.encode("CareChat v1 envelope signature\0"),
  BROADCAST_SIGNATURE: enc.encode("CareChat v1 broadcast signature\0"),
  SLIP_SIGNATURE: enc.encode("CareChat v1 broadcast slip signature\0"),
  DEVICE_CERTIFICATE: enc.encode("CareChat v1 device certificate\0"),
  GROUP_COMMIT_SIGNATURE: enc.encode("CareChat v1 group epoch commit\0"),
  SOCKET_PROOF: enc.encode("CareChat v1 socket proof\0"),
});

export const ENVELOPE_VERSION = 1;
export const NONCE_BYTES = 24;
export const WRAP_BYTES = 80;
export const MAX_ENVELOPE_BYTES = 45000;
export const MAX_RECIPIENTS = 64;
export const MAX_GROUP_DEVICES = 1000;
export const MAX_BROADCAST_BODY_BYTES = 256 * 1024;
export const MAX_BROADCAST_DEVICES = 100_000;
export const CHUNK_BYTES = 64 * 1024;
export const KIND = Object.freeze({ MESSAGE: 1, SYSTEM: 2, REPORT_TO_GP: 3 });
// The byte in front of every franking commitment (e2e_crypto/franking.py FrankingKind):
// a chat message and a broadcast can never be taken for each other.
export const FRANKING_KIND = Object.freeze({ MESSAGE: 1, BROADCAST: 2 });
export const SAFETY_ITERATIONS = 5200;
const FRANKING_KEY_BYTES = 32;
const MIN_CIPHERTEXT = FRANKING_KEY_BYTES + 16;
const TAG_DEVICE = 1;
const TAG_EPOCH = 2;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

// ---------------------------------------------------------------- bytes

export const hex = (u8) => sodium.to_hex(u8);
export const unhex = (s) => sodium.from_hex(s);

function concat(parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && sodium.memcmp(a, b);
}

export function checkId(value, what) {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new MalformedData(`${what} must be 1..64 characters of [A-Za-z0-9_-]`);
  }
  return value;
}

class Writer {
  constructor() {
    this.parts = [];
  }
  u8(v) {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v);
    this.parts.push(b);
    return this;
  }
  u32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    this.parts.push(b);
    return this;
  }
  u64(v) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    this.parts.push(b);
    return this;
  }
  ident(v, what) {
    const raw = enc.encode(checkId(v, what));
    this.u8(raw.length);
    this.parts.push(raw);
    return this;
  }
  fixed(v, size, what) {
    if (!(v instanceof Uint8Array) || v.length !== size) {
      throw new MalformedData(`${what} must be ${size} bytes`);
    }
    this.parts.push(v);
    return this;
  }
  blob32(v) {
    this.u32(v.length);
    this.parts.push(v);
    return this;
  }
  raw(v) {
    this.parts.push(v);
    return this;
  }
  bytes() {
    return concat(this.parts);
  }
}

class Reader {
  constructor(data) {
    if (!(data instanceof Uint8Array)) throw new MalformedData("expected bytes");
    this.data = data;
    this.pos = 0;
  }
  get remaining() {
    return this.data.length - this.pos;
  }
  take(size, what) {
    if (size < 0 || this.remaining < size) throw new MalformedData(`truncated ${what}`);
    const out = this.data.slice(this.pos, this.pos + size);
    this.pos += size;
    return out;
  }
  u8(what) {
    return this.take(1, what)[0];
  }
  u16(what) {
    const b = this.take(2, what);
    return new DataView(b.buffer).getUint16(0);
  }
  u32(what) {
    const b = this.take(4, what);
    return new DataView(b.buffer).getUint32(0);
  }
  ident(what) {
    const raw = this.take(this.u8(what), what);
    if (raw.some((c) => c > 127)) throw new MalformedData(`${what} must be ASCII`);
    return checkId(new TextDecoder().decode(raw), what);
  }
  blob32(what, limit) {
    const size = this.u32(what);
    if (size > limit) throw new MalformedData(`${what} too large`);
    return this.take(size, what);
  }
  flag(what) {
    const v = this.u8(what);
    if (v !== 0 && v !== 1) throw new MalformedData(`${what} must be 0 or 1`);
    return v === 1;
  }
  end(what) {
    if (this.remaining) throw new MalformedData(`trailing bytes after ${what}`);
  }
}

// ---------------------------------------------------------------- hashing

export function digest(label, data, size = 32) {
  return sodium.crypto_generichash(size, data, label);
}

export function derive(secret, personal) {
  return sodium.crypto_generichash_blake2b_salt_personal(32, secret, new Uint8Array(16), personal);
}

export function mac(secret, personal, data) {
  return digest(derive(secret, personal), data);
}

// ---------------------------------------------------------------- base64url

export function toBase64url(u8) {
  return sodium.to_base64(u8, sodium.base64_variants.URLSAFE_NO_PADDING);
}

export function fromBase64url(text, maxBytes = MAX_ENVELOPE_BYTES) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new MalformedData("not unpadded base64url");
  }
  if (text.length > Math.floor((maxBytes * 4 + 2) / 3) || text.length % 4 === 1) {
    throw new MalformedData("base64url text has an impossible length");
  }
  let data;
  try {
    data = sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
  } catch {
    throw new MalformedData("not unpadded base64url"); // e.g. non-zero unused bits
  }
  if (toBase64url(data) !== text) throw new MalformedData("non-canonical base64url");
  return data;
}

// ---------------------------------------------------------------- keys

function checkKey(raw, what) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new MalformedData(`${what} must be 32 bytes`);
  }
  if (raw.every((b) => b === 0)) throw new MalformedData(`${what} must not be all zeros`);
  return raw;
}

/** An account root key from its 32-byte Ed25519 seed (or a fresh one). */
export function rootKey(seed = sodium.randombytes_buf(32)) {
  const kp = sodium.crypto_sign_seed_keypair(checkKey(seed, "root seed"));
  return Object.freeze({ seed, publicKey: kp.publicKey, _secret: kp.privateKey });
}

/** A device's private keys (fresh ones when the secrets are omitted). */
export function deviceKeys(accountId, deviceId, encryptionSecret, signingSeed) {
  const encSecret = encryptionSecret ?? sodium.randombytes_buf(32);
  const signSeed = signingSeed ?? sodium.randombytes_buf(32);
  checkKey(encSecret, "encryption secret");
  const kp = sodium.crypto_sign_seed_keypair(checkKey(signSeed, "signing seed"));
  return Object.freeze({
    accountId: checkId(accountId, "account id"),
    deviceId: checkId(deviceId, "device id"),
    encryptionSecret: encSecret,
    signingSeed: signSeed,
    encryptionKey: sodium.crypto_scalarmult_base(encSecret),
    signingKey: kp.publicKey,
    _secret: kp.privateKey,
  });
}

function sign(key, message) {
  return sodium.crypto_sign_detached(message, key._secret);
}

function verify(publicKey, message, signature) {
  checkKey(publicKey, "Ed25519 public key");
  let ok = false;
  try {
    ok = signature.length === 64 && sodium.crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new VerificationFailed("bad signature");
}

// ---------------------------------------------------------------- socket proofs

const TICKET_PATTERN = /^[\x00-\x7f]{1,128}$/;

/** What a device signs to prove, in `hello`, that it holds its key (socket_proof_public.py). */
export function socketProofMessage(accountId, deviceId, ticket) {
  if (typeof ticket !== "string" || !TICKET_PATTERN.test(ticket)) {
    throw new MalformedData("a ticket is 1..128 ASCII characters");
  }
  const raw = enc.encode(ticket);
  return new Writer()
    .raw(LABELS.SOCKET_PROOF)
    .ident(accountId, "account id")
    .ident(deviceId, "device id")
    .u8(raw.length)
    .raw(raw)
    .bytes();
}

/** The 64-byte proof for `hello` with `ticket` (ADR 0004): the device's signature. */
export function signSocketProof(device, ticket) {
  return sign(device, socketProofMessage(device.accountId, device.deviceId, ticket));
}

// ---------------------------------------------------------------- device certificates

export function deviceCertificateMessage(accountId, deviceId, encryptionKey, signingKey) {
  return new Writer()
    .raw(LABELS.DEVICE_CERTIFICATE)
    .u8(1)
    .ident(accountId, "account id")
    .ident(deviceId, "device id")
    .fixed(checkKey(encryptionKey, "encryption key"), 32, "encryption key")
    .fixed(checkKey(signingKey, "signing key"), 32, "signing key")
    .bytes();
}

export function certifyDevice(root, device) {
  const msg = deviceCertificateMessage(device.accountId, device.deviceId, device.encryptionKey, device.signingKey);
  return new Writer()
    .u8(1)
    .ident(device.accountId, "account id")
    .ident(device.deviceId, "device id")
    .raw(device.encryptionKey)
    .raw(device.signingKey)
    .raw(sign(root, msg))
    .bytes();
}

export function parseDeviceCertificate(data) {
  const r = new Reader(data);
  if (r.u8("certificate version") !== 1) throw new MalformedData("unsupported certificate version");
  const cert = {
    accountId: r.ident("account id"),
    deviceId: r.ident("device id"),
    encryptionKey: checkKey(r.take(32, "encryption key"), "encryption key"),
    signingKey: checkKey(r.take(32, "signing key"), "signing key"),
    signature: r.take(64, "certificate signature"),
  };
  r.end("device certificate");
  return cert;
}

const VERIFIED = Symbol("verified device");

/** The only way to get something seal() will encrypt to. */
export function verifyDeviceCertificate(certificate, { accountId, rootKey: root }) {
  const cert = parseDeviceCertificate(certificate);
  if (cert.accountId !== checkId(accountId, "account id")) {
    throw new VerificationFailed("certificate is for another account");
  }
  const msg = deviceCertificateMessage(cert.accountId, cert.deviceId, cert.encryptionKey, cert.signingKey);
  verify(root, msg, cert.signature);
  return Object.freeze({
    accountId: cert.accountId,
    deviceId: cert.deviceId,
    encryptionKey: cert.encryptionKey,
    signingKey: cert.signingKey,
    [VERIFIED]: true,
  });
}

function requireVerified(device) {
  if (!device || device[VERIFIED] !== true) {
    throw new MalformedData("recipients and senders must come from verifyDeviceCertificate()");
  }
  return device;
}

// ---------------------------------------------------------------- envelope header

function checkEpoch(epoch) {
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > 0xffffffff) {
    throw new MalformedData("epoch must be an integer in 1..2**32-1");
  }
  return epoch;
}

export function encodeHeader(h) {
  const w = new Writer().u8(ENVELOPE_VERSION).u8(h.kind);
  w.ident(h.threadId, "thread id").ident(h.clientMsgId, "client message id");
  w.ident(h.senderAccount, "sender account id").ident(h.senderDevice, "sender device id");
  if (h.group) w.u8(1).ident(h.group.groupId, "group id").u32(checkEpoch(h.group.epoch));
  else w.u8(0);
  w.u16(h.recipients.length);
  for (const r of h.recipients) {
    if (r.type === "device") w.u8(TAG_DEVICE).ident(r.accountId, "account id").ident(r.deviceId, "device id");
    else w.u8(TAG_EPOCH).ident(r.groupId, "group id").u32(checkEpoch(r.epoch));
    w.fixed(r.key, 32, "recipient key");
  }
  return w.fixed(h.keyCommitment, 32, "key commitment").fixed(h.frankingCommitment, 32, "franking commitment").bytes();
}

function slotOf(r) {
  return r.type === "device" ? `d/${r.accountId}/${r.deviceId}` : `e/${r.groupId}/${r.epoch}`;
}

function readHeader(r) {
  if (r.u8("version") !== ENVELOPE_VERSION) throw new MalformedData("unsupported envelope version");
  const kind = r.u8("kind");
  if (kind !== KIND.MESSAGE && kind !== KIND.SYSTEM && kind !== KIND.REPORT_TO_GP) throw new MalformedData("unknown kind");
  const h = {
    kind,
    threadId: r.ident("thread id"),
    clientMsgId: r.ident("client message id"),
    senderAccount: r.ident("sender account id"),
    senderDevice: r.ident("sender device id"),
    group: null,
    recipients: [],
  };
  if (r.flag("group")) h.group = { groupId: r.ident("group id"), epoch: checkEpoch(r.u32("epoch")) };
  const count = r.u16("recipient count");
  if (count < 1 || count > MAX_RECIPIENTS) throw new MalformedData("recipient count out of range");
  for (let i = 0; i < count; i++) {
    const tag = r.u8("recipient tag");
    if (tag === TAG_DEVICE) {
      const accountId = r.ident("account id");
      const deviceId = r.ident("device id");
      h.recipients.push({ type: "device", accountId, deviceId, key: checkKey(r.take(32, "key"), "key") });
    } else if (tag === TAG_EPOCH) {
      const groupId = r.ident("group id");
      const epoch = checkEpoch(r.u32("epoch"));
      h.recipients.push({ type: "epoch", groupId, epoch, key: checkKey(r.take(32, "key"), "key") });
    } else {
      throw new MalformedData("unknown recipient tag");
    }
  }
  const slots = new Set(h.recipients.map(slotOf));
  const keys = new Set(h.recipients.map((x) => hex(x.key)));
  if (slots.size !== count || keys.size !== count) throw new MalformedData("duplicate recipient");
  h.keyCommitment = r.take(32, "key commitment");
  h.frankingCommitment = r.take(32, "franking commitment");
  return h;
}

function envelopeSignedMessage(p) {
  return new Writer()
    .raw(LABELS.ENVELOPE_SIGNATURE)
    .blob32(p.headerBytes)
    .raw(digest(LABELS.CIPHERTEXT_HASH, concat([p.nonce, p.ciphertext])))
    .raw(digest(LABELS.WRAPS_HASH, concat(p.wraps)))
    .bytes();
}

/** Structural parse of an envelope (what the server does); throws MalformedData. */
export function parseEnvelope(data, maxBytes = MAX_ENVELOPE_BYTES) {
  if (!(data instanceof Uint8Array) || data.length > maxBytes) throw new MalformedData("envelope too large");
  const r = new Reader(data);
  const headerBytes = r.blob32("header", maxBytes);
  const hr = new Reader(headerBytes);
  const header = readHeader(hr);
  hr.end("header");
  const nonce = r.take(NONCE_BYTES, "nonce");
  const ciphertext = r.blob32("ciphertext", maxBytes);
  if (ciphertext.length < MIN_CIPHERTEXT) throw new MalformedData("ciphertext too short");
  const wraps = header.recipients.map(() => r.take(WRAP_BYTES, "wrap"));
  const signature = r.take(64, "signature");
  r.end("envelope");
  return { header, headerBytes, nonce, ciphertext, wraps, signature };
}

export function verifyEnvelopeSignature(parsed, senderSigningKey) {
  verify(senderSigningKey, envelopeSignedMessage(parsed), parsed.signature);
}

// ---------------------------------------------------------------- franking

/** For a broadcast, `kind` is FRANKING_KIND.BROADCAST and `threadId` the campaign id. */
export function frankingCommitment(frankingKey, body, { kind, threadId, clientMsgId, senderAccount, senderDevice }) {
  if (!(frankingKey instanceof Uint8Array) || frankingKey.length !== FRANKING_KEY_BYTES) {
    throw new MalformedData("franking key must be 32 bytes");
  }
  if (kind !== FRANKING_KIND.MESSAGE && kind !== FRANKING_KIND.BROADCAST) {
    throw new MalformedData("unknown franking kind");
  }
  const context = new Writer()
    .u8(kind)
    .ident(threadId, "thread id")
    .ident(clientMsgId, "client message id")
    .ident(senderAccount, "sender account id")
    .ident(senderDevice, "sender device id")
    .raw(body)
    .bytes();
  return mac(frankingKey, LABELS.FRANKING_PERSON, context);
}

// ---------------------------------------------------------------- seal / open

/**
 * Encrypt `body` (Uint8Array) from `sender` (deviceKeys) to verified devices and
 * verified epoch commits. Returns the envelope bytes.
 */
export function sealMessage(sender, { threadId, clientMsgId, body, toDevices, toEpochs = [], group = null, kind = KIND.MESSAGE }) {
  const recipients = [
    ...toDevices.map(requireVerified).map((d) => ({ type: "device", accountId: d.accountId, deviceId: d.deviceId, key: d.encryptionKey })),
    ...toEpochs.map((c) => ({ type: "epoch", groupId: c.groupId, epoch: c.epoch, key: c.epochKey })),
  ];
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS) throw new MalformedData("1..64 recipients");
  const contentKey = sodium.randombytes_buf(32);
  const frankingKey = sodium.randombytes_buf(32);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const binding = {
    kind: FRANKING_KIND.MESSAGE, threadId, clientMsgId, senderAccount: sender.accountId, senderDevice: sender.deviceId,
  };
  const header = {
    kind,
    threadId,
    clientMsgId,
    senderAccount: sender.accountId,
    senderDevice: sender.deviceId,
    group,
    recipients,
    keyCommitment: derive(contentKey, LABELS.KEY_COMMITMENT_PERSON),
    frankingCommitment: frankingCommitment(frankingKey, body, binding),
  };
  const headerBytes = encodeHeader(header);
  readHeader(new Reader(headerBytes)); // same validation as a receiver would apply
  const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    concat([frankingKey, body]), headerBytes, null, nonce, contentKey);
  const wraps = recipients.map((r) => sodium.crypto_box_seal(contentKey, r.key));
  const parsed = { headerBytes, nonce, ciphertext, wraps };
  const signature = sign(sender, envelopeSignedMessage(parsed));
  const out = new Writer().blob32(headerBytes).raw(nonce).blob32(ciphertext).raw(concat(wraps)).raw(signature).bytes();
  if (out.length > MAX_ENVELOPE_BYTES) throw new MalformedData("message too large for one envelope");
  return out;
}

function unseal(opener, wrap) {
  const pub = opener.type === "epoch" ? opener.publicKey : opener.encryptionKey;
  const sec = opener.type === "epoch" ? opener.secret : opener.encryptionSecret;
  return sodium.crypto_box_seal_open(wrap, pub, sec);
}

function sameGroup(a, b) {
  if (!a || !b) return !a && !b;
  return a.groupId === b.groupId && a.epoch === b.epoch;
}

/**
 * Verify and decrypt. `opener` is a deviceKeys() or an epoch key from openEpochKey();
 * `sender` a verified device. Throws DecryptionFailed on any failure.
 */
export function openMessage(envelope, { opener, sender, threadId, clientMsgId, group = null }) {
  try {
    requireVerified(sender);
    const p = parseEnvelope(envelope);
    const h = p.header;
    if (h.threadId !== threadId || h.clientMsgId !== clientMsgId || h.senderAccount !== sender.accountId
        || h.senderDevice !== sender.deviceId || !sameGroup(h.group, group)) {
      throw new DecryptionFailed();
    }
    verifyEnvelopeSignature(p, sender.signingKey);
    const index = h.recipients.findIndex((r) => (opener.type === "epoch"
      ? r.type === "epoch" && r.groupId === opener.groupId && r.epoch === opener.epoch && equal(r.key, opener.publicKey)
      : r.type === "device" && r.accountId === opener.accountId && r.deviceId === opener.deviceId
        && equal(r.key, opener.encryptionKey)));
    if (index < 0) throw new DecryptionFailed();
    const contentKey = unseal(opener, p.wraps[index]);
    if (contentKey.length !== 32 || !equal(derive(contentKey, LABELS.KEY_COMMITMENT_PERSON), h.keyCommitment)) {
      throw new DecryptionFailed();
    }
    const payload = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, p.ciphertext, p.headerBytes, p.nonce, contentKey);
    const frankingKey = payload.slice(0, FRANKING_KEY_BYTES);
    const body = payload.slice(FRANKING_KEY_BYTES);
    const binding = {
      kind: FRANKING_KIND.MESSAGE, threadId: h.threadId, clientMsgId: h.clientMsgId,
      senderAccount: h.senderAccount, senderDevice: h.senderDevice,
    };
    if (!equal(frankingCommitment(frankingKey, body, binding), h.frankingCommitment)) throw new DecryptionFailed();
    return { header: h, body, frankingKey };
  } catch {
    throw new DecryptionFailed();
  }
}

// ---------------------------------------------------------------- groups

export function parseEpochCommit(data) {
  const r = new Reader(data);
  if (r.u8("commit version") !== 1) throw new MalformedData("unsupported commit version");
  const c = {
    groupId: r.ident("group id"),
    epoch: checkEpoch(r.u32("epoch")),
    adminAccount: r.ident("admin account id"),
    previousDigest: r.take(32, "previous digest"),
    epochKey: checkKey(r.take(32, "epoch key"), "epoch key"),
    members: [],
  };
  const count = r.u16("member count");
  if (count < 1 || count > MAX_GROUP_DEVICES) throw new MalformedData("member count out of range");
  for (let i = 0; i < count; i++) {
    const accountId = r.ident("account id");
    const deviceId = r.ident("device id");
    c.members.push({ accountId, deviceId, encryptionKey: checkKey(r.take(32, "member key"), "member key") });
  }
  const slots = new Set(c.members.map((m) => `${m.accountId}/${m.deviceId}`));
  const keys = new Set(c.members.map((m) => hex(m.encryptionKey)));
  if (slots.size !== count || keys.size !== count) throw new MalformedData("duplicate member device");
  c.wraps = c.members.map(() => r.take(WRAP_BYTES, "wrap"));
  const signedEnd = r.pos;
  c.signature = r.take(64, "commit signature");
  r.end("commit");
  c.signedPart = data.slice(0, signedEnd);
  c.encoded = data.slice();
  c.digest = digest(LABELS.GROUP_COMMIT, c.encoded);
  return c;
}

/** Verify a commit as the successor of `previous` (null for epoch 1); returns it parsed. */
export function verifyEpochCommit(data, { adminAccount, adminRootKey, previous }) {
  const c = parseEpochCommit(data);
  if (c.adminAccount !== checkId(adminAccount, "admin account id")) throw new VerificationFailed("commit names another admin");
  if (previous == null) {
    if (c.epoch !== 1 || !c.previousDigest.every((b) => b === 0)) throw new VerificationFailed("first commit must be epoch 1");
  } else {
    if (c.groupId !== previous.groupId || c.adminAccount !== previous.adminAccount) throw new VerificationFailed("other group");
    if (c.epoch !== previous.epoch + 1) throw new VerificationFailed("epoch must be exactly previous epoch + 1");
    if (!equal(c.previousDigest, previous.digest)) throw new VerificationFailed("commit does not chain");
  }
  verify(adminRootKey, concat([LABELS.GROUP_COMMIT_SIGNATURE, c.signedPart]), c.signature);
  return c;
}

/**
 * A signed commit for the next epoch of a group this account administers (twin of
 * groups.create_epoch_commit): `members` are verified devices, the admin's own
 * included; `previous` is the verified previous commit or null for epoch 1.
 * Returns { commit (bytes), key (as openEpochKey returns it) }.
 */
export function createEpochCommit(admin, { adminAccount, groupId, members, previous = null }) {
  members.forEach(requireVerified);
  if (members.length < 1 || members.length > MAX_GROUP_DEVICES) throw new MalformedData("member count out of range");
  if (previous !== null && previous.groupId !== groupId) throw new MalformedData("previous commit belongs to another group");
  const epoch = previous === null ? 1 : previous.epoch + 1;
  const secret = sodium.randombytes_buf(32);
  const publicKey = sodium.crypto_scalarmult_base(secret);
  const w = new Writer().u8(1).ident(groupId, "group id").u32(epoch).ident(adminAccount, "admin account id")
    .raw(previous === null ? new Uint8Array(32) : previous.digest)
    .raw(publicKey)
    .u16(members.length);
  for (const m of members) w.ident(m.accountId, "account id").ident(m.deviceId, "device id").fixed(m.encryptionKey, 32, "member key");
  for (const m of members) w.raw(sodium.crypto_box_seal(secret, m.encryptionKey));
  const signedPart = w.bytes();
  const commit = concat([signedPart, sign(admin, concat([LABELS.GROUP_COMMIT_SIGNATURE, signedPart]))]);
  parseEpochCommit(commit); // what a reader checks (no repeated member device)
  return { commit, key: Object.freeze({ type: "epoch", groupId, epoch, secret, publicKey }) };
}

/** The epoch private key sealed to `device` in a verified commit. */
export function openEpochKey(commit, device) {
  try {
    const index = commit.members.findIndex((m) => m.accountId === device.accountId
      && m.deviceId === device.deviceId && equal(m.encryptionKey, device.encryptionKey));
    if (index < 0) throw new DecryptionFailed();
    const secret = sodium.crypto_box_seal_open(commit.wraps[index], device.encryptionKey, device.encryptionSecret);
    const publicKey = sodium.crypto_scalarmult_base(secret);
    if (!equal(publicKey, commit.epochKey)) throw new DecryptionFailed();
    return Object.freeze({ type: "epoch", groupId: commit.groupId, epoch: commit.epoch, secret, publicKey });
  } catch {
    throw new DecryptionFailed();
  }
}

// ---------------------------------------------------------------- broadcast

function parseBroadcast(data) {
  if (!(data instanceof Uint8Array) || data.length > MAX_BROADCAST_BODY_BYTES) throw new MalformedData("body too large");
  const r = new Reader(data);
  const headerBytes = r.blob32("header", MAX_BROADCAST_BODY_BYTES);
  const hr = new Reader(headerBytes);
  if (hr.u8("version") !== 1) throw new MalformedData("unsupported broadcast version");
  const header = {
    campaignId: hr.ident("campaign id"),
    clientMsgId: hr.ident("client message id"),
    senderAccount: hr.ident("sender account id"),
    senderDevice: hr.ident("sender device id"),
    keyCommitment: hr.take(32, "key commitment"),
    frankingCommitment: hr.take(32, "franking commitment"),
  };
  hr.end("broadcast header");
  const nonce = r.take(NONCE_BYTES, "nonce");
  const ciphertext = r.blob32("ciphertext", MAX_BROADCAST_BODY_BYTES);
  if (ciphertext.length < MIN_CIPHERTEXT) throw new MalformedData("ciphertext too short");
  const signature = r.take(64, "signature");
  r.end("broadcast body");
  return { header, headerBytes, nonce, ciphertext, signature };
}

/**
 * Seal a mailing once for many devices (e2e_crypto/broadcast.py's twin): returns
 * { body, slips } where `slips` maps "account/device" to that device's slip.
 */
export function sealBroadcast(sender, { campaignId, clientMsgId, body, toDevices }) {
  if (toDevices.length < 1 || toDevices.length > MAX_BROADCAST_DEVICES) {
    throw new MalformedData(`a broadcast goes to 1..${MAX_BROADCAST_DEVICES} devices`);
  }
  toDevices.forEach(requireVerified);
  const contentKey = sodium.randombytes_buf(32);
  const frankingKey = sodium.randombytes_buf(FRANKING_KEY_BYTES);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const binding = {
    kind: FRANKING_KIND.BROADCAST, threadId: campaignId, clientMsgId,
    senderAccount: sender.accountId, senderDevice: sender.deviceId,
  };
  const headerBytes = new Writer().u8(1)
    .ident(campaignId, "campaign id")
    .ident(clientMsgId, "client message id")
    .ident(sender.accountId, "sender account id")
    .ident(sender.deviceId, "sender device id")
    .raw(derive(contentKey, LABELS.KEY_COMMITMENT_PERSON))
    .raw(frankingCommitment(frankingKey, body, binding))
    .bytes();
  const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    concat([frankingKey, body]), headerBytes, null, nonce, contentKey);
  const signed = new Writer().raw(LABELS.BROADCAST_SIGNATURE).blob32(headerBytes)
    .raw(digest(LABELS.CIPHERTEXT_HASH, concat([nonce, ciphertext]))).bytes();
  const encoded = new Writer().blob32(headerBytes).raw(nonce).blob32(ciphertext).raw(sign(sender, signed)).bytes();
  if (encoded.length > MAX_BROADCAST_BODY_BYTES) throw new MalformedData("broadcast body too large");
  const bodyDigest = digest(LABELS.BROADCAST_BODY, encoded);
  const slips = new Map();
  for (const device of toDevices) {
    const slot = `${device.accountId}/${device.deviceId}`;
    if (slips.has(slot)) throw new MalformedData("duplicate broadcast recipient");
    const signedPart = new Writer().u8(1).raw(bodyDigest)
      .ident(device.accountId, "account id")
      .ident(device.deviceId, "device id")
      .fixed(device.encryptionKey, 32, "encryption key")
      .raw(sodium.crypto_box_seal(contentKey, device.encryptionKey))
      .bytes();
    slips.set(slot, concat([signedPart, sign(sender, concat([LABELS.SLIP_SIGNATURE, signedPart]))]));
  }
  return { body: encoded, slips };
}

/** A mailing's header, unverified (to look up the sender named in it); MalformedData. */
export function broadcastHeader(body) {
  return parseBroadcast(body).header;
}

/** Open a mailing with this device's slip; throws DecryptionFailed on any failure. */
export function openBroadcast(body, slip, { opener, sender, campaignId, clientMsgId }) {
  try {
    requireVerified(sender);
    const p = parseBroadcast(body);
    const h = p.header;
    if (h.campaignId !== campaignId || h.clientMsgId !== clientMsgId || h.senderAccount !== sender.accountId
        || h.senderDevice !== sender.deviceId) throw new DecryptionFailed();
    const signed = new Writer().raw(LABELS.BROADCAST_SIGNATURE).blob32(p.headerBytes)
      .raw(digest(LABELS.CIPHERTEXT_HASH, concat([p.nonce, p.ciphertext]))).bytes();
    verify(sender.signingKey, signed, p.signature);
    const r = new Reader(slip);
    if (r.u8("slip version") !== 1) throw new DecryptionFailed();
    const bodyDigest = r.take(32, "body digest");
    const accountId = r.ident("account id");
    const deviceId = r.ident("device id");
    const key = r.take(32, "encryption key");
    const wrap = r.take(WRAP_BYTES, "wrap");
    const signedPart = slip.slice(0, r.pos);
    const slipSignature = r.take(64, "slip signature");
    r.end("slip");
    if (!equal(bodyDigest, digest(LABELS.BROADCAST_BODY, body))) throw new DecryptionFailed();
    verify(sender.signingKey, concat([LABELS.SLIP_SIGNATURE, signedPart]), slipSignature);
    if (accountId !== opener.accountId || deviceId !== opener.deviceId || !equal(key, opener.encryptionKey)) {
      throw new DecryptionFailed();
    }
    const contentKey = unseal(opener, wrap);
    if (!equal(derive(contentKey, LABELS.KEY_COMMITMENT_PERSON), h.keyCommitment)) throw new DecryptionFailed();
    const payload = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, p.ciphertext, p.headerBytes, p.nonce, contentKey);
    const frankingKey = payload.slice(0, FRANKING_KEY_BYTES);
    const text = payload.slice(FRANKING_KEY_BYTES);
    const binding = {
      kind: FRANKING_KIND.BROADCAST, threadId: campaignId, clientMsgId,
      senderAccount: sender.accountId, senderDevice: sender.deviceId,
    };
    if (!equal(frankingCommitment(frankingKey, text, binding), h.frankingCommitment)) throw new DecryptionFailed();
    return { header: h, body: text, frankingKey };
  } catch {
    throw new DecryptionFailed();
  }
}

// ---------------------------------------------------------------- roster labels

// A roster row's labels (age band, condition...) as one JSON object sealed to the
// staff group epoch's public key (e2e_crypto/client/roster.py's seal_labels/open_labels):
// any current member of the staff group opens it, the server cannot.

/** Seal a { name: value } object of strings to the staff epoch public key. */
export function sealLabels(labels, staffKey) {
  const sorted = Object.fromEntries(Object.keys(labels).sort().map((k) => [k, String(labels[k])]));
  return sodium.crypto_box_seal(enc.encode(JSON.stringify(sorted)), checkKey(staffKey, "staff key"));
}

/** Open labels sealed to `epochKey` (from openEpochKey); DecryptionFailed if not ours. */
export function openLabels(sealed, epochKey) {
  let parsed;
  try {
    const plain = sodium.crypto_box_seal_open(sealed, epochKey.publicKey, epochKey.secret);
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    throw new DecryptionFailed();
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new DecryptionFailed();
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

// ---------------------------------------------------------------- safety numbers

function safetyHalf(accountId, rootPublic) {
  let state = digest(LABELS.SAFETY_NUMBER, new Writer().u8(1).ident(accountId, "account id").raw(rootPublic).bytes(), 64);
  for (let i = 0; i < SAFETY_ITERATIONS; i++) {
    state = digest(LABELS.SAFETY_NUMBER, concat([state, rootPublic]), 64);
  }
  let out = "";
  for (let i = 0; i < 30; i += 5) {
    let n = 0;
    for (let j = 0; j < 5; j++) n = n * 256 + state[i + j];
    out += String(n % 100000).padStart(5, "0");
  }
  return out;
}

/** 60 digits, identical for both parties and to the Python implementation. */
export function safetyNumber(accountA, rootA, accountB, rootB) {
  return [safetyHalf(accountA, checkKey(rootA, "root key")), safetyHalf(accountB, checkKey(rootB, "root key"))]
    .sort().join("");
}

export function formatSafetyNumber(digits) {
  return digits.match(/.{1,5}/g).join(" ");
}

// ---------------------------------------------------------------- attachments

const SS = {
  ABYTES: 17,
  TAG_MESSAGE: sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
  TAG_FINAL: sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
};

// Re-cut arbitrary pieces: first one `head`-byte piece (0 = none), then `size`-byte
// pieces; the last may be shorter.
function* rechunk(pieces, size, head = 0) {
  let buffer = new Uint8Array(0);
  let want = head || size;
  for (const piece of pieces) {
    buffer = buffer.length ? concat([buffer, piece]) : piece;
    while (buffer.length >= want) {
      yield buffer.slice(0, want);
      buffer = buffer.subarray(want);
      want = size;
    }
  }
  if (buffer.length) yield buffer.slice();
}

export function encodeAttachmentRef(ref) {
  return new Writer().u8(1).fixed(ref.key, 32, "key").fixed(ref.ciphertextDigest, 32, "digest").u64(ref.plaintextSize).bytes();
}

export function parseAttachmentRef(data) {
  const r = new Reader(data);
  if (r.u8("attachment ref version") !== 1) throw new MalformedData("unsupported attachment ref");
  const key = r.take(32, "key");
  const ciphertextDigest = r.take(32, "digest");
  const size = new DataView(r.take(8, "size").buffer).getBigUint64(0);
  r.end("attachment ref");
  return { key, ciphertextDigest, plaintextSize: Number(size) };
}

/**
 * Encrypt an iterable of Uint8Array pieces. Returns { chunks, ref }: iterate
 * `chunks` to the end, then call `ref()`.
 */
export function encryptAttachment(pieces) {
  const key = sodium.randombytes_buf(32);
  let ref = null;
  function* run() {
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    const hasher = sodium.crypto_generichash_init(LABELS.ATTACHMENT_HASH, 32);
    sodium.crypto_generichash_update(hasher, header);
    yield header;
    let pending = null;
    let size = 0;
    for (const chunk of rechunk(pieces, CHUNK_BYTES)) {
      if (pending !== null) {
        const out = sodium.crypto_secretstream_xchacha20poly1305_push(state, pending, null, SS.TAG_MESSAGE);
        sodium.crypto_generichash_update(hasher, out);
        yield out;
      }
      size += chunk.length;
      pending = chunk;
    }
    const out = sodium.crypto_secretstream_xchacha20poly1305_push(state, pending ?? new Uint8Array(0), null, SS.TAG_FINAL);
    sodium.crypto_generichash_update(hasher, out);
    ref = { key, ciphertextDigest: sodium.crypto_generichash_final(hasher, 32), plaintextSize: size };
    yield out;
  }
  return {
    chunks: run(),
    ref: () => {
      if (ref === null) throw new Error("consume the whole stream first");
      return ref;
    },
  };
}

/** Yield verified plaintext chunks; throws DecryptionFailed (discard partial output). */
export function* decryptAttachment(pieces, ref) {
  let failed = false;
  try {
    let state = null;
    let hasher = null;
    let seenFinal = false;
    let size = 0;
    for (const chunk of rechunk(pieces, CHUNK_BYTES + SS.ABYTES, 24)) {
      if (state === null) {
        if (chunk.length !== 24) throw new DecryptionFailed();
        hasher = sodium.crypto_generichash_init(LABELS.ATTACHMENT_HASH, 32);
        sodium.crypto_generichash_update(hasher, chunk);
        state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(chunk, ref.key);
        continue;
      }
      if (seenFinal) throw new DecryptionFailed(); // bytes after FINAL: extended
      sodium.crypto_generichash_update(hasher, chunk);
      const res = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, null);
      if (!res) throw new DecryptionFailed();
      if (res.tag === SS.TAG_FINAL) seenFinal = true;
      else if (res.tag !== SS.TAG_MESSAGE || res.message.length !== CHUNK_BYTES) throw new DecryptionFailed();
      size += res.message.length;
      if (size > ref.plaintextSize) throw new DecryptionFailed();
      yield res.message;
    }
    if (!seenFinal || size !== ref.plaintextSize) throw new DecryptionFailed(); // truncated
    if (!equal(sodium.crypto_generichash_final(hasher, 32), ref.ciphertextDigest)) throw new DecryptionFailed();
  } catch {
    failed = true;
  }
  if (failed) throw new DecryptionFailed();
}

// ---------------------------------------------------------------- key backup

const BACKUP_MAGIC = enc.encode("CCKB");
const ARGON2ID13 = 2;
export const BACKUP_LIMITS = Object.freeze({ minOps: 2, maxOps: 16, minMemKib: 19 * 1024, maxMemKib: 1024 * 1024 });

function passphraseBytes(passphrase) {
  const normal = passphrase.normalize("NFC");
  if ([...normal].length < 12) throw new MalformedData("passphrase must have at least 12 characters");
  return enc.encode(normal);
}

function checkBackupParams(ops, memKib) {
  if (ops < BACKUP_LIMITS.minOps || ops > BACKUP_LIMITS.maxOps) throw new MalformedData("opslimit out of range");
  if (memKib < BACKUP_LIMITS.minMemKib || memKib > BACKUP_LIMITS.maxMemKib) throw new MalformedData("memlimit out of range");
}

/** account = { accountId, root: rootKey(), devices: [deviceKeys()] } */
export function sealBackup(account, passphrase, { opslimit = 3, memlimitKib = 64 * 1024 } = {}) {
  const secret = passphraseBytes(passphrase);
  checkBackupParams(opslimit, memlimitKib);
  const salt = sodium.randombytes_buf(16);
  const nonce = sodium.randombytes_buf(24);
  const prefix = new Writer().raw(BACKUP_MAGIC).u8(1).u8(ARGON2ID13).u32(opslimit).u32(memlimitKib).raw(salt).raw(nonce).bytes();
  const w = new Writer().u8(1).ident(account.accountId, "account id").fixed(account.root.seed, 32, "root seed");
  w.u16(account.devices.length);
  for (const d of account.devices) {
    w.ident(d.deviceId, "device id").fixed(d.encryptionSecret, 32, "secret").fixed(d.signingSeed, 32, "seed");
  }
  const key = sodium.crypto_pwhash(32, secret, salt, opslimit, memlimitKib * 1024, sodium.crypto_pwhash_ALG_ARGON2ID13);
  return concat([prefix, sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(w.bytes(), prefix, null, nonce, key)]);
}

export function openBackup(blob, passphrase) {
  const secret = passphraseBytes(passphrase);
  try {
    const r = new Reader(blob);
    if (!equal(r.take(4, "magic"), BACKUP_MAGIC) || r.u8("version") !== 1 || r.u8("alg") !== ARGON2ID13) {
      throw new MalformedData("not a CareChat key backup");
    }
    const ops = r.u32("opslimit");
    const memKib = r.u32("memlimit");
    checkBackupParams(ops, memKib);
    const salt = r.take(16, "salt");
    const nonce = r.take(24, "nonce");
    const prefix = blob.slice(0, r.pos);
    const sealed = r.take(r.remaining, "ciphertext");
    const key = sodium.crypto_pwhash(32, secret, salt, ops, memKib * 1024, sodium.crypto_pwhash_ALG_ARGON2ID13);
    const plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, prefix, nonce, key);
    const p = new Reader(plain);
    if (p.u8("keys version") !== 1) throw new MalformedData("unsupported keys version");
    const accountId = p.ident("account id");
    const root = rootKey(p.take(32, "root seed"));
    const count = p.u16("device count");
    const devices = [];
    for (let i = 0; i < count; i++) {
      const deviceId = p.ident("device id");
      devices.push(deviceKeys(accountId, deviceId, p.take(32, "secret"), p.take(32, "seed")));
    }
    p.end("keys");
    return { accountId, root, devices };
  } catch {
    throw new DecryptionFailed();
  }
}

export { sodium };

// For the twins built on this module (carechat-care.mjs: thread openings, membership
// lists): the same codec and the same Ed25519 helpers, so the bytes cannot drift.
export { Writer, Reader, sign as signDetached, verify as verifyDetached };
