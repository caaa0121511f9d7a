// A practice's roster CSV read in the page — twin of e2e_crypto/client/roster.py's
// parse_roster_csv (same rows, same rejected lines and reasons; tested against it).
//
// UTF-8 (with or without Excel's BOM), else Windows-1252 (Excel's "CSV" on Western
// European Windows). The delimiter is the most frequent of ";", "," and tab in the
// header line (Excel writes ";" where "," is the decimal separator). Column `email`
// is required, `language` optional (en/fr/nl, default en); every other column is a
// label, sealed to the staff group before it leaves the page (mailings.mjs). Line
// numbers are physical lines, so a quoted line break counts.

export const LANGUAGES = Object.freeze(["en", "fr", "nl"]);
const EMAIL = /^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;

/** The file as a whole is unreadable (empty, or no `email` column in the header). */
export class RosterFormatError extends Error {
  constructor(reason) {
    super(reason);
    this.name = "RosterFormatError";
    this.reason = reason;
  }
}

export function decodeRoster(bytes) {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.startsWith("\ufeff") ? text.slice(1) : text;
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

function delimiterOf(headerLine) {
  let best = ",";
  let most = 0;
  for (const d of [";", ",", "\t"]) {
    const count = headerLine.split(d).length - 1;
    if (count > most) [best, most] = [d, count];
  }
  return best;
}

// Records as {start, cells}, cut the way Python's csv.reader cuts them: "\r\n", "\r" and "\n" end a line.
function* records(text, delimiter) {
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const cells = [];
    let cell = "";
    let quoted = false;
    let inQuotes = false;
    let done = false;
    while (!done) {
      if (i >= text.length) {
        // An unclosed quote runs to the end of the file and ends its last field
        // there, as Python's (non-strict) csv.reader reads it.
        cells.push(cell);
        done = true;
        break;
      }
      const c = text[i];
      if (inQuotes) {
        if (c === '"' && text[i + 1] === '"') {
          cell += '"';
          i += 2;
        } else if (c === '"') {
          inQuotes = false;
          i += 1;
        } else {
          if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line += 1;
          cell += c;
          i += 1;
        }
      } else if (c === delimiter) {
        cells.push(cell);
        cell = "";
        quoted = false;
        i += 1;
      } else if (c === "\r" || c === "\n") {
        i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
        line += 1;
        if (cells.length || cell || quoted) cells.push(cell);
        done = true;
      } else if (c === '"' && cell === "" && !quoted) {
        inQuotes = true;
        quoted = true;
        i += 1;
      } else {
        cell += c;
        i += 1;
      }
    }
    yield { start, cells };
  }
}

/**
 * { rows: [{line, email, language, labels}], rejected: [{line, reason}] } from the
 * file's bytes (Uint8Array) or text. Throws RosterFormatError for a file without a
 * usable header.
 */
export function parseRosterCsv(data) {
  const text = typeof data === "string" ? data : decodeRoster(data);
  const first = text.trim() ? text.split(/\r\n|\r|\n/)[0] : "";
  const it = records(text, delimiterOf(first));
  const head = it.next();
  if (head.done) throw new RosterFormatError("the file is empty");
  const header = head.value.cells.map((h) => h.trim().toLowerCase());
  if (!header.includes("email")) throw new RosterFormatError("the header has no 'email' column");
  if (new Set(header).size !== header.length || header.includes("")) {
    throw new RosterFormatError("the header has an empty or repeated column name");
  }
  const rows = [];
  const rejected = [];
  const seen = new Map();
  for (const record of it) {
    if (!record.cells.some((cell) => cell.trim())) continue; // a blank line is not a row
    const verdict = rowOf(record.start, header, record.cells, seen);
    if (verdict.reason) {
      rejected.push(verdict);
    } else {
      seen.set(verdict.email, verdict.line);
      rows.push(verdict);
    }
  }
  return { rows, rejected };
}

function rowOf(line, header, record, seen) {
  if (record.length !== header.length) {
    return { line, reason: `${record.length} fields where the header has ${header.length}` };
  }
  const cells = Object.fromEntries(header.map((name, i) => [name, record[i].trim()]));
  const email = cells.email.toLowerCase();
  const language = (cells.language || "en").toLowerCase();
  delete cells.email;
  delete cells.language;
  if (!email) return { line, reason: "no e-mail address" };
  if (!EMAIL.test(email)) return { line, reason: "the e-mail address is malformed" };
  if (seen.has(email)) return { line, reason: `the same e-mail address as line ${seen.get(email)}` };
  if (!LANGUAGES.includes(language)) return { line, reason: "the language is not one of en, fr, nl" };
  return { line, email, language, labels: cells };
}
