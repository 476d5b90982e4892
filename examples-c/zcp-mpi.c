/*
 * zcp-mpi: zcp with its trees split across MPI ranks, for copies that outgrow
 * one machine. Written against the public header only, on MPI (Open MPI or
 * MPICH).
 *
 *   mpirun -n N zcp-mpi [zcp's options] SRC DST
 *
 * zcp's command line, destination rules and messages (zcp-common.c). Rank 0
 * parses, plans every source as zcp does (its checks, -v lines and -i questions)
 * and copies the sources that are files itself; each tree it hands to every rank,
 * which copies part RANK of SIZE of it with zc_copy_tree(): ZC_PHASE_DATA, then
 * ZC_PHASE_COMMIT, then ZC_PHASE_DIRS, each begun only once every rank finished
 * the one before. MPI carries only that coordination: the job, the end of each
 * phase, the progress counters, the statistics and the status; the data goes
 * from the source's file system to the destination's in each rank.
 *
 * Only the main thread calls MPI (MPI_THREAD_FUNNELED): each phase's copy runs
 * on a thread of its own while the main thread sums the ranks' progress every
 * 0.5 s; that exchange is also the barrier at the end of the phase. Waits are
 * non-blocking requests polled every millisecond, so a rank that has finished
 * does not spin a core the others need.
 *
 * Exit status, the same on every rank: 0 when every rank copied everything, 1
 * when an entry failed, 2 for bad usage, 130 when interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcp-common.h"

static int rank, nranks;

/* What rank 0 sends before each tree (MSG_TREE) and once at the end (MSG_END). */
enum { MSG_TREE = 1, MSG_END };
enum { M_KIND, M_RC, M_EXISTING, M_FOLLOW, M_MODE, M_SRC_LEN, M_DST_LEN, M_N };

/* Progress exchanged each round: summed, and taken at the maximum (minima are
 * sent as UINT64_MAX - x). */
enum { S_BYTES_DONE, S_FINISHED, S_INTERRUPTED, S_N };
enum { X_BYTES_KNOWN, X_ENTRIES_KNOWN, X_NOT_ENTRIES_DONE, X_NOT_WALKED, X_N };

/* Statistics reduced over the ranks, in this order. */
enum { T_FILES, T_DIRS, T_SYMLINKS, T_HARDLINKS, T_SPECIALS, T_BYTES, T_REFLINKED, T_HOLES, T_SKIPPED, T_ERRORS,
       T_BY_METHOD, T_N = T_BY_METHOD + 8 };

