/* SPDX-License-Identifier: MIT */
/* The TAP backend: /dev/net/tun, vnet headers, offloads, queues (see tap.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include <abi/virtio_net.h>

#include "vmms/cleanup.h"
#include "vmms/nic.h"
#include "vmms/util.h"
#include "vmms/tap.h"

struct vsp_tap {
        char ifname[IFNAMSIZ];
        bool raw;
        bool vnet_hdr;
        unsigned offloads_supported;
        unsigned mtu;
        unsigned n;
        int fds[NIC_QUEUES_MAX];
        bool attached[NIC_QUEUES_MAX];
};

void vsp_tap_free(struct vsp_tap *t)
{
        if (!t)
                return;
        for (unsigned i = 0; i < t->n; i++)
                safe_close(t->fds[i]);
        free(t);
}
DEFINE_TRIVIAL_CLEANUP(struct vsp_tap, vsp_tap_free)

static struct vsp_tap *tap_alloc(void)
{
        struct vsp_tap *t = calloc(1, sizeof(*t));

        if (t)
                for (unsigned i = 0; i < NIC_QUEUES_MAX; i++)
                        t->fds[i] = -1;
        return t;
}

/* An ioctl on the interface itself (flags, MTU) through a throwaway socket. */
static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (s < 0)
                s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        if (ioctl(s, req, ifr) < 0)
                return -errno;
        return 0;
}

static void tap_read_mtu(struct vsp_tap *t)
{
        struct ifreq ifr = {};

        if (!t->ifname[0])
                return;
        memcpy(ifr.ifr_name, t->ifname, IFNAMSIZ);
        if (ifreq_ioctl(SIOCGIFMTU, &ifr) >= 0 && ifr.ifr_mtu > 0)
                t->mtu = (unsigned)ifr.ifr_mtu;
}

