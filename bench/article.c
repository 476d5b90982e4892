/*
 * article SRC DST: the article's Direct I/O copy, as the test suite's reference
 * version implements it (c-tests/ref_directio.c), made a command so that
 * `make bench` can run it like the other contenders.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ref_directio.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: article SRC DST\n");
        return 2;
    }
    if (ref_directio_copy(argv[1], argv[2]) != 0) {
        fprintf(stderr, "article: cannot copy '%s' to '%s': %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    return 0;
}
