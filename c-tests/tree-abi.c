/*
 * zc_copy_tree's ABI: the initialisers, NULL paths, the size field of
 * zc_tree_options and zc_tree_stats (too small, larger with a zero or non-zero
 * tail, absurd), every enum and bit field out of range, a bad per-file
 * zc_options, errno left alone, zc_tree_stats filled on failure, and the two
 * callbacks as C sees them (the struct they get, byte totals or none, the path,
 * stopping the copy).
 *
 * usage: tree-abi DIR
 */
#include "helpers.h"

static char *src, *dst;

/* zc_copy_tree into a fresh destination; the clean-up leaves errno as it found it. */
static int copy_tree(const zc_tree_options *o, zc_tree_stats *s) {
    int e = errno;
    t_rmtree(dst);
    errno = e;
    return zc_copy_tree(src, dst, o, s);
}

#define TREE(input, o, s, want) EXPECT_AS(input, "zc_copy_tree(src, dst, &o, &st)", copy_tree(o, s), want)

static void initialisers(void) {
    t_name = "initialisers";
    zc_tree_options o;
    zc_tree_stats s;
    memset(&o, 0xAA, sizeof o);
    zc_tree_options_init(&o);
    CHECK_EQ(o.size, sizeof o);
    CHECK_EQ(o.preserve, 0);
    CHECK_EQ(o.jobs, 0);
    CHECK(o.file == NULL && o.progress == NULL && o.on_error == NULL);
    zc_tree_stats_init(&s);
    CHECK_EQ(s.size, sizeof s);
    unsigned char guard[sizeof(zc_tree_options) + 16];
    memset(guard, 0xAA, sizeof guard);
    zc_tree_options_init_sized((zc_tree_options *)(void *)guard, 24);
    CHECK_EQ(guard[24], 0xAA);
    CHECK_EQ(guard[23], 0);
    EXPECT_VOID("NULL", zc_tree_options_init(NULL));
    EXPECT_VOID("NULL", zc_tree_stats_init(NULL));
}

static void bad_arguments(void) {
    t_name = "arguments";
    zc_tree_options o;
    zc_tree_stats s;
    zc_tree_options_init(&o);
    zc_tree_stats_init(&s);
    EXPECT("NULL src", zc_copy_tree(NULL, dst, &o, &s), -EINVAL);
    CHECK_EQ(s.failed_step, ZC_STEP_ARGS);
    EXPECT("NULL dst", zc_copy_tree(src, NULL, &o, &s), -EINVAL);
    char *missing = t_ok_path("missing");
    EXPECT("missing src", zc_copy_tree(missing, dst, NULL, NULL), -ENOENT);
    free(missing);
    EXPECT("empty src", zc_copy_tree("", dst, NULL, NULL), -ENOENT);
    char *inside = t_path(src, "copy");
    EXPECT("dst inside src", zc_copy_tree(src, inside, NULL, NULL), -EINVAL);
    CHECK(!t_exists(inside));
    free(inside);
}

/* The out-of-range fields, one at a time. */
static void bad_fields(void) {
    t_name = "fields";
    zc_tree_options o;
    zc_tree_stats s;
    zc_tree_stats_init(&s);
#define FIELD(what, stmt)                                                                  \
    do {                                                                                   \
        zc_tree_options_init(&o);                                                          \
        stmt;                                                                              \
        TREE(what, &o, &s, -EINVAL);                                                      \
        CHECK(!t_exists(dst));                                                            \
    } while (0)
    FIELD("flags bit 4", o.flags = 1u << 4);
    FIELD("preserve bit 5", o.preserve = 1u << 5);
    FIELD("existing 3", o.existing = 3);
    FIELD("follow 3", o.follow = 3);
    FIELD("phase 4", o.phase = 4);
    FIELD("reserved 1", o.reserved = 1);
    FIELD("part_index 2 of 2", (o.part_index = 2, o.part_count = 2, o.phase = ZC_PHASE_DATA));
    FIELD("2 parts, phase ALL", o.part_count = 2);
    zc_options f;
    zc_options_init(&f);
    f.method = ZC_METHOD_COUNT;
    FIELD("file->method out of range", o.file = &f);
    zc_options_init(&f);
    f.flags = 1u << 20;
    FIELD("file->flags unknown bit", o.file = &f);
#undef FIELD
}

