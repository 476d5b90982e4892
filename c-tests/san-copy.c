/*
 * Sanitizer driver for the whole-file copies: zc_copy_file with every method onto
 * a new and an existing destination, across file systems (to /dev/shm when DIR is
 * not on it), with each flag that changes the path taken (EXCL, IN_PLACE, FSYNC,
 * NO_REFLINK, NO_SPARSE, PRESERVE_*, UNCACHED), from a sparse file, a FIFO fed by another
 * process and /proc, onto /dev/null, and zc_splice_file (a reflink may fail: ext4
 * and tmpfs cannot clone; the clone itself is tested in Rust on XFS). Its checks
 * are the driver's own (success and the bytes, or a refusal that changed
 * nothing); the behaviour is specified in tests/copy_file.rs.
 *
 * usage: san-copy DIR
 */
#include "helpers.h"

#include <sys/wait.h>

enum { MIB = 1 << 20 };
static const char *dir;

static const uint32_t METHODS[] = {ZC_METHOD_AUTO,     ZC_METHOD_DIRECT, ZC_METHOD_REFLINK,
                                   ZC_METHOD_COPY_FILE_RANGE, ZC_METHOD_SENDFILE,
                                   ZC_METHOD_SPLICE,   ZC_METHOD_MMAP,   ZC_METHOD_READ_WRITE};

/* One copy: success and the source's bytes, or (allowed only when `may_fail`) a
 * refusal that left the destination as it was. */
static void copy(const char *src, const char *dst, uint32_t method, uint32_t flags,
                 const unsigned char *want, size_t n, int may_fail) {
    size_t old_len = 0;
    unsigned char *old = t_read_file(dst, &old_len);
    zc_options o;
    zc_options_init(&o);
    o.method = method;
    o.flags = flags;
    zc_stats st;
    zc_stats_init(&st);
    int r = zc_copy_file(src, dst, &o, &st);
    if (r == 0) {
        CHECK(t_file_is(dst, want, n));
    } else {
        if (!may_fail)
            fprintf(stderr, "[%s] method %u flags %#x: %s\n", t_name, method, flags, zc_strerror(r));
        CHECK(may_fail);
        /* In place, a failure may leave the destination part written (documented). */
        if (!(flags & ZC_F_IN_PLACE)) CHECK(old ? t_file_is(dst, old, old_len) : !t_exists(dst));
    }
    CHECK_EQ(t_temp_files(dir), 0);
    free(old);
}

static void methods_and_flags(const char *where) {
    t_name = "methods";
    char *src = t_path(dir, "src"), *dst = t_path(where, "zcio-san-copy.dst");
    size_t n = 3 * MIB + 123;
    unsigned char *want = t_make_file(src, n, 2024);
    for (int i = 0; i < 8; i++) {
        int reflink = METHODS[i] == ZC_METHOD_REFLINK;
        unlink(dst);
        copy(src, dst, METHODS[i], 0, want, n, reflink); /* new */
        t_write_file(dst, want + 9, 999);
        copy(src, dst, METHODS[i], 0, want, n, reflink); /* existing */
    }
    t_name = "flags";
    const uint32_t flags[] = {ZC_F_IN_PLACE, ZC_F_FSYNC, ZC_F_NO_REFLINK, ZC_F_NO_SPARSE,
                              ZC_F_PRESERVE_TIMES | ZC_F_PRESERVE_XATTRS,
                              ZC_F_PRESERVE_MODE | ZC_F_PRESERVE_OWNER, ZC_F_NOFOLLOW,
                              ZC_F_NO_FALLBACK, ZC_F_UNCACHED, ZC_F_DEFAULT_MODE};
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        for (int i = 0; i < 8; i++) {
            /* NO_REFLINK refuses the methods that may share blocks (-EINVAL), and
             * UNCACHED the kernel's copy calls. */
            int shares = METHODS[i] == ZC_METHOD_REFLINK || METHODS[i] == ZC_METHOD_COPY_FILE_RANGE;
            int cached = METHODS[i] >= ZC_METHOD_COPY_FILE_RANGE && METHODS[i] <= ZC_METHOD_MMAP;
            copy(src, dst, METHODS[i], flags[f], want, n,
                 METHODS[i] == ZC_METHOD_REFLINK || flags[f] == ZC_F_NO_FALLBACK ||
                     (shares && flags[f] == ZC_F_NO_REFLINK) ||
                     (cached && flags[f] == ZC_F_UNCACHED));
        }
    }
    copy(src, dst, ZC_METHOD_AUTO, ZC_F_EXCL, want, n, 1);
    unlink(dst);
    copy(src, dst, ZC_METHOD_AUTO, ZC_F_EXCL, want, n, 0);
    t_name = "zc_splice_file";
    zc_stats st;
    zc_stats_init(&st);
    CHECK_EQ(zc_splice_file(src, dst, NULL, &st), 0);
    CHECK(t_file_is(dst, want, n));
    unlink(dst);
    unlink(src);
    free(want);
    free(src);
    free(dst);
}

static void sources(void) {
    t_name = "sparse";
    char *sp = t_path(dir, "sparse"), *dst = t_path(dir, "dst");
    int fd = open(sp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, 64 * MIB) != 0) t_die("sparse");
    unsigned char island[4096];
    t_fill(island, sizeof island, 3);
    if (pwrite(fd, island, sizeof island, 0) != (ssize_t)sizeof island ||
        pwrite(fd, island, sizeof island, 40 * MIB) != (ssize_t)sizeof island)
        t_die("pwrite");
    close(fd);
    for (int i = 0; i < 8; i++) {
        zc_options o;
        zc_options_init(&o);
        o.method = METHODS[i];
        int r = zc_copy_file(sp, dst, &o, NULL);
        CHECK(r == 0 || METHODS[i] == ZC_METHOD_REFLINK);
        if (r == 0) CHECK(t_files_equal(sp, dst));
        unlink(dst);
    }
    unlink(sp);
    free(sp);
    t_name = "fifo from another process";
    char *fifo = t_path(dir, "fifo");
    if (mkfifo(fifo, 0600) != 0) t_die("mkfifo");
    unsigned char buf[100000];
    t_fill(buf, sizeof buf, 4);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) t_die("fork");
    if (pid == 0) {
        int w = open(fifo, O_WRONLY | O_CLOEXEC);
        _exit(w >= 0 && write(w, buf, sizeof buf) == (ssize_t)sizeof buf ? 0 : 1);
    }
    CHECK_EQ(zc_copy_file(fifo, dst, NULL, NULL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(t_file_is(dst, buf, sizeof buf));
    unlink(fifo);
    free(fifo);
    t_name = "/proc and /dev/null";
    for (int i = 0; i < 8; i++) {
        zc_options o;
        zc_options_init(&o);
        o.method = METHODS[i];
        int r = zc_copy_file("/proc/self/status", dst, &o, NULL);
        CHECK(r == 0 || METHODS[i] == ZC_METHOD_REFLINK || METHODS[i] == ZC_METHOD_DIRECT);
    }
    CHECK_EQ(zc_copy_file(dst, "/dev/null", NULL, NULL), 0);
    unlink(dst);
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
    t_warm_splice();
    int fds = t_count_fds();
    methods_and_flags(dir);
    if (strcmp(t_fs_name(dir), "tmpfs") != 0 && access("/dev/shm", W_OK) == 0)
        methods_and_flags("/dev/shm");
    sources();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds(), fds);
    CHECK_EQ(t_count_entries(dir), 0);
    t_rmtree(work);
    free(work);
    return t_finish("san-copy");
}
