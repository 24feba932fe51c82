/* SPDX-License-Identifier: MIT */
/*
 * PCI: configuration space through mechanism #1 (ports 0xCF8/0xCFC) or ECAM (from the ACPI
 * MCFG), enumeration of bus 0 and of the buses behind configured PCI-to-PCI bridges, BAR
 * sizing (firmware- or VMM-assigned addresses are kept; unassigned memory BARs get one from the
 * platform windows), uncached mappings of memory BARs, capability lists and MSI-X.
 *
 * Every configuration access is an exit to the VMM (about 30 µs in PVM native mode): drivers
 * touch configuration space while they set a device up, never on their data path.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/cpu.h"

#define GUEST_PCI_MAX_FUNCS 64

struct guest_pci_bar {
        uint64_t addr;
        uint64_t size;          /* 0: not implemented */
        bool io;
        bool is64;              /* this BAR and the next form one 64-bit BAR */
        bool prefetch;
        bool mapped;            /* memory BAR mapped uncached in the page tables */
};

struct guest_pci_dev {
        uint8_t bus, dev, fn;
        uint16_t vendor, device;
        uint16_t subsys_vendor, subsys_device;
        uint32_t class_code;    /* base << 16 | sub << 8 | prog-if */
        uint8_t revision;
        uint8_t header_type;    /* without the multi-function bit */
        uint8_t irq_pin;
        struct guest_pci_bar bars[6];

        /* MSI-X, once guest_pci_msix_init() found it */
        uint8_t msix_cap;       /* 0: none */
        uint16_t msix_size;
        uint64_t msix_table;    /* virtual (= physical) address of entry 0 */
        bool msix_enabled;

        bool claimed;           /* a driver owns it */
};

struct guest_pci {
        bool scanned;
        bool ecam;              /* configuration through ECAM, else ports 0xCF8/0xCFC */
        uint64_t ecam_base;
        uint8_t ecam_bus_start, ecam_bus_end;
        unsigned count;
        struct guest_pci_dev devs[GUEST_PCI_MAX_FUNCS];
        uint32_t bus_seen[8];           /* bitmap: buses already scanned */
        uint64_t next_mmio32, next_mmio64;      /* for BARs nobody assigned */
        uint64_t config_accesses;
        struct guest_spinlock lock;
};

/*
 * Enumerate once (later calls return the same count). pci=cf8 or pci=ecam on the command line
 * picks the configuration mechanism; the default is ECAM when the MCFG offers it.
 */
int guest_pci_scan(void);

uint32_t guest_pci_read(const struct guest_pci_dev *d, unsigned reg, unsigned width);
void guest_pci_write(const struct guest_pci_dev *d, unsigned reg, unsigned width, uint32_t v);
static inline uint8_t guest_pci_read8(const struct guest_pci_dev *d, unsigned reg)
{
        return (uint8_t)guest_pci_read(d, reg, 1);
}
static inline uint16_t guest_pci_read16(const struct guest_pci_dev *d, unsigned reg)
{
        return (uint16_t)guest_pci_read(d, reg, 2);
}
static inline uint32_t guest_pci_read32(const struct guest_pci_dev *d, unsigned reg)
{
        return guest_pci_read(d, reg, 4);
}

/* The next function with this vendor (and device, unless 0xffff) after `after` (NULL: first). */
struct guest_pci_dev *guest_pci_find(uint16_t vendor, uint16_t device, struct guest_pci_dev *after);

/*
 * Capability list: the offset of the first capability with id cap_id after offset `after`
 * (0: from the start), or 0. Bounded: a looping list ends the walk.
 */
uint8_t guest_pci_find_cap(const struct guest_pci_dev *d, uint8_t cap_id, uint8_t after);

/* Map every memory BAR uncached and enable memory decoding and bus mastering. */
int guest_pci_enable(struct guest_pci_dev *d);

/*
 * MSI-X: find the capability and map its table (guest_pci_enable() first). Then program entries
 * (fixed delivery, edge, physical destination apic_id), and enable: MSI-X on, INTx off.
 */
int guest_pci_msix_init(struct guest_pci_dev *d);
int guest_pci_msix_set(struct guest_pci_dev *d, unsigned entry, uint32_t apic_id, uint8_t vector);
void guest_pci_msix_mask(struct guest_pci_dev *d, unsigned entry, bool masked);
int guest_pci_msix_enable(struct guest_pci_dev *d, bool on);

/* "bb:dd.f" */
void guest_pci_name(const struct guest_pci_dev *d, char buf[8]);