static void sizes(void) {
    t_name = "sizes";
    zc_tree_options o;
    zc_tree_stats s;
    unsigned char big[sizeof(zc_tree_options) + 64];
    zc_tree_stats_init(&s);
    zc_tree_options_init(&o);
    o.size = sizeof o - 4;
    TREE("zc_tree_options.size too small", &o, &s, -EINVAL);
    o.size = 4097;
    TREE("zc_tree_options.size 4097", &o, &s, -E2BIG);
    memset(big, 0, sizeof big);
    zc_tree_options_init_sized((zc_tree_options *)(void *)big, sizeof big);
    CHECK_EQ(((zc_tree_options *)(void *)big)->size, sizeof big);
    TREE("zc_tree_options larger, zero tail", (zc_tree_options *)(void *)big, &s, 0);
    big[sizeof big - 1] = 1;
    TREE("zc_tree_options larger, non-zero tail", (zc_tree_options *)(void *)big, &s, -E2BIG);
    zc_tree_stats_init(&s);
    s.size = 8;
    TREE("zc_tree_stats.size too small", NULL, &s, -EINVAL);
    CHECK_EQ(s.size, 8);
    /* A larger zc_tree_stats: the known fields filled, the tail and size kept. */
    unsigned char sb[sizeof(zc_tree_stats) + 32];
    memset(sb, 0, sizeof sb);
    zc_tree_stats_init_sized((zc_tree_stats *)(void *)sb, sizeof sb);
    TREE("zc_tree_stats larger", NULL, (zc_tree_stats *)(void *)sb, 0);
    zc_tree_stats *ls = (zc_tree_stats *)(void *)sb;
    CHECK_EQ(ls->size, sizeof sb);
    CHECK_EQ(ls->files, 3);
    int tail_zero = 1;
    for (size_t i = sizeof(zc_tree_stats); i < sizeof sb; i++) tail_zero &= sb[i] == 0;
    CHECK(tail_zero);
}

struct seen {
    int calls, last_size, walk_done, stop_at;
    uint64_t entries_done, entries_known, bytes_done, bytes_known;
};

static int on_progress(const zc_tree_progress *p, void *arg) {
    struct seen *s = arg;
    s->calls++;
    s->last_size = (int)p->size;
    s->walk_done = (int)p->walk_done;
    s->entries_done = p->entries_done;
    s->entries_known = p->entries_known;
    s->bytes_done = p->bytes_done;
    s->bytes_known = p->bytes_known;
    return s->stop_at && s->calls >= s->stop_at;
}

struct errs {
    int calls, err;
    uint32_t step;
    char path[4096];
    int stop;
};

static int on_error(const char *path, int err, uint32_t step, void *arg) {
    struct errs *e = arg;
    e->calls++;
    e->err = err;
    e->step = step;
    snprintf(e->path, sizeof e->path, "%s", path);
    return e->stop;
}

