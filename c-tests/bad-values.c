/*
 * C integers that must become typed Rust values: unknown zc_options.flags bits,
 * methods and engines out of range (-EINVAL for each path copy); flag bits the
 * descriptor calls do not take (-EINVAL, nothing moved, no offset moved); advice
 * values out of range (-EINVAL; -1 and EINVAL for directio()); and the highest
 * known flags accepted.
 *
 * usage: bad-values DIR
 */
#include "helpers.h"

/* Every ZC_F_* bit zcio knows; anything above is unknown. */
#define KNOWN_FLAGS 0x3fffu

static void path_options(void) {
    t_name = "options";
    char call[160], input[96];
    char *ok = t_ok_path("opt-ok");
    zc_options o;
    for (int k = 0; k < T_NPATH; k++) {
        t_path_fn f = T_PATH_FNS[k].f;
        const char *fn = T_PATH_FNS[k].name;
        snprintf(call, sizeof call, "%s(src, dst_new, &o, NULL)", fn);
        for (int bit = 14; bit < 32; bit++) {
            zc_options_init(&o);
            o.flags = 1u << bit;
            snprintf(input, sizeof input, "flags bit %d", bit);
            EXPECT_AS(input, call, f(t_src, t_dst_new, &o, NULL), -EINVAL);
        }
        const uint32_t methods[] = {8, 99, UINT32_MAX};
        for (int i = 0; i < 3; i++) {
            zc_options_init(&o);
            o.method = methods[i];
            snprintf(input, sizeof input, "method %u", methods[i]);
            EXPECT_AS(input, call, f(t_src, t_dst_new, &o, NULL), -EINVAL);
        }
        const uint32_t engines[] = {4, 99, UINT32_MAX};
        for (int i = 0; i < 3; i++) {
            zc_options_init(&o);
            o.engine = engines[i];
            snprintf(input, sizeof input, "engine %u", engines[i]);
            EXPECT_AS(input, call, f(t_src, t_dst_new, &o, NULL), -EINVAL);
        }
        /* The known bits at the top of the range are accepted. */
        const struct {
            uint32_t flag;
            const char *name;
        } known[] = {{ZC_F_NOFOLLOW, "flags ZC_F_NOFOLLOW (bit 9)"},
                     {ZC_F_PRESERVE_MODE, "flags ZC_F_PRESERVE_MODE (bit 10)"},
                     {ZC_F_PRESERVE_OWNER, "flags ZC_F_PRESERVE_OWNER (bit 11)"},
                     {ZC_F_UNCACHED, "flags ZC_F_UNCACHED (bit 12)"},
                     {ZC_F_DEFAULT_MODE, "flags ZC_F_DEFAULT_MODE (bit 13)"}};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            zc_options_init(&o);
            o.flags = known[i].flag;
            snprintf(call, sizeof call, "%s(src, ok, &o, NULL)", fn);
            /* splice(2) leaves its pages in the cache: an uncached splice is refused. */
            int refused = known[i].flag == ZC_F_UNCACHED && !strcmp(fn, "zc_splice_file");
            EXPECT_AS(known[i].name, call, f(t_src, ok, &o, NULL), refused ? -EINVAL : 0);
            CHECK(refused ? !t_exists(ok) : t_file_is(ok, t_src_data, t_src_len));
            unlink(ok);
        }
    }
    /* A chunk size is a u64 from C: one that cannot be a Direct I/O chunk is
     * refused (the rules themselves are checked in tests/direct.rs). */
    zc_options_init(&o);
    o.chunk_size = UINT64_MAX;
    EXPECT("chunk_size UINT64_MAX", directio_copy(t_src, t_dst_new, &o, NULL), -EINVAL);
    EXPECT("chunk_size UINT64_MAX", directio_copy(t_src, t_dst_old, &o, NULL), -EINVAL);
    free(ok);
}

static void descriptor_flags(void) {
    t_name = "descriptor flags";
    char input[96];
    int in = open(t_src, O_RDONLY | O_CLOEXEC);
    int out = open(t_dst_old, O_WRONLY | O_CLOEXEC);
    if (in < 0 || out < 0) t_die("open");
    uint32_t bad[32];
    int nbad = 0;
    for (int bit = 0; bit < 32; bit++)
        if ((1u << bit) != ZC_F_NONBLOCK && (1u << bit) != ZC_F_NO_FALLBACK) bad[nbad++] = 1u << bit;
    for (int i = 0; i < nbad; i++) {
        uint32_t fl = bad[i];
        int64_t a = 0, b = 0;
        snprintf(input, sizeof input, "flags %#x", fl);
        EXPECT(input, zc_sendfile(out, in, &a, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_sendfile(out, in, NULL, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_splice(in, &a, out, &b, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_splice(in, NULL, out, NULL, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_copy_file_range(in, &a, out, &b, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_mmap_copy(in, &a, out, ZC_TO_EOF, fl), -EINVAL);
        EXPECT(input, zc_mmap_copy(in, NULL, out, ZC_TO_EOF, fl), -EINVAL);
        /* With a known bit beside it, still refused. */
        EXPECT(input, zc_sendfile(out, in, &a, ZC_TO_EOF, fl | ZC_F_NONBLOCK), -EINVAL);
        CHECK_EQ(a, 0);
        CHECK_EQ(b, 0);
    }
    CHECK_EQ(lseek(in, 0, SEEK_CUR), 0);
    CHECK_EQ(lseek(out, 0, SEEK_CUR), 0);
    /* Advice values. */
    const int advice[] = {2, 7, -1, INT_MAX};
    for (int i = 0; i < 4; i++) {
        snprintf(input, sizeof input, "advice %d", advice[i]);
        EXPECT(input, zc_directio(out, advice[i]), -EINVAL);
        EXPECT_ERRNO(input, directio(out, advice[i]), -1, EINVAL);
    }
    CHECK(!(fcntl(out, F_GETFL) & O_DIRECT));
    close(in);
    close(out);
}

int main(int argc, char **argv) {
    /* The bits this program calls unknown are the ones the header does not name. */
    if ((ZC_F_FSYNC | ZC_F_NO_FALLBACK | ZC_F_EXCL | ZC_F_IN_PLACE | ZC_F_NO_REFLINK |
         ZC_F_NO_SPARSE | ZC_F_PRESERVE_TIMES | ZC_F_PRESERVE_XATTRS | ZC_F_NONBLOCK |
         ZC_F_NOFOLLOW | ZC_F_PRESERVE_MODE | ZC_F_PRESERVE_OWNER | ZC_F_UNCACHED | ZC_F_DEFAULT_MODE) !=
        KNOWN_FLAGS) {
        fprintf(stderr, "the header's ZC_F_* bits changed: update KNOWN_FLAGS\n");
        return 1;
    }
    int fds = t_fixture_main(argc, argv);
    path_options();
    descriptor_flags();
    return t_fixture_finish("bad-values", fds);
}
