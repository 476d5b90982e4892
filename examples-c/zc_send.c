/*
 * Serves one file to one TCP client with zc_sendfile(): the file's pages go from
 * the page cache to the socket without passing through this program.
 *
 * usage: zc_send FILE PORT_FILE
 *
 * Listens on 127.0.0.1 on a port the kernel picks and writes that port, as text,
 * into PORT_FILE, so that a script can start the receiver without a race on a
 * fixed port. Pair it with zc_recv.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcio.h"

/* zc_strerror() takes either sign, so system-call errno and zcio's -errno share it. */
static void fail(const char *what, int err) {
    fprintf(stderr, "zc_send: %s: %s\n", what, zc_strerror(err));
}

static double now(void) {
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: valid clock, valid pointer */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Writes the port under a temporary name, then renames it: rename() is atomic, so
 * a reader polling for PORT_FILE sees either nothing or the whole number.
 */
static int publish_port(const char *path, unsigned port) {
    char tmp[4096], text[16];
    int tlen = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    if (tlen < 0 || (size_t)tlen >= sizeof tmp) {
        fail(path, ENAMETOOLONG);
        return -1;
    }
    int len = snprintf(text, sizeof text, "%u\n", port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fail(tmp, errno);
        return -1;
    }
    ssize_t w = write(fd, text, (size_t)len);
    if (w != len) {
        fail(tmp, w < 0 ? errno : EIO); /* a short write of a few bytes: report it as EIO */
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        fail(tmp, errno);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fail(path, errno);
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE PORT_FILE\n", argv[0]);
        return 2;
    }
    const char *path = argv[1], *port_file = argv[2];
    int rc = 1, file_fd = -1, listen_fd = -1, conn_fd = -1;

    file_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (file_fd < 0) {
        fail(path, errno);
        goto out;
    }
    /* The size taken now is what the client must receive: a short send is an error. */
    struct stat st;
    if (fstat(file_fd, &st) != 0) {
        fail(path, errno);
        goto out;
    }

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) {
        fail("socket", errno);
        goto out;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0; /* the kernel picks a free port: no clash with other runs */
    socklen_t alen = sizeof addr;
    if (bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fail("bind 127.0.0.1", errno);
        goto out;
    }
    if (listen(listen_fd, 1) != 0) {
        fail("listen", errno);
        goto out;
    }
    if (getsockname(listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
        fail("getsockname", errno);
        goto out;
    }
    /* Published only after listen(), so a client that reads it can connect at once. */
    if (publish_port(port_file, ntohs(addr.sin_port)) != 0) goto out;

    do
        conn_fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    while (conn_fd < 0 && errno == EINTR);
    if (conn_fd < 0) {
        fail("accept", errno);
        goto out;
    }
    /* One client only: stop listening so no one else queues up behind it. */
    int lerr = close(listen_fd);
    listen_fd = -1;
    if (lerr != 0) {
        fail("close listening socket", errno);
        goto out;
    }

    /*
     * An explicit offset leaves file_fd's own offset alone; ZC_TO_EOF lets zcio loop
     * over sendfile's 2 GiB cap and short counts. A client that goes away gives
     * -EPIPE rather than a SIGPIPE.
     */
    int64_t off = 0;
    double t0 = now();
    int64_t sent = zc_sendfile(conn_fd, file_fd, &off, ZC_TO_EOF, 0);
    double secs = now() - t0;
    if (sent < 0) {
        fail("zc_sendfile", (int)sent);
        goto out;
    }
    if (sent != (int64_t)st.st_size) {
        fprintf(stderr, "zc_send: %s: sent %" PRId64 " of %lld bytes (file changed size?)\n", path,
                sent, (long long)st.st_size);
        goto out;
    }
    /* The client reads until EOF: the close is what tells it the file is complete. */
    int cerr = close(conn_fd);
    conn_fd = -1;
    if (cerr != 0) {
        fail("close connection", errno);
        goto out;
    }

    /* A report that cannot be written (stdout closed, disk full) is a failure too. */
    if (printf("zc_send: sent %" PRId64 " bytes of %s in %.3f s (%.1f MB/s)\n", sent, path, secs,
               secs > 0 ? (double)sent / secs / 1e6 : 0.0) < 0 ||
        fflush(stdout) != 0) {
        fail("stdout", errno);
        goto out;
    }
    rc = 0;

out:
    if (conn_fd >= 0) close(conn_fd);
    if (listen_fd >= 0) close(listen_fd);
    if (file_fd >= 0) close(file_fd);
    return rc;
}
