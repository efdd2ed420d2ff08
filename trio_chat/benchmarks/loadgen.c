/* The benchmark's load generator in C: the scenarios and JSON of
 * trio_chat/tools/loadgen.py, at a fraction of the CPU per delivery, so that a
 * fast server is measured, not the generator. Its wires (text, IRC, WebSocket)
 * are in loadgen_wire.h.
 *
 * Build: cc -O2 -pthread -o loadgen loadgen.c     (trio-chat bench does it)
 * Run:   loadgen --port P --clients N --senders S --rates 100,200 --duration 5
 *        [--warmup 1] [--stalled K] [--padding B] [--server-pid PID] [--capacity]
 *        [--irc | --web | --mix --irc-port P --web-port P] [--sender loop]
 *
 * How it measures what a client sees (README, Performance):
 * - Send: a thread of its own wakes at each message's scheduled time
 *   (clock_nanosleep, absolute) and stamps it (CLOCK_REALTIME) just before its
 *   write: "m [pad ]PHASE SEQ NS". Reading never delays a send. How late each
 *   send was against its schedule is reported (send_lag_p99_ms).
 *   --sender loop sends from the reading loop instead, as earlier versions did.
 * - Receive: one epoll loop reads every receiver, but the latency is taken from
 *   the kernel's arrival stamp of the bytes (SO_TIMESTAMPNS), so a receiver read
 *   after 999 others is not charged for the generator's queue. The time the loop
 *   read it is reported beside (read_p99_ms).
 * - Messages sent in the first --warmup seconds of each rate count for loss, not
 *   for latency. Loss: every reader must hear every message but its own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd, index, wire;
    int welcomed, synced, stalled, closed, upgraded;
    long received;
    char *in; /* partial line, or frames */
    size_t in_len, in_cap;
    char *out; /* unsent bytes */
    size_t out_len, out_cap;
    pthread_mutex_t lock; /* the sender thread and the loop both write */
} client_t;

#include "loadgen_wire.h"

typedef struct {
    int64_t *v;
    size_t n, cap;
} samples_t;

static client_t *clients;
static int nclients, nstalled, epfd, phase, mix, default_wire = TEXT, sender_loop;
static int port, irc_port, web_port, server_pid = -1;
static const char *host = "127.0.0.1";
/* Latencies in ns of the same deliveries, measured four ways (see chat()): from the
 * send stamp to the kernel's arrival stamp (the figure), to the loop's read, from
 * the scheduled send time to arrival, and to arrival with the warm-up counted; and
 * the sender's lateness against its schedule. */
static samples_t arrived, seen, scheduled, with_warmup, lag;
static int64_t schedule_origin; /* realtime ns of message 0's scheduled send */
static double schedule_rate;
static int64_t counted_from;         /* messages sent before this (realtime ns): warm-up */
/* --readers threads: a blocking reader thread per socket during the measured phases
 * (how some generators read), instead of the one epoll loop. */
static int reader_threads;
static pthread_mutex_t samples_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int64_t real_ns(void) { return clock_ns(CLOCK_REALTIME); }
static double now_s(void) { return clock_ns(CLOCK_MONOTONIC) / 1e9; }

static void add(samples_t *s, int64_t x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1 << 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double server_cpu(void) {
    if (server_pid < 0) return 0;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    unsigned long ut = 0, st = 0;
    int field = 2; /* after ')': state is field 3, utime 14, stime 15 */
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14) ut = strtoul(tok, NULL, 10);
        if (field == 15) { st = strtoul(tok, NULL, 10); break; }
    }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* Seconds the server's threads waited for a CPU while runnable (/proc/PID/task/ * /schedstat,
 * field 2, summed): large beside server_cpu_s, the server was starved by other processes
 * on its core, not waiting for anything of its own. */
