/* SPDX-License-Identifier: MIT */
/*
 * NIC configuration: the --nic syntax, its JSON form inside the VM's document (errors name
 * the key), MAC addresses and interface names.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check-main.h"
#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/config.h"
#include "vmms/nic.h"

static int parse(const char *s, struct nic_config *c, char *err)
{
        return nic_config_parse(s, err, 256, c);
}

START_TEST(test_parse)
{
        struct nic_config c;
        char err[256], mac[NIC_MAC_STRLEN];

        ck_assert_int_eq(parse("tap=tap0", &c, err), 0);
        ck_assert_str_eq(c.tap, "tap0");
        ck_assert_uint_eq(c.queues, 1);
        ck_assert(!c.has_mac);
        ck_assert_uint_eq(c.n_fds, 0);
        nic_config_done(&c);

        ck_assert_int_eq(parse("tap=vm1-eth0,mac=52:54:00:AB:cd:01,queues=4,bridge=br-lan", &c, err), 0);
        ck_assert_str_eq(nic_mac_format(c.mac, mac), "52:54:00:ab:cd:01");
        ck_assert_uint_eq(c.queues, 4);
        ck_assert_str_eq(c.bridge, "br-lan");
        nic_config_done(&c);

        ck_assert_int_eq(parse("fd=5,mac=02-00-00-00-00-01", &c, err), 0);
        ck_assert_uint_eq(c.n_fds, 1);
        ck_assert_int_eq(c.fds[0], 5);
        ck_assert(!c.tap);
        nic_config_done(&c);

        ck_assert_int_eq(parse("fd=5:6:7", &c, err), 0);
        ck_assert_uint_eq(c.n_fds, 3);
        ck_assert_uint_eq(c.queues, 3);
        ck_assert_int_eq(c.fds[2], 7);
        nic_config_done(&c);

        ck_assert_int_eq(parse("switch=Lab.Net-1,queues=2", &c, err), 0);
        ck_assert_str_eq(c.switch_name, "Lab.Net-1");
        nic_config_done(&c);
}
END_TEST

START_TEST(test_parse_errors)
{
        static const struct {
                const char *spec, *msg;
        } bad[] = {
                { "", "empty" },
                { "mac=02:00:00:00:00:01", "needs one of" },
                { "tap=a,fd=3", "exclude" },
                { "tap=a,switch=b", "exclude" },
                { "switch=b,bridge=br0", "bridge" },
                { "tap=has space", "tap:" },
                { "tap=abcdefghijklmnop", "tap:" },
                { "tap=a/b", "tap:" },
                { "tap=a,mac=01:00:00:00:00:01", "unicast" },
                { "tap=a,mac=00:00:00:00:00:00", "unicast" },
                { "tap=a,mac=02:00:00:00:00", "mac:" },
                { "tap=a,mac=02:00:00-00:00:01", "mac:" },
                { "tap=a,queues=0", "queues:" },
                { "tap=a,queues=17", "queues:" },
                { "tap=a,queues=x", "queues:" },
                { "fd=3:4,queues=3", "queues:" },
                { "fd=x", "fd:" },
                { "fd=", "needs a value" },
                { "tap=a,speed=10", "unknown NIC option 'speed'" },
                { "tap=a,,mac=02:00:00:00:00:01", "empty option" },
                { "switch=a b", "switch:" },
        };
        char err[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct nic_config c;

                err[0] = 0;
                ck_assert_msg(parse(bad[i].spec, &c, err) == -EINVAL, "'%s' accepted", bad[i].spec);
                ck_assert_msg(strstr(err, bad[i].msg), "'%s': message '%s' lacks '%s'", bad[i].spec, err, bad[i].msg);
        }
}
END_TEST

START_TEST(test_mac)
{
        uint8_t a[6], b[6], c[6], m[6];

        nic_mac_derive("demo", 0, a);
        nic_mac_derive("demo", 0, b);
        nic_mac_derive("demo", 1, c);
        ck_assert_mem_eq(a, b, 6);
        ck_assert_mem_ne(a, c, 6);
        ck_assert(nic_mac_is_valid_unicast(a));
        ck_assert_uint_eq(a[0] & 3, 2);                 /* locally administered, unicast */
        nic_mac_derive(NULL, 0, a);
        ck_assert(nic_mac_is_valid_unicast(a));
        ck_assert_int_eq(nic_mac_parse("0a:1B:2c:3D:4e:5F", m), 0);
        ck_assert_uint_eq(m[1], 0x1b);
        ck_assert_int_eq(nic_mac_parse("0a:1B:2c:3D:4e:5", m), -EINVAL);
        ck_assert_int_eq(nic_mac_parse("0a:1B:2c:3D:4e:5G", m), -EINVAL);
        ck_assert_int_eq(nic_mac_parse(NULL, m), -EINVAL);
        ck_assert(nic_ifname_is_valid("eth0") && nic_ifname_is_valid("a.b-c_d"));
        ck_assert(!nic_ifname_is_valid("") && !nic_ifname_is_valid(".") && !nic_ifname_is_valid("a:1"));
}
END_TEST

