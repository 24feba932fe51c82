/* SPDX-License-Identifier: MIT */
#include "kernel/apic.h"
#include "kernel/idt.h"
#include "kernel/kernel.h"

#define IOAPIC_REGSEL   0x00
#define IOAPIC_WIN      0x10
#define IOAPIC_REG_VER  0x01
#define IOAPIC_REDTBL   0x10

#define IOAPIC_MASKED   (1u << 16)
#define IOAPIC_LEVEL    (1u << 15)
#define IOAPIC_LOW      (1u << 13)

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
        guest_mmio_write32(base + IOAPIC_REGSEL, reg);
        return guest_mmio_read32(base + IOAPIC_WIN);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
        guest_mmio_write32(base + IOAPIC_REGSEL, reg);
        guest_mmio_write32(base + IOAPIC_WIN, v);
}

static struct guest_ioapic_info *ioapic_for_gsi(uint32_t gsi)
{
        struct guest_topology *t = &guest.topo;

        for (unsigned i = 0; i < t->ioapic_count; i++) {
                struct guest_ioapic_info *io = &t->ioapics[i];

                if (io->pins == 0)
                        io->pins = ((ioapic_read(io->address, IOAPIC_REG_VER) >> 16) & 0xff) + 1;
                if (gsi >= io->gsi_base && gsi < io->gsi_base + io->pins)
                        return io;
        }
        return NULL;
}

int guest_ioapic_route(uint32_t gsi, uint8_t vector, uint32_t dest_apic_id, bool level, bool active_low)
{
        struct guest_ioapic_info *io = ioapic_for_gsi(gsi);
        uint32_t pin, lo;

        if (!io)
                return -ENODEV;
        if (dest_apic_id > 0xff)
                return -ERANGE;
        pin = gsi - io->gsi_base;
        lo = vector | (level ? IOAPIC_LEVEL : 0) | (active_low ? IOAPIC_LOW : 0);
        /* Masked while the entry changes, then unmasked with the low word. */
        ioapic_write(io->address, IOAPIC_REDTBL + 2 * pin, IOAPIC_MASKED);
        ioapic_write(io->address, IOAPIC_REDTBL + 2 * pin + 1, dest_apic_id << 24);
        ioapic_write(io->address, IOAPIC_REDTBL + 2 * pin, lo);
        return 0;
}

int guest_ioapic_mask(uint32_t gsi)
{
        struct guest_ioapic_info *io = ioapic_for_gsi(gsi);

        if (!io)
                return -ENODEV;
        ioapic_write(io->address, IOAPIC_REDTBL + 2 * (gsi - io->gsi_base), IOAPIC_MASKED);
        return 0;
}

int guest_irq_route_isa(unsigned isa_irq, bool sci, uint32_t dest_apic_id, guest_irq_fn fn, void *data)
{
        uint32_t gsi;
        bool level, low;
        int r;

        r = guest_topology_isa_irq(&guest.topo, isa_irq, sci, &gsi, &level, &low);
        if (r < 0)
                return r;
        if (GUEST_VEC_GSI_BASE + gsi > GUEST_VEC_GSI_MAX)
                return -ERANGE;
        r = guest_irq_register(GUEST_VEC_GSI_BASE + gsi, fn, data);
        if (r < 0)
                return r;
        r = guest_ioapic_route(gsi, (uint8_t)(GUEST_VEC_GSI_BASE + gsi), dest_apic_id, level, low);
        if (r < 0)
                return r;
        return (int)gsi;
}
