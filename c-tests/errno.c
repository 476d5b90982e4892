/*
 * errno: every call that returns -errno leaves errno as it was, on failure and on
 * success; the two compatibility calls keep their contracts: directIO_copy
 * returns true/false and sets errno on failure, directio() returns 0/-1 and sets
 * errno.
 *
 * usage: errno DIR
 */
#include "helpers.h"

static void minus_errno_calls(void) {
    t_name = "-errno calls";
    int in = open(t_src, O_RDONLY | O_CLOEXEC);
    char *okp = t_ok_path("fd-ok");
    int out = open(okp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (in < 0 || out < 0 || dfd < 0) t_die("open");
    char *missing = t_path(t_dir, "missing");
    EXPECT("missing source", directio_copy(missing, t_dst_new, NULL, NULL), -ENOENT);
    EXPECT("missing source", zc_copy_file(missing, t_dst_new, NULL, NULL), -ENOENT);
    EXPECT("missing source", zc_splice_file(missing, t_dst_new, NULL, NULL), -ENOENT);
    EXPECT("fd -1", zc_sendfile(-1, in, NULL, 100, 0), -EBADF);
    EXPECT("fd -1", zc_reflink(-1, -1), -EBADF);
    EXPECT("flags bit 31", zc_copy_file_range(in, NULL, out, NULL, 100, 1u << 31), -EINVAL);
    EXPECT("directory descriptor", zc_mmap_copy(dfd, NULL, out, 100, 0) < 0, 1);
    EXPECT("directory descriptor", zc_dio_alignment(dfd, NULL, NULL), -EINVAL);
    /* Successes leave it too, and move the right bytes. */
    int64_t a = 0;
    EXPECT("success", zc_sendfile(out, in, &a, ZC_TO_EOF, 0), t_src_len);
    EXPECT("success, at the end", zc_splice(in, &a, out, NULL, ZC_TO_EOF, 0), 0);
    a = 0;
    EXPECT("success", zc_copy_file_range(in, &a, out, NULL, 10, 0), 10);
    a = 0;
    EXPECT("success", zc_mmap_copy(in, &a, out, 10, 0), 10);
    EXPECT("success", zc_directio(out, ZC_DIRECTIO_OFF), 0);
    char *ok = t_ok_path("ok");
    EXPECT("success", directio_copy(t_src, ok, NULL, NULL), 0);
    EXPECT("success", zc_copy_file(t_src, ok, NULL, NULL), 0);
    EXPECT("success", zc_splice_file(t_src, ok, NULL, NULL), 0);
    CHECK(t_file_is(ok, t_src_data, t_src_len));
    unsigned char *want = malloc(t_src_len + 20);
    if (!want) t_die("malloc");
    memcpy(want, t_src_data, t_src_len);
    memcpy(want + t_src_len, t_src_data, 10);
    memcpy(want + t_src_len + 10, t_src_data, 10);
    CHECK(t_file_is(okp, want, t_src_len + 20));
    free(want);
    unlink(ok);
    free(ok);
    close(in);
    close(out);
    close(dfd);
    unlink(okp);
    free(okp);
    free(missing);
}

static void compat_calls(void) {
    t_name = "directIO_copy and directio()";
    /* directIO_copy: true, errno untouched, the copy exact, for sizes around the
     * alignment (the article's function had to get these right). */
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 3 * 1048576 + 1234};
    char *drop = t_ok_path("drop"), *s = t_ok_path("s");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *b = t_make_file(s, sizes[i], 100 + i);
        errno = T_SENT;
        bool r = directIO_copy(s, drop);
        int e = errno;
        CHECK(r);
        CHECK_EQ(e, T_SENT);
        CHECK(t_file_is(drop, b, sizes[i]));
        free(b);
    }
    unlink(s);
    unlink(drop);
    free(s);
    free(drop);
    /* Failures: false with errno set. */
    size_t dl = strlen(t_dir);
    char *longp = calloc(1, dl + PATH_MAX + 64), *longn = calloc(1, dl + NAME_MAX + 64);
    if (!longp || !longn) t_die("calloc");
    strcpy(longp, t_dir);
    while (strlen(longp) <= PATH_MAX + 16) strcat(longp, "/aaaaaaaaaaaaaaa");
    sprintf(longn, "%s/", t_dir);
    memset(longn + dl + 1, 'n', NAME_MAX + 1);
    char *missing = t_path(t_dir, "missing");
    EXPECT_ERRNO("missing source", directIO_copy(missing, t_dst_old), false, ENOENT);
    EXPECT_ERRNO("src > PATH_MAX", directIO_copy(longp, t_dst_new), false, ENAMETOOLONG);
    EXPECT_ERRNO("dst component > NAME_MAX", directIO_copy(t_src, longn), false, ENAMETOOLONG);
    EXPECT_ERRNO("src empty", directIO_copy("", t_dst_new), false, ENOENT);
    EXPECT_ERRNO("dst empty", directIO_copy(t_src, ""), false, ENOENT);
    EXPECT_ERRNO("onto itself", directIO_copy(t_dst_old, t_dst_old), false, EINVAL);
    free(longp);
    free(longn);
    free(missing);
    /* directio(): 0 on success, -1 and errno on failure. */
    int fd = open(t_dst_old, O_RDWR | O_CLOEXEC);
    int p[2];
    if (fd < 0 || pipe2(p, O_CLOEXEC) != 0) t_die("open");
    EXPECT_ERRNO("success", directio(fd, DIRECTIO_ON), 0, T_SENT);
    CHECK(fcntl(fd, F_GETFL) & O_DIRECT);
    EXPECT_ERRNO("success", directio(fd, DIRECTIO_OFF), 0, T_SENT);
    CHECK(!(fcntl(fd, F_GETFL) & O_DIRECT));
    EXPECT_ERRNO("a pipe", directio(p[0], DIRECTIO_ON), -1, ENOTTY);
    EXPECT("a pipe", zc_directio(p[0], ZC_DIRECTIO_ON), -ENOTTY);
    close(p[0]);
    close(p[1]);
    close(fd);
}

int main(int argc, char **argv) {
    int fds = t_fixture_main(argc, argv);
    minus_errno_calls();
    compat_calls();
    return t_fixture_finish("errno", fds);
}
