/*
 * Sanitizer driver for the descriptor calls: sendfile, splice, copy_file_range,
 * reflink and the mmap copy between files, pipes, FIFOs (fed by another process),
 * Unix and TCP sockets and /proc, non-blocking sockets, EPIPE under each SIGPIPE
 * disposition (a forked child for the default one), the splice pipe of a thread
 * when it ends and after a fork, and a source truncated under the mmap copy. Each
 * part runs on a thread of its own under a watchdog. Its checks are the driver's
 * own (each call's result and the bytes that arrived); the offsets and the rest
 * of the behaviour are specified in tests/zerocopy.rs, tests/process.rs and
 * tests/signals.rs.
 *
 * usage: san-fd DIR
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <limits.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>

#include "zcio.h"

enum { KIB = 1024, MIB = 1 << 20 };

/* Sizes with unaligned tails. */
#define MED ((size_t)MIB + 4097)
#define BIG ((size_t)3 * MIB + 123)
/* The file truncated under the mmap copy. */
#define TRUNC_LEN ((size_t)64 * MIB)

static const char *dir;
static long dir_fs;        /* statfs f_type of dir */
static unsigned char *data; /* BIG pseudo-random bytes: every test file is a slice */

/* ---------- helpers ---------- */

static void watchdog(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: watchdog: a call did not return within 60 s\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(1);
}

static void on_sigbus(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: SIGBUS raised in the test process\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(1);
}

static void section(const char *name) {
    t_name = name;
    alarm(60);
}

static int dir_clones_never(void) { return dir_fs == EXT4_SUPER_MAGIC || dir_fs == TMPFS_MAGIC; }

static char *mkfile(const char *name, size_t off, size_t len) {
    char *p = t_path(dir, name);
    t_write_file(p, data + off, len);
    return p;
}

static int xopen(const char *p, int flags) {
    int fd = open(p, flags | O_CLOEXEC, 0644);
    if (fd < 0) t_die(p);
    return fd;
}

static int is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }
static long long size_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
}

/* 1 when the file open on fd holds exactly `len` bytes equal to `want`. */
static int fd_is(int fd, const unsigned char *want, size_t len) {
    if (size_of(fd) != (long long)len) return 0;
    unsigned char *got = malloc(len ? len : 1);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, got + done, len - done, (off_t)done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    int same = done == len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

/* A descriptor number that is not open, and high enough that no descriptor opened
 * meanwhile (by the test or by zcio) takes it. */
static int closed_fd(int fd) {
    int c = fcntl(fd, F_DUPFD_CLOEXEC, 700);
    if (c < 0) t_die("F_DUPFD");
    close(c);
    return c;
}

static void reset(int fd) {
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) t_die("reset");
}

static void xpipe(int p[2]) {
    if (pipe2(p, O_CLOEXEC) != 0) t_die("pipe2");
}

static void set_nonblock(int fd) {
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) t_die("O_NONBLOCK");
}

static void unix_pair(int s[2], int sndbuf) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) t_die("socketpair");
    if (sndbuf && setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
        t_die("SO_SNDBUF");
}

/* A connected TCP pair on 127.0.0.1; buffer sizes set before the connection. */
static void tcp_pair(int *cli, int *srv, int sndbuf, int rcvbuf) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0) t_die("socket");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (rcvbuf && setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
        t_die("SO_RCVBUF");
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0)
        t_die("listen");
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0) t_die("socket");
    if (sndbuf && setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
        t_die("SO_SNDBUF");
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) t_die("connect");
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0) t_die("accept");
    close(l);
    *cli = c;
    *srv = s;
}

static void sleep_us(unsigned us) {
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A thread reading a descriptor to EOF, optionally slowly, optionally truncating a
 * file once it has read a given amount. */
typedef struct {
    int fd;
    size_t chunk;
    unsigned delay_us;
    int trunc_fd;
    size_t trunc_after;
    off_t trunc_to;
    unsigned char *buf;
    size_t len, cap;
    int err;
    pthread_t th;
} reader;

static void *reader_main(void *arg) {
    reader *r = arg;
    for (;;) {
        if (r->cap - r->len < r->chunk) {
            r->cap = r->cap * 2 + r->chunk;
            r->buf = realloc(r->buf, r->cap);
            if (!r->buf) t_die("realloc");
        }
        ssize_t n = read(r->fd, r->buf + r->len, r->chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r->err = errno;
            break;
        }
        if (n == 0) break;
        r->len += (size_t)n;
        if (r->trunc_fd >= 0 && r->len >= r->trunc_after) {
            if (ftruncate(r->trunc_fd, r->trunc_to) != 0) r->err = errno;
            r->trunc_fd = -1;
        }
        if (r->delay_us) sleep_us(r->delay_us);
    }
    return NULL;
}

static void reader_init(reader *r, int fd, size_t expect, size_t chunk, unsigned delay_us) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->chunk = chunk ? chunk : 64 * KIB;
    r->delay_us = delay_us;
    r->trunc_fd = -1;
    r->cap = expect + r->chunk;
    r->buf = malloc(r->cap);
    if (!r->buf) t_die("malloc");
}

static void reader_go(reader *r) {
    if (pthread_create(&r->th, NULL, reader_main, r) != 0) t_die("pthread_create");
}

static void reader_start(reader *r, int fd, size_t expect, size_t chunk, unsigned delay_us) {
    reader_init(r, fd, expect, chunk, delay_us);
    reader_go(r);
}

