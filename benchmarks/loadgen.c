/* The benchmark's load generator in C: the same scenarios and JSON as
 * trio_chat/loadgen.py, at a fraction of the CPU per delivery, so that a fast
 * server (or one that sends every message in its own segment, like the
 * threaded original) is measured, not the generator.
 *
 * Build: cc -O2 -o loadgen benchmarks/loadgen.c      (trio-chat bench does it)
 * Run:   loadgen --port P --clients N --senders S --rates 100,200 --duration 5
 *        [--stalled K] [--padding B] [--server-pid PID] [--capacity] [--irc]
 *
 * With --irc the clients speak IRC (RFC 2812) to an IRC port: NICK, USER and
 * JOIN #lobby, registered once the 366 (end of NAMES) of the JOIN arrives;
 * lines are PRIVMSG #lobby, heard as ":nick!user@host PRIVMSG #lobby :m ...";
 * the server's PINGs are answered.
 *
 * One epoll loop drives every socket. Each measured message carries its send
 * time (CLOCK_MONOTONIC, shared by all processes): "m [pad ]PHASE SEQ NS".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
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
    int fd;
    int welcomed, synced, stalled, closed;
    long received;
    char *in;            /* partial line */
    size_t in_len, in_cap;
    char *out;           /* unsent bytes */
    size_t out_len, out_cap;
} client_t;

static client_t *clients;
static int nclients, nstalled, epfd, phase;
static int64_t *lat;
static size_t nlat, lat_cap;
static const char *host = "127.0.0.1";
static int port, server_pid = -1, irc;
/* What marks a measured line, and a sync line's end, in text and in IRC. */
static const char *mark = ": m ", *sync_end = ": sync";

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double now_s(void) { return now_ns() / 1e9; }

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
    /* fields after ')' : state(3) ... utime is field 14, stime 15 */
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14) ut = strtoul(tok, NULL, 10);
        if (field == 15) { st = strtoul(tok, NULL, 10); break; }
    }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static long server_status_kb(const char *key) {
    if (server_pid < 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long value = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            value = strtol(line + klen + 1, NULL, 10);
            break;
        }
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

static void send_data(client_t *c, const char *data, size_t n) {
    if (c->closed) return;
    if (!c->out_len) {
        ssize_t sent = send(c->fd, data, n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN) { close_client(c); return; }
            sent = 0;
        }
        if ((size_t)sent == n) return;
        data += sent;
        n -= sent;
        watch(c, EPOLLIN | EPOLLOUT);
    }
    append(&c->out, &c->out_len, &c->out_cap, data, n);
}

static void flush_out(client_t *c) {
    ssize_t sent = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno != EAGAIN) close_client(c);
        return;
    }
    memmove(c->out, c->out + sent, c->out_len - sent);
    c->out_len -= sent;
    if (!c->out_len) watch(c, (c->stalled && c->welcomed) ? 0 : EPOLLIN);
}

static void send_data(client_t *c, const char *data, size_t n);

static void line_in(client_t *c, char *line, size_t n, int64_t now) {
    if (n && line[n - 1] == '\r') n--;
    char *at = memmem(line, n, mark, 4);
    if (at) {
        /* the last three numbers: PHASE SEQ NS */
        char *end = line + n, *p = end;
        int spaces = 0;
        char *fields[3];
        while (p > at && spaces < 3) {
            p--;
            if (*p == ' ') fields[2 - spaces++] = p + 1;
        }
        if (spaces == 3 && atoi(fields[0]) == phase) {
            c->received++;
            int64_t sent = strtoll(fields[2], NULL, 10);
            if (nlat == lat_cap) {
                lat_cap = lat_cap ? lat_cap * 2 : 1 << 20;
                lat = realloc(lat, lat_cap * sizeof *lat);
            }
            lat[nlat++] = now - sent;
        }
    } else if (!c->welcomed && (irc ? line[0] == ':' && memmem(line, n, " 366 ", 5) != NULL
                                    : n >= 11 && !memcmp(line, "*** Welcome", 11))) {
        c->welcomed = 1;
        if (c->stalled) watch(c, 0);
    } else if (irc && n >= 5 && !memcmp(line, "PING ", 5)) {
        char pong[600];
        int len = snprintf(pong, sizeof pong, "PONG %.*s\r\n", (int)(n - 5 > 500 ? 500 : n - 5),
                           line + 5);
        send_data(c, pong, len);
    } else if (n >= 6 && !memcmp(line + n - 6, sync_end, 6)) {
        c->synced = 1;
    }
}

