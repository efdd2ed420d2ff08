// The page's words in the reader's language.
//
// The page is written in English: every text a person reads goes through
// _("...") (with named fields: _("{n} members", {n: 3})) or
// ngettext("{n} member", "{n} members", n), looked up in the catalog of the
// language in use. The server makes each language's catalog from the same .po
// file as its own words (GET i18n/LANG.json; GET i18n/ lists the languages);
// English needs none. The plural rule comes as data (which form each of
// Intl.PluralRules' categories takes), never as code to evaluate.
//
// The HTML keeps its English text; data-i18n marks what translate() words:
// data-i18n alone the element's text, data-i18n="placeholder aria-label"
// those attributes ("text" for the text too). The catalog tool extracts both.

// The language the page is written in.
export const SOURCE = "en";
// Where an explicit choice is remembered.
const STORED = "trio_chat.lang";

const ENGLISH = { lang: SOURCE, messages: {}, plural: { nplurals: 2, categories: { one: 0, other: 1 } } };
let catalog = ENGLISH;
let plurals = new Intl.PluralRules(SOURCE);
const listeners = [];
let asked = 0; // counts use() calls: only the latest one's catalog is put in use
let offered = [{ lang: SOURCE, name: "English" }]; // the server's languages (start)
// The English of each translated element: {text, attrs: {name: english}}.
const sources = new WeakMap();

/** Marks a message for the catalog without wording it now (word it later with _()). */
export function N_(message) {
  return message;
}

/** `message` in the language in use, its {fields} filled in from `fields`. */
export function _(message, fields) {
  const found = catalog.messages[message];
  return fill(typeof found === "string" && found !== "" ? found : message, fields);
}

/** The form of a message for `n` things (`{n}` may appear in it, and other `fields`). */
export function ngettext(singular, plural, n, fields = {}) {
  const forms = catalog.messages[singular];
  const all = { ...fields, n };
  if (Array.isArray(forms) && forms.length === catalog.plural.nplurals) {
    const { categories } = catalog.plural;
    const form = categories[plurals.select(n)] ?? categories.other ?? 0;
    if (forms[form]) return fill(forms[form], all);
  }
  return fill(n === 1 ? singular : plural, all);
}

/** Python's str.format for named fields: {name} filled in, {{ and }} are braces. */
function fill(text, fields) {
  if (fields === undefined) return text;
  return text.replace(/\{\{|\}\}|\{(\w+)\}/gu, (whole, name) => {
    if (name === undefined) return whole[0];
    return Object.hasOwn(fields, name) ? String(fields[name]) : whole;
  });
}

/** A text given as is or as a function that words it (so it can be worded again). */
export function worded(text) {
  return typeof text === "function" ? text() : String(text ?? "");
}

/** The language in use ("en", "es"...). */
export function language() {
  return catalog.lang;
}

/** A number as the language in use writes it (1.5, 1,5). */
export function number(value) {
  return new Intl.NumberFormat(catalog.lang).format(value);
}

/** Call `listener(lang)` after every change of language (the texts are worded again). */
export function onLanguage(listener) {
  listeners.push(listener);
}

/** The languages the server has: [{lang, name}], English only if it cannot say. */
export async function available() {
  try {
    const answer = await fetch("i18n/");
    if (answer.ok) {
      const index = await answer.json();
      if (Array.isArray(index.languages) && index.languages.length > 0) return index.languages;
    }
  } catch {
    // offline or an older server: the page stays in English
  }
  return [{ lang: SOURCE, name: "English" }];
}

/** The language to use: the one chosen before, else the browser's first we have, else English. */
export function choose(languages, wanted = navigator.languages ?? [navigator.language]) {
  for (const tag of [remembered(), ...wanted]) {
    const lang = matching(languages, tag);
    if (lang !== null) return lang;
  }
  return SOURCE;
}

