// The lists beside the messages: rooms (with member counts and unread markers),
// private conversations, and the people in the room shown (on a phone, drawers
// behind the Rooms and People buttons). Rebuilt from the
// page's state whenever it changes (and when the language does); names are
// set with textContent only.

import { _, ngettext } from "./i18n.js";
import { nameColour, nameKey } from "./text.js";
import { LOBBY, bareRoom } from "./view.js";

const $ = (id) => document.getElementById(id);

function isMe(state, name) {
  return state.me !== null && nameKey(name) === nameKey(state.me);
}

/** The room list, the private conversations, the people here, and the unread counts. */
export function renderLists(state, actions) {
  renderRooms(state, actions);
  renderPrivate(state, actions);
  renderMembers(state, actions);
  const unread = [...state.conversations.values()].reduce((sum, conv) => sum + conv.unread, 0);
  document.title = unread > 0 ? `(${unread}) trio_chat` : "trio_chat";
  // On a phone the lists are behind the Rooms button: it shows the unread count too.
  const toggle = $("rooms-toggle");
  toggle.textContent = unread > 0 ? _("Rooms ({n})", { n: unread }) : _("Rooms");
  toggle.setAttribute("aria-label", unread > 0 ? _("Rooms, {n} unread", { n: unread }) : _("Rooms"));
}

function entryButton(state, label, conv, count) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "entry";
  const name = document.createElement("span");
  name.className = "entry-name";
  name.textContent = label;
  button.append(name);
  if (count !== undefined) {
    const people = document.createElement("span");
    people.className = "count";
    people.textContent = String(count);
    people.setAttribute("aria-label", ngettext("{n} person", "{n} people", count));
    button.append(people);
  }
  if (conv?.unread > 0) {
    const badge = document.createElement("span");
    badge.className = "unread";
    badge.textContent = String(conv.unread);
    badge.setAttribute("aria-label", _("{n} unread", { n: conv.unread }));
    button.append(badge);
  }
  if (conv !== undefined && conv === state.current) button.setAttribute("aria-current", "true");
  item.append(button);
  return { item, button };
}

function renderRooms(state, actions) {
  const names = new Map();
  for (const [key, entry] of state.directory) names.set(key, bareRoom(entry.name));
  for (const conv of state.conversations.values()) {
    if (conv.kind === "room" && (conv.joined || conv.unread > 0)) {
      names.set(nameKey(conv.name), conv.name);
    }
  }
  const list = $("room-list");
  list.replaceChildren();
  for (const [key, name] of [...names].sort(lobbyFirst)) {
    const conv = state.conversations.get(`room:${key}`);
    const joinedHere = conv !== undefined && conv.joined;
    const count = joinedHere ? conv.members.length || state.directory.get(key)?.count : state.directory.get(key)?.count;
    const { item, button } = entryButton(state, `#${name}`, conv, count);
    if (joinedHere) item.classList.add("joined");
    button.addEventListener("click", () => {
      if (joinedHere) actions.show(conv);
      else actions.join(name);
    });
    list.append(item);
  }
}

function lobbyFirst([a], [b]) {
  if (a === LOBBY || b === LOBBY) return a === LOBBY ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function renderPrivate(state, actions) {
  const list = $("private-list");
  list.replaceChildren();
  let any = false;
  for (const conv of state.conversations.values()) {
    if (conv.kind !== "private") continue;
    any = true;
    const { item, button } = entryButton(state, conv.name, conv);
    button.classList.add(nameColour(conv.name));
    button.addEventListener("click", () => actions.show(conv));
    list.append(item);
  }
  $("no-private").hidden = any;
}

function renderMembers(state, actions) {
  const list = $("member-list");
  list.replaceChildren();
  const conv = state.current;
  if (conv === null) return;
  const names = conv.kind === "room" ? conv.members : [state.me, conv.name];
  $("people-heading").textContent =
    conv.kind === "room"
      ? _("People in {room} ({n})", { room: `#${conv.name}`, n: names.length })
      : _("In this conversation");
  for (const name of [...names].filter(Boolean).sort(byKey)) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = `entry person ${nameColour(name)}`;
    button.textContent = isMe(state, name) ? _("{name} (you)", { name }) : name;
    if (isMe(state, name)) button.disabled = true;
    else button.setAttribute("aria-label", _("Write privately to {name}", { name }));
    button.addEventListener("click", () => actions.write(name));
    item.append(button);
    list.append(item);
  }
}

function byKey(a, b) {
  return nameKey(a) < nameKey(b) ? -1 : nameKey(a) > nameKey(b) ? 1 : 0;
}

const DRAWERS = [
  ["sidebar", "rooms-toggle"],
  ["people", "people-toggle"],
];

/** Open the drawer `id` (a phone's lists) with its `button`, or close it if open. */
export function toggleDrawer(id, button) {
  const drawer = $(id);
  const open = !drawer.classList.contains("open");
  closeDrawers();
  drawer.classList.toggle("open", open);
  button.setAttribute("aria-expanded", String(open));
  if (open) drawer.querySelector("button, input")?.focus();
}

export function closeDrawers() {
  for (const [id, button] of DRAWERS) {
    $(id).classList.remove("open");
    $(button).setAttribute("aria-expanded", "false");
  }
}

/** Escape: close the drawers; from inside one, the focus goes back to its button. */
export function escapeDrawer() {
  const drawer = document.activeElement?.closest("#sidebar, #people");
  closeDrawers();
  if (drawer) $(drawer.id === "sidebar" ? "rooms-toggle" : "people-toggle").focus();
}
