/*
 * What zcp and zcp-mpi share: cp's command line (options, destination rules,
 * messages quoted as cp quotes names, -v lines and -i questions), the copy of
 * the sources that are not trees, the progress bar and the summary. Each
 * program brings its own way of copying a tree (struct cp_program): zcp in one
 * process, zcp-mpi split across MPI ranks. Written against zcio.h only.
 */
#ifndef ZCP_COMMON_H
#define ZCP_COMMON_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "zcio.h"

enum { DEFAULT_JOBS = 4, MAX_JOBS = 64 };
enum { DEREF_UNDEF, DEREF_NEVER, DEREF_CMDLINE, DEREF_ALWAYS };
enum { ASK_DEFAULT, ASK_NEVER /* -n */, ASK_USER /* -i */ };

/* What the command line asked for. */
struct cfg {
    int recursive, deref, interactive, update, force, verbose, debug, quiet, one_fs;
    /* --no-preserve=mode last said of the mode (cp's explicit_no_preserve_mode). */
    int no_preserve_mode;
    uint32_t preserve; /* ZC_PRESERVE_* */
    int no_target_dir;
    const char *target_dir;
    int jobs; /* 0: not given */
    int progress; /* -1 auto, 0 never, 1 always */
    int root; /* every existing file is writable: no "cannot create" for read-only ones */
    zc_options file; /* each file's copy: method, flags, Direct I/O sizes */
};
extern struct cfg C;

/* Set by SIGINT or SIGTERM: copies stop at their next progress report. */
extern volatile sig_atomic_t interrupted;
/* Held while writing to the terminal and while a worker takes the next file. */
extern pthread_mutex_t out_lock;

struct worker {
    _Atomic uint64_t cur; /* bytes of the file it is copying now */
    pthread_t tid;
};

/* Progress across everything copied: finished work plus the copies running. */
struct prog {
    int on, drawn, multi;
    double start, last;
    uint64_t file_bytes, nfiles; /* all file sources, known before copying */
    int trees_left; /* tree sources not yet finished */
    /* Finished: bytes and entries done, and the trees' totals. */
    _Atomic uint64_t done_bytes, done_entries, tree_bytes, tree_entries;
    /* The tree being copied (one at a time), as its callback last said. */
    _Atomic int t_on, t_walked;
    _Atomic uint64_t t_done, t_known, t_edone, t_eknown;
    struct worker *workers;
    int nworkers;
};
extern struct prog P;

/* What the run did, for the summary line. */
struct totals {
    uint64_t files, dirs, bytes;
    int failed;
};
extern struct totals R;

/* An existing destination entry copied on its own, before its tree (see struct job). */
struct repl {
    char *src, *dst;
    int regular, remove; /* remove: -f on a read-only file, removed first as cp does */
};

enum { J_FILE, J_TREE, J_LINK };

/* One source and where it goes. */
struct job {
    const char *src;
    char *dst;
    int kind; /* J_FILE: zc_copy_file; J_TREE: zc_copy_tree (a directory, or an entry
               * copied as itself: symlink, FIFO, device, socket); J_LINK: a hard link
               * to the copy of an earlier source that is the same file (links kept) */
    const char *link_to; /* J_LINK: that earlier copy */
    struct stat st;
    uint32_t extra_flags; /* ZC_F_EXCL under -n */
    int remove; /* -f: the read-only destination is removed first, as cp does */
    uint32_t follow, existing; /* ZC_FOLLOW_*, ZC_EXISTING_* */
    /* -i answered no, or a read-only file cp would not open: that entry must stay,
     * so the tree runs with ZC_EXISTING_KEEP and the existing entries that are to be
     * replaced are copied one by one first (`repl`); the tree then keeps them and
     * still sets the directories' times after their contents. */
    int keep;
    struct repl *repl;
    size_t nrepl, caprepl;
    int reported; /* errors told by the tree's callback */
};

/* The program: its name in messages, its usage lines, how it copies a tree job
 * (0, 1 when something failed and was told, 130 when interrupted). */
struct cp_program {
    const char *name;
    const char *synopsis; /* "usage: ..." up to the options, each line ending in \n */
    int (*run_tree)(struct job *j, struct worker *workers);
};

/* Parses the command line; -1 to go on with cp_run(), else the exit status
 * (--help, --version: 0; bad usage: 2), told on standard error. */
int cp_parse(int argc, char **argv, const struct cp_program *prog);
/* The rest of a cp run after cp_parse(): the target, each source planned in
 * order (its messages, -v lines and -i questions), the copies, the summary line;
 * returns the exit status. */
int cp_run(void);
/* Catches SIGINT and SIGTERM (the first stops the copies cleanly, a second exits). */
void cp_signals(void);

/* Messages: "NAME: MESSAGE[: strerror(err)]" on standard error (nothing under -q),
 * and lines on standard output; %q quotes a file name as cp does. */
void say(int err, const char *fmt, ...);
void out(const char *fmt, ...);
/* The prefix of say()'s messages ("zcp: " unless changed, at most 63 bytes). */
void cp_set_prefix(const char *prefix);
/* cp's message for `err` at `step` on the source entry `src` copied to `dst`. */
void tell(const char *src, const char *dst, int err, uint32_t step, mode_t kind, int follow);
void debug_failed(const char *src, const char *dst, int err, uint32_t step);
char *dst_of(const struct job *j, const char *path);
void human(char *buf, size_t len, double bytes);
double now(void);
void oom(void);
char *xstrdup(const char *s);

/* The progress bar: drawn if its time has come; never waits for the terminal. */
void bar_tick(void);

/* A tree job, in the order every program goes through it: the entries copied
 * alone first (cp_tree_begin: 0, 1 or 130), the tree's options (its error
 * callback tells each failure as cp would, its progress callback feeds the bar
 * and stops the copy on Ctrl-C), the bar's count of it set to zero
 * (cp_tree_start), and what it did told (cp_tree_end, with the copy's result
 * and statistics and cp_tree_begin's; returns the job's status). */
int cp_tree_begin(struct job *j, struct worker *workers);
void cp_tree_options(struct job *j, zc_tree_options *t);
/* The error callback cp_tree_options() sets (its argument is the job). */
int cp_tree_error(const char *path, int err, uint32_t step, void *job);
void cp_tree_start(void);
int cp_tree_end(struct job *j, int r, const zc_tree_stats *ts, int failed);

#endif
