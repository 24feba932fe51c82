/* SPDX-License-Identifier: MIT */
/*
 * PCI bus 0 behind configuration mechanism #1 and ECAM. Each function keeps its 4 KiB
 * configuration space as bytes plus a mask of guest-writable bits and a mask of
 * write-1-to-clear bits; BAR sizing falls out of the mask (the address bits below the size
 * are read-only zero). After a write that touches the Command register or a BAR, the bus
 * moves the BAR's MMIO registration to where the guest put it, or removes it while memory
 * decode is off.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <abi/platform.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/vdev.h"
#include "vmms/vmstate.h"
#include "msix.h"
#include "pci.h"

#define PCI_HOST_BRIDGE_VENDOR  0x1b36u         /* a generic PCIe host bridge */
#define PCI_HOST_BRIDGE_DEVICE  0x0008u

struct pci_bar_state {
        struct pci_func *f;
        unsigned index;
        bool present;
        uint64_t size;
        unsigned flags;                 /* PCI_BAR_F_* */
        iobus_handler_fn fn;
        void *opaque;
        bool mapped;
        uint64_t addr;                  /* where it is registered while mapped */
        uint64_t init_addr;             /* where the bus placed it */
};

struct pci_func {
        struct pci_bus *bus;
        uint8_t devfn;
        const struct pci_func_ops *ops;
        void *opaque;
        uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
        uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];
        uint8_t w1cmask[PCI_CFG_SPACE_EXP_SIZE];
        uint8_t cap_end;                /* where the next capability goes */
        uint8_t cap_last;               /* offset of the last capability, 0: none */
        struct pci_bar_state bars[PCI_BAR_COUNT];
        struct pci_msix *msix;
        uint8_t msix_cap;
        unsigned msix_bar;
        uint32_t msix_table_off, msix_pba_off;
};

struct pci_bus {
        struct vmhost host;
        pthread_mutex_t lock;
        uint32_t cf8;
        iobus_handler_fn cf9_fn;
        void *cf9_opaque;
        bool pio_registered, ecam_registered;
        uint64_t next32, next64;
        struct pci_func *funcs[PCI_MAX_DEVICES * PCI_MAX_FUNCTIONS];
};

static uint32_t cfg_get(const uint8_t *p, unsigned len)
{
        uint32_t v = 0;

        memcpy(&v, p, len);
        return le32toh(v);
}

static void cfg_put(uint8_t *p, uint32_t v, unsigned len)
{
        v = htole32(v);
        memcpy(p, &v, len);
}

/* Set a register's value and writable mask at once. */
static void cfg_init(struct pci_func *f, uint32_t reg, uint32_t val, uint32_t wmask, unsigned len)
{
        cfg_put(f->cfg + reg, val, len);
        cfg_put(f->wmask + reg, wmask, len);
}

static bool range_hits(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
        return off < start + n && start < off + len;
}

static uint64_t bar_decode(const struct pci_func *f, unsigned i)
{
        const struct pci_bar_state *b = &f->bars[i];
        uint64_t addr = cfg_get(f->cfg + PCI_BASE_ADDRESS_0 + 4 * i, 4) & PCI_BAR_MEM_MASK;

        if (b->flags & PCI_BAR_F_64BIT)
                addr |= (uint64_t)cfg_get(f->cfg + PCI_BASE_ADDRESS_0 + 4 * (i + 1), 4) << 32;
        return addr;
}

static int pci_bar_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write);

static void bar_unmap(struct pci_func *f, struct pci_bar_state *b)
{
        if (!b->mapped)
                return;
        (void)iobus_unregister(f->bus->host.mmio, b->addr, b);
        b->mapped = false;
        if (f->ops && f->ops->bar_mapped)
                f->ops->bar_mapped(f->opaque, b->index, b->addr, false);
}