/* Joins the reader; 1 when it read exactly `want`. Frees its buffer. */
static int reader_done(reader *r, const unsigned char *want, size_t len) {
    pthread_join(r->th, NULL);
    int ok = r->err == 0 && r->len == len && memcmp(r->buf, want, len) == 0;
    if (!ok)
        fprintf(stderr, "  [%s] reader got %zu bytes (err %d), expected %zu\n", t_name, r->len,
                r->err, len);
    free(r->buf);
    r->buf = NULL;
    return ok;
}

/* A thread writing a buffer in pieces, then closing (or shutting down) its end. */
typedef struct {
    int fd;
    const unsigned char *buf;
    size_t len, chunk;
    unsigned delay_us;
    int shut; /* 1: shutdown(SHUT_WR) and keep the fd; 0: close it */
    int err;
    pthread_t th;
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    size_t done = 0;
    while (done < w->len) {
        size_t n = w->len - done < w->chunk ? w->len - done : w->chunk;
        ssize_t k = write(w->fd, w->buf + done, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) {
            struct pollfd p = {w->fd, POLLOUT, 0};
            poll(&p, 1, 1000);
            continue;
        }
        if (k <= 0) {
            w->err = errno;
            break;
        }
        done += (size_t)k;
        if (w->delay_us) sleep_us(w->delay_us);
    }
    if (w->shut)
        shutdown(w->fd, SHUT_WR);
    else
        close(w->fd);
    return NULL;
}

static void writer_start(writer *w, int fd, const unsigned char *buf, size_t len, int shut,
                         size_t chunk, unsigned delay_us) {
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->buf = buf;
    w->len = len;
    w->shut = shut;
    w->chunk = chunk ? chunk : 256 * KIB;
    w->delay_us = delay_us;
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) t_die("writer");
}

static int writer_done(writer *w) {
    pthread_join(w->th, NULL);
    return w->err == 0;
}

/* Reads exactly what is in a pipe now (non-blocking); returns the count. */
static size_t drain_now(int fd, unsigned char *buf, size_t cap) {
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    fcntl(fd, F_SETFL, fl);
    return len;
}

/* ---------- sendfile ---------- */

static void test_sendfile_file(void) {
    section("sendfile file->file");
    char *src = mkfile("sf.src", 0, MED), *dst = t_path(dir, "sf.dst");
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);

    /* With an offset: it advances, the descriptor's offset does not. */
    lseek(in, 7, SEEK_SET);
    int64_t off = 100;
    CHECK_EQ(zc_sendfile(out, in, &off, ZC_TO_EOF, 0), MED - 100);
    CHECK(fd_is(out, data + 100, MED - 100));

    /* NULL: the descriptor's offset is used and advanced; count shorter than the file. */
    reset(out);
    lseek(in, 1000, SEEK_SET);
    CHECK_EQ(zc_sendfile(out, in, NULL, 5000, 0), 5000);
    CHECK_EQ(zc_sendfile(out, in, NULL, ZC_TO_EOF, 0), MED - 6000);
    CHECK(fd_is(out, data + 1000, MED - 1000));

    /* A count shorter than the file with an offset; then at and past the end. */
    reset(out);
    off = 0;
    CHECK_EQ(zc_sendfile(out, in, &off, 12345, 0), 12345);
    CHECK(fd_is(out, data, 12345));
    off = (int64_t)MED;
    CHECK_EQ(zc_sendfile(out, in, &off, ZC_TO_EOF, 0), 0);
    off = (int64_t)MED + 10;
    CHECK_EQ(zc_sendfile(out, in, &off, 100, 0), 0);
    off = 5;
    CHECK_EQ(zc_sendfile(out, in, &off, 0, 0), 0);
    CHECK(fd_is(out, data, 12345));
    CHECK(is_open(in) && is_open(out));

    /* /proc says size 0 but has data: the first 0 is not taken for end of file. */
    int pr = xopen("/proc/self/status", O_RDONLY);
    reset(out);
    int64_t n = zc_sendfile(out, pr, NULL, ZC_TO_EOF, 0);
    CHECK(n > 5);
    char head[8] = {0};
    CHECK_EQ(pread(out, head, 5, 0), 5);
    CHECK(memcmp(head, "Name:", 5) == 0);
    close(pr);

    /* The output file opened for reading only, the input for writing only. */
    int ro = xopen(dst, O_RDONLY), wo = xopen(src, O_WRONLY);
    /* Nothing moved: neither offset moves. */
    off = 0;
    CHECK_EQ(zc_sendfile(ro, in, &off, 100, 0), -EBADF);
    lseek(in, 0, SEEK_SET);
    CHECK_EQ(zc_sendfile(ro, in, NULL, 100, 0), -EBADF);
    off = 0;
    CHECK_EQ(zc_sendfile(out, wo, &off, 100, 0), -EBADF);
    CHECK(is_open(ro) && is_open(wo));
    close(ro);
    close(wo);

    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

