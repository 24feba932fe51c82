/* SPDX-License-Identifier: MIT */
/*
 * The PCI host bridge and bus 0: configuration mechanism #1 (ports 0xcf8/0xcfc) and ECAM
 * onto one configuration space, type-0 functions with memory BARs that the bus places in
 * the platform's MMIO windows and re-registers when the guest moves them, capability
 * lists, and MSI-X (table and PBA inside a BAR, vectors routed to KVM GSIs with irqfds).
 *
 * Locking: one bus mutex for configuration space and BAR placement (vCPU threads), one
 * mutex per function for MSI-X state (vCPU threads and device I/O threads). Order:
 * bus lock, then a device's own lock, then MSI-X.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <abi/pci.h>

#include "vmms/iobus.h"
#include "vmms/vmhost.h"

struct pci_bus;
struct pci_func;

#define PCI_BAR_F_64BIT     0x1u
#define PCI_BAR_F_PREFETCH  0x2u

struct pci_func_ops {
        /* Before bytes [off, off+len) of config space are read (refresh dynamic fields). */
        void (*cfg_read)(void *opaque, struct pci_func *f, uint32_t off, uint32_t len);
        /* After a write to [off, off+len) was merged into config space. */
        void (*cfg_write)(void *opaque, struct pci_func *f, uint32_t off, uint32_t len);
        /* A BAR was registered at addr (mapped) or removed from addr (!mapped). */
        void (*bar_mapped)(void *opaque, unsigned bar, uint64_t addr, bool mapped);
};

/*
 * Create bus 0 with a host bridge at 00.0 and register 0xcf8-0xcff on host->pio and ECAM
 * at PLATFORM_ECAM_BASE on host->mmio. A 1-byte access to 0xcf9 goes to cf9_fn (offset 0),
 * which may be NULL.
 */
int pci_bus_new(const struct vmhost *host, iobus_handler_fn cf9_fn, void *cf9_opaque,
                struct pci_bus **ret);
void pci_bus_free(struct pci_bus *b);
/* Platform reset: BARs back where the bus put them, decode on, MSI-X off and masked. */
void pci_bus_reset(struct pci_bus *b);

/* Configuration access by (devfn, reg) for tests and the PCI_CFG window: len 1, 2, 4. */
uint32_t pci_bus_cfg_read(struct pci_bus *b, uint8_t devfn, uint32_t reg, unsigned len);
void pci_bus_cfg_write(struct pci_bus *b, uint8_t devfn, uint32_t reg, uint32_t val, unsigned len);

/*
 * Add a type-0 function at the first free slot (function 0). Configuration space starts
 * with the given IDs, memory decode and bus mastering enabled as firmware would leave them.
 */
int pci_func_new(struct pci_bus *b, uint16_t vendor, uint16_t device, uint32_t class_code,
                 uint8_t revision, uint16_t subsys_vendor, uint16_t subsys,
                 const struct pci_func_ops *ops, void *opaque, struct pci_func **ret);
/* Unplug (while no vCPU runs): BARs leave the MMIO bus, MSI-X routes go. */
void pci_func_free(struct pci_func *f);
uint8_t pci_func_devfn(const struct pci_func *f);
struct pci_bus *pci_func_bus(const struct pci_func *f);

/*
 * A memory BAR of `size` bytes (a power of two >= 4 KiB), placed in the 32-bit window if
 * it fits there, else (64-bit BARs) in the 64-bit window. Accesses at offsets outside the
 * MSI-X table and PBA go to fn. Call before the guest runs.
 */
int pci_func_add_bar(struct pci_func *f, unsigned bar, uint64_t size, unsigned flags,
                     iobus_handler_fn fn, void *opaque);
uint64_t pci_func_bar_addr(struct pci_func *f, unsigned bar);
bool pci_func_bar_mapped(struct pci_func *f, unsigned bar);

/*
 * Append a capability (its first two bytes are ID and next, next is filled in); wmask
 * marks the bits the guest may write (NULL: read-only). Returns its offset.
 */
int pci_func_add_cap(struct pci_func *f, const void *cap, uint8_t len, const uint8_t *wmask);
/* The function's configuration bytes (4 KiB); only under a cfg_read/cfg_write hook. */
uint8_t *pci_func_config(struct pci_func *f);

/* MSI-X with nvec vectors; table and PBA live in BAR `bar` at the given offsets. */
int pci_func_add_msix(struct pci_func *f, unsigned nvec, unsigned bar, uint32_t table_off,
                      uint32_t pba_off);
/*
 * Signal vector v (from any thread): 1 when delivered or left pending while masked, 0 when
 * MSI-X is disabled (nothing sent: the caller falls back to its ISR bit), -EINVAL bad v.
 */
int pci_msix_notify(struct pci_func *f, unsigned v);
bool pci_msix_enabled(struct pci_func *f);
unsigned pci_msix_nvec(const struct pci_func *f);

struct vmstate;
struct vmstate_writer;
/*
 * Saved state of a function (section "pci.DEVFN"): configuration space and MSI-X. Load
 * restores the writable bits, then the MSI-X table, the BARs, MSI-X control and the command
 * register through the same paths a guest's writes take (BARs map, routes follow). Only
 * while no vCPU runs.
 */
int pci_func_save(struct pci_func *f, struct vmstate_writer *w);
int pci_func_load(struct pci_func *f, struct vmstate *st, char *err, size_t err_len);
