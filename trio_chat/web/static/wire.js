// The WebSocket to the server (/ws, JSON text frames; see ../PROTOCOL.md) and
// reconnecting with backoff when it drops (a server restart, Wi-Fi lost).

/** ws: or wss: to /ws on the host that served the page (wss: when the page came over https). */
export function socketUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** Waits that double from `first` up to `most` seconds, with a little jitter. */
export class Backoff {
  constructor(first = 1, most = 30) {
    this.first = first;
    this.most = most;
    this.attempt = 0;
  }

  /** The next wait in seconds (and counts the attempt). */
  next() {
    const base = Math.min(this.most, this.first * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(base * (0.8 + Math.random() * 0.4) * 10) / 10;
  }

  reset() {
    this.attempt = 0;
  }
}

/**
 * One chat connection at a time. `handlers`: open() when a socket opens,
 * event(object) for each frame, down(why) when it closes unasked; retry()
 * while waiting to reconnect, with the seconds and the attempt number.
 */
export class Wire {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.socket = null;
    this.backoff = new Backoff();
    this.timer = null;
    this.wanted = false; // true while the page wants to be connected
    this.heard = 0; // when the last frame came (Date.now())
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    this.wanted = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.socket !== null) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => this.handlers.open());
    socket.addEventListener("message", (frame) => this._receive(frame));
    socket.addEventListener("close", (close) => this._closed(socket, close));
  }

  send(frame) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Send a request that gets an answer; if nothing at all comes back within `within`
   * ms, the connection is taken for dead (Wi-Fi gone without a close) and replaced.
   */
  probe(frame, within = 10000) {
    const socket = this.socket;
    const asked = Date.now();
    if (!this.send(frame)) return;
    setTimeout(() => {
      if (socket === this.socket && this.heard < asked) this._abandon(socket);
    }, within);
  }

  _abandon(socket) {
    this.socket = null;
    socket.close();
    if (!this.wanted) return;
    this.handlers.down(1006);
    this.retryLater();
  }

  /** Close for good (the user quit, or the server said no): no reconnecting. */
  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.socket !== null) this.socket.close(1000);
    this.socket = null;
  }

  /** Try again now (the network came back) if a retry is waiting. */
  hurry() {
    if (this.wanted && this.timer !== null) this.connect();
  }

  /** Connect again after the next backoff wait. */
  retryLater() {
    if (!this.wanted || this.timer !== null) return;
    const seconds = this.backoff.next();
    this.handlers.retry(seconds, this.backoff.attempt);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, seconds * 1000);
  }

  _receive(frame) {
    this.heard = Date.now();
    let event;
    try {
      event = JSON.parse(frame.data);
    } catch {
      return; // not ours: the protocol is JSON text frames only
    }
    if (event !== null && typeof event === "object" && typeof event.type === "string") {
      this.handlers.event(event);
    }
  }

  _closed(socket, close) {
    if (socket !== this.socket) return;
    this.socket = null;
    if (!this.wanted) return;
    this.handlers.down(close.code);
    this.retryLater();
  }
}
