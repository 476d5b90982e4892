/*
 * zcio's Direct I/O copy through the C API: byte-identical to an independent
 * implementation of the article's algorithm, every bad input refused with the
 * destination checked afterwards, the struct-size rules, progress and
 * cancellation, directio() advice, and no descriptor leaked.
 *
 * usage: test_directio DIR   (DIR: where the files go; run on ext4 and on tmpfs)
 */
#include "common.h"

#include <limits.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "ref_directio.h"
#include "zcio.h"

enum { MIB = 1 << 20, CHUNK = MIB };

static const char *dir;
/* The Direct I/O engine every call asks for: ZC_ENGINE_AUTO unless the command line
 * names one, so that the whole file runs once for each engine. */
static uint32_t engine = ZC_ENGINE_AUTO;

static void init_opts(zc_options *o) {
    zc_options_init(o);
    o->engine = engine;
}

/* Pages of a file resident in the page cache. */
static long resident_pages(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    fstat(fd, &st);
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    size_t len = (size_t)st.st_size, pages = (len + 4095) / 4096;
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return -1;
    unsigned char *vec = malloc(pages);
    long n = 0;
    if (vec && mincore(m, len, vec) == 0)
        for (size_t i = 0; i < pages; i++) n += vec[i] & 1;
    free(vec);
    munmap(m, len);
    return n;
}

static void evict(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

/* Sizes around every boundary the algorithm has, and several chunks plus a tail. */
static void test_sizes(void) {
    t_name = "sizes";
    const size_t sizes[] = {0,     1,         511,   512,       513,      4095, 4096,
                            4097,  CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 1234};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *src = t_path(dir, "src"), *ref = t_path(dir, "ref"), *zc = t_path(dir, "zc"),
             *drop = t_path(dir, "drop");
        unsigned char *want = t_make_file(src, n, 100 + i);
        CHECK(ref_directio_copy(src, ref) == 0);
        zc_stats st;
        zc_stats_init(&st);
        zc_options eo;
        init_opts(&eo);
        int r = directio_copy(src, zc, &eo, &st);
        if (r != 0) fprintf(stderr, "size %zu: %s\n", n, zc_strerror(r));
        CHECK_EQ(r, 0);
        CHECK(directIO_copy(src, drop));
        CHECK(t_file_is(ref, want, n));
        CHECK(t_files_equal(ref, zc));
        CHECK(t_files_equal(ref, drop));
        CHECK_EQ(st.bytes, n);
        CHECK_EQ(st.failed_step, ZC_STEP_NONE);
        CHECK(st.method == ZC_METHOD_DIRECT || st.method == ZC_METHOD_READ_WRITE);
        if (st.method == ZC_METHOD_DIRECT) {
            CHECK(st.alignment >= 512 && (st.alignment & (st.alignment - 1)) == 0);
            if (engine == ZC_ENGINE_AUTO && n <= CHUNK) /* one chunk: nothing to overlap */
                CHECK_EQ(st.engine, ZC_ENGINE_SYNC);
            else if (engine == ZC_ENGINE_AUTO)
                CHECK(st.engine == ZC_ENGINE_IO_URING || st.engine == ZC_ENGINE_THREADS);
            else
                CHECK_EQ(st.engine, engine);
        }
        unlink(src);
        unlink(ref);
        unlink(zc);
        unlink(drop);
        free(want);
        free(src);
        free(ref);
        free(zc);
        free(drop);
    }
    CHECK_EQ(t_count_entries(dir), 0);
}

