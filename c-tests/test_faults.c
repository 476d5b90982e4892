/*
 * zcio under faults, for every method of zc_copy_file: a storm of signals without
 * SA_RESTART, a source truncated or extended during the copy, and (through
 * c-tests/faultfs.py, a FUSE file system) a source whose reads fail with EIO and one
 * that claims size 0 but holds data. Each case prints `fault | method | result`.
 *
 * usage: test_faults DIR   (DIR: where the files go; run on ext4 and on tmpfs)
 * FAULTFS=path/to/faultfs.py overrides c-tests/faultfs.py; PYTHON the interpreter.
 */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "zcio.h"

enum { MIB = 1 << 20 };

static const char *dir;
static int cases, cases_ok;

static const struct {
    uint32_t id;
    const char *name;
} methods[] = {
    {ZC_METHOD_AUTO, "AUTO"},
    {ZC_METHOD_DIRECT, "DIRECT"},
    {ZC_METHOD_COPY_FILE_RANGE, "COPY_FILE_RANGE"},
    {ZC_METHOD_SENDFILE, "SENDFILE"},
    {ZC_METHOD_SPLICE, "SPLICE"},
    {ZC_METHOD_MMAP, "MMAP"},
    {ZC_METHOD_READ_WRITE, "READ_WRITE"},
};
enum { NMETHODS = sizeof methods / sizeof methods[0] };

