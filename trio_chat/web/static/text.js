// What the page shows of what people say: always as text, never as HTML.
//
// Every string from the server reaches the page through textContent or a
// text node (see appendText); links are <a> elements whose href is checked to
// be http(s) and whose text is set with textContent. Nothing here uses
// innerHTML, so `<img src=x onerror=alert(1)>` shows literally.

// How many colour classes style.css defines for names (.name-0 ... .name-11).
export const NAME_COLOURS = 12;

// A link runs up to a space or a character that cannot be in a bare URL.
const LINK = /https?:\/\/[^\s<>"'`]+/giu;
// Punctuation that ends a sentence rather than a link ("see https://x.org.").
const TRAILING = /[.,;:!?)\]}'"»”’]+$/u;

/** The comparison key of a name or room: the server compares them case-insensitively. */
export function nameKey(name) {
  return String(name).normalize("NFKC").toLowerCase();
}

/** The same colour class for a name every time (FNV-1a of its key). */
export function nameColour(name) {
  let hash = 0x811c9dc5;
  for (const char of nameKey(name)) {
    hash ^= char.codePointAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `name-${hash % NAME_COLOURS}`;
}

/** `href` if it is an http or https URL, else null. */
export function safeHref(href) {
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Append `text` to `parent` as text nodes, with its http(s) links as <a> elements. */
export function appendText(parent, text) {
  const doc = parent.ownerDocument;
  let last = 0;
  for (const match of String(text).matchAll(LINK)) {
    let url = match[0];
    const trailing = url.match(TRAILING);
    if (trailing) url = url.slice(0, -trailing[0].length);
    const href = safeHref(url);
    if (href === null || url.length === 0) continue;
    if (match.index > last) parent.append(doc.createTextNode(text.slice(last, match.index)));
    const link = doc.createElement("a");
    link.href = href;
    link.textContent = url;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    parent.append(link);
    last = match.index + url.length;
  }
  if (last < text.length) parent.append(doc.createTextNode(text.slice(last)));
}

/** Ids grow with time; the server's are integers (maybe as strings). */
export function compareIds(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  try {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  } catch {
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }
}

function sameDay(a, b) {
  return (
    a.getFullYear() === b.getFullYear() &&
    a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate()
  );
}

/** A <time> element: the server's UTC time in the browser's local time, as `lang` writes it. */
export function timeElement(doc, iso, now = new Date(), lang = undefined) {
  const element = doc.createElement("time");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return element;
  element.dateTime = date.toISOString();
  showTime(element, lang, now);
  return element;
}

/** Word a <time> element's moment (again) in `lang`: the clock, and the date if not today. */
export function showTime(element, lang, now = new Date()) {
  const date = new Date(element.dateTime);
  if (element.dateTime === "" || Number.isNaN(date.getTime())) return;
  const clock = formatter(lang, "clock").format(date);
  element.textContent = sameDay(date, now) ? clock : `${formatter(lang, "day").format(date)} ${clock}`;
  element.title = formatter(lang, "full").format(date);
}

const FORMATS = {
  clock: { hour: "2-digit", minute: "2-digit" },
  day: { month: "short", day: "numeric" },
  full: { dateStyle: "full", timeStyle: "medium" },
};
const formatters = new Map();

function formatter(lang, kind) {
  const key = `${lang}:${kind}`;
  let found = formatters.get(key);
  if (found === undefined) {
    found = new Intl.DateTimeFormat(lang, FORMATS[kind]);
    formatters.set(key, found);
  }
  return found;
}
