/*
 * The header compiles on its own, twice, as C89, C99, C11 and C++17 with every
 * warning an error (the Makefile builds this file each way), and agrees with the
 * library it is linked to. Written in C89 for that.
 */
#include "zcio.h"
#include "zcio.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    zc_options o;
    zc_stats s;
    unsigned flags = ZC_F_FSYNC | ZC_F_NO_FALLBACK | ZC_F_EXCL | ZC_F_IN_PLACE | ZC_F_NO_REFLINK |
                     ZC_F_NO_SPARSE | ZC_F_PRESERVE_TIMES | ZC_F_PRESERVE_XATTRS | ZC_F_NONBLOCK |
                     ZC_F_NOFOLLOW | ZC_F_PRESERVE_MODE | ZC_F_PRESERVE_OWNER | ZC_F_UNCACHED |
                     ZC_F_DEFAULT_MODE;
    bool (*drop)(const char *, const char *) = directIO_copy;
    int (*adv)(int, int) = directio;
    int bad = 0;
    zc_options_init(&o);
    zc_stats_init(&s);
    if (o.size != sizeof o || s.size != sizeof s) bad = 1;
    if (strcmp(zc_version(), ZCIO_VERSION_STRING) != 0) bad = 1;
    if (ZC_METHOD_COUNT != 8 || ZC_METHOD_READ_WRITE != 7) bad = 1;
    if (sizeof s.fallback_errno / sizeof s.fallback_errno[0] != ZC_METHOD_COUNT) bad = 1;
    if (flags != 0x3fff) bad = 1;
    if (!drop || !adv) bad = 1;
    printf("test_header: zcio %s, header %s: %s\n", zc_version(), ZCIO_VERSION_STRING,
           bad ? "FAIL" : "ok");
    return bad;
}
