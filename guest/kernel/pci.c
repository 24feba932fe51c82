/* SPDX-License-Identifier: MIT */
#include <abi/pci.h>
#include <abi/platform.h>

#include "kernel/kernel.h"
#include "kernel/pci.h"

#define PCI_MAX_BRIDGE_DEPTH 8
#define PCI_CAP_WALK_MAX     48
#define MSI_ADDRESS_BASE     0xfee00000u

static uint32_t cfg_read(uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg, unsigned width)
{
        struct guest_pci *p = &guest.pci;
        uint32_t v;

        guest_spin_lock(&p->lock);
        p->config_accesses++;
        if (p->ecam) {
                uint64_t a = p->ecam_base + PCI_ECAM_OFFSET(bus, dev, fn, reg);

                v = width == 1 ? guest_mmio_read8(a) : width == 2 ? guest_mmio_read16(a) : guest_mmio_read32(a);
        } else if (reg >= PCI_CFG_SPACE_SIZE) {
                v = 0xffffffffu;
        } else {
                uint16_t port = (uint16_t)(PLATFORM_PORT_PCI_DATA + (reg & (width == 4 ? 0 : width == 2 ? 2 : 3)));

                guest_outl(PLATFORM_PORT_PCI_ADDR, PCI_CF8_ADDR(bus, dev, fn, reg));
                v = width == 1 ? guest_inb(port) : width == 2 ? guest_inw(port) : guest_inl(port);
        }
        guest_spin_unlock(&p->lock);
        return v;
}

static void cfg_write(uint8_t bus, uint8_t dev, uint8_t fn, unsigned reg, unsigned width, uint32_t v)
{
        struct guest_pci *p = &guest.pci;

        guest_spin_lock(&p->lock);
        p->config_accesses++;
        if (p->ecam) {
                uint64_t a = p->ecam_base + PCI_ECAM_OFFSET(bus, dev, fn, reg);

                if (width == 1)
                        guest_mmio_write8(a, (uint8_t)v);
                else if (width == 2)
                        guest_mmio_write16(a, (uint16_t)v);
                else
                        guest_mmio_write32(a, v);
        } else if (reg < PCI_CFG_SPACE_SIZE) {
                uint16_t port = (uint16_t)(PLATFORM_PORT_PCI_DATA + (reg & (width == 4 ? 0 : width == 2 ? 2 : 3)));

                guest_outl(PLATFORM_PORT_PCI_ADDR, PCI_CF8_ADDR(bus, dev, fn, reg));
                if (width == 1)
                        guest_outb(port, (uint8_t)v);
                else if (width == 2)
                        guest_outw(port, (uint16_t)v);
                else
                        guest_outl(port, v);
        }
        guest_spin_unlock(&p->lock);
}

uint32_t guest_pci_read(const struct guest_pci_dev *d, unsigned reg, unsigned width)
{
        return cfg_read(d->bus, d->dev, d->fn, reg, width);
}

void guest_pci_write(const struct guest_pci_dev *d, unsigned reg, unsigned width, uint32_t v)
{
        cfg_write(d->bus, d->dev, d->fn, reg, width, v);
}

void guest_pci_name(const struct guest_pci_dev *d, char buf[8])
{
        guest_snprintf(buf, 8, "%02x:%02x.%x", d->bus, d->dev, d->fn);
}

