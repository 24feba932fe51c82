/* SPDX-License-Identifier: MIT */
/*
 * Virtual switches: external (a bridge with an uplink), internal (with a host address),
 * private (a bridge in a namespace of its own, where attached TAPs move). Runs in network
 * and mount namespaces of its own, with a private /run/netns; skips (77) without the
 * rights to make them. `ip` is used only to look at the result.
 */
#include "check-main.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "vmms/switch.h"

static int open_tap(const char *name)
{
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
        return fd;
}

/* `ip -o link show dev X` (in namespace ns, or here) mentions `what`. */
static bool link_says(const char *ns, const char *dev, const char *what)
{
        char cmd[256], line[1024] = "";
        FILE *f;
        bool found = false;

        snprintf(cmd, sizeof(cmd), "%s%s ip -o link show dev %s 2>/dev/null",
                 ns ? "ip netns exec " : "", ns ? ns : "", dev);
        f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, what))
                        found = true;
        pclose(f);
        return found;
}

static bool has_ipv4(const char *dev, const char *addr)
{
        struct ifaddrs *ifa, *i;
        bool found = false;

        ck_assert_int_eq(getifaddrs(&ifa), 0);
        for (i = ifa; i; i = i->ifa_next) {
                char buf[INET_ADDRSTRLEN];

                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, dev) != 0)
                        continue;
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
                if (strcmp(buf, addr) == 0)
                        found = true;
        }
        freeifaddrs(ifa);
        return found;
}

START_TEST(test_names)
{
        char br[VSWITCH_IFNAME_MAX], br2[VSWITCH_IFNAME_MAX], ns[64];

        vswitch_bridge_name("lan", br);
        ck_assert_str_eq(br, "vms-lan");
        vswitch_bridge_name("a-rather-long-switch-name", br);
        vswitch_bridge_name("a-rather-long-switch-name2", br2);
        ck_assert_uint_le(strlen(br), 15);
        ck_assert_str_ne(br, br2);
        vswitch_netns_name("lab", ns, sizeof(ns));
        ck_assert_str_eq(ns, "vmms-sw-lab");
        ck_assert_int_eq(vswitch_type_from_string("private"), VSWITCH_PRIVATE);
        ck_assert_int_eq(vswitch_type_from_string("public"), -EINVAL);
        ck_assert_str_eq(vswitch_type_to_string(VSWITCH_EXTERNAL), "external");
}
END_TEST

START_TEST(test_internal)
{
        struct vswitch_config c = { .name = "int1", .type = VSWITCH_INTERNAL, .address = "10.77.0.1/24" };
        enum vswitch_type t;
        int tap;

        ck_assert_int_eq(vswitch_create(&c), 0);
        ck_assert_int_eq(vswitch_create(&c), -EEXIST);
        ck_assert_int_eq(vswitch_get_type("int1", &t), 0);
        ck_assert_int_eq(t, VSWITCH_INTERNAL);
        ck_assert_uint_ne(if_nametoindex("vms-int1"), 0);
        ck_assert(link_says(NULL, "vms-int1", "UP"));
        ck_assert(has_ipv4("vms-int1", "10.77.0.1"));
        tap = open_tap("vmmsw0");
        ck_assert_int_eq(vswitch_attach("int1", "vmmsw0"), 0);
        ck_assert(link_says(NULL, "vmmsw0", "master vms-int1"));
        ck_assert_int_eq(vswitch_attach("nope", "vmmsw0"), -ENOENT);
        ck_assert_int_eq(vswitch_attach("int1", "nosuchif"), -ENODEV);
        ck_assert_int_eq(vswitch_delete("int1"), 0);
        ck_assert_uint_eq(if_nametoindex("vms-int1"), 0);
        ck_assert_int_eq(vswitch_get_type("int1", &t), -ENOENT);
        ck_assert_int_eq(vswitch_delete("int1"), -ENOENT);
        close(tap);
        c.address = "10.77.0.1";        /* no prefix */
        ck_assert_int_eq(vswitch_create(&c), -EINVAL);
        ck_assert_uint_eq(if_nametoindex("vms-int1"), 0);      /* nothing left behind */
}
END_TEST

