// trio_chat's page: log in, then chat in rooms and privately over /ws.
//
// The server decides everything (names, rooms, commands, history): the page
// sends what the user typed ({"type":"line"}, slash commands included) or
// asks ({"type":"join"}, "history", "rooms"...), and shows what comes back.
// Own messages appear when the server sends them back, never before.
// Every text of the page's own is worded by i18n.js in the language chosen
// (the browser's, or the switch's); the server is told it, and words its own.

import { roomHandlers } from "./events.js";
import * as i18n from "./i18n.js";
import { _ } from "./i18n.js";
import { closeDrawers, escapeDrawer, renderLists, toggleDrawer } from "./lists.js";
import { nameKey } from "./text.js";
import { Conversation, LOBBY } from "./view.js";
import { Wire, socketUrl } from "./wire.js";

const OLDER_COUNT = 50;
// How often the room list (member counts) is asked for again.
const ROOMS_EVERY_MS = 30000;
// A log scrolled this close to its top asks for older history.
const NEAR_TOP = 40;

const $ = (id) => document.getElementById(id);

const state = {
  me: null, // our name, as the server welcomed it
  login: null, // {name, password, server_password} for logging in again
  welcomed: false, // on the current connection
  everWelcomed: false,
  leaving: false, // /quit or the Quit button: a close is expected
  asking: false, // the login form waits for the user (a need or a refusal)
  conversations: new Map(), // key -> Conversation
  current: null, // the Conversation shown
  room: LOBBY, // where lines typed in a private conversation are sent from
  directory: new Map(), // room key -> {name, count, topic}
  rejoin: [], // rooms to join again after reconnecting
  restoring: new Set(), // room keys being joined again: no switching to them
  queue: [], // frames typed while disconnected, sent once back
  asked: new Set(), // "who:ROOM", "rooms": answers to show in the log (typed /who, /rooms)
  status: null, // what the status line says (a text, or a function wording it)
  loginText: null, // what the login form's message says (the same)
  leftText: null, // why we left (the same)
  ready: null, // a promise: the first language is in use (or English it stays)
};

const wire = new Wire(socketUrl(window.location), {
  open: () => sendHello(),
  event: (event) => handle(event),
  down: () => disconnected(),
  retry: (seconds, attempt) => retrying(seconds, attempt),
});

// --- logging in ------------------------------------------------------------------------

function sendHello() {
  state.welcomed = false;
  const hello = { type: "hello", name: state.login.name, lang: i18n.language() };
  if (state.login.password) hello.password = state.login.password;
  if (state.login.server_password) hello.server_password = state.login.server_password;
  wire.send(hello);
}

async function submitLogin(event) {
  event.preventDefault();
  await state.ready; // the hello says the language the page is worded in
  const name = $("name").value.trim();
  if (name === "") {
    loginError(() => _("Type a name first."));
    $("name").focus();
    return;
  }
  state.login = {
    name,
    password: $("password").value,
    server_password: $("server-password").value,
  };
  state.leaving = false;
  state.asking = false;
  loginError(() => _("Joining…"));
  if (wire.open && !state.welcomed) sendHello();
  else wire.connect();
}

function loginError(text) {
  state.loginText = text;
  $("login-error").textContent = i18n.worded(text);
}

function showLogin(text, focus = "name") {
  $("chat").hidden = true;
  $("left").hidden = true;
  $("login").hidden = false;
  loginError(text);
  const field = $(focus);
  field.focus();
  field.select();
}

function need(event) {
  state.asking = true;
  const text = String(event.text ?? "");
  if (event.what === "server_password") {
    $("server-password-row").hidden = false;
    showLogin(text || (() => _("This server needs a password.")), "server-password");
  } else {
    const name = state.login.name;
    showLogin(text || (() => _("{name} is registered: type its password.", { name })), "password");
  }
}

