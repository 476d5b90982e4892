/*
 * The one helper of zcio's C tests (each program one feature, as liburing's test/):
 * a tiny check framework (exit 0 pass, 1 fail, 77 skip), scratch directories, test
 * data, file comparison, descriptor and temporary-file counting, the rows for
 * RELIABILITY.md, a watchdog, and EXPECT_*: one ABI case (a call with errno set to
 * a sentinel, its result, errno left alone, the fixture's destination unchanged),
 * recorded as a row of the bad-input table.
 */
#ifndef ZCIO_TEST_HELPERS_H
#define ZCIO_TEST_HELPERS_H

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "zcio.h"

static int t_failures;
static int t_checks;
static const char *t_name = "?";

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        t_checks++;                                                                        \
        if (!(cond)) {                                                                     \
            t_failures++;                                                                  \
            fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, t_name, #cond);   \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);                              \
        t_checks++;                                                                        \
        if (va_ != vb_) {                                                                  \
            t_failures++;                                                                  \
            fprintf(stderr, "FAIL %s:%d [%s]: %s == %lld, expected %s == %lld\n", __FILE__, \
                    __LINE__, t_name, #a, va_, #b, vb_);                                   \
        }                                                                                  \
    } while (0)

/* Ends the program: 1 if any check failed, else 0; prints the counts. */
static inline int t_finish(const char *prog) {
    printf("%s: %d checks, %d failed\n", prog, t_checks, t_failures);
    return t_failures ? 1 : 0;
}

static inline void t_skip(const char *why) {
    printf("SKIP: %s\n", why);
    exit(77);
}

static inline void t_die(const char *what) {
    fprintf(stderr, "test setup failed: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A fresh directory under `base`; removed by t_rmtree at the end. */
static inline char *t_mkdtemp(const char *base) {
    char *p = malloc(strlen(base) + 32);
    if (!p) t_die("malloc");
    sprintf(p, "%s/zcio-ctest-XXXXXX", base);
    if (!mkdtemp(p)) t_die("mkdtemp");
    return p;
}

static inline char *t_path(const char *dir, const char *name) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (!p) t_die("malloc");
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static inline void t_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = t_path(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            t_rmtree(p);
        } else {
            unlink(p);
        }
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Deterministic pseudo-random bytes (xorshift64). */
static inline void t_fill(unsigned char *buf, size_t len, uint64_t seed) {
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL | 1;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        buf[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
}

static inline void t_write_file(const char *path, const unsigned char *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) t_die(path);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            t_die("write");
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) t_die("fsync");
    close(fd);
}

/* A file of `len` pseudo-random bytes; returns its contents (caller frees). */
static inline unsigned char *t_make_file(const char *path, size_t len, uint64_t seed) {
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) t_die("malloc");
    t_fill(buf, len, seed);
    t_write_file(path, buf, len);
    return buf;
}

/* Reads a whole file; *len_out gets its size. NULL when it cannot be opened. */
static inline unsigned char *t_read_file(const char *path, size_t *len_out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) t_die("fstat");
    size_t cap = (size_t)st.st_size + 1, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) t_die("malloc");
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) t_die("realloc");
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            t_die("read");
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    *len_out = len;
    return buf;
}

/* 1 when the file at `path` holds exactly `len` bytes equal to `want`. */
static inline int t_file_is(const char *path, const unsigned char *want, size_t len) {
    size_t got_len = 0;
    unsigned char *got = t_read_file(path, &got_len);
    if (!got) return 0;
    int same = got_len == len && (len == 0 || memcmp(got, want, len) == 0);
    free(got);
    return same;
}

/* 1 when two files have identical contents. */
static inline int t_files_equal(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    unsigned char *x = t_read_file(a, &la), *y = t_read_file(b, &lb);
    int same = x && y && la == lb && (la == 0 || memcmp(x, y, la) == 0);
    free(x);
    free(y);
    return same;
}

static inline int t_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Entries in `dir` besides . and .. */
static inline int t_count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Open descriptors other than pipes: zcio keeps a pipe per thread for splice, and
 * ThreadSanitizer's runtime talks to its symbolizer through pipes. */