static const char *method_name(uint32_t m) {
    static const char *names[] = {"AUTO",     "DIRECT", "REFLINK", "COPY_FILE_RANGE",
                                  "SENDFILE", "SPLICE", "MMAP",    "READ_WRITE"};
    return m < ZC_METHOD_COUNT ? names[m] : "?";
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *fault, const char *method, int ok, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cases++;
    cases_ok += ok;
    printf("%s | %s | %s%s\n", fault, method, ok ? "" : "FAIL: ", buf);
    t_report("fault\t%s\t%s\t%s\t%d\t%s", t_fs_name(dir), fault, method, ok, buf);
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
enum { STORM_MAX_S = 10 };

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
    double t0 = now_s();
    while (!atomic_load(&storm_stop)) {
        pthread_kill(copier, SIGUSR1);
        atomic_fetch_add(&storm_sent, 1);
        /* A copy that crawls under the storm would blow the run's time: stop the
         * storm after STORM_MAX_S and report it. */
        if ((atomic_load(&storm_sent) & 1023) == 0 && now_s() - t0 > STORM_MAX_S) {
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
    size_t n = 64 * MIB + 12345;
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
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
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
        double t0 = now_s();
        int r = zc_copy_file(src, dst, &o, &st);
        double dt = now_s() - t0;
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
            t_regression("io_uring_survives_a_signal_storm", r == 0 && exact && tmps == 0);
        row("signal storm", runs[i].name, r == 0 && exact && tmps == 0,
            "%s%s, %lu SIGALRM + %lu SIGUSR1 delivered, moved by %s (engine %u, failed_step %u), "
            "%.2f s",
            r == 0 ? (exact ? "exact copy" : "copy differs") : zc_strerror(r),
            slow ? " (slow: storm stopped after 10 s)" : "", a, u,
            method_name(st.method), st.engine, st.failed_step, dt);
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
    size_t n = 256 * MIB, ext_len = MIB + 333;
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
        for (int i = 0; i < NMETHODS; i++) {
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
            o.method = methods[i].id;
            o.progress = on_progress;
            o.progress_arg = &c;
            unsigned long bus0 = atomic_load(&n_bus);
            double t0 = now_s();
            int r = guarded_copy(src, dst, &o, &st);
            double dt = now_s() - t0;
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
                         st.bytes == got ? "" : ", stats.bytes differs", method_name(st.method));
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
            row(fault, methods[i].name, ok, "%s%s%s", res, c.fired ? "" : " (change never made: progress not called mid-copy)", extra);
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

/* ------------------------------------------------------------------- FUSE faults */

static unsigned char pattern_byte(size_t i) { return (unsigned char)((i * 131 + (i >> 12)) & 0xff); }

static pid_t fuse_pid;
static char *mnt;

static void fuse_stop(void) {
    if (!mnt) return;
    if (umount2(mnt, MNT_DETACH) != 0) {
        pid_t p = fork();
        if (p == 0) {
            execlp("fusermount3", "fusermount3", "-u", "-z", mnt, (char *)NULL);
            _exit(127);
        }
        if (p > 0) waitpid(p, NULL, 0);
    }
    if (fuse_pid > 0) {
        /* The daemon leaves by itself once unmounted; make sure. */
        for (int i = 0; i < 50; i++) {
            if (waitpid(fuse_pid, NULL, WNOHANG) == fuse_pid) {
                fuse_pid = 0;
                break;
            }
            usleep(20000);
        }
        if (fuse_pid > 0) {
            kill(fuse_pid, SIGTERM);
            waitpid(fuse_pid, NULL, 0);
            fuse_pid = 0;
        }
    }
    rmdir(mnt);
}

/* Mounts faultfs.py on a fresh directory; NULL and *why set when it cannot. */
static const char *fuse_start(const char **why) {
    const char *script = getenv("FAULTFS") ? getenv("FAULTFS") : "c-tests/faultfs.py";
    const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
    if (access("/dev/fuse", R_OK | W_OK) != 0) return *why = "/dev/fuse not usable", NULL;
    if (access(script, R_OK) != 0) return *why = "faultfs.py not found (set FAULTFS)", NULL;
    if (access(py, X_OK) != 0) py = "python3";
    mnt = t_path(dir, "mnt");
    if (mkdir(mnt, 0755) != 0) t_die("mkdir mnt");
    fuse_pid = fork();
    if (fuse_pid < 0) t_die("fork");
    if (fuse_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0 && !getenv("FAULTFS_VERBOSE")) dup2(devnull, 1);
        execlp(py, py, script, mnt, (char *)NULL);
        _exit(127);
    }
    char *probe = t_path(mnt, "eio.bin");
    for (int i = 0; i < 200; i++) {
        struct stat st;
        if (stat(probe, &st) == 0 && st.st_size == 4 * MIB) {
            free(probe);
            return mnt;
        }
        int status;
        if (waitpid(fuse_pid, &status, WNOHANG) == fuse_pid) {
            fuse_pid = 0;
            free(probe);
            rmdir(mnt);
            free(mnt);
            mnt = NULL;
            return *why = "faultfs.py exited (python3-fusepy or libfuse missing?)", NULL;
        }
        usleep(50000);
    }
    free(probe);
    fuse_stop();
    free(mnt);
    mnt = NULL;
    return *why = "faultfs.py did not come up within 10 s", NULL;
}

static void test_fuse(int *skipped) {
    const char *why = NULL;
    if (!fuse_start(&why)) {
        printf("SKIP fuse cases: %s\n", why);
        *skipped = 1;
        return;
    }
    char *eio = t_path(mnt, "eio.bin"), *zero = t_path(mnt, "zero.bin");
    char *dst = t_path(dir, "fuse.dst");
    unsigned char old[777];
    t_fill(old, sizeof old, 3);
    size_t zn = 3 * MIB;
    unsigned char *zwant = malloc(zn);
    if (!zwant) t_die("malloc");
    for (size_t i = 0; i < zn; i++) zwant[i] = pattern_byte(i);

    t_name = "fuse EIO";
    for (int i = 0; i < NMETHODS; i++) {
        t_write_file(dst, old, sizeof old);
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        o.method = methods[i].id;
        int r = zc_copy_file(eio, dst, &o, &st);
        int intact = t_file_is(dst, old, sizeof old), tmps = t_temp_files(dir);
        CHECK_EQ(r, -EIO);
        CHECK(intact);
        CHECK_EQ(tmps, 0);
        /* The fault: mmap reported the I/O error as -EFAULT. */
        if (methods[i].id == ZC_METHOD_MMAP)
            t_regression("mmap_read_error_is_eio_not_efault", r == -EIO && intact && tmps == 0);
        row("read EIO at 1 MiB of 4 MiB (FUSE)", methods[i].name, r == -EIO && intact && tmps == 0,
            "%s, failed_step %u, %llu bytes written, old destination %s%s",
            r ? zc_strerror(r) : "SUCCESS (expected EIO)", st.failed_step,
            (unsigned long long)st.bytes, intact ? "intact" : "CHANGED",
            tmps ? ", temporary file left" : "");
    }

    t_name = "fuse size 0";
    for (int i = 0; i < NMETHODS; i++) {
        unlink(dst);
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        o.method = methods[i].id;
        int r = zc_copy_file(zero, dst, &o, &st);
        size_t got = 0;
        int prefix = r == 0 && file_is_prefix(dst, zwant, zn, &got);
        int all = prefix && got == zn;
        int must = methods[i].id == ZC_METHOD_AUTO || methods[i].id == ZC_METHOD_READ_WRITE ||
                   methods[i].id == ZC_METHOD_DIRECT;
        int tmps = t_temp_files(dir);
        CHECK_EQ(tmps, 0);
        if (must) {
            CHECK_EQ(r, 0);
            CHECK(all);
        }
        /* The other methods: reported, and what they wrote must at least be right. */
        if (r == 0) CHECK(prefix);
        char res[200];
        if (r == 0)
            snprintf(res, sizeof res, "success, %zu of %zu bytes%s, moved by %s", got, zn,
                     prefix ? "" : " (WRONG content)", method_name(st.method));
        else
            snprintf(res, sizeof res, "%s, failed_step %u", zc_strerror(r), st.failed_step);
        /* The fault: Direct I/O trusted the size and copied nothing. */
        if (methods[i].id == ZC_METHOD_DIRECT)
            t_regression("direct_copies_a_file_that_claims_size_0", r == 0 && all && tmps == 0);
        row("size 0 in getattr, 3 MiB on read (FUSE)", methods[i].name,
            tmps == 0 && (r != 0 || prefix) && (!must || (r == 0 && all)), "%s%s", res,
            must ? "" : " (reported only)");
    }
    /* A read that blocks for 0.8 s: FUSE serves io_uring's read inside the
     * submission itself. (Waits that end in ETIME are covered by the Rust test
     * io_uring_waits_out_a_throttled_disk.) */
    t_name = "fuse slow read";
    {
        char *slow = t_path(mnt, "slow.bin");
        unlink(dst);
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        o.engine = ZC_ENGINE_IO_URING;
        o.queue_depth = 4;
        int r = directio_copy(slow, dst, &o, &st);
        size_t got = 0;
        int all = r == 0 && file_is_prefix(dst, zwant, zn, &got) && got == zn;
        int ring = st.method == ZC_METHOD_DIRECT && st.engine == ZC_ENGINE_IO_URING;
        CHECK_EQ(r, 0);
        CHECK(all);
        CHECK(ring);
        CHECK(st.elapsed_ns >= 700000000ull);
        row("first read takes 0.8 s (FUSE)", "direct io_uring", r == 0 && all && ring,
            "%s, %zu of %zu bytes, engine %s, %.2f s", r ? zc_strerror(r) : "success", got, zn,
            ring ? "io_uring" : "not io_uring", (double)st.elapsed_ns / 1e9);
        unlink(dst);
        free(slow);
    }
    unlink(dst);
    fuse_stop();
    free(mnt);
    mnt = NULL;
    free(zwant);
    free(eio);
    free(zero);
    free(dst);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char *work = t_mkdtemp(argv[1]);
    dir = work;
    double t0 = now_s();
    int fds = t_count_fds_no_pipes();
    test_signal_storm();
    double t1 = now_s();
    test_source_changes();
    double t2 = now_s();
    int fuse_skipped = 0;
    test_fuse(&fuse_skipped);
    double t3 = now_s();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds_no_pipes(), fds);
    printf("totals: %d cases, %d ok, %d failed%s; signal storm %.1f s, source changes %.1f s, "
           "fuse %.1f s, all %.1f s\n",
           cases, cases_ok, cases - cases_ok, fuse_skipped ? " (fuse cases skipped)" : "",
           t1 - t0, t2 - t1, t3 - t2, t3 - t0);
    t_rmtree(work);
    free(work);
    return t_finish("test_faults");
}
