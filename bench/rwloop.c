/*
 * rwloop SRC DST: the copy most programs do, a buffered 1 MiB read/write loop, as a
 * baseline for `make bench`. No fsync: the benchmark flushes the destination itself,
 * the same way for every contender.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CHUNK = 1 << 20 };

static int fail(const char *what, const char *path) {
    fprintf(stderr, "rwloop: %s '%s': %s\n", what, path, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: rwloop SRC DST\n");
        return 2;
    }
    const char *src = argv[1], *dst = argv[2];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return fail("cannot open", src);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return fail("cannot create", dst);
    char *buf = malloc(CHUNK);
    if (!buf) return fail("out of memory for", src);
    for (;;) {
        ssize_t got = read(in, buf, CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail("cannot read", src);
        if (got == 0) break;
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write(out, buf + done, (size_t)(got - done));
            if (put < 0 && errno == EINTR) continue;
            if (put < 0) return fail("cannot write", dst);
            done += put;
        }
    }
    free(buf);
    close(in);
    if (close(out) != 0) return fail("cannot close", dst);
    return 0;
}
