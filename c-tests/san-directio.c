/*
 * Sanitizer driver for the Direct I/O copy: every size around the alignment and
 * chunk boundaries, a 64 MiB file (16 MiB under valgrind), chunk and depth shapes,
 * the largest chunk on small files, the refusals (FIFO, directory, device, onto
 * itself, NOFOLLOW, unreadable as another user), the buffered fallback (/proc),
 * cancellation at the first report and half way, EXCL / IN_PLACE / FSYNC /
 * PRESERVE_TIMES. Run once per engine. Its checks are the driver's own (success
 * and the bytes, or a refusal that changed nothing); the behaviour is specified in
 * tests/direct.rs and tests/process.rs.
 *
 * usage: san-directio DIR [sync|threads|io_uring]
 */
#include "helpers.h"

#include <sys/wait.h>

enum { MIB = 1 << 20 };
static const char *dir;
static uint32_t engine = ZC_ENGINE_AUTO;

static void opts(zc_options *o) {
    zc_options_init(o);
    o->engine = engine;
}

/* Copies src to dst with `o`: 0 and the bytes of `want`. */
static void copy_ok(const char *src, const char *dst, const zc_options *o,
                    const unsigned char *want, size_t n) {
    zc_stats st;
    zc_stats_init(&st);
    int r = directio_copy(src, dst, o, &st);
    if (r) fprintf(stderr, "[%s] %zu bytes: %s\n", t_name, n, zc_strerror(r));
    CHECK_EQ(r, 0);
    CHECK(t_file_is(dst, want, n));
    CHECK_EQ(st.bytes, n);
}

static void sizes_and_shapes(void) {
    t_name = "sizes";
    const size_t sizes[] = {0, 1, 511, 512, 513, 4095, 4096, 4097, MIB - 1, MIB, MIB + 1,
                            3 * MIB + 1234};
    char *src = t_path(dir, "src"), *dst = t_path(dir, "dst");
    zc_options o;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *want = t_make_file(src, sizes[i], 100 + i);
        opts(&o);
        copy_ok(src, dst, &o, want, sizes[i]);
        free(want);
    }
    t_name = "shapes";
    size_t n = (t_under_valgrind() ? 16 : 64) * MIB + 4097;
    unsigned char *want = t_make_file(src, n, 5);
    const struct {
        uint64_t chunk;
        uint32_t depth;
    } shapes[] = {{0, 0}, {4096, 1}, {65536, 3}, {4 * MIB, 16}};
    for (int s = 0; s < 4; s++) {
        if (t_under_valgrind() && shapes[s].chunk == 4096) continue; /* hours under valgrind */
        opts(&o);
        o.chunk_size = shapes[s].chunk;
        o.queue_depth = shapes[s].depth;
        copy_ok(src, dst, &o, want, n);
    }
    free(want);
    t_name = "1 GiB chunk on small files";
    const size_t small[] = {46 * 1024 + 5, 3 * MIB + 1};
    for (int i = 0; i < 2; i++) {
        want = t_make_file(src, small[i], 77 + i);
        opts(&o);
        o.chunk_size = 1ull << 30;
        o.queue_depth = 16;
        copy_ok(src, dst, &o, want, small[i]);
        free(want);
    }
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

/* directIO_copy as uid 65534 in a child: its errno (0 on success). */
static int as_nobody(const char *src, const char *dst) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) t_die("fork");
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
        errno = 0;
        _exit(directIO_copy(src, dst) ? 0 : (errno & 0x7f));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