static inline int t_count_fds_no_pipes(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
        char p[300], l[64];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, l, sizeof l - 1);
        if (k < 0) continue;
        l[k] = 0;
        if (strncmp(l, "pipe:", 5)) n++;
    }
    closedir(d);
    return n;
}

/* Open descriptors of this process (the directory stream's own is not counted);
 * under ThreadSanitizer, pipes are left out (see above). */
static inline int t_count_fds(void) {
#if defined(__SANITIZE_THREAD__)
    return t_count_fds_no_pipes();
#else
    int n = t_count_entries("/proc/self/fd");
    return n < 0 ? -1 : n - 1;
#endif
}

/* Names in `d` that look like zcio's temporary files. */
static inline int t_temp_files(const char *d) {
    DIR *dh = opendir(d);
    if (!dh) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)))
        if (!strncmp(e->d_name, ".zcio-", 6)) n++;
    closedir(dh);
    return n;
}

/* The file system `path` is on, by name where zcio's tests meet it. */
static inline const char *t_fs_name(const char *path) {
    static char buf[32];
    struct statfs sf;
    if (statfs(path, &sf) != 0) return "?";
    switch ((unsigned long)sf.f_type) {
    case 0xEF53: return "ext4";
    case 0x01021994: return "tmpfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x65735546: return "fuse";
    }
    snprintf(buf, sizeof buf, "0x%lx", (unsigned long)sf.f_type);
    return buf;
}

/* With ZCIO_REPORT=FILE, appends one tab-separated line to FILE: the rows that
 * c-tests/reliability.py turns into RELIABILITY.md. Tabs and newlines in the
 * fields are replaced by spaces. */
static inline void t_report(const char *fmt, ...) {
    const char *path = getenv("ZCIO_REPORT");
    if (!path || !*path) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) t_die(path);
    if (write(fd, line, (size_t)n) != n) t_die("report write");
    close(fd);
}

/* A regression check named after the fault it once found: counted, printed, and
 * recorded for RELIABILITY.md. */
static inline void t_regression(const char *name, int ok) {
    t_checks++;
    if (!ok) {
        t_failures++;
        fprintf(stderr, "FAIL regression %s\n", name);
    }
    printf("regression %s: %s\n", name, ok ? "ok" : "FAILED");
    t_report("regression\t%s\t%d", name, ok);
}

/* ---- a watchdog: a call that never returns fails the program ---------------- */

static void t_on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: watchdog: a call did not return in time\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(1);
}

static void t_on_sigbus(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: SIGBUS raised in the test process\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(1);
}

/* Fails the program when `seconds` pass before the next t_watchdog call (0: off);
 * a SIGBUS fails it too. */
static inline void t_watchdog(unsigned seconds) {
    signal(SIGALRM, t_on_alarm);
    signal(SIGBUS, t_on_sigbus);
    alarm(seconds);
}

/* 1 when the program runs under valgrind (its preload is in LD_PRELOAD). */
static inline int t_under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* zc_splice keeps a pipe for the calling thread: make it before counting
 * descriptors, so that its appearance is not taken for a leak. */
static inline void t_warm_splice(void) {
    int in = open("/dev/zero", O_RDONLY | O_CLOEXEC), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in < 0 || out < 0 || zc_splice(in, NULL, out, NULL, 10, 0) != 10) t_die("zc_splice");
    close(in);
    close(out);
}

/* ---- ABI cases --------------------------------------------------------------- */

/* A value no call sets, to see that errno is left alone. */
#define T_SENT 4242

/* The fixture of the ABI programs: a source, an existing destination that no
 * refused call may change, a name that no refused call may create, and a
 * directory `ok/` for the calls that succeed. */
static const char *t_dir;
static char *t_src, *t_dst_old, *t_dst_new, *t_okdir;
static unsigned char *t_src_data;
static size_t t_src_len;
static const unsigned char t_old_data[] = "old destination contents\n";
static int t_base_entries, t_rows, t_rows_bad;

static inline void t_write_nosync(const char *path, const unsigned char *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) t_die(path);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) t_die("write");
        off += (size_t)n;
    }
    close(fd);
}

