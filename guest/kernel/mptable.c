/* SPDX-License-Identifier: MIT */
/*
 * The Intel MultiProcessor Specification 1.4 table, used only when there is no ACPI MADT
 * (e.g. QEMU -M microvm,acpi=off): processors, IOAPICs, and ISA interrupt assignments that
 * differ from the identity.
 */
#include "kernel/acpi.h"
#include "kernel/kernel.h"

#define MP_ENTRY_CPU     0
#define MP_ENTRY_BUS     1
#define MP_ENTRY_IOAPIC  2
#define MP_ENTRY_IOINT   3
#define MP_ENTRY_LINT    4
#define MP_CPU_ENABLED   0x01
#define MP_IOAPIC_ENABLED 0x01
#define MP_MAX_BUSES     32

static uint8_t sum_bytes(const uint8_t *p, size_t n)
{
        uint8_t s = 0;

        for (size_t i = 0; i < n; i++)
                s += p[i];
        return s;
}

static const uint8_t *mpf_scan(uint64_t start, uint64_t end)
{
        for (uint64_t a = start; a + 16 <= end; a += 16) {
                const uint8_t *p = (const uint8_t *)(uintptr_t)a;
                if (memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && sum_bytes(p, 16) == 0)
                        return p;
        }
        return NULL;
}

int guest_mptable_init(struct guest_topology *t)
{
        const uint8_t *mpf = NULL, *cfg, *p, *end;
        uint16_t ebda_seg, len, count;
        uint32_t cfg_addr;
        bool isa_bus[MP_MAX_BUSES] = { false };

        memcpy(&ebda_seg, (const void *)(uintptr_t)0x40e, 2);
        if (ebda_seg >= 0x8000 && ebda_seg < 0xa000)
                mpf = mpf_scan((uint64_t)ebda_seg << 4, ((uint64_t)ebda_seg << 4) + 1024);
        if (!mpf)
                mpf = mpf_scan(0x9fc00, 0xa0000);
        if (!mpf)
                mpf = mpf_scan(0xf0000, 0x100000);
        if (!mpf)
                return -ENOENT;

        memcpy(&cfg_addr, mpf + 4, 4);
        if (cfg_addr == 0 || cfg_addr >= 0xfffff000u)
                return -ENOENT;         /* default configurations are not supported */
        cfg = (const uint8_t *)(uintptr_t)cfg_addr;
        if (memcmp(cfg, "PCMP", 4) != 0)
                return -EBADMSG;
        memcpy(&len, cfg + 4, 2);
        memcpy(&count, cfg + 34, 2);
        if (len < 44 || sum_bytes(cfg, len) != 0)
                return -EBADMSG;

        memcpy(&cfg_addr, cfg + 36, 4);
        t->lapic_base = cfg_addr;
        t->pic_present = true;

        end = cfg + len;
        p = cfg + 44;
        /* Walk by the table length, as Linux does: some firmware (qboot) leaves the count 0. */
        (void)count;
        while (p < end) {
                switch (p[0]) {
                case MP_ENTRY_CPU:
                        if (p + 20 > end)
                                return -EBADMSG;
                        if ((p[3] & MP_CPU_ENABLED) && t->cpu_count < GUEST_MAX_CPUS)
                                t->cpu_apic_ids[t->cpu_count++] = p[1];
                        p += 20;
                        break;
                case MP_ENTRY_BUS:
                        if (p[1] < MP_MAX_BUSES && memcmp(p + 2, "ISA", 3) == 0)
                                isa_bus[p[1]] = true;
                        p += 8;
                        break;
                case MP_ENTRY_IOAPIC:
                        if ((p[3] & MP_IOAPIC_ENABLED) && t->ioapic_count < GUEST_MAX_IOAPICS) {
                                struct guest_ioapic_info *io = &t->ioapics[t->ioapic_count];
                                uint32_t addr;

                                memcpy(&addr, p + 4, 4);
                                io->id = p[1];
                                io->address = addr;
                                /* MP tables give no GSI base: IOAPICs are numbered in order. */
                                io->gsi_base = t->ioapic_count == 0 ? 0 : 24 * t->ioapic_count;
                                t->ioapic_count++;
                        }
                        p += 8;
                        break;
                case MP_ENTRY_IOINT: {
                        uint16_t flags;

                        memcpy(&flags, p + 2, 2);
                        /* An INT-type entry for an ISA IRQ that lands on a different pin. */
                        if (p[1] == 0 && p[4] < MP_MAX_BUSES && isa_bus[p[4]] && p[5] < 16 &&
                            (p[7] != p[5] || flags != 0) && t->iso_count < GUEST_MAX_ISOS) {
                                uint32_t base = 0;

                                for (unsigned k = 0; k < t->ioapic_count; k++)
                                        if (t->ioapics[k].id == p[6])
                                                base = t->ioapics[k].gsi_base;
                                t->isos[t->iso_count++] = (struct guest_iso){
                                        .bus_irq = p[5], .gsi = base + p[7], .flags = flags,
                                };
                        }
                        p += 8;
                        break;
                }
                case MP_ENTRY_LINT:
                        p += 8;
                        break;
                default:
                        return -EBADMSG;
                }
        }
        if (t->cpu_count == 0)
                return -ENOENT;
        t->source = "mptable";
        return 0;
}
