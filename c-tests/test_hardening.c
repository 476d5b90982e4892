/*
 * zcio's hardening through the C API: every bad input refused with its documented
 * error (errno untouched, the destination unchanged or absent afterwards), many
 * threads copying at once with every method, and no descriptor or memory growth
 * over many calls. Prints a table line `input | call | result` per bad input.
 *
 * usage: test_hardening DIR   (DIR: where the files go; run on ext4 and on tmpfs)
 */
#include "common.h"

#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "zcio.h"

#if defined(__SANITIZE_ADDRESS__)
#define RUN_KIND "asan"
#else
#define RUN_KIND "plain"
#endif

/* A value no call sets, to see that errno is left alone. */
#define SENT 4242

static const char *dir;
static int valgrind;
static char *src, *dst_old, *dst_new, *okdir;
static unsigned char *src_data;
static size_t src_len;
static const unsigned char old_data[] = "old destination contents\n";
static int base_entries;
static int rows, rows_bad;

static void *xmalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) t_die("calloc");
    return p;
}

static void write_nosync(const char *path, const unsigned char *buf, size_t len) {
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

static const char *ename(int e) {
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
    case SENT: return "unchanged";
    default: return NULL;
    }
}

static void fmt_ret(char *out, size_t cap, long long r) {
    const char *n = r < 0 && r > INT_MIN ? ename((int)-r) : NULL;
    if (r == 0) snprintf(out, cap, "0");
    else if (n) snprintf(out, cap, "-%s", n);
    else if (r < 0) snprintf(out, cap, "%lld", r);
    else snprintf(out, cap, "%lld bytes", r);
}

static void fmt_errno(char *out, size_t cap, long long r, int e) {
    const char *n = ename(e);
    if (n) snprintf(out, cap, "%lld, errno %s", r, n);
    else snprintf(out, cap, "%lld, errno %d", r, e);
}

/* After a refused call: the existing destination as it was, the new one absent,
 * no temporary file left in the directory. */
static int dst_intact(void) {
    return t_file_is(dst_old, old_data, sizeof old_data - 1) && !t_exists(dst_new) &&
           t_count_entries(dir) == base_entries;
}

static void record(int line, const char *input, const char *call, const char *got,
                   const char *want, int ret_ok, int errno_ok, int check_dst) {
    int dst_ok = check_dst ? dst_intact() : 1;
    t_checks += 2 + (check_dst != 0);
    int ok = ret_ok && errno_ok && dst_ok;
    rows++;
    t_report("bad\t%s\t%s\t%s\t%d", input, call, got, ok);
    if (ok) {
        printf("| %s | `%s` | %s |\n", input, call, got);
        return;
    }
    rows_bad++;
    t_failures += !ret_ok + !errno_ok + !dst_ok;
    if (!dst_ok) { /* put it back, so that the next cases are judged on their own */
        unlink(dst_new);
        write_nosync(dst_old, old_data, sizeof old_data - 1);
    }
    printf("| %s | `%s` | %s (expected %s)%s%s FAIL |\n", input, call, got, want,
           errno_ok ? "" : ", errno changed", dst_ok ? "" : ", destination changed");
    fprintf(stderr, "FAIL %s:%d [%s]: %s: got %s, expected %s%s%s\n", __FILE__, line, t_name,
            call, got, want, errno_ok ? "" : ", errno changed",
            dst_ok ? "" : ", destination changed");
}

static void expect_ret(int line, const char *input, const char *call, long long r, int e,
                       long long want, int check_dst) {
    char g[64], w[64];
    fmt_ret(g, sizeof g, r);
    fmt_ret(w, sizeof w, want);
    record(line, input, call, g, w, r == want, e == SENT, check_dst);
}

/* A call returning -errno (or 0 / a count) that must leave errno alone. */
#define EXPECT_AS(input, call, expr, want)                                                 \
    do {                                                                                   \
        errno = SENT;                                                                      \
        long long r_ = (long long)(expr);                                                  \
        int e_ = errno;                                                                    \
        expect_ret(__LINE__, input, call, r_, e_, (long long)(want), 1);                  \
    } while (0)
#define EXPECT(input, expr, want) EXPECT_AS(input, #expr, expr, want)

