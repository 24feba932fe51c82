/* SPDX-License-Identifier: MIT */
#include <abi/platform.h>

#include "kernel/acpi.h"
#include "kernel/kernel.h"

#define ACPI_HEADER_LEN         36
#define ACPI_TABLE_MAX          (16u << 20)
#define ACPI_MAPPED_LIMIT       0x100000000ull  /* the boot identity map */

#define FADT_SCI_INT            46
#define FADT_SMI_CMD            48
#define FADT_ACPI_ENABLE        52
#define FADT_PM1A_EVT_BLK       56
#define FADT_PM1B_EVT_BLK       60
#define FADT_PM1A_CNT_BLK       64
#define FADT_PM1B_CNT_BLK       68
#define FADT_PM1_EVT_LEN        88
#define FADT_FLAGS              112
#define FADT_RESET_REG          116
#define FADT_RESET_VALUE        128
#define FADT_X_DSDT             140
#define FADT_X_PM1A_EVT_BLK     148
#define FADT_X_PM1A_CNT_BLK     172
#define FADT_SLEEP_CONTROL_REG  244
#define FADT_SLEEP_STATUS_REG   256
#define FADT_DSDT               40
#define FADT_FLAG_RESET_REG_SUP (1u << 10)
#define FADT_FLAG_HW_REDUCED    (1u << 20)

#define MADT_LAPIC_ADDR         36
#define MADT_FLAGS              40
#define MADT_ENTRIES            44
#define MADT_FLAG_PCAT_COMPAT   1u
#define MADT_LAPIC              0
#define MADT_IOAPIC             1
#define MADT_ISO                2
#define MADT_LAPIC_OVERRIDE     5
#define MADT_X2APIC             9
#define MADT_CPU_ENABLED        1u

#define AML_ZERO_OP             0x00
#define AML_ONE_OP              0x01
#define AML_NAME_OP             0x08
#define AML_BYTE_PREFIX         0x0a
#define AML_PACKAGE_OP          0x12

static uint8_t rd8(uint64_t a)
{
        return *(const volatile uint8_t *)(uintptr_t)a;
}

static uint16_t rd16(uint64_t a)
{
        uint16_t v;
        memcpy(&v, (const void *)(uintptr_t)a, sizeof(v));
        return v;
}

static uint32_t rd32(uint64_t a)
{
        uint32_t v;
        memcpy(&v, (const void *)(uintptr_t)a, sizeof(v));
        return v;
}

static uint64_t rd64(uint64_t a)
{
        uint64_t v;
        memcpy(&v, (const void *)(uintptr_t)a, sizeof(v));
        return v;
}

static bool checksum_ok(uint64_t a, uint32_t len)
{
        uint8_t sum = 0;

        for (uint32_t i = 0; i < len; i++)
                sum += rd8(a + i);
        return sum == 0;
}

static bool mapped(uint64_t a, uint64_t len)
{
        return a != 0 && a < ACPI_MAPPED_LIMIT && len <= ACPI_MAPPED_LIMIT - a;
}

/* Length of a valid table at a with signature sig (NULL = any), or 0. */
static uint32_t table_check(uint64_t a, const char *sig)
{
        uint32_t len;

        if (!mapped(a, ACPI_HEADER_LEN))
                return 0;
        if (sig && memcmp((const void *)(uintptr_t)a, sig, 4) != 0)
                return 0;
        len = rd32(a + 4);
        if (len < ACPI_HEADER_LEN || len > ACPI_TABLE_MAX || !mapped(a, len))
                return 0;
        if (!checksum_ok(a, len))
                return 0;
        return len;
}

static bool rsdp_valid(uint64_t a)
{
        if (!mapped(a, 36) || memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8) != 0)
                return false;
        if (!checksum_ok(a, 20))
                return false;
        if (rd8(a + 15) >= 2) {
                uint32_t len = rd32(a + 20);
                if (len < 36 || len > 4096 || !checksum_ok(a, len))
                        return false;
        }
        return true;
}

static uint64_t rsdp_scan(uint64_t start, uint64_t end)
{
        for (uint64_t a = start; a + 20 <= end; a += 16)
                if (rd8(a) == 'R' && rsdp_valid(a))
                        return a;
        return 0;
}

static uint64_t rsdp_find(uint64_t hint)
{
        uint64_t ebda, a;

        if (hint && rsdp_valid(hint))
                return hint;
        ebda = (uint64_t)rd16(0x40e) << 4;
        if (ebda >= 0x80000 && ebda < 0xa0000) {
                a = rsdp_scan(ebda, ebda + 1024);
                if (a)
                        return a;
        }
        return rsdp_scan(0xe0000, 0x100000);
}

