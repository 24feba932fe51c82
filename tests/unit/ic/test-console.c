/* SPDX-License-Identifier: MIT */
/*
 * The virtio-console multiport device end to end: a test driver brings up the control
 * queues and the named ports through the fake host, then speaks the IC protocol over a port.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "../check-main.h"
#include "con-driver.h"
#include <abi/ic_msg.h>
#include "vmms/vmbus.h"
#include "vmms/vsp_ic.h"

#define DEV         PCI_DEVFN(1, 0)
#define WANT        (VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))

static struct fake_host *h;
static struct vmbus *bus;
static struct vsp_ic *ic;
static struct cd d;
static char names[IC_CONSOLE_MAX_PORTS][64];

static void setup_with(const bool enabled[IC_SVC_COUNT])
{
        struct vsp_ic_config cfg = { 0 };

        memcpy(cfg.enabled, enabled, sizeof(cfg.enabled));
        h = fake_host_new(16u << 20);
        ck_assert_int_eq(vsp_ic_new(&cfg, &ic), 0);
        ck_assert_int_eq(vmbus_new(&h->host, NULL, NULL, &bus), 0);
        ck_assert_int_eq(vsp_console_add(bus, ic), 0);
        cd_probe(&d, h, DEV);
        memset(names, 0, sizeof(names));
}

static void teardown(void)
{
        vmbus_free(bus);
        vsp_ic_free(ic);
        fake_host_free(h);
}

/* DEVICE_READY, then PORT_READY for every port announced; returns how many. */
static unsigned bring_up(void)
{
        unsigned added = 0;

        cd_init(&d, WANT);
        ck_assert_uint_eq(cd_rd(&d, VIRTIO_PCI_DEVICE_OFF + offsetof(struct virtio_console_config, max_nr_ports), 4),
                          IC_CONSOLE_MAX_PORTS);
        cd_ctrl(&d, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
        for (;;) {
                uint8_t buf[64];
                struct virtio_console_control c;

                if (cd_used(&d, VIRTIO_CONSOLE_CTRL_RX, buf, sizeof(buf), 300, true) < 0)
                        break;
                memcpy(&c, buf, sizeof(c));
                ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_DEVICE_ADD);
                ck_assert_uint_ge(c.id, 1);
                ck_assert_uint_lt(c.id, IC_CONSOLE_MAX_PORTS);
                added++;
        }
        for (uint32_t id = 1; id < IC_CONSOLE_MAX_PORTS; id++) {
                struct virtio_console_control c;

                if (!vsp_ic_enabled(ic, (enum ic_service)(id - 1)))
                        continue;
                cd_ctrl(&d, id, VIRTIO_CONSOLE_PORT_READY, 1);
                c = cd_ctrl_recv(&d, names[id], sizeof(names[id]));
                ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_NAME);
                ck_assert_uint_eq(c.id, id);
                c = cd_ctrl_recv(&d, NULL, 0);
                ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_OPEN);
                ck_assert_uint_eq(c.value, 1);
        }
        return added;
}

static uint32_t port_of(const char *name)
{
        for (uint32_t id = 1; id < IC_CONSOLE_MAX_PORTS; id++)
                if (strcmp(names[id], name) == 0)
                        return id;
        ck_abort_msg("no port %s", name);
        return 0;
}

/* Read lines from a port's receiveq until one of the given type arrives. */
static void expect_line(uint32_t id, const char *type, struct ic_msg *m)
{
        static char buf[8192], line[8192];
        static size_t len;

        for (int tries = 0; tries < 50; tries++) {
                char *nl = memchr(buf, '\n', len);
                int n;

                if (nl) {
                        size_t l = (size_t)(nl - buf);

                        memcpy(line, buf, l);
                        memmove(buf, nl + 1, len - l - 1);
                        len -= l + 1;
                        ck_assert_int_eq(ic_msg_parse(line, l, m), 0);
                        if (strcmp(m->type, type) == 0)
                                return;
                        continue;
                }
                n = cd_used(&d, VIRTIO_CONSOLE_PORT_RX(id), buf + len, sizeof(buf) - len, 200, true);
                if (n > 0)
                        len += (size_t)n;
        }
        ck_abort_msg("no %s on port %u", type, id);
}