/* Size the six BARs of a type-0 header, decoding off meanwhile; addresses stay as assigned. */
static void bars_size(struct guest_pci_dev *d)
{
        uint16_t cmd = guest_pci_read16(d, PCI_COMMAND);

        guest_pci_write(d, PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
                unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
                struct guest_pci_bar *b = &d->bars[i];
                uint32_t lo = guest_pci_read32(d, reg), szlo;

                guest_pci_write(d, reg, 4, 0xffffffffu);
                szlo = guest_pci_read32(d, reg);
                guest_pci_write(d, reg, 4, lo);
                if (szlo == 0 || szlo == 0xffffffffu)
                        continue;
                if (lo & PCI_BAR_SPACE_IO) {
                        b->io = true;
                        b->addr = lo & ~3u;
                        b->size = (uint16_t)(~(szlo & ~3u) + 1);
                        continue;
                }
                b->prefetch = (lo & PCI_BAR_MEM_PREFETCH) != 0;
                if ((lo & 0x6u) == PCI_BAR_MEM_TYPE_64 && i + 1 < PCI_BAR_COUNT) {
                        uint32_t hi = guest_pci_read32(d, reg + 4), szhi;
                        uint64_t mask;

                        guest_pci_write(d, reg + 4, 4, 0xffffffffu);
                        szhi = guest_pci_read32(d, reg + 4);
                        guest_pci_write(d, reg + 4, 4, hi);
                        mask = ((uint64_t)szhi << 32) | (szlo & PCI_BAR_MEM_MASK);
                        b->is64 = true;
                        b->addr = ((uint64_t)hi << 32) | (lo & PCI_BAR_MEM_MASK);
                        b->size = ~mask + 1;
                        i++;
                } else {
                        b->addr = lo & PCI_BAR_MEM_MASK;
                        b->size = (uint32_t)(~(szlo & PCI_BAR_MEM_MASK) + 1);
                }
        }
        guest_pci_write(d, PCI_COMMAND, 2, cmd);
}

static void function_add(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t vendor)
{
        struct guest_pci *p = &guest.pci;
        struct guest_pci_dev *d;
        uint32_t class_rev;

        if (p->count >= GUEST_PCI_MAX_FUNCS)
                return;
        d = &p->devs[p->count++];
        *d = (struct guest_pci_dev){ .bus = bus, .dev = dev, .fn = fn, .vendor = vendor };
        d->device = guest_pci_read16(d, PCI_DEVICE_ID);
        class_rev = guest_pci_read32(d, PCI_REVISION_ID);
        d->revision = (uint8_t)class_rev;
        d->class_code = class_rev >> 8;
        d->header_type = guest_pci_read8(d, PCI_HEADER_TYPE) & 0x7f;
        if (d->header_type == PCI_HEADER_TYPE_NORMAL) {
                d->subsys_vendor = guest_pci_read16(d, PCI_SUBSYSTEM_VENDOR_ID);
                d->subsys_device = guest_pci_read16(d, PCI_SUBSYSTEM_ID);
                d->irq_pin = guest_pci_read8(d, PCI_INTERRUPT_PIN);
                bars_size(d);
        }
}

static bool bus_seen(uint8_t bus)
{
        struct guest_pci *p = &guest.pci;
        bool seen = p->bus_seen[bus / 32] & (1u << (bus % 32));

        p->bus_seen[bus / 32] |= 1u << (bus % 32);
        return seen;
}

