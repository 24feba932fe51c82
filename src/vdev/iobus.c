/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/iobus.h"

int iobus_init(struct iobus *b, const char *name)
{
        *b = (struct iobus) { .name = name };
        return -pthread_rwlock_init(&b->lock, NULL);
}

void iobus_done(struct iobus *b)
{
        if (!b->name)
                return;
        free(b->ranges);
        pthread_rwlock_destroy(&b->lock);
        *b = (struct iobus) {};
}

/* Index of the first range with base > addr. */
static unsigned iobus_upper(const struct iobus *b, uint64_t addr)
{
        unsigned lo = 0, hi = b->n;

        while (lo < hi) {
                unsigned mid = lo + (hi - lo) / 2;

                if (b->ranges[mid].base <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int iobus_register(struct iobus *b, uint64_t base, uint64_t len, iobus_handler_fn fn,
                   void *opaque, const char *name)
{
        unsigned i;
        int r = 0;

        if (len == 0 || base + len < base || !fn)
                return -EINVAL;
        pthread_rwlock_wrlock(&b->lock);
        i = iobus_upper(b, base);
        if ((i > 0 && b->ranges[i - 1].base + b->ranges[i - 1].len > base) ||
            (i < b->n && b->ranges[i].base < base + len)) {
                r = -EEXIST;
                goto out;
        }
        if (b->n == b->alloc) {
                unsigned na = b->alloc ? b->alloc * 2 : 16;
                struct iobus_range *nr = realloc(b->ranges, na * sizeof(*nr));

                if (!nr) {
                        r = -ENOMEM;
                        goto out;
                }
                b->ranges = nr;
                b->alloc = na;
        }
        memmove(&b->ranges[i + 1], &b->ranges[i], (b->n - i) * sizeof(*b->ranges));
        b->ranges[i] = (struct iobus_range) {
                .base = base, .len = len, .fn = fn, .opaque = opaque, .name = name,
        };
        b->n++;
out:
        pthread_rwlock_unlock(&b->lock);
        return r;
}

int iobus_unregister(struct iobus *b, uint64_t base, void *opaque)
{
        int r = -ENOENT;

        pthread_rwlock_wrlock(&b->lock);
        for (unsigned i = 0; i < b->n; i++) {
                if (b->ranges[i].base != base || b->ranges[i].opaque != opaque)
                        continue;
                memmove(&b->ranges[i], &b->ranges[i + 1], (b->n - i - 1) * sizeof(*b->ranges));
                b->n--;
                r = 0;
                break;
        }
        pthread_rwlock_unlock(&b->lock);
        return r;
}

int iobus_dispatch(struct iobus *b, uint64_t addr, void *data, unsigned len, bool is_write)
{
        const struct iobus_range *rg;
        iobus_handler_fn fn;
        void *opaque;
        uint64_t off;
        unsigned i;

        pthread_rwlock_rdlock(&b->lock);
        i = iobus_upper(b, addr);
        if (i == 0 || addr - b->ranges[i - 1].base >= b->ranges[i - 1].len) {
                pthread_rwlock_unlock(&b->lock);
                if (!is_write)
                        memset(data, 0xff, len);
                return -ENOENT;
        }
        rg = &b->ranges[i - 1];
        off = addr - rg->base;
        if (len > rg->len - off) {
                pthread_rwlock_unlock(&b->lock);
                if (!is_write)
                        memset(data, 0xff, len);
                return -ERANGE;
        }
        fn = rg->fn;
        opaque = rg->opaque;
        /*
         * Handlers run without the lock, so a handler may move ranges (a BAR write through
         * ECAM). Devices live as long as the bus, so a stale lookup is harmless.
         */
        pthread_rwlock_unlock(&b->lock);
        return fn(opaque, off, data, len, is_write);
}
