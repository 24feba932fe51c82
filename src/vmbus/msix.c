/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <abi/pci.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/vmhost.h"
#include "msix.h"

struct pci_msix_vector {
        struct pci_msix_entry e;        /* host byte order */
        int fd;                         /* irqfd eventfd */
        int gsi;                        /* -1 until routed */
        uint64_t route_addr;
        uint32_t route_data;
        bool pending;
};

struct pci_msix {
        const struct vmhost *host;
        pthread_mutex_t lock;
        unsigned nvec;
        bool enabled, maskall;
        struct pci_msix_vector vec[];
};

int pci_msix_new(const struct vmhost *host, unsigned nvec, struct pci_msix **ret)
{
        struct pci_msix *m;

        if (nvec == 0 || nvec > 2048)
                return -EINVAL;
        m = calloc(1, sizeof(*m) + nvec * sizeof(m->vec[0]));
        if (!m)
                return -ENOMEM;
        m->host = host;
        m->nvec = nvec;
        pthread_mutex_init(&m->lock, NULL);
        for (unsigned i = 0; i < nvec; i++) {
                m->vec[i].e.ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;        /* reset state */
                m->vec[i].gsi = -1;
                m->vec[i].fd = -1;
        }
        for (unsigned i = 0; i < nvec; i++) {
                m->vec[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (m->vec[i].fd < 0) {
                        int r = -errno;
                        pci_msix_free(m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}

void pci_msix_free(struct pci_msix *m)
{
        if (!m)
                return;
        for (unsigned i = 0; i < m->nvec; i++) {
                struct pci_msix_vector *v = &m->vec[i];

                if (v->gsi >= 0 && m->host->ops) {
                        (void)m->host->ops->irqfd(m->host->opaque, (unsigned)v->gsi, v->fd, false);
                        (void)m->host->ops->msi_route_del(m->host->opaque, (unsigned)v->gsi);
                }
                safe_close(v->fd);
        }
        pthread_mutex_destroy(&m->lock);
        free(m);
}

static bool msix_vec_active(const struct pci_msix *m, const struct pci_msix_vector *v)
{
        return m->enabled && !m->maskall && !(v->e.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Route an active vector (or follow a new message), then flush its pending bit. */
static void msix_vec_refresh(struct pci_msix *m, unsigned i)
{
        struct pci_msix_vector *v = &m->vec[i];
        const struct vmhost_ops *ops = m->host->ops;
        uint64_t addr = (uint64_t)v->e.addr_hi << 32 | v->e.addr_lo;
        int r;

        if (!msix_vec_active(m, v) || !ops)
                return;
        if (v->gsi < 0) {
                unsigned gsi;

                r = ops->msi_route_add(m->host->opaque, addr, v->e.data, &gsi);
                if (r < 0) {
                        log_debug_errno(r, "MSI-X vector %u: no GSI route: %m", i);
                        return;
                }
                r = ops->irqfd(m->host->opaque, gsi, v->fd, true);
                if (r < 0) {
                        log_debug_errno(r, "MSI-X vector %u: irqfd for GSI %u failed: %m", i, gsi);
                        (void)ops->msi_route_del(m->host->opaque, gsi);
                        return;
                }
                v->gsi = (int)gsi;
        } else if (addr != v->route_addr || v->e.data != v->route_data) {
                r = ops->msi_route_update(m->host->opaque, (unsigned)v->gsi, addr, v->e.data);
                if (r < 0) {
                        log_debug_errno(r, "MSI-X vector %u: route update failed: %m", i);
                        return;
                }
        }
        v->route_addr = addr;
        v->route_data = v->e.data;
        if (v->pending) {
                v->pending = false;
                (void)eventfd_write(v->fd, 1);
        }
}

static bool msix_access_ok(uint64_t off, unsigned len)
{
        return (len == 4 || len == 8) && IS_ALIGNED(off, len);
}

void pci_msix_table_access(struct pci_msix *m, uint64_t off, void *data, unsigned len,
                           bool is_write)
{
        uint64_t i = off / PCI_MSIX_ENTRY_SIZE;
        unsigned field = (unsigned)(off % PCI_MSIX_ENTRY_SIZE);
        struct pci_msix_entry e;
        uint8_t bytes[PCI_MSIX_ENTRY_SIZE];

        if (!msix_access_ok(off, len) || i >= m->nvec) {
                if (!is_write)
                        memset(data, 0, len);
                return;
        }
        pthread_mutex_lock(&m->lock);
        e = m->vec[i].e;
        e.addr_lo = htole32(e.addr_lo);
        e.addr_hi = htole32(e.addr_hi);
        e.data = htole32(e.data);
        e.ctrl = htole32(e.ctrl);
        memcpy(bytes, &e, sizeof(bytes));
        if (!is_write) {
                memcpy(data, bytes + field, len);
                pthread_mutex_unlock(&m->lock);
                return;
        }
        memcpy(bytes + field, data, len);
        memcpy(&e, bytes, sizeof(e));
        m->vec[i].e = (struct pci_msix_entry) {
                .addr_lo = le32toh(e.addr_lo) & ~3u,    /* dword aligned */
                .addr_hi = le32toh(e.addr_hi),
                .data = le32toh(e.data),
                .ctrl = le32toh(e.ctrl) & PCI_MSIX_ENTRY_CTRL_MASKBIT,
        };
        msix_vec_refresh(m, (unsigned)i);
        pthread_mutex_unlock(&m->lock);
}

void pci_msix_pba_access(struct pci_msix *m, uint64_t off, void *data, unsigned len,
                         bool is_write)
{
        uint64_t bits = 0;

        if (is_write)
                return;         /* read-only */
        if (!msix_access_ok(off, len)) {
                memset(data, 0, len);
                return;
        }
        pthread_mutex_lock(&m->lock);
        for (unsigned b = 0; b < len * 8; b++) {
                uint64_t v = off * 8 + b;

                if (v < m->nvec && m->vec[v].pending)
                        bits |= 1ull << b;
        }
        pthread_mutex_unlock(&m->lock);
        bits = htole64(bits);
        memcpy(data, &bits, len);
}

void pci_msix_set_control(struct pci_msix *m, bool enable, bool maskall)
{
        pthread_mutex_lock(&m->lock);
        if (m->enabled != enable || m->maskall != maskall) {
                m->enabled = enable;
                m->maskall = maskall;
                for (unsigned i = 0; i < m->nvec; i++)
                        msix_vec_refresh(m, i);
        }
        pthread_mutex_unlock(&m->lock);
}

void pci_msix_reset(struct pci_msix *m)
{
        pthread_mutex_lock(&m->lock);
        m->enabled = m->maskall = false;
        for (unsigned i = 0; i < m->nvec; i++) {
                m->vec[i].e = (struct pci_msix_entry) { .ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT };
                m->vec[i].pending = false;
        }
        pthread_mutex_unlock(&m->lock);
}

int pci_msix_signal(struct pci_msix *m, unsigned i)
{
        struct pci_msix_vector *v;
        int fd = -1;

        if (i >= m->nvec)
                return -EINVAL;
        v = &m->vec[i];
        pthread_mutex_lock(&m->lock);
        if (!m->enabled) {
                pthread_mutex_unlock(&m->lock);
                return 0;
        }
        if (!msix_vec_active(m, v) || v->gsi < 0)
                v->pending = true;
        else
                fd = v->fd;
        pthread_mutex_unlock(&m->lock);
        /* The fd lives as long as m; writing outside the lock keeps vCPUs unblocked. */
        if (fd >= 0 && eventfd_write(fd, 1) < 0)
                return -errno;
        return 1;
}

bool pci_msix_is_enabled(struct pci_msix *m)
{
        bool r;

        pthread_mutex_lock(&m->lock);
        r = m->enabled;
        pthread_mutex_unlock(&m->lock);
        return r;
}

unsigned pci_msix_size(const struct pci_msix *m)
{
        return m->nvec;
}

void pci_msix_get_state(struct pci_msix *m, struct pci_msix_entry *table, uint8_t *pending)
{
        pthread_mutex_lock(&m->lock);
        for (unsigned i = 0; i < m->nvec; i++) {
                table[i] = m->vec[i].e;
                pending[i] = m->vec[i].pending;
        }
        pthread_mutex_unlock(&m->lock);
}

void pci_msix_set_state(struct pci_msix *m, const struct pci_msix_entry *table, const uint8_t *pending)
{
        pthread_mutex_lock(&m->lock);
        for (unsigned i = 0; i < m->nvec; i++) {
                m->vec[i].e = (struct pci_msix_entry) {
                        .addr_lo = table[i].addr_lo & ~3u, .addr_hi = table[i].addr_hi, .data = table[i].data,
                        .ctrl = table[i].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT,
                };
                m->vec[i].pending = pending[i] != 0;
                msix_vec_refresh(m, i);
        }
        pthread_mutex_unlock(&m->lock);
}