static void bus_scan(uint8_t bus, unsigned depth)
{
        if (bus_seen(bus))
                return;
        if (guest.pci.ecam && (bus < guest.pci.ecam_bus_start || bus > guest.pci.ecam_bus_end))
                return;
        for (uint8_t dev = 0; dev < PCI_MAX_DEVICES; dev++) {
                uint16_t vendor = (uint16_t)cfg_read(bus, dev, 0, PCI_VENDOR_ID, 2);
                unsigned nfn;

                if (vendor == 0xffff || vendor == 0)
                        continue;
                nfn = (cfg_read(bus, dev, 0, PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MULTI) ? PCI_MAX_FUNCTIONS : 1;
                for (uint8_t fn = 0; fn < nfn; fn++) {
                        uint8_t secondary;

                        if (fn > 0) {
                                vendor = (uint16_t)cfg_read(bus, dev, fn, PCI_VENDOR_ID, 2);
                                if (vendor == 0xffff || vendor == 0)
                                        continue;
                        }
                        function_add(bus, dev, fn, vendor);
                        if ((cfg_read(bus, dev, fn, PCI_HEADER_TYPE, 1) & 0x7f) != PCI_HEADER_TYPE_BRIDGE)
                                continue;
                        /* Only buses the firmware numbered: no bridge programming here. */
                        secondary = (uint8_t)cfg_read(bus, dev, fn, PCI_SECONDARY_BUS, 1);
                        if (secondary > bus && depth < PCI_MAX_BRIDGE_DEPTH)
                                bus_scan(secondary, depth + 1);
                }
        }
}

/* Memory BARs nobody placed (address 0) get space after everything already assigned. */
static void bars_assign(void)
{
        struct guest_pci *p = &guest.pci;

        p->next_mmio32 = PLATFORM_MMIO32_BASE;
        p->next_mmio64 = PLATFORM_MMIO64_BASE;
        for (unsigned i = 0; i < p->count; i++)
                for (unsigned j = 0; j < PCI_BAR_COUNT; j++) {
                        const struct guest_pci_bar *b = &p->devs[i].bars[j];
                        uint64_t end = b->addr + b->size;

                        if (b->io || !b->size || !b->addr)
                                continue;
                        if (b->addr >= PLATFORM_MMIO32_BASE && end <= PLATFORM_MMIO32_END)
                                p->next_mmio32 = MAX(p->next_mmio32, end);
                        else if (b->addr >= PLATFORM_MMIO64_BASE)
                                p->next_mmio64 = MAX(p->next_mmio64, end);
                }

        for (unsigned i = 0; i < p->count; i++) {
                struct guest_pci_dev *d = &p->devs[i];

                for (unsigned j = 0; j < PCI_BAR_COUNT; j++) {
                        struct guest_pci_bar *b = &d->bars[j];
                        unsigned reg = PCI_BASE_ADDRESS_0 + 4 * j;
                        uint64_t a;
                        uint16_t cmd;

                        if (b->io || !b->size || b->addr || (b->size & (b->size - 1)))
                                continue;
                        a = ALIGN_UP(p->next_mmio32, b->size);
                        if (a + b->size <= PLATFORM_MMIO32_END) {
                                p->next_mmio32 = a + b->size;
                        } else if (b->is64) {
                                a = ALIGN_UP(p->next_mmio64, b->size);
                                p->next_mmio64 = a + b->size;
                        } else {
                                continue;
                        }
                        cmd = guest_pci_read16(d, PCI_COMMAND);
                        guest_pci_write(d, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
                        guest_pci_write(d, reg, 4, (uint32_t)a | (guest_pci_read32(d, reg) & 0xfu));
                        if (b->is64)
                                guest_pci_write(d, reg + 4, 4, (uint32_t)(a >> 32));
                        guest_pci_write(d, PCI_COMMAND, 2, cmd);
                        b->addr = a;
                }
        }
}

int guest_pci_scan(void)
{
        struct guest_pci *p = &guest.pci;
        const struct guest_acpi *a = &guest.acpi;
        const char *mode = guest_cmdline_get_str("pci", "");

        if (p->scanned)
                return (int)p->count;
        p->scanned = true;

        if (a->ecam_base && guest_strcmp(mode, "cf8") != 0 && a->ecam_bus_end >= a->ecam_bus_start) {
                uint64_t start = a->ecam_base + ((uint64_t)a->ecam_bus_start << 20);
                uint64_t size = ((uint64_t)(a->ecam_bus_end - a->ecam_bus_start) + 1) << 20;

                if (guest_mm_map_mmio(start, size) == 0) {
                        p->ecam = true;
                        p->ecam_base = a->ecam_base;
                        p->ecam_bus_start = a->ecam_bus_start;
                        p->ecam_bus_end = a->ecam_bus_end;
                }
        }
        if (!p->ecam && guest_strcmp(mode, "ecam") == 0)
                return -ENODEV;

        bus_scan(p->ecam ? p->ecam_bus_start : 0, 0);
        bars_assign();
        return (int)p->count;
}

struct guest_pci_dev *guest_pci_find(uint16_t vendor, uint16_t device, struct guest_pci_dev *after)
{
        struct guest_pci *p = &guest.pci;
        unsigned i = after ? (unsigned)(after - p->devs) + 1 : 0;

        for (; i < p->count; i++)
                if (p->devs[i].vendor == vendor && (device == 0xffff || p->devs[i].device == device))
                        return &p->devs[i];
        return NULL;
}

uint8_t guest_pci_find_cap(const struct guest_pci_dev *d, uint8_t cap_id, uint8_t after)
{
        uint8_t pos;

        if (!(guest_pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
                return 0;
        pos = after ? guest_pci_read8(d, after + PCI_CAP_LIST_NEXT) : guest_pci_read8(d, PCI_CAPABILITY_LIST);
        for (unsigned n = 0; n < PCI_CAP_WALK_MAX; n++) {
                pos &= 0xfc;
                if (pos < PCI_STD_HEADER_SIZE)
                        return 0;
                if (guest_pci_read8(d, pos + PCI_CAP_LIST_ID) == cap_id)
                        return pos;
                pos = guest_pci_read8(d, pos + PCI_CAP_LIST_NEXT);
        }
        return 0;
}

int guest_pci_enable(struct guest_pci_dev *d)
{
        uint16_t cmd = guest_pci_read16(d, PCI_COMMAND), want = PCI_COMMAND_MASTER;

        for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
                struct guest_pci_bar *b = &d->bars[i];

                if (!b->size)
                        continue;
                if (b->io) {
                        want |= PCI_COMMAND_IO;
                        continue;
                }
                if (!b->addr)
                        return -ENOSPC;
                if (!b->mapped) {
                        int r = guest_mm_map_mmio(b->addr, b->size);

                        if (r < 0)
                                return r;
                        b->mapped = true;
                }
                want |= PCI_COMMAND_MEMORY;
        }
        if ((cmd & want) != want)
                guest_pci_write(d, PCI_COMMAND, 2, cmd | want);
        return 0;
}

int guest_pci_msix_init(struct guest_pci_dev *d)
{
        uint8_t cap = guest_pci_find_cap(d, PCI_CAP_ID_MSIX, 0);
        uint32_t table;
        uint16_t ctrl;
        const struct guest_pci_bar *b;

        if (!cap)
                return -ENODEV;
        ctrl = guest_pci_read16(d, cap + PCI_MSIX_FLAGS);
        table = guest_pci_read32(d, cap + PCI_MSIX_TABLE);
        if ((table & PCI_MSIX_BIR_MASK) >= PCI_BAR_COUNT)
                return -EINVAL;
        b = &d->bars[table & PCI_MSIX_BIR_MASK];
        d->msix_size = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
        if (b->io || !b->mapped ||
            (uint64_t)(table & ~PCI_MSIX_BIR_MASK) + (uint64_t)d->msix_size * PCI_MSIX_ENTRY_SIZE > b->size)
                return -EINVAL;
        d->msix_cap = cap;
        d->msix_table = b->addr + (table & ~PCI_MSIX_BIR_MASK);
        /* Function masked while the table is set up. */
        guest_pci_write(d, cap + PCI_MSIX_FLAGS, 2, (ctrl & ~PCI_MSIX_FLAGS_ENABLE) | PCI_MSIX_FLAGS_MASKALL);
        for (unsigned i = 0; i < d->msix_size; i++)
                guest_pci_msix_mask(d, i, true);
        return 0;
}

void guest_pci_msix_mask(struct guest_pci_dev *d, unsigned entry, bool masked)
{
        uint64_t e;

        if (!d->msix_cap || entry >= d->msix_size)
                return;
        e = d->msix_table + (uint64_t)entry * PCI_MSIX_ENTRY_SIZE;
        guest_mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

int guest_pci_msix_set(struct guest_pci_dev *d, unsigned entry, uint32_t apic_id, uint8_t vector)
{
        uint64_t e;

        if (!d->msix_cap || entry >= d->msix_size)
                return -EINVAL;
        if (apic_id > 0xff)     /* no extended destination ids, no interrupt remapping */
                return -ERANGE;
        e = d->msix_table + (uint64_t)entry * PCI_MSIX_ENTRY_SIZE;
        guest_mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
        guest_mmio_write32(e + PCI_MSIX_ENTRY_LOWER_ADDR, MSI_ADDRESS_BASE | (apic_id << 12));
        guest_mmio_write32(e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
        guest_mmio_write32(e + PCI_MSIX_ENTRY_DATA, vector);    /* fixed delivery, edge */
        guest_mmio_write32(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        return 0;
}

int guest_pci_msix_enable(struct guest_pci_dev *d, bool on)
{
        uint16_t ctrl, cmd;

        if (!d->msix_cap)
                return -ENODEV;
        ctrl = guest_pci_read16(d, d->msix_cap + PCI_MSIX_FLAGS);
        cmd = guest_pci_read16(d, PCI_COMMAND);
        if (on) {
                guest_pci_write(d, PCI_COMMAND, 2, cmd | PCI_COMMAND_INTX_DISABLE);
                ctrl = (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL;
        } else {
                ctrl &= ~PCI_MSIX_FLAGS_ENABLE;
        }
        guest_pci_write(d, d->msix_cap + PCI_MSIX_FLAGS, 2, ctrl);
        d->msix_enabled = on;
        return 0;
}
