/*
 * zcp: cp(1) on top of zcio. Written against the public header only.
 *
 *   zcp [options] [-T] SRC DST
 *   zcp [options] SRC... DIR
 *   zcp [options] -t DIR SRC...
 *
 * GNU cp 9.1 is the model: the same options, destination rules, messages and
 * file names quoted the same way (zcp-common.c, which zcp-mpi shares). Files go
 * through zc_copy_file(); directories, symlinks not followed and (under -r)
 * special files through zc_copy_tree(), here, in one process.
 *
 * Exit status: 0 when everything was copied, 1 when something failed, 2 for bad
 * usage, 130 when interrupted (every file then complete or untouched).
 *
 * A tree copies several entries at once by itself.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "zcp-common.h"

/* Copies a tree job; 0, 1 (something failed, told) or 130. */
static int run_tree(struct job *j, struct worker *workers) {
    int failed = cp_tree_begin(j, workers);
    if (failed == 130) return 130;
    zc_tree_options t;
    cp_tree_options(j, &t);
    zc_tree_stats ts;
    zc_tree_stats_init(&ts);
    cp_tree_start();
    int r = zc_copy_tree(j->src, j->dst, &t, &ts);
    return cp_tree_end(j, r, &ts, failed);
}

static const struct cp_program zcp = {
    "zcp",
    "usage: zcp [options] [-T] SRC DST\n"
    "       zcp [options] SRC... DIR\n"
    "       zcp [options] -t DIR SRC...\n"
    "Copy files and directory trees with zcio, as cp(1) does: the fastest safe\n"
    "method, each file replaced only when its copy is complete.\n\n",
    run_tree,
};

int main(int argc, char **argv) {
    int rc = cp_parse(argc, argv, &zcp);
    return rc >= 0 ? rc : cp_run();
}