static void gas_parse(uint64_t a, struct guest_gas *g)
{
        g->space = rd8(a);
        g->bit_width = rd8(a + 1);
        g->bit_offset = rd8(a + 2);
        g->access_size = rd8(a + 3);
        g->address = rd64(a + 4);
}

static void parse_madt(struct guest_topology *t, uint64_t a, uint32_t len)
{
        t->lapic_base = rd32(a + MADT_LAPIC_ADDR);
        t->pic_present = (rd32(a + MADT_FLAGS) & MADT_FLAG_PCAT_COMPAT) != 0;

        for (uint64_t p = a + MADT_ENTRIES; p + 2 <= a + len;) {
                uint8_t type = rd8(p), elen = rd8(p + 1);

                if (elen < 2 || p + elen > a + len)
                        break;
                switch (type) {
                case MADT_LAPIC:
                        if (elen >= 8 && (rd32(p + 4) & MADT_CPU_ENABLED) && t->cpu_count < GUEST_MAX_CPUS)
                                t->cpu_apic_ids[t->cpu_count++] = rd8(p + 3);
                        break;
                case MADT_X2APIC:
                        if (elen >= 16 && (rd32(p + 8) & MADT_CPU_ENABLED) && t->cpu_count < GUEST_MAX_CPUS)
                                t->cpu_apic_ids[t->cpu_count++] = rd32(p + 4);
                        break;
                case MADT_IOAPIC:
                        if (elen >= 12 && t->ioapic_count < GUEST_MAX_IOAPICS) {
                                struct guest_ioapic_info *io = &t->ioapics[t->ioapic_count++];
                                io->id = rd8(p + 2);
                                io->address = rd32(p + 4);
                                io->gsi_base = rd32(p + 8);
                        }
                        break;
                case MADT_ISO:
                        if (elen >= 10 && rd8(p + 2) == 0 && t->iso_count < GUEST_MAX_ISOS) {
                                struct guest_iso *iso = &t->isos[t->iso_count++];
                                iso->bus_irq = rd8(p + 3);
                                iso->gsi = rd32(p + 4);
                                iso->flags = rd16(p + 8);
                        }
                        break;
                case MADT_LAPIC_OVERRIDE:
                        if (elen >= 12)
                                t->lapic_base = rd64(p + 4);
                        break;
                default:
                        break;
                }
                p += elen;
        }
}

/* Find Name(_S5_, Package() { SLP_TYPa, SLP_TYPb, ... }) in AML and read its first two values. */
static int aml_parse_s5(uint64_t a, uint32_t len, uint8_t *ret_a, uint8_t *ret_b)
{
        const uint8_t *aml = (const uint8_t *)(uintptr_t)a;
        const uint8_t *end = aml + len;
        const uint8_t *p = aml + ACPI_HEADER_LEN;

        for (;;) {
                const uint8_t *s = guest_memmem(p, (size_t)(end - p), "_S5_", 4);
                uint8_t values[2];

                if (!s)
                        return -ENOENT;
                p = s + 4;
                /* NameOp, optionally followed by the root prefix '\' before the name. */
                if (!(s - aml >= 1 && s[-1] == AML_NAME_OP) &&
                    !(s - aml >= 2 && s[-1] == '\\' && s[-2] == AML_NAME_OP))
                        continue;
                if (p >= end || *p != AML_PACKAGE_OP)
                        continue;
                p++;
                if (p >= end)
                        return -EBADMSG;
                p += 1 + (*p >> 6);     /* PkgLength: lead byte bits 7:6 = extra bytes */
                p++;                    /* NumElements */
                for (unsigned i = 0; i < 2; i++) {
                        if (p >= end)
                                return -EBADMSG;
                        if (*p == AML_BYTE_PREFIX) {
                                if (p + 1 >= end)
                                        return -EBADMSG;
                                values[i] = p[1];
                                p += 2;
                        } else if (*p == AML_ZERO_OP || *p == AML_ONE_OP) {
                                values[i] = *p;
                                p++;
                        } else {
                                return -EBADMSG;
                        }
                }
                *ret_a = values[0];
                *ret_b = values[1];
                return 0;
        }
}

