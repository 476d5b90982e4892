/*
 * zcp: copy files with zcio. Written against the public header only.
 *
 *   zcp [options] SRC DST
 *   zcp [options] SRC... DIR
 *
 * Exit status: 0 when every file was copied, 1 when one failed, 2 for bad usage,
 * 130 when interrupted (the files being copied are left as they were).
 *
 * Several sources are copied by up to 4 threads at once (-j): a small file's copy
 * mostly waits for the disk, and the waits overlap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcio.h"

static volatile sig_atomic_t interrupted;

/* Held while writing to the terminal and while a worker takes the next file. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

enum { DEFAULT_JOBS = 4, MAX_JOBS = 64 };

/* The first Ctrl-C cancels the copy cleanly at its next progress report; a second
 * one, for a copy blocked on a stalled pipe, exits at once (an unfinished copy is
 * an unnamed temporary file, which the kernel removes). */
static void on_sigint(int sig) {
    (void)sig;
    if (interrupted) _exit(130);
    interrupted = 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "1.5 GiB" style sizes. */
static void human(char *buf, size_t len, double bytes) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

struct bar {
    int on;         /* draw at all */
    int drawn;      /* something is on the line now */
    double start, last;
};

static int term_width(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
    return 80;
}

static void bar_clear(struct bar *b) {
    if (b->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        b->drawn = 0;
    }
}

/* Draws "[=====>    ] TAIL" for `pct` percent, as wide as the terminal allows. */
static void bar_line(struct bar *b, int pct, const char *tail, double t) {
    int width = term_width() - (int)strlen(tail) - 3;
    if (width > 50) width = 50;
    if (width < 10) width = 10;
    int fill = width * pct / 100;
    char line[64];
    for (int i = 0; i < width; i++) line[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    line[width] = 0;
    fprintf(stderr, "\r[%s]%s\033[K", line, tail);
    fflush(stderr);
    b->drawn = 1;
    b->last = t;
}

static void bar_draw(struct bar *b, uint64_t done, uint64_t total) {
    double t = now(), secs = t - b->start;
    double rate = secs > 0 ? (double)done / secs : 0;
    char d[32], tot[32], r[32], eta[32] = "--:--";
    human(d, sizeof d, (double)done);
    human(tot, sizeof tot, (double)total);
    human(r, sizeof r, rate);
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 0;
    if (pct > 100) pct = 100;
    if (rate > 0 && total > done) {
        long left = (long)((double)(total - done) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld", left / 60, left % 60);
    }
    char tail[128];
    snprintf(tail, sizeof tail, " %3d%% %s / %s  %s/s  ETA %s", pct, d, tot, r, eta);
    bar_line(b, pct, tail, t);
}

/* The progress callback: draws the bar at most every 100 ms, and stops the copy
 * (zcio then leaves the destination as it was) once Ctrl-C was pressed. */
static int on_progress(uint64_t done, uint64_t total, void *arg) {
    struct bar *b = arg;
    if (interrupted) return 1;
    if (b->on && (now() - b->last >= 0.1 || done == total)) bar_draw(b, done, total);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: zcp [options] SRC DST\n"
            "       zcp [options] SRC... DIR\n"
            "Copy files with zcio: the fastest safe method, the destination replaced only\n"
            "when the copy is complete.\n\n"
            "  -m, --method=M        auto (default), direct, reflink, copy_file_range,\n"
            "                        sendfile, splice, mmap or read_write\n"
            "      --direct          same as -m direct (O_DIRECT, no page cache)\n"
            "      --engine=E        Direct I/O engine: auto (default), io_uring, threads, sync\n"
            "      --queue-depth=N   Direct I/O: I/Os in flight (0: zcio's default)\n"
            "      --chunk-size=N    bytes per I/O, with an optional K or M (0: default)\n"
            "      --no-reflink      never share blocks with the source\n"
            "      --fsync           make each copy durable before going on\n"
            "  -p, --preserve        keep access/modification times and extended attributes\n"
            "  -n, --no-clobber      skip destinations that exist\n"
            "      --in-place        write into the destination itself (no temporary file)\n"
            "  -j, --jobs=N          copy up to N files at once (default 4 when there are\n"
            "                        several sources; 1: one after another, in order)\n"
            "  -v, --verbose         say how each file was copied\n"
            "  -q, --quiet           print no error messages (the exit status still tells)\n"
            "      --progress[=WHEN] progress bar on standard error: auto (when it is a\n"
            "                        terminal, the default), always or never\n"
            "  -h, --help            this text\n"
            "      --version         zcio's version\n");
}

static int method_arg(const char *s) {
    for (uint32_t i = 0; i < ZC_METHOD_COUNT; i++)
        if (!strcmp(s, zc_method_name(i))) return (int)i;
    return -1;
}

/* The ZC_ENGINE_* value named `s` (zc_engine_name's names), or -1. */
static int engine_arg(const char *s) {
    for (uint32_t i = 0; zc_engine_name(i); i++)
        if (!strcmp(s, zc_engine_name(i))) return (int)i;
    return -1;
}

struct worker;

struct job {
    zc_options opts;
    int verbose, quiet, no_clobber, jobs;
    struct bar bar;
    /* The sources and where they go. */
    char **srcs;
    int nsrc;
    const char *target;
    int to_dir;
    /* Under out_lock: */
    int next, files_done, failed, stopped;
    uint64_t bytes_done;
    struct worker *workers;
    int nworkers;
};

struct worker {
    struct job *j;
    zc_options opts;
    _Atomic uint64_t cur; /* bytes of the file it is copying now */
    pthread_t tid;
};

/* The bar for several files at once: files finished out of all, bytes so far.
 * Called with out_lock held. */
static void bar_draw_files(struct job *j) {
    uint64_t bytes = j->bytes_done;
    for (int i = 0; i < j->nworkers; i++)
        bytes += atomic_load_explicit(&j->workers[i].cur, memory_order_relaxed);
    double t = now(), secs = t - j->bar.start;
    char b[32], r[32];
    human(b, sizeof b, (double)bytes);
    human(r, sizeof r, secs > 0 ? (double)bytes / secs : 0);
    int pct = j->nsrc ? (int)(100.0 * j->files_done / j->nsrc) : 0;
    char tail[128];
    snprintf(tail, sizeof tail, " %3d%% %d/%d files  %s  %s/s", pct, j->files_done, j->nsrc, b, r);
    bar_line(&j->bar, pct, tail, t);
}

/* The progress callback when several files are copied at once. */
static int on_progress_many(uint64_t done, uint64_t total, void *arg) {
    (void)total;
    struct worker *w = arg;
    if (interrupted) return 1;
    atomic_store_explicit(&w->cur, done, memory_order_relaxed);
    struct job *j = w->j;
    /* Never wait for the terminal: another worker is drawing or printing. */
    if (j->bar.on && pthread_mutex_trylock(&out_lock) == 0) {
        if (now() - j->bar.last >= 0.1) bar_draw_files(j);
        pthread_mutex_unlock(&out_lock);
    }
    return 0;
}

static void say_fallbacks(const zc_stats *st) {
    int first = 1;
    for (uint32_t m = 0; m < ZC_METHOD_COUNT; m++) {
        if (!(st->fallbacks & (1u << m))) continue;
        int e = st->fallback_errno[m];
        printf("%s%s: %s", first ? " (gave up " : "; ", zc_method_name(m),
               e ? zc_strerror(e) : "no data from it");
        first = 0;
    }
    if (!first) printf(")");
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Copies one file; 0 on success (or a skip under -n), 1 on failure, 130 when
 * interrupted. `copied` gets the bytes copied. */
static int copy_one(struct job *j, const zc_options *opts, const char *src, const char *dst,
                    uint64_t *copied) {
    zc_stats st;
    zc_stats_init(&st);
    if (j->jobs == 1) {
        j->bar.start = now();
        j->bar.last = 0;
    }
    int r = zc_copy_file(src, dst, opts, &st);
    *copied = r == 0 ? st.bytes : 0;
    int rc = 0;
    pthread_mutex_lock(&out_lock);
    bar_clear(&j->bar);
    if (r == -EEXIST && j->no_clobber) {
        if (j->verbose) printf("skipped '%s': '%s' exists\n", src, dst);
    } else if (r == -ECANCELED && interrupted) {
        if (!j->quiet) fprintf(stderr, "zcp: interrupted: '%s' left as it was\n", dst);
        rc = 130;
    } else if (r < 0) {
        if (!j->quiet) {
            if (r == -EINVAL && st.failed_step == ZC_STEP_OPEN_DST && same_file(src, dst))
                fprintf(stderr, "zcp: cannot copy '%s' to '%s': they are the same file\n", src, dst);
            else
                fprintf(stderr, "zcp: cannot copy '%s' to '%s': %s\n", src, dst, zc_strerror(r));
        }
        rc = 1;
    } else if (j->verbose) {
        double secs = (double)st.elapsed_ns / 1e9;
        char size[32], rate[32];
        human(size, sizeof size, (double)st.bytes);
        human(rate, sizeof rate, secs > 0 ? (double)st.bytes / secs : 0);
        const char *method = zc_method_name(st.method);
        printf("'%s' -> '%s': method %s", src, dst, method ? method : "?");
        if (st.method == ZC_METHOD_DIRECT)
            printf(" (engine %s, alignment %u)", zc_engine_name(st.engine), st.alignment);
        say_fallbacks(&st);
        printf(", %s in %.3f s, %s/s, %llu I/O calls", size, secs, rate, (unsigned long long)st.io_calls);
        if (st.xattrs_copied || st.xattrs_skipped)
            printf(", xattrs %u copied, %u skipped", st.xattrs_copied, st.xattrs_skipped);
        printf("\n");
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    return rc;
}

static char *into_dir(const char *dir, const char *src);

/* Takes sources in order until none is left or Ctrl-C stopped the run. */
static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct job *j = w->j;
    for (;;) {
        pthread_mutex_lock(&out_lock);
        /* After Ctrl-C no new file is started, even if no copy was running. */
        if (interrupted) j->stopped = 1;
        int i = j->stopped ? j->nsrc : j->next++;
        pthread_mutex_unlock(&out_lock);
        if (i >= j->nsrc) break;
        const char *src = j->srcs[i];
        char *dst = j->to_dir ? into_dir(j->target, src) : NULL;
        uint64_t copied = 0;
        int rc;
        if (j->to_dir && !dst) {
            pthread_mutex_lock(&out_lock);
            bar_clear(&j->bar);
            fprintf(stderr, "zcp: out of memory\n");
            pthread_mutex_unlock(&out_lock);
            rc = 1;
        } else {
            rc = copy_one(j, &w->opts, src, dst ? dst : j->target, &copied);
        }
        free(dst);
        pthread_mutex_lock(&out_lock);
        if (rc == 130) j->stopped = 1;
        else if (rc) j->failed = 1;
        j->files_done++;
        j->bytes_done += copied;
        atomic_store_explicit(&w->cur, 0, memory_order_relaxed);
        if (j->bar.on && j->nworkers > 1 && !j->stopped &&
            (now() - j->bar.last >= 0.1 || j->files_done == j->nsrc))
            bar_draw_files(j);
        pthread_mutex_unlock(&out_lock);
    }
    return NULL;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/basename(SRC), with SRC's trailing slashes ignored. */
static char *into_dir(const char *dir, const char *src) {
    char *copy = strdup(src);
    if (!copy) return NULL;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    const char *base = basename(copy);
    size_t len = strlen(dir) + strlen(base) + 2;
    char *out = malloc(len);
    if (out) snprintf(out, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", base);
    free(copy);
    return out;
}

int main(int argc, char **argv) {
    enum {
        OPT_DIRECT = 256, OPT_NO_REFLINK, OPT_FSYNC, OPT_IN_PLACE, OPT_PROGRESS, OPT_VERSION,
        OPT_ENGINE, OPT_QUEUE_DEPTH, OPT_CHUNK_SIZE,
    };
    static const struct option longopts[] = {
        {"method", required_argument, NULL, 'm'},
        {"direct", no_argument, NULL, OPT_DIRECT},
        {"no-reflink", no_argument, NULL, OPT_NO_REFLINK},
        {"fsync", no_argument, NULL, OPT_FSYNC},
        {"preserve", no_argument, NULL, 'p'},
        {"no-clobber", no_argument, NULL, 'n'},
        {"in-place", no_argument, NULL, OPT_IN_PLACE},
        {"verbose", no_argument, NULL, 'v'},
        {"jobs", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"progress", optional_argument, NULL, OPT_PROGRESS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"engine", required_argument, NULL, OPT_ENGINE},
        {"queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {NULL, 0, NULL, 0},
    };
    struct job j;
    memset(&j, 0, sizeof j);
    zc_options_init(&j.opts);
    int progress = -1; /* -1 auto, 0 never, 1 always */
    int c;
    while ((c = getopt_long(argc, argv, "m:pnvqhj:", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': {
            int m = method_arg(optarg);
            if (m < 0) {
                fprintf(stderr, "zcp: unknown method '%s'\nTry 'zcp --help'.\n", optarg);
                return 2;
            }
            j.opts.method = (uint32_t)m;
            break;
        }
        case OPT_DIRECT: j.opts.method = ZC_METHOD_DIRECT; break;
        case OPT_NO_REFLINK: j.opts.flags |= ZC_F_NO_REFLINK; break;
        case OPT_FSYNC: j.opts.flags |= ZC_F_FSYNC; break;
        case 'p': j.opts.flags |= ZC_F_PRESERVE_TIMES | ZC_F_PRESERVE_XATTRS; break;
        case 'n': j.opts.flags |= ZC_F_EXCL; j.no_clobber = 1; break;
        case OPT_IN_PLACE: j.opts.flags |= ZC_F_IN_PLACE; break;
        case 'v': j.verbose = 1; break;
        case 'j': {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > MAX_JOBS) {
                fprintf(stderr, "zcp: --jobs takes a number from 1 to %d\n", MAX_JOBS);
                return 2;
            }
            j.jobs = (int)v;
            break;
        }
        case 'q': j.quiet = 1; break;
        case OPT_PROGRESS:
            if (!optarg || !strcmp(optarg, "always")) progress = 1;
            else if (!strcmp(optarg, "never")) progress = 0;
            else if (!strcmp(optarg, "auto")) progress = -1;
            else {
                fprintf(stderr, "zcp: --progress takes auto, always or never\n");
                return 2;
            }
            break;
        case OPT_ENGINE: {
            int e = engine_arg(optarg);
            if (e < 0) {
                fprintf(stderr, "zcp: --engine takes auto, io_uring, threads or sync\n");
                return 2;
            }
            j.opts.engine = (uint32_t)e;
            break;
        }
        case OPT_QUEUE_DEPTH:
        case OPT_CHUNK_SIZE: {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg) {
                fprintf(stderr, "zcp: not a number: '%s'\n", optarg);
                return 2;
            }
            if (*end == 'k' || *end == 'K') v <<= 10, end++;
            else if (*end == 'm' || *end == 'M') v <<= 20, end++;
            if (*end) {
                fprintf(stderr, "zcp: not a number: '%s'\n", optarg);
                return 2;
            }
            if (c == OPT_QUEUE_DEPTH) {
                if (v > 4096) {
                    fprintf(stderr, "zcp: queue depth too large: %s\n", optarg);
                    return 2;
                }
                j.opts.queue_depth = (uint32_t)v;
            } else {
                j.opts.chunk_size = v;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("zcp (zcio) %s\n", zc_version()); return 0;
        default: fprintf(stderr, "Try 'zcp --help'.\n"); return 2;
        }
    }
    int nargs = argc - optind;
    if (nargs < 2) {
        fprintf(stderr, "zcp: %s\nTry 'zcp --help'.\n", nargs ? "missing destination" : "missing source and destination");
        return 2;
    }
    const char *target = argv[argc - 1];
    int to_dir = is_dir(target);
    if (nargs > 2 && !to_dir) {
        fprintf(stderr, "zcp: target '%s' is not a directory\n", target);
        return 2;
    }

    j.bar.on = progress == 1 || (progress == -1 && isatty(STDERR_FILENO));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    j.srcs = argv + optind;
    j.nsrc = nargs - 1;
    j.target = target;
    j.to_dir = to_dir;
    if (j.jobs == 0) j.jobs = j.nsrc > 1 ? DEFAULT_JOBS : 1;
    if (j.jobs > j.nsrc) j.jobs = j.nsrc;
    struct worker workers[MAX_JOBS];
    memset(workers, 0, sizeof workers);
    j.workers = workers;
    j.nworkers = j.jobs;
    j.bar.start = now();
    for (int i = 0; i < j.jobs; i++) {
        workers[i].j = &j;
        workers[i].opts = j.opts;
        atomic_init(&workers[i].cur, 0);
        if (j.jobs == 1) {
            /* One file at a time: the bar shows the file being copied. */
            workers[i].opts.progress = on_progress;
            workers[i].opts.progress_arg = &j.bar;
        } else {
            workers[i].opts.progress = on_progress_many;
            workers[i].opts.progress_arg = &workers[i];
        }
    }
    /* Worker 0 is this thread; if a thread cannot start, the others do its share. */
    int started = 1;
    for (int i = 1; i < j.jobs; i++) {
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) break;
        started++;
    }
    worker_main(&workers[0]);
    for (int i = 1; i < started; i++) pthread_join(workers[i].tid, NULL);
    pthread_mutex_lock(&out_lock);
    bar_clear(&j.bar);
    pthread_mutex_unlock(&out_lock);
    if (j.stopped || interrupted) return 130;
    return j.failed ? 1 : 0;
}
