/*
 * A user's program, built by `make install-test` against an installed zcio
 * through pkg-config only: shared, fully static and with zcio-static.
 * Copies SRC to DST with zc_copy_file and to DST.fd with zc_sendfile, checks
 * that header and library agree, and says which method copied.
 * usage: prog SRC DST    (exit 0 when all of it worked)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zcio.h>

int main(int argc, char **argv) {
    zc_options opts;
    zc_stats st;
    char path[4096];
    int64_t off = 0, sent;
    int in, out, r;

    if (argc != 3) {
        fprintf(stderr, "usage: prog SRC DST\n");
        return 2;
    }
    if (strcmp(zc_version(), ZCIO_VERSION_STRING) != 0) {
        fprintf(stderr, "prog: header %s, library %s\n", ZCIO_VERSION_STRING, zc_version());
        return 1;
    }
    if (strcmp(zc_strerror(-ENOSPC), zc_strerror(ENOSPC)) != 0) return 1;

    zc_options_init(&opts);
    zc_stats_init(&st);
    opts.flags = ZC_F_EXCL;
    r = zc_copy_file(argv[1], argv[2], &opts, &st);
    if (r < 0) {
        fprintf(stderr, "prog: zc_copy_file: %s\n", zc_strerror(r));
        return 1;
    }
    /* A second copy onto the same name is refused, and says why. */
    if (zc_copy_file(argv[1], argv[2], &opts, NULL) != -EEXIST) return 1;

    snprintf(path, sizeof path, "%s.fd", argv[2]);
    in = open(argv[1], O_RDONLY | O_CLOEXEC);
    out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) return 1;
    sent = zc_sendfile(out, in, &off, ZC_TO_EOF, 0);
    close(in);
    if (close(out) != 0 || sent < 0 || (uint64_t)sent != st.bytes || off != sent) {
        fprintf(stderr, "prog: zc_sendfile: %s\n", sent < 0 ? zc_strerror((int)sent) : "short");
        return 1;
    }
    printf("prog: zcio %s copied %llu bytes (method %u), sent %lld\n", zc_version(),
           (unsigned long long)st.bytes, st.method, (long long)sent);
    return 0;
}
