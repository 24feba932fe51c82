/* SPDX-License-Identifier: MIT */
#include "check-main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmms/config.h"
#include "vmms/util.h"

static void expect_error(const char *json, const char *needle)
{
        struct vm_config c;
        struct config_error err = {};
        int r = vm_config_from_string(json, &c, &err);

        ck_assert_msg(r < 0, "accepted: %s", json);
        ck_assert_msg(strstr(err.msg, needle), "error for %s is '%s', expected it to mention '%s'",
                      json, err.msg, needle);
}

START_TEST(test_valid_full)
{
        struct vm_config c;
        struct config_error err = {};
        int r = vm_config_from_string(
                "{\"name\":\"demo-1\",\"uuid\":\"u\",\"memory\":\"1G\",\"vcpus\":4,"
                "\"kernel\":\"/k\",\"initrd\":\"/i\",\"cmdline\":\"console=ttyS0\",\"hugepages\":true,"
                "\"console\":{\"type\":\"socket\",\"path\":\"/run/c.sock\"},\"on_reboot\":\"exit\"}",
                &c, &err);

        ck_assert_msg(r == 0, "%s", err.msg);
        ck_assert_str_eq(c.name, "demo-1");
        ck_assert_uint_eq(c.memory, 1ull << 30);
        ck_assert_uint_eq(c.vcpus, 4);
        ck_assert_str_eq(c.kernel, "/k");
        ck_assert_str_eq(c.initrd, "/i");
        ck_assert_str_eq(c.cmdline, "console=ttyS0");
        ck_assert(c.hugepages);
        ck_assert_int_eq(c.console_type, CONSOLE_SOCKET);
        ck_assert_str_eq(c.console_path, "/run/c.sock");
        ck_assert_int_eq(c.on_reboot, ON_REBOOT_EXIT);
        vm_config_done(&c);
}
END_TEST

START_TEST(test_defaults)
{
        struct vm_config c;
        struct config_error err = {};

        ck_assert_int_eq(vm_config_from_string("{}", &c, &err), 0);
        ck_assert_uint_eq(c.memory, VM_CONFIG_DEFAULT_MEMORY);
        ck_assert_uint_eq(c.vcpus, 1);
        ck_assert_ptr_null(c.kernel);
        ck_assert_int_eq(c.console_type, CONSOLE_STDIO);
        vm_config_done(&c);
}
END_TEST

START_TEST(test_memory_forms)
{
        struct vm_config c;
        struct config_error err = {};

        ck_assert_int_eq(vm_config_from_string("{\"memory\": 512}", &c, &err), 0);
        ck_assert_uint_eq(c.memory, 512ull << 20);
        vm_config_done(&c);
        ck_assert_int_eq(vm_config_from_string("{\"memory\": \"64MiB\"}", &c, &err), 0);
        ck_assert_uint_eq(c.memory, 64ull << 20);
        vm_config_done(&c);

        uint64_t m;
        ck_assert_int_eq(vm_config_memory_from_string("128", &m, &err), 0);
        ck_assert_uint_eq(m, 128ull << 20);
        ck_assert_int_eq(vm_config_memory_from_string("2G", &m, &err), 0);
        ck_assert_uint_eq(m, 2ull << 30);
        ck_assert_int_lt(vm_config_memory_from_string("lots", &m, &err), 0);
        ck_assert_int_lt(vm_config_memory_from_string("99999999999999999999", &m, &err), 0);
}
END_TEST

START_TEST(test_errors_name_the_key)
{
        expect_error("{\"memroy\": \"1G\"}", "memroy: unknown key");
        expect_error("{\"memory\": \"12X\"}", "memory:");
        expect_error("{\"memory\": \"1M\"}", "memory:");           /* below the minimum */
        expect_error("{\"memory\": \"2T\"}", "memory:");           /* above the maximum */
        expect_error("{\"memory\": \"17M\"}", "multiple of 2 MiB");
        expect_error("{\"memory\": -5}", "memory:");
        expect_error("{\"memory\": true}", "memory:");
        expect_error("{\"vcpus\": 0}", "vcpus:");
        expect_error("{\"vcpus\": 1000}", "vcpus:");
        expect_error("{\"vcpus\": \"2\"}", "vcpus: expected an integer");
        expect_error("{\"kernel\": \"vmlinuz\"}", "kernel: 'vmlinuz' is not an absolute path");
        expect_error("{\"kernel\": 5}", "kernel: expected a string");
        expect_error("{\"initrd\": \"/i\"}", "initrd: given without a kernel");
        expect_error("{\"name\": \"has space\"}", "name:");
        expect_error("{\"name\": \"..\"}", "name:");
        expect_error("{\"hugepages\": \"yes\"}", "hugepages:");
        expect_error("{\"console\": {\"type\": \"tty\"}}", "console.type:");
        expect_error("{\"console\": {\"type\": \"file\"}}", "console.path: required");
        expect_error("{\"console\": {\"type\": \"file\", \"path\": \"rel\"}}", "console.path:");
        expect_error("{\"console\": {\"colour\": 1}}", "console.colour: unknown key");
        expect_error("{\"on_reboot\": \"dance\"}", "on_reboot:");
        expect_error("[1,2]", "expected a JSON object");
        expect_error("{\"memory\": ", "invalid JSON");
        expect_error("{} {}", "trailing data");
        expect_error("", "invalid JSON");
}
END_TEST