/* 64 MiB of random data: identical to the reference, and no page cache used. */
static void test_large(void) {
    t_name = "large";
    size_t n = 64 * MIB;
    char *src = t_path(dir, "big"), *ref = t_path(dir, "big.ref"), *zc = t_path(dir, "big.zc");
    unsigned char *want = t_make_file(src, n, 4242);
    CHECK(ref_directio_copy(src, ref) == 0);
    evict(src);
    zc_stats st;
    zc_stats_init(&st);
    zc_options eo;
    init_opts(&eo);
    CHECK_EQ(directio_copy(src, zc, &eo, &st), 0);
    /* tmpfs keeps files in the page cache by nature: only elsewhere is it a check. */
    struct statfs sf;
    int on_tmpfs = statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
    if (st.method == ZC_METHOD_DIRECT && !on_tmpfs) {
        /* A few pages of slack: valgrind reads the head of every file it sees mapped. */
        long cached = resident_pages(zc), src_cached = resident_pages(src);
        if (cached > 16 || src_cached > 16)
            fprintf(stderr, "cached pages: dst %ld src %ld\n", cached, src_cached);
        CHECK(cached >= 0 && cached <= 16);
        CHECK(src_cached >= 0 && src_cached <= 16);
    }
    CHECK(t_file_is(zc, want, n));
    CHECK(t_files_equal(ref, zc));
    CHECK_EQ(st.bytes, n);
    CHECK(st.io_calls >= 2 * (n / CHUNK));
    CHECK(st.elapsed_ns > 0);
    unlink(src);
    unlink(ref);
    unlink(zc);
    free(want);
    free(src);
    free(ref);
    free(zc);
}

/* The process's virtual size in KiB, from /proc/self/status. */
static long vm_size_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static long vm_peak_during;
static int sample_vm(uint64_t done, uint64_t total, void *arg) {
    (void)done;
    (void)total;
    (void)arg;
    long kib = vm_size_kib();
    if (kib > vm_peak_during) vm_peak_during = kib;
    return 0;
}

/* The largest chunk zcio accepts (1 GiB) on small files: the buffers are cut to
 * the file's size, not chunk_size per I/O in flight (regression: the fuzzer's
 * out-of-memory find). VmSize is sampled from the progress callback, while the
 * buffers are allocated. */
static void test_memory(void) {
    t_name = "big_chunk_on_a_small_file_allocates_no_more_than_the_file";
    static const size_t sizes[] = {46 * 1024 + 5, 3 * MIB + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *src = t_path(dir, "mem"), *dst = t_path(dir, "mem.zc");
        unsigned char *want = t_make_file(src, sizes[i], 77 + i);
        zc_options o;
        init_opts(&o);
        o.chunk_size = 1ull << 30;
        o.queue_depth = 16;
        o.progress = sample_vm;
        long before = vm_size_kib();
        vm_peak_during = before;
        zc_stats st;
        zc_stats_init(&st);
        CHECK_EQ(directio_copy(src, dst, &o, &st), 0);
        CHECK(t_file_is(dst, want, sizes[i]));
        /* Thread stacks and the sanitizers' own bookkeeping stay well under this;
         * one 1 GiB buffer does not. */
        long grew = vm_peak_during - before;
        if (grew >= 256 * 1024) fprintf(stderr, "VmSize grew by %ld KiB\n", grew);
        t_regression("big_chunk_on_a_small_file_allocates_no_more_than_the_file",
                     before > 0 && grew < 256 * 1024);
        unlink(src);
        unlink(dst);
        free(want);
        free(src);
        free(dst);
    }
}

/* Runs directIO_copy in a child that has dropped root, for EACCES. */
static int copy_as_nobody(const char *src, const char *dst, int *err) {
    pid_t pid = fork();
    if (pid < 0) t_die("fork");
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
        errno = 0;
        bool ok = directIO_copy(src, dst);
        _exit(ok ? 0 : (errno & 0x7f));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 101;
    *err = code;
    return code == 0;
}

