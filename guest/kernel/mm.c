/* SPDX-License-Identifier: MIT */
#include <abi/pvh.h>

#include "kernel/kernel.h"
#include "kernel/mm.h"

#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define BOOT_MAPPED_TOP 0x100000000ull

bool guest_mm_overlaps_module(uint64_t addr, uint64_t len)
{
        const struct guest_mm *mm = &guest.mm;

        for (unsigned i = 0; i < mm->module_count; i++) {
                const struct guest_module *m = &mm->modules[i];
                if (addr < m->paddr + m->size && m->paddr < addr + len)
                        return true;
        }
        return false;
}

int guest_mm_init(void)
{
        struct guest_mm *mm = &guest.mm;
        uint64_t kend = (uint64_t)(uintptr_t)_kernel_end;

        mm->mapped_top = BOOT_MAPPED_TOP;
        for (unsigned i = 0; i < mm->region_count; i++) {
                const struct guest_mem_region *r = &mm->regions[i];

                if (r->type != HVM_MEMMAP_TYPE_RAM)
                        continue;
                mm->ram_bytes += r->size;
                mm->ram_top = MAX(mm->ram_top, r->addr + r->size);
                /* The allocator takes the RAM region that holds the kernel's end. */
                if (kend >= r->addr && kend < r->addr + r->size) {
                        mm->alloc_next = ALIGN_UP(kend, GUEST_PAGE_SIZE);
                        mm->alloc_end = MIN(r->addr + r->size, BOOT_MAPPED_TOP);
                }
        }
        if (!mm->alloc_end) {
                /* No memory map: assume the platform's RAM reaches 16 MiB past the kernel. */
                mm->alloc_next = ALIGN_UP(kend, GUEST_PAGE_SIZE);
                mm->alloc_end = mm->alloc_next + (16ull << 20);
                return mm->region_count ? -ENOMEM : -ENOENT;
        }
        return 0;
}

uint64_t guest_page_alloc(uint64_t size, uint64_t align)
{
        struct guest_mm *mm = &guest.mm;
        uint64_t a;

        if (align < GUEST_PAGE_SIZE)
                align = GUEST_PAGE_SIZE;
        size = ALIGN_UP(size, GUEST_PAGE_SIZE);
        for (;;) {
                a = ALIGN_UP(mm->alloc_next, align);
                if (a + size > mm->alloc_end || a + size < a)
                        return 0;
                if (!guest_mm_overlaps_module(a, size))
                        break;
                /* Step past the module in the way. */
                for (unsigned i = 0; i < mm->module_count; i++) {
                        const struct guest_module *m = &mm->modules[i];
                        if (a < m->paddr + m->size && m->paddr < a + size)
                                mm->alloc_next = MAX(mm->alloc_next, m->paddr + m->size);
                }
        }
        mm->alloc_next = a + size;
        return a;
}

static uint64_t *table_get(uint64_t *table, unsigned idx)
{
        if (!(table[idx] & PTE_P)) {
                uint64_t page = guest_page_alloc(GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);

                if (!page)
                        return NULL;
                memset((void *)(uintptr_t)page, 0, GUEST_PAGE_SIZE);
                table[idx] = page | PTE_TABLE;
        }
        return (uint64_t *)(uintptr_t)(table[idx] & PTE_ADDR_MASK);
}

/*
 * Map [start, end) (2 MiB aligned, within one 1 GiB slot) with 2 MiB pages. A new page
 * directory is filled before it is linked in: under PVM every write to a live page table traps.
 */
