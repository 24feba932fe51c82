/* SPDX-License-Identifier: MIT */
/* The ACPI tables: every checksum, every pointer, the fields a guest relies on. */
#include <stdlib.h>
#include <string.h>

#include <abi/platform.h>

#include "check-main.h"
#include "vmms/gmem.h"
#include "../../src/vmwp/aml.h"
#include "../../src/vmwp/vmwp.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
        uint8_t s = 0;

        while (n--)
                s = (uint8_t)(s + *p++);
        return s;
}

static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t le16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static const uint8_t *table(const uint8_t *ram, uint64_t addr, const char *sig)
{
        const uint8_t *t = ram + addr;

        ck_assert_msg(memcmp(t, sig, 4) == 0, "table at 0x%llx is not %s", (unsigned long long)addr, sig);
        ck_assert_msg(sum(t, le32(t + 4)) == 0, "%s checksum", sig);
        return t;
}

static void check_tables(unsigned n_vcpus)
{
        uint8_t *ram = calloc(1, 32 << 20);
        struct gmem *mem;
        uint64_t rsdp;
        const uint8_t *r, *x, *fadt = NULL, *madt = NULL, *mcfg = NULL, *dsdt, *facs;
        unsigned n;

        ck_assert_int_eq(gmem_new_buffer(ram, 32 << 20, &mem), 0);
        ck_assert_int_eq(vmwp_acpi_build(mem, n_vcpus, &rsdp), 0);
        ck_assert_uint_ge(rsdp, 0xe0000);
        ck_assert_uint_lt(rsdp, 0x100000);
        ck_assert_uint_eq(rsdp % 16, 0);

        r = ram + rsdp;
        ck_assert_int_eq(memcmp(r, "RSD PTR ", 8), 0);
        ck_assert_uint_eq(sum(r, 20), 0);
        ck_assert_uint_eq(sum(r, 36), 0);
        ck_assert_uint_eq(r[15], 2);

        x = table(ram, le64(r + 24), "XSDT");
        n = (le32(x + 4) - 36) / 8;
        ck_assert_uint_eq(n, 3);
        for (unsigned i = 0; i < n; i++) {
                const uint8_t *t = ram + le64(x + 36 + 8 * i);

                if (!memcmp(t, "FACP", 4))
                        fadt = table(ram, le64(x + 36 + 8 * i), "FACP");
                else if (!memcmp(t, "APIC", 4))
                        madt = table(ram, le64(x + 36 + 8 * i), "APIC");
                else if (!memcmp(t, "MCFG", 4))
                        mcfg = table(ram, le64(x + 36 + 8 * i), "MCFG");
        }
        ck_assert(fadt && madt && mcfg);

        /* FADT: PM1 blocks, SCI, reset register, DSDT and FACS. */
        ck_assert_uint_eq(le16(fadt + 46), PLATFORM_IRQ_SCI);
        ck_assert_uint_eq(le32(fadt + 48), 0);                          /* no SMI_CMD */
        ck_assert_uint_eq(le32(fadt + 56), PLATFORM_PORT_PM1A_EVT);
        ck_assert_uint_eq(le32(fadt + 64), PLATFORM_PORT_PM1A_CNT);
        ck_assert_uint_eq(fadt[88], 4);
        ck_assert_uint_eq(fadt[89], 2);
        ck_assert_uint_eq(le32(fadt + 112) & (1u << 10), 1u << 10);     /* RESET_REG_SUP */
        ck_assert_uint_eq(fadt[116], 1);                                /* reset reg in I/O space */
        ck_assert_uint_eq(le64(fadt + 120), PLATFORM_PORT_RESET);
        ck_assert_uint_eq(fadt[128], PLATFORM_RESET_CF9_VALUE);
        ck_assert_uint_eq(le32(fadt + 36), 0);                          /* only X_FIRMWARE_CTRL */
        facs = ram + le64(fadt + 132);
        ck_assert_int_eq(memcmp(facs, "FACS", 4), 0);
        ck_assert_uint_eq(le64(fadt + 132) % 64, 0);
        dsdt = table(ram, le64(fadt + 140), "DSDT");
        ck_assert_uint_eq(le32(fadt + 40), le64(fadt + 140));

        /* DSDT: \_S5_ = Package { 5, 5, 0, 0 } and the devices. */
        const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
        ck_assert_ptr_nonnull(memmem(dsdt, le32(dsdt + 4), s5, sizeof(s5)));
        ck_assert_ptr_nonnull(memmem(dsdt, le32(dsdt + 4), "COM1", 4));
        ck_assert_ptr_nonnull(memmem(dsdt, le32(dsdt + 4), "PCI0", 4));

        /* MADT: one enabled LAPIC per vCPU with APIC id = index, one IOAPIC, the SCI override. */
        unsigned lapics = 0, ioapics = 0, isos = 0;
        ck_assert_uint_eq(le32(madt + 36), PLATFORM_LAPIC_BASE);
        for (const uint8_t *e = madt + 44; e < madt + le32(madt + 4); e += e[1]) {
                ck_assert_uint_gt(e[1], 0);
                if (e[0] == 0) {
                        ck_assert_uint_eq(e[3], lapics);
                        ck_assert_uint_eq(le32(e + 4), 1);
                        lapics++;
                } else if (e[0] == 1) {
                        ck_assert_uint_eq(le32(e + 4), PLATFORM_IOAPIC_BASE);
                        ioapics++;
                } else if (e[0] == 2) {
                        ck_assert_uint_eq(e[3], PLATFORM_IRQ_SCI);
                        ck_assert_uint_eq(le16(e + 8), 0x000d);
                        isos++;
                }
        }
        ck_assert_uint_eq(lapics, n_vcpus);
        ck_assert_uint_eq(ioapics, 1);
        ck_assert_uint_eq(isos, 1);

        /* MCFG: ECAM for segment 0. */
        ck_assert_uint_eq(le64(mcfg + 44), PLATFORM_ECAM_BASE);
        ck_assert_uint_eq(mcfg[44 + 10], 0);
        gmem_free(mem);
        free(ram);
}

START_TEST(test_tables_1) { check_tables(1); }
END_TEST
START_TEST(test_tables_255) { check_tables(255); }
END_TEST

START_TEST(test_aml_pkglength)
{
        struct aml a;
        char name[5] = "D000";

        /* A device large enough to need a 2-byte PkgLength. */
        aml_init(&a);
        aml_device_begin(&a, "BIG_");
        for (unsigned i = 0; i < 20; i++) {
                name[3] = (char)('A' + i);
                aml_name(&a, name);
                aml_integer(&a, 0x12345678);
        }
        aml_end(&a);
        ck_assert_int_eq(a.error, 0);
        ck_assert_uint_eq(a.buf[0], 0x5b);
        ck_assert_uint_eq(a.buf[1], 0x82);
        ck_assert_uint_eq(a.buf[2] >> 6, 1);                    /* 2-byte length */
        unsigned len = (a.buf[2] & 0x0f) | ((unsigned)a.buf[3] << 4);
        ck_assert_uint_eq(len, a.len - 2);                      /* covers itself and the body */
        ck_assert_int_eq(memcmp(a.buf + 4, "BIG_", 4), 0);
        aml_done(&a);

        aml_init(&a);
        aml_end(&a);                                            /* unbalanced */
        ck_assert_int_lt(a.error, 0);
        aml_done(&a);
}
END_TEST

CHECK_MAIN("acpi", test_tables_1, test_tables_255, test_aml_pkglength)
