/* SPDX-License-Identifier: MIT */
#include "check-main.h"
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/disk.h"

START_TEST(test_defaults)
{
        struct disk_config c;
        char err[256] = "";

        ck_assert_int_eq(disk_config_parse("/var/lib/a.img", err, sizeof(err), &c), 0);
        ck_assert_str_eq(c.path, "/var/lib/a.img");
        ck_assert_int_eq(c.fd, -1);
        ck_assert(!c.readonly);
        ck_assert_int_eq(c.cache, DISK_CACHE_WRITEBACK);
        ck_assert_uint_eq(c.queues, 1);
        ck_assert_str_eq(c.serial, "");
        ck_assert_int_eq(c.format, DISK_FORMAT_RAW);
        ck_assert(!c.format_set);
        ck_assert_uint_eq(c.metadata_cache, 0);
        disk_config_done(&c);
}
END_TEST

START_TEST(test_format_and_metadata_cache)
{
        struct disk_config c;
        char err[256] = "";

        ck_assert_int_eq(disk_config_parse("/a.qcow2,format=qcow2,metadata-cache=16M", err, sizeof(err), &c), 0);
        ck_assert_int_eq(c.format, DISK_FORMAT_QCOW2);
        ck_assert(c.format_set);
        ck_assert_uint_eq(c.metadata_cache, 16u << 20);
        ck_assert_str_eq(disk_format_to_string(c.format), "qcow2");
        disk_config_done(&c);
        ck_assert_int_eq(disk_config_parse("/a.img,format=raw,metadata-cache=4096", err, sizeof(err), &c), 0);
        ck_assert_int_eq(c.format, DISK_FORMAT_RAW);
        ck_assert(c.format_set);
        ck_assert_uint_eq(c.metadata_cache, 4096);
        disk_config_done(&c);
        ck_assert_int_eq(disk_config_parse("/a.img,metadata-cache=1G", err, sizeof(err), &c), 0);
        ck_assert_uint_eq(c.metadata_cache, 1u << 30);
        ck_assert(!c.format_set);
        disk_config_done(&c);
}
END_TEST

START_TEST(test_all_options)
{
        struct disk_config c;
        char err[256] = "";

        ck_assert_int_eq(disk_config_parse("/a,,b.img,ro,cache=none,queues=4,serial=ABC 123,fd=7",
                                           err, sizeof(err), &c), 0);
        ck_assert_str_eq(c.path, "/a,b.img");
        ck_assert(c.readonly);
        ck_assert_int_eq(c.cache, DISK_CACHE_NONE);
        ck_assert_uint_eq(c.queues, 4);
        ck_assert_str_eq(c.serial, "ABC 123");
        ck_assert_int_eq(c.fd, 7);
        ck_assert_str_eq(disk_cache_to_string(c.cache), "none");
        disk_config_done(&c);
        ck_assert_int_eq(disk_config_parse("x,cache=writeback,serial=12345678901234567890", err, sizeof(err), &c), 0);
        ck_assert_str_eq(c.serial, "12345678901234567890");
        disk_config_done(&c);
}
END_TEST

START_TEST(test_errors)
{
        static const struct { const char *spec, *needle; } cases[] = {
                { "", "empty" },
                { ",ro", "path" },
                { "/a,cache=directsync", "cache" },
                { "/a,cache", "cache" },
                { "/a,queues=0", "queues" },
                { "/a,queues=65", "queues" },
                { "/a,queues=abc", "queues" },
                { "/a,queues=99999999999999999999999", "queues" },
                { "/a,serial=123456789012345678901", "serial" },
                { "/a,serial=\x01", "serial" },
                { "/a,ro=1", "ro" },
                { "/a,readonly", "readonly" },
                { "/a,fd=-1", "fd" },
                { "/a,format=vmdk", "format: 'vmdk'" },
                { "/a,format", "format: needs a value" },
                { "/a,metadata-cache=lots", "metadata-cache: 'lots' is not a size" },
                { "/a,metadata-cache", "metadata-cache: needs a value" },
                { "/a,metadata-cache=20000000000T", "metadata-cache" },
                { "/a,,", "unknown" },
        };
        struct disk_config c;
        char err[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                err[0] = 0;
                if (strcmp(cases[i].spec, "/a,,") == 0) {
                        /* ",," is an escaped comma: a path "/a," with no options */
                        ck_assert_int_eq(disk_config_parse(cases[i].spec, err, sizeof(err), &c), 0);
                        ck_assert_str_eq(c.path, "/a,");
                        disk_config_done(&c);
                        continue;
                }
                ck_assert_int_eq(disk_config_parse(cases[i].spec, err, sizeof(err), &c), -EINVAL);
                ck_assert_msg(strstr(err, cases[i].needle), "'%s': message '%s' lacks '%s'",
                              cases[i].spec, err, cases[i].needle);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("disk-config");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_all_options);
        tcase_add_test(tc, test_format_and_metadata_cache);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
