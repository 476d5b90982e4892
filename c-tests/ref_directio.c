#define _GNU_SOURCE
#include "ref_directio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { REF_CHUNK = 1 << 20, REF_ALIGN = 4096 };

int ref_directio_copy(const char *src, const char *dst) {
    int in = -1, out = -1, saved = 0;
    void *mem = NULL;
    struct stat st;

    in = open(src, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (in < 0) goto fail;
    if (fstat(in, &st) != 0) goto fail;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
    if (out < 0) goto fail;
    if (posix_memalign(&mem, REF_ALIGN, REF_CHUNK) != 0) {
        errno = ENOMEM;
        goto fail;
    }
    char *buf = mem;
    off_t pos = 0;
    for (;;) {
        ssize_t got = read(in, buf, REF_CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) goto fail;
        if (got == 0) break;
        size_t len = (size_t)got;
        size_t padded = (len + REF_ALIGN - 1) / REF_ALIGN * REF_ALIGN;
        memset(buf + len, 0, padded - len); /* the padding carries zeros only */
        size_t done = 0;
        while (done < padded) {
            ssize_t put = pwrite(out, buf + done, padded - done, pos + (off_t)done);
            if (put < 0 && errno == EINTR) continue;
            if (put <= 0) {
                if (put == 0) errno = EIO;
                goto fail;
            }
            done += (size_t)put;
        }
        pos += (off_t)len;
        if (len % REF_ALIGN) break; /* a partial block only comes at end of file */
    }
    free(mem);
    mem = NULL;
    if (close(in) != 0) { in = -1; goto fail; }
    in = -1;
    if (close(out) != 0) { out = -1; goto fail; }
    out = -1;
    if (truncate(dst, st.st_size) != 0) goto fail;
    return 0;

fail:
    saved = errno;
    free(mem);
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    errno = saved;
    return -1;
}