/* Make the MMIO registrations follow the Command register and the BAR values. */
static void pci_func_update_bars(struct pci_func *f)
{
        bool decode = cfg_get(f->cfg + PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;

        for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
                struct pci_bar_state *b = &f->bars[i];
                uint64_t addr;
                bool want;
                int r;

                if (!b->present)
                        continue;
                addr = bar_decode(f, i);
                want = decode && addr != 0 && addr + b->size > addr;
                if (b->mapped && (!want || addr != b->addr))
                        bar_unmap(f, b);
                if (!want || b->mapped)
                        continue;
                r = iobus_register(f->bus->host.mmio, addr, b->size, pci_bar_access, b, "pci-bar");
                if (r < 0) {
                        log_debug_errno(r, "PCI %02x.%x BAR%u at 0x%llx: not mapped: %m",
                                        PCI_SLOT(f->devfn), PCI_FUNC(f->devfn), i,
                                        (unsigned long long)addr);
                        continue;
                }
                b->mapped = true;
                b->addr = addr;
                if (f->ops && f->ops->bar_mapped)
                        f->ops->bar_mapped(f->opaque, i, addr, true);
        }
}

static uint32_t cfg_read_locked(struct pci_func *f, uint32_t reg, unsigned len)
{
        if (f->ops && f->ops->cfg_read)
                f->ops->cfg_read(f->opaque, f, reg, len);
        return cfg_get(f->cfg + reg, len);
}

static void cfg_write_locked(struct pci_func *f, uint32_t reg, uint32_t val, unsigned len)
{
        for (unsigned i = 0; i < len; i++) {
                uint8_t v = (uint8_t)(val >> (8 * i));
                uint8_t *c = &f->cfg[reg + i];

                *c = (uint8_t)((*c & ~f->wmask[reg + i]) | (v & f->wmask[reg + i]));
                *c &= (uint8_t)~(v & f->w1cmask[reg + i]);
        }
        if (range_hits(reg, len, PCI_COMMAND, 2) ||
            range_hits(reg, len, PCI_BASE_ADDRESS_0, 4 * PCI_BAR_COUNT))
                pci_func_update_bars(f);
        if (f->msix && range_hits(reg, len, f->msix_cap + PCI_MSIX_FLAGS, 2)) {
                uint16_t ctl = (uint16_t)cfg_get(f->cfg + f->msix_cap + PCI_MSIX_FLAGS, 2);

                pci_msix_set_control(f->msix, ctl & PCI_MSIX_FLAGS_ENABLE,
                                     ctl & PCI_MSIX_FLAGS_MASKALL);
        }
        if (f->ops && f->ops->cfg_write)
                f->ops->cfg_write(f->opaque, f, reg, len);
}

static bool cfg_access_ok(uint32_t reg, unsigned len, uint32_t limit)
{
        return (len == 1 || len == 2 || len == 4) && IS_ALIGNED(reg, len) && reg + len <= limit;
}

static uint32_t bus_read_locked(struct pci_bus *b, unsigned busno, uint8_t devfn, uint32_t reg,
                                unsigned len, uint32_t limit)
{
        struct pci_func *f = busno == 0 ? b->funcs[devfn] : NULL;

        if (!f || !cfg_access_ok(reg, len, limit))
                return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
        return cfg_read_locked(f, reg, len);
}

static void bus_write_locked(struct pci_bus *b, unsigned busno, uint8_t devfn, uint32_t reg,
                             uint32_t val, unsigned len, uint32_t limit)
{
        struct pci_func *f = busno == 0 ? b->funcs[devfn] : NULL;

        if (f && cfg_access_ok(reg, len, limit))
                cfg_write_locked(f, reg, val, len);
}

uint32_t pci_bus_cfg_read(struct pci_bus *b, uint8_t devfn, uint32_t reg, unsigned len)
{
        uint32_t v;

        pthread_mutex_lock(&b->lock);
        v = bus_read_locked(b, 0, devfn, reg, len, PCI_CFG_SPACE_EXP_SIZE);
        pthread_mutex_unlock(&b->lock);
        return v;
}

void pci_bus_cfg_write(struct pci_bus *b, uint8_t devfn, uint32_t reg, uint32_t val, unsigned len)
{
        pthread_mutex_lock(&b->lock);
        bus_write_locked(b, 0, devfn, reg, val, len, PCI_CFG_SPACE_EXP_SIZE);
        pthread_mutex_unlock(&b->lock);
}

