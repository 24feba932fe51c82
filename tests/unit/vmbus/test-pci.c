/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration space semantics: mechanism #1 and ECAM onto the same bytes, BAR sizing
 * and moves, the Command register's memory decode, capability walks, MSI-X table, PBA,
 * masking and routing.
 */
#include "check-main.h"
#include <check.h>
#include <stdlib.h>

#include <abi/platform.h>

#include "fake-host.h"
#include "vmms/macro.h"
#include "pci.h"

static struct fake_host *h;
static struct pci_bus *bus;
static struct pci_func *fn;
static uint8_t regs[0x2000];
static unsigned n_mapped_events;
static uint64_t last_mapped_addr;
static bool last_mapped;
static uint8_t cf9_value;
static unsigned cf9_writes;

static int cf9_handler(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        ck_assert_uint_eq(off, 0);
        ck_assert_uint_eq(len, 1);
        if (is_write) {
                cf9_value = *(uint8_t *)data;
                cf9_writes++;
        } else {
                *(uint8_t *)data = 0x42;
        }
        return 0;
}

static int regs_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        ck_assert_uint_lt(off + len, sizeof(regs) + 1);
        if (is_write)
                memcpy(regs + off, data, len);
        else
                memcpy(data, regs + off, len);
        return 0;
}

static void on_bar_mapped(void *opaque, unsigned bar, uint64_t addr, bool mapped)
{
        n_mapped_events++;
        last_mapped_addr = addr;
        last_mapped = mapped;
}

static const struct pci_func_ops test_ops = { .bar_mapped = on_bar_mapped };

static void setup(void)
{
        static const uint8_t vcap[8] = { PCI_CAP_ID_VNDR, 0, 8, 1, 2, 3, 4, 5 };

        h = fake_host_new(1 << 20);
        ck_assert_int_eq(pci_bus_new(&h->host, cf9_handler, NULL, &bus), 0);
        ck_assert_int_eq(pci_func_new(bus, 0x1234, 0x5678, 0x018000, 3, 0x1af4, 0x1100,
                                      &test_ops, NULL, &fn), 0);
        ck_assert_int_eq(pci_func_devfn(fn), PCI_DEVFN(1, 0));
        ck_assert_int_ge(pci_func_add_cap(fn, vcap, sizeof(vcap), NULL), 0x40);
        ck_assert_int_eq(pci_func_add_msix(fn, 4, 0, 0x1000, 0x1800), 0);
        ck_assert_int_eq(pci_func_add_bar(fn, 0, 0x2000, PCI_BAR_F_64BIT, regs_access, NULL), 0);
        ck_assert_int_eq(pci_func_add_bar(fn, 2, 0x1000, 0, regs_access, NULL), 0);
        memset(regs, 0, sizeof(regs));
        n_mapped_events = 0;
        cf9_writes = 0;
}

static void teardown(void)
{
        pci_bus_free(bus);
        fake_host_free(h);
}

static uint32_t cf8_read(uint8_t devfn, uint32_t reg, unsigned len)
{
        pio_write(h, PLATFORM_PORT_PCI_ADDR, PCI_CF8_ADDR(0, PCI_SLOT(devfn), PCI_FUNC(devfn), reg), 4);
        return pio_read(h, (uint16_t)(PLATFORM_PORT_PCI_DATA + (reg & 3)), len);
}

static void cf8_write(uint8_t devfn, uint32_t reg, uint32_t v, unsigned len)
{
        pio_write(h, PLATFORM_PORT_PCI_ADDR, PCI_CF8_ADDR(0, PCI_SLOT(devfn), PCI_FUNC(devfn), reg), 4);
        pio_write(h, (uint16_t)(PLATFORM_PORT_PCI_DATA + (reg & 3)), v, len);
}

