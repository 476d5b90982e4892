/*
 * Sanitizer driver for zcio in a program that uses signals: a storm of signals
 * without SA_RESTART during a copy by every method and engine, a source truncated
 * or extended from the progress callback (a SIGBUS fails the run), and
 * process-directed signals during threaded copies (none may land on a zcio
 * thread). Smaller than the Rust tests that specify these (tests/signals.rs,
 * tests/changing_source.rs): 8 MiB storms, 16 MiB sources.
 *
 * usage: san-signals DIR
 */
#include "helpers.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <time.h>

#include "zcio.h"

enum { MIB = 1 << 20 };

static const char *dir;
static int cases, cases_ok;
static int quick; /* under valgrind: one method each */

static void row(const char *fault, const char *method, int ok, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cases++;
    cases_ok += ok;
    printf("%s | %s | %s%s\n", fault, method, ok ? "" : "FAIL: ", buf);
    fflush(stdout);
}

static void write_all(int fd, const unsigned char *buf, size_t len, off_t off) {
    while (len) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0) {
            if (errno == EINTR) continue;
            t_die("pwrite");
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
}

/* Compares the file with want[0..]: returns its size in *size_out and 1 when the whole
 * file equals the first *size_out bytes of want (so it is no longer than want_len). */
static int file_is_prefix(const char *path, const unsigned char *want, size_t want_len,
                          size_t *size_out) {
    *size_out = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    static unsigned char buf[MIB];
    size_t off = 0;
    int same = 1;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            same = 0;
            break;
        }
        if (n == 0) break;
        if (off + (size_t)n > want_len || memcmp(buf, want + off, (size_t)n) != 0) same = 0;
        off += (size_t)n;
    }
    close(fd);
    *size_out = off;
    return same;
}

/* ---------------------------------------------------------------- signal storm */

static atomic_ulong n_alrm, n_usr1, n_bus;
static pthread_t copier;
static atomic_int storm_stop;
static atomic_ulong storm_sent;
static atomic_int storm_timed_out;
enum { STORM_MAX_S = 5 };

static void on_signal(int sig) {
    if (sig == SIGALRM) atomic_fetch_add(&n_alrm, 1);
    else atomic_fetch_add(&n_usr1, 1);
}

static void *storm_thread(void *arg) {
    (void)arg;
    /* Only the copying thread gets the signals, the timer's included. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    double t0 = t_now();
    while (!atomic_load(&storm_stop)) {
        pthread_kill(copier, SIGUSR1);
        atomic_fetch_add(&storm_sent, 1);
        /* A copy that crawls under the storm would blow the run's time: stop the
         * storm after STORM_MAX_S and report it. */
        if ((atomic_load(&storm_sent) & 1023) == 0 && t_now() - t0 > STORM_MAX_S) {
            struct itimerval off = {{0, 0}, {0, 0}};
            setitimer(ITIMER_REAL, &off, NULL);
            atomic_store(&storm_timed_out, 1);
            break;
        }
    }
    return NULL;
}

