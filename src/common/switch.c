/* SPDX-License-Identifier: MIT */
/*
 * Virtual switches on Linux bridges over rtnetlink (see include/vmms/switch.h for the
 * three types and why a private switch is a network namespace of its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "vmms/cleanup.h"
#include "vmms/macro.h"
#include "vmms/switch.h"
#include "vmms/util.h"

#define NETNS_DIR    "/run/netns"
#define ALIAS_PREFIX "vmms:"

static const char *const type_names[] = {
        [VSWITCH_EXTERNAL] = "external",
        [VSWITCH_INTERNAL] = "internal",
        [VSWITCH_PRIVATE] = "private",
};

const char *vswitch_type_to_string(enum vswitch_type t)
{
        return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : NULL;
}

int vswitch_type_from_string(const char *s)
{
        for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
                if (s && strcmp(s, type_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

void vswitch_bridge_name(const char *name, char ret[VSWITCH_IFNAME_MAX])
{
        uint32_t h = 2166136261u;

        if (strlen(name) + 4 < VSWITCH_IFNAME_MAX) {
                snprintf(ret, VSWITCH_IFNAME_MAX, "vms-%s", name);
                return;
        }
        for (const char *p = name; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        snprintf(ret, VSWITCH_IFNAME_MAX, "vms-%08x", h);
}

void vswitch_netns_name(const char *name, char *ret, size_t len)
{
        snprintf(ret, len, "vmms-sw-%s", name);
}

static void netns_path(const char *name, char ret[PATH_MAX])
{
        char ns[128];

        vswitch_netns_name(name, ns, sizeof(ns));
        snprintf(ret, PATH_MAX, NETNS_DIR "/%s", ns);
}

/* ---- rtnetlink ------------------------------------------------------------------------ */

struct nlmsg {
        union {
                struct nlmsghdr nh;
                uint8_t buf[1024];
        };
};

static void *nl_put(struct nlmsg *m, size_t len)
{
        size_t off = NLMSG_ALIGN(m->nh.nlmsg_len);
        void *p = m->buf + off;

        if (off + NLMSG_ALIGN(len) > sizeof(m->buf))
                return NULL;
        memset(p, 0, NLMSG_ALIGN(len));
        m->nh.nlmsg_len = (uint32_t)(off + len);
        return p;
}

static int nl_attr(struct nlmsg *m, uint16_t type, const void *data, size_t len)
{
        struct rtattr *a = nl_put(m, RTA_LENGTH(len));

        if (!a)
                return -ENOBUFS;
        a->rta_type = type;
        a->rta_len = (uint16_t)RTA_LENGTH(len);
        memcpy(RTA_DATA(a), data, len);
        return 0;
}

static int nl_attr_str(struct nlmsg *m, uint16_t type, const char *s)
{
        return nl_attr(m, type, s, strlen(s) + 1);
}

static struct rtattr *nl_nest(struct nlmsg *m, uint16_t type)
{
        struct rtattr *a = nl_put(m, RTA_LENGTH(0));

        if (a) {
                a->rta_type = type;
                a->rta_len = RTA_LENGTH(0);
        }
        return a;
}

static void nl_nest_end(struct nlmsg *m, struct rtattr *a)
{
        a->rta_len = (uint16_t)(m->buf + m->nh.nlmsg_len - (uint8_t *)a);
}

static void nl_init(struct nlmsg *m, uint16_t type, uint16_t flags)
{
        memset(m->buf, 0, sizeof(struct nlmsghdr));
        m->nh.nlmsg_len = NLMSG_HDRLEN;
        m->nh.nlmsg_type = type;
        m->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

static int nl_open(void)
{
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

        return fd < 0 ? -errno : fd;
}

/* What a RTM_GETLINK answer says about the link. */
struct link_info {
        int ifindex;
        int master;
        char alias[64];
};

static void parse_link(const struct nlmsghdr *h, struct link_info *li)
{
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));

        li->ifindex = ifi->ifi_index;
        for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                if (a->rta_type == IFLA_MASTER && RTA_PAYLOAD(a) >= 4)
                        memcpy(&li->master, RTA_DATA(a), 4);
                else if (a->rta_type == IFLA_IFALIAS)
                        snprintf(li->alias, sizeof(li->alias), "%.*s", (int)RTA_PAYLOAD(a),
                                 (const char *)RTA_DATA(a));
        }
}