static void test_sendfile_streams(void) {
    char *src = mkfile("sfs.src", 0, MED);
    int in = xopen(src, O_RDONLY);
    reader r;

    section("sendfile file->pipe");
    int p[2];
    xpipe(p);
    reader_start(&r, p[0], MED, 0, 0);
    int64_t off = 3;
    CHECK_EQ(zc_sendfile(p[1], in, &off, ZC_TO_EOF, 0), MED - 3);
    CHECK(is_open(p[1]));
    close(p[1]);
    CHECK(reader_done(&r, data + 3, MED - 3));
    close(p[0]);

    section("sendfile file->unix socket");
    int s[2];
    unix_pair(s, 0);
    reader_start(&r, s[1], MED, 0, 0);
    lseek(in, 0, SEEK_SET);
    CHECK_EQ(zc_sendfile(s[0], in, NULL, 70000, 0), 70000);
    CHECK_EQ(zc_sendfile(s[0], in, NULL, ZC_TO_EOF, 0), MED - 70000);
    shutdown(s[0], SHUT_WR);
    CHECK(reader_done(&r, data, MED));
    CHECK(is_open(s[0]) && is_open(s[1]));
    close(s[0]);
    close(s[1]);

    section("sendfile file->tcp");
    int c, srv;
    tcp_pair(&c, &srv, 0, 0);
    reader_start(&r, srv, MED, 0, 0);
    off = 16;
    CHECK_EQ(zc_sendfile(c, in, &off, 65537, 0), 65537);
    lseek(in, off, SEEK_SET);
    CHECK_EQ(zc_sendfile(c, in, NULL, ZC_TO_EOF, 0), MED - 16 - 65537);
    shutdown(c, SHUT_WR);
    CHECK(reader_done(&r, data + 16, MED - 16));
    CHECK(is_open(c));
    close(c);
    close(srv);

    close(in);
    unlink(src);
    free(src);
}

/* A non-blocking socket with a small send buffer: waited on unless ZC_F_NONBLOCK. */
static void sendfile_nonblock_on(int snd, int rcv, int in, const char *label) {
    char name[64];
    reader r;
    snprintf(name, sizeof name, "sendfile nonblock %s", label);
    section(name);
    set_nonblock(snd);

    /* Without ZC_F_NONBLOCK: the whole file, however slowly it is drained. */
    reader_start(&r, rcv, MED, 16 * KIB, 500);
    int64_t off = 0;
    CHECK_EQ(zc_sendfile(snd, in, &off, ZC_TO_EOF, 0), MED);
    shutdown(snd, SHUT_WR);
    CHECK(reader_done(&r, data, MED));
}

static void sendfile_partial_on(int snd, int rcv, int in, const char *label) {
    char name[64];
    reader r;
    snprintf(name, sizeof name, "sendfile ZC_F_NONBLOCK %s", label);
    section(name);
    set_nonblock(snd);

    /* Nobody reads: a partial count, then -EAGAIN with nothing moved. */
    int64_t off = 0;
    int64_t n1 = zc_sendfile(snd, in, &off, ZC_TO_EOF, ZC_F_NONBLOCK);
    CHECK(n1 > 0 && n1 < (int64_t)MED);
    int64_t n2 = zc_sendfile(snd, in, &off, ZC_TO_EOF, ZC_F_NONBLOCK);
    CHECK_EQ(n2, -EAGAIN);
    /* NULL offset too: -EAGAIN moves the descriptor's offset nowhere. */
    lseek(in, n1, SEEK_SET);
    CHECK_EQ(zc_sendfile(snd, in, NULL, ZC_TO_EOF, ZC_F_NONBLOCK), -EAGAIN);

    /* Then the rest, waited for: the reader sees the file exactly once. */
    reader_start(&r, rcv, MED, 0, 0);
    if (n1 > 0) CHECK_EQ(zc_sendfile(snd, in, NULL, ZC_TO_EOF, 0), (int64_t)MED - n1);
    shutdown(snd, SHUT_WR);
    CHECK(reader_done(&r, data, MED));
    CHECK(is_open(snd) && is_open(rcv));
}

static void test_sendfile_nonblock(void) {
    char *src = mkfile("nb.src", 0, MED);
    int in = xopen(src, O_RDONLY);
    int s[2], c, srv;

    unix_pair(s, 4096);
    sendfile_nonblock_on(s[0], s[1], in, "unix");
    close(s[0]);
    close(s[1]);
    tcp_pair(&c, &srv, 16 * KIB, 64 * KIB);
    sendfile_nonblock_on(c, srv, in, "tcp");
    close(c);
    close(srv);

    lseek(in, 0, SEEK_SET);
    unix_pair(s, 4096);
    sendfile_partial_on(s[0], s[1], in, "unix");
    close(s[0]);
    close(s[1]);
    lseek(in, 0, SEEK_SET);
    tcp_pair(&c, &srv, 16 * KIB, 64 * KIB);
    sendfile_partial_on(c, srv, in, "tcp");
    close(c);
    close(srv);

    close(in);
    unlink(src);
    free(src);
}

/* A pipe source: sendfile(2) refuses it, the read/write fallback takes over. */
static void test_sendfile_from_pipe(void) {
    section("sendfile pipe->file");
    char *dst = t_path(dir, "sfp.dst");
    int out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);
    int p[2];
    writer w;
    xpipe(p);
    writer_start(&w, p[1], data, MED, 0, 0, 0);
    CHECK_EQ(zc_sendfile(out, p[0], NULL, ZC_TO_EOF, 0), MED);
    CHECK(writer_done(&w));
    CHECK(fd_is(out, data, MED));
    CHECK(is_open(p[0]));
    close(p[0]);

    /* A count: the fallback takes no more than that from the pipe. */
    reset(out);
    xpipe(p);
    CHECK_EQ(write(p[1], data, 5000), 5000);
    CHECK_EQ(zc_sendfile(out, p[0], NULL, 1000, 0), 1000);
    CHECK(fd_is(out, data, 1000));
    unsigned char rest[8192];
    size_t got = drain_now(p[0], rest, sizeof rest);
    CHECK_EQ(got, 4000);
    CHECK(got == 4000 && memcmp(rest, data + 1000, 4000) == 0);

    /* ZC_F_NO_FALLBACK: the kernel's -EINVAL, nothing taken from the pipe. */
    reset(out);
    CHECK_EQ(write(p[1], data, 3000), 3000);
    CHECK_EQ(zc_sendfile(out, p[0], NULL, ZC_TO_EOF, ZC_F_NO_FALLBACK), -EINVAL);
    CHECK_EQ(drain_now(p[0], rest, sizeof rest), 3000);
    CHECK(is_open(p[0]) && is_open(p[1]) && is_open(out));
    close(p[0]);
    close(p[1]);
    close(out);
    unlink(dst);
    free(dst);
}

