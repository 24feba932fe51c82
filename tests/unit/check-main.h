/* SPDX-License-Identifier: MIT */
/*
 * check(3) runners, so no test file writes its own main(): CHECK_MAIN for one test case
 * made of the tests listed, CHECK_SUITE_MAIN for a suite a function builds. The process's
 * exit status says pass or fail.
 */
#pragma once

#include <check.h>
#include <stdlib.h>

static inline int check_run_suite(Suite *s)
{
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define CHECK_SUITE_MAIN(suite_fn)                                              \
        int main(void) { return check_run_suite(suite_fn()); }

#define CHECK_MAIN(suite_name, ...)                                             \
        int main(void)                                                          \
        {                                                                       \
                const TTest *const tests[] = { __VA_ARGS__ };                           \
                Suite *s = suite_create(suite_name);                            \
                TCase *tc = tcase_create(suite_name);                           \
                                                                                \
                tcase_set_timeout(tc, 60);                                      \
                for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)   \
                        tcase_add_test(tc, tests[i]);      \
                suite_add_tcase(s, tc);                                         \
                return check_run_suite(s);                                      \
        }
