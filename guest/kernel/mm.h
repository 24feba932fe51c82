/* SPDX-License-Identifier: MIT */
/*
 * Physical memory: the PVH memory map, a bump allocator of pages above the kernel image (for
 * AP stacks and page tables), and the identity map, which the boot page tables cover up to
 * 4 GiB and guest_mm_map_ram() extends over RAM above 4 GiB with 2 MiB pages.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define GUEST_MEMMAP_MAX  128
#define GUEST_MODULES_MAX 16
#define GUEST_PAGE_SIZE   4096ull
#define GUEST_LARGE_PAGE  0x200000ull

struct guest_mem_region {
        uint64_t addr;
        uint64_t size;
        uint32_t type;          /* HVM_MEMMAP_TYPE_* */
};

struct guest_module {
        uint64_t paddr;
        uint64_t size;
};

struct guest_mm {
        unsigned region_count;
        struct guest_mem_region regions[GUEST_MEMMAP_MAX];
        unsigned module_count;
        struct guest_module modules[GUEST_MODULES_MAX];
        uint64_t ram_bytes;
        uint64_t ram_top;               /* end of the highest RAM region */
        uint64_t alloc_next;            /* bump allocator */
        uint64_t alloc_end;
        uint64_t mapped_top;            /* identity mapped below this address */
};

int guest_mm_init(void);
/* Physical (= virtual) address of size bytes aligned to align (power of two), or 0. */
uint64_t guest_page_alloc(uint64_t size, uint64_t align);
/* Identity-map every RAM region (those above 4 GiB need new page tables). */
int guest_mm_map_ram(void);
/*
 * Identity-map [addr, addr + size) uncached (PCD|PWT) for device registers, U=1 at every level
 * (PVM native mode): present 2 MiB pages are switched to uncached, holes get 4 KiB pages.
 * Ends with a CR3 reload. Returns -ERANGE outside the identity-mappable space.
 */
int guest_mm_map_mmio(uint64_t addr, uint64_t size);
/* Does [addr, addr + len) overlap a boot module (initrd)? */
bool guest_mm_overlaps_module(uint64_t addr, uint64_t len);
uint64_t guest_mem_mib(void);