/* The historical contracts: `fail` returned and errno set to `want_errno`. */
#define EXPECT_ERRNO(input, expr, fail, want_errno)                                        \
    do {                                                                                   \
        errno = SENT;                                                                      \
        long long r_ = (long long)(expr);                                                  \
        int e_ = errno;                                                                    \
        char g_[64], w_[64];                                                               \
        fmt_errno(g_, sizeof g_, r_, e_);                                                  \
        fmt_errno(w_, sizeof w_, (long long)(fail), want_errno);                           \
        record(__LINE__, input, #expr, g_, w_, r_ == (long long)(fail), e_ == (want_errno), 1); \
    } while (0)

/* A void call: must not crash and must leave errno alone. */
#define EXPECT_VOID(input, stmt)                                                           \
    do {                                                                                   \
        errno = SENT;                                                                      \
        stmt;                                                                              \
        int e_ = errno;                                                                    \
        record(__LINE__, input, #stmt, "no-op", "no-op", 1, e_ == SENT, 1);               \
    } while (0)

typedef int (*path_fn)(const char *, const char *, const zc_options *, zc_stats *);
static const struct {
    const char *name;
    path_fn f;
} PATH_FNS[] = {{"directio_copy", directio_copy},
                {"zc_copy_file", zc_copy_file},
                {"zc_splice_file", zc_splice_file}};
enum { NPATH = sizeof PATH_FNS / sizeof PATH_FNS[0] };

static char *ok_path(const char *name) { return t_path(okdir, name); }

/* ---- 1. bad input ------------------------------------------------------------ */

static void bad_nulls(void) {
    t_name = "null";
    char call[128];
    for (int k = 0; k < NPATH; k++) {
        path_fn f = PATH_FNS[k].f;
        snprintf(call, sizeof call, "%s(NULL, dst_new, NULL, NULL)", PATH_FNS[k].name);
        EXPECT_AS("src NULL", call, f(NULL, dst_new, NULL, NULL), -EINVAL);
        snprintf(call, sizeof call, "%s(NULL, dst_old, NULL, NULL)", PATH_FNS[k].name);
        EXPECT_AS("src NULL, dst exists", call, f(NULL, dst_old, NULL, NULL), -EINVAL);
        snprintf(call, sizeof call, "%s(src, NULL, NULL, NULL)", PATH_FNS[k].name);
        EXPECT_AS("dst NULL", call, f(src, NULL, NULL, NULL), -EINVAL);
        snprintf(call, sizeof call, "%s(NULL, NULL, NULL, NULL)", PATH_FNS[k].name);
        EXPECT_AS("both NULL", call, f(NULL, NULL, NULL, NULL), -EINVAL);
        /* NULL opts and stats are allowed. */
        char *ok = ok_path("null-ok");
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        snprintf(call, sizeof call, "%s(src, ok, NULL, NULL)", PATH_FNS[k].name);
        EXPECT_AS("opts NULL, stats NULL (allowed)", call, f(src, ok, NULL, NULL), 0);
        snprintf(call, sizeof call, "%s(src, ok, &o, NULL)", PATH_FNS[k].name);
        EXPECT_AS("stats NULL (allowed)", call, f(src, ok, &o, NULL), 0);
        snprintf(call, sizeof call, "%s(src, ok, NULL, &st)", PATH_FNS[k].name);
        EXPECT_AS("opts NULL (allowed)", call, f(src, ok, NULL, &st), 0);
        CHECK(t_file_is(ok, src_data, src_len));
        CHECK_EQ(st.bytes, src_len);
        unlink(ok);
        free(ok);
    }
    EXPECT_ERRNO("src NULL", directIO_copy(NULL, dst_new), false, EINVAL);
    EXPECT_ERRNO("dst NULL", directIO_copy(src, NULL), false, EINVAL);
    EXPECT_ERRNO("both NULL", directIO_copy(NULL, NULL), false, EINVAL);

    EXPECT_VOID("opts NULL", (zc_options_init)(NULL));
    EXPECT_VOID("opts NULL", zc_options_init_sized(NULL, sizeof(zc_options)));
    EXPECT_VOID("stats NULL", (zc_stats_init)(NULL));
    EXPECT_VOID("stats NULL", zc_stats_init_sized(NULL, sizeof(zc_stats)));
    /* An initialiser writes no byte past the size it is given. */
    unsigned char raw[sizeof(zc_stats)];
    memset(raw, 0xaa, sizeof raw);
    zc_stats_init_sized((zc_stats *)(void *)raw, 8);
    int untouched = 1;
    for (size_t i = 8; i < sizeof raw; i++) untouched &= raw[i] == 0xaa;
    CHECK(untouched);
    memset(raw, 0xaa, sizeof raw);
    zc_options_init_sized((zc_options *)(void *)raw, 8);
    untouched = 1;
    for (size_t i = 8; i < sizeof(zc_options); i++) untouched &= raw[i] == 0xaa;
    CHECK(untouched);

    /* Offset and out pointers: NULL is allowed. */
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) t_die("open src");
    char *okp = ok_path("fd-ok");
    int out = open(okp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) t_die("open ok");
    int64_t off = 0;
    EXPECT("offset NULL (allowed)", zc_sendfile(out, in, NULL, ZC_TO_EOF, 0), src_len);
    EXPECT("offsets NULL (allowed)", zc_splice(in, &off, out, NULL, ZC_TO_EOF, 0), src_len);
    off = 0;
    EXPECT("offsets NULL (allowed)", zc_copy_file_range(in, &off, out, NULL, ZC_TO_EOF, 0),
           src_len);
    lseek(in, 0, SEEK_SET);
    EXPECT("offset NULL (allowed)", zc_mmap_copy(in, NULL, out, ZC_TO_EOF, 0), src_len);
    lseek(in, 0, SEEK_SET);
    EXPECT("offsets NULL (allowed)", zc_splice(in, NULL, out, NULL, ZC_TO_EOF, 0), src_len);
    lseek(in, 0, SEEK_SET);
    EXPECT("offsets NULL (allowed)", zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, 0),
           src_len);
    size_t got_len = 0;
    unsigned char *got = t_read_file(okp, &got_len);
    CHECK_EQ(got_len, 6 * src_len);
    int same = got != NULL;
    for (size_t i = 0; same && i < 6; i++) same = !memcmp(got + i * src_len, src_data, src_len);
    CHECK(same);
    free(got);
    uint32_t m = 0, a = 0;
    int want = zc_dio_alignment(in, &m, &a);
    CHECK(want == 0 || want == -EOPNOTSUPP);
    EXPECT("both out pointers NULL (allowed)", zc_dio_alignment(in, NULL, NULL), want);
    EXPECT("mem_align_out NULL (allowed)", zc_dio_alignment(in, NULL, &a), want);
    EXPECT("offset_align_out NULL (allowed)", zc_dio_alignment(in, &m, NULL), want);
    /* Documented offset errors. */
    off = -1;
    EXPECT("*offset = -1", zc_sendfile(out, in, &off, ZC_TO_EOF, 0), -EINVAL);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) t_die("pipe");
    off = 0;
    EXPECT("offset given for a pipe", zc_splice(p[0], &off, out, NULL, 1, 0), -ESPIPE);
    close(p[0]);
    close(p[1]);
    close(in);
    close(out);
    unlink(okp);
    free(okp);
}