static int map_gib(uint64_t start, uint64_t end)
{
        unsigned l4 = (start >> 39) & 511, l3 = (start >> 30) & 511;
        uint64_t *pdpt, *pd;

        if (l4 == 256)          /* unusable in PVM native mode */
                return -ERANGE;
        pdpt = table_get(guest_boot_pml4, l4);
        if (!pdpt)
                return -ENOMEM;
        if (pdpt[l3] & PTE_P) {
                if (pdpt[l3] & PTE_PS)
                        return 0;
                pd = (uint64_t *)(uintptr_t)(pdpt[l3] & PTE_ADDR_MASK);
                for (uint64_t a = start; a < end; a += GUEST_LARGE_PAGE)
                        if (!(pd[(a >> 21) & 511] & PTE_P))
                                pd[(a >> 21) & 511] = a | PTE_LARGE;
                return 0;
        }
        uint64_t page = guest_page_alloc(GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
        if (!page)
                return -ENOMEM;
        pd = (uint64_t *)(uintptr_t)page;
        memset(pd, 0, GUEST_PAGE_SIZE);
        for (uint64_t a = start; a < end; a += GUEST_LARGE_PAGE)
                pd[(a >> 21) & 511] = a | PTE_LARGE;
        pdpt[l3] = page | PTE_TABLE;
        return 0;
}

#define PTE_UNCACHED (PTE_PCD | PTE_PWT)

int guest_mm_map_mmio(uint64_t addr, uint64_t size)
{
        uint64_t start = ALIGN_DOWN(addr, GUEST_PAGE_SIZE), end = addr + size, a;

        if (size == 0 || end < addr || end > (1ull << 47))
                return -ERANGE;
        end = ALIGN_UP(end, GUEST_PAGE_SIZE);
        for (a = start; a < end;) {
                unsigned l4 = (a >> 39) & 511, l3 = (a >> 30) & 511, l2 = (a >> 21) & 511, l1 = (a >> 12) & 511;
                uint64_t *pdpt, *pd, *pt;

                if (l4 == 256)          /* unusable in PVM native mode */
                        return -ERANGE;
                pdpt = table_get(guest_boot_pml4, l4);
                if (!pdpt)
                        return -ENOMEM;
                if ((pdpt[l3] & PTE_P) && (pdpt[l3] & PTE_PS)) {
                        if ((pdpt[l3] & PTE_UNCACHED) != PTE_UNCACHED)
                                pdpt[l3] |= PTE_UNCACHED;
                        a = ALIGN_DOWN(a, 1ull << 30) + (1ull << 30);
                        continue;
                }
                pd = table_get(pdpt, l3);
                if (!pd)
                        return -ENOMEM;
                if ((pd[l2] & PTE_P) && (pd[l2] & PTE_PS)) {
                        if ((pd[l2] & PTE_UNCACHED) != PTE_UNCACHED)
                                pd[l2] |= PTE_UNCACHED;
                        a = ALIGN_DOWN(a, GUEST_LARGE_PAGE) + GUEST_LARGE_PAGE;
                        continue;
                }
                pt = table_get(pd, l2);
                if (!pt)
                        return -ENOMEM;
                if (!(pt[l1] & PTE_P))
                        pt[l1] = a | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_UNCACHED;
                else
                        pt[l1] |= PTE_UNCACHED;
                a += GUEST_PAGE_SIZE;
        }
        guest_write_cr3(guest_read_cr3());
        return 0;
}

int guest_mm_map_ram(void)
{
        struct guest_mm *mm = &guest.mm;

        for (unsigned i = 0; i < mm->region_count; i++) {
                const struct guest_mem_region *r = &mm->regions[i];
                uint64_t start, end;

                if (r->type != HVM_MEMMAP_TYPE_RAM || r->addr + r->size <= BOOT_MAPPED_TOP)
                        continue;
                start = ALIGN_DOWN(MAX(r->addr, BOOT_MAPPED_TOP), GUEST_LARGE_PAGE);
                end = ALIGN_UP(r->addr + r->size, GUEST_LARGE_PAGE);
                while (start < end) {
                        uint64_t gib_end = MIN(ALIGN_DOWN(start, 1ull << 30) + (1ull << 30), end);
                        int r2 = map_gib(start, gib_end);

                        if (r2 < 0)
                                return r2;
                        start = gib_end;
                }
                mm->mapped_top = MAX(mm->mapped_top, end);
        }
        return 0;
}

uint64_t guest_mem_mib(void)
{
        return (guest.mm.ram_bytes + (1ull << 20) - 1) >> 20;
}