START_TEST(test_external)
{
        struct vswitch_config c = { .name = "ext1", .type = VSWITCH_EXTERNAL, .uplink = "vmmsveth0" };
        enum vswitch_type t;

        ck_assert_int_eq(vswitch_create(&c), -ENODEV);         /* no such uplink yet */
        ck_assert_int_eq(system("ip link add vmmsveth0 type veth peer name vmmsveth1"), 0);
        ck_assert_int_eq(vswitch_create(&c), 0);
        ck_assert_int_eq(vswitch_get_type("ext1", &t), 0);
        ck_assert_int_eq(t, VSWITCH_EXTERNAL);
        ck_assert(link_says(NULL, "vmmsveth0", "master vms-ext1"));
        ck_assert_int_eq(vswitch_delete("ext1"), 0);
        ck_assert(!link_says(NULL, "vmmsveth0", "master"));   /* the uplink stays, released */
        c.uplink = NULL;
        ck_assert_int_eq(vswitch_create(&c), -EINVAL);
}
END_TEST

START_TEST(test_private)
{
        struct vswitch_config c = { .name = "priv1", .type = VSWITCH_PRIVATE };
        enum vswitch_type t;
        struct stat st;
        int tap;

        ck_assert_int_eq(vswitch_create(&c), 0);
        ck_assert_int_eq(vswitch_create(&c), -EEXIST);
        ck_assert_int_eq(stat("/run/netns/vmms-sw-priv1", &st), 0);
        ck_assert_int_eq(vswitch_get_type("priv1", &t), 0);
        ck_assert_int_eq(t, VSWITCH_PRIVATE);
        ck_assert_uint_eq(if_nametoindex("vms-priv1"), 0);     /* nothing of it here */
        ck_assert(link_says("vmms-sw-priv1", "vms-priv1", "UP"));
        ck_assert(!link_says("vmms-sw-priv1", "vms-priv1", "inet"));
        tap = open_tap("vmmsw1");
        ck_assert_int_eq(vswitch_attach("priv1", "vmmsw1"), 0);
        ck_assert_uint_eq(if_nametoindex("vmmsw1"), 0);        /* moved */
        ck_assert(link_says("vmms-sw-priv1", "vmmsw1", "master vms-priv1"));
        ck_assert_int_eq(vswitch_delete("priv1"), 0);
        ck_assert_int_ne(stat("/run/netns/vmms-sw-priv1", &st), 0);
        ck_assert_int_eq(vswitch_get_type("priv1", &t), -ENOENT);
        close(tap);
}
END_TEST

START_TEST(test_not_ours)
{
        enum vswitch_type t;

        /* A bridge that happens to have the name: not a switch, not ours to delete. */
        ck_assert_int_eq(system("ip link add vms-foreign type bridge"), 0);
        ck_assert_int_eq(vswitch_get_type("foreign", &t), -ENOENT);
        ck_assert_int_eq(vswitch_delete("foreign"), -ENOENT);
        ck_assert_uint_ne(if_nametoindex("vms-foreign"), 0);
        ck_assert_int_eq(vswitch_create(&(struct vswitch_config) { .name = "bad name", .type = VSWITCH_PRIVATE }),
                         -EINVAL);
        ck_assert_int_eq(vswitch_attach("../x", "lo"), -EINVAL);
}
END_TEST

static Suite *switch_suite(void)
{
        Suite *s = suite_create("switch");
        TCase *tc = tcase_create("switch");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_internal);
        tcase_add_test(tc, test_external);
        tcase_add_test(tc, test_private);
        tcase_add_test(tc, test_not_ours);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        if (access("/dev/net/tun", R_OK | W_OK) < 0) {
                printf("skip: /dev/net/tun: %s\n", strerror(errno));
                return 77;
        }
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                printf("skip: cannot make network and mount namespaces: %s\n", strerror(errno));
                return 77;
        }
        /* Our /run/netns: private switches made here are nobody else's business. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            (mkdir("/run/netns", 0755) < 0 && errno != EEXIST) ||
            mount("tmpfs", "/run/netns", "tmpfs", 0, "mode=0755") < 0) {
                printf("skip: cannot mount a private /run/netns: %s\n", strerror(errno));
                return 77;
        }
        if (system("ip -V >/dev/null 2>&1") != 0) {
                printf("skip: iproute2 (ip) is needed to look at the result\n");
                return 77;
        }
        return check_run_suite(switch_suite());
}
