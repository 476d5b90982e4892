/*
 * The Direct I/O engines through the C API: each forced engine copies exactly;
 * where io_uring is refused by a seccomp filter (as container runtimes do), auto
 * takes the threaded engine and a forced io_uring says -EOPNOTSUPP; and memory
 * stays within queue_depth x chunk_size plus a constant.
 *
 * usage: test_engines DIR
 */
#include "common.h"

#include <linux/audit.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "ref_directio.h"
#include "zcio.h"

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

enum { MIB = 1 << 20 };
static const char *dir;
static char *dir_owned; /* freed by children before _exit, for the leak check */

static const struct {
    uint32_t engine;
    const char *name;
} engines[] = {
    {ZC_ENGINE_SYNC, "sync"},
    {ZC_ENGINE_THREADS, "threads"},
    {ZC_ENGINE_IO_URING, "io_uring"},
};

/* Every engine, with several chunk sizes and depths, against the reference copy. */
static void test_each_engine(void) {
    t_name = "each engine";
    char *src = t_path(dir, "src"), *ref = t_path(dir, "ref"), *dst = t_path(dir, "dst");
    size_t n = 64 * MIB + 4097;
    unsigned char *want = t_make_file(src, n, 5);
    CHECK(ref_directio_copy(src, ref) == 0);
    const struct {
        uint64_t chunk;
        uint32_t depth;
    } shapes[] = {{0, 0}, {4096, 1}, {65536, 3}, {4 * MIB, 16}};
    for (size_t e = 0; e < 3; e++) {
        for (size_t s = 0; s < 4; s++) {
            zc_options o;
            zc_options_init(&o);
            o.engine = engines[e].engine;
            o.chunk_size = shapes[s].chunk;
            o.queue_depth = shapes[s].depth;
            zc_stats st;
            zc_stats_init(&st);
            int r = directio_copy(src, dst, &o, &st);
            if (r) fprintf(stderr, "%s: %s\n", engines[e].name, zc_strerror(r));
            CHECK_EQ(r, 0);
            CHECK_EQ(st.engine, engines[e].engine);
            CHECK_EQ(st.method, ZC_METHOD_DIRECT);
            CHECK_EQ(st.bytes, n);
            CHECK(t_files_equal(ref, dst));
            unlink(dst);
        }
    }
    CHECK(t_file_is(src, want, n));
    /* An engine value out of range is refused. */
    zc_options o;
    zc_options_init(&o);
    o.engine = 99;
    CHECK_EQ(directio_copy(src, dst, &o, NULL), -EINVAL);
    CHECK(!t_exists(dst));
    unlink(src);
    unlink(ref);
    free(want);
    free(src);
    free(ref);
    free(dst);
}

/* A seccomp filter that answers io_uring_setup with `err`, like a container's. */
static int deny_io_uring(int err) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* In a child (the filter cannot be removed): auto falls back to threads, a forced
 * io_uring is -EOPNOTSUPP and makes nothing. Exit status 0 when all held. */
static int child_without_io_uring(int err, const char *src, const char *dst) {
    if (deny_io_uring(err) != 0) return 10;
    zc_stats st;
    zc_stats_init(&st);
    if (directio_copy(src, dst, NULL, &st) != 0) return 11;
    if (st.engine != ZC_ENGINE_THREADS) return 12;
    if (!t_files_equal(src, dst)) return 13;
    unlink(dst);
    zc_options o;
    zc_options_init(&o);
    o.engine = ZC_ENGINE_IO_URING;
    if (directio_copy(src, dst, &o, NULL) != -EOPNOTSUPP) return 14;
    if (t_exists(dst)) return 15;
    return 0;
}

/* valgrind runs system calls for the program and cannot take a seccomp filter. */
static int under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

