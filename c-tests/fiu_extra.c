/*
 * libfiu points for the calls zcio makes that libfiu's own fiu_posix_preload.so does
 * not wrap: openat, linkat, renameat(2), unlinkat, fallocate, splice, sendfile,
 * copy_file_range (zcio calls it through syscall(2)) and the FICLONE ioctl.
 *
 * Loaded with LD_PRELOAD beside /usr/lib/fiu/fiu_posix_preload.so. Each wrapper asks
 * libfiu (fiu_fail) whether to fail; the errno is the failinfo given to fiu_enable*,
 * as libfiu's own wrappers do. Point names follow libfiu's scheme.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#define FIU_ENABLE 1
#include <fiu.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REAL(name)                                                                         \
    static __typeof__(name) *real_##name;                                                  \
    if (!real_##name) {                                                                    \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);                         \
        if (!real_##name) {                                                                \
            fprintf(stderr, "fiu_extra: no %s\n", #name);                                  \
            abort();                                                                       \
        }                                                                                  \
    }

/* Returns 1 (with errno set from the failinfo) when libfiu says `point` fails now. */
static int fail(const char *point) {
    if (!fiu_fail(point)) return 0;
    void *info = fiu_failinfo();
    errno = info ? (int)(intptr_t)info : EIO;
    return 1;
}

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(openat);
    if (fail("posix/io/oc/openat")) return -1;
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(openat64);
    if (fail("posix/io/oc/openat")) return -1;
    return real_openat64(dirfd, path, flags, mode);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
    REAL(linkat);
    if (fail("posix/io/dir/linkat")) return -1;
    return real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    REAL(renameat);
    if (fail("posix/io/dir/renameat")) return -1;
    return real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags) {
    REAL(renameat2);
    if (fail("posix/io/dir/renameat")) return -1;
    return real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int unlinkat(int dirfd, const char *path, int flags) {
    REAL(unlinkat);
    if (fail("posix/io/dir/unlinkat")) return -1;
    return real_unlinkat(dirfd, path, flags);
}

int fallocate(int fd, int mode, off_t off, off_t len) {
    REAL(fallocate);
    if (fail("linux/io/fallocate")) return -1;
    return real_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len) {
    REAL(fallocate64);
    if (fail("linux/io/fallocate")) return -1;
    return real_fallocate64(fd, mode, off, len);
}

ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
               unsigned int flags) {
    REAL(splice);
    if (fail("linux/io/splice")) return -1;
    return real_splice(fd_in, off_in, fd_out, off_out, len, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t count) {
    REAL(sendfile);
    if (fail("linux/io/sendfile")) return -1;
    return real_sendfile(out_fd, in_fd, off, count);
}

ssize_t sendfile64(int out_fd, int in_fd, off64_t *off, size_t count) {
    REAL(sendfile64);
    if (fail("linux/io/sendfile")) return -1;
    return real_sendfile64(out_fd, in_fd, off, count);
}

ssize_t copy_file_range(int fd_in, off64_t *off_in, int fd_out, off64_t *off_out, size_t len,
                        unsigned int flags) {
    REAL(copy_file_range);
    if (fail("linux/io/copy_file_range")) return -1;
    return real_copy_file_range(fd_in, off_in, fd_out, off_out, len, flags);
}

/* Only copy_file_range is failed here; every other system call passes through. */
long syscall(long nr, ...) {
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    REAL(syscall);
    if (nr == SYS_copy_file_range && fail("linux/io/copy_file_range")) return -1;
    return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* Only FICLONE is failed here. */
int ioctl(int fd, unsigned long req, ...) {
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    REAL(ioctl);
    if (req == FICLONE && fail("linux/io/ficlone")) return -1;
    return real_ioctl(fd, req, arg);
}
