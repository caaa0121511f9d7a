// Thread openings and practice membership lists — the JavaScript twins of
// e2e_crypto/thread_opening*.py and e2e_crypto/membership*.py (docs/protocol.md).
// tests/crypto/test_js_care_interop.py checks them against Python both ways.
//
//   opening    := u8 version | ident thread_id | ident patient_account
//                 | u8 provider_kind | ident provider_id | u64 opened_at | signature[64]
//                 signed by the patient's root key over THREAD_OPENING_CONTEXT | opening
//   membership := u8 version | ident practice_id | u32 epoch | ident admin_account
//                 | previous_digest[32] | u16 n | n x (ident account_id | u8 role)
//                 | signature[64], signed by the admin's root key over
//                 MEMBERSHIP_CONTEXT | everything before the signature

import {
  MalformedData,
  Reader,
  VerificationFailed,
  Writer,
  checkId,
  digest,
  signDetached,
  verifyDetached,
} from "./carechat-e2e.mjs";

const enc = new TextEncoder();
const THREAD_OPENING_CONTEXT = enc.encode("CareChat v1 thread opening\0");
const MEMBERSHIP_CONTEXT = enc.encode("CareChat v1 practice membership list\0");
const MEMBERSHIP_LABEL = enc.encode("CareChat v1 practice membership");

export const OPENING_VERSION = 1;
export const MAX_OPENING_BYTES = 512;
export const PROVIDER_KINDS = Object.freeze({ practitioner: 1, practice: 2 });
const KIND_LABELS = Object.freeze({ 1: "practitioner", 2: "practice" });

export const MEMBERSHIP_VERSION = 1;
export const MAX_MEMBERS = 1000;
export const MAX_MEMBERSHIP_BYTES = 80 * 1024;
export const MEMBER_ROLES = Object.freeze({ practitioner: 1, staff: 2 });
const ROLE_LABELS = Object.freeze({ 1: "practitioner", 2: "staff" });
const U64_MAX = 2n ** 63n;

// ---------------------------------------------------------------- thread openings

function openingSignedPart({ threadId, patientAccount, providerKind, providerId, openedAt }) {
  const kind = PROVIDER_KINDS[providerKind];
  if (kind === undefined) throw new MalformedData("unknown provider kind");
  if (!Number.isSafeInteger(openedAt) || openedAt < 0) throw new MalformedData("opened_at out of range");
  return new Writer()
    .u8(OPENING_VERSION)
    .ident(threadId, "thread id")
    .ident(patientAccount, "patient account id")
    .u8(kind)
    .ident(providerId, "provider id")
    .u64(openedAt)
    .bytes();
}

function withContext(context, part) {
  const out = new Uint8Array(context.length + part.length);
  out.set(context);
  out.set(part, context.length);
  return out;
}

/**
 * The patient's client signs the thread it opens with her root key (rootKey()).
 * Returns {threadId, patientAccount, providerKind, providerId, openedAt, signature,
 * parties, encoded}; `encoded` is what the server stores.
 */
export function signOpening(root, { threadId, patientAccount, providerKind, providerId, openedAt }) {
  const part = openingSignedPart({ threadId, patientAccount, providerKind, providerId, openedAt });
  const signature = signDetached(root, withContext(THREAD_OPENING_CONTEXT, part));
  return parseOpening(withContext(part, signature));
}

/** Decode an opening; throws MalformedData only. */
export function parseOpening(data) {
  if (!(data instanceof Uint8Array) || data.length > MAX_OPENING_BYTES) {
    throw new MalformedData(`a thread opening is bytes of at most ${MAX_OPENING_BYTES}`);
  }
  const r = new Reader(data);
  if (r.u8("opening version") !== OPENING_VERSION) throw new MalformedData("unsupported opening version");
  const threadId = r.ident("thread id");
  const patientAccount = r.ident("patient account id");
  const providerKind = KIND_LABELS[r.u8("provider kind")];
  if (providerKind === undefined) throw new MalformedData("unknown provider kind");
  const providerId = r.ident("provider id");
  const at = new DataView(r.take(8, "opened at").buffer).getBigUint64(0);
  if (at >= U64_MAX) throw new MalformedData("opened_at out of range");
  const signature = r.take(64, "opening signature");
  r.end("thread opening");
  return Object.freeze({
    threadId,
    patientAccount,
    providerKind,
    providerId,
    openedAt: Number(at),
    signature,
    parties: Object.freeze([patientAccount, providerKind, providerId]),
    encoded: data.slice(),
  });
}