function refused(event) {
  const text = String(event.text ?? event.reason ?? "refused");
  if (state.everWelcomed && PASSING.has(event.reason)) {
    // Our old connection may still hold the name until the server notices it is gone.
    setStatus(() => _("{text} Trying again…", { text }));
    wire.socket?.close();
    return;
  }
  // The server keeps the connection for another hello after these (PROTOCOL.md).
  if (KEPT.has(event.reason)) state.asking = true;
  else wire.stop();
  const field = { "wrong-password": "password", "wrong-server-password": "server-password" };
  if (event.reason === "wrong-server-password") $("server-password-row").hidden = false;
  showLogin(text, field[event.reason] ?? "name");
}


function welcome(event) {
  const again = state.everWelcomed;
  state.me = String(event.name);
  state.login.name = state.me;
  state.welcomed = true;
  state.everWelcomed = true;
  wire.backoff.reset();
  $("login").hidden = true;
  $("left").hidden = true;
  $("chat").hidden = false;
  document.body.classList.remove("offline");
  const name = state.me;
  const hello = again ? () => _("Reconnected as {name}.", { name }) : () => _("Connected as {name}.", { name });
  setStatus(hello, !again);
  state.restoring = new Set(state.rejoin.map((name) => Conversation.key("room", name)));
  for (const name of state.rejoin) {
    if (nameKey(name) !== LOBBY) wire.send({ type: "join", room: name });
  }
  state.rejoin = [];
  for (const frame of state.queue.splice(0)) wire.send(frame);
  wire.send({ type: "rooms" });
  if (state.current === null) show(conversation("room", LOBBY));
  $("message").focus();
}

// After these the server does not want us back (PROTOCOL.md): no reconnecting.
const FINAL = new Set(["quit", "kicked", "banned", "elsewhere", "oper-failures"]);
// Refusals worth trying again after a reconnect (the old connection still holds the name...).
const PASSING = new Set(["name-taken", "server-closing", "server-full", "too-many-connections", "too-many-new-connections"]);

// Refusals after which the same connection may say hello again.
const KEPT = new Set(["name-taken", "invalid-name", "wrong-password"]);

function bye(event) {
  const text = event.text !== undefined ? String(event.text) : () => _("Bye!");
  if (state.leaving || FINAL.has(event.reason)) {
    left(text);
  } else {
    setStatus(text);
    state.current?.addLine(text, "error");
  }
}

function left(text) {
  state.leaving = true;
  wire.stop();
  $("chat").hidden = true;
  $("login").hidden = true;
  $("left").hidden = false;
  state.leftText = text;
  $("left-text").textContent = i18n.worded(text);
  $("again-button").focus();
}

// --- the connection --------------------------------------------------------------------

function disconnected() {
  if (state.asking) {
    wire.stop(); // waiting for the user to fix the login: the next Join connects again
    return;
  }
  if (state.leaving) {
    left(() => _("You left the chat."));
    return;
  }
  document.body.classList.add("offline");
  if (state.welcomed) {
    state.rejoin = joinedRooms();
    for (const conv of state.conversations.values()) conv.joined = false;
    state.current?.addLine(() => _("Disconnected from the server."), "error");
  }
  state.welcomed = false;
}

function retrying(seconds, attempt) {
  const fields = () => ({ seconds: i18n.number(seconds), attempt });
  if (state.everWelcomed) {
    setStatus(() => _("Disconnected: reconnecting in {seconds} s (attempt {attempt})…", fields()));
  } else {
    loginError(() => _("Cannot reach the server: trying again in {seconds} s (attempt {attempt})…", fields()));
  }
}

function setStatus(text, fade = false) {
  const status = $("status");
  status.hidden = false;
  state.status = text;
  status.textContent = i18n.worded(text);
  status.classList.toggle("fading", fade);
}

// --- what the server says --------------------------------------------------------------