/* Makes the fixture in a fresh directory under `base`. */
static inline void t_fixture(const char *base) {
    t_dir = t_mkdtemp(base);
    t_src = t_path(t_dir, "src");
    t_dst_old = t_path(t_dir, "dst-old");
    t_dst_new = t_path(t_dir, "dst-new");
    t_okdir = t_path(t_dir, "ok");
    if (mkdir(t_okdir, 0755) != 0) t_die("mkdir");
    t_src_len = 65536 + 3;
    t_src_data = t_make_file(t_src, t_src_len, 31337);
    t_write_nosync(t_dst_old, t_old_data, sizeof t_old_data - 1);
    t_base_entries = t_count_entries(t_dir);
    t_warm_splice();
}

static inline char *t_ok_path(const char *name) { return t_path(t_okdir, name); }

/* The methods a copy can be forced to use, reflink (which ext4 and tmpfs refuse)
 * left out. */
enum { T_NCOPY_METHODS = 7 };
static inline uint32_t t_copy_method(int i) {
    static const uint32_t m[T_NCOPY_METHODS] = {
        ZC_METHOD_AUTO,   ZC_METHOD_DIRECT, ZC_METHOD_COPY_FILE_RANGE, ZC_METHOD_SENDFILE,
        ZC_METHOD_SPLICE, ZC_METHOD_MMAP,   ZC_METHOD_READ_WRITE};
    return m[i];
}

/* zc_method_name(m) in capitals, as the report rows spell methods ("?" for none):
 * t_method_upper(m).s, valid to the end of the expression. */
typedef struct {
    char s[24];
} t_name_buf;
static inline t_name_buf t_method_upper(uint32_t m) {
    t_name_buf b = {"?"};
    const char *n = zc_method_name(m);
    for (size_t i = 0; n && n[i] && i + 1 < sizeof b.s; i++) {
        b.s[i] = (char)toupper((unsigned char)n[i]);
        b.s[i + 1] = 0;
    }
    return b;
}

/* Seconds on the monotonic clock. */
static inline double t_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The start of a fixture program's main: DIR from the command line (usage: exit
 * 2), SIGPIPE an error rather than death, the fixture made in DIR. Returns the
 * descriptors open before the checks, for t_fixture_finish. */
static inline int t_fixture_main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    t_fixture(argv[1]);
    return t_count_fds();
}

static inline void t_fixture_done(void) {
    t_rmtree(t_dir);
    free((void *)t_dir);
    free(t_src);
    free(t_dst_old);
    free(t_dst_new);
    free(t_okdir);
    free(t_src_data);
}

/* After a refused call: the existing destination as it was, the new one absent,
 * no temporary file left in the directory. */
static inline int t_dst_intact(void) {
    return t_file_is(t_dst_old, t_old_data, sizeof t_old_data - 1) && !t_exists(t_dst_new) &&
           t_count_entries(t_dir) == t_base_entries;
}

static inline const char *t_ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case E2BIG: return "E2BIG";
    case ESPIPE: return "ESPIPE";
    case ENOTTY: return "ENOTTY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EISDIR: return "EISDIR";
    case EXDEV: return "EXDEV";
    case EPERM: return "EPERM";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ECANCELED: return "ECANCELED";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case T_SENT: return "unchanged";
    default: return NULL;
    }
}

static inline void t_fmt_ret(char *out, size_t cap, long long r) {
    const char *n = r < 0 && r > INT_MIN ? t_ename((int)-r) : NULL;
    if (r == 0) snprintf(out, cap, "0");
    else if (n) snprintf(out, cap, "-%s", n);
    else if (r < 0) snprintf(out, cap, "%lld", r);
    else snprintf(out, cap, "%lld bytes", r);
}

static inline void t_fmt_errno(char *out, size_t cap, long long r, int e) {
    const char *n = t_ename(e);
    if (n) snprintf(out, cap, "%lld, errno %s", r, n);
    else snprintf(out, cap, "%lld, errno %d", r, e);
}

/* One ABI case: prints `| input | call | result |`, counts its checks and records
 * a `bad` row for RELIABILITY.md. */