static void parse_fadt(struct guest_acpi *a, uint64_t f, uint32_t len)
{
        uint32_t flags = len >= FADT_FLAGS + 4 ? rd32(f + FADT_FLAGS) : 0;

        a->fadt = true;
        a->sci_irq = rd16(f + FADT_SCI_INT);
        a->smi_cmd = rd32(f + FADT_SMI_CMD);
        a->acpi_enable = rd8(f + FADT_ACPI_ENABLE);
        a->pm1a_evt = (uint16_t)rd32(f + FADT_PM1A_EVT_BLK);
        a->pm1b_evt = (uint16_t)rd32(f + FADT_PM1B_EVT_BLK);
        a->pm1a_cnt = (uint16_t)rd32(f + FADT_PM1A_CNT_BLK);
        a->pm1b_cnt = (uint16_t)rd32(f + FADT_PM1B_CNT_BLK);
        a->pm1_evt_len = rd8(f + FADT_PM1_EVT_LEN);
        a->hw_reduced = (flags & FADT_FLAG_HW_REDUCED) != 0;

        if (len >= FADT_RESET_VALUE + 1) {
                a->reset_supported = (flags & FADT_FLAG_RESET_REG_SUP) != 0;
                gas_parse(f + FADT_RESET_REG, &a->reset_reg);
                a->reset_value = rd8(f + FADT_RESET_VALUE);
        }

        a->dsdt = rd32(f + FADT_DSDT);
        if (len >= FADT_X_DSDT + 8 && rd64(f + FADT_X_DSDT))
                a->dsdt = rd64(f + FADT_X_DSDT);

        /* ACPI 2.0+ extended PM1 blocks, when the 32-bit ones are empty and they are I/O. */
        if (!a->pm1a_evt && len >= FADT_X_PM1A_EVT_BLK + 12) {
                struct guest_gas g;
                gas_parse(f + FADT_X_PM1A_EVT_BLK, &g);
                if (g.space == ACPI_GAS_IO && g.address <= 0xffff) {
                        a->pm1a_evt = (uint16_t)g.address;
                        if (!a->pm1_evt_len)
                                a->pm1_evt_len = g.bit_width / 8;
                }
        }
        if (!a->pm1a_cnt && len >= FADT_X_PM1A_CNT_BLK + 12) {
                struct guest_gas g;
                gas_parse(f + FADT_X_PM1A_CNT_BLK, &g);
                if (g.space == ACPI_GAS_IO && g.address <= 0xffff)
                        a->pm1a_cnt = (uint16_t)g.address;
        }
        if (len >= FADT_SLEEP_STATUS_REG + 12) {
                gas_parse(f + FADT_SLEEP_CONTROL_REG, &a->sleep_ctl);
                gas_parse(f + FADT_SLEEP_STATUS_REG, &a->sleep_sts);
        }
}

static void parse_mcfg(struct guest_acpi *a, uint64_t m, uint32_t len)
{
        if (len < 44 + 16)
                return;
        a->ecam_base = rd64(m + 44);
        a->ecam_segment = rd16(m + 52);
        a->ecam_bus_start = rd8(m + 54);
        a->ecam_bus_end = rd8(m + 55);
}

static void parse_table(struct guest_acpi *a, struct guest_topology *t, uint64_t addr)
{
        uint32_t len = table_check(addr, NULL);

        if (!len)
                return;
        a->table_count++;
        if (memcmp((const void *)(uintptr_t)addr, "APIC", 4) == 0) {
                if (t->cpu_count == 0)
                        parse_madt(t, addr, len);
        } else if (memcmp((const void *)(uintptr_t)addr, "FACP", 4) == 0) {
                parse_fadt(a, addr, len);
        } else if (memcmp((const void *)(uintptr_t)addr, "MCFG", 4) == 0) {
                parse_mcfg(a, addr, len);
        }
}

int guest_acpi_init(struct guest_acpi *a, struct guest_topology *t, uint64_t rsdp_hint)
{
        uint64_t rsdp = rsdp_find(rsdp_hint), root;
        uint32_t len, entry_size;

        if (!rsdp)
                return -ENOENT;
        a->rsdp = rsdp;
        a->revision = rd8(rsdp + 15);
        memcpy(a->oem_id, (const void *)(uintptr_t)(rsdp + 9), 6);
        a->oem_id[6] = 0;
        for (int i = 5; i >= 0 && (a->oem_id[i] == ' ' || a->oem_id[i] == 0); i--)
                a->oem_id[i] = 0;
        for (int i = 0; a->oem_id[i]; i++)
                if (a->oem_id[i] <= ' ' || a->oem_id[i] > '~')
                        a->oem_id[i] = '_';

        root = a->revision >= 2 ? rd64(rsdp + 24) : 0;
        entry_size = 8;
        len = root ? table_check(root, "XSDT") : 0;
        if (!len) {
                root = rd32(rsdp + 16);
                entry_size = 4;
                len = table_check(root, "RSDT");
        }
        if (!len)
                return -EBADMSG;

        a->present = true;
        for (uint64_t p = root + ACPI_HEADER_LEN; p + entry_size <= root + len; p += entry_size)
                parse_table(a, t, entry_size == 8 ? rd64(p) : rd32(p));

        if (a->dsdt) {
                uint32_t dlen = table_check(a->dsdt, "DSDT");
                if (dlen && aml_parse_s5(a->dsdt, dlen, &a->slp_typa, &a->slp_typb) == 0)
                        a->s5_found = true;
        }
        if (t->cpu_count)
                t->source = "acpi";
        return 0;
}

