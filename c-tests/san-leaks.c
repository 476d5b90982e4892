/*
 * Sanitizer driver: 12,000 calls of every kind, successes and refusals (missing
 * files, bad descriptors and unknown flags that only C can pass), so that
 * LeakSanitizer and valgrind see any leak of any call; without a sanitizer, the
 * descriptors, heap and RSS are compared too. The behaviour is specified in
 * tests/process.rs (many_calls_leave_no_trace).
 *
 * usage: san-leaks DIR
 */
#include "helpers.h"

#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define RUN_KIND "asan"
#elif defined(__SANITIZE_THREAD__)
#define RUN_KIND "tsan"
#else
#define RUN_KIND "plain"
#endif

static const char *dir;
static int valgrind;

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
        o.flags = 1u << (14 + i % 18); /* a bit no ZC_F_* flag has */
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
    /* The first measurement itself costs memory once (about 1 MiB of RSS and 8 KiB
     * of heap, whatever the calls before it), so it is made once during the
     * warm-up; the window compared starts after it, and after 2,000 calls. */
    for (int i = 0; i < 1000; i++) wrong += !resource_call(i);
    (void)t_count_fds();
    (void)mallinfo2();
    (void)rss_bytes();
    for (int i = 0; i < 1000; i++) wrong += !resource_call(i);
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
    printf("resources: 2000 + %d calls, %d wrong results, descriptors %d -> %d, heap %zu -> %zu "
           "bytes, RSS %ld -> %ld bytes",
           calls, wrong, fds, fds_after, heap, heap_after, rss, rss_after);
    t_report("resources\t%s\t%d\t%d\t%d\t%d\t%zd\t%ld\t%s", t_fs_name(dir), calls, wrong, fds,
             fds_after, (ssize_t)(heap_after - heap), rss_after - rss,
             valgrind ? "valgrind" : RUN_KIND);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed blocks in quarantine; LeakSanitizer checks leaks at exit. */
    printf(" (memory not compared under ASan)\n");
#elif defined(__SANITIZE_THREAD__)
    printf(" (memory not compared under ThreadSanitizer)\n");
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


int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    valgrind = t_under_valgrind();
    char *work = t_mkdtemp(argv[1]);
    dir = work;
    resources();
    t_rmtree(work);
    free(work);
    return t_finish("san-leaks");
}
