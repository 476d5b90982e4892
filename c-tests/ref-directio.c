/*
 * The C reference of the article's algorithm (ref_directio.c, which bench/article.c
 * also builds) against zcio: for sizes around every boundary, both give the source
 * byte for byte.
 *
 * usage: ref-directio DIR
 */
#include "helpers.h"

#include "ref_directio.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char *dir = t_mkdtemp(argv[1]);
    t_name = "reference";
    const size_t sizes[] = {0, 1, 511, 512, 513, 4095, 4096, 4097, 1048575, 1048576, 1048577,
                            3 * 1048576 + 1234};
    char *src = t_path(dir, "src"), *ref = t_path(dir, "ref"), *zc = t_path(dir, "zc");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *want = t_make_file(src, sizes[i], 100 + i);
        CHECK_EQ(ref_directio_copy(src, ref), 0);
        CHECK(t_file_is(ref, want, sizes[i]));
        CHECK_EQ(directio_copy(src, zc, NULL, NULL), 0);
        CHECK(t_files_equal(ref, zc));
        free(want);
    }
    free(src);
    free(ref);
    free(zc);
    t_rmtree(dir);
    free(dir);
    return t_finish("ref-directio");
}
