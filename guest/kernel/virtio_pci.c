/* SPDX-License-Identifier: MIT */
#include <abi/pci.h>
#include <abi/virtio.h>

#include "kernel/kernel.h"
#include "kernel/virtio_pci.h"

#define VIRTIO_PCI_DEVICE_ID_LEGACY_BASE 0x1000u
#define VIRTIO_PCI_DEVICE_ID_LEGACY_END  0x103fu
#define VIRTIO_PCI_DEVICE_ID_MODERN_END  0x107fu
#define VIRTIO_RESET_TIMEOUT_NS          (1000ull * 1000000)

/* Common configuration registers (section 4.1.4.3) */
static inline uint8_t common_r8(struct guest_virtio_pci *vp, unsigned off)
{
        return guest_mmio_read8(vp->common + off);
}
static inline uint16_t common_r16(struct guest_virtio_pci *vp, unsigned off)
{
        return guest_mmio_read16(vp->common + off);
}
static inline uint32_t common_r32(struct guest_virtio_pci *vp, unsigned off)
{
        return guest_mmio_read32(vp->common + off);
}
static inline void common_w8(struct guest_virtio_pci *vp, unsigned off, uint8_t v)
{
        guest_mmio_write8(vp->common + off, v);
}
static inline void common_w16(struct guest_virtio_pci *vp, unsigned off, uint16_t v)
{
        guest_mmio_write16(vp->common + off, v);
}
static inline void common_w32(struct guest_virtio_pci *vp, unsigned off, uint32_t v)
{
        guest_mmio_write32(vp->common + off, v);
}
/* 64-bit fields as two 32-bit halves, low first (4.1.3.1). */
static void common_w64(struct guest_virtio_pci *vp, unsigned off, uint64_t v)
{
        common_w32(vp, off, (uint32_t)v);
        common_w32(vp, off + 4, (uint32_t)(v >> 32));
}

/* The mapped address of [offset, offset + length) in BAR `bar`, or 0. */
static uint64_t cap_window(const struct guest_pci_dev *d, uint8_t bar, uint32_t offset, uint32_t length)
{
        const struct guest_pci_bar *b;

        if (bar >= PCI_BAR_COUNT)
                return 0;
        b = &d->bars[bar];
        if (b->io || !b->mapped || (uint64_t)offset + length > b->size)
                return 0;
        return b->addr + offset;
}

int guest_virtio_pci_probe(struct guest_pci_dev *pci, struct guest_virtio_pci *vp)
{
        uint8_t pos = 0;
        int r;

        *vp = (struct guest_virtio_pci){ .pci = pci, .config_vector = -1 };
        if (pci->vendor != VIRTIO_PCI_VENDOR_ID)
                return -ENODEV;
        if (pci->device >= VIRTIO_PCI_DEVICE_ID_BASE && pci->device <= VIRTIO_PCI_DEVICE_ID_MODERN_END)
                vp->device_type = (uint16_t)(pci->device - VIRTIO_PCI_DEVICE_ID_BASE);
        else if (pci->device >= VIRTIO_PCI_DEVICE_ID_LEGACY_BASE && pci->device <= VIRTIO_PCI_DEVICE_ID_LEGACY_END)
                vp->device_type = pci->subsys_device;   /* transitional: its modern interface */
        else
                return -ENODEV;

        r = guest_pci_enable(pci);
        if (r < 0)
                return r;

        /* The first capability of each type that this driver can use (4.1.4.1). */
        while ((pos = guest_pci_find_cap(pci, PCI_CAP_ID_VNDR, pos)) != 0) {
                uint8_t type = guest_pci_read8(pci, pos + offsetof(struct virtio_pci_cap, cfg_type));
                uint8_t len = guest_pci_read8(pci, pos + offsetof(struct virtio_pci_cap, cap_len));
                uint8_t bar = guest_pci_read8(pci, pos + offsetof(struct virtio_pci_cap, bar));
                uint32_t offset = guest_pci_read32(pci, pos + offsetof(struct virtio_pci_cap, offset));
                uint32_t length = guest_pci_read32(pci, pos + offsetof(struct virtio_pci_cap, length));
                uint64_t a;

                if (len < sizeof(struct virtio_pci_cap))
                        continue;
                a = cap_window(pci, bar, offset, length);
                if (!a)
                        continue;
                switch (type) {
                case VIRTIO_PCI_CAP_COMMON_CFG:
                        if (!vp->common && length >= VIRTIO_PCI_COMMON_CFG_SIZE - 4)
                                vp->common = a;
                        break;
                case VIRTIO_PCI_CAP_NOTIFY_CFG:
                        if (!vp->notify && len >= sizeof(struct virtio_pci_notify_cap)) {
                                vp->notify = a;
                                vp->notify_len = length;
                                vp->notify_mult = guest_pci_read32(pci, pos + offsetof(struct virtio_pci_notify_cap,
                                                                                        notify_off_multiplier));
                        }
                        break;
                case VIRTIO_PCI_CAP_ISR_CFG:
                        if (!vp->isr && length >= 1)
                                vp->isr = a;
                        break;
                case VIRTIO_PCI_CAP_DEVICE_CFG:
                        if (!vp->device) {
                                vp->device = a;
                                vp->device_len = length;
                        }
                        break;
                default:
                        break;
                }
        }
        if (!vp->common || !vp->notify)
                return -ENODEV;
        vp->num_queues = common_r16(vp, VIRTIO_PCI_COMMON_NUMQ);
        return 0;
}

