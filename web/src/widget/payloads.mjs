// The typed payloads as the widget reads and writes them: the Python SDK's JSON
// (e2e_crypto/client/payloads.py), tagged by `t`, which the client library encodes and
// decodes. The readers also accept a `type` tag and camelCased fields (API.md's first
// spelling), so the views do not break if the library changes its mind.

/** The payload's type tag ("text", "renewal_request", ...), or null. */
export function kindOf(payload) {
  if (typeof payload === "string") {
    return "text";
  }
  // An undecodable payload is {t: "unsupported", type: <its tag>}: `t` decides.
  return payload?.t ?? payload?.type ?? null;
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
    t: "renewal_request",
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
