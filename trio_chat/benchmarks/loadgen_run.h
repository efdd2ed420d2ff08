/* The load generator's measured phases, its report and main (included by loadgen.c). */

typedef struct {
    client_t **talkers;
    int senders, padding, stop;
    double rate, duration;
    long sent;
    int64_t start_mono; /* the schedule's origin, CLOCK_MONOTONIC ns */
} schedule_t;

/* Send message `seq` on its talker, stamped now, just before the write. */
static void send_message(schedule_t *s, long seq, int64_t due_mono) {
    client_t *c = s->talkers[seq % s->senders];
    static char pad[4002];
    if (s->padding && !pad[0]) {
        memset(pad, 'x', (size_t)s->padding);
        pad[s->padding] = ' ';
    }
    char text[4200], out[4300];
    pthread_mutex_lock(&c->lock);
    int64_t now = real_ns();
    snprintf(text, sizeof text, "m %.*s%d %ld %lld", s->padding ? s->padding + 1 : 0, pad, phase,
             seq, (long long)now);
    send_locked(c, out, wire_say(c, out, sizeof out, text));
    pthread_mutex_unlock(&c->lock);
    add(&lag, clock_ns(CLOCK_MONOTONIC) - due_mono);
}

static int64_t due(schedule_t *s, long seq) {
    return s->start_mono + (int64_t)(seq * 1e9 / s->rate);
}

/* The sender thread: each message at its scheduled time, whatever the reading loop does. */
static void *sender(void *arg) {
    schedule_t *s = arg;
    int64_t end = s->start_mono + (int64_t)(s->duration * 1e9);
    for (long seq = 0;; seq++) {
        int64_t when = due(s, seq);
        if (when >= end) break;
        struct timespec ts = {.tv_sec = when / 1000000000, .tv_nsec = when % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
        send_message(s, seq, when);
        s->sent = seq + 1;
    }
    return NULL;
}

/* --sender loop: messages sent by the reading loop when it gets to them (earlier versions). */
static void send_from_loop(schedule_t *s) {
    int64_t end = s->start_mono + (int64_t)(s->duration * 1e9);
    for (;;) {
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now >= end) break;
        while (due(s, s->sent) <= now && due(s, s->sent) < end) {
            send_message(s, s->sent, due(s, s->sent));
            s->sent++;
        }
        double wait = (due(s, s->sent) - clock_ns(CLOCK_MONOTONIC)) / 1e6;
        poll_once(wait > 0 ? (int)wait + 1 : 0); /* rounded up: 0 would spin */
    }
}

static volatile int readers_stop;

/* --readers threads: one client's reader, blocked in poll() on its socket alone. */
static void *reader(void *arg) {
    client_t *c = arg;
    char *buf = malloc(1 << 16);
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    while (!readers_stop && !c->closed)
        if (poll(&p, 1, 50) > 0) read_into(c, buf, 1 << 16);
    free(buf);
    return NULL;
}

static pthread_t *start_readers(void) {
    pthread_t *threads = calloc((size_t)nclients, sizeof *threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 16);
    readers_stop = 0;
    for (int i = 0; i < nclients; i++) {
        client_t *c = &clients[i];
        if (c->stalled || c->closed) continue;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        int failed = pthread_create(&threads[i], &attr, reader, c);
        if (failed) {
            fprintf(stderr, "reader thread %d: %s\n", i, strerror(failed));
            exit(1);
        }
    }
    return threads;
}