/** The language of `languages` that `tag` ("es", "es-MX", "ES") asks for, or null. */
function matching(languages, tag) {
  const lang = String(tag ?? "").toLowerCase().split(/[-_]/u)[0];
  return languages.some((entry) => entry.lang === lang) ? lang : null;
}

/** Follow a language chosen elsewhere (`/lang es` typed: the server is told by the line). */
export async function follow(tag) {
  const lang = matching(offered, tag);
  if (lang === null || lang === catalog.lang) return;
  remember(lang);
  try {
    await use(lang);
  } catch {
    // the page stays as it is; the server speaks it all the same
  }
}

function remembered() {
  try {
    return localStorage.getItem(STORED);
  } catch {
    return null; // storage may be off: choose again next time
  }
}

/** Remember an explicit choice for the next visit. */
export function remember(lang) {
  try {
    localStorage.setItem(STORED, lang);
  } catch {
    // not remembered: it still applies to this page
  }
}

/**
 * Use `lang` (fetching its catalog): <html lang>, the marked HTML, then the
 * listeners. False if another language was asked for meanwhile (that one is used).
 */
export async function use(lang) {
  const ticket = ++asked;
  let next = ENGLISH;
  if (lang !== SOURCE) {
    const answer = await fetch(`i18n/${encodeURIComponent(lang)}.json`);
    if (!answer.ok) throw new Error(`no catalog for ${lang}: ${answer.status}`);
    next = await answer.json();
  }
  if (ticket !== asked) return false; // chosen again meanwhile: that choice wins
  catalog = next;
  plurals = new Intl.PluralRules(catalog.lang);
  document.documentElement.lang = catalog.lang;
  translate(document);
  for (const listener of listeners) listener(catalog.lang);
  return true;
}

/**
 * Start: note the HTML's English, use the language chosen (see choose), and fill
 * the page's switches (each select.lang-select, shown in its .lang-row when the
 * server has more than one language). `switched(lang)` follows a switch by the user;
 * `failed(lang)` when that language's catalog cannot be had (the page stays as it is).
 */
export async function start({ switched, failed }) {
  translate(document);
  const languages = await available();
  offered = languages;
  try {
    await use(choose(languages));
  } catch {
    // no catalog after all: the page stays in English
  }
  for (const select of document.querySelectorAll(".lang-select")) {
    select.replaceChildren(...languages.map(option));
    select.value = catalog.lang;
    select.addEventListener("change", () => pick(select.value, switched, failed));
    select.closest(".lang-row").hidden = languages.length < 2;
  }
  onLanguage((lang) => {
    for (const select of document.querySelectorAll(".lang-select")) select.value = lang;
  });
}

function option({ lang, name }) {
  const item = document.createElement("option");
  item.value = String(lang);
  item.lang = String(lang);
  item.textContent = String(name);
  return item;
}

async function pick(lang, switched, failed) {
  remember(lang);
  let used;
  try {
    used = await use(lang);
  } catch {
    for (const select of document.querySelectorAll(".lang-select")) select.value = catalog.lang;
    failed(lang);
    return;
  }
  if (used) switched(lang);
}

/** Word again every element under `root` that data-i18n marks. */
export function translate(root) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    let source = sources.get(element);
    if (source === undefined) {
      source = english(element);
      sources.set(element, source);
    }
    if (source.text !== undefined) element.textContent = _(source.text);
    for (const [name, text] of Object.entries(source.attrs)) element.setAttribute(name, _(text));
  }
}

function english(element) {
  const parts = (element.dataset.i18n || "text").split(/\s+/u).filter(Boolean);
  const source = { attrs: {} };
  for (const part of parts) {
    if (part === "text") source.text = normal(element.textContent);
    else if (element.hasAttribute(part)) source.attrs[part] = normal(element.getAttribute(part));
  }
  return source;
}

/** White space as the catalog tool reads the HTML: one space for each run, none at the ends. */
function normal(text) {
  return text.replace(/\s+/gu, " ").trim();
}