START_TEST(test_json)
{
        struct vm_config c;
        struct config_error err = {};
        _cleanup_json_ struct json_object *o = NULL;
        char mac[NIC_MAC_STRLEN];

        ck_assert_int_eq(vm_config_from_string(
                "{\"nics\": [{\"tap\": \"tap0\", \"mac\": \"02:56:00:00:00:05\", \"queues\": 2, \"bridge\": \"br0\"},"
                "            {\"switch\": \"lan\"}]}", &c, &err), 0);
        ck_assert_uint_eq(c.n_nics, 2);
        ck_assert_str_eq(c.nics[0].tap, "tap0");
        ck_assert_str_eq(nic_mac_format(c.nics[0].mac, mac), "02:56:00:00:00:05");
        ck_assert_uint_eq(c.nics[0].queues, 2);
        ck_assert_str_eq(c.nics[0].bridge, "br0");
        ck_assert_str_eq(c.nics[1].switch_name, "lan");
        ck_assert_int_eq(vm_config_to_json(&c, &o), 0);
        vm_config_done(&c);
        /* what vmms stores reads back the same */
        ck_assert_int_eq(vm_config_from_json(o, &c, &err), 0);
        ck_assert_uint_eq(c.n_nics, 2);
        ck_assert_str_eq(c.nics[0].bridge, "br0");
        ck_assert(c.nics[0].has_mac && !c.nics[1].has_mac);
        vm_config_done(&c);
}
END_TEST

START_TEST(test_json_errors)
{
        static const struct {
                const char *json, *msg;
        } bad[] = {
                { "{\"nics\": {}}", "nics: expected an array" },
                { "{\"nics\": [3]}", "nics[0]: expected an object" },
                { "{\"nics\": [{}]}", "nics[0]: needs one of" },
                { "{\"nics\": [{\"tap\": \"a\", \"fd\": 3}]}", "nics[0].fd: unknown key" },
                { "{\"nics\": [{\"tap\": 3}]}", "nics[0].tap: expected a string" },
                { "{\"nics\": [{\"tap\": \"a\"}, {\"tap\": \"b\", \"mac\": \"x\"}]}", "nics[1].mac:" },
                { "{\"nics\": [{\"tap\": \"a\", \"queues\": 99}]}", "nics[0].queues:" },
                { "{\"nics\": [{\"tap\": \"a\", \"queues\": \"2\"}]}", "nics[0].queues: expected" },
                { "{\"nics\": [{\"switch\": \"a\", \"tap\": \"b\"}]}", "exclude" },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vm_config c;
                struct config_error err = {};

                ck_assert_msg(vm_config_from_string(bad[i].json, &c, &err) < 0, "%s accepted", bad[i].json);
                ck_assert_msg(strstr(err.msg, bad[i].msg), "%s: message '%s' lacks '%s'", bad[i].json, err.msg,
                              bad[i].msg);
        }
}
END_TEST

START_TEST(test_too_many)
{
        struct vm_config c;
        struct config_error err = {};
        char json[1024] = "{\"nics\": [";

        for (unsigned i = 0; i <= VM_CONFIG_NICS_MAX; i++)
                snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s{\"tap\": \"t%u\"}", i ? "," : "", i);
        strcat(json, "]}");
        ck_assert_int_eq(vm_config_from_string(json, &c, &err), -EINVAL);
        ck_assert(strstr(err.msg, "more than"));
}
END_TEST

CHECK_MAIN("nic-config", test_parse, test_parse_errors, test_mac, test_json, test_json_errors, test_too_many)