/* ---------- EPIPE and SIGPIPE ---------- */

/* Writes to readers that have gone: -EPIPE from every call, the process alive. */
static void epipe_round(void) {
    char *src = mkfile("ep.src", 0, MED), *dst = t_path(dir, "ep.dst");
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);
    int p[2], s[2], c, srv;
    int64_t off;

    /* A pipe without a reader. */
    xpipe(p);
    close(p[0]);
    off = 0;
    CHECK_EQ(zc_sendfile(p[1], in, &off, ZC_TO_EOF, 0), -EPIPE);
    off = 0;
    CHECK_EQ(zc_splice(in, &off, p[1], NULL, ZC_TO_EOF, 0), -EPIPE);
    off = 0;
    CHECK_EQ(zc_mmap_copy(in, &off, p[1], ZC_TO_EOF, 0), -EPIPE);
    CHECK(is_open(p[1]));
    close(p[1]);

    /* A Unix socket whose peer is closed. */
    unix_pair(s, 0);
    close(s[1]);
    off = 0;
    CHECK_EQ(zc_sendfile(s[0], in, &off, ZC_TO_EOF, 0), -EPIPE);
    off = 0;
    CHECK_EQ(zc_splice(in, &off, s[0], NULL, ZC_TO_EOF, 0), -EPIPE);
    off = 0;
    CHECK_EQ(zc_mmap_copy(in, &off, s[0], ZC_TO_EOF, 0), -EPIPE);
    CHECK(is_open(s[0]));
    close(s[0]);

    /* A TCP peer that closed before anything was sent (its FIN seen first). */
    int64_t r;
    tcp_pair(&c, &srv, 0, 0);
    close(srv);
    struct pollfd pf = {c, POLLIN, 0};
    CHECK_EQ(poll(&pf, 1, 5000), 1);
    off = 0;
    r = zc_sendfile(c, in, &off, ZC_TO_EOF, 0);
    if (r != -EPIPE) fprintf(stderr, "  [%s] tcp sendfile: %lld\n", t_name, (long long)r);
    CHECK(r == -EPIPE || r == -ECONNRESET);
    close(c);
    tcp_pair(&c, &srv, 0, 0);
    close(srv);
    pf.fd = c;
    CHECK_EQ(poll(&pf, 1, 5000), 1);
    off = 0;
    r = zc_splice(in, &off, c, NULL, ZC_TO_EOF, 0);
    if (r != -EPIPE) fprintf(stderr, "  [%s] tcp splice: %lld\n", t_name, (long long)r);
    CHECK(r == -EPIPE || r == -ECONNRESET);
    close(c);

    /* After a failure part-way, the thread's splice pipe holds no stale bytes. */
    off = 0;
    CHECK_EQ(zc_splice(in, &off, out, NULL, 4321, 0), 4321);
    CHECK(fd_is(out, data, 4321));

    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* Runs `fn` on a new thread and waits for it. */
static void *call_fn(void *arg) {
    (*(void (**)(void))arg)();
    return NULL;
}
static void in_thread(void (*fn)(void)) {
    pthread_t th;
    if (pthread_create(&th, NULL, call_fn, &fn) != 0) t_die("pthread_create");
    pthread_join(th, NULL);
}

/* Forks; the child runs `child` on this very thread (the only one it has, whose
 * memory its leak check can see) and exits with its result. */
static int fork_run(int (*child)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) t_die("fork");
    if (pid == 0) _exit(child());
    int status = -1;
    if (waitpid(pid, &status, 0) != pid) t_die("waitpid");
    return status;
}

static int epipe_child(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, NULL);
    sigset_t pipeset;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipeset, NULL);
    t_failures = 0;
    epipe_round();
    return t_failures ? 1 : 0;
}

static volatile sig_atomic_t sigpipe_seen;
static void count_sigpipe(int sig) {
    (void)sig;
    sigpipe_seen++;
}

static void test_epipe(void) {
    /* Default disposition, unblocked: the child must exit 0, not die of SIGPIPE. It is
     * forked before this thread has used zcio, so it inherits no splice pipe. */
    section("EPIPE, SIGPIPE default");
    int status = fork_run(epipe_child);
    if (WIFSIGNALED(status))
        fprintf(stderr, "  [%s] child killed by signal %d\n", t_name, WTERMSIG(status));
    CHECK(WIFEXITED(status));
    CHECK_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);

    struct sigaction dfl, old;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, &old);
    sigset_t pipeset, oldmask, pending;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);

    /* SIGPIPE blocked by the caller: none left pending. */
    section("EPIPE, SIGPIPE blocked");
    pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);
    epipe_round();
    sigemptyset(&pending);
    CHECK_EQ(sigpending(&pending), 0);
    CHECK(!sigismember(&pending, SIGPIPE));
    if (sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipeset, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

    /* A handler installed: never called. */
    section("EPIPE, SIGPIPE handled");
    struct sigaction h;
    memset(&h, 0, sizeof h);
    h.sa_handler = count_sigpipe;
    sigaction(SIGPIPE, &h, NULL);
    pthread_sigmask(SIG_UNBLOCK, &pipeset, NULL);
    sigpipe_seen = 0;
    epipe_round();
    CHECK_EQ(sigpipe_seen, 0);

    sigaction(SIGPIPE, &old, NULL);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
}

