/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for the guest: RSDP → XSDT → FADT (→ FACS, DSDT), MADT, MCFG. All of them
 * live in the reserved BIOS area at PLATFORM_ACPI_ADDR, every one checksummed.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <abi/platform.h>

#include "vmms/macro.h"
#include "aml.h"
#include "vmwp.h"

struct __attribute__((packed)) acpi_header {
        char signature[4];
        uint32_t length;
        uint8_t revision;
        uint8_t checksum;
        char oem_id[6];
        char oem_table_id[8];
        uint32_t oem_revision;
        char creator_id[4];
        uint32_t creator_revision;
};
_Static_assert(sizeof(struct acpi_header) == 36, "acpi_header");

struct __attribute__((packed)) acpi_rsdp {
        char signature[8];
        uint8_t checksum;
        char oem_id[6];
        uint8_t revision;
        uint32_t rsdt_address;
        uint32_t length;
        uint64_t xsdt_address;
        uint8_t extended_checksum;
        uint8_t reserved[3];
};
_Static_assert(sizeof(struct acpi_rsdp) == 36, "acpi_rsdp");

struct __attribute__((packed)) acpi_gas {
        uint8_t space_id;       /* 0 memory, 1 I/O */
        uint8_t bit_width;
        uint8_t bit_offset;
        uint8_t access_size;    /* 1 byte, 2 word, 3 dword, 4 qword */
        uint64_t address;
};
_Static_assert(sizeof(struct acpi_gas) == 12, "acpi_gas");

struct __attribute__((packed)) acpi_fadt {
        struct acpi_header h;
        uint32_t firmware_ctrl;
        uint32_t dsdt;
        uint8_t reserved0;
        uint8_t preferred_pm_profile;
        uint16_t sci_int;
        uint32_t smi_cmd;
        uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
        uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
        uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
        uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
        uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
        uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
        uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
        uint16_t iapc_boot_arch;
        uint8_t reserved1;
        uint32_t flags;
        struct acpi_gas reset_reg;
        uint8_t reset_value;
        uint16_t arm_boot_arch;
        uint8_t minor_version;
        uint64_t x_firmware_ctrl;
        uint64_t x_dsdt;
        struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
        struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
        struct acpi_gas sleep_control_reg, sleep_status_reg;
        uint64_t hypervisor_vendor_id;
};
_Static_assert(sizeof(struct acpi_fadt) == 276, "acpi_fadt");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "fadt flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "fadt x_dsdt");
_Static_assert(offsetof(struct acpi_fadt, x_pm1a_evt_blk) == 148, "fadt x_pm1a_evt_blk");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "fadt sleep_control_reg");

#define FADT_F_WBINVD           (1u << 0)
#define FADT_F_SLP_BUTTON       (1u << 5)       /* no fixed sleep button */
#define FADT_F_RESET_REG_SUP    (1u << 10)
#define FADT_BOOT_NO_VGA        (1u << 2)
#define FADT_BOOT_NO_CMOS_RTC   (1u << 5)

struct __attribute__((packed)) acpi_facs {
        char signature[4];
        uint32_t length;
        uint32_t hardware_signature;
        uint32_t firmware_waking_vector;
        uint32_t global_lock;
        uint32_t flags;
        uint64_t x_firmware_waking_vector;
        uint8_t version;
        uint8_t reserved[3];
        uint32_t ospm_flags;
        uint8_t reserved2[24];
};
_Static_assert(sizeof(struct acpi_facs) == 64, "acpi_facs");

struct __attribute__((packed)) madt_lapic {
        uint8_t type, length, processor_uid, apic_id;
        uint32_t flags;
};
struct __attribute__((packed)) madt_ioapic {
        uint8_t type, length, ioapic_id, reserved;
        uint32_t address, gsi_base;
};
struct __attribute__((packed)) madt_iso {
        uint8_t type, length, bus, source;
        uint32_t gsi;
        uint16_t flags;
};
struct __attribute__((packed)) madt_lapic_nmi {
        uint8_t type, length, processor_uid;
        uint16_t flags;
        uint8_t lint;
};
_Static_assert(sizeof(struct madt_lapic) == 8 && sizeof(struct madt_ioapic) == 12 &&
               sizeof(struct madt_iso) == 10 && sizeof(struct madt_lapic_nmi) == 6, "madt entries");