static void test_bad_inputs(void) {
    t_name = "bad inputs";
    char *src = t_path(dir, "src"), *dst = t_path(dir, "dst"), *missing = t_path(dir, "missing");
    unsigned char *want = t_make_file(src, 10000, 7);
    unsigned char old[300];
    t_fill(old, sizeof old, 8);
    t_write_file(dst, old, sizeof old);

    /* NULL arguments: false/EINVAL, nothing touched. */
    errno = 0;
    CHECK(!directIO_copy(NULL, dst));
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK(!directIO_copy(src, NULL));
    CHECK_EQ(errno, EINVAL);
    CHECK(!directIO_copy(NULL, NULL));
    CHECK_EQ(directio_copy(NULL, dst, NULL, NULL), -EINVAL);
    CHECK_EQ(directio_copy(src, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(zc_copy_file(NULL, dst, NULL, NULL), -EINVAL);
    CHECK_EQ(zc_copy_file(src, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(zc_splice_file(NULL, dst, NULL, NULL), -EINVAL);
    CHECK_EQ(zc_splice_file(src, NULL, NULL, NULL), -EINVAL);
    CHECK(t_file_is(dst, old, sizeof old));

    /* Missing source: ENOENT; the existing destination is untouched, a new one not made. */
    errno = 0;
    CHECK(!directIO_copy(missing, dst));
    CHECK_EQ(errno, ENOENT);
    CHECK(t_file_is(dst, old, sizeof old));
    char *nd = t_path(dir, "never");
    CHECK(!directIO_copy(missing, nd));
    CHECK(!t_exists(nd));
    CHECK(!directIO_copy("", nd));
    CHECK_EQ(errno, ENOENT);

    /* The source a directory, a FIFO (must not block), a character device. */
    errno = 0;
    CHECK(!directIO_copy(dir, nd));
    CHECK_EQ(errno, EISDIR);
    char *fifo = t_path(dir, "fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(20); /* a blocking open would hang here */
    errno = 0;
    CHECK(!directIO_copy(fifo, nd));
    CHECK_EQ(errno, EINVAL);
    alarm(0);
    errno = 0;
    CHECK(!directIO_copy("/dev/null", nd));
    CHECK_EQ(errno, EINVAL);
    CHECK(!t_exists(nd));

    /* The destination a directory, in a missing directory, a FIFO. */
    errno = 0;
    CHECK(!directIO_copy(src, dir));
    CHECK_EQ(errno, EISDIR);
    char *deep = t_path(dir, "no/such/dir/file");
    errno = 0;
    CHECK(!directIO_copy(src, deep));
    CHECK_EQ(errno, ENOENT);
    errno = 0;
    CHECK(!directIO_copy(src, fifo));
    CHECK_EQ(errno, EINVAL);

    /* Onto itself: the same path, a hard link, a symlink; never truncated. */
    char *hard = t_path(dir, "hard"), *sym = t_path(dir, "sym");
    CHECK(link(src, hard) == 0);
    CHECK(symlink("src", sym) == 0);
    const char *same[] = {src, hard, sym};
    for (int i = 0; i < 3; i++) {
        errno = 0;
        CHECK(!directIO_copy(src, same[i]));
        CHECK_EQ(errno, EINVAL);
        zc_options o;
        init_opts(&o);
        o.flags = ZC_F_IN_PLACE;
        zc_stats st;
        zc_stats_init(&st);
        CHECK_EQ(directio_copy(same[i], src, &o, &st), -EINVAL);
        CHECK_EQ(st.failed_step, ZC_STEP_OPEN_DST);
        CHECK(t_file_is(src, want, 10000));
    }

    /* ZC_F_NOFOLLOW: a symlink as destination is refused with ELOOP and what it
     * names is left alone; without the flag the copy goes through it. */
    {
        char *tgt = t_path(dir, "linked"), *lnk = t_path(dir, "lnk");
        t_write_file(tgt, old, sizeof old);
        CHECK(symlink("linked", lnk) == 0);
        zc_options o;
        init_opts(&o);
        o.flags = ZC_F_NOFOLLOW;
        CHECK_EQ(directio_copy(src, lnk, &o, NULL), -ELOOP);
        o.method = ZC_METHOD_AUTO;
        CHECK_EQ(zc_copy_file(src, lnk, &o, NULL), -ELOOP);
        CHECK(t_file_is(tgt, old, sizeof old));
        struct stat ls;
        CHECK(lstat(lnk, &ls) == 0 && S_ISLNK(ls.st_mode));
        CHECK_EQ(directio_copy(src, lnk, NULL, NULL), 0);
        CHECK(t_file_is(tgt, want, 10000));
        unlink(lnk);
        unlink(tgt);
        free(tgt);
        free(lnk);
    }

    /* Unreadable source: EACCES (checked as an unprivileged user when run as root). */
    if (geteuid() == 0) {
        char *sub = t_path(dir, "open");
        CHECK(mkdir(sub, 0777) == 0 && chmod(sub, 0777) == 0);
        char *secret = t_path(sub, "secret"), *out = t_path(sub, "out");
        unsigned char *s = t_make_file(secret, 100, 9);
        CHECK(chmod(secret, 0600) == 0);
        int err = 0;
        CHECK(!copy_as_nobody(secret, out, &err));
        CHECK_EQ(err, EACCES);
        CHECK(!t_exists(out));
        /* An unwritable destination directory: EACCES, nothing made. */
        char *ro = t_path(dir, "ro");
        CHECK(mkdir(ro, 0555) == 0 && chmod(ro, 0555) == 0);
        char *rofile = t_path(ro, "x");
        CHECK(chmod(src, 0644) == 0);
        CHECK(!copy_as_nobody(src, rofile, &err));
        CHECK_EQ(err, EACCES);
        CHECK_EQ(t_count_entries(ro), 0);
        free(s);
        free(secret);
        free(out);
        free(rofile);
        free(ro);
        free(sub);
    }

    /* errno is left alone by the -errno calls. */
    errno = 4242;
    CHECK_EQ(directio_copy(missing, nd, NULL, NULL), -ENOENT);
    CHECK_EQ(errno, 4242);

    CHECK(t_file_is(src, want, 10000));
    CHECK(t_file_is(dst, old, sizeof old));
    free(want);
    free(src);
    free(dst);
    free(missing);
    free(nd);
    free(fifo);
    free(deep);
    free(hard);
    free(sym);
}

static int count_calls(uint64_t done, uint64_t total, void *arg) {
    (void)done;
    (void)total;
    (*(int *)arg)++;
    return 0;
}

static int stop_at_half(uint64_t done, uint64_t total, void *arg) {
    (void)arg;
    return done * 2 >= total;
}

static void test_options(void) {
    t_name = "options";
    char *src = t_path(dir, "osrc"), *dst = t_path(dir, "odst");
    size_t n = 5 * CHUNK + 3;
    unsigned char *want = t_make_file(src, n, 11);
    zc_options o;
    zc_stats st;

    /* Defaults. */
    zc_options_init(&o);
    CHECK_EQ(o.size, sizeof o);
    CHECK_EQ(o.method, ZC_METHOD_AUTO);
    CHECK_EQ(o.flags, 0);
    CHECK(o.progress == NULL);
    zc_stats_init(&st);
    CHECK_EQ(st.size, sizeof st);

    /* The initialisers write no byte past the size they are given. */
    unsigned char guard[sizeof(zc_options) + 16];
    memset(guard, 0xAA, sizeof guard);
    zc_options_init_sized((zc_options *)(void *)guard, 40);
    CHECK_EQ(guard[40], 0xAA);
    CHECK_EQ(guard[39], 0);
    zc_options_init_sized(NULL, 40);
    zc_stats_init(NULL);

    /* size too small, too large with a non-zero tail, absurd. */
    init_opts(&o);
    o.size = 8;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -EINVAL);
    CHECK(!t_exists(dst));
    struct {
        zc_options o;
        uint64_t extra;
    } big;
    memset(&big, 0, sizeof big);
    zc_options_init(&big.o);
    big.o.size = sizeof big;
    CHECK_EQ(directio_copy(src, dst, &big.o, NULL), 0);
    CHECK(t_file_is(dst, want, n));
    unlink(dst);
    big.extra = 1;
    CHECK_EQ(directio_copy(src, dst, &big.o, NULL), -E2BIG);
    CHECK(!t_exists(dst));
    init_opts(&o);
    o.size = 1u << 20;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -E2BIG);

    /* Unknown flags and methods; a method other than direct. */
    init_opts(&o);
    o.flags = 1u << 31;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -EINVAL);
    init_opts(&o);
    o.method = 99;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -EINVAL);
    o.method = ZC_METHOD_SENDFILE;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -EINVAL);
    CHECK(!t_exists(dst));

    /* Chunk sizes: aligned ones work, others are refused. */
    const uint64_t good[] = {4096, 65536, 3 * 4096, 4 * MIB};
    for (int i = 0; i < 4; i++) {
        init_opts(&o);
        o.chunk_size = good[i];
        CHECK_EQ(directio_copy(src, dst, &o, NULL), 0);
        CHECK(t_file_is(dst, want, n));
        unlink(dst);
    }
    const uint64_t bad[] = {1, 1000, 4097, 1ull << 40};
    for (int i = 0; i < 4; i++) {
        init_opts(&o);
        o.chunk_size = bad[i];
        CHECK_EQ(directio_copy(src, dst, &o, NULL), -EINVAL);
        CHECK(!t_exists(dst));
    }

    /* Stats: too small a size is refused before anything happens; a larger one
     * is checked below. */
    zc_stats_init(&st);
    st.size = 4;
    CHECK_EQ(directio_copy(src, dst, NULL, &st), -EINVAL);
    CHECK(!t_exists(dst));
    struct {
        zc_stats s;
        unsigned char tail[16];
    } bs;
    /* A newer caller's larger struct: accepted when the fields this library does
     * not know are zero (zc_stats_init makes them so), and left alone. */
    memset(&bs, 0, sizeof bs);
    zc_stats_init(&bs.s);
    bs.s.size = sizeof bs;
    CHECK_EQ(directio_copy(src, dst, NULL, &bs.s), 0);
    CHECK_EQ(bs.s.bytes, n);
    CHECK_EQ(bs.s.size, sizeof bs);
    CHECK_EQ(bs.tail[0], 0);
    CHECK_EQ(bs.tail[15], 0);
    unlink(dst);
    /* Non-zero there: refused before anything happens. The fault: this was accepted. */
    bs.tail[3] = 1;
    int r = directio_copy(src, dst, NULL, &bs.s);
    CHECK_EQ(r, -E2BIG);
    CHECK(!t_exists(dst));
    t_regression("stats_with_unknown_nonzero_tail_is_e2big", r == -E2BIG && !t_exists(dst));
    unlink(dst);

    /* Progress: called, and once at the end. */
    int calls = 0;
    init_opts(&o);
    o.progress = count_calls;
    o.progress_arg = &calls;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), 0);
    CHECK(calls >= 2);
    CHECK(t_file_is(dst, want, n));

    /* Cancel half way: -ECANCELED, the old destination intact, nothing left over. */
    unsigned char old[1234];
    t_fill(old, sizeof old, 12);
    t_write_file(dst, old, sizeof old);
    int before = t_count_entries(dir);
    init_opts(&o);
    o.progress = stop_at_half;
    zc_stats_init(&st);
    CHECK_EQ(directio_copy(src, dst, &o, &st), -ECANCELED);
    CHECK_EQ(st.failed_step, ZC_STEP_CANCEL);
    CHECK(st.bytes > 0 && st.bytes <= n); /* several chunks may land between two reports */
    CHECK(t_file_is(dst, old, sizeof old));
    CHECK_EQ(t_count_entries(dir), before);
    char *fresh = t_path(dir, "fresh");
    CHECK_EQ(directio_copy(src, fresh, &o, NULL), -ECANCELED);
    CHECK(!t_exists(fresh));

    /* EXCL, IN_PLACE, FSYNC. */
    init_opts(&o);
    o.flags = ZC_F_EXCL;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -EEXIST);
    CHECK(t_file_is(dst, old, sizeof old));
    CHECK_EQ(directio_copy(src, fresh, &o, NULL), 0);
    CHECK(t_file_is(fresh, want, n));
    struct stat a, b;
    stat(dst, &a);
    o.flags = ZC_F_IN_PLACE | ZC_F_FSYNC;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), 0);
    stat(dst, &b);
    CHECK_EQ(a.st_ino, b.st_ino);
    CHECK(t_file_is(dst, want, n));
    o.flags = ZC_F_FSYNC;
    CHECK_EQ(chmod(dst, 0600), 0);
    CHECK_EQ(directio_copy(src, dst, &o, NULL), 0);
    stat(dst, &b);
    CHECK_EQ(b.st_mode & 07777, 0600);
    CHECK(t_file_is(dst, want, n));

    unlink(src);
    unlink(dst);
    unlink(fresh);
    free(fresh);
    free(want);
    free(src);
    free(dst);
}

