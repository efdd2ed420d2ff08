// What the server says about rooms and people: messages, joins and parts, topics,
// member and room lists, history. Each handler updates the page's state and its
// conversations; app.js gives them what they need (see roomHandlers). The
// page's own lines are functions wording them, so a change of language words
// them again; what the server says comes worded in the language it was told.

import { _ } from "./i18n.js";
import { nameKey } from "./text.js";
import { Conversation, LOBBY, bareRoom } from "./view.js";

// What app.js lends the handlers: its state and how to show things.
let page = null;

/** The handlers of room and people events, working on `context`'s state. */
export function roomHandlers(context) {
  page = context;
  return {
    message: live,
    action: live,
    private: privateMessage,
    joined,
    parted,
    quit: quitEvent,
    renamed,
    topic,
    members,
    rooms,
    history,
    notice: (event) => say(event, "notice"),
    error: (event) => say(event, "error"),
    crowd,
    moderated: (event) => say(event, "notice"),
  };
}

function arrived(conv) {
  if (conv === page.state.current && !document.hidden) return;
  conv.unread += 1;
  page.lists();
}

function live(event) {
  const conv = page.room(event.room);
  if (conv.addLive(event, page.state.me) && !page.isMe(event.from)) arrived(conv);
}

function privateMessage(event) {
  const partner = page.isMe(event.from) ? event.to : event.from;
  const conv = page.conversation("private", partner);
  const fresh = conv.addLive(event, page.state.me);
  if (fresh && !page.isMe(event.from)) {
    arrived(conv);
    // Said aloud by screen readers (the status is a live region), seen on a phone.
    const name = String(event.from);
    if (conv !== page.state.current) page.status(() => _("Private message from {name}", { name }), true);
  }
  page.lists();
}

function say(event, kind) {
  const conv = event.room !== undefined ? page.room(event.room) : page.state.current;
  (conv ?? page.room(LOBBY)).addLine(String(event.text ?? ""), kind);
}

function joined(event) {
  const conv = page.room(event.room);
  if (page.isMe(event.name)) {
    conv.joined = true;
    conv.entering = true;
    // Rooms joined again after a reconnect do not take the view from the one shown.
    if (!page.state.restoring.delete(conv.key) || page.state.current === null) page.show(conv);
    page.send({ type: "rooms" });
  } else {
    addMember(conv, event.name);
    const name = String(event.name);
    conv.addLine(() => _("{name} joined", { name }), "join");
  }
  page.lists();
}

function parted(event) {
  const conv = page.room(event.room);
  const name = String(event.name);
  const text = event.text ? String(event.text) : () => _("{name} left", { name });
  if (page.isMe(event.name)) {
    conv.joined = false;
    conv.members = [];
    conv.addLine(text, "join");
    if (conv === page.state.current) {
      const other = page.joinedRooms()[0];
      if (other !== undefined) page.show(page.room(other));
    }
  } else {
    conv.members = conv.members.filter((other) => nameKey(other) !== nameKey(name));
    conv.addLine(text, "join");
  }
  page.lists();
}

function quitEvent(event) {
  const fields = { name: String(event.name), reason: String(event.reason ?? "quit") };
  const text = event.text ? String(event.text) : () => _("{name} left ({reason})", fields);
  for (const conv of page.state.conversations.values()) {
    const before = conv.members.length;
    conv.members = conv.members.filter((name) => nameKey(name) !== nameKey(event.name));
    if (conv.members.length !== before) conv.addLine(text, "join");
  }
  page.lists();
}

function renamed(event) {
  if (page.isMe(event.old)) {
    page.state.me = String(event.new);
    if (page.state.login) page.state.login.name = page.state.me;
  }
  for (const conv of page.state.conversations.values()) {
    const index = conv.members.findIndex((name) => nameKey(name) === nameKey(event.old));
    if (index >= 0) {
      conv.members[index] = String(event.new);
      const fields = { old: String(event.old), new: String(event.new) };
      conv.addLine(() => _("{old} is now known as {new}", fields), "join");
    }
  }
  page.lists();
}

function topic(event) {
  const conv = page.room(event.room);
  conv.topic = String(event.text ?? "");
  if (event.by !== undefined) {
    const fields = { name: String(event.by), topic: conv.topic };
    const text = fields.topic
      ? () => _("{name} set the topic: {topic}", fields)
      : () => _("{name} cleared the topic", fields);
    conv.addLine(text, "notice");
  }
  page.header();
}

function members(event) {
  const conv = page.room(event.room);
  conv.members = (event.names ?? []).map(String);
  if (page.state.asked.delete(`who:${nameKey(conv.name)}`)) {
    const fields = { room: `#${conv.name}`, n: conv.members.length, names: conv.members.join(", ") };
    (page.state.current ?? conv).addLine(() => _("In {room} ({n}): {names}", fields));
  }
  page.lists();
}

function rooms(event) {
  if (page.state.asked.delete("rooms")) {
    const listed = (event.rooms ?? []).map((entry) => `#${bareRoom(entry.name)} (${entry.count})`);
    page.state.current?.addLine(() => _("Rooms: {rooms}", { rooms: listed.join(", ") }));
  }
  page.state.directory.clear();
  for (const entry of event.rooms ?? []) {
    page.state.directory.set(nameKey(bareRoom(entry.name)), entry);
    const conv = page.state.conversations.get(Conversation.key("room", entry.name));
    if (conv !== undefined && entry.topic !== undefined) conv.topic = String(entry.topic);
  }
  page.lists();
  page.header();
}

function history(event) {
  const conv = page.room(event.room);
  if (conv.loadingOlder) conv.addOlder(event.entries, event.more);
  else conv.addHistory(event.entries, event.more, page.state.me);
}

function crowd(event) {
  const conv = page.room(event.room);
  for (const name of event.joined ?? []) addMember(conv, name);
  const gone = new Set((event.left ?? []).map(nameKey));
  conv.members = conv.members.filter((name) => !gone.has(nameKey(name)));
  const came = (event.joined ?? []).join(", ");
  const went = (event.left ?? []).join(", ");
  const words = () => {
    const parts = [];
    if (came) parts.push(_("joined: {names}", { names: came }));
    if (went) parts.push(_("left: {names}", { names: went }));
    return parts.join("; ");
  };
  if (came || went) conv.addLine(words, "join");
  page.lists();
}

function addMember(conv, name) {
  if (!conv.members.some((other) => nameKey(other) === nameKey(name))) {
    conv.members.push(String(name));
  }
}