void guest_topology_default(struct guest_topology *t, uint32_t bsp_apic_id)
{
        t->source = "none";
        t->lapic_base = PLATFORM_LAPIC_BASE;
        t->cpu_count = 1;
        t->cpu_apic_ids[0] = bsp_apic_id;
        if (t->ioapic_count == 0) {
                t->ioapic_count = 1;
                t->ioapics[0] = (struct guest_ioapic_info){ .address = PLATFORM_IOAPIC_BASE };
        }
        t->pic_present = true;
}

int guest_topology_isa_irq(const struct guest_topology *t, unsigned irq, bool sci, uint32_t *ret_gsi,
                           bool *ret_level, bool *ret_low)
{
        uint32_t gsi = irq;
        bool level = sci, low = sci;

        if (irq > 15 && !sci)
                return -EINVAL;
        for (unsigned i = 0; i < t->iso_count; i++) {
                const struct guest_iso *iso = &t->isos[i];

                if (iso->bus_irq != irq)
                        continue;
                gsi = iso->gsi;
                if ((iso->flags & ISO_POLARITY_MASK) == ISO_POLARITY_HIGH)
                        low = false;
                else if ((iso->flags & ISO_POLARITY_MASK) == ISO_POLARITY_LOW)
                        low = true;
                if ((iso->flags & ISO_TRIGGER_MASK) == ISO_TRIGGER_EDGE)
                        level = false;
                else if ((iso->flags & ISO_TRIGGER_MASK) == ISO_TRIGGER_LEVEL)
                        level = true;
                break;
        }
        *ret_gsi = gsi;
        *ret_level = level;
        *ret_low = low;
        return 0;
}

static unsigned gas_bytes(const struct guest_gas *g)
{
        unsigned w = g->bit_width ? g->bit_width : (g->access_size ? 8u << (g->access_size - 1) : 8u);

        return w >= 64 ? 8 : w >= 32 ? 4 : w >= 16 ? 2 : 1;
}

int guest_gas_write(const struct guest_gas *g, uint64_t v)
{
        unsigned n = gas_bytes(g);

        if (!g->address)
                return -ENODEV;
        if (g->space == ACPI_GAS_IO) {
                if (g->address > 0xffff)
                        return -EINVAL;
                uint16_t port = (uint16_t)g->address;
                if (n == 1)
                        guest_outb(port, (uint8_t)v);
                else if (n == 2)
                        guest_outw(port, (uint16_t)v);
                else
                        guest_outl(port, (uint32_t)v);
                return 0;
        }
        if (g->space == ACPI_GAS_MEMORY) {
                if (!mapped(g->address, n))
                        return -EFAULT;
                if (n == 1)
                        guest_mmio_write8(g->address, (uint8_t)v);
                else if (n == 2)
                        guest_mmio_write16(g->address, (uint16_t)v);
                else if (n == 4)
                        guest_mmio_write32(g->address, (uint32_t)v);
                else
                        guest_mmio_write64(g->address, v);
                return 0;
        }
        return -EINVAL;
}

int guest_gas_read(const struct guest_gas *g, uint64_t *ret)
{
        unsigned n = gas_bytes(g);

        if (!g->address)
                return -ENODEV;
        if (g->space == ACPI_GAS_IO) {
                if (g->address > 0xffff)
                        return -EINVAL;
                uint16_t port = (uint16_t)g->address;
                *ret = n == 1 ? guest_inb(port) : n == 2 ? guest_inw(port) : guest_inl(port);
                return 0;
        }
        if (g->space == ACPI_GAS_MEMORY) {
                if (!mapped(g->address, n))
                        return -EFAULT;
                *ret = n == 1 ? guest_mmio_read8(g->address) : n == 2 ? guest_mmio_read16(g->address) :
                       n == 4 ? guest_mmio_read32(g->address) : guest_mmio_read64(g->address);
                return 0;
        }
        return -EINVAL;
}
