/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration space as the guest sees it: register offsets and bits of the type-0
 * header, configuration mechanism #1 and ECAM address encodings, and the MSI-X capability
 * and table layout (PCI Local Bus 3.0, PCIe base 4.0 chapter 7).
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PCI_CFG_SPACE_SIZE        256u
#define PCI_CFG_SPACE_EXP_SIZE    4096u
#define PCI_MAX_BUSES             256u
#define PCI_MAX_DEVICES           32u
#define PCI_MAX_FUNCTIONS         8u

/* Type-0 header */
#define PCI_VENDOR_ID             0x00u   /* 16 */
#define PCI_DEVICE_ID             0x02u   /* 16 */
#define PCI_COMMAND               0x04u   /* 16 */
#define  PCI_COMMAND_IO           0x0001u
#define  PCI_COMMAND_MEMORY       0x0002u
#define  PCI_COMMAND_MASTER       0x0004u
#define  PCI_COMMAND_PARITY       0x0040u
#define  PCI_COMMAND_SERR         0x0100u
#define  PCI_COMMAND_INTX_DISABLE 0x0400u
#define PCI_STATUS                0x06u   /* 16 */
#define  PCI_STATUS_INTERRUPT     0x0008u
#define  PCI_STATUS_CAP_LIST      0x0010u
#define PCI_REVISION_ID           0x08u
#define PCI_CLASS_PROG            0x09u
#define PCI_CLASS_DEVICE          0x0au   /* 16: base class << 8 | subclass */
#define PCI_CACHE_LINE_SIZE       0x0cu
#define PCI_LATENCY_TIMER         0x0du
#define PCI_HEADER_TYPE           0x0eu
#define  PCI_HEADER_TYPE_NORMAL   0x00u
#define  PCI_HEADER_TYPE_MULTI    0x80u
#define PCI_BIST                  0x0fu
#define PCI_BASE_ADDRESS_0        0x10u   /* six 32-bit BARs, 0x10..0x27 */
#define  PCI_BAR_COUNT            6u
#define  PCI_BAR_SPACE_IO         0x1u
#define  PCI_BAR_MEM_TYPE_32      0x0u
#define  PCI_BAR_MEM_TYPE_64      0x4u
#define  PCI_BAR_MEM_PREFETCH     0x8u
#define  PCI_BAR_MEM_MASK         (~0xfu)
#define PCI_CARDBUS_CIS           0x28u
#define PCI_SUBSYSTEM_VENDOR_ID   0x2cu
#define PCI_SUBSYSTEM_ID          0x2eu
#define PCI_ROM_ADDRESS           0x30u
#define PCI_CAPABILITY_LIST       0x34u
#define PCI_INTERRUPT_LINE        0x3cu
#define PCI_INTERRUPT_PIN         0x3du
#define PCI_MIN_GNT               0x3eu
#define PCI_MAX_LAT               0x3fu
#define PCI_STD_HEADER_SIZE       0x40u

/* Type-1 header (PCI-to-PCI bridge): the bus numbers behind it */
#define  PCI_HEADER_TYPE_BRIDGE   0x01u
#define PCI_PRIMARY_BUS           0x18u
#define PCI_SECONDARY_BUS         0x19u
#define PCI_SUBORDINATE_BUS       0x1au

/* Class codes (base class << 16 | subclass << 8 | prog-if) */
#define PCI_CLASS_STORAGE_SCSI    0x010000u
#define PCI_CLASS_STORAGE_OTHER   0x018000u
#define PCI_CLASS_NETWORK_ETHERNET 0x020000u
#define PCI_CLASS_BRIDGE_HOST     0x060000u
#define PCI_CLASS_COMMUNICATION_OTHER 0x078000u
#define PCI_CLASS_OTHERS          0xff0000u

/* Capability IDs; a capability starts with (id, next) bytes */
#define PCI_CAP_ID_MSI            0x05u
#define PCI_CAP_ID_VNDR           0x09u
#define PCI_CAP_ID_EXP            0x10u
#define PCI_CAP_ID_MSIX           0x11u
#define PCI_CAP_LIST_ID           0u
#define PCI_CAP_LIST_NEXT         1u

/* MSI-X capability */
#define PCI_MSIX_FLAGS            2u      /* 16: message control */
#define  PCI_MSIX_FLAGS_QSIZE     0x07ffu /* table size - 1 */
#define  PCI_MSIX_FLAGS_MASKALL   0x4000u
#define  PCI_MSIX_FLAGS_ENABLE    0x8000u
#define PCI_MSIX_TABLE            4u      /* 32: offset | BIR */
#define PCI_MSIX_PBA              8u      /* 32: offset | BIR */
#define  PCI_MSIX_BIR_MASK        0x7u
#define PCI_MSIX_CAP_SIZE         12u

struct pci_msix_cap {
        uint8_t cap_vndr;       /* PCI_CAP_ID_MSIX */
        uint8_t cap_next;
        uint16_t msg_ctrl;
        uint32_t table;         /* offset in BAR | BIR */
        uint32_t pba;           /* offset in BAR | BIR */
};
_Static_assert(sizeof(struct pci_msix_cap) == 12, "pci_msix_cap size");
_Static_assert(offsetof(struct pci_msix_cap, msg_ctrl) == PCI_MSIX_FLAGS, "msg_ctrl");
_Static_assert(offsetof(struct pci_msix_cap, table) == PCI_MSIX_TABLE, "table");
_Static_assert(offsetof(struct pci_msix_cap, pba) == PCI_MSIX_PBA, "pba");

/* One MSI-X table entry (16 bytes) */
struct pci_msix_entry {
        uint32_t addr_lo;
        uint32_t addr_hi;
        uint32_t data;
        uint32_t ctrl;          /* bit 0: vector masked */
};
#define PCI_MSIX_ENTRY_SIZE          16u
#define PCI_MSIX_ENTRY_LOWER_ADDR    0u
#define PCI_MSIX_ENTRY_UPPER_ADDR    4u
#define PCI_MSIX_ENTRY_DATA          8u
#define PCI_MSIX_ENTRY_VECTOR_CTRL   12u
#define  PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1u
_Static_assert(sizeof(struct pci_msix_entry) == PCI_MSIX_ENTRY_SIZE, "pci_msix_entry size");
_Static_assert(offsetof(struct pci_msix_entry, data) == PCI_MSIX_ENTRY_DATA, "data");
_Static_assert(offsetof(struct pci_msix_entry, ctrl) == PCI_MSIX_ENTRY_VECTOR_CTRL, "ctrl");

/* Configuration mechanism #1: the dword written to port 0xcf8 */
#define PCI_CF8_ENABLE            0x80000000u
#define PCI_CF8_ADDR(bus, dev, fn, reg) \
        (PCI_CF8_ENABLE | ((uint32_t)(bus) << 16) | ((uint32_t)(dev) << 11) | \
         ((uint32_t)(fn) << 8) | ((uint32_t)(reg) & 0xfcu))

/* ECAM: offset of a register from the ECAM base */
#define PCI_ECAM_OFFSET(bus, dev, fn, reg) \
        (((uint64_t)(bus) << 20) | ((uint64_t)(dev) << 15) | ((uint64_t)(fn) << 12) | \
         ((uint64_t)(reg) & 0xfffu))
#define PCI_DEVFN(dev, fn)        ((uint8_t)(((dev) << 3) | (fn)))
#define PCI_SLOT(devfn)           (((devfn) >> 3) & 0x1fu)
#define PCI_FUNC(devfn)           ((devfn) & 0x7u)