static void test_signal_storm(void) {
    t_name = "signal storm";
    size_t n = 8 * MIB + 12345;
    char *src = t_path(dir, "storm.src"), *dst = t_path(dir, "storm.dst");
    unsigned char *want = t_make_file(src, n, 77);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: every slow call sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    copier = pthread_self();

    /* Every method, then DIRECT once more with each Direct I/O engine named. */
    static const struct {
        uint32_t method, engine;
        const char *name;
    } runs[] = {
        {ZC_METHOD_AUTO, 0, "AUTO"},
        {ZC_METHOD_DIRECT, 0, "DIRECT"},
        {ZC_METHOD_COPY_FILE_RANGE, 0, "COPY_FILE_RANGE"},
        {ZC_METHOD_SENDFILE, 0, "SENDFILE"},
        {ZC_METHOD_SPLICE, 0, "SPLICE"},
        {ZC_METHOD_MMAP, 0, "MMAP"},
        {ZC_METHOD_READ_WRITE, 0, "READ_WRITE"},
        {ZC_METHOD_DIRECT, ZC_ENGINE_IO_URING, "DIRECT (engine io_uring)"},
        {ZC_METHOD_DIRECT, ZC_ENGINE_THREADS, "DIRECT (engine threads)"},
        {ZC_METHOD_DIRECT, ZC_ENGINE_SYNC, "DIRECT (engine sync)"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i += quick ? 3 : 1) {
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        o.method = runs[i].method;
        o.engine = runs[i].engine;
        atomic_store(&n_alrm, 0);
        atomic_store(&n_usr1, 0);
        atomic_store(&storm_stop, 0);
        atomic_store(&storm_timed_out, 0);
        pthread_t th;
        if (pthread_create(&th, NULL, storm_thread, NULL) != 0) t_die("pthread_create");
        struct itimerval it = {{0, 100}, {0, 100}};
        setitimer(ITIMER_REAL, &it, NULL);
        double t0 = t_now();
        int r = zc_copy_file(src, dst, &o, &st);
        double dt = t_now() - t0;
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        atomic_store(&storm_stop, 1);
        pthread_join(th, NULL);

        if (r == -EOPNOTSUPP && runs[i].engine) {
            row("signal storm", runs[i].name, 1, "engine not available here");
            continue;
        }
        int exact = r == 0 && t_file_is(dst, want, n);
        int tmps = t_temp_files(dir);
        CHECK_EQ(r, 0);
        CHECK(exact);
        CHECK_EQ(tmps, 0);
        unsigned long a = atomic_load(&n_alrm), u = atomic_load(&n_usr1);
        CHECK(a + u > 0);
        /* Exactness is the requirement; a copy the storm slowed past 10 s is noted
         * (the threaded engine on two cores, with a thread spinning on pthread_kill). */
        int slow = atomic_load(&storm_timed_out);
        /* The fault: io_uring failed with -ECANCELED under the storm. */
        if (runs[i].engine == ZC_ENGINE_IO_URING)
            CHECK(r == 0 && exact && tmps == 0);
        row("signal storm", runs[i].name, r == 0 && exact && tmps == 0,
            "%s%s, %lu SIGALRM + %lu SIGUSR1 delivered, moved by %s (engine %u, failed_step %u), "
            "%.2f s",
            r == 0 ? (exact ? "exact copy" : "copy differs") : zc_strerror(r),
            slow ? " (slow: storm stopped after 10 s)" : "", a, u,
            t_method_upper(st.method).s, st.engine, st.failed_step, dt);
        unlink(dst);
    }
    signal(SIGALRM, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    unlink(src);
    free(want);
    free(src);
    free(dst);
}

/* ------------------------------------------------- source changed during the copy */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig) {
    (void)sig;
    atomic_fetch_add(&n_bus, 1);
    if (bus_armed) siglongjmp(bus_jmp, 1);
    _exit(1);
}

/* zc_copy_file, with a SIGBUS in the calling program turned into a return of 1. */
static int guarded_copy(const char *src, const char *dst, const zc_options *o, zc_stats *st) {
    int r = 1;
    bus_armed = 1;
    if (sigsetjmp(bus_jmp, 1) == 0) r = zc_copy_file(src, dst, o, st);
    bus_armed = 0;
    return r;
}

struct change {
    int fd;            /* the source, for ftruncate / append */
    int truncate;      /* 1: cut to half; 0: append ext_len bytes */
    size_t size;       /* the source's size before the change */
    const unsigned char *ext;
    size_t ext_len;
    int fired;
    uint64_t fired_at;
    unsigned calls;
};

static int on_progress(uint64_t done, uint64_t total, void *arg) {
    struct change *c = arg;
    c->calls++;
    (void)total;
    if (!c->fired && done >= c->size / 4 && done < c->size) {
        c->fired = 1;
        c->fired_at = done;
        if (c->truncate) {
            if (ftruncate(c->fd, (off_t)(c->size / 2)) != 0) t_die("ftruncate");
        } else {
            write_all(c->fd, c->ext, c->ext_len, (off_t)c->size);
        }
    }
    return 0;
}

static void test_source_changes(void) {
    size_t n = 16 * MIB, ext_len = MIB + 333;
    char *src = t_path(dir, "change.src"), *dst = t_path(dir, "change.dst");
    /* want[0..n] is the source, want[n..n+ext_len] what gets appended. */
    unsigned char *want = malloc(n + ext_len);
    if (!want) t_die("malloc");
    t_fill(want, n + ext_len, 99);
    unsigned char old[1000];
    t_fill(old, sizeof old, 5);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);

    int fd = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) t_die(src);
    write_all(fd, want, n, 0);

    for (int trunc = 1; trunc >= 0; trunc--) {
        const char *fault = trunc ? "source truncated to half at 25%" : "source extended at 25%";
        t_name = fault;
        for (int i = 0; i < T_NCOPY_METHODS; i += quick ? 3 : 1) {
            /* Restore the source as it was. */
            struct stat sst;
            if (fstat(fd, &sst) != 0) t_die("fstat");
            if ((size_t)sst.st_size < n) write_all(fd, want + n / 2, n - n / 2, (off_t)(n / 2));
            if (ftruncate(fd, (off_t)n) != 0) t_die("ftruncate");
            t_write_file(dst, old, sizeof old);

            struct change c = {fd, trunc, n, want + n, ext_len, 0, 0, 0};
            zc_options o;
            zc_stats st;
            zc_options_init(&o);
            zc_stats_init(&st);
            o.method = t_copy_method(i);
            /* Reports after every chunk (the threaded engine reports after the
             * caller's own, and the others may end the file first). */
            o.engine = ZC_ENGINE_SYNC;
            o.progress = on_progress;
            o.progress_arg = &c;
            unsigned long bus0 = atomic_load(&n_bus);
            double t0 = t_now();
            int r = guarded_copy(src, dst, &o, &st);
            double dt = t_now() - t0;
            int bus = atomic_load(&n_bus) != bus0;
            CHECK(!bus);
            int tmps = t_temp_files(dir);
            CHECK_EQ(tmps, 0);
            CHECK(c.fired);
            char res[256];
            int ok = !bus && tmps == 0;
            if (bus) {
                snprintf(res, sizeof res, "SIGBUS in the calling program");
            } else if (r == 0) {
                size_t got = 0;
                int prefix = file_is_prefix(dst, want, trunc ? n : n + ext_len, &got);
                /* A consistent state: a prefix of the original (truncation), or the
                 * original and perhaps some of what was appended (extension). */
                int good = prefix && (trunc || got >= n);
                CHECK(prefix);
                if (!trunc) CHECK(got >= n);
                CHECK_EQ(st.bytes, got);
                ok = ok && good && st.bytes == got;
                snprintf(res, sizeof res, "success, %zu bytes (%s%s), moved by %s", got,
                         !prefix ? "NOT a prefix of the source"
                         : got == n ? "the original size"
                         : got == n / 2 ? "the truncated size"
                         : got == n + ext_len ? "the extended size"
                                              : "another size",
                         st.bytes == got ? "" : ", stats.bytes differs", t_method_upper(st.method).s);
            } else {
                int intact = t_file_is(dst, old, sizeof old);
                CHECK(r < 0);
                CHECK(intact);
                ok = ok && r < 0 && intact;
                snprintf(res, sizeof res, "%s (failed_step %u), old destination %s", zc_strerror(r),
                         st.failed_step, intact ? "intact" : "CHANGED");
            }
            if (!c.fired) ok = 0;
            char extra[96];
            snprintf(extra, sizeof extra, "; changed at %.0f%%, %.2f s",
                     c.fired ? 100.0 * (double)c.fired_at / (double)n : -1.0, dt);
            row(fault, t_method_upper(t_copy_method(i)).s, ok, "%s%s%s", res, c.fired ? "" : " (change never made: progress not called mid-copy)", extra);
        }
    }
    close(fd);
    signal(SIGBUS, SIG_DFL);
    unlink(src);
    unlink(dst);
    free(want);
    free(src);
    free(dst);
}