uint8_t guest_virtio_get_status(struct guest_virtio_pci *vp)
{
        return common_r8(vp, VIRTIO_PCI_COMMON_STATUS);
}

void guest_virtio_add_status(struct guest_virtio_pci *vp, uint8_t bits)
{
        common_w8(vp, VIRTIO_PCI_COMMON_STATUS, (uint8_t)(guest_virtio_get_status(vp) | bits));
}

int guest_virtio_reset(struct guest_virtio_pci *vp)
{
        uint64_t deadline = guest_time_ns() + VIRTIO_RESET_TIMEOUT_NS;

        common_w8(vp, VIRTIO_PCI_COMMON_STATUS, 0);
        vp->resets++;
        /* The reset is done when device_status reads 0 (4.1.4.3.2). */
        while (guest_virtio_get_status(vp) != 0) {
                if (guest_time_ns() > deadline)
                        return -ETIMEDOUT;
                guest_delay_us(10);
        }
        vp->features = 0;
        return 0;
}

int guest_virtio_negotiate(struct guest_virtio_pci *vp, uint64_t wanted, uint64_t required)
{
        uint64_t offered, accept;
        int r;

        r = guest_virtio_reset(vp);
        if (r < 0)
                return r;
        guest_virtio_add_status(vp, VIRTIO_STATUS_ACKNOWLEDGE);
        guest_virtio_add_status(vp, VIRTIO_STATUS_DRIVER);

        common_w32(vp, VIRTIO_PCI_COMMON_DFSELECT, 0);
        offered = common_r32(vp, VIRTIO_PCI_COMMON_DF);
        common_w32(vp, VIRTIO_PCI_COMMON_DFSELECT, 1);
        offered |= (uint64_t)common_r32(vp, VIRTIO_PCI_COMMON_DF) << 32;
        vp->device_features = offered;

        required |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
        if ((offered & required) != required) {
                guest_virtio_add_status(vp, VIRTIO_STATUS_FAILED);
                return -ENODEV;
        }
        /* No IOMMU in front of us: identity addresses are what the platform translates to. */
        accept = offered & (wanted | required | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM));

        common_w32(vp, VIRTIO_PCI_COMMON_GFSELECT, 0);
        common_w32(vp, VIRTIO_PCI_COMMON_GF, (uint32_t)accept);
        common_w32(vp, VIRTIO_PCI_COMMON_GFSELECT, 1);
        common_w32(vp, VIRTIO_PCI_COMMON_GF, (uint32_t)(accept >> 32));

        guest_virtio_add_status(vp, VIRTIO_STATUS_FEATURES_OK);
        if (!(guest_virtio_get_status(vp) & VIRTIO_STATUS_FEATURES_OK)) {
                guest_virtio_add_status(vp, VIRTIO_STATUS_FAILED);
                return -EIO;
        }
        vp->features = accept;
        vp->num_queues = common_r16(vp, VIRTIO_PCI_COMMON_NUMQ);
        return 0;
}

