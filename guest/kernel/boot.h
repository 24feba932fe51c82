/* SPDX-License-Identifier: MIT */
/*
 * Constants shared by the assembly boot path and C: selectors, MSRs, control-register bits,
 * fixed low-memory addresses, and the layout of struct guest_boot, the small block of data the
 * 32/64-bit entry code fills in before any C runs (see entry.S).
 */
#pragma once

#define GUEST_KERNEL_CS         0x08    /* 64-bit ring-0 code */
#define GUEST_KERNEL_DS         0x10    /* flat ring-0 data */
#define GUEST_KERNEL_CS32       0x18    /* 32-bit ring-0 code (unused, for completeness) */
#define GUEST_NATIVE_SS         0x2b    /* PVM native mode: the host's user SS ... */
#define GUEST_NATIVE_CS         0x33    /* ... and user CS; IDT gates use this selector */
#define GUEST_GDT_ENTRIES       7

#define GUEST_STACK_SIZE        0x4000  /* per-CPU stack, aligned to its size */
#define GUEST_TRAMPOLINE_ADDR   0x1000  /* AP real-mode trampoline (SIPI vector 0x01) */
#define GUEST_TRAMPOLINE_MAX    0x1000

#define XEN_NOTE_PHYS32_ENTRY   18      /* == XEN_ELFNOTE_PHYS32_ENTRY in <abi/pvh.h> */

#define MSR_EFER                0xc0000080
#define MSR_STAR                0xc0000081
#define MSR_PVM_NATIVE          0x4b564d10  /* bit 0: run all 64-bit guest code natively */
#define MSR_PVM_PROBE           0x4b564d11  /* reads PVM_PROBE_VALUE on PVM hosts, #GP elsewhere */
#define PVM_PROBE_VALUE         0x4d5650    /* "PVM" */
#define GUEST_STAR_NATIVE_HI    0x00230010  /* STAR[63:32]: sysret CS = 0x23+16 = 0x33, SS = 0x2b */

#define EFER_SCE                (1 << 0)
#define EFER_LME                (1 << 8)
#define CR0_PE                  (1 << 0)
#define CR0_PG                  (1 << 31)
#define CR4_PAE                 (1 << 5)

#define PTE_P                   0x001
#define PTE_W                   0x002
#define PTE_U                   0x004
#define PTE_PWT                 0x008
#define PTE_PCD                 0x010
#define PTE_A                   0x020
#define PTE_D                   0x040
#define PTE_PS                  0x080
#define PTE_TABLE               (PTE_P | PTE_W | PTE_U | PTE_A)
#define PTE_LARGE               (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_PS)

/* struct guest_boot, offsets used by entry.S and trampoline.S */
#define BOOT_START_INFO         0       /* u32: %ebx at PVH entry */
#define BOOT_NATIVE             4       /* u32: 1 when PVM native mode was switched on */
#define BOOT_CPUID1             8       /* u32[4]: CPUID leaf 1 eax, ebx, ecx, edx */
#define BOOT_CPUID_HV           24      /* u32[4]: CPUID leaf 0x40000000 */
#define BOOT_CPUID_HV_FEAT      40      /* u32: CPUID leaf 0x40000001 eax */
#define BOOT_AP_NEXT            44      /* u32: next AP slot, taken with lock xadd */
#define BOOT_AP_MAX             48      /* u32: highest valid AP slot */
#define BOOT_PAD                52
#define BOOT_AP_STACKS          56      /* u64: address of u64[] stack tops, indexed by slot */
#define BOOT_ENTRY_TSC          64      /* u64: TSC at the PVH entry (first instruction) */
#define BOOT_NATIVE_TSC         72      /* u64: TSC after the 64-bit switch and the native-mode switch */
#define BOOT_SIZE               80

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

struct guest_boot {
        uint32_t start_info;
        uint32_t native;
        uint32_t cpuid1[4];
        uint32_t cpuid_hv[4];
        uint32_t cpuid_hv_features;
        uint32_t ap_next;
        uint32_t ap_max;
        uint32_t pad;
        uint64_t ap_stacks;
        uint64_t entry_tsc;
        uint64_t native_tsc;
};
_Static_assert(offsetof(struct guest_boot, start_info) == BOOT_START_INFO, "start_info");
_Static_assert(offsetof(struct guest_boot, native) == BOOT_NATIVE, "native");
_Static_assert(offsetof(struct guest_boot, cpuid1) == BOOT_CPUID1, "cpuid1");
_Static_assert(offsetof(struct guest_boot, cpuid_hv) == BOOT_CPUID_HV, "cpuid_hv");
_Static_assert(offsetof(struct guest_boot, cpuid_hv_features) == BOOT_CPUID_HV_FEAT, "hv_feat");
_Static_assert(offsetof(struct guest_boot, ap_next) == BOOT_AP_NEXT, "ap_next");
_Static_assert(offsetof(struct guest_boot, ap_max) == BOOT_AP_MAX, "ap_max");
_Static_assert(offsetof(struct guest_boot, ap_stacks) == BOOT_AP_STACKS, "ap_stacks");
_Static_assert(offsetof(struct guest_boot, entry_tsc) == BOOT_ENTRY_TSC, "entry_tsc");
_Static_assert(offsetof(struct guest_boot, native_tsc) == BOOT_NATIVE_TSC, "native_tsc");
_Static_assert(sizeof(struct guest_boot) == BOOT_SIZE, "guest_boot size");

/* Defined in entry.S / trampoline.S / the linker script. */
extern struct guest_boot guest_boot;
extern uint64_t guest_boot_pml4[512];
extern uint64_t guest_boot_pdpt[512];
extern uint8_t guest_boot_stack[GUEST_STACK_SIZE];
extern const uint8_t guest_trampoline_start[], guest_trampoline_end[];
extern uint8_t _kernel_start[], _kernel_end[], _bss_start[], _bss_end[];
#endif
