/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: one memfd mapped once in the worker, split into guest-physical regions
 * (RAM below the 32-bit PCI hole and the rest above 4 GiB). Every access a device makes on
 * behalf of the guest goes through gmem_translate(), which checks the whole range lies in
 * one RAM region; nothing a guest writes into a descriptor can make it point elsewhere.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 2

struct gmem_region {
        uint64_t gpa;
        uint64_t size;
        uint8_t *hva;
        uint64_t offset;        /* offset in the memfd */
};

struct gmem {
        int fd;                 /* memfd, -1 for gmem_init_buffer() */
        bool owned;             /* unmap and close on free */
        bool hugepages;
        bool file_backed;       /* base maps a saved memory file privately (restore): not the memfd */
        uint64_t file_dev, file_ino;    /* ... that file */
        uint8_t *base;          /* host mapping of the whole memfd */
        uint64_t size;          /* total RAM in bytes */
        unsigned n_regions;
        struct gmem_region regions[GMEM_MAX_REGIONS];
};

/* Allocate `size` bytes of guest RAM (a multiple of 2 MiB with hugepages, else 4 KiB). */
int gmem_new(uint64_t size, bool hugepages, struct gmem **ret);
/* Describe an existing buffer as guest RAM at gpa 0 (unit tests, fuzzers). */
int gmem_new_buffer(void *buf, uint64_t size, struct gmem **ret);
void gmem_free(struct gmem *m);

/* Host address of [gpa, gpa+len) if all of it is guest RAM in one region, else NULL. */
static inline void *gmem_translate(const struct gmem *m, uint64_t gpa, uint64_t len)
{
        for (unsigned i = 0; i < m->n_regions; i++) {
                const struct gmem_region *r = &m->regions[i];
                uint64_t off = gpa - r->gpa;

                if (gpa >= r->gpa && off < r->size && len <= r->size - off)
                        return r->hva + off;
        }
        return NULL;
}

/* Copy helpers; -EFAULT when the range is not guest RAM. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *buf, uint64_t len);
int gmem_write(const struct gmem *m, uint64_t gpa, const void *buf, uint64_t len);