/* Send one request, wait for its acknowledgement; a link in the answer fills *li. */
static int nl_talk(int fd, struct nlmsg *m, struct link_info *li)
{
        static uint32_t seq_counter;
        uint32_t seq = __atomic_add_fetch(&seq_counter, 1, __ATOMIC_RELAXED);
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        union {
                struct nlmsghdr nh;
                uint8_t buf[8192];
        } rep;

        m->nh.nlmsg_seq = seq;
        if (sendto(fd, m->buf, m->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                ssize_t n = recv(fd, rep.buf, sizeof(rep.buf), 0);
                int len;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                len = (int)n;
                for (struct nlmsghdr *h = &rep.nh; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                return e->error;        /* 0: acknowledged */
                        }
                        if (h->nlmsg_type == RTM_NEWLINK && li)
                                parse_link(h, li);
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                }
        }
}

static int link_get(int fd, const char *name, struct link_info *ret)
{
        struct nlmsg m;
        struct link_info li = { .ifindex = 0 };
        int r;

        if (strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        nl_init(&m, RTM_GETLINK, 0);
        if (!nl_put(&m, sizeof(struct ifinfomsg)) || (r = nl_attr_str(&m, IFLA_IFNAME, name)) < 0)
                return -ENOBUFS;
        r = nl_talk(fd, &m, &li);
        if (r < 0)
                return r;
        if (li.ifindex <= 0)
                return -ENODEV;
        *ret = li;
        return 0;
}

struct link_change {
        bool up;
        int master;             /* ifindex; -1: leave */
        int netns_fd;           /* -1: leave */
        bool no_ipv6_ll;        /* IN6_ADDR_GEN_MODE_NONE */
        const char *alias;
};

static int link_set(int fd, int ifindex, const struct link_change *c)
{
        struct nlmsg m;
        struct ifinfomsg *ifi;
        int r = 0;

        nl_init(&m, RTM_NEWLINK, 0);
        ifi = nl_put(&m, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        if (c->up) {
                ifi->ifi_flags = IFF_UP;
                ifi->ifi_change = IFF_UP;
        }
        if (c->master >= 0) {
                uint32_t v = (uint32_t)c->master;

                r = nl_attr(&m, IFLA_MASTER, &v, sizeof(v));
        }
        if (r >= 0 && c->netns_fd >= 0) {
                uint32_t v = (uint32_t)c->netns_fd;

                r = nl_attr(&m, IFLA_NET_NS_FD, &v, sizeof(v));
        }
        if (r >= 0 && c->alias)
                r = nl_attr_str(&m, IFLA_IFALIAS, c->alias);
        if (r >= 0 && c->no_ipv6_ll) {
                struct rtattr *spec = nl_nest(&m, IFLA_AF_SPEC), *in6 = spec ? nl_nest(&m, AF_INET6) : NULL;
                uint8_t mode = IN6_ADDR_GEN_MODE_NONE;

                if (!in6 || nl_attr(&m, IFLA_INET6_ADDR_GEN_MODE, &mode, 1) < 0)
                        return -ENOBUFS;
                nl_nest_end(&m, in6);
                nl_nest_end(&m, spec);
        }
        if (r < 0)
                return r;
        return nl_talk(fd, &m, NULL);
}

static int bridge_create(int fd, const char *name)
{
        struct nlmsg m;
        struct ifinfomsg *ifi;
        struct rtattr *li;
        int r;

        nl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        ifi = nl_put(&m, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        if ((r = nl_attr_str(&m, IFLA_IFNAME, name)) < 0 || !(li = nl_nest(&m, IFLA_LINKINFO)) ||
            (r = nl_attr_str(&m, IFLA_INFO_KIND, "bridge")) < 0)
                return -ENOBUFS;
        nl_nest_end(&m, li);
        return nl_talk(fd, &m, NULL);
}

static int link_delete(int fd, int ifindex)
{
        struct nlmsg m;
        struct ifinfomsg *ifi;

        nl_init(&m, RTM_DELLINK, 0);
        ifi = nl_put(&m, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return nl_talk(fd, &m, NULL);
}

static int addr_add4(int fd, int ifindex, const char *cidr)
{
        char ip[INET_ADDRSTRLEN];
        const char *slash = strchr(cidr, '/');
        struct in_addr a;
        struct ifaddrmsg *ifa;
        struct nlmsg m;
        unsigned prefix = 32;
        int r;

        if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
                return -EINVAL;
        memcpy(ip, cidr, (size_t)(slash - cidr));
        ip[slash - cidr] = 0;
        if (inet_pton(AF_INET, ip, &a) != 1 || safe_atou(slash + 1, &prefix) < 0 || prefix > 32)
                return -EINVAL;
        nl_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        ifa = nl_put(&m, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (uint8_t)prefix;
        ifa->ifa_index = (uint32_t)ifindex;
        if ((r = nl_attr(&m, IFA_LOCAL, &a, sizeof(a))) < 0 || (r = nl_attr(&m, IFA_ADDRESS, &a, sizeof(a))) < 0)
                return r;
        return nl_talk(fd, &m, NULL);
}

/* ---- the private switches' namespaces ------------------------------------------------- */

struct ns_socket_req {
        int nsfd;
        int ret;
};

static void *ns_socket_thread(void *arg)
{
        struct ns_socket_req *q = arg;

        /* setns() moves only this thread, which ends right after. */
        if (setns(q->nsfd, CLONE_NEWNET) < 0)
                q->ret = -errno;
        else
                q->ret = nl_open();
        return NULL;
}

/* A netlink socket that works inside the namespace at nsfd. */
static int nl_open_in(int nsfd)
{
        struct ns_socket_req q = { .nsfd = nsfd, .ret = -EIO };
        pthread_t t;
        int r = -pthread_create(&t, NULL, ns_socket_thread, &q);

        if (r < 0)
                return r;
        pthread_join(t, NULL);
        return q.ret;
}

/* /run/netns as `ip netns` keeps it: a shared mount, so every mount namespace sees its entries. */
static int netns_dir_prepare(void)
{
        if (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) >= 0)
                return 0;
        if (errno != EINVAL)
                return -errno;
        if (mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
                return -errno;
        return mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0 ? -errno : 0;
}

static int netns_create(const char *path)
{
        _cleanup_close_ int fd = -1;
        int status, r;
        pid_t pid;

        r = netns_dir_prepare();
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                unlink(path);
                return r;
        }
        if (pid == 0) {
                /* The child makes the namespace; the bind mount keeps it alive after exit. */
                if (unshare(CLONE_NEWNET) < 0 || mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
                        _exit(errno ? errno : EIO);
                _exit(0);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                unlink(path);
                return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
        }
        return 0;
}

static int netns_delete(const char *path)
{
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return -errno;
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static bool private_exists(const char *name)
{
        char path[PATH_MAX];
        struct stat st;

        netns_path(name, path);
        return stat(path, &st) == 0;
}

/* ---- switches ------------------------------------------------------------------------- */

static int create_bridge_up(int fd, const char *bridge, enum vswitch_type type, bool no_ipv6_ll, int *ret_index)
{
        char alias[32];
        struct link_info li;
        int r;

        r = bridge_create(fd, bridge);
        if (r < 0)
                return r;
        r = link_get(fd, bridge, &li);
        if (r < 0)
                return r;
        snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s", vswitch_type_to_string(type));
        r = link_set(fd, li.ifindex, &(struct link_change) {
                .master = -1, .netns_fd = -1, .alias = alias, .no_ipv6_ll = no_ipv6_ll });
        if (r >= 0)
                r = link_set(fd, li.ifindex, &(struct link_change) { .up = true, .master = -1, .netns_fd = -1 });
        if (r < 0) {
                (void)link_delete(fd, li.ifindex);
                return r;
        }
        *ret_index = li.ifindex;
        return 0;
}

static int create_private(const char *name, const char *bridge)
{
        char path[PATH_MAX];
        _cleanup_close_ int nsfd = -1, fd = -1;
        int idx, r;

        netns_path(name, path);
        r = netns_create(path);
        if (r < 0)
                return r;
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        r = nsfd < 0 ? -errno : nl_open_in(nsfd);
        if (r >= 0) {
                fd = r;
                r = create_bridge_up(fd, bridge, VSWITCH_PRIVATE, true, &idx);
        }
        if (r < 0)
                (void)netns_delete(path);
        return r;
}

int vswitch_create(const struct vswitch_config *c)
{
        char bridge[VSWITCH_IFNAME_MAX];
        _cleanup_close_ int fd = -1;
        struct link_info li, up;
        int idx, r;

        if (!c || !c->name || !name_is_valid(c->name) || !vswitch_type_to_string(c->type) ||
            (c->type == VSWITCH_EXTERNAL && !c->uplink))
                return -EINVAL;
        vswitch_bridge_name(c->name, bridge);
        fd = nl_open();
        if (fd < 0)
                return fd;
        if (private_exists(c->name) || link_get(fd, bridge, &li) >= 0)
                return -EEXIST;
        if (c->type == VSWITCH_PRIVATE)
                return create_private(c->name, bridge);
        if (c->type == VSWITCH_EXTERNAL) {
                r = link_get(fd, c->uplink, &up);
                if (r < 0)
                        return r == -ENODEV ? -ENODEV : r;
        }
        r = create_bridge_up(fd, bridge, c->type, false, &idx);
        if (r < 0)
                return r;
        if (c->type == VSWITCH_EXTERNAL)
                r = link_set(fd, up.ifindex, &(struct link_change) { .up = true, .master = idx, .netns_fd = -1 });
        else if (c->address)
                r = addr_add4(fd, idx, c->address);
        if (r < 0)
                (void)link_delete(fd, idx);
        return r;
}

/* The bridge of a non-private switch, checked to be one of ours. */
static int find_bridge(int fd, const char *name, struct link_info *ret)
{
        char bridge[VSWITCH_IFNAME_MAX];
        int r;

        vswitch_bridge_name(name, bridge);
        r = link_get(fd, bridge, ret);
        if (r == -ENODEV)
                return -ENOENT;
        if (r < 0)
                return r;
        return strncmp(ret->alias, ALIAS_PREFIX, strlen(ALIAS_PREFIX)) == 0 ? 0 : -ENOENT;
}

int vswitch_get_type(const char *name, enum vswitch_type *ret)
{
        _cleanup_close_ int fd = -1;
        struct link_info li;
        int r;

        if (!name || !name_is_valid(name))
                return -EINVAL;
        if (private_exists(name)) {
                *ret = VSWITCH_PRIVATE;
                return 0;
        }
        fd = nl_open();
        if (fd < 0)
                return fd;
        r = find_bridge(fd, name, &li);
        if (r < 0)
                return r;
        r = vswitch_type_from_string(li.alias + strlen(ALIAS_PREFIX));
        if (r < 0)
                return -ENOENT;
        *ret = (enum vswitch_type)r;
        return 0;
}

int vswitch_delete(const char *name)
{
        _cleanup_close_ int fd = -1;
        struct link_info li;
        int r;

        if (!name || !name_is_valid(name))
                return -EINVAL;
        if (private_exists(name)) {
                char path[PATH_MAX];

                /* The namespace goes with its bridge and every TAP in it. */
                netns_path(name, path);
                return netns_delete(path);
        }
        fd = nl_open();
        if (fd < 0)
                return fd;
        r = find_bridge(fd, name, &li);
        if (r < 0)
                return r;
        return link_delete(fd, li.ifindex);
}

static int attach(int fd, const char *bridge, const char *ifname)
{
        struct link_info br, port;
        int r;

        r = link_get(fd, bridge, &br);
        if (r < 0)
                return r == -ENODEV ? -ENOENT : r;
        r = link_get(fd, ifname, &port);
        if (r < 0)
                return r;
        return link_set(fd, port.ifindex, &(struct link_change) { .up = true, .master = br.ifindex, .netns_fd = -1 });
}

int vswitch_attach_bridge(const char *bridge, const char *ifname)
{
        _cleanup_close_ int fd = nl_open();

        if (!bridge || !ifname)
                return -EINVAL;
        if (fd < 0)
                return fd;
        return attach(fd, bridge, ifname);
}

int vswitch_attach(const char *name, const char *ifname)
{
        char bridge[VSWITCH_IFNAME_MAX], path[PATH_MAX];
        _cleanup_close_ int fd = -1, nsfd = -1, nsnl = -1;
        struct link_info port;
        int r;

        if (!name || !name_is_valid(name) || !ifname)
                return -EINVAL;
        vswitch_bridge_name(name, bridge);
        fd = nl_open();
        if (fd < 0)
                return fd;
        if (!private_exists(name)) {
                struct link_info li;

                r = find_bridge(fd, name, &li);
                return r < 0 ? r : attach(fd, bridge, ifname);
        }
        netns_path(name, path);
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return -errno;
        r = link_get(fd, ifname, &port);
        if (r < 0)
                return r;
        /* Into the switch's namespace, then a port of its bridge there. */
        r = link_set(fd, port.ifindex, &(struct link_change) { .master = -1, .netns_fd = nsfd });
        if (r < 0)
                return r;
        nsnl = nl_open_in(nsfd);
        if (nsnl < 0)
                return nsnl;
        return attach(nsnl, bridge, ifname);
}
