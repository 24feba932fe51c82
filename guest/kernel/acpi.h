/* SPDX-License-Identifier: MIT */
/*
 * ACPI table parsing (RSDP, XSDT/RSDT, MADT, FADT, DSDT's \_S5, MCFG) and, where ACPI is
 * absent, the Intel MP table. Both fill struct guest_topology: the vCPUs' APIC ids, the
 * IOAPICs and the ISA interrupt source overrides.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/apic.h"
#include "kernel/cpu.h"

#define GUEST_MAX_ISOS 24

#define ACPI_GAS_MEMORY 0
#define ACPI_GAS_IO     1

struct guest_gas {
        uint8_t space;
        uint8_t bit_width;
        uint8_t bit_offset;
        uint8_t access_size;
        uint64_t address;
};

struct guest_ioapic_info {
        uint32_t id;
        uint32_t gsi_base;
        uint32_t pins;          /* 0 until read from the IOAPIC version register */
        uint64_t address;
};

/* MADT interrupt source override flags (MPS INTI flags) */
#define ISO_POLARITY_MASK       0x3
#define ISO_POLARITY_HIGH       0x1
#define ISO_POLARITY_LOW        0x3
#define ISO_TRIGGER_MASK        0xc
#define ISO_TRIGGER_EDGE        0x4
#define ISO_TRIGGER_LEVEL       0xc

struct guest_iso {
        uint8_t bus_irq;
        uint16_t flags;
        uint32_t gsi;
};

struct guest_topology {
        const char *source;             /* "acpi", "mptable" or "none" */
        uint64_t lapic_base;
        unsigned cpu_count;
        uint32_t cpu_apic_ids[GUEST_MAX_CPUS];
        unsigned ioapic_count;
        struct guest_ioapic_info ioapics[GUEST_MAX_IOAPICS];
        unsigned iso_count;
        struct guest_iso isos[GUEST_MAX_ISOS];
        bool pic_present;
};

struct guest_acpi {
        bool present;
        uint64_t rsdp;
        uint8_t revision;
        char oem_id[7];

        /* FADT */
        bool fadt;
        bool hw_reduced;
        uint16_t sci_irq;
        uint32_t smi_cmd;
        uint8_t acpi_enable;
        uint16_t pm1a_evt, pm1b_evt;    /* I/O ports, 0 = none */
        uint16_t pm1a_cnt, pm1b_cnt;
        uint8_t pm1_evt_len;
        struct guest_gas sleep_ctl, sleep_sts;
        bool reset_supported;
        struct guest_gas reset_reg;
        uint8_t reset_value;

        /* DSDT */
        uint64_t dsdt;
        bool s5_found;
        uint8_t slp_typa, slp_typb;

        /* MCFG (first entry) */
        uint64_t ecam_base;
        uint16_t ecam_segment;
        uint8_t ecam_bus_start, ecam_bus_end;

        unsigned table_count;
};

/* Find and parse the tables; rsdp_hint (may be 0) comes from the PVH start_info. */
int guest_acpi_init(struct guest_acpi *a, struct guest_topology *t, uint64_t rsdp_hint);
int guest_mptable_init(struct guest_topology *t);
/* Nothing found: the boot CPU and the platform's default IOAPIC. */
void guest_topology_default(struct guest_topology *t, uint32_t bsp_apic_id);

int guest_topology_isa_irq(const struct guest_topology *t, unsigned irq, bool sci, uint32_t *ret_gsi,
                           bool *ret_level, bool *ret_low);

int guest_gas_write(const struct guest_gas *g, uint64_t value);
int guest_gas_read(const struct guest_gas *g, uint64_t *ret);