uint16_t guest_virtio_queue_max(struct guest_virtio_pci *vp, uint16_t index)
{
        if (index >= vp->num_queues)
                return 0;
        common_w16(vp, VIRTIO_PCI_COMMON_Q_SELECT, index);
        return common_r16(vp, VIRTIO_PCI_COMMON_Q_SIZE);
}

int guest_virtio_queue_setup(struct guest_virtio_pci *vp, struct guest_vq *vq, int msix_entry)
{
        uint16_t max, noff, vec = msix_entry >= 0 ? (uint16_t)msix_entry : VIRTIO_MSI_NO_VECTOR;
        uint64_t off;

        max = guest_virtio_queue_max(vp, vq->index);    /* also selects the queue */
        if (max == 0 || vq->size > max)
                return -EINVAL;
        if (common_r16(vp, VIRTIO_PCI_COMMON_Q_ENABLE))
                return -EBUSY;
        common_w16(vp, VIRTIO_PCI_COMMON_Q_SIZE, vq->size);
        common_w64(vp, VIRTIO_PCI_COMMON_Q_DESCLO, guest_vq_desc_addr(vq));
        common_w64(vp, VIRTIO_PCI_COMMON_Q_AVAILLO, guest_vq_driver_addr(vq));
        common_w64(vp, VIRTIO_PCI_COMMON_Q_USEDLO, guest_vq_device_addr(vq));
        common_w16(vp, VIRTIO_PCI_COMMON_Q_MSIX, vec);
        /* The device answers NO_VECTOR when it could not take the vector (4.1.5.1.2). */
        if (common_r16(vp, VIRTIO_PCI_COMMON_Q_MSIX) != vec)
                return -EBUSY;
        noff = common_r16(vp, VIRTIO_PCI_COMMON_Q_NOFF);
        off = (uint64_t)noff * vp->notify_mult;
        if (off + 2 > vp->notify_len)
                return -ERANGE;
        vq->notify_addr = vp->notify + off;
        vq->msix_entry = msix_entry;
        common_w16(vp, VIRTIO_PCI_COMMON_Q_ENABLE, 1);
        return 0;
}

int guest_virtio_config_vector(struct guest_virtio_pci *vp, int msix_entry)
{
        uint16_t vec = msix_entry >= 0 ? (uint16_t)msix_entry : VIRTIO_MSI_NO_VECTOR;

        common_w16(vp, VIRTIO_PCI_COMMON_MSIX, vec);
        return common_r16(vp, VIRTIO_PCI_COMMON_MSIX) == vec ? 0 : -EBUSY;
}

void guest_virtio_driver_ok(struct guest_virtio_pci *vp)
{
        guest_virtio_add_status(vp, VIRTIO_STATUS_DRIVER_OK);
}

/* Fields are read with their own width; 64-bit ones as two 32-bit halves (4.1.3.1). */
static void config_copy(struct guest_virtio_pci *vp, unsigned off, uint8_t *buf, unsigned len)
{
        uint64_t a = vp->device + off;

        if (len == 1) {
                buf[0] = guest_mmio_read8(a);
        } else if (len == 2 && !(off & 1)) {
                uint16_t v = guest_mmio_read16(a);
                memcpy(buf, &v, 2);
        } else if ((len == 4 || len == 8) && !(off & 3)) {
                for (unsigned i = 0; i < len; i += 4) {
                        uint32_t v = guest_mmio_read32(a + i);
                        memcpy(buf + i, &v, 4);
                }
        } else {
                for (unsigned i = 0; i < len; i++)
                        buf[i] = guest_mmio_read8(a + i);
        }
}

int guest_virtio_config_read(struct guest_virtio_pci *vp, unsigned off, void *buf, unsigned len)
{
        uint8_t gen;

        if (!vp->device || (uint64_t)off + len > vp->device_len)
                return -ERANGE;
        for (unsigned tries = 0; tries < 100; tries++) {
                gen = common_r8(vp, VIRTIO_PCI_COMMON_CFGGENERATION);
                config_copy(vp, off, buf, len);
                if (common_r8(vp, VIRTIO_PCI_COMMON_CFGGENERATION) == gen)
                        return 0;
        }
        return -EAGAIN;
}