/**
 * The opening of `threadId`, signed by `patientRootKey` (32 bytes). Throws
 * MalformedData or VerificationFailed; the caller compares `parties` with what it was
 * told or pinned.
 */
export function verifyOpening(data, { threadId, patientRootKey }) {
  const opening = parseOpening(data);
  if (opening.threadId !== checkId(threadId, "thread id")) {
    throw new VerificationFailed("thread opening names another thread");
  }
  const part = data.subarray(0, data.length - 64);
  verifyDetached(patientRootKey, withContext(THREAD_OPENING_CONTEXT, part), opening.signature);
  return opening;
}

// ---------------------------------------------------------------- membership lists

function membershipSignedPart({ practiceId, epoch, adminAccount, previousDigest, members }) {
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > 0xffffffff) {
    throw new MalformedData("epoch must be 1..2^32-1");
  }
  if (members.length > MAX_MEMBERS) throw new MalformedData(`a practice lists at most ${MAX_MEMBERS} members`);
  const ids = members.map((m) => m.accountId);
  const sorted = [...new Set(ids)].sort();
  if (ids.length !== sorted.length || ids.some((id, i) => id !== sorted[i])) {
    throw new MalformedData("members must be listed once each, in ascending order");
  }
  const w = new Writer()
    .u8(MEMBERSHIP_VERSION)
    .ident(practiceId, "practice id")
    .u32(epoch)
    .ident(adminAccount, "admin account id")
    .fixed(previousDigest, 32, "previous digest")
    .u16(members.length);
  for (const m of members) {
    const role = MEMBER_ROLES[m.role];
    if (role === undefined) throw new MalformedData("unknown member role");
    w.ident(m.accountId, "account id").u8(role);
  }
  return w.bytes();
}

/** Decode a membership list; throws MalformedData only. */
export function parseMembership(data) {
  if (!(data instanceof Uint8Array) || data.length > MAX_MEMBERSHIP_BYTES) {
    throw new MalformedData("a membership list is bytes of at most 80 KiB");
  }
  const r = new Reader(data);
  if (r.u8("membership version") !== MEMBERSHIP_VERSION) throw new MalformedData("unsupported membership version");
  const practiceId = r.ident("practice id");
  const epoch = r.u32("epoch");
  const adminAccount = r.ident("admin account id");
  const previousDigest = r.take(32, "previous digest");
  const count = r.u16("member count");
  if (count > MAX_MEMBERS) throw new MalformedData("member count out of range");
  const members = [];
  for (let i = 0; i < count; i++) {
    const accountId = r.ident("account id");
    const role = ROLE_LABELS[r.u8("member role")];
    if (role === undefined) throw new MalformedData("unknown member role");
    members.push(Object.freeze({ accountId, role }));
  }
  const signature = r.take(64, "membership signature");
  r.end("membership");
  // The constructor's checks, as in Python: epoch range and canonical member order.
  membershipSignedPart({ practiceId, epoch, adminAccount, previousDigest, members });
  return Object.freeze({
    practiceId,
    epoch,
    adminAccount,
    previousDigest,
    members: Object.freeze(members),
    signature,
    encoded: data.slice(),
    digest: digest(MEMBERSHIP_LABEL, data),
  });
}

/** The admin signs a list (the practice admin's client; here for tests and twins). */
export function signMembership(root, { practiceId, epoch, adminAccount, previousDigest, members }) {
  const sortedMembers = [...members].sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  const part = membershipSignedPart({ practiceId, epoch, adminAccount, previousDigest, members: sortedMembers });
  const signature = signDetached(root, withContext(MEMBERSHIP_CONTEXT, part));
  return parseMembership(withContext(part, signature));
}

/**
 * For a client that keeps only the highest epoch it has seen: the names, the
 * signature (admin's root key, 32 bytes) and an epoch of at least `atLeast`.
 * Throws MalformedData or VerificationFailed.
 */
export function verifyMembershipAlone(data, { practiceId, adminAccount, adminRootKey, atLeast = 1 }) {
  const list = parseMembership(data);
  if (list.practiceId !== checkId(practiceId, "practice id")) {
    throw new VerificationFailed("membership list names another practice");
  }
  if (list.adminAccount !== checkId(adminAccount, "admin account id")) {
    throw new VerificationFailed("membership list names another admin");
  }
  if (list.epoch < atLeast) throw new VerificationFailed("membership list is older than one already seen");
  const part = data.subarray(0, data.length - 64);
  verifyDetached(adminRootKey, withContext(MEMBERSHIP_CONTEXT, part), list.signature);
  return list;
}
