/*
 * System call failures injected with libfiu into every zc_copy_file method.
 *
 * Run with LD_PRELOAD="/usr/lib/fiu/fiu_posix_preload.so build/fiu_extra.so" (see
 * `make fiu-test`): libfiu's preload wraps open, read, pread, write, pwrite, fsync,
 * fdatasync, ftruncate and mmap; c-tests/fiu_extra.c adds openat, linkat, renameat,
 * unlinkat, fallocate, splice, sendfile, copy_file_range and FICLONE.
 *
 * For each method, a first run counts how often zcio makes each call while copying
 * onto an existing destination, and once more onto none. Then, for each call zcio made, the first, a middle
 * and the last of them fails with EIO, ENOSPC and EINTR (and read/write calls once
 * return short). Every run must end in success with the new destination complete,
 * or in the injected -errno with the old destination byte-for-byte as it was (or
 * still none); an
 * EINTR or a short transfer must end in success. Never a temporary file left, never
 * a descriptor more. A failing case prints a line (every case with ZCIO_VERBOSE=1);
 * the totals go to stdout and, with ZCIO_REPORT=FILE, rows for RELIABILITY.md.
 *
 * Faults this found, each kept as a named regression case below:
 *   eintr_in_open_link_and_rename_is_retried: an EINTR from open, openat, linkat or
 *   renameat failed the copy instead of being retried.
 *
 * usage: test_fiu DIR [METHOD-NAME]
 */
#define FIU_ENABLE 1
#include "helpers.h"

#include <fiu-control.h>
#include <fiu.h>
#include <stdatomic.h>

#include "zcio.h"

enum { KIB = 1024, MIB = 1 << 20 };

/* The source spans several chunks and pieces, and ends off a block boundary. */
static const size_t SRC_LEN = 3 * MIB + 5 * KIB + 123;
static const size_t OLD_LEN = 200 * KIB + 7;

enum kind { K_EIO, K_ENOSPC, K_EINTR, K_SHORT, K_ENOMEM, NKINDS };
static const char *kind_name[NKINDS] = {"EIO", "ENOSPC", "EINTR", "short", "ENOMEM"};
static const int kind_errno[NKINDS] = {EIO, ENOSPC, EINTR, 0, ENOMEM};

struct point {
    const char *name;  /* the libfiu point */
    const char *call;  /* how the table names it */
    unsigned kinds;    /* bit per enum kind */
    const char *short_point; /* libfiu's "reduce" point for K_SHORT */
    atomic_long calls;
    atomic_long short_calls;
    long target;       /* fail the call with this number (1-based); 0: never */
    int target_short;  /* the target counts calls of short_point */
    atomic_int fired;
};

enum { P_MMAP = 17 };
#define STD ((1u << K_EIO) | (1u << K_ENOSPC) | (1u << K_EINTR))
#define RW (STD | (1u << K_SHORT))
static struct point points[] = {
    {.name = "posix/io/oc/open", .call = "open", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/oc/openat", .call = "openat", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/rw/read", .call = "read", .kinds = RW, .short_point = "posix/io/rw/read/reduce"},
    {.name = "posix/io/rw/pread", .call = "pread", .kinds = RW, .short_point = "posix/io/rw/pread/reduce"},
    {.name = "posix/io/rw/write", .call = "write", .kinds = RW, .short_point = "posix/io/rw/write/reduce"},
    {.name = "posix/io/rw/pwrite", .call = "pwrite", .kinds = RW, .short_point = "posix/io/rw/pwrite/reduce"},
    {.name = "posix/io/sync/fsync", .call = "fsync", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/sync/fdatasync", .call = "fdatasync", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/rw/ftruncate", .call = "ftruncate", .kinds = STD, .short_point = NULL},
    {.name = "linux/io/fallocate", .call = "fallocate", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/dir/linkat", .call = "linkat", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/dir/renameat", .call = "renameat", .kinds = STD, .short_point = NULL},
    {.name = "posix/io/dir/unlinkat", .call = "unlinkat", .kinds = STD, .short_point = NULL},
    {.name = "linux/io/splice", .call = "splice", .kinds = STD, .short_point = NULL},
    {.name = "linux/io/sendfile", .call = "sendfile", .kinds = STD, .short_point = NULL},
    {.name = "linux/io/copy_file_range", .call = "copy_file_range", .kinds = STD, .short_point = NULL},
    {.name = "linux/io/ficlone", .call = "ioctl(FICLONE)", .kinds = STD, .short_point = NULL},
    [P_MMAP] = {.name = "posix/mm/mmap", .call = "mmap", .kinds = 1u << K_ENOMEM, .short_point = NULL},
};
enum { NPOINTS = sizeof points / sizeof points[0] };

