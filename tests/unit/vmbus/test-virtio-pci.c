/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci transport against a dummy device: capabilities, feature negotiation,
 * the status machine, queue setup, resets, config generation, ISR, doorbells,
 * DEVICE_NEEDS_RESET, MSI-X and the PCI_CFG window.
 */
#include "check-main.h"
#include <check.h>
#include <stdlib.h>

#include <abi/platform.h>
#include <abi/virtio.h>

#include "fake-host.h"
#include "vmms/virtio_dev.h"
#include "vmms/virtqueue.h"
#include "pci.h"
#include "virtio_pci.h"

#define DUMMY_F_A   0u
#define DUMMY_F_B   1u
#define QMAX        16u
#define DEVFN       PCI_DEVFN(1, 0)

struct dummy {
        unsigned activations, resets, frees;
        int activate_result;
        uint64_t features;
        bool q_enabled[2];
        int kick_fd[2];
        const struct virtio_irq *irq;
        uint8_t config[8];
};

static struct fake_host *h;
static struct pci_bus *bus;
static struct virtio_pci *vp;
static struct dummy dev;
static uint64_t bar;

static int dummy_activate(void *d, const struct virtio_activation *a)
{
        struct dummy *x = d;

        x->activations++;
        x->features = a->features;
        for (unsigned i = 0; i < a->n_queues; i++) {
                x->q_enabled[i] = a->queues[i].vq != NULL;
                x->kick_fd[i] = a->queues[i].kick_fd;
        }
        x->irq = a->irq;
        return x->activate_result;
}

static void dummy_reset(void *d) { ((struct dummy *)d)->resets++; }
static void dummy_free(void *d) { ((struct dummy *)d)->frees++; }

static void dummy_read_config(void *d, uint32_t off, void *data, uint32_t len)
{
        memcpy(data, ((struct dummy *)d)->config + off, len);
}

static void dummy_write_config(void *d, uint32_t off, const void *data, uint32_t len)
{
        memcpy(((struct dummy *)d)->config + off, data, len);
}

static int dummy_validate(void *d, uint64_t f)
{
        return (f & VIRTIO_BIT(DUMMY_F_B)) && !(f & VIRTIO_BIT(DUMMY_F_A)) ? -EINVAL : 0;
}

static const struct virtio_dev_info dummy_info = {
        .name = "dummy", .type = VIRTIO_ID_RNG, .pci_class = PCI_CLASS_OTHERS,
        .features = VIRTIO_BIT(DUMMY_F_A) | VIRTIO_BIT(DUMMY_F_B) |
                    VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX),
        .num_queues = 2, .queue_max_size = QMAX, .config_size = sizeof(dev.config),
};

static const struct virtio_dev_ops dummy_ops = {
        .activate = dummy_activate, .reset = dummy_reset, .read_config = dummy_read_config,
        .write_config = dummy_write_config, .validate_features = dummy_validate,
        .free = dummy_free,
};

