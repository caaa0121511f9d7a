// Typed message payloads — the JavaScript twin of e2e_crypto/client/payloads.py.
// tests/crypto/test_js_payload_interop.py checks the bytes against Python's.
//
// A payload travels inside the encryption as canonical JSON — UTF-8, sorted keys, no
// whitespace — with a type tag "t" and a version "v": {"body":"Bonjour","t":"text","v":1}.
// Canonical bytes matter: the franking commitment (abuse reports) covers the exact
// bytes, so two encoders must not spell one message two ways. Pages see the object
// without "v": {t: "text", body: "Bonjour"}. Decoding never throws: anything unknown
// or invalid is {t: "unsupported", reason}, shown as "cannot be displayed".

import { fromBase64url } from "./carechat-e2e.mjs";

const enc = new TextEncoder();
const VERSION = 1;
const MAX_TEXT = 10_000;
const MAX_SHORT = 200;
const MAX_SLOTS = 20;

/** A payload that breaks its type's rules (thrown when sending). */
export class PayloadError extends Error {
  constructor(message) {
    super(message);
    this.name = "PayloadError";
  }
}

function text(value, name, max, required = true) {
  if (typeof value !== "string") throw new PayloadError(`${name} must be a string`);
  if (required && !value.trim()) throw new PayloadError(`${name} must not be empty`);
  if ([...value].length > max) throw new PayloadError(`${name} is longer than ${max} characters`);
  return value;
}

const optional = (value, name, max) => (value === null || value === undefined ? null : text(value, name, max, false));