/* ---------- splice ---------- */

static void test_splice_files(void) {
    section("splice file->file");
    char *src = mkfile("sp.src", 0, MED), *dst = t_path(dir, "sp.dst");
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);

    /* Both offsets given: both advance, neither descriptor moves. */
    lseek(in, 9, SEEK_SET);
    int64_t io = 10, oo = 20;
    CHECK_EQ(zc_splice(in, &io, out, &oo, ZC_TO_EOF, 0), MED - 10);
    unsigned char *want = calloc(1, MED + 10);
    memcpy(want + 20, data + 10, MED - 10);
    CHECK(fd_is(out, want, MED + 10));
    free(want);

    /* NULL offsets: the descriptors' own; a length shorter than the file. */
    reset(out);
    lseek(in, 5, SEEK_SET);
    CHECK_EQ(zc_splice(in, NULL, out, NULL, 4097, 0), 4097);
    CHECK_EQ(zc_splice(in, NULL, out, NULL, ZC_TO_EOF, 0), MED - 5 - 4097);
    CHECK(fd_is(out, data + 5, MED - 5));
    CHECK_EQ(zc_splice(in, NULL, out, NULL, ZC_TO_EOF, 0), 0); /* at end of file */
    io = 0;
    CHECK_EQ(zc_splice(in, &io, out, NULL, 0, 0), 0);
    CHECK(is_open(in) && is_open(out));

    /* A pipe side has no offset: -ESPIPE, and the pipe's bytes stay where they are. */
    section("splice offset on a pipe");
    int p[2];
    xpipe(p);
    CHECK_EQ(write(p[1], "hello", 5), 5);
    reset(out);
    int64_t po = 0;
    CHECK_EQ(zc_splice(p[0], &po, out, NULL, 5, 0), -ESPIPE);
    io = 0;
    po = 0;
    CHECK_EQ(zc_splice(in, &io, p[1], &po, 5, 0), -ESPIPE);
    unsigned char buf[64];
    size_t n = drain_now(p[0], buf, sizeof buf);
    CHECK_EQ(n, 5);
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(is_open(p[0]) && is_open(p[1]));
    close(p[0]);
    close(p[1]);

    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* Globals, so that the child's leak check still sees them. */
static char *fifo_path, *fifo_dst;

static int fifo_writer(void) {
    int fd = open(fifo_path, O_WRONLY | O_CLOEXEC);
    size_t done = 0;
    while (fd >= 0 && done < MED) {
        ssize_t k = write(fd, data + done, MED - done > 50000 ? 50000 : MED - done);
        if (k <= 0) return 2;
        done += (size_t)k;
    }
    return fd >= 0 ? 0 : 3;
}

static void test_splice_streams(void) {
    char *src = mkfile("sps.src", 0, MED), *dst = t_path(dir, "sps.dst");
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);
    reader r;
    writer w;
    int64_t io, oo;

    section("splice file->pipe");
    int p[2];
    xpipe(p);
    reader_start(&r, p[0], MED, 0, 0);
    io = 1;
    CHECK_EQ(zc_splice(in, &io, p[1], NULL, ZC_TO_EOF, 0), MED - 1);
    close(p[1]);
    CHECK(reader_done(&r, data + 1, MED - 1));
    close(p[0]);

    section("splice file->tcp");
    int c, srv;
    tcp_pair(&c, &srv, 0, 0);
    reader_start(&r, srv, MED, 0, 0);
    io = 2;
    CHECK_EQ(zc_splice(in, &io, c, NULL, ZC_TO_EOF, 0), MED - 2);
    shutdown(c, SHUT_WR);
    CHECK(reader_done(&r, data + 2, MED - 2));
    close(c);
    close(srv);

    section("splice tcp->file");
    tcp_pair(&c, &srv, 0, 0);
    writer_start(&w, c, data, MED, 1, 100 * KIB, 200);
    oo = 0;
    CHECK_EQ(zc_splice(srv, NULL, out, &oo, ZC_TO_EOF, 0), MED);
    CHECK(writer_done(&w));
    CHECK(fd_is(out, data, MED));
    close(c);
    close(srv);

    /* A length: only that much is taken from the socket; the rest comes next. */
    section("splice tcp->file, length");
    reset(out);
    tcp_pair(&c, &srv, 0, 0);
    writer_start(&w, c, data, MED, 1, 0, 0);
    CHECK_EQ(zc_splice(srv, NULL, out, NULL, 1000, 0), 1000);
    CHECK(fd_is(out, data, 1000));
    CHECK_EQ(zc_splice(srv, NULL, out, NULL, ZC_TO_EOF, 0), MED - 1000);
    CHECK(writer_done(&w));
    CHECK(fd_is(out, data, MED));
    close(c);
    close(srv);

    /* A non-blocking socket: -EAGAIN with ZC_F_NONBLOCK, waited on without it. */
    section("splice nonblocking tcp->file");
    reset(out);
    tcp_pair(&c, &srv, 0, 0);
    set_nonblock(srv);
    CHECK_EQ(zc_splice(srv, NULL, out, NULL, ZC_TO_EOF, ZC_F_NONBLOCK), -EAGAIN);
    writer_start(&w, c, data, MED, 1, 64 * KIB, 500);
    CHECK_EQ(zc_splice(srv, NULL, out, NULL, ZC_TO_EOF, 0), MED);
    CHECK(writer_done(&w));
    CHECK(fd_is(out, data, MED));
    close(c);
    close(srv);

    section("splice unix->file");
    reset(out);
    int s[2];
    unix_pair(s, 0);
    writer_start(&w, s[1], data + 7, MED - 7, 1, 0, 0);
    CHECK_EQ(zc_splice(s[0], NULL, out, NULL, ZC_TO_EOF, 0), MED - 7);
    CHECK(writer_done(&w));
    CHECK(fd_is(out, data + 7, MED - 7));
    CHECK(is_open(s[0]) && is_open(s[1]));
    close(s[0]);
    close(s[1]);

    section("splice pipe->file");
    reset(out);
    xpipe(p);
    writer_start(&w, p[1], data, MED, 0, 0, 0);
    oo = 3;
    CHECK_EQ(zc_splice(p[0], NULL, out, &oo, ZC_TO_EOF, 0), MED);
    CHECK(writer_done(&w));
    unsigned char *want = calloc(1, MED + 3);
    memcpy(want + 3, data, MED);
    CHECK(fd_is(out, want, MED + 3));
    free(want);
    close(p[0]);

    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* A FIFO fed by another process. */