static void setup(void)
{
        h = fake_host_new(1 << 20);
        memset(&dev, 0, sizeof(dev));
        memcpy(dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
        ck_assert_int_eq(pci_bus_new(&h->host, NULL, NULL, &bus), 0);
        ck_assert_int_eq(virtio_pci_new(bus, &h->host, &dummy_info, &dummy_ops, &dev, &vp), 0);
        bar = pci_func_bar_addr(virtio_pci_func(vp), VIRTIO_PCI_BAR);
        ck_assert_uint_ne(bar, 0);
}

static void teardown(void)
{
        virtio_pci_free(vp);
        ck_assert_uint_eq(dev.frees, 1);
        pci_bus_free(bus);
        fake_host_free(h);
}

static uint64_t common_read(unsigned off, unsigned len) { return mmio_read(h, bar + off, len); }
static void common_write(unsigned off, uint64_t v, unsigned len) { mmio_write(h, bar + off, v, len); }
static uint8_t status(void) { return (uint8_t)common_read(VIRTIO_PCI_COMMON_STATUS, 1); }
static void set_status(uint8_t s) { common_write(VIRTIO_PCI_COMMON_STATUS, s, 1); }

static uint64_t device_features(void)
{
        common_write(VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
        uint64_t lo = common_read(VIRTIO_PCI_COMMON_DF, 4);
        common_write(VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
        return lo | common_read(VIRTIO_PCI_COMMON_DF, 4) << 32;
}

static void write_features(uint64_t f)
{
        common_write(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
        common_write(VIRTIO_PCI_COMMON_GF, (uint32_t)f, 4);
        common_write(VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
        common_write(VIRTIO_PCI_COMMON_GF, f >> 32, 4);
}

static bool negotiate(uint64_t f)
{
        set_status(VIRTIO_STATUS_ACKNOWLEDGE);
        set_status(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        write_features(f);
        set_status(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        return status() & VIRTIO_STATUS_FEATURES_OK;
}

static void setup_queue(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
        common_write(VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        common_write(VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
        common_write(VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)desc, 4);
        common_write(VIRTIO_PCI_COMMON_Q_DESCHI, desc >> 32, 4);
        common_write(VIRTIO_PCI_COMMON_Q_AVAILLO, avail, 8);
        common_write(VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)used, 4);
        common_write(VIRTIO_PCI_COMMON_Q_USEDHI, used >> 32, 4);
        common_write(VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
}

static void driver_ok(void)
{
        set_status(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                   VIRTIO_STATUS_DRIVER_OK);
}

static uint32_t find_vcap(uint8_t type)
{
        for (uint32_t p = pci_bus_cfg_read(bus, DEVFN, PCI_CAPABILITY_LIST, 1); p;
             p = pci_bus_cfg_read(bus, DEVFN, p + 1, 1))
                if (pci_bus_cfg_read(bus, DEVFN, p, 1) == PCI_CAP_ID_VNDR &&
                    pci_bus_cfg_read(bus, DEVFN, p + 3, 1) == type)
                        return p;
        return 0;
}

/* Enable MSI-X and unmask vector v with MSI data `data`. */
static void msix_setup(unsigned v, uint32_t data)
{
        uint64_t e = bar + VIRTIO_PCI_MSIX_TABLE_OFF + 16u * v;
        uint32_t cap = 0;

        for (uint32_t p = pci_bus_cfg_read(bus, DEVFN, PCI_CAPABILITY_LIST, 1); p;
             p = pci_bus_cfg_read(bus, DEVFN, p + 1, 1))
                if (pci_bus_cfg_read(bus, DEVFN, p, 1) == PCI_CAP_ID_MSIX)
                        cap = p;
        ck_assert_uint_ne(cap, 0);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, cap + PCI_MSIX_FLAGS, 2), 2); /* 3 vectors */
        pci_bus_cfg_write(bus, DEVFN, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
        mmio_write(h, e, 0xfee00000, 4);
        mmio_write(h, e + 4, 0, 4);
        mmio_write(h, e + 8, data, 4);
        mmio_write(h, e + 12, 0, 4);
}

START_TEST(test_identity_and_caps)
{
        static const struct { uint8_t type; uint32_t off; } want[] = {
                { VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF },
                { VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF },
                { VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF },
                { VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF },
                { VIRTIO_PCI_CAP_PCI_CFG, 0 },
        };
        uint32_t p;

        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, PCI_VENDOR_ID, 2), 0x1af4);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, PCI_REVISION_ID, 1), 1);
        ck_assert_uint_ge(pci_bus_cfg_read(bus, DEVFN, PCI_SUBSYSTEM_ID, 2), 0x40);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, PCI_BASE_ADDRESS_0, 4) & 0xf, PCI_BAR_MEM_TYPE_64);
        for (unsigned i = 0; i < 5; i++) {
                p = find_vcap(want[i].type);
                ck_assert_msg(p != 0, "capability type %u missing", want[i].type);
                ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 4, 1), VIRTIO_PCI_BAR);
                if (want[i].type != VIRTIO_PCI_CAP_PCI_CFG)
                        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 8, 4), want[i].off);
        }
        p = find_vcap(VIRTIO_PCI_CAP_NOTIFY_CFG);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 2, 1), 20);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 16, 4), VIRTIO_PCI_NOTIFY_MULT);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 12, 4), 2 * VIRTIO_PCI_NOTIFY_MULT);
        p = find_vcap(VIRTIO_PCI_CAP_DEVICE_CFG);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 12, 4), 8);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_NUMQ, 2), 2);
}
END_TEST