START_TEST(test_roundtrip)
{
        struct vm_config c, d;
        struct config_error err = {};
        struct json_object *o;

        ck_assert_int_eq(vm_config_from_string("{\"name\":\"x\",\"memory\":\"3G\",\"vcpus\":3,"
                                               "\"kernel\":\"/k\",\"cmdline\":\"a b\"}", &c, &err), 0);
        ck_assert_int_eq(vm_config_to_json(&c, &o), 0);
        ck_assert_int_eq(vm_config_from_json(o, &d, &err), 0);
        ck_assert_str_eq(d.name, "x");
        ck_assert_uint_eq(d.memory, 3ull << 30);
        ck_assert_uint_eq(d.vcpus, 3);
        ck_assert_str_eq(d.cmdline, "a b");
        json_object_put(o);
        vm_config_done(&c);
        vm_config_done(&d);
}
END_TEST

START_TEST(test_load_file)
{
        char path[] = "/tmp/test-config-XXXXXX";
        int fd = mkstemp(path);
        struct vm_config c;
        struct config_error err = {};

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "{\"vcpus\": 7}", 12), 12);
        close(fd);
        ck_assert_int_eq(vm_config_load(path, &c, &err), 0);
        ck_assert_uint_eq(c.vcpus, 7);
        vm_config_done(&c);
        unlink(path);
        ck_assert_int_lt(vm_config_load(path, &c, &err), 0);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);
}
END_TEST

START_TEST(test_util)
{
        uint64_t v;
        char buf[32];

        ck_assert_int_eq(parse_size("4K", &v), 0);
        ck_assert_uint_eq(v, 4096);
        ck_assert_int_eq(parse_size("1GiB", &v), 0);
        ck_assert_uint_eq(v, 1ull << 30);
        ck_assert_int_lt(parse_size("-1", &v), 0);
        ck_assert_int_lt(parse_size("1Q", &v), 0);
        ck_assert_int_lt(parse_size("20000000000T", &v), 0);
        ck_assert_str_eq(format_size(buf, sizeof(buf), 512ull << 20), "512 MiB");
        ck_assert_str_eq(format_size(buf, sizeof(buf), 1536ull << 20), "1.5 GiB");
        ck_assert(name_is_valid("a.b_c-1"));
        ck_assert(!name_is_valid(""));
        ck_assert(!name_is_valid("a/b"));
        ck_assert(!name_is_valid("x12345678901234567890123456789012345678901234567890123456789012345"));
}
END_TEST

/* Integration services (vmms-ic(7)): all on unless switched off one by one. */
START_TEST(test_integration)
{
        struct vm_config c, d;
        struct config_error err = {};
        struct json_object *o;

        vm_config_init(&c);
        for (unsigned i = 0; i < IC_SVC_COUNT; i++)
                ck_assert(c.integration[i]);
        ck_assert_int_eq(vm_config_from_string("{\"integration\":{\"kvp\":false,\"fcopy\":false,"
                                               "\"heartbeat\":true}}", &c, &err), 0);
        ck_assert(c.integration[IC_SVC_HEARTBEAT] && c.integration[IC_SVC_SHUTDOWN] &&
                  c.integration[IC_SVC_TIMESYNC]);
        ck_assert(!c.integration[IC_SVC_KVP] && !c.integration[IC_SVC_FCOPY]);
        ck_assert_int_eq(vm_config_to_json(&c, &o), 0);
        ck_assert_int_eq(vm_config_from_json(o, &d, &err), 0);
        ck_assert(d.integration[IC_SVC_SHUTDOWN] && !d.integration[IC_SVC_KVP]);
        json_object_put(o);
        vm_config_done(&c);
        vm_config_done(&d);
        expect_error("{\"integration\": true}", "integration: expected an object");
        expect_error("{\"integration\": {\"kvp\": 1}}", "integration.kvp: expected true or false");
        expect_error("{\"integration\": {\"vss\": true}}", "integration.vss: unknown key");
}
END_TEST

