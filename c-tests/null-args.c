/*
 * NULL pointers from C: a NULL path is -EINVAL (false and EINVAL for
 * directIO_copy) with nothing touched; a NULL zc_options means defaults and a NULL
 * zc_stats none wanted; the initialisers take NULL as a no-op; NULL offsets mean
 * the descriptors' own; NULL out pointers of zc_dio_alignment are skipped.
 *
 * usage: null-args DIR
 */
#include "helpers.h"

static void paths(void) {
    t_name = "null paths";
    char call[128];
    for (int k = 0; k < T_NPATH; k++) {
        t_path_fn f = T_PATH_FNS[k].f;
        const char *fn = T_PATH_FNS[k].name;
        snprintf(call, sizeof call, "%s(NULL, dst_new, NULL, NULL)", fn);
        EXPECT_AS("src NULL", call, f(NULL, t_dst_new, NULL, NULL), -EINVAL);
        snprintf(call, sizeof call, "%s(NULL, dst_old, NULL, NULL)", fn);
        EXPECT_AS("src NULL, dst exists", call, f(NULL, t_dst_old, NULL, NULL), -EINVAL);
        snprintf(call, sizeof call, "%s(src, NULL, NULL, NULL)", fn);
        EXPECT_AS("dst NULL", call, f(t_src, NULL, NULL, NULL), -EINVAL);
        snprintf(call, sizeof call, "%s(NULL, NULL, NULL, NULL)", fn);
        EXPECT_AS("both NULL", call, f(NULL, NULL, NULL, NULL), -EINVAL);
        char *ok = t_ok_path("null-ok");
        zc_options o;
        zc_stats st;
        zc_options_init(&o);
        zc_stats_init(&st);
        snprintf(call, sizeof call, "%s(src, ok, NULL, NULL)", fn);
        EXPECT_AS("opts NULL, stats NULL (allowed)", call, f(t_src, ok, NULL, NULL), 0);
        snprintf(call, sizeof call, "%s(src, ok, &o, NULL)", fn);
        EXPECT_AS("stats NULL (allowed)", call, f(t_src, ok, &o, NULL), 0);
        snprintf(call, sizeof call, "%s(src, ok, NULL, &st)", fn);
        EXPECT_AS("opts NULL (allowed)", call, f(t_src, ok, NULL, &st), 0);
        CHECK(t_file_is(ok, t_src_data, t_src_len));
        CHECK_EQ(st.bytes, t_src_len);
        unlink(ok);
        free(ok);
    }
    EXPECT_ERRNO("src NULL", directIO_copy(NULL, t_dst_new), false, EINVAL);
    EXPECT_ERRNO("src NULL, dst exists", directIO_copy(NULL, t_dst_old), false, EINVAL);
    EXPECT_ERRNO("dst NULL", directIO_copy(t_src, NULL), false, EINVAL);
    EXPECT_ERRNO("both NULL", directIO_copy(NULL, NULL), false, EINVAL);
}

static void initialisers(void) {
    t_name = "null structs";
    EXPECT_VOID("opts NULL", (zc_options_init)(NULL));
    EXPECT_VOID("opts NULL", zc_options_init_sized(NULL, sizeof(zc_options)));
    EXPECT_VOID("opts NULL", zc_options_init_sized(NULL, 40));
    EXPECT_VOID("stats NULL", (zc_stats_init)(NULL));
    EXPECT_VOID("stats NULL", zc_stats_init_sized(NULL, sizeof(zc_stats)));
}

static void descriptor_pointers(void) {
    t_name = "null offsets";
    int in = open(t_src, O_RDONLY | O_CLOEXEC);
    char *okp = t_ok_path("fd-ok");
    int out = open(okp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) t_die("open");
    int64_t off = 0;
    EXPECT("offset NULL (allowed)", zc_sendfile(out, in, NULL, ZC_TO_EOF, 0), t_src_len);
    EXPECT("offsets NULL (allowed)", zc_splice(in, &off, out, NULL, ZC_TO_EOF, 0), t_src_len);
    off = 0;
    EXPECT("offsets NULL (allowed)", zc_copy_file_range(in, &off, out, NULL, ZC_TO_EOF, 0),
           t_src_len);
    lseek(in, 0, SEEK_SET);
    EXPECT("offset NULL (allowed)", zc_mmap_copy(in, NULL, out, ZC_TO_EOF, 0), t_src_len);
    lseek(in, 0, SEEK_SET);
    EXPECT("offsets NULL (allowed)", zc_splice(in, NULL, out, NULL, ZC_TO_EOF, 0), t_src_len);
    lseek(in, 0, SEEK_SET);
    EXPECT("offsets NULL (allowed)", zc_copy_file_range(in, NULL, out, NULL, ZC_TO_EOF, 0),
           t_src_len);
    size_t got_len = 0;
    unsigned char *got = t_read_file(okp, &got_len);
    CHECK_EQ(got_len, 6 * t_src_len);
    int same = got != NULL;
    for (size_t i = 0; same && i < 6; i++) same = !memcmp(got + i * t_src_len, t_src_data, t_src_len);
    CHECK(same);
    free(got);
    uint32_t m = 0, a = 0;
    int want = zc_dio_alignment(in, &m, &a);
    CHECK(want == 0 || want == -EOPNOTSUPP);
    EXPECT("both out pointers NULL (allowed)", zc_dio_alignment(in, NULL, NULL), want);
    EXPECT("mem_align_out NULL (allowed)", zc_dio_alignment(in, NULL, &a), want);
    EXPECT("offset_align_out NULL (allowed)", zc_dio_alignment(in, &m, NULL), want);
    close(in);
    close(out);
    unlink(okp);
    free(okp);
}

int main(int argc, char **argv) {
    int fds = t_fixture_main(argc, argv);
    paths();
    initialisers();
    descriptor_pointers();
    return t_fixture_finish("null-args", fds);
}
