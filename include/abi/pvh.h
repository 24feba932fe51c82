/* SPDX-License-Identifier: MIT */
/*
 * The PVH boot ABI (Xen's "HVM direct boot"): the ELF note that names the 32-bit entry
 * point and the start-of-day structure whose physical address arrives in %ebx.
 * Layout as in Xen's public/arch-x86/hvm/start_info.h, version 1.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define XEN_ELFNOTE_PHYS32_ENTRY   18u
#define XEN_ELFNOTE_NAME           "Xen"
#define HVM_START_MAGIC_VALUE      0x336ec578u

#define HVM_MEMMAP_TYPE_RAM        1u
#define HVM_MEMMAP_TYPE_RESERVED   2u
#define HVM_MEMMAP_TYPE_ACPI       3u
#define HVM_MEMMAP_TYPE_NVS        4u

struct hvm_start_info {
        uint32_t magic;
        uint32_t version;
        uint32_t flags;
        uint32_t nr_modules;
        uint64_t modlist_paddr;
        uint64_t cmdline_paddr;
        uint64_t rsdp_paddr;
        uint64_t memmap_paddr;
        uint32_t memmap_entries;
        uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");

struct hvm_modlist_entry {
        uint64_t paddr;
        uint64_t size;
        uint64_t cmdline_paddr;
        uint64_t reserved;
};
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");

struct hvm_memmap_table_entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
        uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");
