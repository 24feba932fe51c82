/* SPDX-License-Identifier: MIT */
/*
 * One dispatch table per bus (port I/O, MMIO), one handler signature for every device.
 * Ranges never overlap; lookup is a binary search under a read lock, so vCPU threads
 * dispatch concurrently while a BAR move (a write lock) stays correct. Devices must outlive
 * the bus (a handler may run just after its range moved).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A device access. `offset` is relative to the registered base; `data` holds `len` bytes
 * (1, 2, 4 or 8; little-endian). On a read the handler fills data. Returns 0 or -errno;
 * the bus logs nothing, its caller decides.
 */
typedef int (*iobus_handler_fn)(void *opaque, uint64_t offset, void *data, unsigned len,
                                bool is_write);

struct iobus_range {
        uint64_t base;
        uint64_t len;
        iobus_handler_fn fn;
        void *opaque;
        const char *name;
};

struct iobus {
        const char *name;
        pthread_rwlock_t lock;
        struct iobus_range *ranges;     /* sorted by base */
        unsigned n, alloc;
};

int iobus_init(struct iobus *b, const char *name);
void iobus_done(struct iobus *b);
/* -EEXIST if [base, base+len) overlaps a registered range, -EINVAL for len 0 or wrap. */
int iobus_register(struct iobus *b, uint64_t base, uint64_t len, iobus_handler_fn fn,
                   void *opaque, const char *name);
/* Remove the range that starts at base and belongs to opaque; -ENOENT if none. */
int iobus_unregister(struct iobus *b, uint64_t base, void *opaque);
/*
 * Dispatch an access. -ENOENT when nothing is there (reads then see all-ones),
 * -ERANGE when the access straddles the end of a range.
 */
int iobus_dispatch(struct iobus *b, uint64_t addr, void *data, unsigned len, bool is_write);