/* Ports 0xcf8-0xcfb: the address register (dword only) and, at 0xcf9, the reset port. */
static int pci_cf8_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        struct pci_bus *b = opaque;
        uint32_t v;

        if (off == PLATFORM_PORT_RESET - PLATFORM_PORT_PCI_ADDR && len == 1) {
                if (b->cf9_fn)
                        return b->cf9_fn(b->cf9_opaque, 0, data, len, is_write);
                if (!is_write)
                        memset(data, 0, len);
                return 0;
        }
        if (off != 0 || len != 4) {
                if (!is_write)
                        memset(data, 0xff, len);
                return 0;
        }
        pthread_mutex_lock(&b->lock);
        if (is_write) {
                memcpy(&v, data, 4);
                b->cf8 = le32toh(v) & ~3u;
        } else {
                v = htole32(b->cf8);
                memcpy(data, &v, 4);
        }
        pthread_mutex_unlock(&b->lock);
        return 0;
}

/* Ports 0xcfc-0xcff: the data window onto the register the address register selects. */
static int pci_cfc_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        struct pci_bus *b = opaque;
        uint32_t v = 0;

        pthread_mutex_lock(&b->lock);
        if (!(b->cf8 & PCI_CF8_ENABLE)) {
                v = 0xffffffffu;
        } else {
                unsigned busno = (b->cf8 >> 16) & 0xff;
                uint8_t devfn = (uint8_t)(b->cf8 >> 8);
                uint32_t reg = (b->cf8 & 0xfc) + (uint32_t)off;

                if (is_write) {
                        memcpy(&v, data, len);
                        bus_write_locked(b, busno, devfn, reg, le32toh(v), len, PCI_CFG_SPACE_SIZE);
                } else {
                        v = bus_read_locked(b, busno, devfn, reg, len, PCI_CFG_SPACE_SIZE);
                }
        }
        pthread_mutex_unlock(&b->lock);
        if (!is_write) {
                v = htole32(v);
                memcpy(data, &v, len);
        }
        return 0;
}

static int pci_ecam_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        struct pci_bus *b = opaque;
        unsigned busno = (unsigned)(off >> 20) & 0xff;
        uint8_t devfn = (uint8_t)(off >> 12);
        uint32_t reg = (uint32_t)off & 0xfff, v = 0;

        if (len > 4) {          /* 8-byte ECAM accesses are not defined */
                if (!is_write)
                        memset(data, 0xff, len);
                return 0;
        }
        pthread_mutex_lock(&b->lock);
        if (is_write) {
                memcpy(&v, data, len);
                bus_write_locked(b, busno, devfn, reg, le32toh(v), len, PCI_CFG_SPACE_EXP_SIZE);
        } else {
                v = bus_read_locked(b, busno, devfn, reg, len, PCI_CFG_SPACE_EXP_SIZE);
        }
        pthread_mutex_unlock(&b->lock);
        if (!is_write) {
                v = htole32(v);
                memcpy(data, &v, len);
        }
        return 0;
}

/* A BAR access: MSI-X table and PBA first, the device's registers otherwise. */
static int pci_bar_access(void *opaque, uint64_t off, void *data, unsigned len, bool is_write)
{
        struct pci_bar_state *bar = opaque;
        struct pci_func *f = bar->f;

        if (f->msix && f->msix_bar == bar->index) {
                uint64_t tsize = (uint64_t)pci_msix_size(f->msix) * PCI_MSIX_ENTRY_SIZE;
                uint64_t psize = ALIGN_UP((uint64_t)pci_msix_size(f->msix), 64) / 8;

                if (off >= f->msix_table_off && off - f->msix_table_off < tsize) {
                        pci_msix_table_access(f->msix, off - f->msix_table_off, data, len, is_write);
                        return 0;
                }
                if (off >= f->msix_pba_off && off - f->msix_pba_off < psize) {
                        pci_msix_pba_access(f->msix, off - f->msix_pba_off, data, len, is_write);
                        return 0;
                }
        }
        if (!bar->fn) {
                if (!is_write)
                        memset(data, 0, len);
                return 0;
        }
        return bar->fn(bar->opaque, off, data, len, is_write);
}

