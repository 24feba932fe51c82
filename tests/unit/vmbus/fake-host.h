/* SPDX-License-Identifier: MIT */
/*
 * A recording vmhost for unit tests: ioeventfds, MSI routes and irqfds are remembered
 * instead of going to KVM, and guest memory is a plain buffer. Tests read the irqfd
 * eventfds to see interrupts and write the doorbell eventfds (or MMIO) to kick.
 */
#pragma once

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <poll.h>

#include "vmms/gmem.h"
#include "vmms/iobus.h"
#include "vmms/vmhost.h"

#define FAKE_MAX 64

struct fake_host {
        pthread_mutex_t lock;
        struct { uint64_t addr; unsigned len; int fd; bool on; } ioev[FAKE_MAX];
        unsigned n_ioev;
        struct { bool used; uint64_t addr; uint32_t data; int irqfd; unsigned updates; } gsi[FAKE_MAX];
        unsigned n_route_add;
        struct iobus pio, mmio;
        struct gmem *mem;
        uint8_t *ram;
        uint64_t ram_size;
        struct vmhost host;
};

static inline int fake_ioeventfd(void *opaque, uint64_t addr, unsigned len, int fd, bool assign)
{
        struct fake_host *h = opaque;
        int r = -ENOENT;

        pthread_mutex_lock(&h->lock);
        if (assign) {
                if (h->n_ioev < FAKE_MAX) {
                        h->ioev[h->n_ioev++] = (__typeof__(h->ioev[0])) { addr, len, fd, true };
                        r = 0;
                } else {
                        r = -ENOSPC;
                }
        } else {
                for (unsigned i = 0; i < h->n_ioev; i++)
                        if (h->ioev[i].on && h->ioev[i].addr == addr && h->ioev[i].fd == fd) {
                                h->ioev[i].on = false;
                                r = 0;
                                break;
                        }
        }
        pthread_mutex_unlock(&h->lock);
        return r;
}

static inline int fake_route_add(void *opaque, uint64_t addr, uint32_t data, unsigned *ret_gsi)
{
        struct fake_host *h = opaque;
        int r = -ENOSPC;

        pthread_mutex_lock(&h->lock);
        for (unsigned g = 24; g < FAKE_MAX; g++)
                if (!h->gsi[g].used) {
                        h->gsi[g] = (__typeof__(h->gsi[0])) { true, addr, data, -1, 0 };
                        h->n_route_add++;
                        *ret_gsi = g;
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&h->lock);
        return r;
}

static inline int fake_route_update(void *opaque, unsigned gsi, uint64_t addr, uint32_t data)
{
        struct fake_host *h = opaque;

        if (gsi >= FAKE_MAX || !h->gsi[gsi].used)
                return -ENOENT;
        pthread_mutex_lock(&h->lock);
        h->gsi[gsi].addr = addr;
        h->gsi[gsi].data = data;
        h->gsi[gsi].updates++;
        pthread_mutex_unlock(&h->lock);
        return 0;
}

static inline int fake_route_del(void *opaque, unsigned gsi)
{
        struct fake_host *h = opaque;

        if (gsi >= FAKE_MAX || !h->gsi[gsi].used)
                return -ENOENT;
        pthread_mutex_lock(&h->lock);
        h->gsi[gsi].used = false;
        pthread_mutex_unlock(&h->lock);
        return 0;
}

static inline int fake_irqfd(void *opaque, unsigned gsi, int fd, bool assign)
{
        struct fake_host *h = opaque;

        if (gsi >= FAKE_MAX || !h->gsi[gsi].used)
                return -EINVAL;
        pthread_mutex_lock(&h->lock);
        h->gsi[gsi].irqfd = assign ? fd : -1;
        pthread_mutex_unlock(&h->lock);
        return 0;
}

static const struct vmhost_ops fake_host_ops = {
        .ioeventfd = fake_ioeventfd,
        .msi_route_add = fake_route_add,
        .msi_route_update = fake_route_update,
        .msi_route_del = fake_route_del,
        .irqfd = fake_irqfd,
};

static inline struct fake_host *fake_host_new(uint64_t ram_size)
{
        struct fake_host *h = calloc(1, sizeof(*h));

        ck_assert_ptr_nonnull(h);
        pthread_mutex_init(&h->lock, NULL);
        ck_assert_int_eq(iobus_init(&h->pio, "pio"), 0);
        ck_assert_int_eq(iobus_init(&h->mmio, "mmio"), 0);
        h->ram = aligned_alloc(4096, ram_size);
        ck_assert_ptr_nonnull(h->ram);
        memset(h->ram, 0, ram_size);
        h->ram_size = ram_size;
        ck_assert_int_eq(gmem_new_buffer(h->ram, ram_size, &h->mem), 0);
        h->host = (struct vmhost) {
                .ops = &fake_host_ops, .opaque = h, .mem = h->mem, .pio = &h->pio, .mmio = &h->mmio,
        };
        return h;
}

static inline void fake_host_free(struct fake_host *h)
{
        if (!h)
                return;
        iobus_done(&h->pio);
        iobus_done(&h->mmio);
        gmem_free(h->mem);
        free(h->ram);
        pthread_mutex_destroy(&h->lock);
        free(h);
}

/* Bus accessors that return the value. */
static inline uint32_t pio_read(struct fake_host *h, uint16_t port, unsigned len)
{
        uint32_t v = 0;

        (void)iobus_dispatch(&h->pio, port, &v, len, false);
        return v;
}

static inline void pio_write(struct fake_host *h, uint16_t port, uint32_t v, unsigned len)
{
        (void)iobus_dispatch(&h->pio, port, &v, len, true);
}

static inline uint64_t mmio_read(struct fake_host *h, uint64_t addr, unsigned len)
{
        uint64_t v = 0;

        (void)iobus_dispatch(&h->mmio, addr, &v, len, false);
        return v;
}

static inline void mmio_write(struct fake_host *h, uint64_t addr, uint64_t v, unsigned len)
{
        (void)iobus_dispatch(&h->mmio, addr, &v, len, true);
}

/* The irqfd attached to the route with MSI data `data`, or -1. */
static inline int fake_irqfd_for(struct fake_host *h, uint32_t data)
{
        int fd = -1;

        pthread_mutex_lock(&h->lock);
        for (unsigned g = 0; g < FAKE_MAX; g++)
                if (h->gsi[g].used && h->gsi[g].data == data)
                        fd = h->gsi[g].irqfd;
        pthread_mutex_unlock(&h->lock);
        return fd;
}

/* Count of interrupts on an eventfd so far (consumes them); waits up to ms. */
static inline uint64_t fake_wait_irq(int fd, int ms)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        eventfd_t v = 0;

        if (fd < 0)
                return 0;
        if (poll(&p, 1, ms) <= 0)
                return 0;
        if (eventfd_read(fd, &v) < 0)
                return 0;
        return v;
}