const HANDLERS = {
  need,
  refused,
  welcome,
  bye,
  ...roomHandlers({
    state,
    room: (name) => room(name),
    conversation: (kind, name) => conversation(kind, name),
    isMe: (name) => isMe(name),
    show: (conv) => show(conv),
    send: (frame) => wire.send(frame),
    status: (text, fade) => setStatus(text, fade),
    lists: () => renderLists(state, ACTIONS),
    header: () => renderHeader(),
    joinedRooms: () => joinedRooms(),
  }),
};

function handle(event) {
  const handler = HANDLERS[event.type];
  if (handler !== undefined) handler(event);
}

function conversation(kind, name) {
  const key = Conversation.key(kind, name);
  let conv = state.conversations.get(key);
  if (conv === undefined) {
    conv = new Conversation(document, kind, String(name));
    state.conversations.set(key, conv);
    $("logs").append(conv.wrap);
    conv.olderButton.addEventListener("click", () => askOlder(conv));
    conv.wrap.addEventListener("scroll", () => {
      if (conv.wrap.scrollTop < NEAR_TOP) askOlder(conv);
    });
  }
  return conv;
}

function room(name) {
  return conversation("room", name);
}

function isMe(name) {
  return state.me !== null && nameKey(name) === nameKey(state.me);
}

function joinedRooms() {
  return [...state.conversations.values()]
    .filter((conv) => conv.kind === "room" && conv.joined)
    .map((conv) => conv.name);
}

function askOlder(conv) {
  if (conv.kind !== "room" || !conv.joined || !conv.more || conv.loadingOlder || !state.welcomed) return;
  const before = conv.oldestId;
  if (before === null) return;
  conv.loadingOlder = true;
  wire.send({ type: "history", room: conv.name, before, count: OLDER_COUNT });
}

// --- showing it ------------------------------------------------------------------------

function show(conv) {
  if (state.current !== null) state.current.wrap.hidden = true;
  state.current = conv;
  conv.wrap.hidden = false;
  conv.unread = 0;
  if (conv.kind === "room" && conv.joined) state.room = conv.name;
  conv.scrollToEnd();
  renderHeader();
  renderLists(state, ACTIONS);
  closeDrawers();
}

function renderHeader() {
  const conv = state.current;
  if (conv === null) return;
  $("title").textContent = conv.title;
  $("topic").textContent = conv.kind === "room" ? conv.topic : _("Private conversation");
  const inRoom = conv.kind === "room" && conv.joined;
  $("leave-button").hidden = !(inRoom && nameKey(conv.name) !== LOBBY);
  $("topic-button").hidden = !inRoom;
}

// What the lists' buttons do.
const ACTIONS = {
  show: (conv) => show(conv),
  join: (name) => wire.send({ type: "join", room: name }),
  write: (name) => {
    show(conversation("private", name));
    $("message").focus();
  },
};

// --- the language ----------------------------------------------------------------------

/** Word the page's own texts again, in the language now in use. */
function relabel() {
  if (state.status !== null) $("status").textContent = i18n.worded(state.status);
  if (state.loginText !== null) $("login-error").textContent = i18n.worded(state.loginText);
  if (state.leftText !== null) $("left-text").textContent = i18n.worded(state.leftText);
  for (const conv of state.conversations.values()) conv.relabel();
  renderHeader();
  renderLists(state, ACTIONS);
}

// --- what the user does ----------------------------------------------------------------