static void refusals(void) {
    t_name = "refusals";
    char *src = t_path(dir, "src"), *dst = t_path(dir, "dst"), *nd = t_path(dir, "never");
    unsigned char *want = t_make_file(src, 10000, 7);
    unsigned char old[300];
    t_fill(old, sizeof old, 8);
    t_write_file(dst, old, sizeof old);
    zc_options o;
    opts(&o);
    char *fifo = t_path(dir, "fifo"), *hard = t_path(dir, "hard"), *sym = t_path(dir, "sym");
    if (mkfifo(fifo, 0600) != 0 || link(src, hard) != 0 || symlink("src", sym) != 0) t_die("setup");
    const char *bad_src[] = {dir, fifo, "/dev/null", "", nd};
    alarm(20); /* a FIFO opened for reading would block here */
    for (int i = 0; i < 5; i++) {
        CHECK(directio_copy(bad_src[i], dst, &o, NULL) < 0);
        CHECK(directio_copy(bad_src[i], nd, &o, NULL) < 0);
    }
    alarm(0);
    const char *bad_dst[] = {dir, fifo, src, hard, sym, ""};
    for (int i = 0; i < 6; i++) CHECK(directio_copy(src, bad_dst[i], &o, NULL) < 0);
    o.flags = ZC_F_IN_PLACE;
    CHECK(directio_copy(sym, src, &o, NULL) < 0);
    o.flags = ZC_F_NOFOLLOW;
    char *lnk = t_path(dir, "lnk");
    if (symlink("dst", lnk) != 0) t_die("symlink");
    CHECK(directio_copy(src, lnk, &o, NULL) < 0);
    CHECK(t_file_is(dst, old, sizeof old));
    CHECK(!t_exists(nd));
    CHECK(t_file_is(src, want, 10000));
    /* /proc refuses O_DIRECT and says size 0: the buffered fallback reads it all. */
    opts(&o);
    CHECK_EQ(directio_copy("/proc/self/status", nd, &o, NULL), 0);
    unlink(nd);
    /* A forked child under valgrind reports the parent's blocks as its leaks. */
    if (geteuid() == 0 && !t_under_valgrind()) {
        char *sub = t_path(dir, "open");
        if (mkdir(sub, 0777) != 0 || chmod(sub, 0777) != 0 || chmod(dir, 0755) != 0) t_die("mkdir");
        char *secret = t_path(sub, "secret"), *out = t_path(sub, "out");
        free(t_make_file(secret, 100, 9));
        CHECK(chmod(secret, 0600) == 0);
        CHECK_EQ(as_nobody(secret, out), EACCES);
        CHECK(!t_exists(out));
        unlink(secret);
        rmdir(sub);
        free(secret);
        free(out);
        free(sub);
    }
    unlink(lnk);
    unlink(fifo);
    unlink(hard);
    unlink(sym);
    unlink(src);
    unlink(dst);
    free(lnk);
    free(fifo);
    free(hard);
    free(sym);
    free(want);
    free(src);
    free(dst);
    free(nd);
}

static int stop_first(uint64_t done, uint64_t total, void *arg) {
    (void)done;
    (void)total;
    (void)arg;
    return 1;
}

static int stop_at_half(uint64_t done, uint64_t total, void *arg) {
    (void)arg;
    return done * 2 >= total;
}

static void cancel_and_flags(void) {
    t_name = "cancel";
    char *src = t_path(dir, "src"), *dst = t_path(dir, "dst"), *fresh = t_path(dir, "fresh");
    size_t n = 8 * MIB + 3;
    unsigned char *want = t_make_file(src, n, 10);
    unsigned char old[1234];
    t_fill(old, sizeof old, 12);
    t_write_file(dst, old, sizeof old);
    zc_progress_fn stops[] = {stop_first, stop_at_half};
    for (int i = 0; i < 2; i++) {
        zc_options o;
        opts(&o);
        o.chunk_size = 64 * 1024;
        o.queue_depth = 8;
        o.progress = stops[i];
        CHECK_EQ(directio_copy(src, dst, &o, NULL), -ECANCELED);
        CHECK_EQ(directio_copy(src, fresh, &o, NULL), -ECANCELED);
        CHECK(t_file_is(dst, old, sizeof old));
        CHECK(!t_exists(fresh));
    }
    t_name = "flags";
    const uint32_t flags[] = {ZC_F_EXCL, ZC_F_IN_PLACE | ZC_F_FSYNC, ZC_F_FSYNC,
                              ZC_F_PRESERVE_TIMES | ZC_F_PRESERVE_XATTRS | ZC_F_PRESERVE_MODE};
    for (int i = 0; i < 4; i++) {
        zc_options o;
        opts(&o);
        o.flags = flags[i];
        if (flags[i] == ZC_F_EXCL) {
            CHECK_EQ(directio_copy(src, dst, &o, NULL), -EEXIST);
            copy_ok(src, fresh, &o, want, n);
            unlink(fresh);
        } else {
            copy_ok(src, dst, &o, want, n);
        }
    }
    unlink(src);
    unlink(dst);
    free(want);
    free(src);
    free(dst);
    free(fresh);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s DIR [sync|threads|io_uring]\n", argv[0]);
        return 2;
    }
    if (argc == 3) {
        if (!strcmp(argv[2], "sync")) engine = ZC_ENGINE_SYNC;
        else if (!strcmp(argv[2], "threads")) engine = ZC_ENGINE_THREADS;
        else if (!strcmp(argv[2], "io_uring")) engine = ZC_ENGINE_IO_URING;
        else {
            fprintf(stderr, "unknown engine '%s'\n", argv[2]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char *work = t_mkdtemp(argv[1]);
    dir = work;
    t_warm_splice();
    int fds = t_count_fds();
    sizes_and_shapes();
    refusals();
    cancel_and_flags();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds(), fds);
    CHECK_EQ(t_count_entries(dir), 0);
    t_rmtree(work);
    free(work);
    return t_finish("san-directio");
}
