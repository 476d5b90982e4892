/*
 * treefloor: what this disk allows a tree copy, in its two halves.
 *
 *   treefloor read JOBS SRC        read every regular file of SRC (JOBS threads)
 *   treefloor write JOBS SRC DST   make SRC's directories and files under DST, the
 *                                  files written from memory (JOBS threads)
 *
 * A copy can be no faster than the slower half, and no safer copy needs fewer
 * system calls per file than the write half makes (open, write, close).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file {
    char *rel;
    off_t size;
};

static struct file *files;
static size_t nfiles, cap;
static size_t root_len;
static const char *src_root, *dst_root;
static atomic_size_t next;
static atomic_int failed;
static char buf[1 << 20];

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)ftw;
    if (type == FTW_D && dst_root) {
        char out[8192];
        snprintf(out, sizeof out, "%s%s", dst_root, path + root_len);
        if (mkdir(out, 0755) != 0 && errno != EEXIST) return -1;
    }
    if (type != FTW_F || !S_ISREG(st->st_mode)) return 0;
    if (nfiles == cap) {
        cap = cap ? cap * 2 : 4096;
        files = realloc(files, cap * sizeof *files);
        if (!files) return -1;
    }
    files[nfiles].rel = strdup(path + root_len);
    files[nfiles].size = st->st_size;
    return files[nfiles++].rel ? 0 : -1;
}

static void *reader(void *arg) {
    (void)arg;
    char local[65536], p[8192];
    for (size_t i; (i = atomic_fetch_add(&next, 1)) < nfiles;) {
        snprintf(p, sizeof p, "%s%s", src_root, files[i].rel);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { atomic_store(&failed, 1); continue; }
        while (read(fd, local, sizeof local) > 0) {}
        close(fd);
    }
    return NULL;
}

static void *writer(void *arg) {
    (void)arg;
    char p[8192];
    for (size_t i; (i = atomic_fetch_add(&next, 1)) < nfiles;) {
        snprintf(p, sizeof p, "%s%s", dst_root, files[i].rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) { atomic_store(&failed, 1); continue; }
        for (off_t left = files[i].size; left > 0;) {
            size_t n = left < (off_t)sizeof buf ? (size_t)left : sizeof buf;
            ssize_t w = write(fd, buf, n);
            if (w <= 0) { atomic_store(&failed, 1); break; }
            left -= w;
        }
        close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int write_mode = argc == 5 && !strcmp(argv[1], "write");
    if (!(argc == 4 && !strcmp(argv[1], "read")) && !write_mode) {
        fprintf(stderr, "usage: treefloor read JOBS SRC | treefloor write JOBS SRC DST\n");
        return 2;
    }
    int jobs = atoi(argv[2]);
    if (jobs < 1 || jobs > 256) jobs = 8;
    src_root = argv[3];
    root_len = strlen(src_root);
    if (write_mode) dst_root = argv[4];
    if (nftw(src_root, collect, 64, FTW_PHYS) != 0) {
        perror("treefloor: walk");
        return 1;
    }
    pthread_t t[256];
    for (int i = 0; i < jobs; i++) pthread_create(&t[i], NULL, write_mode ? writer : reader, NULL);
    for (int i = 0; i < jobs; i++) pthread_join(t[i], NULL);
    for (size_t i = 0; i < nfiles; i++) free(files[i].rel);
    free(files);
    return atomic_load(&failed);
}