static inline void t_record(int line, const char *input, const char *call, const char *got,
                            const char *want, int ret_ok, int errno_ok, int check_dst) {
    int dst_ok = check_dst ? t_dst_intact() : 1;
    t_checks += 2 + (check_dst != 0);
    int ok = ret_ok && errno_ok && dst_ok;
    t_rows++;
    t_report("bad\t%s\t%s\t%s\t%d", input, call, got, ok);
    if (ok) {
        printf("| %s | `%s` | %s |\n", input, call, got);
        return;
    }
    t_rows_bad++;
    t_failures += !ret_ok + !errno_ok + !dst_ok;
    if (!dst_ok) { /* put it back, so that the next cases are judged on their own */
        unlink(t_dst_new);
        t_write_nosync(t_dst_old, t_old_data, sizeof t_old_data - 1);
    }
    printf("| %s | `%s` | %s (expected %s)%s%s FAIL |\n", input, call, got, want,
           errno_ok ? "" : ", errno changed", dst_ok ? "" : ", destination changed");
    fprintf(stderr, "FAIL line %d [%s]: %s: got %s, expected %s%s%s\n", line, t_name, call, got,
            want, errno_ok ? "" : ", errno changed", dst_ok ? "" : ", destination changed");
}

static inline void t_expect_ret(int line, const char *input, const char *call, long long r, int e,
                                long long want) {
    char g[64], w[64];
    t_fmt_ret(g, sizeof g, r);
    t_fmt_ret(w, sizeof w, want);
    t_record(line, input, call, g, w, r == want, e == T_SENT, 1);
}

/* A call returning -errno (or 0 / a count) that must leave errno alone. */
#define EXPECT_AS(input, call, expr, want)                                                 \
    do {                                                                                   \
        errno = T_SENT;                                                                    \
        long long r_ = (long long)(expr);                                                  \
        int e_ = errno;                                                                    \
        t_expect_ret(__LINE__, input, call, r_, e_, (long long)(want));                   \
    } while (0)
#define EXPECT(input, expr, want) EXPECT_AS(input, #expr, expr, want)

/* The historical contracts: `fail` returned and errno set to `want_errno`. */
#define EXPECT_ERRNO(input, expr, fail, want_errno)                                        \
    do {                                                                                   \
        errno = T_SENT;                                                                    \
        long long r_ = (long long)(expr);                                                  \
        int e_ = errno;                                                                    \
        char g_[64], w_[64];                                                               \
        t_fmt_errno(g_, sizeof g_, r_, e_);                                                \
        t_fmt_errno(w_, sizeof w_, (long long)(fail), want_errno);                         \
        t_record(__LINE__, input, #expr, g_, w_, r_ == (long long)(fail), e_ == (want_errno), 1); \
    } while (0)

/* A void call: must not crash and must leave errno alone. */
#define EXPECT_VOID(input, stmt)                                                           \
    do {                                                                                   \
        errno = T_SENT;                                                                    \
        stmt;                                                                              \
        int e_ = errno;                                                                    \
        t_record(__LINE__, input, #stmt, "no-op", "no-op", 1, e_ == T_SENT, 1);            \
    } while (0)

/* The three path-based copies, for cases that hold for each. */
typedef int (*t_path_fn)(const char *, const char *, const zc_options *, zc_stats *);
static const struct {
    const char *name;
    t_path_fn f;
} T_PATH_FNS[] = {{"directio_copy", directio_copy},
                  {"zc_copy_file", zc_copy_file},
                  {"zc_splice_file", zc_splice_file}};
enum { T_NPATH = sizeof T_PATH_FNS / sizeof T_PATH_FNS[0] };

/* Ends an ABI program: the final state checks, the table's count, the exit. */
static inline int t_fixture_finish(const char *prog, int fds) {
    t_name = "final";
    CHECK(t_dst_intact());
    CHECK_EQ(t_count_fds(), fds);
    printf("%s: %d ABI cases, %d not as documented\n", prog, t_rows, t_rows_bad);
    t_fixture_done();
    return t_finish(prog);
}

#endif
