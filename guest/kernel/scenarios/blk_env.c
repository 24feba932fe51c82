/* SPDX-License-Identifier: MIT */
#include <abi/virtio.h>
#include <abi/virtio_blk.h>

#include "kernel/apic.h"
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/blk.h"
#include "kernel/smp.h"

#define BACKSTOP_HZ 100         /* wakes hlt now and then should an interrupt never come */

void blk_pattern_fill(void *buf, uint64_t lba, uint32_t sectors, uint64_t seed)
{
        uint64_t *w = buf;

        for (uint32_t s = 0; s < sectors; s++, lba++, w += BLK_SECTOR_WORDS) {
                uint64_t base = blk_pattern_base(lba, seed);

                w[0] = lba;
                w[1] = seed;
                for (unsigned i = 2; i < BLK_SECTOR_WORDS; i++)
                        w[i] = base + i;
        }
}

int blk_pattern_check(const void *buf, uint64_t lba, uint64_t seed, uint64_t *ret_got, uint64_t *ret_want)
{
        const uint64_t *w = buf;
        uint64_t base = blk_pattern_base(lba, seed);

        for (unsigned i = 0; i < BLK_SECTOR_WORDS; i++) {
                uint64_t want = i == 0 ? lba : i == 1 ? seed : base + i;

                if (w[i] != want) {
                        *ret_got = w[i];
                        *ret_want = want;
                        return (int)i;
                }
        }
        return -1;
}

static uint64_t device_features(struct guest_blk *b)
{
        /* Readable at any time; does not change the device state. */
        uint64_t f;

        guest_mmio_write32(b->vp.common + VIRTIO_PCI_COMMON_DFSELECT, 0);
        f = guest_mmio_read32(b->vp.common + VIRTIO_PCI_COMMON_DF);
        guest_mmio_write32(b->vp.common + VIRTIO_PCI_COMMON_DFSELECT, 1);
        return f | (uint64_t)guest_mmio_read32(b->vp.common + VIRTIO_PCI_COMMON_DF) << 32;
}

static struct guest_blk *pick_disk(enum blk_want want)
{
        uint64_t idx = guest_cmdline_get_u64("disk", UINT64_MAX);

        if (idx != UINT64_MAX)
                return guest_blk_get((unsigned)idx);
        for (unsigned i = 0; i < guest.blk.count; i++) {
                struct guest_blk *b = guest_blk_get(i);
                bool ro = (device_features(b) & VIRTIO_BIT(VIRTIO_BLK_F_RO)) != 0;

                if (want == BLK_WANT_ANY || (want == BLK_WANT_RO) == ro)
                        return b;
        }
        return NULL;
}

static enum guest_vq_mode parse_mode(uint64_t *refuse)
{
        const char *s = guest_cmdline_get_str("indirect", "auto");

        if (guest_strcmp(s, "0") == 0 || guest_strcmp(s, "no") == 0) {
                *refuse |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
                return GUEST_VQ_DIRECT;
        }
        if (guest_strcmp(s, "direct") == 0)
                return GUEST_VQ_DIRECT;
        if (guest_strcmp(s, "1") == 0 || guest_strcmp(s, "yes") == 0)
                return GUEST_VQ_INDIRECT;
        return GUEST_VQ_AUTO;
}

static void backstop_start(const struct blk_env *e)
{
        if (e->backstop)
                guest_lapic_timer_periodic(BACKSTOP_HZ, GUEST_VEC_TIMER);
}

void blk_worker_enter(const struct blk_env *e)
{
        if (guest_this_cpu()->index != 0)
                backstop_start(e);
}

void blk_worker_leave(const struct blk_env *e)
{
        if (e->backstop && guest_this_cpu()->index != 0)
                guest_lapic_timer_stop();
}

