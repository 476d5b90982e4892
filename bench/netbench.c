/*
 * netbench: moves a file over loopback TCP (127.0.0.1) and measures one side of it,
 * for `make bench`.
 *
 *   netbench send-zc FILE       measured: the sender, zc_sendfile(file -> socket)
 *   netbench send-rw FILE       measured: the sender, a 1 MiB read/write loop
 *   netbench recv-zc FILE OUT   measured: the receiver, zc_splice(socket -> OUT)
 *   netbench recv-rw FILE OUT   measured: the receiver, a 1 MiB read/write loop
 *
 * The measured side is this process; the other side is a child process, so that
 * getrusage(RUSAGE_SELF) counts the measured side only. For send-* the child drains
 * the socket with read() and throws the bytes away; for recv-* it sends FILE with
 * plain sendfile(2), the same sender for both receivers. OUT is written, not
 * flushed: this measures the CPU path, not the disk.
 *
 * Prints one line: bytes=N secs=S cpu=C user=U sys=S. Exit status 0 when every byte
 * arrived, 1 otherwise, 2 for bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zcio.h"

enum { CHUNK = 1 << 20 };

static void die(const char *what) {
    fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void die_zc(const char *what, int64_t r) {
    fprintf(stderr, "netbench: %s: %s\n", what, zc_strerror((int)r));
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static void write_all(int fd, const char *buf, size_t len, const char *what) {
    while (len > 0) {
        ssize_t put = write(fd, buf, len);
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) die(what);
        buf += put;
        len -= (size_t)put;
    }
}

/* read() until end of file, writing what came to `out` (-1: nowhere). */
static uint64_t rw_loop(int in, int out, const char *what) {
    char *buf = malloc(CHUNK);
    if (!buf) die("out of memory");
    uint64_t total = 0;
    for (;;) {
        ssize_t got = read(in, buf, CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) die(what);
        if (got == 0) break;
        if (out >= 0) write_all(out, buf, (size_t)got, what);
        total += (uint64_t)got;
    }
    free(buf);
    return total;
}

static void read_byte(int fd, const char *what) {
    char c;
    ssize_t got;
    do got = read(fd, &c, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1) {
        if (got == 0) errno = ECONNRESET;
        die(what);
    }
}

/* The other side of send-*: drains everything, then acknowledges with one byte so
 * that the sender's clock stops when the data has arrived, not when it was queued. */
static int drain(int sock, uint64_t expect) {
    uint64_t got = rw_loop(sock, -1, "drain: read");
    write_all(sock, "k", 1, "drain: ack");
    return got == expect ? 0 : 1;
}

/* The other side of recv-*: waits for the receiver's go, then sends the file. */
static int feed(int sock, const char *file, uint64_t size) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(file);
    read_byte(sock, "feed: waiting for go");
    off_t off = 0;
    while ((uint64_t)off < size) {
        ssize_t put = sendfile(sock, fd, &off, (size_t)(size - (uint64_t)off));
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) die("feed: sendfile");
    }
    if (shutdown(sock, SHUT_WR) != 0) die("feed: shutdown");
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: netbench send-zc|send-rw FILE\n"
                    "       netbench recv-zc|recv-rw FILE OUT\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3) usage();
    const char *mode = argv[1], *file = argv[2];
    int send_side = !strncmp(mode, "send-", 5);
    if (!send_side && strncmp(mode, "recv-", 5)) usage();
    int zc = !strcmp(mode + 5, "zc");
    if (!zc && strcmp(mode + 5, "rw")) usage();
    if (argc != (send_side ? 3 : 4)) usage();
    const char *out_path = send_side ? NULL : argv[3];

    struct stat st;
    if (stat(file, &st) != 0) die(file);
    uint64_t size = (uint64_t)st.st_size;

    int lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lis < 0) die("socket");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(lis, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind 127.0.0.1");
    if (listen(lis, 1) != 0) die("listen");
    if (getsockname(lis, (struct sockaddr *)&addr, &alen) != 0) die("getsockname");

    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(lis);
        int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0) die("socket");
        if (connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
        _exit(send_side ? drain(sock, size) : feed(sock, file, size));
    }
    int sock = accept4(lis, NULL, NULL, SOCK_CLOEXEC);
    if (sock < 0) die("accept");
    close(lis);

    /* Opened before the clock starts: only the transfer is measured. */
    int fd = send_side ? open(file, O_RDONLY | O_CLOEXEC)
                       : open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die(send_side ? file : out_path);

    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now();
    uint64_t moved;
    if (send_side) {
        if (zc) {
            int64_t r = zc_sendfile(sock, fd, NULL, ZC_TO_EOF, 0);
            if (r < 0) die_zc("zc_sendfile", r);
            moved = (uint64_t)r;
        } else {
            moved = rw_loop(fd, sock, "send: read/write");
        }
        if (shutdown(sock, SHUT_WR) != 0) die("shutdown");
        read_byte(sock, "waiting for the receiver's ack");
    } else {
        write_all(sock, "g", 1, "go");
        if (zc) {
            int64_t r = zc_splice(sock, NULL, fd, NULL, ZC_TO_EOF, 0);
            if (r < 0) die_zc("zc_splice", r);
            moved = (uint64_t)r;
        } else {
            moved = rw_loop(sock, fd, "receive: read/write");
        }
    }
    double secs = now() - t0;
    getrusage(RUSAGE_SELF, &r1);

    if (close(fd) != 0) die("close");
    close(sock);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "netbench: the other side failed\n");
        return 1;
    }
    if (moved != size) {
        fprintf(stderr, "netbench: moved %llu bytes of %llu\n", (unsigned long long)moved,
                (unsigned long long)size);
        return 1;
    }
    double user = tv(r1.ru_utime) - tv(r0.ru_utime), sys = tv(r1.ru_stime) - tv(r0.ru_stime);
    printf("bytes=%llu secs=%.6f cpu=%.6f user=%.6f sys=%.6f\n", (unsigned long long)moved, secs,
           user + sys, user, sys);
    return 0;
}
