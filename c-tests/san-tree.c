/*
 * Sanitizer driver for the tree copy: a tree with every kind of entry (files
 * of many sizes, a sparse one, empty ones, symlinks, hard links, a FIFO, deep
 * and wide directories) copied with each preserve flag and with all of them, by
 * 1 and 8 threads, merged into again under each rule for existing entries,
 * shared between 3 parts through the three phases, and cancelled part-way. Under
 * TSan this is the one place the tree copy's threads run instrumented. Its checks
 * are the driver's own (the copies' contents, no temporary file, no descriptor
 * left); the behaviour is specified in tests/tree.rs.
 *
 * usage: san-tree DIR
 */
#include "helpers.h"

static char *src;

static void make_tree(void) {
    if (mkdir(src, 0755) != 0) t_die("mkdir");
    char *p = t_path(src, "deep");
    if (mkdir(p, 0755) != 0) t_die("mkdir");
    for (int i = 0; i < 12; i++) {
        char *q = t_path(p, "d");
        if (mkdir(q, 0700 + i % 2 * 050) != 0) t_die("mkdir");
        char *f = t_path(q, "f");
        free(t_make_file(f, (size_t)i * 4096 + 7, (uint64_t)i));
        free(f);
        free(p);
        p = q;
    }
    free(p);
    for (int d = 0; d < 6; d++) {
        char name[32];
        snprintf(name, sizeof name, "wide%d", d);
        char *w = t_path(src, name);
        if (mkdir(w, 0755) != 0) t_die("mkdir");
        for (int i = 0; i < 40; i++) {
            snprintf(name, sizeof name, "f%02d", i);
            char *f = t_path(w, name);
            free(t_make_file(f, (size_t)(i % 5) * 1000, (uint64_t)(d * 100 + i)));
            free(f);
        }
        free(w);
    }
    char *big = t_path(src, "big"), *sparse = t_path(src, "sparse");
    free(t_make_file(big, (70u << 20) + 5, 99));
    int fd = open(sparse, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, 8 << 20) != 0 || pwrite(fd, "data", 4, 3 << 20) != 4) t_die("sparse");
    close(fd);
    char *l1 = t_path(src, "link"), *h1 = t_path(src, "hard1"), *h2 = t_path(src, "wide0/hard2");
    if (symlink("big", l1) != 0) t_die("symlink");
    free(t_make_file(h1, 5000, 7));
    if (link(h1, h2) != 0) t_die("link");
    char *fifo = t_path(src, "fifo");
    if (mkfifo(fifo, 0600) != 0) t_die("mkfifo");
    free(big), free(sparse), free(l1), free(h1), free(h2), free(fifo);
}

/* Every regular file of `a` is the same in `b`, byte for byte. */
static int same_files(const char *a, const char *b) {
    DIR *d = opendir(a);
    if (!d) return 0;
    int ok = 1;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *x = t_path(a, e->d_name), *y = t_path(b, e->d_name);
        struct stat sx, sy;
        if (lstat(x, &sx) != 0 || lstat(y, &sy) != 0) ok = 0;
        else if ((sx.st_mode & S_IFMT) != (sy.st_mode & S_IFMT)) ok = 0;
        else if (S_ISDIR(sx.st_mode)) ok = same_files(x, y);
        else if (S_ISREG(sx.st_mode)) ok = t_files_equal(x, y);
        free(x), free(y);
    }
    closedir(d);
    return ok;
}

static int stop_after(const zc_tree_progress *p, void *arg) {
    (void)p;
    int *n = arg;
    return --*n <= 0;
}

static void copy(const char *dst, uint32_t preserve, uint32_t jobs, uint32_t existing, int fresh) {
    if (fresh) t_rmtree(dst);
    zc_tree_options o;
    zc_tree_stats s;
    zc_tree_options_init(&o);
    zc_tree_stats_init(&s);
    o.preserve = preserve;
    o.jobs = jobs;
    o.existing = existing;
    int r = zc_copy_tree(src, dst, &o, &s);
    if (r != 0) fprintf(stderr, "[%s] preserve %#x jobs %u: %s\n", t_name, preserve, jobs, zc_strerror(r));
    CHECK_EQ(r, 0);
    CHECK(same_files(src, dst));
    CHECK_EQ(t_temp_files(dst), 0);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char *dir = t_mkdtemp(argv[1]);
    int fds = t_count_fds();
    src = t_path(dir, "src");
    char *dst = t_path(dir, "dst");
    make_tree();
    t_name = "preserve";
    const uint32_t each[] = {0, ZC_PRESERVE_MODE, ZC_PRESERVE_OWNERSHIP, ZC_PRESERVE_TIMESTAMPS,
                             ZC_PRESERVE_LINKS, ZC_PRESERVE_XATTRS, ZC_PRESERVE_ALL};
    for (int i = 0; i < 7; i++) copy(dst, each[i], 1 + (uint32_t)i % 2 * 7, ZC_EXISTING_REPLACE, 1);
    t_name = "existing";
    for (uint32_t e = ZC_EXISTING_REPLACE; e <= ZC_EXISTING_NEWER; e++) copy(dst, ZC_PRESERVE_ALL, 8, e, 0);
    t_name = "parts";
    t_rmtree(dst);
    for (uint32_t phase = ZC_PHASE_DATA; phase <= ZC_PHASE_DIRS; phase++) {
        for (uint32_t i = 0; i < 3; i++) {
            zc_tree_options o;
            zc_tree_options_init(&o);
            o.preserve = ZC_PRESERVE_ALL;
            o.part_index = i;
            o.part_count = 3;
            o.phase = phase;
            CHECK_EQ(zc_copy_tree(src, dst, &o, NULL), 0);
        }
    }
    CHECK(same_files(src, dst));
    CHECK_EQ(t_temp_files(dst), 0);
    t_name = "cancel";
    for (int after = 1; after <= 3; after++) {
        t_rmtree(dst);
        int n = after;
        zc_tree_options o;
        zc_options f;
        zc_tree_options_init(&o);
        zc_options_init(&f);
        f.flags = ZC_F_FSYNC; /* slow enough for reports */
        o.file = &f;
        o.progress = stop_after;
        o.progress_arg = &n;
        int r = zc_copy_tree(src, dst, &o, NULL);
        CHECK(r == -ECANCELED || r == 0);
        CHECK_EQ(t_temp_files(dst), 0);
    }
    t_rmtree(dir);
    CHECK_EQ(t_count_fds(), fds);
    free(src), free(dst), free(dir);
    return t_finish("san-tree");
}