/* ------------------------------------ signals during threaded copies (ENG-06) */

static pid_t main_tid;
static atomic_long on_main, elsewhere;
static atomic_int sig_stop;

static void on_usr1(int sig) {
    (void)sig;
    if ((pid_t)syscall(SYS_gettid) == main_tid) atomic_fetch_add(&on_main, 1);
    else atomic_fetch_add(&elsewhere, 1);
}

static void *send_usr1(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    while (!atomic_load(&sig_stop)) {
        kill(getpid(), SIGUSR1);
        usleep(200);
    }
    return NULL;
}

static void test_worker_signals(void) {
    t_name = "signals during threaded copies";
    char *src = t_path(dir, "sig.src"), *dst = t_path(dir, "sig.dst");
    size_t n = 8 * MIB + 5;
    unsigned char *want = t_make_file(src, n, 9);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    main_tid = (pid_t)syscall(SYS_gettid);
    atomic_store(&sig_stop, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, send_usr1, NULL) != 0) t_die("pthread_create");
    for (int i = 0; i < 3; i++) {
        zc_options o;
        zc_options_init(&o);
        o.engine = ZC_ENGINE_THREADS;
        o.chunk_size = 1 * MIB;
        o.queue_depth = 8;
        CHECK_EQ(directio_copy(src, dst, &o, NULL), 0);
        CHECK(t_file_is(dst, want, n));
    }
    atomic_store(&sig_stop, 1);
    pthread_join(th, NULL);
    signal(SIGUSR1, SIG_IGN);
    CHECK_EQ(atomic_load(&elsewhere), 0);
    unlink(src);
    unlink(dst);
    free(want);
    free(src);
    free(dst);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    quick = t_under_valgrind();
    char *work = t_mkdtemp(argv[1]);
    dir = work;
    int fds = t_count_fds_no_pipes();
    test_signal_storm();
    test_source_changes();
    test_worker_signals();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds_no_pipes(), fds);
    printf("totals: %d cases, %d ok, %d failed\n", cases, cases_ok, cases - cases_ok);
    t_rmtree(work);
    free(work);
    return t_finish("san-signals");
}