/** What to send for a typed line, or null (nothing to send). */
function frameFor(text) {
  const conv = state.current;
  const command = text.match(/^\/(part|leave)(?:\s+#?(\S+))?\s*$/iu);
  if (command) return { type: "part", room: command[2] ?? currentRoom() };
  if (/^\/quit\b/iu.test(text)) state.leaving = true;
  if (/^\/who\s*$/iu.test(text)) state.asked.add(`who:${nameKey(currentRoom())}`);
  if (/^\/rooms\s*$/iu.test(text)) state.asked.add("rooms");
  // The server answers in the language typed; the page follows if it has it.
  const lang = text.match(/^\/lang\s+(\S+)\s*$/iu);
  if (lang) i18n.follow(lang[1]);
  // Kept (in memory only) to log in again after a reconnect, as the terminal client does.
  const secret = text.match(/^\/(?:register|password)\s+(.+)$/iu);
  if (secret && state.login) state.login.password = secret[1].trim();
  if (conv !== null && conv.kind === "private") {
    // An action in a private conversation stays in it, as IRC words one: "* ana waves".
    const action = text.match(/^\/me\s+(.+)$/iu);
    if (action) return { type: "private", to: conv.name, text: `* ${state.me} ${action[1]}` };
    if (!(text.startsWith("/") && !text.startsWith("//"))) {
      const said = text.startsWith("//") ? text.slice(1) : text;
      return { type: "private", to: conv.name, text: said };
    }
  }
  return { type: "line", room: currentRoom(), text };
}

function currentRoom() {
  const conv = state.current;
  return conv !== null && conv.kind === "room" && conv.joined ? conv.name : state.room;
}

function submitMessage(event) {
  event.preventDefault();
  const field = $("message");
  const text = field.value;
  if (text.trim() === "") return;
  const frame = frameFor(text);
  if (!wire.send(frame)) {
    state.queue.push(frame);
    const text = () => _("Not connected: this will be sent once the page is back online.");
    setStatus(text);
    state.current?.addLine(text, "error");
  }
  field.value = "";
}

function joinRoom(event) {
  event.preventDefault();
  const field = $("join-room");
  const name = field.value.trim().replace(/^#/u, "");
  if (name === "") return;
  wire.send({ type: "join", room: name });
  field.value = "";
  $("message").focus();
}

function cycle(step) {
  const all = [...state.conversations.values()].filter((c) => c.joined || c.kind === "private");
  if (all.length === 0) return;
  const index = all.indexOf(state.current);
  show(all[(index + step + all.length) % all.length]);
}

function keys(event) {
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    cycle(event.key === "ArrowUp" ? -1 : 1);
    $("message").focus();
  } else if (event.key === "Escape") {
    escapeDrawer();
  }
}

function start() {
  i18n.onLanguage(relabel);
  state.ready = i18n.start({
    // The server words its own texts in it from now on (a hello that follows says it too).
    switched: (lang) => state.welcomed && wire.send({ type: "lang", lang }),
    failed: () => setStatus(() => _("The page could not load that language: try again later."), true),
  });
  $("login-form").addEventListener("submit", submitLogin);
  $("send-form").addEventListener("submit", submitMessage);
  $("join-form").addEventListener("submit", joinRoom);
  $("rooms-toggle").addEventListener("click", (e) => toggleDrawer("sidebar", e.currentTarget));
  $("people-toggle").addEventListener("click", (e) => toggleDrawer("people", e.currentTarget));
  $("leave-button").addEventListener("click", () => {
    if (state.current?.kind === "room") wire.send({ type: "part", room: state.current.name });
  });
  $("topic-button").addEventListener("click", () => {
    const field = $("message");
    field.value = `/topic ${state.current?.topic ?? ""}`;
    closeDrawers();
    field.focus();
  });
  $("quit-button").addEventListener("click", () => {
    state.leaving = true;
    if (!wire.send({ type: "quit" })) left(() => _("You left the chat."));
  });
  $("again-button").addEventListener("click", () => showLogin(""));
  document.addEventListener("keydown", keys);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.current !== null) {
      state.current.unread = 0;
      renderLists(state, ACTIONS);
    }
  });
  // Back online: try at once; and check that the connection still answers.
  window.addEventListener("online", () => {
    wire.hurry();
    if (state.welcomed) wire.probe({ type: "rooms" });
  });
  // The room list's counts, asked for now and then: also tells a dead connection.
  setInterval(() => {
    if (state.welcomed) wire.probe({ type: "rooms" });
  }, ROOMS_EVERY_MS);
  $("name").focus();
}

start();