static void bad_fds(void) {
    t_name = "fds";
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst_old, O_WRONLY | O_CLOEXEC);
    /* A closed descriptor far above the ones zcio opens itself (its pipes), so that
     * no call can get the number back in between. */
    int closed = fcntl(in, F_DUPFD_CLOEXEC, 700);
    if (in < 0 || out < 0 || closed < 0) t_die("open");
    close(closed);
    const int bad[] = {-1, -100, INT_MIN, closed};
    const char *names[] = {"fd -1", "fd -100", "fd INT_MIN", "closed fd"};
    uint32_t m, a;
    for (int i = 0; i < 4; i++) {
        int b = bad[i];
        const char *n = names[i];
        EXPECT(n, zc_sendfile(b, in, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_sendfile(out, b, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_splice(b, NULL, out, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_splice(in, NULL, b, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_copy_file_range(b, NULL, out, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_copy_file_range(in, NULL, b, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_reflink(b, out), -EBADF);
        EXPECT(n, zc_reflink(in, b), -EBADF);
        EXPECT(n, zc_mmap_copy(b, NULL, out, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_mmap_copy(in, NULL, b, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_directio(b, ZC_DIRECTIO_ON), -EBADF);
        EXPECT(n, zc_dio_alignment(b, &m, &a), -EBADF);
        EXPECT_ERRNO(n, directio(b, DIRECTIO_ON), -1, EBADF);
        lseek(in, 0, SEEK_SET);
    }
    EXPECT("advice 2", zc_directio(out, 2), -EINVAL);
    EXPECT_ERRNO("advice 2", directio(out, 2), -1, EINVAL);

    /* Write-only where reading is needed, read-only where writing is. */
    int wo = open(src, O_WRONLY | O_CLOEXEC);
    int ro = open(dst_old, O_RDONLY | O_CLOEXEC);
    if (wo < 0 || ro < 0) t_die("open");
    EXPECT("write-only source", zc_sendfile(out, wo, NULL, ZC_TO_EOF, 0), -EBADF);
    EXPECT("write-only source", zc_splice(wo, NULL, out, NULL, ZC_TO_EOF, 0), -EBADF);
    EXPECT("write-only source", zc_copy_file_range(wo, NULL, out, NULL, ZC_TO_EOF, 0), -EBADF);
    EXPECT("write-only source", zc_mmap_copy(wo, NULL, out, ZC_TO_EOF, 0), -EBADF);
    EXPECT("write-only source", zc_reflink(wo, out), -EBADF);
    EXPECT("read-only destination", zc_sendfile(ro, in, NULL, ZC_TO_EOF, 0), -EBADF);
    lseek(in, 0, SEEK_SET);
    EXPECT("read-only destination", zc_splice(in, NULL, ro, NULL, ZC_TO_EOF, 0), -EBADF);
    lseek(in, 0, SEEK_SET);
    EXPECT("read-only destination", zc_copy_file_range(in, NULL, ro, NULL, ZC_TO_EOF, 0),
           -EBADF);
    lseek(in, 0, SEEK_SET);
    EXPECT("read-only destination", zc_mmap_copy(in, NULL, ro, ZC_TO_EOF, 0), -EBADF);
    EXPECT("read-only destination", zc_reflink(in, ro), -EBADF);
    close(wo);
    close(ro);

    /* O_APPEND: copy_file_range and sendfile fall back, and append. */
    char *ap = ok_path("append");
    write_nosync(ap, (const unsigned char *)"prefix", 6);
    int afd = open(ap, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (afd < 0) t_die("open append");
    int64_t off = 0;
    EXPECT("O_APPEND destination", zc_copy_file_range(in, &off, afd, NULL, ZC_TO_EOF, 0),
           src_len);
    CHECK_EQ(off, src_len);
    off = 0;
    EXPECT("O_APPEND destination", zc_sendfile(afd, in, &off, ZC_TO_EOF, 0), src_len);
    CHECK_EQ(off, src_len);
    close(afd);
    size_t len = 0;
    unsigned char *got = t_read_file(ap, &len);
    CHECK_EQ(len, 6 + 2 * src_len);
    CHECK(got && len == 6 + 2 * src_len && !memcmp(got, "prefix", 6) &&
          !memcmp(got + 6, src_data, src_len) && !memcmp(got + 6 + src_len, src_data, src_len));
    free(got);
    unlink(ap);
    free(ap);
    close(in);
    close(out);
}

static void bad_paths(void) {
    t_name = "paths";
    /* Longer than PATH_MAX in total, and one component longer than NAME_MAX. */
    size_t dl = strlen(dir);
    char *longp = xmalloc(dl + PATH_MAX + 64);
    strcpy(longp, dir);
    while (strlen(longp) <= PATH_MAX + 16) strcat(longp, "/aaaaaaaaaaaaaaa");
    char *longn = xmalloc(dl + NAME_MAX + 64);
    sprintf(longn, "%s/", dir);
    memset(longn + dl + 1, 'n', NAME_MAX + 1);
    char call[160];
    for (int k = 0; k < NPATH; k++) {
        path_fn f = PATH_FNS[k].f;
        const char *fn = PATH_FNS[k].name;
        snprintf(call, sizeof call, "%s(long, dst_new, NULL, NULL)", fn);
        EXPECT_AS("src > PATH_MAX", call, f(longp, dst_new, NULL, NULL), -ENAMETOOLONG);
        snprintf(call, sizeof call, "%s(src, long, NULL, NULL)", fn);
        EXPECT_AS("dst > PATH_MAX", call, f(src, longp, NULL, NULL), -ENAMETOOLONG);
        snprintf(call, sizeof call, "%s(longname, dst_old, NULL, NULL)", fn);
        EXPECT_AS("src component > NAME_MAX", call, f(longn, dst_old, NULL, NULL),
                  -ENAMETOOLONG);
        snprintf(call, sizeof call, "%s(src, longname, NULL, NULL)", fn);
        EXPECT_AS("dst component > NAME_MAX", call, f(src, longn, NULL, NULL), -ENAMETOOLONG);
        snprintf(call, sizeof call, "%s(\"\", dst_new, NULL, NULL)", fn);
        EXPECT_AS("src empty", call, f("", dst_new, NULL, NULL), -ENOENT);
        snprintf(call, sizeof call, "%s(\"\", dst_old, NULL, NULL)", fn);
        EXPECT_AS("src empty, dst exists", call, f("", dst_old, NULL, NULL), -ENOENT);
        snprintf(call, sizeof call, "%s(src, \"\", NULL, NULL)", fn);
        EXPECT_AS("dst empty", call, f(src, "", NULL, NULL), -ENOENT);
    }
    EXPECT_ERRNO("src > PATH_MAX", directIO_copy(longp, dst_new), false, ENAMETOOLONG);
    EXPECT_ERRNO("dst component > NAME_MAX", directIO_copy(src, longn), false, ENAMETOOLONG);
    EXPECT_ERRNO("src empty", directIO_copy("", dst_new), false, ENOENT);
    EXPECT_ERRNO("dst empty", directIO_copy(src, ""), false, ENOENT);
    free(longp);
    free(longn);

    /* Paths are bytes: names that are not UTF-8 work. */
    char *s8 = ok_path("src-\xff\xfe"), *d8 = ok_path("dst-\xff\xfe\x80"),
         *e8 = ok_path("dio-\xfe\xff");
    write_nosync(s8, src_data, src_len);
    EXPECT("non-UTF-8 names (0xff 0xfe)", zc_copy_file(s8, d8, NULL, NULL), 0);
    CHECK(t_file_is(d8, src_data, src_len));
    EXPECT("non-UTF-8 names (0xff 0xfe)", directio_copy(s8, e8, NULL, NULL), 0);
    CHECK(t_file_is(e8, src_data, src_len));
    unlink(s8);
    unlink(d8);
    unlink(e8);
    free(s8);
    free(d8);
    free(e8);
}

static void bad_options(void) {
    t_name = "options";
    char call[160], input[96];
    char *ok = ok_path("opt-ok");
    zc_options o;
    for (int k = 0; k < NPATH; k++) {
        path_fn f = PATH_FNS[k].f;
        const char *fn = PATH_FNS[k].name;
        snprintf(call, sizeof call, "%s(src, dst_new, &o, NULL)", fn);
        for (int bit = 12; bit < 32; bit++) {
            zc_options_init(&o);
            o.flags = 1u << bit;
            snprintf(input, sizeof input, "flags bit %d", bit);
            EXPECT_AS(input, call, f(src, dst_new, &o, NULL), -EINVAL);
        }
        const uint32_t methods[] = {8, 99, UINT32_MAX};
        for (int i = 0; i < 3; i++) {
            zc_options_init(&o);
            o.method = methods[i];
            snprintf(input, sizeof input, "method %u", methods[i]);
            EXPECT_AS(input, call, f(src, dst_new, &o, NULL), -EINVAL);
        }
        const uint32_t engines[] = {4, 99};
        for (int i = 0; i < 2; i++) {
            zc_options_init(&o);
            o.engine = engines[i];
            snprintf(input, sizeof input, "engine %u", engines[i]);
            EXPECT_AS(input, call, f(src, dst_new, &o, NULL), -EINVAL);
        }
        const uint32_t small[] = {0, 4, 39};
        for (int i = 0; i < 3; i++) {
            zc_options_init(&o);
            o.size = small[i];
            snprintf(input, sizeof input, "zc_options.size %u", small[i]);
            EXPECT_AS(input, call, f(src, dst_new, &o, NULL), -EINVAL);
        }
        zc_stats st;
        snprintf(call, sizeof call, "%s(src, dst_new, NULL, &st)", fn);
        const uint32_t ssmall[] = {0, 4, 79};
        for (int i = 0; i < 3; i++) {
            zc_stats_init(&st);
            st.size = ssmall[i];
            snprintf(input, sizeof input, "zc_stats.size %u", ssmall[i]);
            EXPECT_AS(input, call, f(src, dst_new, NULL, &st), -EINVAL);
        }

        /* Larger structs: a zero tail is fine, a non-zero one is -E2BIG, and sizes
         * past 4096 are refused. The buffer covers every size zcio may read. */
        enum { BIG = 65536 };
        unsigned char *ob = xmalloc(BIG), *sb = xmalloc(BIG);
        zc_options *bo = (zc_options *)(void *)ob;
        zc_stats *bs = (zc_stats *)(void *)sb;
        zc_options_init(bo);
        bo->size = sizeof(zc_options) + 64;
        snprintf(call, sizeof call, "%s(src, ok, &big_opts, NULL)", fn);
        EXPECT_AS("zc_options.size +64, zero tail (allowed)", call, f(src, ok, bo, NULL), 0);
        CHECK(t_file_is(ok, src_data, src_len));
        unlink(ok);
        ob[sizeof(zc_options) + 7] = 1;
        snprintf(call, sizeof call, "%s(src, dst_new, &big_opts, NULL)", fn);
        EXPECT_AS("zc_options.size +64, non-zero tail", call, f(src, dst_new, bo, NULL), -E2BIG);
        ob[sizeof(zc_options) + 7] = 0;
        const uint32_t huge[] = {4097, BIG, UINT32_MAX};
        for (int i = 0; i < 3; i++) {
            bo->size = huge[i];
            snprintf(input, sizeof input, "zc_options.size %u", huge[i]);
            EXPECT_AS(input, call, f(src, dst_new, bo, NULL), -E2BIG);
        }
        zc_stats_init(bs);
        bs->size = sizeof(zc_stats) + 64;
        snprintf(call, sizeof call, "%s(src, ok, NULL, &big_stats)", fn);
        EXPECT_AS("zc_stats.size +64, zero tail (allowed)", call, f(src, ok, NULL, bs), 0);
        CHECK(t_file_is(ok, src_data, src_len));
        CHECK_EQ(bs->bytes, src_len);
        unlink(ok);
        sb[sizeof(zc_stats) + 5] = 1;
        snprintf(call, sizeof call, "%s(src, dst_new, NULL, &big_stats)", fn);
        EXPECT_AS("zc_stats.size +64, non-zero tail", call, f(src, dst_new, NULL, bs), -E2BIG);
        sb[sizeof(zc_stats) + 5] = 0;
        for (int i = 0; i < 3; i++) {
            bs->size = huge[i];
            snprintf(input, sizeof input, "zc_stats.size %u", huge[i]);
            EXPECT_AS(input, call, f(src, dst_new, NULL, bs), -E2BIG);
        }
        free(ob);
        free(sb);

        /* ZC_F_NOFOLLOW (bit 9) is a known flag. */
        zc_options_init(&o);
        o.flags = ZC_F_NOFOLLOW;
        snprintf(call, sizeof call, "%s(src, ok, &o, NULL)", fn);
        EXPECT_AS("flags ZC_F_NOFOLLOW (bit 9)", call, f(src, ok, &o, NULL), 0);
        CHECK(t_file_is(ok, src_data, src_len));
        unlink(ok);
    }
    /* Unknown flag bits on the descriptor calls. */
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst_old, O_WRONLY | O_CLOEXEC);
    if (in < 0 || out < 0) t_die("open");
    for (int bit = 10; bit < 32; bit++) {
        uint32_t fl = 1u << bit;
        snprintf(input, sizeof input, "flags bit %d", bit);
        EXPECT_AS(input, "zc_sendfile(out, in, NULL, ZC_TO_EOF, fl)",
                  zc_sendfile(out, in, NULL, ZC_TO_EOF, fl), -EINVAL);
        EXPECT_AS(input, "zc_splice(in, NULL, out, NULL, ZC_TO_EOF, fl)",
                  zc_splice(in, NULL, out, NULL, ZC_TO_EOF, fl), -EINVAL);
        EXPECT_AS(input, "zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, fl)",
                  zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, fl), -EINVAL);
        EXPECT_AS(input, "zc_mmap_copy(in, NULL, out, ZC_TO_EOF, fl)",
                  zc_mmap_copy(in, NULL, out, ZC_TO_EOF, fl), -EINVAL);
    }
    close(in);
    close(out);

    /* Chunk sizes of directio_copy: 0 is the default; unaligned or absurd ones are
     * refused. */
    const uint64_t chunks[] = {1, 511, 4097, 1ull << 31, 1ull << 40};
    for (int i = 0; i < 5; i++) {
        zc_options_init(&o);
        o.chunk_size = chunks[i];
        snprintf(input, sizeof input, "chunk_size %llu", (unsigned long long)chunks[i]);
        EXPECT_AS(input, "directio_copy(src, dst_new, &o, NULL)",
                  directio_copy(src, dst_new, &o, NULL), -EINVAL);
        EXPECT_AS(input, "directio_copy(src, dst_old, &o, NULL)",
                  directio_copy(src, dst_old, &o, NULL), -EINVAL);
    }
    zc_options_init(&o);
    o.chunk_size = 0;
    EXPECT("chunk_size 0 (default)", directio_copy(src, ok, &o, NULL), 0);
    CHECK(t_file_is(ok, src_data, src_len));
    unlink(ok);
    free(ok);
}

/* ---- 2. concurrency ---------------------------------------------------------- */

enum { NT = 8, NS = 4, SAME_THREADS = 2 };
static char *shared_path[NS];
static unsigned char *shared_data[NS];
static size_t shared_len[NS];
static char *same_path, *conc_dir;
static int iters;
static const uint32_t METHODS[] = {ZC_METHOD_AUTO,       ZC_METHOD_DIRECT,
                                   ZC_METHOD_COPY_FILE_RANGE, ZC_METHOD_SENDFILE,
                                   ZC_METHOD_SPLICE,     ZC_METHOD_MMAP,
                                   ZC_METHOD_READ_WRITE};
enum { NM = sizeof METHODS / sizeof METHODS[0] };

struct worker {
    int id;
    int checks, failures;
};

#define TCHECK(w, cond, i)                                                                 \
    do {                                                                                   \
        (w)->checks++;                                                                     \
        if (!(cond)) {                                                                     \
            (w)->failures++;                                                               \
            fprintf(stderr, "FAIL %s:%d [concurrency thread %d iteration %d]: %s\n",       \
                    __FILE__, __LINE__, (w)->id, (i), #cond);                              \
        }                                                                                  \
    } while (0)

static int equals_a_source(const unsigned char *b, size_t n) {
    for (int s = 0; s < NS; s++)
        if (n == shared_len[s] && !memcmp(b, shared_data[s], n)) return 1;
    return 0;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char name[64];
    snprintf(name, sizeof name, "t%d-dst", w->id);
    char *own_dst = t_path(conc_dir, name);
    snprintf(name, sizeof name, "t%d-src", w->id);
    char *own_src = t_path(conc_dir, name);
    snprintf(name, sizeof name, "t%d-fdst", w->id);
    char *fdst = t_path(conc_dir, name);
    unsigned char *buf = xmalloc(65536 + 1024);
    for (int i = 0; i < iters; i++) {
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        if (w->id >= NT - SAME_THREADS) {
            /* All of these write the same path: each read sees one whole source. */
            int s = (w->id + i) % NS;
            o.method = METHODS[(w->id + i) % NM];
            int r = zc_copy_file(shared_path[s], same_path, &o, &st);
            TCHECK(w, r == 0, i);
            TCHECK(w, st.bytes == shared_len[s], i);
            size_t n = 0;
            unsigned char *got = t_read_file(same_path, &n);
            TCHECK(w, got && equals_a_source(got, n), i);
            free(got);
            continue;
        }
        /* Shared source, own destination, every method in turn. */
        int s = (w->id * 3 + i) % NS;
        o.method = METHODS[(w->id + i) % NM];
        int r = zc_copy_file(shared_path[s], own_dst, &o, &st);
        TCHECK(w, r == 0, i);
        TCHECK(w, st.bytes == shared_len[s], i);
        TCHECK(w, t_file_is(own_dst, shared_data[s], shared_len[s]), i);
        /* Own content through the descriptor calls (splice uses this thread's pipe). */
        size_t n = 65536 + 1 + (size_t)(i * 7 + w->id) % 900;
        t_fill(buf, n, 1000003ull * (uint64_t)(w->id + 1) + (uint64_t)i);
        write_nosync(own_src, buf, n);
        int in = open(own_src, O_RDONLY | O_CLOEXEC);
        int out = open(fdst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        TCHECK(w, in >= 0 && out >= 0, i);
        int64_t moved = i % 3 == 2 ? zc_sendfile(out, in, NULL, ZC_TO_EOF, 0)
                                   : zc_splice(in, NULL, out, NULL, ZC_TO_EOF, 0);
        TCHECK(w, moved == (int64_t)n, i);
        close(in);
        close(out);
        TCHECK(w, t_file_is(fdst, buf, n), i);
    }
    free(buf);
    free(own_dst);
    free(own_src);
    free(fdst);
    return NULL;
}

static void concurrency(void) {
    t_name = "concurrency";
    char *shared_dir = t_path(dir, "shared");
    conc_dir = t_path(dir, "conc");
    if (mkdir(shared_dir, 0755) != 0 || mkdir(conc_dir, 0755) != 0) t_die("mkdir");
    const size_t extra[NS] = {3, 17, 511, 4097};
    for (int s = 0; s < NS; s++) {
        char name[32];
        snprintf(name, sizeof name, "s%d", s);
        shared_path[s] = t_path(shared_dir, name);
        shared_len[s] = 65536 + extra[s];
        shared_data[s] = t_make_file(shared_path[s], shared_len[s], 7000 + (uint64_t)s);
    }
    same_path = t_path(conc_dir, "same");
    iters = valgrind ? 20 : 200;
    struct worker w[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (struct worker){.id = i};
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) t_die("pthread_create");
    }
    int checks = 0, failures = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        checks += w[i].checks;
        failures += w[i].failures;
    }
    t_checks += checks;
    t_failures += failures;
    printf("concurrency: %d threads x %d iterations, %d checks, %d failed\n", NT, iters, checks,
           failures);
    t_report("concurrency\t%s\t%d\t%d\t%d\t%d\t%s", t_fs_name(dir), NT, iters, checks, failures,
             valgrind ? "valgrind" : RUN_KIND);
    /* No temporary file left: 3 files per mixing thread and the shared destination. */
    CHECK_EQ(t_count_entries(conc_dir), 3 * (NT - SAME_THREADS) + 1);
    size_t n = 0;
    unsigned char *got = t_read_file(same_path, &n);
    CHECK(got && equals_a_source(got, n));
    free(got);
    t_rmtree(conc_dir);
    t_rmtree(shared_dir);
    for (int s = 0; s < NS; s++) {
        free(shared_path[s]);
        free(shared_data[s]);
    }
    free(same_path);
    free(conc_dir);
    free(shared_dir);
}

/* ---- 3. resources ------------------------------------------------------------ */

static char *r_small, *r_missing, *r_dst, *r_fdst;
static unsigned char *r_data;
enum { SMALL = 1000 };

/* One call of a mix of successes and failures; 1 when it gave what it should. */
static int resource_call(int i) {
    zc_options o;
    zc_stats st;
    zc_options_init(&o);
    zc_stats_init(&st);
    switch (i % 6) {
    case 0: return zc_copy_file(r_small, r_dst, &o, &st) == 0 && st.bytes == SMALL;
    case 1: return zc_copy_file(r_missing, r_dst, NULL, NULL) == -ENOENT;
    case 2: return zc_sendfile(-1, (i & 1) ? -100 : INT_MIN, NULL, 10, 0) == -EBADF;
    case 3:
        o.flags = 1u << (12 + i % 20);
        return zc_copy_file(r_small, r_dst, &o, NULL) == -EINVAL;
    case 4: {
        int in = open(r_small, O_RDONLY | O_CLOEXEC);
        int out = open(r_fdst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int64_t r = -1;
        switch ((i / 6) % 4) {
        case 0: r = zc_splice(in, NULL, out, NULL, ZC_TO_EOF, 0); break;
        case 1: r = zc_sendfile(out, in, NULL, ZC_TO_EOF, 0); break;
        case 2: r = zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, 0); break;
        default: r = zc_mmap_copy(in, NULL, out, ZC_TO_EOF, 0); break;
        }
        close(in);
        close(out);
        return r == SMALL;
    }
    default:
        /* A Direct I/O copy costs tens of ms (engine setup): one in ten. */
        if ((i / 6) % 10 == 1) return directio_copy(r_small, r_dst, &o, &st) == 0;
        return directio_copy(r_missing, r_dst, &o, &st) == -ENOENT;
    }
}

static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

static void resources(void) {
    t_name = "resources";
    r_small = t_path(dir, "r-small");
    r_missing = t_path(dir, "r-missing");
    r_dst = t_path(dir, "r-dst");
    r_fdst = t_path(dir, "r-fdst");
    r_data = t_make_file(r_small, SMALL, 99);
    int calls = 10000, wrong = 0;
    for (int i = 0; i < 500; i++) wrong += !resource_call(i);
    int fds = t_count_fds();
    size_t heap = mallinfo2().uordblks;
    long rss = rss_bytes();
    for (int i = 0; i < calls; i++) wrong += !resource_call(i);
    int fds_after = t_count_fds();
    size_t heap_after = mallinfo2().uordblks;
    long rss_after = rss_bytes();
    CHECK_EQ(wrong, 0);
    CHECK_EQ(fds_after, fds);
    CHECK(t_file_is(r_dst, r_data, SMALL));
    printf("resources: 500 + %d calls, %d wrong results, descriptors %d -> %d, heap %zu -> %zu "
           "bytes, RSS %ld -> %ld bytes",
           calls, wrong, fds, fds_after, heap, heap_after, rss, rss_after);
    t_report("resources\t%s\t%d\t%d\t%d\t%d\t%zd\t%ld\t%s", t_fs_name(dir), calls, wrong, fds,
             fds_after, (ssize_t)(heap_after - heap), rss_after - rss,
             valgrind ? "valgrind" : RUN_KIND);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed blocks in quarantine; LeakSanitizer checks leaks at exit. */
    printf(" (memory not compared under ASan)\n");
#else
    if (valgrind) {
        printf(" (memory not compared under valgrind)\n");
    } else {
        printf("\n");
        const long slack = 1 << 20;
        CHECK((long)heap_after - (long)heap < slack);
        CHECK(rss_after - rss < slack);
    }
#endif
    unlink(r_small);
    unlink(r_dst);
    unlink(r_fdst);
    free(r_small);
    free(r_missing);
    free(r_dst);
    free(r_fdst);
    free(r_data);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *pre = getenv("LD_PRELOAD");
    valgrind = pre && strstr(pre, "vgpreload");
    char *work = t_mkdtemp(argv[1]);
    dir = work;
    /* zc_splice keeps a pipe for the calling thread: have it before counting. */
    char *warm = t_path(dir, "warm");
    free(t_make_file(warm, 10, 1));
    int wfd = open(warm, O_RDONLY | O_CLOEXEC);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (wfd < 0 || devnull < 0 || zc_splice(wfd, NULL, devnull, NULL, ZC_TO_EOF, 0) != 10)
        t_die("zc_splice");
    close(wfd);
    close(devnull);
    unlink(warm);
    free(warm);
    int fds = t_count_fds();

    src = t_path(dir, "src");
    dst_old = t_path(dir, "dst-old");
    dst_new = t_path(dir, "dst-new");
    okdir = t_path(dir, "ok");
    if (mkdir(okdir, 0755) != 0) t_die("mkdir");
    src_len = 65536 + 3;
    src_data = t_make_file(src, src_len, 31337);
    write_nosync(dst_old, old_data, sizeof old_data - 1);
    base_entries = t_count_entries(dir);

    double t0 = now();
    printf("| input | call | result |\n|---|---|---|\n");
    int c0 = t_checks;
    bad_nulls();
    bad_fds();
    bad_paths();
    bad_options();
    printf("bad inputs: %d cases, %d not as documented, %d checks (%.2f s)\n", rows, rows_bad,
           t_checks - c0, now() - t0);
    t_name = "final";
    CHECK(dst_intact());

    double t1 = now();
    concurrency();
    printf("concurrency: %.2f s\n", now() - t1);
    double t2 = now();
    c0 = t_checks;
    resources();
    printf("resources: %d checks (%.2f s)\n", t_checks - c0, now() - t2);

    t_name = "descriptors";
    CHECK_EQ(t_count_fds(), fds);
    free(src);
    free(dst_old);
    free(dst_new);
    free(okdir);
    free(src_data);
    t_rmtree(work);
    free(work);
    return t_finish("test_hardening");
}