static void read_client(client_t *c) {
    static char buf[1 << 18];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { close_client(c); return; }
    int64_t now = now_ns();
    char *start = buf, *end = buf + n, *nl;
    if (c->in_len) {
        nl = memchr(start, '\n', end - start);
        if (!nl) { append(&c->in, &c->in_len, &c->in_cap, start, end - start); return; }
        append(&c->in, &c->in_len, &c->in_cap, start, nl - start);
        line_in(c, c->in, c->in_len, now);
        c->in_len = 0;
        start = nl + 1;
    }
    while ((nl = memchr(start, '\n', end - start))) {
        line_in(c, start, nl - start, now);
        start = nl + 1;
    }
    if (start < end) append(&c->in, &c->in_len, &c->in_cap, start, end - start);
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
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->stalled = i < nstalled;
    if (c->stalled) {
        int small = 4096;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        exit(1);
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    char name[96];
    int len = irc ? snprintf(name, sizeof name, "NICK b%d\r\nUSER b%d 0 * :b%d\r\nJOIN #lobby\r\n",
                             i, i, i)
                  : snprintf(name, sizeof name, "b%d\n", i);
    send_data(c, name, len);
}

static double connect_all(void) {
    double start = now_s();
    int next = 0, welcomed = 0;
    while (welcomed < nclients) {
        int in_flight = next - welcomed;
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

static double sync_all(void) {
    double start = now_s();
    client_t *first = &clients[nstalled];
    if (irc) send_data(first, "PRIVMSG #lobby :sync\r\n", 22);
    else send_data(first, "sync\n", 5);
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

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(double q) {
    if (!nlat) return -1;
    size_t i = (size_t)(q * nlat);
    if (i >= nlat) i = nlat - 1;
    return lat[i] / 1e6;
}

static long delivered(void) {
    long total = 0;
    for (int i = 0; i < nclients; i++)
        if (!clients[i].stalled) total += clients[i].received;
    return total;
}

static int stalled_dropped(void) {
    int dropped = 0;
    static char buf[1 << 20];
    for (int i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (!c->stalled) continue;
        while (!c->closed) {
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EAGAIN) break;
            if (n <= 0) close_client(c);
        }
        dropped += c->closed;
    }
    return dropped;
}

static long chat(int senders, double rate, double duration, int padding, int first_phase) {
    phase++;
    nlat = 0;
    for (int i = 0; i < nclients; i++) clients[i].received = 0;
    int readers = 0;
    for (int i = 0; i < nclients; i++) readers += !clients[i].stalled && !clients[i].closed;
    client_t **talkers = malloc(senders * sizeof *talkers);
    for (int i = 0, t = 0; i < nclients && t < senders; i++)
        if (!clients[i].stalled) talkers[t++] = &clients[i];
    double interval = senders / rate, start = now_s();
    double *next = malloc(senders * sizeof *next);
    for (int i = 0; i < senders; i++) next[i] = start + i * interval / senders;
    char *pad = malloc(padding + 2);
    memset(pad, 'x', padding);
    pad[padding] = padding ? ' ' : 0;
    pad[padding + 1] = 0;
    long sent = 0;
    double cpu0 = self_cpu(), scpu0 = server_cpu();
    char msg[4096 + 64];
    for (;;) {
        double now = now_s();
        if (now - start >= duration) break;
        double soonest = 1e18;
        for (int i = 0; i < senders; i++) {
            while (next[i] <= now) {
                int len = snprintf(msg, sizeof msg, "%sm %s%d %ld %lld%s",
                                   irc ? "PRIVMSG #lobby :" : "", pad, phase, sent,
                                   (long long)now_ns(), irc ? "\r\n" : "\n");
                send_data(talkers[i], msg, len);
                sent++;
                next[i] += interval;
            }
            if (next[i] < soonest) soonest = next[i];
        }
        /* Round up: a 0 ms timeout would spin until the next send is due. */
        double wait = (soonest - now_s()) * 1000;
        poll_once(wait > 0 ? (int)wait + 1 : 0);
    }
    long expected = sent * readers - sent;
    double drain_end = now_s() + 3;
    while (delivered() < expected && now_s() < drain_end) poll_once(20);
    double cpu = self_cpu() - cpu0, scpu = server_cpu() - scpu0, elapsed = now_s() - start;
    qsort(lat, nlat, sizeof *lat, cmp64);
    long got = delivered();
    int disconnected = 0;
    for (int i = 0; i < nclients; i++) disconnected += clients[i].closed && !clients[i].stalled;
    printf("%s{\"rate\": %g, \"sent\": %ld, \"expected_deliveries\": %ld, \"deliveries\": %ld, "
           "\"lost\": %ld, \"deliveries_per_s\": %g, \"messages_per_s\": %g, \"p50_ms\": %g, "
           "\"p99_ms\": %g, \"p999_ms\": %g, \"max_ms\": %g, \"loadgen_cpu_s\": %g, "
           "\"elapsed_s\": %g, \"stalled_dropped\": %d, \"disconnected\": %d, "
           "\"server_cpu_s\": %g, \"server_peak_rss_kb\": %ld}",
           first_phase ? "" : ", ", rate, sent, expected, got, expected - got, got / duration,
           sent / duration, pct(0.5), pct(0.99), pct(0.999), nlat ? lat[nlat - 1] / 1e6 : -1,
           cpu, elapsed, stalled_dropped(), disconnected, scpu, server_status_kb("VmHWM"));
    free(talkers);
    free(next);
    free(pad);
    return expected - got;
}

int main(int argc, char **argv) {
    int senders = 10, padding = 0, capacity = 0;
    double duration = 5;
    char *rates = "100";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--host")) host = v, i++;
        else if (!strcmp(a, "--port")) port = atoi(v), i++;
        else if (!strcmp(a, "--clients")) nclients = atoi(v), i++;
        else if (!strcmp(a, "--senders")) senders = atoi(v), i++;
        else if (!strcmp(a, "--rates")) rates = strdup(v), i++;
        else if (!strcmp(a, "--duration")) duration = atof(v), i++;
        else if (!strcmp(a, "--stalled")) nstalled = atoi(v), i++;
        else if (!strcmp(a, "--padding")) padding = atoi(v), i++;
        else if (!strcmp(a, "--server-pid")) server_pid = atoi(v), i++;
        else if (!strcmp(a, "--capacity")) capacity = 1;
        else if (!strcmp(a, "--irc")) irc = 1, mark = " :m ", sync_end = " :sync";
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (padding > 4000) padding = 4000;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    epfd = epoll_create1(0);
    clients = calloc(nclients, sizeof *clients);
    long idle_rss = server_status_kb("VmRSS");
    double cpu0 = server_cpu();
    double registration = connect_all();
    double sync_s = sync_all();
    long rss = server_status_kb("VmRSS");
    printf("{\"clients\": %d, \"registration_s\": %g, \"sync_s\": %g, \"server_rss_kb\": %ld, "
           "\"registration_server_cpu_s\": %g",
           nclients, registration, sync_s, rss, server_cpu() - cpu0);
    if (idle_rss >= 0 && rss >= 0)
        printf(", \"kb_per_client\": %g", (double)(rss - idle_rss) / nclients);
    printf(", \"phases\": [");
    if (!capacity) {
        int first = 1;
        char *save = NULL;
        for (char *r = strtok_r(rates, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
            long lost = chat(senders, atof(r), duration, padding, first);
            first = 0;
            fflush(stdout);
            if (lost) break; /* past what the server sustains */
        }
    }
    printf("]}\n");
    fflush(stdout);
    _exit(0);
}