static void pci_func_init_header(struct pci_func *f, uint16_t vendor, uint16_t device,
                                 uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
                                 uint16_t subsys)
{
        cfg_init(f, PCI_VENDOR_ID, vendor, 0, 2);
        cfg_init(f, PCI_DEVICE_ID, device, 0, 2);
        cfg_init(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
                 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
                 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE, 2);
        cfg_init(f, PCI_STATUS, 0, 0, 2);
        cfg_put(f->w1cmask + PCI_STATUS, 0xf900, 2);    /* error bits */
        cfg_init(f, PCI_REVISION_ID, revision, 0, 1);
        cfg_init(f, PCI_CLASS_PROG, class_code & 0xff, 0, 1);
        cfg_init(f, PCI_CLASS_DEVICE, (class_code >> 8) & 0xffff, 0, 2);
        cfg_init(f, PCI_CACHE_LINE_SIZE, 0, 0xff, 1);
        cfg_init(f, PCI_LATENCY_TIMER, 0, 0xff, 1);
        cfg_init(f, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL, 0, 1);
        cfg_init(f, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor, 0, 2);
        cfg_init(f, PCI_SUBSYSTEM_ID, subsys, 0, 2);
        cfg_init(f, PCI_INTERRUPT_LINE, 0, 0xff, 1);
        cfg_init(f, PCI_INTERRUPT_PIN, 0, 0, 1);        /* no INTx: MSI-X only */
        f->cap_end = PCI_STD_HEADER_SIZE;
}

static int pci_bus_add(struct pci_bus *b, uint8_t devfn, uint16_t vendor, uint16_t device,
                       uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
                       uint16_t subsys, const struct pci_func_ops *ops, void *opaque,
                       struct pci_func **ret)
{
        struct pci_func *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->bus = b;
        f->devfn = devfn;
        f->ops = ops;
        f->opaque = opaque;
        for (unsigned i = 0; i < PCI_BAR_COUNT; i++)
                f->bars[i] = (struct pci_bar_state) { .f = f, .index = i };
        pci_func_init_header(f, vendor, device, class_code, revision, subsys_vendor, subsys);
        pthread_mutex_lock(&b->lock);
        b->funcs[devfn] = f;
        pthread_mutex_unlock(&b->lock);
        *ret = f;
        return 0;
}

int pci_func_new(struct pci_bus *b, uint16_t vendor, uint16_t device, uint32_t class_code,
                 uint8_t revision, uint16_t subsys_vendor, uint16_t subsys,
                 const struct pci_func_ops *ops, void *opaque, struct pci_func **ret)
{
        for (unsigned slot = 1; slot < PCI_MAX_DEVICES; slot++)
                if (!b->funcs[PCI_DEVFN(slot, 0)])
                        return pci_bus_add(b, PCI_DEVFN(slot, 0), vendor, device, class_code,
                                           revision, subsys_vendor, subsys, ops, opaque, ret);
        return -ENOSPC;
}

void pci_func_free(struct pci_func *f)
{
        if (!f)
                return;
        pthread_mutex_lock(&f->bus->lock);
        f->bus->funcs[f->devfn] = NULL;
        for (unsigned i = 0; i < PCI_BAR_COUNT; i++)
                bar_unmap(f, &f->bars[i]);
        pthread_mutex_unlock(&f->bus->lock);
        pci_msix_free(f->msix);
        free(f);
}

uint8_t pci_func_devfn(const struct pci_func *f) { return f->devfn; }
struct pci_bus *pci_func_bus(const struct pci_func *f) { return f->bus; }
uint8_t *pci_func_config(struct pci_func *f) { return f->cfg; }

