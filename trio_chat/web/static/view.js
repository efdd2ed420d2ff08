// The page's conversations: one scrolling log per room or private partner.
//
// A log holds messages ordered by the server's ids (history merges in by
// id, so nothing shows twice after a reconnect) and lines without ids
// (joins, notices, errors) where they happened. All user text goes in
// through text.js (text nodes, never HTML). The page's own texts are worded
// in the language in use, and again when it changes (relabel).

import { _, language, worded } from "./i18n.js";
import { appendText, compareIds, nameColour, nameKey, showTime, timeElement } from "./text.js";

// Everyone starts in #lobby (the server's name for it, without the "#").
export const LOBBY = "lobby";

// A log scrolled this close to its end follows new messages.
const NEAR_END = 48;

export class Conversation {
  /** kind: "room" or "private"; name: the room's or the partner's name. */
  constructor(doc, kind, name) {
    this.doc = doc;
    this.kind = kind;
    this.name = kind === "room" ? bareRoom(name) : String(name);
    this.key = Conversation.key(kind, name);
    this.joined = false;
    this.members = [];
    this.topic = "";
    this.unread = 0;
    this.more = false; // the server has older history
    this.loadingOlder = false;
    this.entering = false; // joined: the history that follows gets the divider
    this.ids = new Map(); // id -> <li>
    this.phrases = new Map(); // <li> -> the function wording the page's own line
    this.wrap = doc.createElement("div");
    this.wrap.className = "log-wrap";
    this.wrap.hidden = true;
    this.olderButton = doc.createElement("button");
    this.olderButton.type = "button";
    this.olderButton.className = "older";
    this.olderButton.hidden = true;
    this.list = doc.createElement("ol");
    this.list.className = "log";
    this.list.setAttribute("role", "log");
    this.list.setAttribute("aria-live", "polite");
    this.wrap.append(this.olderButton, this.list);
    this.relabel();
  }

  /** Word the page's own texts again (the language changed): labels, lines, times. */
  relabel() {
    this.olderButton.textContent = _("Load older messages");
    this.list.setAttribute("aria-label", this.label);
    for (const divider of this.list.querySelectorAll(".divider")) divider.textContent = dividerText();
    for (const [item, text] of this.phrases) {
      item.replaceChildren();
      appendText(item, worded(text));
    }
    const lang = language();
    for (const time of this.list.querySelectorAll("time")) showTime(time, lang);
  }

  static key(kind, name) {
    return `${kind}:${nameKey(kind === "room" ? bareRoom(name) : name)}`;
  }

  /** The log's name for screen readers. */
  get label() {
    if (this.kind === "room") return _("Messages {room}", { room: `#${this.name}` });
    return _("Messages with {name}", { name: this.name });
  }

  get title() {
    return this.kind === "room" ? `#${this.name}` : _("Private: {name}", { name: this.name });
  }

  get oldestId() {
    let oldest = null;
    for (const id of this.ids.keys()) {
      if (oldest === null || compareIds(id, oldest) < 0) oldest = id;
    }
    return oldest;
  }

  atEnd() {
    const wrap = this.wrap;
    return wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < NEAR_END;
  }

  scrollToEnd() {
    this.wrap.scrollTop = this.wrap.scrollHeight;
  }

  /** Show a live event; true if it is new (not already shown). */
  addLive(event, me) {
    if (event.id !== undefined && this.ids.has(event.id)) return false;
    const follow = this.atEnd();
    const item = this._message(event, me);
    this.list.append(item);
    if (follow || sameName(event.from, me)) this.scrollToEnd();
    return true;
  }

  /**
   * A line without an id (a join, a notice, an error) at the end. `text`: the
   * server's words, or a function wording the page's own (worded again by relabel).
   */
  addLine(text, kind = "notice") {
    const follow = this.atEnd();
    const item = this.doc.createElement("li");
    item.className = `line ${kind}`;
    appendText(item, worded(text));
    if (typeof text === "function") this.phrases.set(item, text);
    this.list.append(item);
    if (follow) this.scrollToEnd();
    return item;
  }

  /** History (on entering the room, or /history): merged by id; on entering, the divider. */
  addHistory(entries, more, me) {
    this.more = Boolean(more);
    const fresh = sorted(entries).filter((entry) => !this.ids.has(entry.id));
    for (const entry of fresh) {
      const item = this._message(entry, me);
      item.classList.add("past");
      const later = this._firstLaterThan(entry.id);
      this.list.insertBefore(item, later);
    }
    if (fresh.length > 0 && this.entering) this._divider(fresh.at(-1));
    this.entering = false;
    this.olderButton.hidden = !this.more;
    this.scrollToEnd();
    return fresh.length;
  }

  /** Older history asked for by scrolling up: above everything, the view kept in place. */
  addOlder(entries, more) {
    this.more = Boolean(more);
    this.loadingOlder = false;
    const fromEnd = this.wrap.scrollHeight - this.wrap.scrollTop;
    const first = this.list.firstChild;
    for (const entry of sorted(entries)) {
      if (this.ids.has(entry.id)) continue;
      const item = this._message(entry, null);
      item.classList.add("past");
      this.list.insertBefore(item, first);
    }
    this.olderButton.hidden = !this.more;
    this.wrap.scrollTop = this.wrap.scrollHeight - fromEnd;
  }

  _firstLaterThan(id) {
    for (const item of this.list.children) {
      if (item.dataset.id !== undefined && compareIds(item.dataset.id, id) > 0) return item;
    }
    return null;
  }

  _divider(lastEntry) {
    for (const old of this.list.querySelectorAll(".divider")) old.remove();
    const item = this.doc.createElement("li");
    item.className = "divider";
    item.setAttribute("role", "separator");
    item.textContent = dividerText();
    const after = this.ids.get(lastEntry.id);
    after.after(item);
  }

  _message(event, me) {
    const doc = this.doc;
    const item = doc.createElement("li");
    item.className = `msg ${event.type}`;
    if (event.id !== undefined) {
      item.dataset.id = String(event.id);
      this.ids.set(event.id, item);
    }
    if (sameName(event.from, me)) item.classList.add("own");
    item.append(timeElement(doc, event.time, undefined, language()), " ");
    const from = doc.createElement("span");
    from.className = `from ${nameColour(event.from)}`;
    from.textContent = String(event.from);
    const text = doc.createElement("span");
    text.className = "text";
    if (event.type === "action") {
      item.append("* ", from, " ");
    } else if (event.type === "private") {
      const to = doc.createElement("span");
      to.className = `from ${nameColour(event.to)}`;
      to.textContent = String(event.to);
      item.append(from, " → ", to, ": ");
    } else {
      item.append(from, ": ");
    }
    appendText(text, String(event.text));
    item.append(text);
    return item;
  }
}

function dividerText() {
  return _("Earlier messages above · new messages below");
}

/** A room's name without its "#" (the server shows "#dev"; "dev" is the same room). */
export function bareRoom(name) {
  return String(name).replace(/^#/u, "");
}

function sameName(a, b) {
  return a !== undefined && b !== null && b !== undefined && nameKey(a) === nameKey(b);
}

function sorted(entries) {
  return [...(entries ?? [])]
    .filter((entry) => entry && typeof entry === "object")
    .sort((a, b) => compareIds(a.id, b.id));
}
