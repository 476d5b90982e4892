/*
 * A reference implementation of the article's Direct I/O copy, written for zcio's
 * tests and benchmark from the article's description: O_DIRECT on both files, 1 MiB
 * reads into a 4096-aligned buffer, the last partial block zero-padded to 4096 and
 * written whole, the destination truncated to the source's size at the end.
 * Unlike the article it checks each call, so that a comparison with it is fair.
 */
#ifndef ZCIO_REF_DIRECTIO_H
#define ZCIO_REF_DIRECTIO_H

/* 0 on success, -1 with errno set on failure. */
int ref_directio_copy(const char *src, const char *dst);

#endif