static void test_advice(void) {
    t_name = "directio advice";
    char *p = t_path(dir, "adv");
    unsigned char *d = t_make_file(p, 8192, 13);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(directio(fd, DIRECTIO_ON), 0);
    CHECK(fcntl(fd, F_GETFL) & O_DIRECT);
    CHECK_EQ(directio(fd, DIRECTIO_OFF), 0);
    CHECK(!(fcntl(fd, F_GETFL) & O_DIRECT));
    CHECK_EQ(zc_directio(fd, ZC_DIRECTIO_ON), 0);
    CHECK(fcntl(fd, F_GETFL) & O_DIRECT);
    CHECK_EQ(zc_directio(fd, ZC_DIRECTIO_OFF), 0);

    errno = 0;
    CHECK_EQ(directio(fd, 7), -1);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    CHECK_EQ(directio(-1, DIRECTIO_ON), -1);
    CHECK_EQ(errno, EBADF);
    errno = 4242;
    CHECK_EQ(zc_directio(-5, ZC_DIRECTIO_ON), -EBADF);
    CHECK_EQ(errno, 4242);
    int closed = dup(fd);
    close(closed);
    CHECK_EQ(zc_directio(closed, ZC_DIRECTIO_ON), -EBADF);

    int pfd[2];
    CHECK(pipe(pfd) == 0);
    errno = 0;
    CHECK_EQ(directio(pfd[0], DIRECTIO_ON), -1);
    CHECK_EQ(errno, ENOTTY);
    CHECK(!(fcntl(pfd[0], F_GETFL) & O_DIRECT));
    close(pfd[0]);
    close(pfd[1]);

    uint32_t mem = 0, off = 0;
    CHECK_EQ(zc_dio_alignment(fd, &mem, &off), 0);
    CHECK(mem >= 1 && (mem & (mem - 1)) == 0);
    CHECK(off >= 512 && (off & (off - 1)) == 0);
    CHECK_EQ(zc_dio_alignment(fd, NULL, NULL), 0);
    CHECK_EQ(zc_dio_alignment(-1, &mem, &off), -EBADF);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK_EQ(zc_dio_alignment(dfd, &mem, &off), -EINVAL);
    close(dfd);

    close(fd);
    unlink(p);
    free(p);
    free(d);
}

static void test_strings(void) {
    t_name = "strings";
    CHECK(strcmp(zc_strerror(-EIO), zc_strerror(EIO)) == 0);
    CHECK(strcmp(zc_strerror(ENOENT), "No such file or directory") == 0);
    CHECK(zc_strerror(INT_MIN) != NULL);
    CHECK(zc_strerror(0) != NULL);
    CHECK(zc_strerror(123456) != NULL);
    CHECK(strcmp(zc_version(), ZCIO_VERSION_STRING) == 0);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", ZCIO_VERSION_MAJOR, ZCIO_VERSION_MINOR, ZCIO_VERSION_PATCH);
    CHECK(strcmp(zc_version(), v) == 0);
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
    int fds = t_count_fds();
    test_sizes();
    test_large();
    test_memory();
    test_bad_inputs();
    test_options();
    test_advice();
    test_strings();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds(), fds);
    t_rmtree(work);
    free(work);
    return t_finish("test_directio");
}