function slot(value) {
  if (typeof value !== "string" || !/(Z|[+-]\d\d:\d\d)$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new PayloadError("slots must be RFC 3339 datetimes with a time zone");
  }
  return value;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

function bytes32(value, name) {
  let raw;
  try {
    raw = fromBase64url(value, 32);
  } catch {
    throw new PayloadError(`${name} is not canonical base64url`);
  }
  if (raw.length !== 32) throw new PayloadError(`${name} must be 32 bytes`);
  return value;
}

// type -> (doc) => the payload's fields, validated; the same rules as the Python classes.
const TYPES = {
  text: (d) => ({ body: text(d.body, "body", MAX_TEXT) }),
  attachment: (d) => {
    if (typeof d.attachment_id !== "string" || !ID.test(d.attachment_id)) throw new PayloadError("attachment id");
    if (!Number.isSafeInteger(d.size) || d.size < 0) throw new PayloadError("size must be an integer");
    bytes32(d.key, "key");
    bytes32(d.digest, "digest");
    const mime = text(d.mime, "mime", 127);
    if (!mime.includes("/") || /\s/.test(mime)) throw new PayloadError("mime must look like type/subtype");
    return { attachment_id: d.attachment_id, name: text(d.name, "name", 255), mime, size: d.size, key: d.key, digest: d.digest };
  },
  renewal_request: (d) => ({
    drug: text(d.drug, "drug", MAX_SHORT),
    dose: text(d.dose, "dose", MAX_SHORT),
    pharmacy: text(d.pharmacy, "pharmacy", MAX_SHORT),
    note: optional(d.note, "note", MAX_TEXT),
  }),
  booking_invitation: (d) => {
    if (d.provider_kind !== "practitioner" && d.provider_kind !== "practice") {
      throw new PayloadError("provider_kind must be practitioner or practice");
    }
    const slots = d.slots ?? [];
    if (!Array.isArray(slots) || slots.length > MAX_SLOTS) throw new PayloadError(`at most ${MAX_SLOTS} slots`);
    const url = optional(d.url, "url", 2000);
    if (url !== null && !url.startsWith("https://")) throw new PayloadError("url must be an https:// link");
    if (!slots.length && url === null) throw new PayloadError("propose slots or give a booking url");
    return {
      provider_kind: d.provider_kind,
      provider_name: text(d.provider_name, "provider_name", MAX_SHORT),
      slots: slots.map(slot),
      url,
      note: optional(d.note, "note", MAX_TEXT),
    };
  },
  report_to_gp: (d) => ({
    summary: text(d.summary, "summary", MAX_TEXT),
    gp_name: text(d.gp_name, "gp_name", MAX_SHORT),
    gp_contact: text(d.gp_contact, "gp_contact", MAX_SHORT),
  }),
  closing_summary: (d) => ({
    summary: text(d.summary, "summary", MAX_TEXT),
    follow_up: optional(d.follow_up, "follow_up", MAX_TEXT),
  }),
  panel_question: (d) => {
    const factors = d.risk_factors;
    if (!Array.isArray(factors) || factors.length > MAX_SLOTS) {
      throw new PayloadError(`risk_factors must be at most ${MAX_SLOTS} strings`);
    }
    if (!Number.isInteger(d.rules_version)) throw new PayloadError("rules_version must be an integer");
    return {
      age_band: text(d.age_band, "age_band", MAX_SHORT),
      main_symptom: text(d.main_symptom, "main_symptom", MAX_SHORT),
      since: text(d.since, "since", MAX_SHORT),
      risk_factors: factors.map((f) => text(f, "risk_factors", MAX_SHORT)),
      text: text(d.text, "text", MAX_TEXT, false),
      rules_version: d.rules_version,
    };
  },
  paid_chat_offer: (d) => {
    if (!Number.isInteger(d.price_cents) || d.price_cents < 1 || d.price_cents > 1_000_000) {
      throw new PayloadError("price_cents must be an integer from 1 to 1000000");
    }
    if (d.currency !== "EUR") throw new PayloadError("currency must be EUR");
    return { price_cents: d.price_cents, currency: d.currency, note: optional(d.note, "note", MAX_TEXT) };
  },
};

const FIELDS = {
  text: ["body"],
  attachment: ["attachment_id", "digest", "key", "mime", "name", "size"],
  renewal_request: ["dose", "drug", "note", "pharmacy"],
  booking_invitation: ["note", "provider_kind", "provider_name", "slots", "url"],
  report_to_gp: ["gp_contact", "gp_name", "summary"],
  closing_summary: ["follow_up", "summary"],
  panel_question: ["age_band", "main_symptom", "risk_factors", "rules_version", "since", "text"],
  paid_chat_offer: ["currency", "note", "price_cents"],
};

/** A string becomes {t: "text", body}; anything else must be a known typed payload. */
export function normalizePayload(payload) {
  if (typeof payload === "string") return { t: "text", body: text(payload, "body", MAX_TEXT) };
  const check = TYPES[payload?.t];
  if (!check) throw new PayloadError("only the known payload types can be sent");
  return { t: payload.t, ...check(payload) };
}

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Canonical JSON bytes (the same bytes as Python's encode_payload). */
export function encodePayload(payload) {
  const normal = normalizePayload(payload);
  return enc.encode(canonical({ ...normal, v: VERSION }));
}

/** The payload in `body` (bytes); never throws. */
export function decodePayload(body) {
  let doc;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return { t: "unsupported", reason: "not a JSON document" };
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { t: "unsupported", reason: "not a JSON object" };
  const { t, v, ...rest } = doc;
  if (typeof t !== "string" || !Number.isInteger(v)) return { t: "unsupported", reason: "no type tag or version" };
  if (!TYPES[t]) return { t: "unsupported", type: t, reason: "unknown payload type" };
  if (v !== VERSION) return { t: "unsupported", type: t, reason: "unsupported payload version" };
  if (Object.keys(rest).sort().join(",") !== FIELDS[t].join(",")) {
    return { t: "unsupported", type: t, reason: "missing or unexpected fields" };
  }
  try {
    return { t, ...TYPES[t](rest) };
  } catch (error) {
    return { t: "unsupported", type: t, reason: `invalid ${t}: ${error.message}` };
  }
}