static double server_wait(void) {
    if (server_pid < 0) return 0;
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", server_pid);
    DIR *tasks = opendir(path);
    if (!tasks) return 0;
    unsigned long long total = 0;
    for (struct dirent *t; (t = readdir(tasks));) {
        if (t->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", server_pid, t->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long run = 0, wait = 0;
        if (fscanf(f, "%llu %llu", &run, &wait) == 2) total += wait;
        fclose(f);
    }
    closedir(tasks);
    return (double)total / 1e9;
}

static long server_status_kb(const char *key) {
    if (server_pid < 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long value = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            value = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return value;
}

static void watch(client_t *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void close_client(client_t *c) {
    if (c->closed) return;
    c->closed = 1;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
    if (*len + n > *cap) {
        *cap = (*len + n) * 2 + 256;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

/* Write now what can be written, queue the rest for EPOLLOUT (c->lock held). */
static void send_locked(client_t *c, const char *data, size_t n) {
    if (c->closed) return;
    if (!c->out_len) {
        ssize_t sent = send(c->fd, data, n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN) { close_client(c); return; }
            sent = 0;
        }
        if ((size_t)sent == n) return;
        data += sent;
        n -= (size_t)sent;
        watch(c, EPOLLIN | EPOLLOUT);
    }
    append(&c->out, &c->out_len, &c->out_cap, data, n);
}

static void queue_out(client_t *c, const char *data, size_t n) {
    pthread_mutex_lock(&c->lock);
    send_locked(c, data, n);
    pthread_mutex_unlock(&c->lock);
}

static void flush_out(client_t *c) {
    pthread_mutex_lock(&c->lock);
    ssize_t sent = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN) close_client(c);
    } else {
        memmove(c->out, c->out + sent, c->out_len - (size_t)sent);
        c->out_len -= (size_t)sent;
        if (!c->out_len) watch(c, (c->stalled && c->welcomed) ? 0 : EPOLLIN);
    }
    pthread_mutex_unlock(&c->lock);
}

/* A measured line's "m [pad ]PHASE SEQ NS" (text: from "m "). */
static void on_measured(client_t *c, const char *text, size_t n, int64_t arrival, int64_t read) {
    const char *fields[3], *p = text + n;
    int spaces = 0;
    while (p > text && spaces < 3)
        if (*--p == ' ') fields[2 - spaces++] = p + 1;
    if (spaces < 3 || atoi(fields[0]) != phase) return; /* a late line of an earlier rate */
    int64_t sent = strtoll(fields[2], NULL, 10);
    /* A line cut or glued by the server (the threaded original relays what each recv()
     * got): a stamp from outside this rate is no delivery. */
    if (sent < schedule_origin - 1000000000 || sent > arrival + 1000000000) return;
    c->received++;
    int64_t due = schedule_origin + (int64_t)(strtoll(fields[1], NULL, 10) * 1e9 / schedule_rate);
    if (reader_threads) pthread_mutex_lock(&samples_lock);
    add(&with_warmup, arrival - sent);
    if (sent >= counted_from) { /* in the warm-up: counts for loss only */
        add(&arrived, arrival - sent);
        add(&seen, read - sent);
        add(&scheduled, arrival - due);
    }
    if (reader_threads) pthread_mutex_unlock(&samples_lock);
}

static void on_welcome(client_t *c) {
    c->welcomed = 1;
    if (c->stalled) watch(c, 0); /* stops reading */
}

static void on_sync(client_t *c) { c->synced = 1; }

/* One read of the client's socket into buf (the loop's, or a reader thread's own). */
static void read_into(client_t *c, char *buf, size_t size) {
    char control[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = {.iov_base = buf, .iov_len = size};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    ssize_t n = recvmsg(c->fd, &msg, 0);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { close_client(c); return; }
    int64_t read = real_ns(), arrival = read;
    for (struct cmsghdr *m = CMSG_FIRSTHDR(&msg); m; m = CMSG_NXTHDR(&msg, m))
        if (m->cmsg_level == SOL_SOCKET && m->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(m), sizeof ts);
            arrival = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
    if (c->wire == WS) {
        append(&c->in, &c->in_len, &c->in_cap, buf, (size_t)n);
        if (ws_bytes(c, arrival, read) < 0) close_client(c);
        return;
    }
    char *start = buf, *end = buf + n, *nl;
    if (c->in_len) {
        nl = memchr(start, '\n', (size_t)(end - start));
        if (!nl) { append(&c->in, &c->in_len, &c->in_cap, start, (size_t)(end - start)); return; }
        append(&c->in, &c->in_len, &c->in_cap, start, (size_t)(nl - start));
        wire_line(c, c->in, c->in_len, arrival, read);
        c->in_len = 0;
        start = nl + 1;
    }
    while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
        wire_line(c, start, (size_t)(nl - start), arrival, read);
        start = nl + 1;
    }
    if (start < end) append(&c->in, &c->in_len, &c->in_cap, start, (size_t)(end - start));
}

static void read_client(client_t *c) {
    static char buf[1 << 18];
    read_into(c, buf, sizeof buf);
}

static void poll_once(int timeout_ms) {
    struct epoll_event events[1024];
    int n = epoll_wait(epfd, events, 1024, timeout_ms);
    for (int i = 0; i < n; i++) {
        client_t *c = events[i].data.ptr;
        if (c->closed) continue;
        if (events[i].events & EPOLLOUT) flush_out(c);
        if (!c->closed && events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_client(c);
    }
}

static void open_client(int i) {
    client_t *c = &clients[i];
    c->index = i;
    c->wire = mix ? (int[]){TEXT, IRC, WS}[i % 3] : default_wire;
    pthread_mutex_init(&c->lock, NULL);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    c->stalled = i < nstalled;
    if (c->stalled) {
        int small = 4096; /* a reader that stops: a small window, so the server's side fills */
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    int to = mix ? (int[]){port, irc_port, web_port}[i % 3] : port;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(to)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        exit(1);
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    char greeting[512];
    queue_out(c, greeting, wire_greeting(c, greeting, sizeof greeting, host, to));
}

static double connect_all(void) {
    double start = now_s();
    int next = 0, welcomed = 0;
    while (welcomed < nclients) {
        int in_flight = next - welcomed; /* at most 200 registering at once: a crowd arriving */
        while (next < nclients && in_flight < 200) { open_client(next++); in_flight++; }
        poll_once(50);
        welcomed = 0;
        for (int i = 0; i < next; i++) welcomed += clients[i].welcomed;
        if (now_s() - start > 120) {
            fprintf(stderr, "registration timed out (%d of %d)\n", welcomed, nclients);
            exit(1);
        }
    }
    return now_s() - start;
}

/* Until every reading client has heard a marker: all earlier lines are in. */
static double sync_all(void) {
    double start = now_s();
    client_t *first = &clients[nstalled];
    char line[128];
    queue_out(first, line, wire_say(first, line, sizeof line, "sync"));
    first->synced = 1;
    for (;;) {
        int done = 1;
        for (int i = 0; i < nclients; i++)
            if (!clients[i].stalled && !clients[i].closed && !clients[i].synced) { done = 0; break; }
        if (done || now_s() - start > 120) break;
        poll_once(50);
    }
    return now_s() - start;
}

#include "loadgen_run.h"
