/*
 * Sanitizer driver: eight threads copying at once with every method, the
 * descriptor calls on each thread's own files (each thread's splice pipe), and two
 * threads replacing one destination, under ASan, valgrind (20 iterations) and
 * ThreadSanitizer. Its checks are the driver's own (every copy succeeded and is
 * exact); the behaviour is specified in tests/concurrency.rs.
 *
 * usage: san-threads DIR
 */
#include "helpers.h"

#include <pthread.h>

#if defined(__SANITIZE_ADDRESS__)
#define RUN_KIND "asan"
#elif defined(__SANITIZE_THREAD__)
#define RUN_KIND "tsan"
#else
#define RUN_KIND "plain"
#endif

static const char *dir;
static int valgrind;

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
    unsigned char *buf = calloc(1, 65536 + 1024);
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
        t_write_nosync(own_src, buf, n);
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


int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    valgrind = t_under_valgrind();
    char *work = t_mkdtemp(argv[1]);
    dir = work;
    int fds = t_count_fds_no_pipes();
    concurrency();
    t_name = "descriptors";
    CHECK_EQ(t_count_fds_no_pipes(), fds);
    t_rmtree(work);
    free(work);
    return t_finish("san-threads");
}