START_TEST(test_ports_and_heartbeat)
{
        static const bool all[IC_SVC_COUNT] = { true, true, true, true, true };
        const char *hello = "{\"type\":\"hello\",\"version\":1,\"agent\":\"con-test\"}\n";
        struct vsp_ic_status st;
        struct ic_msg m;
        uint32_t hb;
        char pong[64];

        setup_with(all);
        ck_assert(vpci_device_features(d.h, d.bar) & VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT));
        ck_assert_uint_eq(bring_up(), IC_SVC_COUNT);
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                ck_assert_uint_ne(port_of(ic_service_port((enum ic_service)s)), 0);
        hb = port_of(IC_PORT_HEARTBEAT);
        /* A repeated DEVICE_READY adds nothing. */
        cd_ctrl(&d, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
        ck_assert_int_lt(cd_used(&d, VIRTIO_CONSOLE_CTRL_RX, NULL, 0, 100, true), 0);

        /* Data before the guest opens the port is dropped; after it, the session runs. */
        cd_send(&d, VIRTIO_CONSOLE_PORT_TX(hb), hello, strlen(hello), 0);
        ck_assert_int_eq(cd_used(&d, VIRTIO_CONSOLE_PORT_TX(hb), NULL, 0, 2000, false), 0);
        cd_ctrl(&d, hb, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cd_send(&d, VIRTIO_CONSOLE_PORT_TX(hb), hello, strlen(hello), 0);
        ck_assert_int_eq(cd_used(&d, VIRTIO_CONSOLE_PORT_TX(hb), NULL, 0, 2000, false), 0);
        expect_line(hb, "hello", &m);
        ck_assert_str_eq(ic_msg_get(&m, "service")->s, "heartbeat");
        expect_line(hb, "ping", &m);
        snprintf(pong, sizeof(pong), "{\"type\":\"pong\",\"seq\":%lld}\n", (long long)ic_msg_get(&m, "seq")->i);
        cd_send(&d, VIRTIO_CONSOLE_PORT_TX(hb), pong, strlen(pong), 0);
        ck_assert_int_eq(cd_used(&d, VIRTIO_CONSOLE_PORT_TX(hb), NULL, 0, 2000, false), 0);
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.heartbeat, VSP_IC_HEARTBEAT_OK);
        ck_assert_int_eq(st.svc[IC_SVC_HEARTBEAT].state, VSP_IC_STATE_CONNECTED);
        ck_assert_uint_eq(st.svc[IC_SVC_HEARTBEAT].violations, 0);

        /* The guest closes the port; a reset closes everything. */
        cd_ctrl(&d, hb, VIRTIO_CONSOLE_PORT_OPEN, 0);
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.heartbeat, VSP_IC_HEARTBEAT_NO_CONTACT);
        cd_ctrl(&d, hb, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cd_wr(&d, VIRTIO_PCI_COMMON_STATUS, 0, 1);
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.svc[IC_SVC_HEARTBEAT].state, VSP_IC_STATE_CLOSED);
        teardown();
}
END_TEST

START_TEST(test_only_enabled_ports)
{
        static const bool some[IC_SVC_COUNT] = { [IC_SVC_SHUTDOWN] = true, [IC_SVC_KVP] = true };

        setup_with(some);
        ck_assert_uint_eq(bring_up(), 2);
        ck_assert_uint_eq(port_of(IC_PORT_SHUTDOWN), 1 + IC_SVC_SHUTDOWN);
        ck_assert_uint_eq(port_of(IC_PORT_KVP), 1 + IC_SVC_KVP);
        teardown();
}
END_TEST

START_TEST(test_hostile_driver)
{
        static const bool all[IC_SVC_COUNT] = { true, true, true, true, true };
        static char junk[CD_BUF_SIZE];
        struct vsp_ic_status st;
        uint32_t kvp;
        int got = 0;

        setup_with(all);
        bring_up();
        kvp = port_of(IC_PORT_KVP);
        cd_ctrl(&d, kvp, VIRTIO_CONSOLE_PORT_OPEN, 1);
        /* Control messages for ports that do not exist, events a driver never sends. */
        cd_ctrl(&d, 77, VIRTIO_CONSOLE_PORT_OPEN, 1);
        cd_ctrl(&d, 0, VIRTIO_CONSOLE_PORT_NAME, 1);
        cd_ctrl(&d, kvp, 0xffff, 0xffff);
        /* Endless garbage on a port: taken under budget, the port degrades, the device lives. */
        memset(junk, '{', sizeof(junk));
        for (unsigned i = 0; i < 8; i++) {
                junk[sizeof(junk) - 1] = '\n';
                cd_send(&d, VIRTIO_CONSOLE_PORT_TX(kvp), junk, sizeof(junk), 0);
        }
        for (unsigned i = 0; i < 8; i++)
                if (cd_used(&d, VIRTIO_CONSOLE_PORT_TX(kvp), NULL, 0, 2000, false) == 0)
                        got++;
        ck_assert_int_eq(got, 8);
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.svc[IC_SVC_KVP].violations, 8);
        ck_assert_uint_eq(cd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
        /* A writable buffer in a transmitq breaks the ring: the device asks for a reset. */
        cd_send(&d, VIRTIO_CONSOLE_PORT_TX(kvp), junk, 16, VIRTQ_DESC_F_WRITE);
        for (int t = 0; t < 2000 && !(cd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); t++)
                usleep(1000);
        ck_assert(cd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        /* A reset and a fresh start work. */
        ck_assert_uint_eq(bring_up(), IC_SVC_COUNT);
        ck_assert_uint_eq(cd_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
        teardown();
}
END_TEST

CHECK_MAIN("console", test_ports_and_heartbeat, test_only_enabled_ports, test_hostile_driver)
