// The typed payloads as the widget reads and writes them. API.md names the payloads
// by `type` with the Python SDK's JSON fields (e2e_crypto/client/payloads.py); this
// adapter also accepts the SDK's own `t` tag and camelCased fields, so the views do
// not depend on which spelling the client library settles on.

/** The payload's type tag ("text", "renewal_request", ...), or null. */
export function kindOf(payload) {
  if (typeof payload === "string") {
    return "text";
  }
  return payload?.type ?? payload?.t ?? null;
}

function camel(name) {
  return name.replace(/_(\w)/g, (_, letter) => letter.toUpperCase());
}

/** A field of `payload` by its SDK (snake_case) name; null when absent. */
export function fieldOf(payload, name) {
  if (payload === null || typeof payload !== "object") {
    return null;
  }
  return payload[name] ?? payload[camel(name)] ?? null;
}

/** The text of a text payload (the SDK calls it `body`, API.md `text`). */
export function textOf(payload) {
  if (typeof payload === "string") {
    return payload;
  }
  return fieldOf(payload, "body") ?? fieldOf(payload, "text") ?? "";
}

/** A renewal request to send; empty optional fields are null, as the SDK expects. */
export function renewalRequest({ drug, dose, pharmacy, note }) {
  return {
    type: "renewal_request",
    drug: drug.trim(),
    dose: dose.trim(),
    pharmacy: pharmacy.trim(),
    note: note?.trim() ? note.trim() : null,
  };
}

/** Only https:// booking links become links (the SDK refuses anything else too). */
export function safeUrl(value) {
  if (typeof value !== "string") {
    return null;
  }
  try {
    const url = new URL(value);
    return url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}
