/* SPDX-License-Identifier: MIT */
/*
 * The memtest scenario: write an address-derived pattern over every RAM region the memory map
 * reports above what the kernel uses (image, allocations, boot modules), then verify it; a
 * second pass writes the complement. memtest_mib=N limits the amount tested.
 */
#include <abi/pvh.h>

#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

#define CHUNK 0x100000ull       /* 1 MiB: the unit for skipping modules */
#define MAX_REPORTED 8

static inline uint64_t pattern(uint64_t addr, uint64_t seed)
{
        uint64_t x = addr * 0x9e3779b97f4a7c15ull + seed;

        return x ^ (x >> 29);
}

typedef uint64_t (*chunk_fn)(uint64_t start, uint64_t end, uint64_t seed, uint64_t *errors);

static uint64_t chunk_write(uint64_t start, uint64_t end, uint64_t seed, uint64_t *errors)
{
        for (uint64_t a = start; a < end; a += 8)
                *(uint64_t *)(uintptr_t)a = pattern(a, seed);
        return end - start;
}

static uint64_t chunk_verify(uint64_t start, uint64_t end, uint64_t seed, uint64_t *errors)
{
        for (uint64_t a = start; a < end; a += 8) {
                uint64_t want = pattern(a, seed), got = *(volatile uint64_t *)(uintptr_t)a;

                if (got != want) {
                        if (*errors < MAX_REPORTED)
                                guest_report_info("memtest_error addr=%#lx want=%#lx got=%#lx", (unsigned long)a,
                                                  (unsigned long)want, (unsigned long)got);
                        (*errors)++;
                }
        }
        return end - start;
}

/* Apply fn to every testable chunk, up to limit bytes; returns bytes covered. */
static uint64_t for_each_chunk(chunk_fn fn, uint64_t floor, uint64_t limit, uint64_t seed, uint64_t *errors)
{
        const struct guest_mm *mm = &guest.mm;
        uint64_t done = 0;

        for (unsigned i = 0; i < mm->region_count && done < limit; i++) {
                const struct guest_mem_region *r = &mm->regions[i];
                uint64_t start, end;

                if (r->type != HVM_MEMMAP_TYPE_RAM)
                        continue;
                start = ALIGN_UP(MAX(r->addr, floor), 4096ull);
                end = MIN(ALIGN_DOWN(r->addr + r->size, 4096ull), mm->mapped_top);
                while (start < end && done < limit) {
                        uint64_t e = MIN(ALIGN_DOWN(start, CHUNK) + CHUNK, end);

                        if (e - start > limit - done)
                                e = start + (limit - done);

                        if (!guest_mm_overlaps_module(start, e - start))
                                done += fn(start, e, seed, errors);
                        start = e;
                }
        }
        return done;
}

int guest_scenario_memtest(void)
{
        uint64_t limit = guest_cmdline_get_u64("memtest_mib", 0) << 20;
        uint64_t floor, bytes = 0, errors = 0, t0, t1, t2, write_ns = 0, verify_ns = 0;
        static const uint64_t seeds[2] = { 0x5a5aa5a5c3c33c3cull, 0xa5a55a5a3c3cc3c3ull };
        int r;

        r = guest_mm_map_ram();
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "mapping RAM above 4 GiB failed: %d", r);
                return r;
        }
        if (limit == 0)
                limit = UINT64_MAX;
        floor = guest.mm.alloc_next;
        guest_report_info("memtest_from=%#lx ram_top=%#lx", (unsigned long)floor, (unsigned long)guest.mm.ram_top);

        for (unsigned pass = 0; pass < ARRAY_SIZE(seeds); pass++) {
                t0 = guest_time_ns();
                bytes = for_each_chunk(chunk_write, floor, limit, seeds[pass], &errors);
                t1 = guest_time_ns();
                for_each_chunk(chunk_verify, floor, limit, seeds[pass], &errors);
                t2 = guest_time_ns();
                write_ns += t1 - t0;
                verify_ns += t2 - t1;
        }

        guest_report_metric("memtest_mib", bytes >> 20, "MiB");
        guest_report_metric("memtest_errors", errors, "count");
        if (write_ns && verify_ns) {
                /* two passes; MiB * 1e9 / ns stays far from overflow for any real memory size */
                guest_report_metric("memtest_write_rate", (bytes >> 20) * 2000000000ull / write_ns, "MiB/s");
                guest_report_metric("memtest_verify_rate", (bytes >> 20) * 2000000000ull / verify_ns, "MiB/s");
        }
        EXPECT_MSG(bytes > 0, "no memory to test above %#lx", (unsigned long)floor);
        EXPECT_MSG(errors == 0, "%lu words differed", (unsigned long)errors);
        return 0;
}