START_TEST(test_feature_negotiation)
{
        uint64_t f = device_features();

        ck_assert(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
        ck_assert(f & VIRTIO_BIT(DUMMY_F_A));
        ck_assert(!(f & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC)));
        common_write(VIRTIO_PCI_COMMON_DFSELECT, 2, 4);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_DF, 4), 0);

        /* Without VERSION_1: refused (legacy is not offered). */
        ck_assert(!negotiate(VIRTIO_BIT(DUMMY_F_A)));
        set_status(0);
        /* A bit the device did not offer. */
        ck_assert(!negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(5)));
        set_status(0);
        /* A combination the device refuses. */
        ck_assert(!negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(DUMMY_F_B)));
        set_status(0);
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(DUMMY_F_A)));
        /* Frozen after FEATURES_OK. */
        write_features(VIRTIO_BIT(VIRTIO_F_VERSION_1));
        common_write(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_GF, 4), VIRTIO_BIT(DUMMY_F_A));
        driver_ok();
        ck_assert_uint_eq(dev.activations, 1);
        ck_assert_uint_eq(dev.features, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(DUMMY_F_A));
}
END_TEST

START_TEST(test_status_machine)
{
        set_status(VIRTIO_STATUS_ACKNOWLEDGE);
        ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE);
        /* The driver cannot clear bits or set NEEDS_RESET. */
        set_status(VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        /* DRIVER_OK without FEATURES_OK: the device needs a reset. */
        set_status(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
        ck_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        ck_assert_uint_eq(dev.activations, 0);
        ck_assert(common_read(VIRTIO_PCI_ISR_OFF, 1) & VIRTIO_PCI_ISR_CONFIG);
        set_status(0);
        ck_assert_uint_eq(status(), 0);
        /* FAILED is just recorded. */
        set_status(VIRTIO_STATUS_FAILED);
        ck_assert_uint_eq(status(), VIRTIO_STATUS_FAILED);
}
END_TEST

START_TEST(test_queue_setup_and_reset)
{
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        common_write(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
        common_write(VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), 1);
        common_write(VIRTIO_PCI_COMMON_Q_MSIX, 3, 2);          /* only 3 vectors: 0..2 */
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
        setup_queue(0, 8, 0x1000, 0x2000, 0x3000);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x1000);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_AVAILLO, 4), 0x2000);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_USEDLO, 4), 0x3000);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
        /* Enabled: frozen. */
        common_write(VIRTIO_PCI_COMMON_Q_SIZE, 4, 2);
        common_write(VIRTIO_PCI_COMMON_Q_DESCLO, 0x5000, 4);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x1000);
        /* Queue 1 and an absent queue. */
        common_write(VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
        common_write(VIRTIO_PCI_COMMON_Q_SELECT, 7, 2);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);

        driver_ok();
        ck_assert_uint_eq(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
        ck_assert_uint_eq(dev.activations, 1);
        ck_assert(dev.q_enabled[0]);
        ck_assert(!dev.q_enabled[1]);

        /* Reset: the device stops, everything returns to its initial values. */
        set_status(0);
        ck_assert_uint_eq(dev.resets, 1);
        ck_assert_uint_eq(status(), 0);
        common_write(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
        common_write(VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_GF, 4), 0);
        /* And it comes back. */
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        setup_queue(1, 16, 0x4000, 0x5000, 0x6000);
        driver_ok();
        ck_assert_uint_eq(dev.activations, 2);
        ck_assert(dev.q_enabled[1]);
}
END_TEST