/* The worker's cage (vmms(8)): its cgroup's CPU weight, and the debug methods for tests. */
START_TEST(test_cpu_weight_and_debug)
{
        struct vm_config c, d;
        struct config_error err = {};
        struct json_object *o, *v;

        vm_config_init(&c);
        ck_assert_uint_eq(c.cpu_weight, 100);
        ck_assert(!c.debug);
        ck_assert_int_eq(vm_config_to_json(&c, &o), 0);
        ck_assert(json_object_object_get_ex(o, "cpu_weight", &v) && json_object_get_int(v) == 100);
        ck_assert(!json_object_object_get_ex(o, "debug", NULL));
        json_object_put(o);
        ck_assert_int_eq(vm_config_from_string("{\"cpu_weight\": 250, \"debug\": true}", &c, &err), 0);
        ck_assert_uint_eq(c.cpu_weight, 250);
        ck_assert(c.debug);
        ck_assert_int_eq(vm_config_to_json(&c, &o), 0);
        ck_assert_int_eq(vm_config_from_json(o, &d, &err), 0);
        ck_assert_uint_eq(d.cpu_weight, 250);
        ck_assert(d.debug);
        json_object_put(o);
        vm_config_done(&c);
        vm_config_done(&d);
        ck_assert_int_eq(vm_config_from_string("{\"cpu_weight\": 1}", &c, &err), 0);
        vm_config_done(&c);
        ck_assert_int_eq(vm_config_from_string("{\"cpu_weight\": 10000}", &c, &err), 0);
        vm_config_done(&c);
        expect_error("{\"cpu_weight\": 0}", "cpu_weight: 0 is out of range (1 to 10000)");
        expect_error("{\"cpu_weight\": 10001}", "cpu_weight: 10001 is out of range");
        expect_error("{\"cpu_weight\": \"high\"}", "cpu_weight: expected an integer");
        expect_error("{\"debug\": 1}", "debug: expected true or false");
}
END_TEST

/* Disks (issue 12): "format" is kept as given and always written back, so a stored
 * configuration says what vm.create found; "metadata_cache" only when set. */
START_TEST(test_disk_format_and_metadata_cache)
{
        struct vm_config c, d;
        struct config_error err = {};
        struct json_object *o, *a, *v;

        ck_assert_int_eq(vm_config_from_string("{\"disks\":[{\"path\":\"/a.img\"},"
                                               "{\"path\":\"/b.qcow2\",\"format\":\"qcow2\",\"metadata_cache\":\"4M\"},"
                                               "{\"path\":\"/c.img\",\"format\":\"raw\",\"metadata_cache\":65536}]}",
                                               &c, &err), 0);
        ck_assert_uint_eq(c.n_disks, 3);
        ck_assert_int_eq(c.disks[0].format, DISK_FORMAT_RAW);
        ck_assert(!c.disks[0].format_set);
        ck_assert_uint_eq(c.disks[0].metadata_cache, 0);
        ck_assert_int_eq(c.disks[1].format, DISK_FORMAT_QCOW2);
        ck_assert(c.disks[1].format_set);
        ck_assert_uint_eq(c.disks[1].metadata_cache, 4u << 20);
        ck_assert_int_eq(c.disks[2].format, DISK_FORMAT_RAW);
        ck_assert(c.disks[2].format_set);
        ck_assert_uint_eq(c.disks[2].metadata_cache, 65536);

        ck_assert_int_eq(vm_config_to_json(&c, &o), 0);
        ck_assert(json_object_object_get_ex(o, "disks", &a));
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(a, 0), "format", &v));
        ck_assert_str_eq(json_object_get_string(v), "raw");
        ck_assert(!json_object_object_get_ex(json_object_array_get_idx(a, 0), "metadata_cache", NULL));
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(a, 1), "format", &v));
        ck_assert_str_eq(json_object_get_string(v), "qcow2");
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(a, 1), "metadata_cache", &v));
        ck_assert_int_eq(json_object_get_int64(v), 4 << 20);
        ck_assert_int_eq(vm_config_from_json(o, &d, &err), 0);
        ck_assert(d.disks[0].format_set);       /* written back: never probed again */
        ck_assert_int_eq(d.disks[1].format, DISK_FORMAT_QCOW2);
        ck_assert_uint_eq(d.disks[1].metadata_cache, 4u << 20);
        json_object_put(o);
        vm_config_done(&c);
        vm_config_done(&d);

        expect_error("{\"disks\":[{\"path\":\"/a\",\"format\":\"vmdk\"}]}", "disks[0].format: 'vmdk' is neither");
        expect_error("{\"disks\":[{\"path\":\"/a\",\"format\":2}]}", "disks[0].format: expected");
        expect_error("{\"disks\":[{\"path\":\"/a\",\"metadata_cache\":\"lots\"}]}", "disks[0].metadata_cache:");
        expect_error("{\"disks\":[{\"path\":\"/a\",\"metadata_cache\":-1}]}", "disks[0].metadata_cache:");
        expect_error("{\"disks\":[{\"path\":\"/a\",\"metadata_cache\":true}]}", "disks[0].metadata_cache:");
}
END_TEST

CHECK_MAIN("config", test_valid_full, test_defaults, test_memory_forms, test_errors_name_the_key,
           test_roundtrip, test_load_file, test_util, test_integration, test_cpu_weight_and_debug,
           test_disk_format_and_metadata_cache)
