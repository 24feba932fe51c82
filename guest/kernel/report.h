/* SPDX-License-Identifier: MIT */
/*
 * The scenario report protocol of <abi/report.h>: "#VMMS ready|info|metric|assert|result ..."
 * lines on the console, parsed by the host's tests. ASSERT() is fatal (assert line, result
 * fail, power off); EXPECT() reports and lets the scenario go on, which then fails.
 */
#pragma once

#include <stdint.h>

#include "kernel/lib.h"

#ifdef __FILE_NAME__
#define GUEST_FILE __FILE_NAME__
#else
#define GUEST_FILE __FILE__
#endif

void guest_report_ready(void);
void guest_report_info(const char *fmt, ...) _printf_(1, 2);
void guest_report_metric(const char *name, uint64_t value, const char *unit);
/* value_milli / 1000, printed with three decimals */
void guest_report_metric_milli(const char *name, uint64_t value_milli, const char *unit);
/* status: REPORT_STATUS_PASS/FAIL/SKIP; reason may be NULL */
void guest_report_result(const char *status, const char *reason);

_noreturn_ void guest_assert_fail(const char *file, int line, const char *fmt, ...) _printf_(3, 4);
void guest_expect_fail(const char *file, int line, const char *fmt, ...) _printf_(3, 4);
/* Print an assert line without ending the scenario (used by the exception handler). */
void guest_report_assert(const char *file, int line, const char *fmt, ...) _printf_(3, 4);

#define ASSERT(cond)                                                                    \
        do {                                                                            \
                if (__builtin_expect(!(cond), 0))                                       \
                        guest_assert_fail(GUEST_FILE, __LINE__, "ASSERT(%s)", #cond);   \
        } while (0)

#define ASSERT_MSG(cond, ...)                                                           \
        do {                                                                            \
                if (__builtin_expect(!(cond), 0))                                       \
                        guest_assert_fail(GUEST_FILE, __LINE__, __VA_ARGS__);           \
        } while (0)

#define EXPECT(cond)                                                                    \
        do {                                                                            \
                if (__builtin_expect(!(cond), 0))                                       \
                        guest_expect_fail(GUEST_FILE, __LINE__, "EXPECT(%s)", #cond);   \
        } while (0)

#define EXPECT_MSG(cond, ...)                                                           \
        do {                                                                            \
                if (__builtin_expect(!(cond), 0))                                       \
                        guest_expect_fail(GUEST_FILE, __LINE__, __VA_ARGS__);           \
        } while (0)