static void test_splice_fifo(void) {
    section("splice fifo->file");
    fifo_path = t_path(dir, "fifo");
    fifo_dst = t_path(dir, "fifo.dst");
    int out = xopen(fifo_dst, O_RDWR | O_CREAT | O_TRUNC);
    CHECK_EQ(mkfifo(fifo_path, 0600), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) t_die("fork");
    if (pid == 0) _exit(fifo_writer());
    int ff = xopen(fifo_path, O_RDONLY);
    CHECK_EQ(zc_splice(ff, NULL, out, NULL, ZC_TO_EOF, 0), MED);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(fd_is(out, data, MED));
    CHECK(is_open(ff));
    close(ff);
    close(out);
    unlink(fifo_path);
    unlink(fifo_dst);
    free(fifo_path);
    free(fifo_dst);
}

/* The thread's splice pipe goes with the thread. */
static void *splice_in_thread(void *arg) {
    int *fds = arg;
    int64_t io = 0;
    fds[2] = (int)zc_splice(fds[0], &io, fds[1], NULL, ZC_TO_EOF, 0);
    return NULL;
}

static void test_splice_thread_pipe(void) {
    section("splice pipe per thread");
    char *src = mkfile("spt.src", 0, 100000), *dst = t_path(dir, "spt.dst");
    int fds[3] = {xopen(src, O_RDONLY), xopen(dst, O_RDWR | O_CREAT | O_TRUNC), 0};
    int before = t_count_fds();
    pthread_t th;
    if (pthread_create(&th, NULL, splice_in_thread, fds) != 0) t_die("pthread_create");
    pthread_join(th, NULL);
    CHECK_EQ(fds[2], 100000);
    CHECK(fd_is(fds[1], data, 100000));
    CHECK_EQ(t_count_fds(), before);
    close(fds[0]);
    close(fds[1]);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* A child forked after this thread spliced must not share its splice pipe: bytes
 * the child leaves in it must never reach the parent's destination. */
/* Globals, so that the forked child's leak check still sees them. */
static char *fk_a, *fk_b, *fk_dst;

static int splice_fork_child(void) {
    int fd = open(fk_b, O_RDONLY | O_CLOEXEC), s[2];
    unix_pair(s, 0);
    close(s[1]);
    int64_t o = 0;
    int64_t r = zc_splice(fd, &o, s[0], NULL, 5000, 0);
    return fd >= 0 && r == -EPIPE ? 0 : 1;
}

static void splice_after_fork(void) {
    fk_a = mkfile("fk.a", 0, 100000);
    fk_b = mkfile("fk.b", 200000, 100000);
    fk_dst = t_path(dir, "fk.dst");
    int in = xopen(fk_a, O_RDONLY), out = xopen(fk_dst, O_RDWR | O_CREAT | O_TRUNC);
    int64_t io = 0;
    CHECK_EQ(zc_splice(in, &io, out, NULL, 1000, 0), 1000); /* this thread's pipe exists */
    CHECK(fd_is(out, data, 1000));
    int status = fork_run(splice_fork_child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Non-blocking, so that a pipe left full cannot hang the test. */
    reset(out);
    io = 0;
    CHECK_EQ(zc_splice(in, &io, out, NULL, 3000, ZC_F_NONBLOCK), 3000);
    int same = fd_is(out, data, 3000);
    if (!same && fd_is(out, data + 200000, 3000))
        fprintf(stderr, "  [%s] the parent's copy holds the child's bytes\n", t_name);
    CHECK(same);
    close(in);
    close(out);
    unlink(fk_a);
    unlink(fk_b);
    unlink(fk_dst);
    free(fk_a);
    free(fk_b);
    free(fk_dst);
}

static void test_splice_fork(void) {
    section("splice pipe after fork");
    splice_after_fork();
}

/* ---------- copy_file_range ---------- */

static void test_copy_file_range(void) {
    section("copy_file_range file->file");
    char *src = mkfile("cfr.src", 0, MED), *dst = t_path(dir, "cfr.dst");
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);

    lseek(in, 11, SEEK_SET);
    int64_t io = 3, oo = 0;
    CHECK_EQ(zc_copy_file_range(in, &io, out, &oo, ZC_TO_EOF, 0), MED - 3);
    CHECK(fd_is(out, data + 3, MED - 3));

    reset(out);
    lseek(in, 4096, SEEK_SET);
    CHECK_EQ(zc_copy_file_range(in, NULL, out, NULL, 777, 0), 777);
    CHECK_EQ(zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, 0), MED - 4096 - 777);
    CHECK(fd_is(out, data + 4096, MED - 4096));
    CHECK_EQ(zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, 0), 0);
    CHECK(is_open(in) && is_open(out));

    /* Across file systems: the kernel refuses, the fallback copies. */
    if (dir_fs != TMPFS_MAGIC) {
        section("copy_file_range across file systems");
        char shm[] = "/dev/shm/zcio-zerocopy-XXXXXX";
        int x = mkostemp(shm, O_CLOEXEC);
        if (x < 0) t_die("mkostemp");
        io = 0;
        oo = 0;
        CHECK_EQ(zc_copy_file_range(in, &io, x, &oo, ZC_TO_EOF, 0), MED);
        CHECK(fd_is(x, data, MED));
        reset(x);
        io = 0;
        oo = 0;
        int64_t r = zc_copy_file_range(in, &io, x, &oo, ZC_TO_EOF, ZC_F_NO_FALLBACK);
        if (r != -EXDEV) fprintf(stderr, "  [%s] NO_FALLBACK: %lld\n", t_name, (long long)r);
        CHECK(r < 0);
        close(x);
        unlink(shm);
    }

    /* /proc says size 0 but has data. */
    section("copy_file_range from /proc");
    int pr = xopen("/proc/self/status", O_RDONLY);
    reset(out);
    int64_t r = zc_copy_file_range(pr, NULL, out, NULL, ZC_TO_EOF, 0);
    CHECK(r > 5);
    char head[8] = {0};
    CHECK_EQ(pread(out, head, 5, 0), 5);
    CHECK(memcmp(head, "Name:", 5) == 0);
    reset(out);
    io = 0;
    r = zc_copy_file_range(pr, &io, out, NULL, ZC_TO_EOF, 0);
    CHECK(r > 5);
    memset(head, 0, sizeof head);
    CHECK_EQ(pread(out, head, 5, 0), 5);
    CHECK(memcmp(head, "Name:", 5) == 0);
    close(pr);

    /* O_APPEND: the kernel refuses, the fallback appends after what is there. */
    section("copy_file_range to O_APPEND");
    t_write_file(dst, data + 500, 300);
    int ap = xopen(dst, O_WRONLY | O_APPEND);
    io = 0;
    CHECK_EQ(zc_copy_file_range(in, &io, ap, NULL, 100000, 0), 100000);
    unsigned char *want = malloc(300 + 100000);
    memcpy(want, data + 500, 300);
    memcpy(want + 300, data, 100000);
    CHECK(t_file_is(dst, want, 300 + 100000));
    free(want);
    CHECK(is_open(ap));
    close(ap);

    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* ---------- reflink ---------- */

