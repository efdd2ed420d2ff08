/* The load generator's three wires (included by loadgen.c, one translation unit):
 *
 * - text: "NAME\n" to register, "*** Welcome" when in, lines "m ..." heard as
 *   "NAME: m ...".
 * - IRC (RFC 2812): NICK and USER, JOIN #lobby at the 001 (InspIRCd refuses a JOIN
 *   before it), in once the 366 (end of NAMES) of the JOIN arrives; lines are PRIVMSG #lobby, heard as
 *   ":nick!user@host PRIVMSG #lobby :m ..."; the server's PINGs are answered.
 * - WebSocket (RFC 6455, the web door's JSON protocol, trio_chat/web/PROTOCOL.md):
 *   GET /ws upgrade, then masked client frames {"type":"hello","name":...},
 *   {"type":"line","room":"#lobby","text":"m ..."}; in at {"type":"welcome"};
 *   the server's text frames are parsed only as far as the measurement needs
 *   (its own messages come back to a page: those are not counted). Frames are
 *   masked with the all-zero key, which leaves the payload as it is.
 */
#include <stdio.h>
#include <string.h>

enum wire { TEXT, IRC, WS };

static long unattributed; /* deliveries that came without their sender's name */

/* Called by the parsers below (defined in loadgen.c). */
static void on_measured(client_t *c, const char *text, size_t n, int64_t arrival, int64_t read);
static void on_welcome(client_t *c);
static void on_sync(client_t *c);
static void queue_out(client_t *c, const char *data, size_t n);

/* A masked client frame of `n` payload bytes into out (room for n + 8): its length. */
static size_t ws_frame(char *out, int opcode, const char *payload, size_t n) {
    size_t head = 2;
    out[0] = (char)(0x80 | opcode);
    if (n < 126) {
        out[1] = (char)(0x80 | n);
    } else {
        out[1] = (char)(0x80 | 126);
        out[2] = (char)(n >> 8);
        out[3] = (char)(n & 0xff);
        head = 4;
    }
    memset(out + head, 0, 4);
    memcpy(out + head + 4, payload, n);
    return head + 4 + n;
}

/* What a client sends first. */
static size_t wire_greeting(client_t *c, char *out, size_t cap, const char *host, int port) {
    switch (c->wire) {
    case IRC:
        return snprintf(out, cap, "NICK b%d\r\nUSER b%d 0 * :b%d\r\n", c->index, c->index,
                        c->index);
    case WS:
        return snprintf(out, cap,
                        "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n",
                        host, port);
    default:
        return snprintf(out, cap, "b%d\n", c->index);
    }
}

/* One chat line `text` (no newline) on the client's wire, into out: its length. */
static size_t wire_say(client_t *c, char *out, size_t cap, const char *text) {
    if (c->wire == IRC) return snprintf(out, cap, "PRIVMSG #lobby :%s\r\n", text);
    if (c->wire == TEXT) return snprintf(out, cap, "%s\n", text);
    char json[4200];
    int n = snprintf(json, sizeof json, "{\"type\":\"line\",\"room\":\"#lobby\",\"text\":\"%s\"}",
                     text);
    return ws_frame(out, 1, json, (size_t)n);
}

/* One text or IRC line received (without its newline). */
static void wire_line(client_t *c, char *line, size_t n, int64_t arrival, int64_t read) {
    if (n && line[n - 1] == '\r') n--;
    const char *mark = c->wire == IRC ? " :m " : ": m ";
    char *at = memmem(line, n, mark, 4);
    if (at) {
        on_measured(c, at + 2, line + n - (at + 2), arrival, read);
    } else if (c->wire == TEXT && n > 2 && line[0] == 'm' && line[1] == ' ') {
        /* The threaded original relays what one recv() got: a second line in it comes
         * without its "name: ". Delivered all the same. */
        long before = c->received;
        on_measured(c, line, n, arrival, read);
        unattributed += c->received - before;
    } else if (!c->welcomed && (c->wire == IRC ? line[0] == ':' && memmem(line, n, " 366 ", 5)
                                               : n >= 11 && !memcmp(line, "*** Welcome", 11))) {
        on_welcome(c);
    } else if (c->wire == IRC && !c->welcomed && line[0] == ':' && memmem(line, n, " 001 ", 5)) {
        queue_out(c, "JOIN #lobby\r\n", 13); /* once registered: some servers refuse it before */
    } else if (c->wire == IRC && n >= 5 && !memcmp(line, "PING ", 5)) {
        char pong[600];
        int len = snprintf(pong, sizeof pong, "PONG %.*s\r\n", (int)(n - 5 > 500 ? 500 : n - 5),
                           line + 5);
        queue_out(c, pong, (size_t)len);
    } else if (n >= 6 && !memcmp(line + n - 6, c->wire == IRC ? " :sync" : ": sync", 6)) {
        on_sync(c);
    }
}

/* One WebSocket text frame's JSON received. */
static void ws_message(client_t *c, char *json, size_t n, int64_t arrival, int64_t read) {
    char own[48];
    int own_len = snprintf(own, sizeof own, "\"from\":\"b%d\"", c->index);
    char *at = memmem(json, n, "\"text\":\"m ", 10);
    if (at) {
        if (memmem(json, n, own, (size_t)own_len)) return; /* our own, back */
        char *text = at + 8, *end = memchr(text, '"', json + n - text);
        if (end) on_measured(c, text, (size_t)(end - text), arrival, read);
    } else if (!c->welcomed && n >= 18 && !memcmp(json, "{\"type\":\"welcome\"", 17)) {
        on_welcome(c);
    } else if (memmem(json, n, "\"text\":\"sync\"", 13)) {
        on_sync(c);
    }
}

/* Whatever complete frames `c->in` holds (after the upgrade): handled, then dropped. */
static void ws_frames(client_t *c, int64_t arrival, int64_t read) {
    size_t at = 0;
    unsigned char *b = (unsigned char *)c->in;
    while (c->in_len - at >= 2) {
        size_t size = b[at + 1] & 0x7f, start = at + 2;
        if (size == 126) {
            if (c->in_len - at < 4) break;
            size = (size_t)b[at + 2] << 8 | b[at + 3];
            start += 2;
        } else if (size == 127) {
            if (c->in_len - at < 10) break;
            size = 0;
            for (int i = 0; i < 8; i++) size = size << 8 | b[at + 2 + i];
            start += 8;
        }
        if (c->in_len < start + size) break;
        int opcode = b[at] & 0x0f;
        if (opcode == 1) ws_message(c, c->in + start, size, arrival, read);
        else if (opcode == 9 && size < 126) {
            char pong[140];
            queue_out(c, pong, ws_frame(pong, 0xA, c->in + start, size));
        }
        at = start + size;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
}

/* Bytes received by a WebSocket client: the 101 answer first, then frames. */
static int ws_bytes(client_t *c, int64_t arrival, int64_t read) {
    if (!c->upgraded) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end) return 0;
        if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12)) return -1;
        size_t head = (size_t)(end + 4 - c->in);
        memmove(c->in, c->in + head, c->in_len - head);
        c->in_len -= head;
        c->upgraded = 1;
        char hello[80], frame[96];
        int n = snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"name\":\"b%d\"}", c->index);
        queue_out(c, frame, ws_frame(frame, 1, hello, (size_t)n));
    }
    ws_frames(c, arrival, read);
    return 0;
}
