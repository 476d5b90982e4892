/*
 * zcio on a file system that misbehaves, for every method of zc_copy_file: through
 * c-tests/faultfs.py (a FUSE file system in Python, mounted here) a source whose
 * reads fail with EIO, one that claims size 0 but holds data, and one whose first
 * read takes 0.8 s. Each case prints `fault | method | result`. Exits 77 when FUSE
 * cannot run here (no /dev/fuse, no fusepy). The signal storm and the sources
 * changed mid-copy that this program also ran are in tests/signals.rs and
 * tests/changing_source.rs now (c-tests/san-signals.c drives them under ASan).
 *
 * usage: test_faults DIR   (DIR: where the files go; run on ext4 and on tmpfs)
 * FAULTFS=path/to/faultfs.py overrides c-tests/faultfs.py; PYTHON the interpreter.
 */
#include "helpers.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "zcio.h"

enum { MIB = 1 << 20 };

static const char *dir;
static int cases, cases_ok;

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
    for (int i = 0; i < T_NCOPY_METHODS; i++) {
        t_write_file(dst, old, sizeof old);
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        o.method = t_copy_method(i);
        int r = zc_copy_file(eio, dst, &o, &st);
        int intact = t_file_is(dst, old, sizeof old), tmps = t_temp_files(dir);
        CHECK_EQ(r, -EIO);
        CHECK(intact);
        CHECK_EQ(tmps, 0);
        /* The fault: mmap reported the I/O error as -EFAULT. */
        if (t_copy_method(i) == ZC_METHOD_MMAP)
            t_regression("mmap_read_error_is_eio_not_efault", r == -EIO && intact && tmps == 0);
        row("read EIO at 1 MiB of 4 MiB (FUSE)", t_method_upper(t_copy_method(i)).s, r == -EIO && intact && tmps == 0,
            "%s, failed_step %u, %llu bytes written, old destination %s%s",
            r ? zc_strerror(r) : "SUCCESS (expected EIO)", st.failed_step,
            (unsigned long long)st.bytes, intact ? "intact" : "CHANGED",
            tmps ? ", temporary file left" : "");
    }

    t_name = "fuse size 0";
    for (int i = 0; i < T_NCOPY_METHODS; i++) {
        unlink(dst);
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        o.method = t_copy_method(i);
        int r = zc_copy_file(zero, dst, &o, &st);
        size_t got = 0;
        int prefix = r == 0 && file_is_prefix(dst, zwant, zn, &got);
        int all = prefix && got == zn;
        int must = t_copy_method(i) == ZC_METHOD_AUTO || t_copy_method(i) == ZC_METHOD_READ_WRITE ||
                   t_copy_method(i) == ZC_METHOD_DIRECT;
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
                     prefix ? "" : " (WRONG content)", t_method_upper(st.method).s);
        else
            snprintf(res, sizeof res, "%s, failed_step %u", zc_strerror(r), st.failed_step);
        /* The fault: Direct I/O trusted the size and copied nothing. */
        if (t_copy_method(i) == ZC_METHOD_DIRECT)
            t_regression("direct_copies_a_file_that_claims_size_0", r == 0 && all && tmps == 0);
        row("size 0 in getattr, 3 MiB on read (FUSE)", t_method_upper(t_copy_method(i)).s,
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
    double t0 = t_now();
    int fds = t_count_fds_no_pipes();
    int fuse_skipped = 0;
    test_fuse(&fuse_skipped);
    t_name = "descriptors";
    CHECK_EQ(t_count_fds_no_pipes(), fds);
    printf("totals: %d cases, %d ok, %d failed; fuse %.1f s\n", cases, cases_ok, cases - cases_ok,
           t_now() - t0);
    t_rmtree(work);
    free(work);
    if (fuse_skipped) t_skip("no FUSE here: no case ran");
    return t_finish("test_faults");
}