START_TEST(test_bad_queue_needs_reset)
{
        static const uint64_t bad[][4] = {
                { 8, 0x1008, 0x2000, 0x3000 },          /* misaligned descriptors */
                { 12, 0x1000, 0x2000, 0x3000 },         /* not a power of two */
                { 8, 0x1000, 0x2000, 0xffffff000ull },  /* used ring outside RAM */
                { 0, 0x1000, 0x2000, 0x3000 },          /* size 0 */
        };
        int fd;

        msix_setup(0, 0x30);
        common_write(VIRTIO_PCI_COMMON_MSIX, 0, 2);
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        common_write(VIRTIO_PCI_COMMON_MSIX, 0, 2);
        setup_queue(0, (uint16_t)bad[_i][0], bad[_i][1], bad[_i][2], bad[_i][3]);
        driver_ok();
        ck_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        ck_assert(!(status() & VIRTIO_STATUS_DRIVER_OK));
        ck_assert_uint_eq(dev.activations, 0);
        /* The driver hears about it through the config vector. */
        fd = fake_irqfd_for(h, 0x30);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 1);
        set_status(0);
        ck_assert_uint_eq(status(), 0);
}
END_TEST

START_TEST(test_activate_failure)
{
        dev.activate_result = -ENOMEM;
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        driver_ok();
        ck_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}
END_TEST

START_TEST(test_device_config_and_generation)
{
        int fd;

        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_DEVICE_OFF, 4), 0x04030201);
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_DEVICE_OFF + 6, 2), 0x0807);
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_DEVICE_OFF + 6, 4), 0);   /* past the end */
        mmio_write(h, bar + VIRTIO_PCI_DEVICE_OFF + 1, 0xaa, 1);
        ck_assert_uint_eq(dev.config[1], 0xaa);

        msix_setup(2, 0x77);
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        common_write(VIRTIO_PCI_COMMON_MSIX, 2, 2);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_MSIX, 2), 2);
        driver_ok();
        uint8_t gen = (uint8_t)common_read(VIRTIO_PCI_COMMON_CFGGENERATION, 1);
        dev.irq->config_changed(dev.irq->opaque);
        ck_assert_uint_eq(common_read(VIRTIO_PCI_COMMON_CFGGENERATION, 1), (uint8_t)(gen + 1));
        fd = fake_irqfd_for(h, 0x77);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 1);
        /* ISR: config bit, cleared by the read. */
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_ISR_OFF, 1), 0);
}
END_TEST

