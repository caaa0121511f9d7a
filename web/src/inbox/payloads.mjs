// The typed payloads the inbox composes and shows, in the JSON of
// e2e_crypto/client/payloads.py (the SDK reads exactly these fields). This is the one
// place that knows how the client library spells a payload object, so the views below
// only call these builders and accessors.

/** A payload object of type `tag` with `fields` (snake_case, as on the wire). */
function typed(tag, fields) {
  return { t: tag, ...fields };
}

/** The type tag of a decoded payload ("text", "renewal_request", ...). */
export function payloadType(payload) {
  return payload?.type ?? payload?.t ?? null;
}

/** The body of a text payload. */
export function textOf(payload) {
  return payload?.body ?? payload?.text ?? "";
}

export function text(body) {
  return typed("text", { body });
}

export function bookingInvitation({ providerKind, providerName, slots, url, note }) {
  return typed("booking_invitation", {
    provider_kind: providerKind,
    provider_name: providerName,
    slots,
    url: url || null,
    note: note || null,
  });
}

export function closingSummary({ summary, followUp }) {
  return typed("closing_summary", { summary, follow_up: followUp || null });
}

export function reportToGp({ summary, gpName, gpContact }) {
  return typed("report_to_gp", { summary, gp_name: gpName, gp_contact: gpContact });
}

/**
 * A slot typed in a `datetime-local` field ("2026-12-01T09:30") as RFC 3339 with this
 * browser's offset ("2026-12-01T09:30:00+01:00"): the SDK refuses naive datetimes.
 */
export function slotFromLocal(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return null;
  }
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:00` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}