static void callbacks(void) {
    t_name = "callbacks";
    zc_tree_options o;
    zc_tree_stats s;
    struct seen seen = {0};
    zc_tree_options_init(&o);
    zc_tree_stats_init(&s);
    o.progress = on_progress;
    o.progress_arg = &seen;
    o.preserve = ZC_PRESERVE_ALL;
    TREE("progress", &o, &s, 0);
    CHECK(seen.calls >= 1);
    CHECK_EQ(seen.last_size, sizeof(zc_tree_progress));
    CHECK_EQ(seen.walk_done, 1);
    CHECK_EQ(seen.entries_done, seen.entries_known);
    CHECK_EQ(seen.bytes_known, 100 + 70000 + 1);
    CHECK_EQ(seen.bytes_done, 100 + 70000 + 1);
    CHECK_EQ(s.files, 3);
    CHECK_EQ(s.dirs, 2);
    CHECK_EQ(s.errors, 0);
    CHECK_EQ(s.failed_step, ZC_STEP_NONE);
    CHECK_EQ(s.files_by_method[ZC_METHOD_COPY_FILE_RANGE] + s.files_by_method[ZC_METHOD_REFLINK] +
                 s.files_by_method[ZC_METHOD_AUTO],
             3);
    /* Without byte totals the walk looks up no sizes; the rest is reported. */
    seen = (struct seen){0};
    o.flags = ZC_TREE_NO_BYTE_TOTALS;
    TREE("ZC_TREE_NO_BYTE_TOTALS", &o, &s, 0);
    CHECK_EQ(seen.walk_done, 1);
    CHECK_EQ(seen.entries_done, seen.entries_known);
    CHECK_EQ(seen.bytes_known, 0);
    CHECK_EQ(seen.bytes_done, 100 + 70000 + 1);
    o.flags = 0;
    seen = (struct seen){.stop_at = 1};
    TREE("progress stops", &o, &s, -ECANCELED);
    CHECK_EQ(s.failed_step, ZC_STEP_CANCEL);
    CHECK_EQ(t_temp_files(dst), 0);
    /* The error callback: a file in the destination where the source has the
     * directory "sub" (which fails as root too). */
    t_rmtree(dst);
    if (mkdir(dst, 0755) != 0) t_die("mkdir");
    char *in_the_way = t_path(dst, "sub");
    t_write_file(in_the_way, (const unsigned char *)"x", 1);
    char *want = t_path(src, "sub");
    struct errs e = {0};
    zc_tree_options_init(&o);
    o.on_error = on_error;
    o.error_arg = &e;
    EXPECT_AS("a file where a directory goes", "zc_copy_tree(src, dst, &o, &st)",
              zc_copy_tree(src, dst, &o, &s), -ENOTDIR);
    CHECK_EQ(e.calls, 1);
    CHECK_EQ(e.err, ENOTDIR);
    CHECK_EQ(e.step, ZC_STEP_OPEN_DST);
    CHECK(strcmp(e.path, want) == 0);
    CHECK_EQ(s.errors, 1);
    CHECK_EQ(s.files, 1);
    CHECK_EQ(s.failed_step, ZC_STEP_OPEN_DST);
    /* Told to stop: the same error, the copy stops. */
    e = (struct errs){.stop = 1};
    o.jobs = 1;
    EXPECT_AS("the error callback stops", "zc_copy_tree(src, dst, &o, &st)",
              zc_copy_tree(src, dst, &o, &s), -ENOTDIR);
    CHECK_EQ(e.calls, 1);
    free(in_the_way);
    free(want);
}

int main(int argc, char **argv) {
    int fds = t_fixture_main(argc, argv);
    /* Beside the fixture, whose directory the ABI cases check is unchanged. */
    char *own = t_mkdtemp(argv[1]);
    src = t_path(own, "tree");
    dst = t_path(own, "tree-copy");
    if (mkdir(src, 0755) != 0) t_die("mkdir");
    char *sub = t_path(src, "sub");
    if (mkdir(sub, 0755) != 0) t_die("mkdir");
    char *f1 = t_path(src, "a"), *f2 = t_path(sub, "b"), *f3 = t_path(sub, "c");
    free(t_make_file(f1, 100, 1));
    free(t_make_file(f2, 70000, 2));
    free(t_make_file(f3, 1, 3));
    initialisers();
    bad_arguments();
    bad_fields();
    sizes();
    callbacks();
    t_rmtree(dst);
    t_rmtree(src);
    free(f1);
    free(f2);
    free(f3);
    free(sub);
    free(src);
    free(dst);
    t_rmtree(own);
    free(own);
    return t_fixture_finish("tree-abi", fds);
}
