/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <abi/platform.h>

#include "vmms/cleanup.h"
#include "vmms/macro.h"
#include "kvm_irq.h"

#define KVM_IRQ_FIRST_MSI_GSI   PLATFORM_IOAPIC_PINS
#define KVM_IRQ_DEFAULT_MAX     1024u

struct kvm_irq_routing_state {
        int vm_fd;
        pthread_mutex_t lock;
        unsigned max_gsi;               /* GSIs are < max_gsi */
        unsigned n, alloc;
        struct kvm_irq_routing_entry *entries;
        uint8_t *msi_gsi;               /* max_gsi flags: GSI is one of our MSI routes */
};

static int routing_append(struct kvm_irq_routing_state *s, const struct kvm_irq_routing_entry *e)
{
        if (s->n == s->alloc) {
                unsigned na = s->alloc ? s->alloc * 2 : 64;
                struct kvm_irq_routing_entry *ne = realloc(s->entries, na * sizeof(*ne));

                if (!ne)
                        return -ENOMEM;
                s->entries = ne;
                s->alloc = na;
        }
        s->entries[s->n++] = *e;
        return 0;
}

static int routing_commit(struct kvm_irq_routing_state *s)
{
        _cleanup_free_ struct kvm_irq_routing *t = NULL;

        t = calloc(1, sizeof(*t) + s->n * sizeof(t->entries[0]));
        if (!t)
                return -ENOMEM;
        t->nr = s->n;
        memcpy(t->entries, s->entries, s->n * sizeof(t->entries[0]));
        if (ioctl(s->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
                return -errno;
        return 0;
}

void kvm_irq_routing_free(struct kvm_irq_routing_state *s)
{
        if (!s)
                return;
        free(s->entries);
        free(s->msi_gsi);
        pthread_mutex_destroy(&s->lock);
        free(s);
}
DEFINE_TRIVIAL_CLEANUP(struct kvm_irq_routing_state, kvm_irq_routing_free)

int kvm_irq_routing_new(int vm_fd, struct kvm_irq_routing_state **ret)
{
        _cleanup_(kvm_irq_routing_freep) struct kvm_irq_routing_state *s = NULL;
        int max;

        if (vm_fd < 0)
                return -EBADF;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->vm_fd = vm_fd;
        pthread_mutex_init(&s->lock, NULL);
        max = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
        if (max <= 0)
                return -EOPNOTSUPP;
        /* KVM limits the number of entries; each GSI below has at most two. */
        s->max_gsi = MIN((unsigned)max, KVM_IRQ_DEFAULT_MAX);
        s->msi_gsi = calloc(s->max_gsi, 1);
        if (!s->msi_gsi)
                return -ENOMEM;

        /* What KVM_CREATE_IRQCHIP installed: IOAPIC pins 0-23, PIC pins for GSI 0-15. */
        for (unsigned gsi = 0; gsi < PLATFORM_IOAPIC_PINS; gsi++) {
                struct kvm_irq_routing_entry e = {
                        .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                        .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
                };
                int r = routing_append(s, &e);

                if (r < 0)
                        return r;
                if (gsi >= 16)
                        continue;
                e.u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
                e.u.irqchip.pin = gsi % 8;
                r = routing_append(s, &e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static struct kvm_irq_routing_entry msi_entry(unsigned gsi, uint64_t addr, uint32_t data)
{
        return (struct kvm_irq_routing_entry) {
                .gsi = gsi, .type = KVM_IRQ_ROUTING_MSI,
                .u.msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data },
        };
}

static int find_msi(struct kvm_irq_routing_state *s, unsigned gsi)
{
        if (gsi >= s->max_gsi || !s->msi_gsi[gsi])
                return -ENOENT;
        for (unsigned i = 0; i < s->n; i++)
                if (s->entries[i].gsi == gsi && s->entries[i].type == KVM_IRQ_ROUTING_MSI)
                        return (int)i;
        return -ENOENT;
}

int kvm_irq_msi_route_add(struct kvm_irq_routing_state *s, uint64_t addr, uint32_t data,
                          unsigned *ret_gsi)
{
        struct kvm_irq_routing_entry e;
        unsigned gsi;
        int r;

        pthread_mutex_lock(&s->lock);
        for (gsi = KVM_IRQ_FIRST_MSI_GSI; gsi < s->max_gsi && s->msi_gsi[gsi]; gsi++)
                ;
        if (gsi >= s->max_gsi) {
                r = -ENOSPC;
                goto out;
        }
        e = msi_entry(gsi, addr, data);
        r = routing_append(s, &e);
        if (r < 0)
                goto out;
        r = routing_commit(s);
        if (r < 0) {
                s->n--;
                goto out;
        }
        s->msi_gsi[gsi] = 1;
        *ret_gsi = gsi;
out:
        pthread_mutex_unlock(&s->lock);
        return r;
}

int kvm_irq_msi_route_update(struct kvm_irq_routing_state *s, unsigned gsi, uint64_t addr,
                             uint32_t data)
{
        struct kvm_irq_routing_entry old;
        int i, r;

        pthread_mutex_lock(&s->lock);
        i = find_msi(s, gsi);
        if (i < 0) {
                r = i;
                goto out;
        }
        old = s->entries[i];
        s->entries[i] = msi_entry(gsi, addr, data);
        r = routing_commit(s);
        if (r < 0)
                s->entries[i] = old;
out:
        pthread_mutex_unlock(&s->lock);
        return r;
}

int kvm_irq_msi_route_del(struct kvm_irq_routing_state *s, unsigned gsi)
{
        struct kvm_irq_routing_entry old;
        int i, r;

        pthread_mutex_lock(&s->lock);
        i = find_msi(s, gsi);
        if (i < 0) {
                r = i;
                goto out;
        }
        old = s->entries[i];
        s->entries[i] = s->entries[--s->n];
        r = routing_commit(s);
        if (r < 0) {
                s->entries[s->n++] = s->entries[i];
                s->entries[i] = old;
                goto out;
        }
        s->msi_gsi[gsi] = 0;
out:
        pthread_mutex_unlock(&s->lock);
        return r;
}

int kvm_irq_irqfd(struct kvm_irq_routing_state *s, unsigned gsi, int fd, bool assign)
{
        struct kvm_irqfd x = {
                .fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
        };

        if (fd < 0)
                return -EBADF;
        return ioctl(s->vm_fd, KVM_IRQFD, &x) < 0 ? -errno : 0;
}

int kvm_irq_ioeventfd(struct kvm_irq_routing_state *s, uint64_t addr, unsigned len, int fd,
                      bool assign)
{
        struct kvm_ioeventfd x = {
                .addr = addr, .len = len, .fd = fd,
                .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
        };

        if (fd < 0)
                return -EBADF;
        return ioctl(s->vm_fd, KVM_IOEVENTFD, &x) < 0 ? -errno : 0;
}

static int ops_ioeventfd(void *o, uint64_t addr, unsigned len, int fd, bool assign)
{
        return kvm_irq_ioeventfd(o, addr, len, fd, assign);
}

static int ops_route_add(void *o, uint64_t addr, uint32_t data, unsigned *ret_gsi)
{
        return kvm_irq_msi_route_add(o, addr, data, ret_gsi);
}

static int ops_route_update(void *o, unsigned gsi, uint64_t addr, uint32_t data)
{
        return kvm_irq_msi_route_update(o, gsi, addr, data);
}

static int ops_route_del(void *o, unsigned gsi)
{
        return kvm_irq_msi_route_del(o, gsi);
}

static int ops_irqfd(void *o, unsigned gsi, int fd, bool assign)
{
        return kvm_irq_irqfd(o, gsi, fd, assign);
}

const struct vmhost_ops kvm_irq_vmhost_ops = {
        .ioeventfd = ops_ioeventfd,
        .msi_route_add = ops_route_add,
        .msi_route_update = ops_route_update,
        .msi_route_del = ops_route_del,
        .irqfd = ops_irqfd,
};