static uint32_t ecam_read(unsigned busno, uint8_t devfn, uint32_t reg, unsigned len)
{
        return (uint32_t)mmio_read(h, PLATFORM_ECAM_BASE +
                                   PCI_ECAM_OFFSET(busno, PCI_SLOT(devfn), PCI_FUNC(devfn), reg), len);
}

static void ecam_write(uint8_t devfn, uint32_t reg, uint32_t v, unsigned len)
{
        mmio_write(h, PLATFORM_ECAM_BASE + PCI_ECAM_OFFSET(0, PCI_SLOT(devfn), PCI_FUNC(devfn), reg), v, len);
}

START_TEST(test_host_bridge)
{
        ck_assert_uint_eq(cf8_read(0, PCI_VENDOR_ID, 2), 0x1b36);
        ck_assert_uint_eq(cf8_read(0, PCI_CLASS_DEVICE, 2), 0x0600);
        ck_assert_uint_eq(ecam_read(0, 0, PCI_VENDOR_ID, 4), 0x00081b36);
        ck_assert_uint_eq(ecam_read(0, 0, PCI_HEADER_TYPE, 1), 0);
}
END_TEST

START_TEST(test_absent_functions)
{
        ck_assert_uint_eq(cf8_read(PCI_DEVFN(7, 0), 0, 4), 0xffffffffu);
        ck_assert_uint_eq(cf8_read(PCI_DEVFN(1, 1), 0, 2), 0xffff);
        ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(9, 0), 0, 4), 0xffffffffu);
        ck_assert_uint_eq(ecam_read(1, PCI_DEVFN(1, 0), 0, 4), 0xffffffffu);  /* bus 1 */
        ck_assert_uint_eq(ecam_read(255, 0, 0, 1), 0xff);
        /* Without the enable bit the data port reads all-ones. */
        pio_write(h, PLATFORM_PORT_PCI_ADDR, 0x00000800, 4);
        ck_assert_uint_eq(pio_read(h, PLATFORM_PORT_PCI_DATA, 4), 0xffffffffu);
        /* Misaligned ECAM accesses are dropped. */
        ck_assert_uint_eq(ecam_read(0, PCI_DEVFN(1, 0), 1, 2), 0xffff);
}
END_TEST

START_TEST(test_cf8_register_and_cf9)
{
        pio_write(h, PLATFORM_PORT_PCI_ADDR, 0x80001237, 4);
        ck_assert_uint_eq(pio_read(h, PLATFORM_PORT_PCI_ADDR, 4), 0x80001234);
        pio_write(h, PLATFORM_PORT_RESET, PLATFORM_RESET_CF9_VALUE, 1);
        ck_assert_uint_eq(cf9_writes, 1);
        ck_assert_uint_eq(cf9_value, PLATFORM_RESET_CF9_VALUE);
        ck_assert_uint_eq(pio_read(h, PLATFORM_PORT_RESET, 1), 0x42);
        /* The byte write did not disturb the address register. */
        ck_assert_uint_eq(pio_read(h, PLATFORM_PORT_PCI_ADDR, 4), 0x80001234);
}
END_TEST

