/* SPDX-License-Identifier: MIT */
/*
 * blk-hostile: malformed requests, one at a time, each on a freshly started device. After each,
 * the device must report what the spec asks for (DEVICE_NEEDS_RESET for a request it cannot
 * parse or whose buffers it cannot use, an error status where the request is well formed but
 * wrong), and a reset and re-initialization must bring it back: a normal read then works.
 *
 * The cases write descriptors straight into queue 0. Requests whose buffers point outside RAM
 * are writes (the device only reads guest memory for them); the others write at most a few KiB
 * to sectors 8 and up: the disk is scratch. Under another VMM (ACPI OEM id not "VMMS") a case
 * the device did not flag at all is reported as skip rather than fail.
 *
 * Options: hostile_timeout_ms= (default 1000), case=NAME (only that one), and those of blk_env.c.
 */
#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/blk.h"
#include "kernel/scenarios/scenarios.h"

#define H_NEEDS_RESET   0x01u
#define H_IOERR         0x02u
#define H_UNSUPP        0x04u
#define H_OK            0x08u
#define H_NO_STATUS     0x10u   /* used, but the status byte was not written */
#define H_BAD_STATUS    0x20u   /* a status value the spec does not define */
#define H_NOTHING       0x40u   /* neither a used entry nor NEEDS_RESET in time */
#define H_FLAGGED       (H_NEEDS_RESET | H_IOERR | H_UNSUPP)

#define FAR_ADDR        (1ull << 45)            /* beyond RAM and the MMIO windows of vmwp and QEMU */
#define SCRATCH_SECTOR  8
#define STATUS_POLL_NS  (1000ull * 1000)
#define SETTLE_NS       (50ull * 1000000)       /* after a completion, NEEDS_RESET may still follow */

struct hostile {
        struct guest_blk *b;
        struct guest_vq *vq;
        struct virtio_blk_outhdr *hdr;
        volatile uint8_t *status;
        struct virtio_blk_discard_write_zeroes *seg;
        uint8_t *data;                  /* 8 KiB */
        uint8_t *readback;              /* 4 KiB: what recover() read at sector 0 */
        struct virtq_desc *table;       /* indirect tables, up to VIRTQ_MAX_SIZE + 2 entries */
        struct virtq_desc *table2;
        uint64_t mem_top;               /* end of the highest memory-map entry */
};

struct hostile_case {
        const char *name;
        unsigned expect;
        bool ro_disk;                   /* runs on the read-only disk */
        int (*build)(struct hostile *h);
};

static void desc(struct virtq_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
        t[i] = (struct virtq_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

static uint64_t pa(const volatile void *p)
{
        return (uint64_t)(uintptr_t)p;
}

static void header(struct hostile *h, uint32_t type, uint64_t sector)
{
        *h->hdr = (struct virtio_blk_outhdr){ .type = type, .ioprio = 0, .sector = sector };
        *h->status = GUEST_BLK_STATUS_NONE;
}

/* Make ring entry `head` available and notify, whatever EVENT_IDX says. */
static void publish(struct hostile *h, uint16_t head)
{
        struct guest_vq *vq = h->vq;

        vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
        vq->avail_idx++;
        __atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
        guest_mb();
        guest_vq_notify(vq);
}

/* hdr (readable) -> data (data_flags) -> status (writable), in descriptors 0, 1, 2. */
static int three(struct hostile *h, uint32_t type, uint64_t sector, uint64_t addr, uint32_t len, uint16_t data_flags)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, type, sector);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, addr, len, data_flags | VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_addr_outside(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_OUT, SCRATCH_SECTOR, FAR_ADDR, 512, 0);
}

static int c_len_wraps(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_OUT, SCRATCH_SECTOR, 0xfffffffffffffe00ull, 0x400, 0);
}

static int c_past_mem_end(struct hostile *h)
{
        if (!h->mem_top)
                return GUEST_SCENARIO_SKIP;
        return three(h, VIRTIO_BLK_T_OUT, SCRATCH_SECTOR, h->mem_top - 512, 4096, 0);
}

