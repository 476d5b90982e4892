/*
 * Helpers for zcio's C tests: a tiny check framework (exit 0 pass, 1 fail, 77 skip),
 * scratch directories, test data, file comparison and descriptor counting.
 */
#ifndef ZCIO_TEST_COMMON_H
#define ZCIO_TEST_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <unistd.h>

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

#endif