/* Waits for MPI requests, polling: a blocking MPI wait spins its core. */
static void wait_all(int n, MPI_Request *req) {
    for (;;) {
        int done = 0;
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (done) return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void bcast(void *buf, int count, MPI_Datatype type) {
    MPI_Request req;
    MPI_Ibcast(buf, count, type, 0, MPI_COMM_WORLD, &req);
    wait_all(1, &req);
}

static void allreduce(const void *in, void *out, int count, MPI_Datatype type, MPI_Op op) {
    MPI_Request req;
    MPI_Iallreduce(in, out, count, type, op, MPI_COMM_WORLD, &req);
    wait_all(1, &req);
}

/* One phase of this rank's part, on a thread of its own. */
struct part {
    const char *src, *dst;
    zc_tree_options t;
    zc_tree_stats ts;
    int r;
    double took; /* seconds of the call */
    /* What the library last told of this part. */
    _Atomic uint64_t bytes_done, bytes_known, entries_done, entries_known;
    _Atomic int walked;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
};

static int on_part_progress(const zc_tree_progress *p, void *arg) {
    struct part *pt = arg;
    if (interrupted) return 1;
    if (p->size >= sizeof *p) {
        atomic_store(&pt->bytes_done, p->bytes_done);
        atomic_store(&pt->bytes_known, p->bytes_known);
        atomic_store(&pt->entries_done, p->entries_done);
        atomic_store(&pt->entries_known, p->entries_known);
        atomic_store(&pt->walked, (int)p->walk_done);
    }
    return 0;
}

static void *part_main(void *arg) {
    struct part *pt = arg;
    double t0 = now();
    pt->r = zc_copy_tree(pt->src, pt->dst, &pt->t, &pt->ts);
    pt->took = now() - t0;
    pthread_mutex_lock(&pt->mu);
    pt->finished = 1;
    pthread_cond_signal(&pt->cv);
    pthread_mutex_unlock(&pt->mu);
    return NULL;
}

/* Waits until this part has finished or `until` (CLOCK_MONOTONIC seconds) came. */
static int part_wait(struct part *pt, double until) {
    pthread_mutex_lock(&pt->mu);
    while (!pt->finished) {
        double left = until - now();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long ns = (long long)ts.tv_nsec + (long long)(left * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&pt->cv, &pt->mu, &ts);
    }
    int f = pt->finished;
    pthread_mutex_unlock(&pt->mu);
    return f;
}

/* Runs `phase` of this rank's part of job `j`; returns when every rank's has
 * finished, with the bytes all ranks dealt with in it (as the library counts
 * them for progress). `base`: those of the job's earlier phases, for the bar. */
static uint64_t run_phase(struct job *j, uint32_t phase, uint64_t base, struct part *pt) {
    memset(pt, 0, sizeof *pt);
    pt->src = j->src;
    pt->dst = j->dst;
    cp_tree_options(j, &pt->t);
    pt->t.progress = on_part_progress;
    pt->t.progress_arg = pt;
    pt->t.on_error = cp_tree_error; /* zcio tells each failure once among the parts */
    pt->t.part_index = (uint32_t)rank;
    pt->t.part_count = (uint32_t)nranks;
    pt->t.phase = phase;
    zc_tree_stats_init(&pt->ts);
    pthread_mutex_init(&pt->mu, NULL);
    /* part_wait's deadlines are on the monotonic clock, as now() is. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pt->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t tid;
    /* The copy is the same on this thread, only without progress meanwhile. */
    int threaded = pthread_create(&tid, NULL, part_main, pt) == 0;
    if (!threaded) part_main(pt);
    double tick = now();
    uint64_t done;
    for (;;) {
        int fin = part_wait(pt, tick);
        tick = now() + 0.5;
        uint64_t sum[S_N] = {atomic_load(&pt->bytes_done), (uint64_t)fin, interrupted ? 1u : 0u}, gsum[S_N];
        uint64_t max[X_N] = {atomic_load(&pt->bytes_known), atomic_load(&pt->entries_known),
                             UINT64_MAX - atomic_load(&pt->entries_done), atomic_load(&pt->walked) ? 0u : 1u};
        uint64_t gmax[X_N];
        MPI_Request req[2];
        MPI_Iallreduce(sum, gsum, S_N, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD, &req[0]);
        MPI_Iallreduce(max, gmax, X_N, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD, &req[1]);
        wait_all(2, req);
        /* One rank stopped (Ctrl-C reaches the ranks one by one): all stop. */
        if (gsum[S_INTERRUPTED]) interrupted = 1;
        if (rank == 0) {
            /* Every rank walks the whole tree: the totals are any rank's, the
             * entries done the slowest walk's (after the data phase, all). */
            atomic_store(&P.t_done, base + gsum[S_BYTES_DONE]);
            /* Each phase walks anew: its totals start again from zero. */
            if (gmax[X_BYTES_KNOWN] > atomic_load(&P.t_known)) atomic_store(&P.t_known, gmax[X_BYTES_KNOWN]);
            if (gmax[X_ENTRIES_KNOWN] > atomic_load(&P.t_eknown))
                atomic_store(&P.t_eknown, gmax[X_ENTRIES_KNOWN]);
            atomic_store(&P.t_edone, phase == ZC_PHASE_DATA ? UINT64_MAX - gmax[X_NOT_ENTRIES_DONE]
                                                            : atomic_load(&P.t_eknown));
            if (phase == ZC_PHASE_DATA) atomic_store(&P.t_walked, gmax[X_NOT_WALKED] == 0);
            bar_tick();
        }
        done = gsum[S_BYTES_DONE];
        if (gsum[S_FINISHED] == (uint64_t)nranks) break;
    }
    if (threaded) pthread_join(tid, NULL);
    pthread_cond_destroy(&pt->cv);
    pthread_mutex_destroy(&pt->mu);
    return done;
}

static void add_stats(uint64_t *v, const zc_tree_stats *s) {
    v[T_FILES] += s->files;
    v[T_DIRS] += s->dirs;
    v[T_SYMLINKS] += s->symlinks;
    v[T_HARDLINKS] += s->hardlinks;
    v[T_SPECIALS] += s->specials;
    v[T_BYTES] += s->bytes;
    v[T_REFLINKED] += s->bytes_reflinked;
    v[T_HOLES] += s->bytes_in_holes;
    v[T_SKIPPED] += s->skipped;
    v[T_ERRORS] += s->errors;
    for (int m = 0; m < 8; m++) v[T_BY_METHOD + m] += s->files_by_method[m];
}

static void to_stats(zc_tree_stats *s, const uint64_t *v) {
    s->files = v[T_FILES];
    s->dirs = v[T_DIRS];
    s->symlinks = v[T_SYMLINKS];
    s->hardlinks = v[T_HARDLINKS];
    s->specials = v[T_SPECIALS];
    s->bytes = v[T_BYTES];
    s->bytes_reflinked = v[T_REFLINKED];
    s->bytes_in_holes = v[T_HOLES];
    s->skipped = v[T_SKIPPED];
    s->errors = v[T_ERRORS];
    for (int m = 0; m < 8; m++) s->files_by_method[m] = v[T_BY_METHOD + m];
}

/* Every rank's part of the tree job `j`, its three phases. Returns the job's
 * result, the same on every rank: 0, -ECANCELED (interrupted) or another -errno
 * (something failed: told by the rank that met it); on rank 0 `*sum` gets the
 * statistics of all ranks. */
static int run_parts(struct job *j, zc_tree_stats *sum) {
    static const uint32_t phases[] = {ZC_PHASE_DATA, ZC_PHASE_COMMIT, ZC_PHASE_DIRS};
    char who[64];
    snprintf(who, sizeof who, "zcp-mpi[rank %d]: ", rank);
    cp_set_prefix(who);
    double start = now();
    uint64_t mine[T_N] = {0}, done = 0, took[3] = {0};
    int first = 0, root_err = 0;
    uint32_t step = ZC_STEP_NONE;
    struct part pt;
    for (size_t i = 0; i < sizeof phases / sizeof *phases; i++) {
        int before = j->reported;
        done += run_phase(j, phases[i], done, &pt);
        took[i] = (uint64_t)(pt.took * 1e9);
        add_stats(mine, &pt.ts);
        if (pt.r < 0 && !first) first = pt.r, step = pt.ts.failed_step;
        /* An error with no callback is the root's: the later phases would meet it again. */
        int stop[2] = {pt.r < 0 && pt.r != -ECANCELED && j->reported == before, interrupted ? 1 : 0}, any[2];
        if (stop[0]) root_err = 1;
        allreduce(stop, any, 2, MPI_INT, MPI_MAX);
        if (any[0] || any[1]) break;
    }
    /* The root's error is every rank's: the first rank that met it tells it. */
    int mine_first = root_err ? rank : nranks, teller;
    allreduce(&mine_first, &teller, 1, MPI_INT, MPI_MIN);
    if (teller == rank) {
        tell(j->src, j->dst, -first, step, j->st.st_mode & S_IFMT, j->follow != ZC_FOLLOW_NEVER);
        debug_failed(j->src, j->dst, -first, step);
    }
    cp_set_prefix("zcp-mpi: ");
    /* 2: interrupted, 1: failed. */
    int status = interrupted ? 2 : first < 0 ? 1 : 0, job_status;
    allreduce(&status, &job_status, 1, MPI_INT, MPI_MAX);
    if (job_status == 2) interrupted = 1; /* another rank's Ctrl-C stops this one's next copies too */
    if (teller < nranks || job_status) j->reported = 1; /* told already, not again by cp_tree_end */
    uint64_t total[T_N];
    MPI_Request req;
    MPI_Ireduce(mine, total, T_N, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD, &req);
    wait_all(1, &req);
    /* --debug: each rank's share, for how balanced the parts were, and the time
     * its own calls took in each phase (the rest is waiting for the others). */
    enum { SHARE = 7 };
    uint64_t share[SHARE] = {mine[T_FILES] + mine[T_HARDLINKS] + mine[T_SYMLINKS] + mine[T_SPECIALS],
                             mine[T_BYTES] + mine[T_REFLINKED], mine[T_ERRORS], (uint64_t)((now() - start) * 1e9),
                             took[0], took[1], took[2]};
    uint64_t *shares = rank == 0 ? calloc((size_t)nranks * SHARE, sizeof *shares) : NULL;
    if (rank == 0 && !shares) oom();
    if (C.debug) {
        MPI_Igather(share, SHARE, MPI_UINT64_T, shares, SHARE, MPI_UINT64_T, 0, MPI_COMM_WORLD, &req);
        wait_all(1, &req);
    }
    if (rank == 0) {
        zc_tree_stats_init(sum);
        to_stats(sum, total);
        sum->failed_step = step;
        sum->elapsed_ns = (uint64_t)((now() - start) * 1e9);
        for (int r = 0; C.debug && r < nranks; r++) {
            const uint64_t *s = shares + SHARE * r;
            char line[200];
            snprintf(line, sizeof line,
                     "rank %d of %d: %llu entries, %llu bytes written, %llu errors, %.3f s (its calls: data %.3f s, "
                     "commit %.3f s, dirs %.3f s)",
                     r, nranks, (unsigned long long)s[0], (unsigned long long)s[1], (unsigned long long)s[2],
                     (double)s[3] / 1e9, (double)s[4] / 1e9, (double)s[5] / 1e9, (double)s[6] / 1e9);
            out("%q -> %q: %s", j->src, j->dst, line);
        }
        free(shares);
        /* The bar's count of this tree, for cp_tree_end: every phase's. A part
         * counts no bytes for the names it links or the files it keeps, which
         * a copy on its own does: a complete copy is all of the tree. */
        uint64_t known = atomic_load(&P.t_known);
        atomic_store(&P.t_done, job_status == 0 && done < known ? known : done);
        atomic_store(&P.t_edone, atomic_load(&P.t_eknown));
    }
    return job_status == 2 ? -ECANCELED : job_status ? (first < 0 ? first : -EIO) : 0;
}

/* Sends every rank the next tree job, or the end of the run with its status. */
static void send_job(uint32_t kind, int rc, const struct job *j) {
    uint32_t m[M_N] = {kind, (uint32_t)rc, 0, 0, 0, 0, 0};
    if (j) {
        m[M_EXISTING] = j->keep ? ZC_EXISTING_KEEP : j->existing;
        m[M_FOLLOW] = j->follow;
        m[M_MODE] = (uint32_t)j->st.st_mode;
        m[M_SRC_LEN] = (uint32_t)strlen(j->src) + 1;
        m[M_DST_LEN] = (uint32_t)strlen(j->dst) + 1;
    }
    bcast(m, M_N, MPI_UINT32_T);
    if (j) {
        bcast((void *)j->src, (int)m[M_SRC_LEN], MPI_CHAR);
        bcast(j->dst, (int)m[M_DST_LEN], MPI_CHAR);
    }
}

/* Rank 0's way of copying a tree job: as zcp does, with the tree in parts. */
static int run_tree(struct job *j, struct worker *workers) {
    int failed = cp_tree_begin(j, workers);
    if (failed == 130) return 130;
    send_job(MSG_TREE, 0, j);
    cp_tree_start();
    zc_tree_stats sum;
    int r = run_parts(j, &sum);
    return cp_tree_end(j, r, &sum, failed);
}

/* The other ranks: each tree job rank 0 sends, until the end; returns the status. */
static int follow_jobs(void) {
    for (;;) {
        uint32_t m[M_N];
        bcast(m, M_N, MPI_UINT32_T);
        if (m[M_KIND] == MSG_END) return (int)m[M_RC];
        char *src = malloc(m[M_SRC_LEN]), *dst = malloc(m[M_DST_LEN]);
        if (!src || !dst) oom();
        bcast(src, (int)m[M_SRC_LEN], MPI_CHAR);
        bcast(dst, (int)m[M_DST_LEN], MPI_CHAR);
        struct job j;
        memset(&j, 0, sizeof j);
        j.src = src;
        j.dst = dst;
        j.kind = J_TREE;
        j.existing = m[M_EXISTING];
        j.follow = m[M_FOLLOW];
        j.st.st_mode = (mode_t)m[M_MODE];
        zc_tree_stats unused;
        run_parts(&j, &unused);
        free(src);
        free(dst);
    }
}

static const struct cp_program zcp_mpi = {
    "zcp-mpi",
    "usage: mpirun [-n N] zcp-mpi [options] [-T] SRC DST\n"
    "       mpirun [-n N] zcp-mpi [options] SRC... DIR\n"
    "       mpirun [-n N] zcp-mpi [options] -t DIR SRC...\n"
    "Copy files and directory trees with zcio, as cp(1) does, each tree split\n"
    "between the MPI ranks (every rank must see SRC and DST at the same paths);\n"
    "the sources that are files are copied by rank 0.\n\n",
    run_tree,
};

int main(int argc, char **argv) {
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fputs("zcp-mpi: MPI_Init_thread failed\n", stderr);
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (provided < MPI_THREAD_FUNNELED) {
        if (rank == 0) fputs("zcp-mpi: this MPI library gives no MPI_THREAD_FUNNELED\n", stderr);
        MPI_Finalize();
        return 1;
    }
    /* Every rank parses the same command line, for the options of its parts;
     * rank 0 alone speaks. */
    int saved[2] = {-1, -1};
    if (rank != 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        fflush(stdout);
        fflush(stderr);
        saved[0] = dup(STDOUT_FILENO);
        saved[1] = dup(STDERR_FILENO);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
    int rc = cp_parse(argc, argv, &zcp_mpi);
    if (rank != 0) {
        fflush(stdout);
        fflush(stderr);
        for (int i = 0; i < 2; i++)
            if (saved[i] >= 0) dup2(saved[i], i ? STDERR_FILENO : STDOUT_FILENO), close(saved[i]);
    }
    cp_signals();
    if (rank == 0) {
        if (rc < 0) rc = cp_run();
        send_job(MSG_END, rc, NULL);
    } else {
        rc = follow_jobs();
    }
    MPI_Finalize();
    return rc;
}