struct __attribute__((packed)) mcfg_allocation {
        uint64_t base;
        uint16_t segment;
        uint8_t start_bus, end_bus;
        uint32_t reserved;
};

/* Tables are laid out one after another, 16-byte aligned, in a staging buffer. */
struct acpi_builder {
        uint8_t *base;          /* host address of PLATFORM_ACPI_ADDR */
        uint32_t used;
        uint32_t size;
};

static uint8_t acpi_checksum(const void *p, size_t len)
{
        const uint8_t *b = p;
        uint8_t sum = 0;

        for (size_t i = 0; i < len; i++)
                sum = (uint8_t)(sum + b[i]);
        return (uint8_t)(0 - sum);
}

/* Reserve len bytes; returns the guest-physical address or 0 if the area is full. */
static uint64_t acpi_alloc(struct acpi_builder *b, uint32_t len, uint32_t align, void **ret)
{
        uint32_t off = ALIGN_UP(b->used, align);

        if (off + len > b->size)
                return 0;
        b->used = off + len;
        *ret = b->base + off;
        memset(*ret, 0, len);
        return PLATFORM_ACPI_ADDR + off;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
        memcpy(h->signature, sig, 4);
        h->length = len;
        h->revision = rev;
        memcpy(h->oem_id, "VMMS  ", 6);
        memcpy(h->oem_table_id, "VMMSVM  ", 8);
        memcpy(h->oem_table_id + 4, sig, 4);
        h->oem_revision = 1;
        memcpy(h->creator_id, "VMMS", 4);
        h->creator_revision = 1;
}

static void acpi_finish(struct acpi_header *h)
{
        h->checksum = 0;
        h->checksum = acpi_checksum(h, h->length);
}

static int acpi_build_dsdt(struct acpi_builder *b, uint64_t *ret)
{
        struct aml a;
        struct acpi_header *h;
        uint64_t addr;
        int r;

        aml_init(&a);
        aml_scope_begin(&a, "\\_SB_");

        /* COM1, so that ACPI-PnP finds ttyS0 with its port and interrupt. */
        aml_device_begin(&a, "COM1");
        aml_name(&a, "_HID");
        aml_eisaid(&a, "PNP0501");
        aml_name(&a, "_UID");
        aml_integer(&a, 1);
        aml_name(&a, "_CRS");
        aml_buffer_begin(&a);
        aml_res_io(&a, PLATFORM_PORT_COM1, 8);
        aml_res_irq(&a, PLATFORM_IRQ_COM1);
        aml_res_end(&a);
        aml_end(&a);
        aml_end(&a);

        /* PCI host bridge 0000:00 with its ECAM and BAR windows. */
        aml_device_begin(&a, "PCI0");
        aml_name(&a, "_HID");
        aml_eisaid(&a, "PNP0A08");
        aml_name(&a, "_CID");
        aml_eisaid(&a, "PNP0A03");
        aml_name(&a, "_SEG");
        aml_integer(&a, 0);
        aml_name(&a, "_BBN");
        aml_integer(&a, 0);
        aml_name(&a, "_UID");
        aml_integer(&a, 0);
        aml_name(&a, "_CRS");
        aml_buffer_begin(&a);
        aml_res_word_bus(&a, 0, (uint16_t)((PLATFORM_ECAM_SIZE >> 20) - 1));
        aml_res_io(&a, PLATFORM_PORT_PCI_ADDR, 8);
        aml_res_word_io(&a, 0x0d00, 0xffff);
        aml_res_dword_mem(&a, (uint32_t)PLATFORM_MMIO32_BASE, (uint32_t)(PLATFORM_MMIO32_END - 1));
        aml_res_qword_mem(&a, PLATFORM_MMIO64_BASE, PLATFORM_MMIO64_BASE + PLATFORM_MMIO64_SIZE - 1);
        aml_res_end(&a);
        aml_end(&a);
        aml_end(&a);

        /* Motherboard resources: the ECAM window, as Linux wants it claimed. */
        aml_device_begin(&a, "MRES");
        aml_name(&a, "_HID");
        aml_eisaid(&a, "PNP0C02");
        aml_name(&a, "_UID");
        aml_integer(&a, 1);
        aml_name(&a, "_CRS");
        aml_buffer_begin(&a);
        {
                /* Memory32Fixed: read-write, base, length. */
                uint32_t v[2] = { (uint32_t)PLATFORM_ECAM_BASE, (uint32_t)PLATFORM_ECAM_SIZE };
                uint8_t hdr[4] = { 0x86, 9, 0, 1 };

                aml_bytes(&a, hdr, sizeof(hdr));
                aml_bytes(&a, v, sizeof(v));
        }
        aml_res_end(&a);
        aml_end(&a);
        aml_end(&a);

        aml_end(&a);    /* \_SB_ */

        /* \_S5_: SLP_TYPa, SLP_TYPb for soft-off. */
        aml_name(&a, "_S5_");
        aml_package_begin(&a, 4);
        aml_integer(&a, PLATFORM_SLP_TYP_S5);
        aml_integer(&a, PLATFORM_SLP_TYP_S5);
        aml_integer(&a, 0);
        aml_integer(&a, 0);
        aml_end(&a);

        if (a.error || a.depth) {
                r = a.error ? a.error : -EINVAL;
                aml_done(&a);
                return r;
        }
        addr = acpi_alloc(b, (uint32_t)(sizeof(*h) + a.len), 16, (void **)&h);
        if (!addr) {
                aml_done(&a);
                return -ENOSPC;
        }
        acpi_header_init(h, "DSDT", (uint32_t)(sizeof(*h) + a.len), 2);
        memcpy(h + 1, a.buf, a.len);
        acpi_finish(h);
        aml_done(&a);
        *ret = addr;
        return 0;
}