static void test_reflink(void) {
    section("reflink");
    char *src = mkfile("rl.src", 0, MED), *dst = mkfile("rl.dst", 500, 3000);
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR);
    lseek(in, 17, SEEK_SET);
    int r = zc_reflink(in, out);
    if (dir_clones_never()) {
        if (r != -EOPNOTSUPP) fprintf(stderr, "  [%s] zc_reflink: %d\n", t_name, r);
        CHECK(r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL);
        CHECK(fd_is(out, data + 500, 3000));
    } else {
        CHECK(r == 0 || r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL);
        if (r == 0) CHECK(fd_is(out, data, MED));
        else CHECK(fd_is(out, data + 500, 3000));
    }

    int closed = closed_fd(in);
    CHECK_EQ(zc_reflink(-1, out), -EBADF);
    CHECK_EQ(zc_reflink(in, -1), -EBADF);
    CHECK_EQ(zc_reflink(closed, out), -EBADF);
    CHECK_EQ(zc_reflink(in, closed), -EBADF);
    int ro = xopen(dst, O_RDONLY);
    CHECK(zc_reflink(in, ro) < 0);
    close(ro);
    if (dir_fs != TMPFS_MAGIC) {
        char shm[] = "/dev/shm/zcio-zerocopy-XXXXXX";
        int x = mkostemp(shm, O_CLOEXEC);
        if (x < 0) t_die("mkostemp");
        CHECK(zc_reflink(in, x) < 0);
        close(x);
        unlink(shm);
    }
    CHECK(fd_is(out, data + 500, 3000) || r == 0);
    CHECK(is_open(in) && is_open(out));
    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* ---------- mmap copy ---------- */