/* Bring the interface up: best effort (an unprivileged worker gets it up from vmms). */
static void tap_link_up(struct vsp_tap *t)
{
        struct ifreq ifr = {};

        memcpy(ifr.ifr_name, t->ifname, IFNAMSIZ);
        if (ifreq_ioctl(SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags & IFF_UP))
                return;
        ifr.ifr_flags |= IFF_UP;
        (void)ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

/* Which TUN_F_* the kernel accepts on this TAP; leaves the offloads off. */
static void tap_probe_offloads(struct vsp_tap *t)
{
        static const unsigned candidates[] = {
                TUN_F_CSUM,
                TUN_F_CSUM | TUN_F_TSO4,
                TUN_F_CSUM | TUN_F_TSO6,
                TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN,
                TUN_F_CSUM | TUN_F_UFO,
                TUN_F_CSUM | TUN_F_USO4 | TUN_F_USO6,
        };

        t->offloads_supported = 0;
        if (!t->vnet_hdr)
                return;
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
                if (ioctl(t->fds[0], TUNSETOFFLOAD, (unsigned long)candidates[i]) >= 0)
                        t->offloads_supported |= candidates[i];
        (void)ioctl(t->fds[0], TUNSETOFFLOAD, 0ul);
}

static int tap_set_vnet_hdr_size(int fd)
{
        int sz = VIRTIO_NET_HDR_SIZE;

        return ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ? -errno : 0;
}

static int tap_attach(const char *ifname, short flags, char ret_name[IFNAMSIZ], int *ret_fd)
{
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        struct ifreq ifr = { .ifr_flags = flags };

        if (fd < 0)
                return -errno;
        strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return -errno;
        memcpy(ret_name, ifr.ifr_name, IFNAMSIZ);
        ret_name[IFNAMSIZ - 1] = 0;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vsp_tap_open(const char *ifname, unsigned queues, struct vsp_tap **ret)
{
        _cleanup_(vsp_tap_freep) struct vsp_tap *t = NULL;
        short flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        int r;

        if (!ifname || strlen(ifname) >= IFNAMSIZ || queues < 1 || queues > NIC_QUEUES_MAX)
                return -EINVAL;
        t = tap_alloc();
        if (!t)
                return -ENOMEM;
        if (queues > 1)
                flags |= IFF_MULTI_QUEUE;
        r = tap_attach(ifname, flags, t->ifname, &t->fds[0]);
        if (r == -EINVAL && queues == 1) {
                /* An existing interface made with multi_queue wants the flag too. */
                flags |= IFF_MULTI_QUEUE;
                r = tap_attach(ifname, flags, t->ifname, &t->fds[0]);
        }
        if (r < 0)
                return r;
        t->n = 1;
        t->attached[0] = true;
        for (unsigned i = 1; i < queues; i++) {
                r = tap_attach(t->ifname, flags, t->ifname, &t->fds[i]);
                if (r < 0)
                        return r;
                t->n++;
                t->attached[i] = true;
        }
        t->vnet_hdr = true;
        for (unsigned i = 0; i < t->n; i++) {
                r = tap_set_vnet_hdr_size(t->fds[i]);
                if (r < 0)
                        return r;
        }
        tap_probe_offloads(t);
        tap_read_mtu(t);
        tap_link_up(t);
        *ret = TAKE_PTR(t);
        return 0;
}

int vsp_tap_adopt(const int *fds, unsigned n, struct vsp_tap **ret)
{
        _cleanup_(vsp_tap_freep) struct vsp_tap *t = tap_alloc();
        int r;

        if (!t || n < 1 || n > NIC_QUEUES_MAX) {
                for (unsigned i = 0; i < n; i++)
                        safe_close(fds[i]);
                return t ? -EINVAL : -ENOMEM;
        }
        for (unsigned i = 0; i < n; i++) {
                t->fds[i] = fds[i];
                t->attached[i] = true;
        }
        t->n = n;
        for (unsigned i = 0; i < n; i++) {
                struct ifreq ifr = {};

                if (ioctl(t->fds[i], TUNGETIFF, &ifr) < 0)
                        return errno == EBADFD || errno == ENOTTY || errno == EINVAL ? -ENOTTY : -errno;
                if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP || !(ifr.ifr_flags & IFF_NO_PI))
                        return -EINVAL;         /* a TUN, or packet information in front */
                if (i == 0) {
                        memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
                        t->ifname[IFNAMSIZ - 1] = 0;
                        t->vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
                } else if (strncmp(t->ifname, ifr.ifr_name, IFNAMSIZ) != 0 ||
                           t->vnet_hdr != !!(ifr.ifr_flags & IFF_VNET_HDR)) {
                        return -EINVAL;         /* queues of different interfaces */
                }
                if (t->vnet_hdr && (r = tap_set_vnet_hdr_size(t->fds[i])) < 0)
                        return r;
                r = fd_set_nonblock(t->fds[i], true);
                if (r < 0)
                        return r;
        }
        tap_probe_offloads(t);
        tap_read_mtu(t);
        *ret = TAKE_PTR(t);
        return 0;
}

int vsp_tap_new_raw(const int *fds, unsigned n, bool vnet_hdr, unsigned offloads, struct vsp_tap **ret)
{
        struct vsp_tap *t = tap_alloc();

        if (!t || n < 1 || n > NIC_QUEUES_MAX) {
                for (unsigned i = 0; i < n; i++)
                        safe_close(fds[i]);
                free(t);
                return t ? -EINVAL : -ENOMEM;
        }
        for (unsigned i = 0; i < n; i++) {
                t->fds[i] = fds[i];
                t->attached[i] = true;
                (void)fd_set_nonblock(fds[i], true);
        }
        t->n = n;
        t->raw = true;
        t->vnet_hdr = vnet_hdr;
        t->offloads_supported = vnet_hdr ? offloads : 0;
        *ret = t;
        return 0;
}

unsigned vsp_tap_queues(const struct vsp_tap *t)
{
        return t->n;
}

int vsp_tap_fd(const struct vsp_tap *t, unsigned q)
{
        return q < t->n ? t->fds[q] : -1;
}

const char *vsp_tap_ifname(const struct vsp_tap *t)
{
        return t->ifname;
}

bool vsp_tap_has_vnet_hdr(const struct vsp_tap *t)
{
        return t->vnet_hdr;
}

unsigned vsp_tap_offloads_supported(const struct vsp_tap *t)
{
        return t->offloads_supported;
}

unsigned vsp_tap_mtu(const struct vsp_tap *t)
{
        return t->mtu;
}

int vsp_tap_set_offloads(struct vsp_tap *t, unsigned tun_flags)
{
        if (t->raw || !t->vnet_hdr)
                return tun_flags ? (t->raw ? 0 : -EOPNOTSUPP) : 0;
        if (tun_flags & ~t->offloads_supported)
                return -EOPNOTSUPP;
        /* The offloads belong to the interface: one fd sets them for every queue. */
        return ioctl(t->fds[0], TUNSETOFFLOAD, (unsigned long)tun_flags) < 0 ? -errno : 0;
}

int vsp_tap_enable_queue(struct vsp_tap *t, unsigned q, bool enable)
{
        struct ifreq ifr = { .ifr_flags = enable ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

        if (q >= t->n)
                return -EINVAL;
        if (t->raw || t->attached[q] == enable)
                return 0;
        if (ioctl(t->fds[q], TUNSETQUEUE, &ifr) < 0)
                return -errno;
        t->attached[q] = enable;
        return 0;
}
