// What the server says about rooms and people: messages, joins and parts, topics,
// member and room lists, history. Each handler updates the page's state and its
// conversations; app.js gives them what they need (see roomHandlers).

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
    if (conv !== page.state.current) page.status(`Private message from ${event.from}`, true);
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
    conv.addLine(`${event.name} joined`, "join");
  }
  page.lists();
}

function parted(event) {
  const conv = page.room(event.room);
  const text = String(event.text || `${event.name} left`);
  if (page.isMe(event.name)) {
    conv.joined = false;
    conv.members = [];
    conv.addLine(text, "join");
    if (conv === page.state.current) {
      const other = page.joinedRooms()[0];
      if (other !== undefined) page.show(page.room(other));
    }
  } else {
    conv.members = conv.members.filter((name) => nameKey(name) !== nameKey(event.name));
    conv.addLine(text, "join");
  }
  page.lists();
}

function quitEvent(event) {
  const text = String(event.text || `${event.name} left (${event.reason ?? "quit"})`);
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
      conv.addLine(`${event.old} is now known as ${event.new}`, "join");
    }
  }
  page.lists();
}

function topic(event) {
  const conv = page.room(event.room);
  conv.topic = String(event.text ?? "");
  if (event.by !== undefined) {
    const text = conv.topic ? `${event.by} set the topic: ${conv.topic}` : `${event.by} cleared the topic`;
    conv.addLine(text, "notice");
  }
  page.header();
}

function members(event) {
  const conv = page.room(event.room);
  conv.members = (event.names ?? []).map(String);
  if (page.state.asked.delete(`who:${nameKey(conv.name)}`)) {
    (page.state.current ?? conv).addLine(`In #${conv.name} (${conv.members.length}): ${conv.members.join(", ")}`);
  }
  page.lists();
}

function rooms(event) {
  if (page.state.asked.delete("rooms")) {
    const listed = (event.rooms ?? []).map((entry) => `#${bareRoom(entry.name)} (${entry.count})`);
    page.state.current?.addLine(`Rooms: ${listed.join(", ")}`);
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
  const parts = [];
  if (event.joined?.length) parts.push(`joined: ${event.joined.join(", ")}`);
  if (event.left?.length) parts.push(`left: ${event.left.join(", ")}`);
  if (parts.length > 0) conv.addLine(parts.join("; "), "join");
  page.lists();
}

function addMember(conv, name) {
  if (!conv.members.some((other) => nameKey(other) === nameKey(name))) {
    conv.members.push(String(name));
  }
}