static void test_mmap_copy(void) {
    section("mmap copy file->file");
    char *src = mkfile("mm.src", 0, MED), *dst = t_path(dir, "mm.dst");
    int in = xopen(src, O_RDONLY), out = xopen(dst, O_RDWR | O_CREAT | O_TRUNC);

    lseek(in, 9, SEEK_SET);
    int64_t io = 5;
    CHECK_EQ(zc_mmap_copy(in, &io, out, ZC_TO_EOF, 0), MED - 5);
    CHECK(fd_is(out, data + 5, MED - 5));

    reset(out);
    lseek(in, 100, SEEK_SET);
    CHECK_EQ(zc_mmap_copy(in, NULL, out, 1000, 0), 1000);
    CHECK_EQ(zc_mmap_copy(in, NULL, out, ZC_TO_EOF, 0), MED - 1100);
    CHECK(fd_is(out, data + 100, MED - 100));
    CHECK_EQ(zc_mmap_copy(in, NULL, out, ZC_TO_EOF, 0), 0);
    io = (int64_t)MED + 4096;
    CHECK_EQ(zc_mmap_copy(in, &io, out, ZC_TO_EOF, 0), 0);

    /* An empty source. */
    char *empty = mkfile("mm.empty", 0, 0);
    int e = xopen(empty, O_RDONLY);
    reset(out);
    CHECK_EQ(zc_mmap_copy(e, NULL, out, ZC_TO_EOF, 0), 0);
    close(e);
    unlink(empty);
    free(empty);

    section("mmap copy file->pipe");
    reader r;
    int p[2];
    xpipe(p);
    reader_start(&r, p[0], MED, 0, 0);
    io = 1;
    CHECK_EQ(zc_mmap_copy(in, &io, p[1], 70001, 0), 70001);
    lseek(in, io, SEEK_SET);
    CHECK_EQ(zc_mmap_copy(in, NULL, p[1], ZC_TO_EOF, 0), MED - 70002);
    CHECK(is_open(p[1]));
    close(p[1]);
    CHECK(reader_done(&r, data + 1, MED - 1));
    close(p[0]);

    /* A source that cannot be mapped: refused under ZC_F_NO_FALLBACK. */
    section("mmap copy from a pipe");
    xpipe(p);
    CHECK_EQ(write(p[1], data, 3000), 3000);
    reset(out);
    CHECK(zc_mmap_copy(p[0], NULL, out, ZC_TO_EOF, ZC_F_NO_FALLBACK) < 0);
    close(p[1]);
    CHECK_EQ(zc_mmap_copy(p[0], NULL, out, ZC_TO_EOF, 0), 3000);
    CHECK(fd_is(out, data, 3000));
    close(p[0]);

    /* /proc says size 0 but has data: read/write finds it. */
    section("mmap copy from /proc");
    int pr = xopen("/proc/self/status", O_RDONLY);
    reset(out);
    int64_t n = zc_mmap_copy(pr, NULL, out, ZC_TO_EOF, 0);
    CHECK(n > 5);
    char head[8] = {0};
    CHECK_EQ(pread(out, head, 5, 0), 5);
    CHECK(memcmp(head, "Name:", 5) == 0);
    close(pr);

    close(in);
    close(out);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* Block i of the truncated file: the head of `data` with i in its first bytes. */
static void trunc_block(unsigned char *blk, size_t i) {
    memcpy(blk, data, MIB);
    memcpy(blk, &i, sizeof i);
}

static void test_mmap_truncated(void) {
    section("mmap copy, source truncated");
    char *src = t_path(dir, "mt.src");
    int w = xopen(src, O_WRONLY | O_CREAT | O_TRUNC);
    unsigned char *blk = malloc(MIB);
    for (size_t i = 0; i < TRUNC_LEN / MIB; i++) {
        trunc_block(blk, i);
        if (write(w, blk, MIB) != MIB) t_die("write");
    }
    int in = xopen(src, O_RDONLY);
    int p[2];
    xpipe(p);
    /* The reader cuts the file to half once the copy is 1 MiB in (well before half). */
    reader r;
    reader_init(&r, p[0], TRUNC_LEN / 2, 64 * KIB, 0);
    r.trunc_fd = w;
    r.trunc_after = MIB;
    r.trunc_to = (off_t)(TRUNC_LEN / 2);
    reader_go(&r);
    int64_t n = zc_mmap_copy(in, NULL, p[1], ZC_TO_EOF, 0);
    close(p[1]);
    pthread_join(r.th, NULL);
    if (!(n == -EFAULT || (n > 0 && n <= (int64_t)(TRUNC_LEN / 2))))
        fprintf(stderr, "  [%s] returned %lld after truncation to %zu\n", t_name, (long long)n,
                TRUNC_LEN / 2);
    CHECK(n == -EFAULT || (n > 0 && n <= (int64_t)(TRUNC_LEN / 2)));
    if (n > 0) {
    }
    /* Whatever arrived is the file's own bytes, in order. */
    int same = r.len <= TRUNC_LEN / 2;
    for (size_t off = 0; same && off < r.len; off += MIB) {
        trunc_block(blk, off / MIB);
        size_t k = r.len - off < MIB ? r.len - off : MIB;
        same = memcmp(r.buf + off, blk, k) == 0;
    }
    CHECK(same);
    CHECK(is_open(in) && is_open(p[0]));
    free(r.buf);
    free(blk);
    close(p[0]);
    close(in);
    close(w);
    unlink(src);
    free(src);
}

/* ---------- main ---------- */

/* Each part on a thread of its own: its splice pipe goes with it, so that every
 * descriptor still open at the end is a leak, and a forked child shares no pipe
 * and no thread-local memory with a thread it does not have. */
static void (*const parts[])(void) = {
    test_sendfile_file,  test_sendfile_streams,   test_sendfile_nonblock,
    test_sendfile_from_pipe, test_epipe,          test_splice_files,
    test_splice_streams, test_splice_fifo,        test_splice_thread_pipe,
    test_splice_fork,
    test_copy_file_range, test_reflink,           test_mmap_copy,
    test_mmap_truncated,
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, watchdog);
    struct sigaction bus;
    memset(&bus, 0, sizeof bus);
    bus.sa_handler = on_sigbus;
    sigaction(SIGBUS, &bus, NULL);

    char *work = t_mkdtemp(argv[1]);
    dir = work;
    struct statfs sf;
    if (statfs(dir, &sf) != 0) t_die("statfs");
    dir_fs = (long)sf.f_type;
    data = malloc(BIG);
    if (!data) t_die("malloc");
    t_fill(data, BIG, 2024);

    int fds = t_count_fds();
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) in_thread(parts[i]);
    alarm(0);
    t_name = "descriptors";
    CHECK_EQ(t_count_fds(), fds);
    CHECK_EQ(t_count_entries(dir), 0);
    t_rmtree(work);
    free(work);
    free(data);
    return t_finish("san-fd");
}
