/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "vmms/iov.h"
#include "vmms/macro.h"

enum iov_op { IOV_TO_BUF, IOV_FROM_BUF, IOV_MEMSET };

uint64_t iov_size(const struct iovec *iov, unsigned n)
{
        uint64_t s = 0;

        for (unsigned i = 0; i < n; i++)
                s += iov[i].iov_len;
        return s;
}

/* Apply op to bytes [offset, offset+len) of the vector; returns the bytes covered. */
static size_t iov_walk(const struct iovec *iov, unsigned n, uint64_t offset, uint8_t *buf,
                       size_t len, enum iov_op op, int c)
{
        size_t done = 0;

        for (unsigned i = 0; i < n && done < len; i++) {
                uint8_t *p;
                size_t l;

                if (offset >= iov[i].iov_len) {
                        offset -= iov[i].iov_len;
                        continue;
                }
                p = (uint8_t *)iov[i].iov_base + offset;
                l = MIN((size_t)(iov[i].iov_len - offset), len - done);
                switch (op) {
                case IOV_TO_BUF:
                        memcpy(buf + done, p, l);
                        break;
                case IOV_FROM_BUF:
                        memcpy(p, buf + done, l);
                        break;
                case IOV_MEMSET:
                        memset(p, c, l);
                        break;
                }
                done += l;
                offset = 0;
        }
        return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t offset, void *buf, size_t len)
{
        return iov_walk(iov, n, offset, buf, len, IOV_TO_BUF, 0);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t offset, const void *buf,
                    size_t len)
{
        return iov_walk(iov, n, offset, (uint8_t *)(uintptr_t)buf, len, IOV_FROM_BUF, 0);
}

size_t iov_memset(const struct iovec *iov, unsigned n, uint64_t offset, int c, size_t len)
{
        return iov_walk(iov, n, offset, NULL, len, IOV_MEMSET, c);
}

int iov_slice(const struct iovec *src, unsigned n, uint64_t offset, uint64_t len,
              struct iovec *dst, unsigned cap)
{
        unsigned k = 0;

        for (unsigned i = 0; i < n && len > 0; i++) {
                uint64_t l;

                if (offset >= src[i].iov_len) {
                        offset -= src[i].iov_len;
                        continue;
                }
                if (k == cap)
                        return -E2BIG;
                l = MIN((uint64_t)src[i].iov_len - offset, len);
                dst[k].iov_base = (uint8_t *)src[i].iov_base + offset;
                dst[k].iov_len = l;
                k++;
                len -= l;
                offset = 0;
        }
        if (len > 0)
                return -ERANGE;
        return (int)k;
}