int pci_func_add_bar(struct pci_func *f, unsigned i, uint64_t size, unsigned flags,
                     iobus_handler_fn fn, void *opaque)
{
        struct pci_bus *b = f->bus;
        bool is64 = flags & PCI_BAR_F_64BIT;
        uint32_t lo_flags = (is64 ? PCI_BAR_MEM_TYPE_64 : PCI_BAR_MEM_TYPE_32) |
                            (flags & PCI_BAR_F_PREFETCH ? PCI_BAR_MEM_PREFETCH : 0);
        uint64_t addr;

        if (i >= PCI_BAR_COUNT || (is64 && i + 1 >= PCI_BAR_COUNT))
                return -EINVAL;
        if (size < 4 * KIB || (size & (size - 1)) != 0 || (!is64 && size > 2 * GIB))
                return -EINVAL;
        if (f->bars[i].present || (is64 && f->bars[i + 1].present) ||
            (i > 0 && f->bars[i - 1].present && (f->bars[i - 1].flags & PCI_BAR_F_64BIT)))
                return -EBUSY;

        pthread_mutex_lock(&b->lock);
        addr = ALIGN_UP(b->next32, size);
        if (addr + size <= PLATFORM_MMIO32_END) {
                b->next32 = addr + size;
        } else if (is64) {
                addr = ALIGN_UP(b->next64, size);
                if (addr + size > PLATFORM_MMIO64_BASE + PLATFORM_MMIO64_SIZE) {
                        pthread_mutex_unlock(&b->lock);
                        return -ENOSPC;
                }
                b->next64 = addr + size;
        } else {
                pthread_mutex_unlock(&b->lock);
                return -ENOSPC;
        }
        f->bars[i] = (struct pci_bar_state) {
                .f = f, .index = i, .present = true, .size = size, .flags = flags,
                .fn = fn, .opaque = opaque, .init_addr = addr,
        };
        cfg_init(f, PCI_BASE_ADDRESS_0 + 4 * i, (uint32_t)addr | lo_flags,
                 (uint32_t)~(size - 1) & PCI_BAR_MEM_MASK, 4);
        if (is64)
                cfg_init(f, PCI_BASE_ADDRESS_0 + 4 * (i + 1), (uint32_t)(addr >> 32),
                         (uint32_t)(~(size - 1) >> 32), 4);
        pci_func_update_bars(f);
        pthread_mutex_unlock(&b->lock);
        return 0;
}

uint64_t pci_func_bar_addr(struct pci_func *f, unsigned i)
{
        uint64_t a;

        pthread_mutex_lock(&f->bus->lock);
        a = i < PCI_BAR_COUNT && f->bars[i].present ? bar_decode(f, i) : 0;
        pthread_mutex_unlock(&f->bus->lock);
        return a;
}

bool pci_func_bar_mapped(struct pci_func *f, unsigned i)
{
        bool m;

        pthread_mutex_lock(&f->bus->lock);
        m = i < PCI_BAR_COUNT && f->bars[i].mapped;
        pthread_mutex_unlock(&f->bus->lock);
        return m;
}

int pci_func_add_cap(struct pci_func *f, const void *cap, uint8_t len, const uint8_t *wmask)
{
        unsigned off = ALIGN_UP((unsigned)f->cap_end, 4u);

        if (len < 2 || off + len > PCI_CFG_SPACE_SIZE)
                return -ENOSPC;
        pthread_mutex_lock(&f->bus->lock);
        memcpy(f->cfg + off, cap, len);
        f->cfg[off + PCI_CAP_LIST_NEXT] = 0;
        if (wmask)
                memcpy(f->wmask + off, wmask, len);
        if (f->cap_last)
                f->cfg[f->cap_last + PCI_CAP_LIST_NEXT] = (uint8_t)off;
        else
                f->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
        cfg_put(f->cfg + PCI_STATUS, cfg_get(f->cfg + PCI_STATUS, 2) | PCI_STATUS_CAP_LIST, 2);
        f->cap_last = (uint8_t)off;
        f->cap_end = (uint8_t)(off + len);
        pthread_mutex_unlock(&f->bus->lock);
        return (int)off;
}