static void stop_readers(pthread_t *threads) {
    readers_stop = 1;
    for (int i = 0; i < nclients; i++) {
        if (!threads[i]) continue;
        pthread_join(threads[i], NULL);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &clients[i]};
        if (!clients[i].closed) epoll_ctl(epfd, EPOLL_CTL_ADD, clients[i].fd, &ev);
    }
    free(threads);
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(samples_t *s, double q) {
    if (!s->n) return -1;
    size_t i = (size_t)(q * (double)s->n);
    return s->v[i >= s->n ? s->n - 1 : i] / 1e6;
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

/* A figure for the JSON: null when there was none. */
static const char *NUM(double x) {
    static char bufs[16][32];
    static int k;
    if (x < 0) return "null";
    char *out = bufs[k++ % 16];
    snprintf(out, 32, "%g", x);
    return out;
}

static long chat(int senders, double rate, double duration, double warmup, int padding,
                 int first_phase) {
    phase++;
    arrived.n = seen.n = scheduled.n = with_warmup.n = lag.n = 0;
    schedule_rate = rate;
    unattributed = 0;
    for (int i = 0; i < nclients; i++) clients[i].received = 0;
    int readers = 0;
    for (int i = 0; i < nclients; i++) readers += !clients[i].stalled && !clients[i].closed;
    schedule_t s = {.senders = senders, .padding = padding > 4000 ? 4000 : padding,
                    .rate = rate, .duration = duration};
    s.talkers = malloc((size_t)senders * sizeof *s.talkers);
    for (int i = 0, t = 0; i < nclients && t < senders; i++)
        if (!clients[i].stalled) s.talkers[t++] = &clients[i];
    double cpu0 = self_cpu(), scpu0 = server_cpu(), swait0 = server_wait(), start = now_s();
    s.start_mono = clock_ns(CLOCK_MONOTONIC);
    schedule_origin = real_ns() - (clock_ns(CLOCK_MONOTONIC) - s.start_mono);
    counted_from = real_ns() + (int64_t)(warmup * 1e9);
    pthread_t *threads = reader_threads ? start_readers() : NULL;
    if (sender_loop) {
        send_from_loop(&s);
    } else {
        pthread_t thread;
        pthread_create(&thread, NULL, sender, &s);
        while (now_s() - start < duration) poll_once(20);
        pthread_join(thread, NULL);
    }
    long expected = s.sent * readers - s.sent;
    double drain_end = now_s() + 3;
    while (delivered() < expected && now_s() < drain_end) poll_once(20);
    if (threads) stop_readers(threads);
    double swait = server_wait() - swait0;
    double cpu = self_cpu() - cpu0, scpu = server_cpu() - scpu0, elapsed = now_s() - start;
    qsort(arrived.v, arrived.n, sizeof *arrived.v, cmp64);
    qsort(seen.v, seen.n, sizeof *seen.v, cmp64);
    qsort(lag.v, lag.n, sizeof *lag.v, cmp64);
    qsort(scheduled.v, scheduled.n, sizeof *scheduled.v, cmp64);
    qsort(with_warmup.v, with_warmup.n, sizeof *with_warmup.v, cmp64);
    long got = delivered();
    int disconnected = 0;
    for (int i = 0; i < nclients; i++) disconnected += clients[i].closed && !clients[i].stalled;
    printf("%s{\"rate\": %g, \"sent\": %ld, \"expected_deliveries\": %ld, \"deliveries\": %ld, "
           "\"lost\": %ld, \"deliveries_per_s\": %g, \"messages_per_s\": %g, \"p50_ms\": %s, "
           "\"p99_ms\": %s, \"p999_ms\": %s, \"max_ms\": %s, \"read_p50_ms\": %s, "
           "\"read_p99_ms\": %s, \"read_max_ms\": %s, \"send_lag_p99_ms\": %s, "
           "\"send_lag_max_ms\": %s, \"scheduled_p50_ms\": %s, \"scheduled_p99_ms\": %s, "
           "\"with_warmup_p50_ms\": %s, \"with_warmup_p99_ms\": %s, "
           "\"measured\": %zu, \"unattributed\": %ld, \"warmup_s\": %g, "
           "\"loadgen_cpu_s\": %g, \"elapsed_s\": %g, \"stalled\": %d, \"stalled_dropped\": %d, "
           "\"disconnected\": %d, \"server_cpu_s\": %g, \"server_wait_s\": %g, "
           "\"server_peak_rss_kb\": %ld}",
           first_phase ? "" : ", ", rate, s.sent, expected, got, expected - got, got / duration,
           s.sent / duration, NUM(pct(&arrived, .5)), NUM(pct(&arrived, .99)),
           NUM(pct(&arrived, .999)), NUM(pct(&arrived, 1)), NUM(pct(&seen, .5)),
           NUM(pct(&seen, .99)), NUM(pct(&seen, 1)), NUM(pct(&lag, .99)), NUM(pct(&lag, 1)),
           NUM(pct(&scheduled, .5)), NUM(pct(&scheduled, .99)), NUM(pct(&with_warmup, .5)),
           NUM(pct(&with_warmup, .99)),
           arrived.n, unattributed, warmup, cpu, elapsed, nstalled, stalled_dropped(), disconnected,
           scpu, swait,
           server_status_kb("VmHWM"));
    free(s.talkers);
    return expected - got;
}

int main(int argc, char **argv) {
    int senders = 10, padding = 0, capacity = 0;
    double duration = 5, warmup = 0;
    char *rates = "100";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--host")) host = v, i++;
        else if (!strcmp(a, "--port")) port = atoi(v), i++;
        else if (!strcmp(a, "--irc-port")) irc_port = atoi(v), i++;
        else if (!strcmp(a, "--web-port")) web_port = atoi(v), i++;
        else if (!strcmp(a, "--clients")) nclients = atoi(v), i++;
        else if (!strcmp(a, "--senders")) senders = atoi(v), i++;
        else if (!strcmp(a, "--rates")) rates = strdup(v), i++;
        else if (!strcmp(a, "--duration")) duration = atof(v), i++;
        else if (!strcmp(a, "--warmup")) warmup = atof(v), i++;
        else if (!strcmp(a, "--stalled")) nstalled = atoi(v), i++;
        else if (!strcmp(a, "--padding")) padding = atoi(v), i++;
        else if (!strcmp(a, "--server-pid")) server_pid = atoi(v), i++;
        else if (!strcmp(a, "--sender")) sender_loop = !strcmp(v, "loop"), i++;
        else if (!strcmp(a, "--readers")) reader_threads = !strcmp(v, "threads"), i++;
        else if (!strcmp(a, "--capacity")) capacity = 1;
        else if (!strcmp(a, "--irc")) default_wire = IRC;
        else if (!strcmp(a, "--web")) default_wire = WS;
        else if (!strcmp(a, "--mix")) mix = 1;
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (senders > nclients - nstalled) senders = nclients - nstalled;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max; /* the soft limit up to what the hard limit allows */
    setrlimit(RLIMIT_NOFILE, &rl);
    epfd = epoll_create1(0);
    clients = calloc((size_t)nclients, sizeof *clients);
    long idle_rss = server_status_kb("VmRSS");
    double cpu0 = server_cpu();
    double registration = connect_all();
    double sync_s = sync_all();
    long rss = server_status_kb("VmRSS");
    printf("{\"generator\": \"c\", \"clients\": %d, \"registration_s\": %g, \"sync_s\": %g, "
           "\"server_rss_kb\": %ld, \"registration_server_cpu_s\": %g, \"nofile\": %ld, "
           "\"sender\": \"%s\", \"readers\": \"%s\"",
           nclients, registration, sync_s, rss, server_cpu() - cpu0, (long)rl.rlim_cur,
           sender_loop ? "loop" : "thread", reader_threads ? "threads" : "epoll");
    if (idle_rss >= 0 && rss >= 0)
        printf(", \"kb_per_client\": %g", (double)(rss - idle_rss) / nclients);
    printf(", \"phases\": [");
    if (!capacity) {
        int first = 1;
        char *save = NULL;
        for (char *r = strtok_r(rates, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
            long lost = chat(senders, atof(r), duration, warmup, padding, first);
            first = 0;
            fflush(stdout);
            if (lost) break; /* past what the server sustains */
        }
    }
    printf("]}\n");
    fflush(stdout);
    _exit(0);
}
