/* SPDX-License-Identifier: MIT */
/*
 * The platform vmwp presents to a guest: fixed port numbers, interrupt lines and the
 * guest-physical address map. The guest kernel may use these constants directly; a Linux
 * guest learns the same facts from the ACPI tables vmwp writes.
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stdint.h>

/* Legacy I/O ports */
#define PLATFORM_PORT_COM1        0x3f8u   /* 8250 UART, 8 ports */
#define PLATFORM_IRQ_COM1         4u
#define PLATFORM_PORT_RTC         0x70u    /* CMOS index/data, 2 ports */
#define PLATFORM_IRQ_RTC          8u
#define PLATFORM_PORT_I8042_DATA  0x60u
#define PLATFORM_PORT_I8042_CMD   0x64u    /* write 0xfe = pulse reset line */
#define PLATFORM_I8042_CMD_RESET  0xfeu
#define PLATFORM_PORT_POST        0x80u    /* POST code port, ignored */
#define PLATFORM_PORT_PCI_ADDR    0xcf8u   /* configuration mechanism #1 */
#define PLATFORM_PORT_PCI_DATA    0xcfcu
#define PLATFORM_PORT_RESET       0xcf9u   /* reset control register: 0x06 = hard reset */
#define PLATFORM_RESET_CF9_VALUE  0x06u

/* ACPI fixed hardware (FADT PM1a blocks) */
#define PLATFORM_PORT_PM1A_EVT    0x600u   /* PM1a_EVT_BLK: status(2) + enable(2) */
#define PLATFORM_PM1_EVT_LEN      4u
#define PLATFORM_PORT_PM1A_CNT    0x604u   /* PM1a_CNT_BLK: control(2) */
#define PLATFORM_PM1_CNT_LEN      2u
#define PLATFORM_IRQ_SCI          9u
#define PLATFORM_SLP_TYP_S5       5u       /* value in the DSDT's \_S5 package */
#define PM1_STS_PWRBTN            (1u << 8)
#define PM1_STS_WAK               (1u << 15)
#define PM1_EN_PWRBTN             (1u << 8)
#define PM1_CNT_SCI_EN            (1u << 0)
#define PM1_CNT_SLP_TYP_SHIFT     10
#define PM1_CNT_SLP_TYP_MASK      (7u << 10)
#define PM1_CNT_SLP_EN            (1u << 13)

/* Guest-physical layout */
#define PLATFORM_LOW_RAM_END      0xb0000000ull  /* RAM below 4 GiB ends here */
#define PLATFORM_ECAM_BASE        0xb0000000ull  /* PCI ECAM, bus 0..255 */
#define PLATFORM_ECAM_SIZE        0x10000000ull
#define PLATFORM_MMIO32_BASE      0xc0000000ull  /* 32-bit PCI BAR window */
#define PLATFORM_MMIO32_END       0xfec00000ull
#define PLATFORM_IOAPIC_BASE      0xfec00000ull
#define PLATFORM_LAPIC_BASE       0xfee00000ull
#define PLATFORM_HIGH_RAM_BASE    0x100000000ull /* the rest of RAM */
#define PLATFORM_MMIO64_BASE      0x8000000000ull /* 64-bit PCI BAR window (512 GiB) */
#define PLATFORM_MMIO64_SIZE      0x1000000000ull

/* Low memory used by vmwp for boot structures (below 1 MiB, reported reserved in e820) */
#define PLATFORM_BOOT_INFO_ADDR   0x6000ull      /* hvm_start_info or boot_params (4 KiB) */
#define PLATFORM_BOOT_MMAP_ADDR   0x7000ull      /* PVH memory map / modlist (4 KiB) */
#define PLATFORM_CMDLINE_ADDR     0x20000ull     /* kernel command line (up to 64 KiB) */
#define PLATFORM_CMDLINE_MAX      0x10000u
#define PLATFORM_ACPI_ADDR        0xe0000ull     /* RSDP and tables, 128 KiB */
#define PLATFORM_ACPI_SIZE        0x20000u
#define PLATFORM_BOOT_PGTABLE     0x9000ull      /* bzImage 64-bit entry: identity page tables */
#define PLATFORM_KERNEL_MIN_ADDR  0x100000ull    /* kernels load at or above 1 MiB */

#define PLATFORM_IOAPIC_PINS      24u
#define PLATFORM_MAX_VCPUS        255u
