/*
 * Paths from C are bytes, not UTF-8: names with bytes 0x80-0xff are copied by
 * each path copy and directIO_copy, onto new and existing destinations.
 *
 * usage: path-bytes DIR
 */
#include "helpers.h"

int main(int argc, char **argv) {
    int fds = t_fixture_main(argc, argv);
    t_name = "bytes";
    char *s8 = t_ok_path("src-\xff\xfe"), *d8 = t_ok_path("dst-\xff\xfe\x80");
    t_write_nosync(s8, t_src_data, t_src_len);
    for (int k = 0; k < T_NPATH; k++) {
        EXPECT_AS("non-UTF-8 names (0xff 0xfe)", T_PATH_FNS[k].name,
                  T_PATH_FNS[k].f(s8, d8, NULL, NULL), 0);
        CHECK(t_file_is(d8, t_src_data, t_src_len));
        EXPECT_AS("non-UTF-8 names, existing destination", T_PATH_FNS[k].name,
                  T_PATH_FNS[k].f(s8, d8, NULL, NULL), 0);
        unlink(d8);
    }
    EXPECT_ERRNO("non-UTF-8 names (0xff 0xfe)", directIO_copy(s8, d8), true, T_SENT);
    CHECK(t_file_is(d8, t_src_data, t_src_len));
    unlink(s8);
    unlink(d8);
    free(s8);
    free(d8);
    return t_fixture_finish("path-bytes", fds);
}