static struct acpi_gas gas_io(uint8_t bits, uint16_t port, uint8_t access)
{
        return (struct acpi_gas) { .space_id = 1, .bit_width = bits, .access_size = access, .address = port };
}

static uint64_t acpi_build_fadt(struct acpi_builder *b, uint64_t dsdt, uint64_t facs)
{
        struct acpi_fadt *f;
        uint64_t addr = acpi_alloc(b, sizeof(*f), 16, (void **)&f);

        if (!addr)
                return 0;
        acpi_header_init(&f->h, "FACP", sizeof(*f), 6);
        f->minor_version = 4;
        f->x_firmware_ctrl = facs;     /* FIRMWARE_CTRL stays 0 when X_ is set (ACPI 6.4, 5.2.9) */
        f->dsdt = (uint32_t)dsdt;
        f->x_dsdt = dsdt;
        f->sci_int = PLATFORM_IRQ_SCI;
        f->smi_cmd = 0;                 /* always in ACPI mode */
        f->pm1a_evt_blk = PLATFORM_PORT_PM1A_EVT;
        f->pm1a_cnt_blk = PLATFORM_PORT_PM1A_CNT;
        f->pm1_evt_len = PLATFORM_PM1_EVT_LEN;
        f->pm1_cnt_len = PLATFORM_PM1_CNT_LEN;
        f->x_pm1a_evt_blk = gas_io(PLATFORM_PM1_EVT_LEN * 8, PLATFORM_PORT_PM1A_EVT, 2);
        f->x_pm1a_cnt_blk = gas_io(PLATFORM_PM1_CNT_LEN * 8, PLATFORM_PORT_PM1A_CNT, 2);
        f->p_lvl2_lat = 101;            /* no C2 */
        f->p_lvl3_lat = 1001;           /* no C3 */
        f->century = 0x32;
        /* No VGA, no legacy devices, no i8042 keyboard: a guest need not probe them. */
        f->iapc_boot_arch = FADT_BOOT_NO_VGA;
        f->flags = FADT_F_WBINVD | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP;
        f->reset_reg = gas_io(8, PLATFORM_PORT_RESET, 1);
        f->reset_value = PLATFORM_RESET_CF9_VALUE;
        memcpy(&f->hypervisor_vendor_id, "VMMS    ", 8);
        acpi_finish(&f->h);
        return addr;
}