static void test_no_io_uring(void) {
    t_name = "io_uring refused";
#if defined(__SANITIZE_THREAD__)
    /* Its runtime's threads do not survive into a forked child under a filter. */
    printf("io_uring refused: not run under ThreadSanitizer\n");
    fflush(stdout);
    return;
#endif
    if (under_valgrind()) {
        printf("note: under valgrind: the seccomp case runs in the other builds\n");
        return;
    }
#if !defined(__x86_64__)
    printf("note: the seccomp filter here is for x86_64 only; not tested on this machine\n");
    return;
#else
    char *src = t_path(dir, "nsrc"), *dst = t_path(dir, "ndst");
    unsigned char *want = t_make_file(src, 9 * MIB + 3, 6);
    const int errs[] = {EPERM, ENOSYS};
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid < 0) t_die("fork");
        if (pid == 0) _exit(child_without_io_uring(errs[i], src, dst));
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "child with io_uring_setup -> %s: status %d\n", strerror(errs[i]), status);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    unlink(src);
    unlink(dst);
    free(want);
    free(src);
    free(dst);
#endif
}

/* Peak memory of a copy, measured in a fresh child: at most depth x chunk plus a
 * constant, whatever the file's size. */
static void test_memory_bound(void) {
    t_name = "memory";
    char *src = t_path(dir, "msrc"), *dst = t_path(dir, "mdst");
    unsigned char *want = t_make_file(src, 128 * MIB, 7);
    free(want);
    const uint32_t depth = 4;
    const uint64_t chunk = 2 * MIB;
    const long slack_kib = 12 * 1024; /* allocator, thread stacks, the ring itself */
    for (size_t e = 0; e < 3; e++) {
        int p[2];
        if (pipe(p) != 0) t_die("pipe");
        pid_t pid = fork();
        if (pid < 0) t_die("fork");
        if (pid == 0) {
            close(p[0]);
            zc_options o;
            zc_options_init(&o);
            o.engine = engines[e].engine;
            o.queue_depth = depth;
            o.chunk_size = chunk;
            /* Warm up the library (first-use allocations) on a small copy. */
            char *tiny = t_path(dir, "mtiny");
            unsigned char *tb = t_make_file(tiny, 4096, 8);
            free(tb);
            char *tiny2 = t_path(dir, "mtiny2");
            directio_copy(tiny, tiny2, &o, NULL);
            unlink(tiny2);
            unlink(tiny);
            free(tiny);
            free(tiny2);
            struct rusage before, after;
            getrusage(RUSAGE_SELF, &before);
            int r = directio_copy(src, dst, &o, NULL);
            getrusage(RUSAGE_SELF, &after);
            long grew = after.ru_maxrss - before.ru_maxrss;
            long msg[2] = {r, grew};
            ssize_t w = write(p[1], msg, sizeof msg);
            free(src);
            free(dst);
            free(dir_owned);
            _exit(w == (ssize_t)sizeof msg ? 0 : 1);
        }
        close(p[1]);
        long msg[2] = {-1, -1};
        ssize_t got = read(p[0], msg, sizeof msg);
        close(p[0]);
        waitpid(pid, NULL, 0);
        CHECK_EQ(got, (ssize_t)sizeof msg);
        CHECK_EQ(msg[0], 0);
        long bound = (long)(depth * chunk / 1024) + slack_kib;
#ifdef __SANITIZE_THREAD__
        /* ThreadSanitizer keeps two bytes of shadow per byte of the buffers, and
         * counts them in this process's memory. */
        bound += 2 * (long)(depth * chunk / 1024);
#endif
        printf("  %s: peak memory grew by %ld KiB for a 128 MiB copy (bound %ld KiB)\n", engines[e].name,
               msg[1], bound);
        if (!under_valgrind()) CHECK(msg[1] <= bound); /* valgrind's own memory counts there */
        unlink(dst);
    }
    unlink(src);
    free(src);
    free(dst);
}

/* The fault: each small Direct I/O copy set up a 16 MiB io_uring ring (30-45 ms for
 * a 1 KB file). A copy that fits in one chunk now runs on the synchronous engine. */
