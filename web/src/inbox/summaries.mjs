// Reading a thread summary and a care link. API.md names the objects but not every
// field's spelling; the server's JSON is snake_case (chat_server/presenters.py) and
// the library may camelCase it, so the views read fields only through these
// accessors.

function pick(object, camel, snake, fallback = null) {
  if (object == null) {
    return fallback;
  }
  return object[camel] ?? object[snake] ?? fallback;
}

export const threadIdOf = (s) => pick(s, "threadId", "thread_id");
export const stateOf = (s) => pick(s, "state", "state", "open");
export const unreadOf = (s) => Number(pick(s, "unread", "unread", 0)) || 0;
export const lastSeqOf = (s) => Number(pick(s, "lastSeq", "last_seq", 0)) || 0;
export const patientIdOf = (s) => pick(s, "patientId", "patient_id");
export const lastMessageAtOf = (s) => pick(s, "lastMessageAt", "last_message_at") ?? pick(s, "createdAt", "created_at");

/** The members with their display names: [{accountId, displayName, role}]. */
export function membersOf(s) {
  return (pick(s, "members", "members", []) ?? []).map((m) => ({
    accountId: pick(m, "accountId", "account_id"),
    displayName: pick(m, "displayName", "display_name"),
    role: m.role,
  }));
}

/** What to call the thread's patient: the name they chose, else a short id. */
export function patientNameOf(s) {
  const id = patientIdOf(s);
  const patient = membersOf(s).find((m) => m.accountId === id || m.role === "patient");
  return patient?.displayName || shortId(id);
}

export function displayNameIn(s, accountId) {
  const member = membersOf(s).find((m) => m.accountId === accountId);
  return member?.displayName || shortId(accountId);
}

export function shortId(id) {
  return id ? `#${String(id).slice(0, 8)}` : "?";
}

export const linkIdOf = (l) => pick(l, "careLinkId", "care_link_id") ?? pick(l, "id", "id");
export const linkStatusOf = (l) => pick(l, "status", "status");
export const linkPatientOf = (l) => pick(l, "patientId", "patient_id");
export const linkCreatedAtOf = (l) => pick(l, "createdAt", "created_at");

/** Who asks for a care link: the name the server gives providers, else a short id. */
export function linkPatientNameOf(l) {
  return pick(l, "patientName", "patient_name") || shortId(linkPatientOf(l));
}
