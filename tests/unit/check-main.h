/* SPDX-License-Identifier: MIT */
/* A check(3) runner: one test case per suite, the process exit code says pass/fail. */
#pragma once

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_name, ...)                                             \
        int main(void)                                                          \
        {                                                                       \
                const TTest *const tests[] = { __VA_ARGS__ };                           \
                Suite *s = suite_create(suite_name);                            \
                TCase *tc = tcase_create(suite_name);                           \
                SRunner *sr;                                                    \
                int failed;                                                     \
                                                                                \
                tcase_set_timeout(tc, 60);                                      \
                for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)   \
                        tcase_add_test(tc, tests[i]);      \
                suite_add_tcase(s, tc);                                         \
                sr = srunner_create(s);                                         \
                srunner_run_all(sr, CK_NORMAL);                                 \
                failed = srunner_ntests_failed(sr);                             \
                srunner_free(sr);                                               \
                return failed ? EXIT_FAILURE : EXIT_SUCCESS;                    \
        }
