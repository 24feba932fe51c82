/* SPDX-License-Identifier: MIT */
/* Small helpers over struct iovec arrays (buffers in guest memory, as devices see them). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

uint64_t iov_size(const struct iovec *iov, unsigned n);
/* Copy up to len bytes starting at byte `offset` of the vector; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t offset, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t offset, const void *buf,
                    size_t len);
/* Zero `len` bytes from `offset`; returns bytes zeroed. */
size_t iov_memset(const struct iovec *iov, unsigned n, uint64_t offset, int c, size_t len);
/*
 * Describe bytes [offset, offset+len) of `src` as a new vector in `dst` (cap entries);
 * returns the number of entries, or -E2BIG when cap is too small, -ERANGE when the range is
 * not inside src.
 */
int iov_slice(const struct iovec *src, unsigned n, uint64_t offset, uint64_t len,
              struct iovec *dst, unsigned cap);