static void small_direct_copy_does_not_build_a_ring(void) {
    t_name = "small_direct_copy_does_not_build_a_ring";
    char *src = t_path(dir, "small"), *dst = t_path(dir, "small.dst");
    unsigned char *want = t_make_file(src, 1000, 8);
    int ok = 1;
    for (int i = 0; i < 20; i++) {
        zc_stats st;
        zc_stats_init(&st);
        int r = directio_copy(src, dst, NULL, &st);
        ok &= r == 0 && st.engine == ZC_ENGINE_SYNC && t_file_is(dst, want, 1000);
    }
    t_regression("small_direct_copy_does_not_build_a_ring", ok);
    unlink(src);
    unlink(dst);
    free(want);
    free(src);
    free(dst);
}

/* Which threads the process-directed SIGUSR1s landed on. */
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

/* The fault: zcio's worker threads left signals unblocked, so the host program's
 * process-directed signals could run its handlers on a zcio thread. */
static void worker_threads_block_the_callers_signals(void) {
    t_name = "worker_threads_block_the_callers_signals";
    char *src = t_path(dir, "sig.src"), *dst = t_path(dir, "sig.dst");
    size_t n = 32 * MIB + 5;
    unsigned char *want = t_make_file(src, n, 9);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    main_tid = (pid_t)syscall(SYS_gettid);
    atomic_store(&on_main, 0);
    atomic_store(&elsewhere, 0);
    atomic_store(&sig_stop, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, send_usr1, NULL) != 0) t_die("pthread_create");
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        zc_options o;
        zc_options_init(&o);
        o.engine = ZC_ENGINE_THREADS;
        o.chunk_size = 1 * MIB;
        o.queue_depth = 8;
        int r = directio_copy(src, dst, &o, NULL);
        ok &= r == 0 && t_file_is(dst, want, n);
    }
    atomic_store(&sig_stop, 1);
    pthread_join(th, NULL);
    signal(SIGUSR1, SIG_IGN);
    long m = atomic_load(&on_main), e = atomic_load(&elsewhere);
    printf("SIGUSR1 during threaded copies: %ld on the caller's thread, %ld elsewhere\n", m, e);
    t_regression("worker_threads_block_the_callers_signals", ok && m > 0 && e == 0);
    unlink(src);
    unlink(dst);
    free(want);
    free(src);
    free(dst);
}

struct cancel_count {
    int calls, after_stop;
};

static int cancel_first(uint64_t done, uint64_t total, void *arg) {
    (void)done;
    (void)total;
    struct cancel_count *c = arg;
    if (c->calls++ > 0) c->after_stop++;
    return 1;
}

/* The fault (found by the fuzzer): the threaded engine kept calling the progress
 * callback after it had asked to stop, while the other workers finished. */
static void progress_is_not_called_after_a_cancel(void) {
    t_name = "progress_is_not_called_after_a_cancel";
    char *src = t_path(dir, "cancel.src"), *dst = t_path(dir, "cancel.dst");
    free(t_make_file(src, 8 * MIB + 3, 10));
    int ok = 1;
    for (size_t e = 0; e < 3; e++) {
        for (int i = 0; i < 5; i++) {
            struct cancel_count c = {0, 0};
            zc_options o;
            zc_options_init(&o);
            o.engine = engines[e].engine;
            o.chunk_size = 64 * 1024;
            o.queue_depth = 8;
            o.progress = cancel_first;
            o.progress_arg = &c;
            int r = directio_copy(src, dst, &o, NULL);
            ok &= r == -ECANCELED && c.calls == 1 && c.after_stop == 0 && !t_exists(dst);
            if (c.after_stop)
                printf("engine %s: %d calls after the stop\n", engines[e].name, c.after_stop);
        }
    }
    t_regression("progress_is_not_called_after_a_cancel", ok);
    unlink(src);
    unlink(dst);
    free(src);
    free(dst);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char *work = t_mkdtemp(argv[1]);
    dir = dir_owned = work;
    int fds = t_count_fds();
    test_each_engine();
    test_no_io_uring();
    test_memory_bound();
    small_direct_copy_does_not_build_a_ring();
    worker_threads_block_the_callers_signals();
    progress_is_not_called_after_a_cancel();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds(), fds);
    t_rmtree(work);
    free(work);
    return t_finish("test_engines");
}
