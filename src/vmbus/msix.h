/* SPDX-License-Identifier: MIT */
/*
 * MSI-X state of one PCI function: the vector table and pending-bit array as the guest
 * reads and writes them, and for every unmasked vector a KVM GSI route plus an irqfd, so a
 * device thread raises an interrupt with one eventfd write and no exit.
 */
#pragma once

#include <abi/pci.h>

#include <stdbool.h>
#include <stdint.h>

struct vmhost;
struct pci_msix;

/* host must outlive the object. */
int pci_msix_new(const struct vmhost *host, unsigned nvec, struct pci_msix **ret);
void pci_msix_free(struct pci_msix *m);

/* Guest accesses at `off` in the table / PBA (4- or 8-byte, aligned; others read 0). */
void pci_msix_table_access(struct pci_msix *m, uint64_t off, void *data, unsigned len,
                           bool is_write);
void pci_msix_pba_access(struct pci_msix *m, uint64_t off, void *data, unsigned len,
                         bool is_write);
/* Power-on state: disabled, every vector masked, nothing pending. Routes stay. */
void pci_msix_reset(struct pci_msix *m);
/* The Message Control register changed. */
void pci_msix_set_control(struct pci_msix *m, bool enable, bool maskall);
/* 1: delivered or pending (masked), 0: MSI-X disabled, nothing sent; -EINVAL. */
int pci_msix_signal(struct pci_msix *m, unsigned v);
bool pci_msix_is_enabled(struct pci_msix *m);
unsigned pci_msix_size(const struct pci_msix *m);

/* Saved state: the table (host byte order) and the pending bits, nvec entries each. */
void pci_msix_get_state(struct pci_msix *m, struct pci_msix_entry *table, uint8_t *pending);
/* Load them (routes follow the entries); MSI-X control comes from configuration space. */
void pci_msix_set_state(struct pci_msix *m, const struct pci_msix_entry *table, const uint8_t *pending);