START_TEST(test_queue_interrupts)
{
        int fd;

        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        setup_queue(0, 8, 0x1000, 0x2000, 0x3000);
        driver_ok();
        /* MSI-X off: the ISR queue bit. */
        dev.irq->queue(dev.irq->opaque, 0);
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_QUEUE);
        /* MSI-X on, vector 1 for queue 0. */
        msix_setup(1, 0x51);
        common_write(VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
        common_write(VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
        fd = fake_irqfd_for(h, 0x51);
        ck_assert_int_ge(fd, 0);
        dev.irq->queue(dev.irq->opaque, 0);
        dev.irq->queue(dev.irq->opaque, 0);
        ck_assert_uint_eq(fake_wait_irq(fd, 0), 2);
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_ISR_OFF, 1), 0);
        /* NEEDS_RESET from the device's thread: once, through the config vector (none). */
        dev.irq->needs_reset(dev.irq->opaque);
        dev.irq->needs_reset(dev.irq->opaque);
        ck_assert(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        ck_assert(status() & VIRTIO_STATUS_DRIVER_OK);
        ck_assert_uint_eq(mmio_read(h, bar + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
        set_status(0);
        ck_assert_uint_eq(status(), 0);
        ck_assert_uint_eq(dev.resets, 1);
}
END_TEST

START_TEST(test_doorbells)
{
        unsigned on = 0;
        eventfd_t v;

        /* One ioeventfd per queue at its notify address, 2 bytes wide. */
        for (unsigned i = 0; i < h->n_ioev; i++) {
                if (!h->ioev[i].on)
                        continue;
                ck_assert_uint_eq(h->ioev[i].len, 2);
                ck_assert(h->ioev[i].addr == bar + VIRTIO_PCI_NOTIFY_OFF ||
                          h->ioev[i].addr == bar + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT);
                on++;
        }
        ck_assert_uint_eq(on, 2);
        ck_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
        setup_queue(1, 8, 0x1000, 0x2000, 0x3000);
        driver_ok();
        /* A doorbell the ioeventfd does not catch (4-byte write) still kicks the queue. */
        mmio_write(h, bar + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT, 1, 4);
        ck_assert_int_eq(eventfd_read(dev.kick_fd[1], &v), 0);
        ck_assert_uint_eq(v, 1);
        ck_assert_int_eq(eventfd_read(dev.kick_fd[0], &v), -1);
        /* The BAR moves: so do the ioeventfds. */
        pci_bus_cfg_write(bus, DEVFN, PCI_BASE_ADDRESS_0, 0xd0000000, 4);
        on = 0;
        for (unsigned i = 0; i < h->n_ioev; i++)
                if (h->ioev[i].on) {
                        ck_assert_uint_ge(h->ioev[i].addr, 0xd0000000 + VIRTIO_PCI_NOTIFY_OFF);
                        on++;
                }
        ck_assert_uint_eq(on, 2);
}
END_TEST

START_TEST(test_pci_cfg_window)
{
        uint32_t p = find_vcap(VIRTIO_PCI_CAP_PCI_CFG);

        ck_assert_uint_ne(p, 0);
        set_status(VIRTIO_STATUS_ACKNOWLEDGE);
        pci_bus_cfg_write(bus, DEVFN, p + 4, VIRTIO_PCI_BAR, 1);
        pci_bus_cfg_write(bus, DEVFN, p + 8, VIRTIO_PCI_COMMON_STATUS, 4);
        pci_bus_cfg_write(bus, DEVFN, p + 12, 1, 4);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 16, 1), VIRTIO_STATUS_ACKNOWLEDGE);
        pci_bus_cfg_write(bus, DEVFN, p + 16, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
        ck_assert_uint_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        /* Device config through the window, 4 bytes. */
        pci_bus_cfg_write(bus, DEVFN, p + 8, VIRTIO_PCI_DEVICE_OFF + 4, 4);
        pci_bus_cfg_write(bus, DEVFN, p + 12, 4, 4);
        ck_assert_uint_eq(pci_bus_cfg_read(bus, DEVFN, p + 16, 4), 0x08070605);
        /* A bad length does nothing. */
        pci_bus_cfg_write(bus, DEVFN, p + 12, 3, 4);
        pci_bus_cfg_write(bus, DEVFN, p + 16, 0xffffffff, 4);
        ck_assert_uint_eq(dev.config[4], 5);
}
END_TEST

static Suite *virtio_pci_suite(void)
{
        Suite *s = suite_create("virtio-pci");
        TCase *tc = tcase_create("transport");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_identity_and_caps);
        tcase_add_test(tc, test_feature_negotiation);
        tcase_add_test(tc, test_status_machine);
        tcase_add_test(tc, test_queue_setup_and_reset);
        tcase_add_loop_test(tc, test_bad_queue_needs_reset, 0, 4);
        tcase_add_test(tc, test_activate_failure);
        tcase_add_test(tc, test_device_config_and_generation);
        tcase_add_test(tc, test_queue_interrupts);
        tcase_add_test(tc, test_doorbells);
        tcase_add_test(tc, test_pci_cfg_window);
        suite_add_tcase(s, tc);
        return s;
}

CHECK_SUITE_MAIN(virtio_pci_suite)
