/*
 * Receives a file from a TCP server with zc_splice(): the bytes go from the socket
 * to the file through a kernel pipe, never through a buffer in this program.
 *
 * usage: zc_recv PORT OUTFILE
 *
 * Connects to 127.0.0.1:PORT and writes everything up to the server's close into
 * OUTFILE (created or truncated). Pair it with zc_send.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zcio.h"

/* zc_strerror() takes either sign, so system-call errno and zcio's -errno share it. */
static void fail(const char *what, int err) {
    fprintf(stderr, "zc_recv: %s: %s\n", what, zc_strerror(err));
}

static double now(void) {
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: valid clock, valid pointer */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT OUTFILE\n", argv[0]);
        return 2;
    }
    const char *path = argv[2];
    char *end;
    errno = 0;
    unsigned long port = strtoul(argv[1], &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0' || port == 0 || port > 65535) {
        fail(argv[1], EINVAL);
        return 1;
    }
    int rc = 1, sock = -1, out_fd = -1;

    sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        fail("socket", errno);
        goto out;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fail("connect 127.0.0.1", errno);
        goto out;
    }

    out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
        fail(path, errno);
        goto out;
    }

    /*
     * Neither end is a pipe, so zcio splices through a pipe of its own. NULL offsets
     * write at out_fd's offset; ZC_TO_EOF reads until the server closes.
     */
    double t0 = now();
    int64_t got = zc_splice(sock, NULL, out_fd, NULL, ZC_TO_EOF, 0);
    double secs = now() - t0;
    if (got < 0) {
        fail("zc_splice", (int)got);
        goto out;
    }
    /* close() is where some file systems (NFS) report a failed write-back. */
    int cerr = close(out_fd);
    out_fd = -1;
    if (cerr != 0) {
        fail(path, errno);
        goto out;
    }
    cerr = close(sock);
    sock = -1;
    if (cerr != 0) {
        fail("close connection", errno);
        goto out;
    }

    /* A report that cannot be written (stdout closed, disk full) is a failure too. */
    if (printf("zc_recv: received %" PRId64 " bytes into %s in %.3f s\n", got, path, secs) < 0 ||
        fflush(stdout) != 0) {
        fail("stdout", errno);
        goto out;
    }
    rc = 0;

out:
    if (out_fd >= 0) close(out_fd);
    if (sock >= 0) close(sock);
    return rc;
}