int pci_func_add_msix(struct pci_func *f, unsigned nvec, unsigned bar, uint32_t table_off,
                      uint32_t pba_off)
{
        struct pci_msix_cap cap = {
                .cap_vndr = PCI_CAP_ID_MSIX,
                .msg_ctrl = htole16((uint16_t)(nvec - 1)),
                .table = htole32(table_off | bar),
                .pba = htole32(pba_off | bar),
        };
        uint8_t wmask[PCI_MSIX_CAP_SIZE] = { 0 };
        int r;

        if (f->msix || bar >= PCI_BAR_COUNT || nvec == 0 || nvec > PCI_MSIX_FLAGS_QSIZE + 1 ||
            !IS_ALIGNED(table_off, 8) || !IS_ALIGNED(pba_off, 8))
                return -EINVAL;
        cfg_put(wmask + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
        r = pci_msix_new(&f->bus->host, nvec, &f->msix);
        if (r < 0)
                return r;
        f->msix_bar = bar;
        f->msix_table_off = table_off;
        f->msix_pba_off = pba_off;
        r = pci_func_add_cap(f, &cap, sizeof(cap), wmask);
        if (r < 0) {
                pci_msix_free(TAKE_PTR(f->msix));
                return r;
        }
        f->msix_cap = (uint8_t)r;
        return 0;
}

int pci_msix_notify(struct pci_func *f, unsigned v)
{
        return f->msix ? pci_msix_signal(f->msix, v) : -ENODEV;
}

bool pci_msix_enabled(struct pci_func *f)
{
        return f->msix && pci_msix_is_enabled(f->msix);
}

unsigned pci_msix_nvec(const struct pci_func *f)
{
        return f->msix ? pci_msix_size(f->msix) : 0;
}

void pci_bus_reset(struct pci_bus *b)
{
        pthread_mutex_lock(&b->lock);
        b->cf8 = 0;
        for (unsigned d = 0; d < ARRAY_SIZE(b->funcs); d++) {
                struct pci_func *f = b->funcs[d];

                if (!f)
                        continue;
                cfg_put(f->cfg + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
                cfg_put(f->cfg + PCI_STATUS, cfg_get(f->cfg + PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 2);
                f->cfg[PCI_INTERRUPT_LINE] = 0;
                for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
                        struct pci_bar_state *bar = &f->bars[i];
                        uint32_t lo;

                        if (!bar->present)
                                continue;
                        lo = cfg_get(f->cfg + PCI_BASE_ADDRESS_0 + 4 * i, 4) & ~PCI_BAR_MEM_MASK;
                        cfg_put(f->cfg + PCI_BASE_ADDRESS_0 + 4 * i, (uint32_t)bar->init_addr | lo, 4);
                        if (bar->flags & PCI_BAR_F_64BIT)
                                cfg_put(f->cfg + PCI_BASE_ADDRESS_0 + 4 * (i + 1),
                                        (uint32_t)(bar->init_addr >> 32), 4);
                }
                pci_func_update_bars(f);
                if (f->msix) {
                        uint8_t *ctl = f->cfg + f->msix_cap + PCI_MSIX_FLAGS;

                        cfg_put(ctl, cfg_get(ctl, 2) & PCI_MSIX_FLAGS_QSIZE, 2);
                        pci_msix_reset(f->msix);
                }
        }
        pthread_mutex_unlock(&b->lock);
}

void pci_bus_free(struct pci_bus *b)
{
        if (!b)
                return;
        if (b->ecam_registered)
                (void)iobus_unregister(b->host.mmio, PLATFORM_ECAM_BASE, b);
        if (b->pio_registered) {
                (void)iobus_unregister(b->host.pio, PLATFORM_PORT_PCI_ADDR, b);
                (void)iobus_unregister(b->host.pio, PLATFORM_PORT_PCI_DATA, b);
        }
        for (unsigned i = 0; i < ARRAY_SIZE(b->funcs); i++)
                pci_func_free(b->funcs[i]);
        pthread_mutex_destroy(&b->lock);
        free(b);
}
DEFINE_TRIVIAL_CLEANUP(struct pci_bus, pci_bus_free)

int pci_bus_new(const struct vmhost *host, iobus_handler_fn cf9_fn, void *cf9_opaque,
                struct pci_bus **ret)
{
        _cleanup_(pci_bus_freep) struct pci_bus *b = NULL;
        struct pci_func *hb;
        int r;

        if (!host || !host->pio || !host->mmio)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->host = *host;
        b->cf9_fn = cf9_fn;
        b->cf9_opaque = cf9_opaque;
        b->next32 = PLATFORM_MMIO32_BASE;
        b->next64 = PLATFORM_MMIO64_BASE;
        pthread_mutex_init(&b->lock, NULL);

        r = pci_bus_add(b, PCI_DEVFN(0, 0), PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE,
                        PCI_CLASS_BRIDGE_HOST, 0, PCI_HOST_BRIDGE_VENDOR, 0x1100, NULL, NULL, &hb);
        if (r < 0)
                return r;
        r = iobus_register(host->pio, PLATFORM_PORT_PCI_ADDR, 4, pci_cf8_access, b, "pci-cf8");
        if (r < 0)
                return r;
        r = iobus_register(host->pio, PLATFORM_PORT_PCI_DATA, 4, pci_cfc_access, b, "pci-cfc");
        if (r < 0) {
                (void)iobus_unregister(host->pio, PLATFORM_PORT_PCI_ADDR, b);
                return r;
        }
        b->pio_registered = true;
        r = iobus_register(host->mmio, PLATFORM_ECAM_BASE, PLATFORM_ECAM_SIZE, pci_ecam_access,
                           b, "pci-ecam");
        if (r < 0)
                return r;
        b->ecam_registered = true;
        *ret = TAKE_PTR(b);
        return 0;
}

#define PCI_STATE_VERSION 1u

struct pci_state_hdr {
        uint32_t nvec;
        uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
};

int pci_func_save(struct pci_func *f, struct vmstate_writer *w)
{
        unsigned nvec = f->msix ? pci_msix_nvec(f) : 0;
        size_t len = sizeof(struct pci_state_hdr) + nvec * (sizeof(struct pci_msix_entry) + 1);
        _cleanup_free_ uint8_t *buf = calloc(1, len);
        struct pci_state_hdr *h = (struct pci_state_hdr *)(void *)buf;
        char name[16];

        if (!buf)
                return -ENOMEM;
        h->nvec = nvec;
        pthread_mutex_lock(&f->bus->lock);
        memcpy(h->cfg, f->cfg, sizeof(h->cfg));
        pthread_mutex_unlock(&f->bus->lock);
        if (nvec)
                pci_msix_get_state(f->msix, (struct pci_msix_entry *)(void *)(buf + sizeof(*h)),
                                   buf + sizeof(*h) + nvec * sizeof(struct pci_msix_entry));
        snprintf(name, sizeof(name), "pci.%02x", f->devfn);
        return vmstate_put(w, name, PCI_STATE_VERSION, buf, len);
}

int pci_func_load(struct pci_func *f, struct vmstate *st, char *err, size_t err_len)
{
        unsigned nvec = f->msix ? pci_msix_nvec(f) : 0;
        size_t len = sizeof(struct pci_state_hdr) + nvec * (sizeof(struct pci_msix_entry) + 1);
        _cleanup_free_ uint8_t *buf = malloc(len);
        const struct pci_state_hdr *h = (const struct pci_state_hdr *)(void *)buf;
        char name[16];
        int r;

        if (!buf)
                return -ENOMEM;
        snprintf(name, sizeof(name), "pci.%02x", f->devfn);
        r = vdev_state_get(st, name, PCI_STATE_VERSION, buf, len, err, err_len);
        if (r < 0)
                return r;
        if (h->nvec != nvec) {
                snprintf(err, err_len, "section %s: %u MSI-X vectors, the device has %u", name, h->nvec, nvec);
                return -EINVAL;
        }
        pthread_mutex_lock(&f->bus->lock);
        /* Plain registers: the bits a guest may write. */
        for (unsigned i = 0; i < PCI_CFG_SPACE_EXP_SIZE; i++) {
                bool functional = range_hits(i, 1, PCI_COMMAND, 2) ||
                                  range_hits(i, 1, PCI_BASE_ADDRESS_0, 4 * PCI_BAR_COUNT) ||
                                  (f->msix && range_hits(i, 1, f->msix_cap + PCI_MSIX_FLAGS, 2));

                if (!functional)
                        f->cfg[i] = (uint8_t)((f->cfg[i] & ~f->wmask[i]) | (h->cfg[i] & f->wmask[i]));
        }
        pthread_mutex_unlock(&f->bus->lock);
        if (nvec)
                pci_msix_set_state(f->msix, (const struct pci_msix_entry *)(const void *)(buf + sizeof(*h)),
                                   buf + sizeof(*h) + nvec * sizeof(struct pci_msix_entry));
        pthread_mutex_lock(&f->bus->lock);
        for (unsigned b = 0; b < PCI_BAR_COUNT; b++)
                cfg_write_locked(f, PCI_BASE_ADDRESS_0 + 4 * b, cfg_get(h->cfg + PCI_BASE_ADDRESS_0 + 4 * b, 4), 4);
        if (f->msix)
                cfg_write_locked(f, f->msix_cap + PCI_MSIX_FLAGS, cfg_get(h->cfg + f->msix_cap + PCI_MSIX_FLAGS, 2), 2);
        cfg_write_locked(f, PCI_COMMAND, cfg_get(h->cfg + PCI_COMMAND, 2), 2);
        pthread_mutex_unlock(&f->bus->lock);
        return 0;
}