static const struct {
    uint32_t method, engine;
    const char *name;
} methods[] = {
    {ZC_METHOD_AUTO, 0, "AUTO"},
    {ZC_METHOD_DIRECT, ZC_ENGINE_SYNC, "DIRECT/sync"},
    {ZC_METHOD_DIRECT, ZC_ENGINE_THREADS, "DIRECT/threads"},
    {ZC_METHOD_DIRECT, ZC_ENGINE_IO_URING, "DIRECT/io_uring"},
    {ZC_METHOD_REFLINK, 0, "REFLINK"},
    {ZC_METHOD_COPY_FILE_RANGE, 0, "COPY_FILE_RANGE"},
    {ZC_METHOD_SENDFILE, 0, "SENDFILE"},
    {ZC_METHOD_SPLICE, 0, "SPLICE"},
    {ZC_METHOD_MMAP, 0, "MMAP"},
    {ZC_METHOD_READ_WRITE, 0, "READ_WRITE"},
};
enum { NMETHODS = sizeof methods / sizeof methods[0] };

/* libfiu asks this on every call of an enabled point: count it, fail the target. */
static int on_call(const char *name, int *failnum, void **failinfo, unsigned *flags) {
    (void)failnum;
    (void)failinfo;
    (void)flags;
    for (int i = 0; i < NPOINTS; i++) {
        struct point *p = &points[i];
        if (!strcmp(name, p->name)) {
            long n = atomic_fetch_add(&p->calls, 1) + 1;
            if (!p->target_short && n == p->target) {
                atomic_store(&p->fired, 1);
                return 1;
            }
            return 0;
        }
        if (p->short_point && !strcmp(name, p->short_point)) {
            long n = atomic_fetch_add(&p->short_calls, 1) + 1;
            if (p->target_short && n == p->target) {
                atomic_store(&p->fired, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

static void arm(int only, enum kind k, long target) {
    for (int i = 0; i < NPOINTS; i++) {
        struct point *p = &points[i];
        atomic_store(&p->calls, 0);
        atomic_store(&p->short_calls, 0);
        atomic_store(&p->fired, 0);
        p->target = 0;
        p->target_short = 0;
        if (only >= 0 && i != only) continue;
        if (only == i) {
            p->target = target;
            p->target_short = k == K_SHORT;
        }
        void *info = (void *)(intptr_t)(k == K_SHORT ? 0 : kind_errno[k]);
        if (only < 0 || k != K_SHORT) {
            if (fiu_enable_external(p->name, 1, info, 0, on_call) != 0) t_die("fiu_enable");
        }
        if (p->short_point && (only < 0 || k == K_SHORT)) {
            if (fiu_enable_external(p->short_point, 1, NULL, 0, on_call) != 0)
                t_die("fiu_enable");
        }
    }
}

static void disarm(void) {
    for (int i = 0; i < NPOINTS; i++) {
        fiu_disable(points[i].name);
        if (points[i].short_point) fiu_disable(points[i].short_point);
    }
}

static const char *dir;
static char fs_name[32] = "?";
static char *src, *dst;
static unsigned char *want, *old;

/* Totals per call x method, for the report. */
static struct cell {
    int cases, ok, failed_clean, late, succeeded, not_reached;
} cells[NPOINTS][NMETHODS];
static int total_cases, total_ok, calls_seen[NPOINTS];

static int copy(int m, zc_stats *st) {
    zc_options o;
    zc_options_init(&o);
    zc_stats_init(st);
    o.method = methods[m].method;
    o.engine = methods[m].engine;
    o.flags = ZC_F_FSYNC;
    /* Several chunks even for a 3 MiB file, so there is a middle call. */
    if (o.method == ZC_METHOD_DIRECT) o.chunk_size = 256 * KIB;
    return zc_copy_file(src, dst, &o, st);
}

/* How the method ends with no fault: 0, or its error (REFLINK on ext4). */
static int baseline;
/* ZCIO_VERBOSE=1 prints every case, not only the ones that fail. */
static int verbose;
/* 1: the destination does not exist before the copy (a failure must leave none). */
static int new_dst;

static void reset_dst(void) {
    if (new_dst) {
        if (unlink(dst) != 0 && errno != ENOENT) t_die("unlink");
    } else {
        t_write_file(dst, old, OLD_LEN);
    }
}

static void one_case(int m, int pi, enum kind k, long target, long of) {
    struct point *p = &points[pi];
    reset_dst();
    int fds = t_count_fds_no_pipes();
    arm(pi, k, target);
    zc_stats st;
    int r = copy(m, &st);
    int fired = atomic_load(&p->fired);
    disarm();

    int is_new = t_file_is(dst, want, SRC_LEN);
    int complete = r == 0 && is_new;
    int intact = r < 0 && (new_dst ? !t_exists(dst) : t_file_is(dst, old, OLD_LEN));
    /* The directory's fsync comes after the rename: the new file is in place, and
     * the caller hears that its name may not be durable. */
    int synced_late = r < 0 && is_new && st.failed_step == ZC_STEP_SYNC;
    int tmps = t_temp_files(dir), fds_after = t_count_fds_no_pipes();
    /* EINTR is retried and a short transfer continued: the result is as without a
     * fault. An error must be the one injected, or the method's own (a forced engine
     * whose ring cannot be mapped is "not available", as documented). */
    int transparent = k == K_EINTR || k == K_SHORT || !fired;
    int err_ok = r == baseline || (!transparent && r == -kind_errno[k]) ||
                 (pi == P_MMAP && methods[m].engine && r == -EOPNOTSUPP);
    int ok = tmps == 0 && fds_after == fds &&
             (baseline == 0 && transparent ? complete
                                           : complete || ((intact || synced_late) && err_ok));

    t_name = p->call;
    CHECK(ok);
    struct cell *c = &cells[pi][m];
    c->cases++;
    c->ok += ok;
    c->succeeded += complete;
    c->failed_clean += intact;
    c->late += synced_late;
    c->not_reached += !fired;
    total_cases++;
    total_ok += ok;
    if (!ok || verbose)
        printf("%s | %s | %s | %s at call %ld of %ld | %s%s%s%s\n", p->call, methods[m].name,
           new_dst ? "new" : "existing", kind_name[k], target, of, ok ? "" : "FAIL: ",
           r == 0 ? (complete ? "copied, complete" : "copied, but the destination differs")
                  : zc_strerror(r),
           r < 0 ? (intact        ? (new_dst ? ", no destination made" : ", old destination intact")
                    : synced_late ? ", new destination in place, its directory not synced"
                                  : ", old destination DAMAGED")
                 : "",
           !fired ? " (fault not reached)" : "");
    if (tmps) printf("    %d temporary file(s) left\n", tmps);
    if (fds_after != fds) printf("    descriptors %d -> %d\n", fds, fds_after);
    fflush(stdout);
    if (tmps) {
        /* Clear them so later cases are judged on their own. */
        DIR *dh = opendir(dir);
        struct dirent *e;
        while (dh && (e = readdir(dh))) {
            if (strncmp(e->d_name, ".zcio-", 6)) continue;
            char *q = t_path(dir, e->d_name);
            unlink(q);
            free(q);
        }
        if (dh) closedir(dh);
    }
}

static void run_method(int m) {
    /* The count: every point enabled, none failing. */
    reset_dst();
    arm(-1, K_EIO, 0);
    zc_stats st;
    int r = copy(m, &st);
    long counts[NPOINTS], short_counts[NPOINTS];
    for (int i = 0; i < NPOINTS; i++) {
        counts[i] = atomic_load(&points[i].calls);
        short_counts[i] = atomic_load(&points[i].short_calls);
    }
    disarm();
    baseline = r;
    printf("== %s, %s destination: %s without faults; calls:", methods[m].name,
           new_dst ? "new" : "existing", r == 0 ? "copies" : zc_strerror(r));
    for (int i = 0; i < NPOINTS; i++)
        if (counts[i]) printf(" %s %ld", points[i].call, counts[i]);
    printf("\n");
    if (r == -EOPNOTSUPP && methods[m].engine) {
        printf("   (engine not available here)\n");
        return;
    }

    for (int i = 0; i < NPOINTS; i++) {
        if (counts[i]) calls_seen[i] = 1;
        for (int k = 0; k < NKINDS; k++) {
            if (!(points[i].kinds & (1u << k))) continue;
            /* libfiu shortens a transfer to any length, which O_DIRECT refuses
             * (EINVAL); a real short Direct I/O transfer stays aligned. */
            if (k == K_SHORT && methods[m].method == ZC_METHOD_DIRECT) continue;
            long n = k == K_SHORT ? short_counts[i] : counts[i];
            if (n == 0) continue;
            long at[3] = {1, (n + 1) / 2, n};
            for (int j = 0; j < 3; j++) {
                if (j > 0 && at[j] == at[j - 1]) continue;
                if (j == 2 && at[2] == at[0]) continue;
                one_case(m, i, (enum kind)k, at[j], n);
            }
        }
    }
}

static void write_report(void) {
    /* One row per call and method: cases, how they ended. */
    for (int i = 0; i < NPOINTS; i++) {
        for (int m = 0; m < NMETHODS; m++) {
            struct cell *c = &cells[i][m];
            if (!c->cases) continue;
            t_report("fiu\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d", fs_name, points[i].call,
                     methods[m].name, c->cases, c->ok, c->succeeded, c->failed_clean, c->late,
                     c->not_reached);
        }
        if (!calls_seen[i]) t_report("fiu\t%s\t%s\t-\t0\t0\t0\t0\t0\t0", fs_name, points[i].call);
    }
}

/* The fault: an EINTR from open, openat, linkat or renameat ended the copy with
 * -EINTR. Each is now retried. */
static void eintr_in_open_link_and_rename_is_retried(void) {
    static const char *calls[] = {"open", "openat", "linkat", "renameat"};
    int ok = 1;
    new_dst = 0;
    baseline = 0;
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        int pi = 0;
        while (strcmp(points[pi].call, calls[c])) pi++;
        int before = total_ok;
        one_case(NMETHODS - 1 /* READ_WRITE */, pi, K_EINTR, 1, 1);
        ok &= total_ok == before + 1 && atomic_load(&points[pi].fired);
    }
    t_regression("eintr_in_open_link_and_rename_is_retried", ok);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [METHOD]\n", argv[0]);
        return 2;
    }
    const char *ld = getenv("LD_PRELOAD");
    if (!ld || !strstr(ld, "fiu_posix_preload") || !strstr(ld, "fiu_extra"))
        t_skip("needs LD_PRELOAD of fiu_posix_preload.so and fiu_extra.so (make fiu-test)");
    if (fiu_init(0) != 0) t_die("fiu_init");
    verbose = getenv("ZCIO_VERBOSE") && *getenv("ZCIO_VERBOSE") == '1';

    snprintf(fs_name, sizeof fs_name, "%s", t_fs_name(argv[1]));
    char *base = t_mkdtemp(argv[1]);
    dir = base;
    src = t_path(dir, "src");
    dst = t_path(dir, "dst");
    want = t_make_file(src, SRC_LEN, 11);
    old = malloc(OLD_LEN);
    if (!old) t_die("malloc");
    t_fill(old, OLD_LEN, 12);

    eintr_in_open_link_and_rename_is_retried();
    for (new_dst = 0; new_dst < 2; new_dst++) {
        for (int m = 0; m < NMETHODS; m++) {
            if (argc > 2 && strcmp(argv[2], methods[m].name)) continue;
            run_method(m);
        }
    }
    printf("fiu: %d cases on %s (%s), %d as required, %d not\n", total_cases, argv[1], fs_name, total_ok,
           total_cases - total_ok);
    write_report();

    unlink(src);
    unlink(dst);
    t_rmtree(base);
    free(base);
    free(src);
    free(dst);
    free(want);
    free(old);
    return t_finish("test_fiu");
}