static int c_loop(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->data + 512), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        publish(h, 0);
        return 0;
}

static int c_next_out_of_range(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, (uint16_t)(h->vq->size + 3));
        publish(h, 0);
        return 0;
}

static int c_head_out_of_range(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        publish(h, (uint16_t)(h->vq->size + 7));
        return 0;
}

/* An indirect table of queue size + 1 descriptors: longer than the queue allows. */
static int c_chain_longer_than_queue(struct hostile *h)
{
        uint16_t n = (uint16_t)(h->vq->size + 1);

        if (!h->vq->indirect)
                return GUEST_SCENARIO_SKIP;
        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(h->table, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        for (uint16_t i = 1; i + 1 < n; i++)
                desc(h->table, i, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
        desc(h->table, n - 1, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        desc(h->vq->desc, 0, pa(h->table), n * (uint32_t)sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
        publish(h, 0);
        return 0;
}

static int c_nested_indirect(struct hostile *h)
{
        if (!h->vq->indirect)
                return GUEST_SCENARIO_SKIP;
        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(h->table2, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(h->table2, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(h->table2, 2, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        desc(h->table, 0, pa(h->table2), 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
        desc(h->vq->desc, 0, pa(h->table), sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
        publish(h, 0);
        return 0;
}

static void indirect_read(struct hostile *h)
{
        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(h->table, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(h->table, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(h->table, 2, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
}

static int c_indirect_bad_len(struct hostile *h)
{
        if (!h->vq->indirect)
                return GUEST_SCENARIO_SKIP;
        indirect_read(h);
        desc(h->vq->desc, 0, pa(h->table), 40, VIRTQ_DESC_F_INDIRECT, 0);
        publish(h, 0);
        return 0;
}

static int c_indirect_and_next(struct hostile *h)
{
        if (!h->vq->indirect)
                return GUEST_SCENARIO_SKIP;
        indirect_read(h);
        desc(h->vq->desc, 0, pa(h->table), 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
        desc(h->vq->desc, 1, pa(h->data + 4096), 512, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_indirect_outside(struct hostile *h)
{
        if (!h->vq->indirect)
                return GUEST_SCENARIO_SKIP;
        desc(h->vq->desc, 0, FAR_ADDR, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
        publish(h, 0);
        return 0;
}

static int c_avail_idx_jump(struct hostile *h)
{
        struct guest_vq *vq = h->vq;
        struct virtq_desc *d = vq->desc;

        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        for (unsigned i = 0; i < vq->size; i++)
                vq->avail->ring[i] = 0;
        /* One entry more than the queue holds, counted from what the device has seen. */
        vq->avail_idx = (uint16_t)(vq->avail_idx + vq->size + 1);
        __atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
        guest_mb();
        guest_vq_notify(vq);
        return 0;
}

static int c_header_writable(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_status_readable(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_OUT, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->data), 512, VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->status), 1, 0, 0);
        publish(h, 0);
        return 0;
}

static int c_header_short(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), 8, VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_read_into_readable(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR, pa(h->data), 512, 0);
}

static int c_write_from_writable(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_OUT, SCRATCH_SECTOR, pa(h->data), 512, VIRTQ_DESC_F_WRITE);
}

static int c_readable_after_writable(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, VIRTIO_BLK_T_OUT, SCRATCH_SECTOR);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->data), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        desc(d, 2, pa(h->data + 512), 512, VIRTQ_DESC_F_NEXT, 3);
        desc(d, 3, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_beyond_capacity(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_IN, h->b->capacity, pa(h->data), 512, VIRTQ_DESC_F_WRITE);
}

/* sector * 512 wraps to 0: a device that does not check reads sector 0. */
static int c_sector_overflow(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_IN, 1ull << 55, pa(h->data), 512, VIRTQ_DESC_F_WRITE);
}

static int c_len_unaligned(struct hostile *h)
{
        return three(h, VIRTIO_BLK_T_IN, SCRATCH_SECTOR, pa(h->data), 100, VIRTQ_DESC_F_WRITE);
}

static int c_unknown_type(struct hostile *h)
{
        struct virtq_desc *d = h->vq->desc;

        header(h, 0x55, 0);
        desc(d, 0, pa(h->hdr), sizeof(*h->hdr), VIRTQ_DESC_F_NEXT, 1);
        desc(d, 1, pa(h->status), 1, VIRTQ_DESC_F_WRITE, 0);
        publish(h, 0);
        return 0;
}

static int c_discard_unmap(struct hostile *h)
{
        if (!guest_blk_has(h->b, VIRTIO_BLK_F_DISCARD))
                return GUEST_SCENARIO_SKIP;
        *h->seg = (struct virtio_blk_discard_write_zeroes){
                .sector = SCRATCH_SECTOR, .num_sectors = 8, .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
        };
        return three(h, VIRTIO_BLK_T_DISCARD, 0, pa(h->seg), sizeof(*h->seg), 0);
}

static int c_write_zeroes_bad_flag(struct hostile *h)
{
        if (!guest_blk_has(h->b, VIRTIO_BLK_F_WRITE_ZEROES))
                return GUEST_SCENARIO_SKIP;
        *h->seg = (struct virtio_blk_discard_write_zeroes){ .sector = SCRATCH_SECTOR, .num_sectors = 8, .flags = 0x2 };
        return three(h, VIRTIO_BLK_T_WRITE_ZEROES, 0, pa(h->seg), sizeof(*h->seg), 0);
}

static int c_write_read_only(struct hostile *h)
{
        blk_pattern_fill(h->data, 0, 1, 0x484f);
        return three(h, VIRTIO_BLK_T_OUT, 0, pa(h->data), 512, 0);
}

static const struct hostile_case cases[] = {
        { "desc-addr-outside-ram", H_NEEDS_RESET | H_IOERR, false, c_addr_outside },
        { "desc-len-wraps", H_NEEDS_RESET | H_IOERR, false, c_len_wraps },
        { "desc-past-end-of-memory", H_NEEDS_RESET | H_IOERR, false, c_past_mem_end },
        { "chain-loop", H_NEEDS_RESET, false, c_loop },
        { "next-out-of-range", H_NEEDS_RESET, false, c_next_out_of_range },
        { "head-out-of-range", H_NEEDS_RESET, false, c_head_out_of_range },
        { "chain-longer-than-queue", H_NEEDS_RESET | H_IOERR, false, c_chain_longer_than_queue },
        { "nested-indirect", H_NEEDS_RESET, false, c_nested_indirect },
        { "indirect-len-not-multiple", H_NEEDS_RESET, false, c_indirect_bad_len },
        { "indirect-with-next", H_NEEDS_RESET, false, c_indirect_and_next },
        { "indirect-table-outside-ram", H_NEEDS_RESET, false, c_indirect_outside },
        { "avail-idx-jump", H_NEEDS_RESET, false, c_avail_idx_jump },
        { "header-device-writable", H_NEEDS_RESET | H_IOERR, false, c_header_writable },
        { "status-device-readable", H_NEEDS_RESET, false, c_status_readable },
        { "header-too-short", H_NEEDS_RESET | H_IOERR, false, c_header_short },
        { "read-into-readable-buffer", H_NEEDS_RESET | H_IOERR, false, c_read_into_readable },
        { "write-from-writable-buffer", H_NEEDS_RESET | H_IOERR, false, c_write_from_writable },
        { "readable-after-writable", H_NEEDS_RESET | H_IOERR, false, c_readable_after_writable },
        { "read-beyond-capacity", H_IOERR, false, c_beyond_capacity },
        { "sector-overflow", H_IOERR, false, c_sector_overflow },
        { "data-len-not-sector-multiple", H_IOERR | H_NEEDS_RESET, false, c_len_unaligned },
        { "unknown-request-type", H_UNSUPP, false, c_unknown_type },
        { "discard-with-unmap", H_UNSUPP, false, c_discard_unmap },
        { "write-zeroes-unknown-flag", H_UNSUPP, false, c_write_zeroes_bad_flag },
        { "write-to-read-only-disk", H_IOERR, true, c_write_read_only },
};

static void outcome_str(unsigned o, char *buf, size_t size)
{
        static const char *const names[] = { "needs_reset", "ioerr", "unsupp", "ok", "no_status", "bad_status", "nothing" };
        size_t n = 0;

        buf[0] = 0;
        for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
                if (o & (1u << i))
                        n += (size_t)guest_snprintf(buf + n, size > n ? size - n : 0, "%s%s", n ? "|" : "", names[i]);
        if (!n)
                guest_strlcpy(buf, "-", size);
}

/* Wait for the device's answer: a used entry (status byte) and/or DEVICE_NEEDS_RESET. */
static unsigned observe(struct hostile *h, uint64_t timeout_ms)
{
        uint64_t now = guest_time_ns(), deadline = now + timeout_ms * 1000000ull, next_check = now;
        struct guest_vq *vq = h->vq;

        for (;;) {
                if (guest_vq_has_used(vq)) {
                        uint8_t st = *h->status;
                        unsigned o = st == VIRTIO_BLK_S_OK ? H_OK : st == VIRTIO_BLK_S_IOERR ? H_IOERR :
                                     st == VIRTIO_BLK_S_UNSUPP ? H_UNSUPP :
                                     st == GUEST_BLK_STATUS_NONE ? H_NO_STATUS : H_BAD_STATUS;
                        uint64_t settle = guest_time_ns() + SETTLE_NS;

                        /* The device may complete a valid part first and flag the rest. */
                        do {
                                if (guest_virtio_needs_reset(&h->b->vp))
                                        return o | H_NEEDS_RESET;
                                guest_delay_us(1000);
                        } while (guest_time_ns() < settle);
                        return o;
                }
                now = guest_time_ns();
                if (now >= next_check) {
                        if (guest_virtio_needs_reset(&h->b->vp))
                                return H_NEEDS_RESET | (guest_vq_has_used(vq) ? H_NO_STATUS : 0);
                        next_check = now + STATUS_POLL_NS;
                }
                if (now >= deadline)
                        return H_NOTHING;
                guest_cpu_relax();
        }
}

/* Reset, re-initialize, and read 4 KiB at sector 0: true when that works. */
static bool recover(struct hostile *h)
{
        uint8_t st;
        int r = guest_blk_restart(h->b);

        if (r < 0)
                return false;
        r = guest_blk_sync(h->b, 0, VIRTIO_BLK_T_IN, 0, h->readback, 4096, 5000, &st);
        return r == 0 && st == VIRTIO_BLK_S_OK && !guest_virtio_needs_reset(&h->b->vp);
}

/* Buffers for all cases: page 0 header, status, discard segment; pages 1-2 data; 3 recovery reads. */
static int hostile_alloc(struct hostile *h)
{
        const struct guest_mm *mm = &guest.mm;
        uint64_t m = guest_page_alloc(4 * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
        uint64_t t = guest_page_alloc((VIRTQ_MAX_SIZE + 2ull) * sizeof(struct virtq_desc), GUEST_PAGE_SIZE);
        uint64_t t2 = guest_page_alloc(GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);

        if (!m || !t || !t2)
                return -ENOMEM;
        *h = (struct hostile){
                .hdr = (struct virtio_blk_outhdr *)(uintptr_t)m,
                .status = (volatile uint8_t *)(uintptr_t)(m + 64),
                .seg = (struct virtio_blk_discard_write_zeroes *)(uintptr_t)(m + 128),
                .data = (uint8_t *)(uintptr_t)(m + GUEST_PAGE_SIZE),
                .readback = (uint8_t *)(uintptr_t)(m + 3 * GUEST_PAGE_SIZE),
                .table = (struct virtq_desc *)(uintptr_t)t,
                .table2 = (struct virtq_desc *)(uintptr_t)t2,
        };
        for (unsigned i = 0; i < mm->region_count; i++)
                h->mem_top = MAX(h->mem_top, mm->regions[i].addr + mm->regions[i].size);
        return 0;
}

int guest_scenario_blk_hostile(void)
{
        struct blk_env e;
        struct guest_blk *rw = NULL, *ro = NULL;
        struct hostile h;
        uint64_t timeout_ms = guest_cmdline_get_u64("hostile_timeout_ms", 1000);
        const char *only = guest_cmdline_get_str("case", NULL);
        unsigned pass = 0, fail = 0, skip = 0;
        uint8_t before[512];
        int r;

        r = blk_env_init(&e, BLK_WANT_RW, true, 1);
        if (r == GUEST_SCENARIO_SKIP)
                r = blk_env_init(&e, BLK_WANT_RO, true, 1);
        if (r != 0)
                return r;
        if (e.b->ro)
                ro = e.b;
        else
                rw = e.b;
        for (unsigned i = 0; i < guest.blk.count && !ro; i++) {
                struct guest_blk *b = guest_blk_get(i);

                if (b == rw)
                        continue;
                if (guest_blk_start(b, &e.opts) == 0 && b->ro)
                        ro = b;
                else
                        guest_blk_stop(b);
        }
        r = hostile_alloc(&h);
        if (r < 0)
                return r;
        guest_report_info("blk-hostile rw_disk=%s ro_disk=%s timeout_ms=%lu vmm=%s", rw ? rw->name : "-",
                          ro ? ro->name : "-", (unsigned long)timeout_ms, e.vmms ? "vmms" : "other");

        for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
                const struct hostile_case *c = &cases[i];
                struct guest_blk *b = c->ro_disk ? ro : rw;
                char got[80], want[80];
                const char *verdict;
                unsigned o;
                uint64_t cfg_irqs;
                bool recovered, cfg_irq;

                if (only && guest_strcmp(only, c->name) != 0)
                        continue;
                outcome_str(c->expect, want, sizeof(want));
                if (!b) {
                        guest_report_info("blk-hostile case=%s expect=%s verdict=skip reason=no-%s-disk", c->name, want,
                                          c->ro_disk ? "read-only" : "writable");
                        skip++;
                        continue;
                }
                h.b = b;
                h.vq = &b->q[0].vq;
                /* A fresh device for each case. */
                if (!recover(&h)) {
                        guest_report_assert(GUEST_FILE, __LINE__, "%s: device %s does not work before the case", c->name,
                                            b->name);
                        return -EIO;
                }
                memcpy(before, h.readback, sizeof(before));
                cfg_irqs = b->vp.config_irqs;
                r = c->build(&h);
                if (r == GUEST_SCENARIO_SKIP) {
                        guest_report_info("blk-hostile case=%s expect=%s verdict=skip reason=feature-not-negotiated",
                                          c->name, want);
                        skip++;
                        continue;
                }
                o = observe(&h, timeout_ms);
                /* NEEDS_RESET comes with a configuration change notification (2.1.2, SHOULD). */
                cfg_irq = b->vp.config_irqs != cfg_irqs;
                recovered = recover(&h);
                outcome_str(o, got, sizeof(got));

                if ((o & c->expect) && recovered) {
                        verdict = "pass";
                        pass++;
                } else if (!(o & H_FLAGGED) && recovered && !e.vmms) {
                        verdict = "skip";
                        skip++;
                } else {
                        verdict = "fail";
                        fail++;
                }
                guest_report_info("blk-hostile case=%s expect=%s outcome=%s config_irq=%u recovered=%u verdict=%s", c->name,
                                  want, got, cfg_irq, recovered, verdict);
                EXPECT_MSG(verdict[0] != 'f', "blk-hostile case %s: outcome %s, expected %s, recovered=%u", c->name, got,
                           want, recovered);
                /* recover() read sector 0 again: the refused write changed nothing. */
                if (c->ro_disk && recovered)
                        EXPECT_MSG(memcmp(before, h.readback, sizeof(before)) == 0, "the read-only disk took the write");
        }
        guest_report_info("blk-hostile cases=%u pass=%u fail=%u skip=%u", pass + fail + skip, pass, fail, skip);
        return 0;
}