int blk_env_init(struct blk_env *e, enum blk_want want, bool default_poll, unsigned default_queues)
{
        const char *qs = guest_cmdline_get_str("queues", NULL);
        unsigned queues = default_queues, online = 1;
        uint64_t refuse = 0;
        int n, r;

        *e = (struct blk_env){ .ncpus = 1 };
        e->vmms = guest_startswith(guest.acpi.oem_id, "VMMS");

        n = guest_blk_probe();
        guest_report_info("pci_access=%s pci_functions=%u virtio_blk_devices=%d vmm=%s",
                          guest.pci.ecam ? "ecam" : "cf8", guest.pci.count, n, e->vmms ? "vmms" : "other");
        if (guest_cmdline_get_u64("verbose", 0))
                for (unsigned i = 0; i < guest.pci.count; i++) {
                        const struct guest_pci_dev *d = &guest.pci.devs[i];
                        char name[8];

                        guest_pci_name(d, name);
                        guest_report_info("pci %s id=%04x:%04x class=%06x bar0=%#lx/%#lx bar1=%#lx/%#lx bar2=%#lx/%#lx "
                                          "bar4=%#lx/%#lx", name, d->vendor, d->device, d->class_code,
                                          (unsigned long)d->bars[0].addr, (unsigned long)d->bars[0].size,
                                          (unsigned long)d->bars[1].addr, (unsigned long)d->bars[1].size,
                                          (unsigned long)d->bars[2].addr, (unsigned long)d->bars[2].size,
                                          (unsigned long)d->bars[4].addr, (unsigned long)d->bars[4].size);
                }
        if (n <= 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "no virtio-blk device (%d)", n);
                return n < 0 ? n : -ENODEV;
        }
        e->b = pick_disk(want);
        if (!e->b) {
                guest_report_info("no %s virtio-blk disk among %d", want == BLK_WANT_RO ? "read-only" : "writable", n);
                return GUEST_SCENARIO_SKIP;
        }

        if ((qs && guest_strcmp(qs, "cpus") == 0) || (!qs && default_queues == BLK_QUEUES_PER_CPU))
                queues = guest.topo.cpu_count;
        else
                queues = (unsigned)guest_cmdline_get_u64("queues", default_queues);
        /* No more than the device has virtqueues (known before negotiation): no idle APs. */
        if (e->b->vp.num_queues)
                queues = MIN(queues, (unsigned)e->b->vp.num_queues);
        if (queues == 0)
                queues = 1;
        queues = MIN(queues, (unsigned)GUEST_BLK_MAX_QUEUES);

        e->opts.queues = queues;
        e->opts.poll = guest_cmdline_get_u64("blk_poll", default_poll) != 0;
        e->opts.spin_us = (uint32_t)guest_cmdline_get_u64("spin_us", 0);
        e->opts.queue_size = (uint16_t)MIN(guest_cmdline_get_u64("qsize", 0), (uint64_t)VIRTQ_MAX_SIZE);
        e->opts.mode = parse_mode(&refuse);
        if (guest_cmdline_get_u64("event_idx", 1) == 0)
                refuse |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
        e->opts.refuse = refuse;
        e->opts.seg_bytes = (uint32_t)guest_cmdline_get_u64("seg_bytes", 0);

        /* One CPU per queue while there are CPUs; the BSP takes the rest round-robin. */
        if (queues > 1 && guest.topo.cpu_count > 1 && guest_cmdline_get_u64("smp", 1)) {
                r = guest_smp_boot(guest_cmdline_get_u64("smp_timeout_ms", 2000));
                if (r < 0)
                        guest_report_info("smp start failed (%d): all queues on the boot CPU", r);
                else
                        online = (unsigned)r + 1;
        }
        e->cpu_slot[0] = 0;
        for (unsigned c = 1; c < guest.cpu_slots && e->ncpus < MIN(online, queues); c++)
                if (__atomic_load_n(&guest.cpus[c].online, __ATOMIC_ACQUIRE))
                        e->cpu_slot[e->ncpus++] = c;
        for (unsigned i = 0; i < queues; i++)
                e->opts.queue_apic[i] = guest.cpus[e->cpu_slot[i % e->ncpus]].apic_id;

        if (!e->opts.poll) {
                r = guest_lapic_timer_calibrate(10);
                if (r == 0) {
                        e->backstop = true;
                        backstop_start(e);
                }
        }

        r = guest_blk_start(e->b, &e->opts);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "virtio-blk %s: start failed: %d (status %#x)", e->b->name, r,
                                    guest_virtio_get_status(&e->b->vp));
                return r;
        }
        e->ncpus = MIN(e->ncpus, e->b->nq);     /* the device may offer fewer queues */
        blk_env_describe(e);
        return 0;
}

void blk_env_describe(const struct blk_env *e)
{
        const struct guest_blk *b = e->b;
        const struct guest_vq *vq = &b->q[0].vq;

        guest_report_info("blk disk=%u pci=%s capacity=%lu blk_size=%u size_max=%u seg_max=%u max_segs=%u ro=%u "
                          "flush=%u discard=%u write_zeroes=%u mq=%u dev_queues=%u queues=%u cpus=%u queue_size=%u "
                          "event_idx=%u indirect=%u msix=%u mode=%s features=%#lx offered=%#lx",
                          b->index, b->name, (unsigned long)b->capacity, b->blk_size, b->size_max, b->seg_max,
                          b->max_segs, b->ro, guest_blk_has(b, VIRTIO_BLK_F_FLUSH),
                          guest_blk_has(b, VIRTIO_BLK_F_DISCARD), guest_blk_has(b, VIRTIO_BLK_F_WRITE_ZEROES),
                          guest_blk_has(b, VIRTIO_BLK_F_MQ), b->dev_queues, b->nq, e->ncpus, vq->size,
                          vq->event_idx, vq->indirect, b->msix_ready, b->opts.poll ? "poll" : "interrupt",
                          (unsigned long)b->vp.features, (unsigned long)b->vp.device_features);
}

unsigned blk_env_queues_of(const struct blk_env *e, unsigned k, struct guest_blk_queue **ret)
{
        unsigned n = 0;

        for (unsigned i = k; i < e->b->nq; i += e->ncpus)
                ret[n++] = &e->b->q[i];
        return n;
}

int blk_env_run(struct blk_env *e, void (*fn)(void *), void *const *args, uint64_t timeout_ms)
{
        uint64_t deadline;
        int r;

        for (unsigned k = 1; k < e->ncpus; k++) {
                r = guest_smp_call(e->cpu_slot[k], fn, args[k]);
                if (r < 0)
                        return r;
        }
        fn(args[0]);
        deadline = guest_time_ns() + timeout_ms * 1000000ull;
        for (unsigned k = 1; k < e->ncpus; k++)
                while (!guest_smp_call_done(e->cpu_slot[k])) {
                        if (guest_time_ns() > deadline)
                                return -ETIMEDOUT;
                        guest_cpu_relax();
                }
        return 0;
}