static uint64_t acpi_build_madt(struct acpi_builder *b, unsigned n_vcpus)
{
        struct acpi_header *h;
        uint32_t len = sizeof(*h) + 8 + n_vcpus * sizeof(struct madt_lapic) + sizeof(struct madt_ioapic) +
                       sizeof(struct madt_iso) + sizeof(struct madt_lapic_nmi);
        uint64_t addr = acpi_alloc(b, len, 16, (void **)&h);
        uint8_t *p;
        uint32_t lapic_addr = (uint32_t)PLATFORM_LAPIC_BASE, flags = 1;  /* PCAT_COMPAT */

        if (!addr)
                return 0;
        acpi_header_init(h, "APIC", len, 5);
        p = (uint8_t *)(h + 1);
        memcpy(p, &lapic_addr, 4);
        memcpy(p + 4, &flags, 4);
        p += 8;
        for (unsigned i = 0; i < n_vcpus; i++) {
                struct madt_lapic l = { 0, sizeof(l), (uint8_t)i, (uint8_t)i, 1 };

                memcpy(p, &l, sizeof(l));
                p += sizeof(l);
        }
        struct madt_ioapic io = { 1, sizeof(io), (uint8_t)n_vcpus, 0, (uint32_t)PLATFORM_IOAPIC_BASE, 0 };
        memcpy(p, &io, sizeof(io));
        p += sizeof(io);
        /* The SCI: level-triggered, active high (flags: polarity 01, trigger 11). */
        struct madt_iso iso = { 2, sizeof(iso), 0, PLATFORM_IRQ_SCI, PLATFORM_IRQ_SCI, 0x000d };
        memcpy(p, &iso, sizeof(iso));
        p += sizeof(iso);
        struct madt_lapic_nmi nmi = { 4, sizeof(nmi), 0xff, 0, 1 };
        memcpy(p, &nmi, sizeof(nmi));
        acpi_finish(h);
        return addr;
}

static uint64_t acpi_build_mcfg(struct acpi_builder *b)
{
        struct acpi_header *h;
        struct mcfg_allocation alloc = {
                .base = PLATFORM_ECAM_BASE, .segment = 0, .start_bus = 0,
                .end_bus = (uint8_t)((PLATFORM_ECAM_SIZE >> 20) - 1),
        };
        uint32_t len = sizeof(*h) + 8 + sizeof(alloc);
        uint64_t addr = acpi_alloc(b, len, 16, (void **)&h);

        if (!addr)
                return 0;
        acpi_header_init(h, "MCFG", len, 1);
        memcpy((uint8_t *)(h + 1) + 8, &alloc, sizeof(alloc));
        acpi_finish(h);
        return addr;
}

int vmwp_acpi_build(struct gmem *mem, unsigned n_vcpus, uint64_t *ret_rsdp)
{
        struct acpi_builder b = { .size = PLATFORM_ACPI_SIZE };
        struct acpi_rsdp *rsdp;
        struct acpi_facs *facs;
        struct acpi_header *xsdt;
        uint64_t rsdp_addr, facs_addr, dsdt = 0, tables[3];
        unsigned n = 0;
        int r;

        b.base = gmem_translate(mem, PLATFORM_ACPI_ADDR, PLATFORM_ACPI_SIZE);
        if (!b.base)
                return -EFAULT;
        /* RSDP first, at the start of the area (16-byte aligned, found by a scan too). */
        rsdp_addr = acpi_alloc(&b, sizeof(*rsdp), 16, (void **)&rsdp);
        facs_addr = acpi_alloc(&b, sizeof(*facs), 64, (void **)&facs);
        if (!rsdp_addr || !facs_addr)
                return -ENOSPC;
        memcpy(facs->signature, "FACS", 4);
        facs->length = sizeof(*facs);
        facs->version = 2;

        r = acpi_build_dsdt(&b, &dsdt);
        if (r < 0)
                return r;
        tables[n++] = acpi_build_fadt(&b, dsdt, facs_addr);
        tables[n++] = acpi_build_madt(&b, n_vcpus);
        tables[n++] = acpi_build_mcfg(&b);
        for (unsigned i = 0; i < n; i++)
                if (!tables[i])
                        return -ENOSPC;

        uint32_t xlen = (uint32_t)(sizeof(*xsdt) + n * sizeof(uint64_t));
        uint64_t xsdt_addr = acpi_alloc(&b, xlen, 16, (void **)&xsdt);
        if (!xsdt_addr)
                return -ENOSPC;
        acpi_header_init(xsdt, "XSDT", xlen, 1);
        memcpy(xsdt + 1, tables, n * sizeof(uint64_t));
        acpi_finish(xsdt);

        memcpy(rsdp->signature, "RSD PTR ", 8);
        memcpy(rsdp->oem_id, "VMMS  ", 6);
        rsdp->revision = 2;
        rsdp->length = sizeof(*rsdp);
        rsdp->xsdt_address = xsdt_addr;
        rsdp->checksum = acpi_checksum(rsdp, 20);
        rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));
        *ret_rsdp = rsdp_addr;
        return 0;
}
