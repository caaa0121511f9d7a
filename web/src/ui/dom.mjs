// DOM helpers for every page. Text always goes in as text nodes: there is no
// innerHTML anywhere in the web client, so a message, a name or a translation can never
// become markup (and the CSP has no 'unsafe-inline' to fall back on).

const BOOLEAN_ATTRS = new Set(["disabled", "hidden", "required", "checked", "selected", "readonly", "multiple", "open"]);

/**
 * h("button", {type: "button", class: "primary", onclick: fn, dataset: {id}}, "Send")
 *
 * - `on<event>` attributes with a function value become event listeners;
 * - `class` may be a string or an array (falsy items dropped);
 * - `dataset` is an object copied to data-* attributes;
 * - booleans: true sets the attribute (or the property for value/checked), false/null omits it;
 * - children: strings, numbers, Nodes, arrays of those; null/undefined/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
    } else if (name === "dataset") {
      for (const [key, item] of Object.entries(value)) {
        if (item !== null && item !== undefined) {
          el.dataset[key] = String(item);
        }
      }
    } else if (name === "value" || name === "checked") {
      el[name] = value;
    } else if (value === true || BOOLEAN_ATTRS.has(name)) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    if (Array.isArray(child)) {
      append(el, child);
    } else if (child instanceof Node) {
      el.append(child);
    } else {
      el.append(document.createTextNode(String(child)));
    }
  }
}

/** Removes every child of `el`; returns `el`. */
export function clear(el) {
  while (el.firstChild) {
    el.firstChild.remove();
  }
  return el;
}

/** Replaces the children of `el` with `children`. */
export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/**
 * Makes `children` the children of `el`, in order, touching only what differs: a node
 * already there stays in place (its focus, an opened control, text typed in it), a
 * node not in `children` goes, new ones go in where they belong.
 */
export function arrange(el, children) {
  const wanted = new Set(children);
  for (const node of [...el.childNodes]) {
    if (!wanted.has(node)) node.remove();
  }
  let at = el.firstChild;
  for (const child of children) {
    if (child === at) {
      at = at.nextSibling;
    } else {
      el.insertBefore(child, at);
    }
  }
}

const CONTROLS = new Set(["BUTTON", "INPUT", "SELECT", "TEXTAREA", "A"]);

/**
 * Brings `old` to show what `fresh` (a new drawing of it) shows, touching only what
 * differs: text is rewritten in place, an element whose tag, attributes and number of
 * children match is kept and its children brought along; a control (button, field,
 * link) is kept only if drawn exactly the same (its listeners, focus and value with it);
 * anything else is swapped for its fresh copy. Only for drawings where a control drawn
 * the same acts the same (a button keyed by what it acts on). Returns the node now in
 * the document.
 */
export function patch(old, fresh) {
  if (old.isEqualNode(fresh)) return old;
  if (old.nodeType === Node.TEXT_NODE && fresh.nodeType === Node.TEXT_NODE) {
    old.data = fresh.data;
    return old;
  }
  // A control drawn differently (another label) may act differently: never kept.
  if (
    old.nodeType !== Node.ELEMENT_NODE ||
    CONTROLS.has(old.nodeName) ||
    old.nodeName !== fresh.nodeName ||
    !sameAttributes(old, fresh) ||
    old.childNodes.length !== fresh.childNodes.length
  ) {
    old.replaceWith(fresh);
    return fresh;
  }
  for (const [index, child] of [...fresh.childNodes].entries()) {
    patch(old.childNodes[index], child);
  }
  return old;
}

function sameAttributes(a, b) {
  if (a.attributes.length !== b.attributes.length) return false;
  for (const attribute of a.attributes) {
    if (b.getAttribute(attribute.name) !== attribute.value) return false;
  }
  return true;
}

let liveRegion = null;

/**
 * Says `text` to screen readers through one visually hidden aria-live region per page
 * (polite by default; `assertive` for errors).
 */
export function announce(text, { assertive = false } = {}) {
  if (liveRegion === null || !liveRegion.isConnected) {
    liveRegion = h("div", { id: "announcer", class: "visually-hidden", "aria-live": "polite", role: "status" });
    document.body.append(liveRegion);
  }
  liveRegion.setAttribute("aria-live", assertive ? "assertive" : "polite");
  // Emptied first so the same text twice is announced twice.
  liveRegion.textContent = "";
  setTimeout(() => {
    liveRegion.textContent = text;
  }, 50);
}

/** Moves keyboard focus to `el` (making it focusable if it is not, e.g. a heading). */
export function focus(el) {
  if (!el) {
    return;
  }
  if (el.tabIndex < 0 && !el.hasAttribute("tabindex")) {
    el.setAttribute("tabindex", "-1");
  }
  el.focus();
}

/** Focuses the first focusable element inside `container`, if any. */
export function focusFirst(container) {
  const target = container.querySelector(
    'input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), button:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])',
  );
  focus(target ?? container);
}

/** The page's app root, `<main id="root">`, which every page's main.mjs mounts into. */
export function root() {
  const el = document.getElementById("root");
  if (el === null) {
    throw new Error("no <main id=\"root\"> in the page");
  }
  return el;
}

/**
 * Mounts `children` into the root and marks it ready: `data-state="ready"`,
 * `aria-busy="false"` (the shell starts with "loading").
 */
export function mount(...children) {
  const el = root();
  replace(el, ...children);
  el.dataset.state = "ready";
  el.setAttribute("aria-busy", "false");
  return el;
}
