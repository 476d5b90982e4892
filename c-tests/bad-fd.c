/*
 * Descriptor numbers from C that are no open descriptor (negative, INT_MIN,
 * closed, far above any open one) into each side of every descriptor call,
 * zc_directio, zc_dio_alignment and directio(): -EBADF (-1 and EBADF for
 * directio()), no offset moved, nothing written, every real descriptor still open.
 * Safe Rust cannot even make these values (a BorrowedFd is always open).
 *
 * usage: bad-fd DIR
 */
#include "helpers.h"

static int is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

int main(int argc, char **argv) {
    int fds = t_fixture_main(argc, argv);
    t_name = "descriptors";
    int in = open(t_src, O_RDONLY | O_CLOEXEC);
    int out = open(t_dst_old, O_WRONLY | O_CLOEXEC);
    /* A closed descriptor far above the ones zcio opens itself (its pipes), so that
     * no call can get the number back in between. */
    int closed = fcntl(in, F_DUPFD_CLOEXEC, 700);
    if (in < 0 || out < 0 || closed < 0) t_die("open");
    close(closed);
    const int bad[] = {-1, -100, INT_MIN, closed, 1 << 30};
    const char *names[] = {"fd -1", "fd -100", "fd INT_MIN", "closed fd", "fd 1<<30"};
    uint32_t m, a;
    for (int i = 0; i < 5; i++) {
        int b = bad[i];
        const char *n = names[i];
        int64_t o = 0, q = 0;
        EXPECT(n, zc_sendfile(b, in, &o, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_sendfile(out, b, &o, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_splice(b, &o, out, &q, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_splice(in, &o, b, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_copy_file_range(b, NULL, out, &q, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_copy_file_range(in, &o, b, NULL, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_reflink(b, out), -EBADF);
        EXPECT(n, zc_reflink(in, b), -EBADF);
        EXPECT(n, zc_mmap_copy(b, NULL, out, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_mmap_copy(in, &o, b, ZC_TO_EOF, 0), -EBADF);
        EXPECT(n, zc_directio(b, ZC_DIRECTIO_ON), -EBADF);
        EXPECT(n, zc_dio_alignment(b, &m, &a), -EBADF);
        EXPECT_ERRNO(n, directio(b, DIRECTIO_ON), -1, EBADF);
        CHECK_EQ(o, 0);
        CHECK_EQ(q, 0);
        CHECK_EQ(lseek(in, 0, SEEK_CUR), 0);
        CHECK(is_open(in) && is_open(out));
    }
    close(in);
    close(out);
    return t_fixture_finish("bad-fd", fds);
}
