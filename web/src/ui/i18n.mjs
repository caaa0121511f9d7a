// Translations: fr, nl and en. Each page registers its own catalog
// (registerMessages(lang, {key: text})); t(key, vars) looks the key up in the current
// language, falls back to English, then to the key itself (so a missing text is
// visible, never blank). The language comes from localStorage (the user's choice),
// else from navigator.languages, else English. Only the language code is stored.

export const LANGUAGES = Object.freeze(["fr", "nl", "en"]);
const STORAGE_KEY = "carechat.language";
const catalogs = { fr: {}, nl: {}, en: {} };
const listeners = new Set();
let current = null;

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled (e.g. a third-party frame with cookies blocked)
  }
}

/** The best of fr/nl/en for this browser: the stored choice, then navigator.languages. */
export function detectLanguage() {
  const choice = stored();
  if (choice && LANGUAGES.includes(choice)) {
    return choice;
  }
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"];
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) {
      return base;
    }
  }
  return "en";
}

/** The current language ("fr", "nl" or "en"). */
export function language() {
  if (current === null) {
    current = detectLanguage();
    document.documentElement.lang = current;
  }
  return current;
}

/** Switches language, remembers it, sets <html lang>, and tells onLanguageChange listeners. */
export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) {
    throw new RangeError(`unsupported language ${lang}`);
  }
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered, still switched
  }
  document.documentElement.lang = lang;
  for (const listener of listeners) {
    listener(lang);
  }
}

/** Calls `listener(lang)` after every setLanguage; returns a function that unsubscribes. */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Adds `messages` ({key: text}) to the catalog of `lang`; later keys win. */
export function registerMessages(lang, messages) {
  if (!LANGUAGES.includes(lang)) {
    throw new RangeError(`unsupported language ${lang}`);
  }
  Object.assign(catalogs[lang], messages);
}

/** The keys `lang`'s catalog holds, sorted (a test checks fr, nl and en hold the same). */
export function catalogKeys(lang) {
  return Object.keys(catalogs[lang]).sort();
}

/**
 * The text of `key` in the current language with `{name}` placeholders filled from
 * `vars`. The result is plain text: put it in the DOM with h()/textContent only.
 */
export function t(key, vars = {}) {
  const lang = language();
  const template = catalogs[lang][key] ?? catalogs.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** Formats a timestamp (ISO string, ms or Date) for the current language. */
export function formatTime(at, options = { dateStyle: "short", timeStyle: "short" }) {
  const date = at instanceof Date ? at : new Date(at);
  return new Intl.DateTimeFormat(language(), options).format(date);
}

// The texts of the shell itself, shared by every page.
registerMessages("en", {
  "notice.emergency": "Not for emergencies \u2014 call 112 (100 in Belgium, 15 in France).",
  "language.label": "Language",
  "message.unverified": "This message could not be verified.",
  "status.pending": "Sending\u2026",
  "status.sent": "Sent",
  "status.delivered": "Delivered",
  "status.read": "Read",
  "status.failed": "Not sent",
  "connection.connecting": "Connecting\u2026",
  "connection.online": "Online",
  "connection.offline": "Offline \u2014 retrying",
});
registerMessages("fr", {
  "notice.emergency": "Pas pour les urgences \u2014 appelez le 112 (100 en Belgique, 15 en France).",
  "language.label": "Langue",
  "message.unverified": "Ce message n\u2019a pas pu \u00eatre v\u00e9rifi\u00e9.",
  "status.pending": "Envoi\u2026",
  "status.sent": "Envoy\u00e9",
  "status.delivered": "Distribu\u00e9",
  "status.read": "Lu",
  "status.failed": "Non envoy\u00e9",
  "connection.connecting": "Connexion\u2026",
  "connection.online": "En ligne",
  "connection.offline": "Hors ligne \u2014 nouvel essai",
});
registerMessages("nl", {
  "notice.emergency": "Niet voor noodgevallen \u2014 bel 112 (100 in Belgi\u00eb, 15 in Frankrijk).",
  "language.label": "Taal",
  "message.unverified": "Dit bericht kon niet worden geverifieerd.",
  "status.pending": "Verzenden\u2026",
  "status.sent": "Verzonden",
  "status.delivered": "Afgeleverd",
  "status.read": "Gelezen",
  "status.failed": "Niet verzonden",
  "connection.connecting": "Verbinden\u2026",
  "connection.online": "Online",
  "connection.offline": "Offline \u2014 opnieuw proberen",
});

/**
 * Translates the shell's emergency notice (#notice, outside the app root) now and on
 * every language change. Pages call it once at start.
 */
export function translateNotice() {
  const apply = () => {
    const notice = document.getElementById("notice");
    if (notice) {
      notice.textContent = t("notice.emergency");
    }
  };
  apply();
  onLanguageChange(apply);
}