START_TEST(test_header_and_readonly)
{
        uint8_t d = PCI_DEVFN(1, 0);

        ck_assert_uint_eq(cf8_read(d, PCI_VENDOR_ID, 4), 0x56781234);
        ck_assert_uint_eq(cf8_read(d, PCI_REVISION_ID, 4), 0x01800003);
        ck_assert_uint_eq(cf8_read(d, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
        ck_assert_uint_eq(cf8_read(d, PCI_INTERRUPT_PIN, 1), 0);
        cf8_write(d, PCI_VENDOR_ID, 0xdeadbeef, 4);
        ck_assert_uint_eq(cf8_read(d, PCI_VENDOR_ID, 4), 0x56781234);
        cf8_write(d, PCI_INTERRUPT_LINE, 0x0b, 1);
        ck_assert_uint_eq(cf8_read(d, PCI_INTERRUPT_LINE, 1), 0x0b);
        /* Status: capability bit read-only, error bits write-1-to-clear (none set). */
        cf8_write(d, PCI_STATUS, 0xffff, 2);
        ck_assert_uint_eq(cf8_read(d, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
        /* Command comes up with memory decode and bus mastering, as firmware leaves it. */
        ck_assert_uint_eq(cf8_read(d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}
END_TEST

START_TEST(test_ecam_and_cf8_same_bytes)
{
        uint8_t d = PCI_DEVFN(1, 0);

        cf8_write(d, PCI_CACHE_LINE_SIZE, 0x10, 1);
        ck_assert_uint_eq(ecam_read(0, d, PCI_CACHE_LINE_SIZE, 1), 0x10);
        ecam_write(d, PCI_LATENCY_TIMER, 0x40, 1);
        ck_assert_uint_eq(cf8_read(d, PCI_CACHE_LINE_SIZE, 2), 0x4010);
        ck_assert_uint_eq(cf8_read(d, PCI_CACHE_LINE_SIZE, 4), ecam_read(0, d, PCI_CACHE_LINE_SIZE, 4));
        for (uint32_t reg = 0; reg < 256; reg += 4)
                ck_assert_uint_eq(cf8_read(d, reg, 4), ecam_read(0, d, reg, 4));
        /* Sub-dword accesses through 0xcfd..0xcff. */
        ck_assert_uint_eq(cf8_read(d, PCI_DEVICE_ID, 2), 0x5678);
        ck_assert_uint_eq(cf8_read(d, PCI_DEVICE_ID + 1, 1), 0x56);
        /* Extended space: ECAM only, and empty. */
        ck_assert_uint_eq(ecam_read(0, d, 0x100, 4), 0);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, d, PCI_VENDOR_ID, 2), 0x1234);
}
END_TEST

START_TEST(test_bar_initial_placement)
{
        uint64_t a0 = pci_func_bar_addr(fn, 0), a2 = pci_func_bar_addr(fn, 2);

        ck_assert_uint_ge(a0, PLATFORM_MMIO32_BASE);
        ck_assert_uint_lt(a0 + 0x2000, PLATFORM_MMIO32_END);
        ck_assert_uint_eq(a0 % 0x2000, 0);
        ck_assert_uint_eq(a2 % 0x1000, 0);
        ck_assert(!ranges_overlap(a0, 0x2000, a2, 0x1000));
        ck_assert(pci_func_bar_mapped(fn, 0));
        /* BAR0 lo has type 64-bit; BAR1 holds the high half. */
        ck_assert_uint_eq(cf8_read(PCI_DEVFN(1, 0), PCI_BASE_ADDRESS_0, 4), (uint32_t)a0 | PCI_BAR_MEM_TYPE_64);
        ck_assert_uint_eq(cf8_read(PCI_DEVFN(1, 0), PCI_BASE_ADDRESS_0 + 4, 4), a0 >> 32);
        /* The registers are reachable through the bus. */
        regs[0x10] = 0xab;
        ck_assert_uint_eq(mmio_read(h, a0 + 0x10, 1), 0xab);
        mmio_write(h, a2 + 4, 0x11223344, 4);
        ck_assert_uint_eq(regs[4], 0x44);
}
END_TEST

START_TEST(test_bar_sizing)
{
        uint8_t d = PCI_DEVFN(1, 0);
        uint32_t lo, hi;

        /* Linux: decode off, write all-ones, read back, restore. */
        cf8_write(d, PCI_COMMAND, 0, 2);
        ck_assert(!pci_func_bar_mapped(fn, 0));
        cf8_write(d, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
        lo = cf8_read(d, PCI_BASE_ADDRESS_0, 4);
        ck_assert_uint_eq(lo, (uint32_t)~(0x2000u - 1) | PCI_BAR_MEM_TYPE_64);
        cf8_write(d, PCI_BASE_ADDRESS_0 + 4, 0xffffffff, 4);
        hi = cf8_read(d, PCI_BASE_ADDRESS_0 + 4, 4);
        ck_assert_uint_eq(hi, 0xffffffff);
        ck_assert_uint_eq(~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1, 0x2000);
        /* 32-bit BAR2 */
        ecam_write(d, PCI_BASE_ADDRESS_0 + 8, 0xffffffff, 4);
        ck_assert_uint_eq(ecam_read(0, d, PCI_BASE_ADDRESS_0 + 8, 4), 0xfffff000);
        /* Unused BARs stay zero. */
        cf8_write(d, PCI_BASE_ADDRESS_0 + 12, 0xffffffff, 4);
        ck_assert_uint_eq(cf8_read(d, PCI_BASE_ADDRESS_0 + 12, 4), 0);
        cf8_write(d, PCI_ROM_ADDRESS, 0xffffffff, 4);
        ck_assert_uint_eq(cf8_read(d, PCI_ROM_ADDRESS, 4), 0);
        /* Nothing was mapped while decode was off. */
        ck_assert(!pci_func_bar_mapped(fn, 0));
        ck_assert(!pci_func_bar_mapped(fn, 2));
}
END_TEST

START_TEST(test_bar_move)
{
        uint8_t d = PCI_DEVFN(1, 0);
        uint64_t old = pci_func_bar_addr(fn, 0), new = 0xd0000000;

        regs[0] = 0x5a;
        ck_assert_uint_eq(mmio_read(h, old, 1), 0x5a);
        /* Rewrite the BAR with decode enabled: low half first, the high half is 0. */
        cf8_write(d, PCI_BASE_ADDRESS_0, (uint32_t)new, 4);
        ck_assert_uint_eq(pci_func_bar_addr(fn, 0), new);
        ck_assert(pci_func_bar_mapped(fn, 0));
        ck_assert(last_mapped);
        ck_assert_uint_eq(last_mapped_addr, new);
        ck_assert_uint_eq(mmio_read(h, new, 1), 0x5a);
        ck_assert_uint_eq(mmio_read(h, old, 1), 0xff);             /* nothing there now */
        /* Into the 64-bit window. */
        ecam_write(d, PCI_BASE_ADDRESS_0 + 4, 0x80, 4);
        ck_assert_uint_eq(pci_func_bar_addr(fn, 0), 0x80d0000000ull);
        ck_assert_uint_eq(mmio_read(h, 0x80d0000000ull, 1), 0x5a);
        ck_assert_uint_eq(mmio_read(h, new, 1), 0xff);
        /* Decode off: gone; on: back at the same place. */
        cf8_write(d, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
        ck_assert(!pci_func_bar_mapped(fn, 0));
        ck_assert(!last_mapped);
        ck_assert_uint_eq(mmio_read(h, 0x80d0000000ull, 1), 0xff);
        cf8_write(d, PCI_COMMAND, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 2);
        ck_assert(pci_func_bar_mapped(fn, 0));
        ck_assert_uint_eq(mmio_read(h, 0x80d0000000ull, 1), 0x5a);
        /* Address 0 means unassigned: not mapped. */
        cf8_write(d, PCI_BASE_ADDRESS_0, 0, 4);
        cf8_write(d, PCI_BASE_ADDRESS_0 + 4, 0, 4);
        ck_assert(!pci_func_bar_mapped(fn, 0));
        /* A BAR on top of the ECAM window cannot be registered and stays unmapped. */
        cf8_write(d, PCI_BASE_ADDRESS_0, (uint32_t)PLATFORM_ECAM_BASE, 4);
        ck_assert(!pci_func_bar_mapped(fn, 0));
        ck_assert_uint_eq(ecam_read(0, 0, PCI_VENDOR_ID, 2), 0x1b36);
        /* Platform reset puts it back. */
        pci_bus_reset(bus);
        ck_assert_uint_eq(pci_func_bar_addr(fn, 0), old);
        ck_assert(pci_func_bar_mapped(fn, 0));
}
END_TEST

START_TEST(test_capability_walk)
{
        uint8_t d = PCI_DEVFN(1, 0), ids[8];
        unsigned n = 0;
        uint32_t p;

        ck_assert(cf8_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
        for (p = cf8_read(d, PCI_CAPABILITY_LIST, 1); p && n < 8; n++) {
                ck_assert_uint_ge(p, 0x40);
                ck_assert_uint_eq(p % 4, 0);
                ids[n] = (uint8_t)ecam_read(0, d, p, 1);
                p = ecam_read(0, d, p + 1, 1);
        }
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(ids[0], PCI_CAP_ID_VNDR);
        ck_assert_uint_eq(ids[1], PCI_CAP_ID_MSIX);
        /* The host bridge has no capabilities. */
        ck_assert_uint_eq(cf8_read(0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
}
END_TEST

static uint32_t msix_cap_off(void)
{
        uint8_t d = PCI_DEVFN(1, 0);

        for (uint32_t p = cf8_read(d, PCI_CAPABILITY_LIST, 1); p; p = cf8_read(d, p + 1, 1))
                if (cf8_read(d, p, 1) == PCI_CAP_ID_MSIX)
                        return p;
        ck_abort_msg("no MSI-X capability");
        return 0;
}

START_TEST(test_msix)
{
        uint8_t d = PCI_DEVFN(1, 0);
        uint32_t cap = msix_cap_off();
        uint64_t bar = pci_func_bar_addr(fn, 0), tbl = bar + 0x1000, pba = bar + 0x1800;
        int fd;

        ck_assert_uint_eq(cf8_read(d, cap + PCI_MSIX_FLAGS, 2), 3);           /* 4 vectors */
        ck_assert_uint_eq(cf8_read(d, cap + PCI_MSIX_TABLE, 4), 0x1000);      /* BIR 0 */
        ck_assert_uint_eq(cf8_read(d, cap + PCI_MSIX_PBA, 4), 0x1800);
        /* Entries come up masked. */
        ck_assert_uint_eq(mmio_read(h, tbl + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
        /* Disabled: a signal goes nowhere. */
        ck_assert_int_eq(pci_msix_notify(fn, 1), 0);
        ck_assert_uint_eq(mmio_read(h, pba, 8), 0);

        /* Program vector 1 (64-bit address write), enable MSI-X, still masked. */
        mmio_write(h, tbl + 16, 0xfee01000, 8);
        mmio_write(h, tbl + 16 + PCI_MSIX_ENTRY_DATA, 0x41, 4);
        ck_assert_uint_eq(mmio_read(h, tbl + 16, 4), 0xfee01000);
        ck_assert_uint_eq(mmio_read(h, tbl + 16 + PCI_MSIX_ENTRY_DATA, 4), 0x41);
        cf8_write(d, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
        ck_assert(pci_msix_enabled(fn));
        ck_assert_int_eq(pci_msix_notify(fn, 1), 1);
        ck_assert_uint_eq(mmio_read(h, pba, 8), 1u << 1);                      /* pending */
        ck_assert_uint_eq(h->n_route_add, 0);                                 /* not routed yet */

        /* Unmask: routed, irqfd attached, and the pending interrupt delivered. */
        mmio_write(h, tbl + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
        ck_assert_uint_eq(h->n_route_add, 1);
        fd = fake_irqfd_for(h, 0x41);
        ck_assert_int_ge(fd, 0);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 1);
        ck_assert_uint_eq(mmio_read(h, pba, 4), 0);
        ck_assert_int_eq(pci_msix_notify(fn, 1), 1);
        ck_assert_int_eq(pci_msix_notify(fn, 1), 1);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 2);

        /* A new message while unmasked re-routes the same GSI. */
        mmio_write(h, tbl + 16 + PCI_MSIX_ENTRY_DATA, 0x42, 4);
        ck_assert_int_eq(fake_irqfd_for(h, 0x42), fd);
        ck_assert_uint_eq(h->n_route_add, 1);

        /* Function mask: pending again, delivered on unmask. */
        cf8_write(d, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
        ck_assert_int_eq(pci_msix_notify(fn, 1), 1);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 0);
        ck_assert_uint_eq(mmio_read(h, pba, 8), 2);
        cf8_write(d, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 1);

        /* Bad vector, PBA writes ignored, odd-sized table accesses read 0. */
        ck_assert_int_eq(pci_msix_notify(fn, 4), -EINVAL);
        mmio_write(h, pba, 0xff, 4);
        ck_assert_uint_eq(mmio_read(h, pba, 4), 0);
        ck_assert_uint_eq(mmio_read(h, tbl + 1, 2), 0);
        /* Reserved vector-control bits read as zero. */
        mmio_write(h, tbl + PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffffe, 4);
        ck_assert_uint_eq(mmio_read(h, tbl + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 0);

        /* Platform reset: disabled and masked again. */
        pci_bus_reset(bus);
        ck_assert(!pci_msix_enabled(fn));
        ck_assert_uint_eq(cf8_read(d, cap + PCI_MSIX_FLAGS, 2), 3);
        ck_assert_uint_eq(mmio_read(h, tbl + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
}
END_TEST

START_TEST(test_bad_bars)
{
        struct pci_func *f2;

        ck_assert_int_eq(pci_func_new(bus, 1, 2, 0, 0, 0, 0, NULL, NULL, &f2), 0);
        ck_assert_int_eq(pci_func_devfn(f2), PCI_DEVFN(2, 0));
        ck_assert_int_eq(pci_func_add_bar(f2, 0, 0x3000, 0, regs_access, NULL), -EINVAL);
        ck_assert_int_eq(pci_func_add_bar(f2, 0, 0x800, 0, regs_access, NULL), -EINVAL);
        ck_assert_int_eq(pci_func_add_bar(f2, 5, 0x1000, PCI_BAR_F_64BIT, regs_access, NULL), -EINVAL);
        ck_assert_int_eq(pci_func_add_bar(f2, 6, 0x1000, 0, regs_access, NULL), -EINVAL);
        ck_assert_int_eq(pci_func_add_bar(f2, 0, 0x1000, PCI_BAR_F_64BIT, regs_access, NULL), 0);
        ck_assert_int_eq(pci_func_add_bar(f2, 1, 0x1000, 0, regs_access, NULL), -EBUSY);
        /* A big 64-bit BAR that does not fit below 4 GiB goes to the 64-bit window. */
        ck_assert_int_eq(pci_func_add_bar(f2, 2, 4 * GIB, PCI_BAR_F_64BIT, NULL, NULL), 0);
        ck_assert_uint_ge(pci_func_bar_addr(f2, 2), PLATFORM_MMIO64_BASE);
        pci_func_free(f2);
        ck_assert_uint_eq(cf8_read(PCI_DEVFN(2, 0), 0, 4), 0xffffffffu);
}
END_TEST

static Suite *pci_suite(void)
{
        Suite *s = suite_create("pci");
        TCase *tc = tcase_create("config");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_host_bridge);
        tcase_add_test(tc, test_absent_functions);
        tcase_add_test(tc, test_cf8_register_and_cf9);
        tcase_add_test(tc, test_header_and_readonly);
        tcase_add_test(tc, test_ecam_and_cf8_same_bytes);
        tcase_add_test(tc, test_bar_initial_placement);
        tcase_add_test(tc, test_bar_sizing);
        tcase_add_test(tc, test_bar_move);
        tcase_add_test(tc, test_capability_walk);
        tcase_add_test(tc, test_msix);
        tcase_add_test(tc, test_bad_bars);
        suite_add_tcase(s, tc);
        return s;
}

CHECK_SUITE_MAIN(pci_suite)
