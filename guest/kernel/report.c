/* SPDX-License-Identifier: MIT */
#include <abi/report.h>

#include "kernel/console.h"
#include "kernel/kernel.h"
#include "kernel/power.h"
#include "kernel/report.h"

#define REPORT_LINE_MAX 512

static void report_line(const char *kind, const char *fmt, va_list ap)
{
        char buf[REPORT_LINE_MAX];
        size_t n = (size_t)guest_snprintf(buf, sizeof(buf), REPORT_PREFIX "%s ", kind);

        n += (size_t)guest_vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
        n = MIN(n, sizeof(buf) - 2);
        buf[n++] = '\n';
        guest_console_write_line(buf, n);
}

static void report(const char *kind, const char *fmt, ...) _printf_(2, 3);
static void report(const char *kind, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report_line(kind, fmt, ap);
        va_end(ap);
}

static const char *scenario_name(void)
{
        return guest.scenario_name ? guest.scenario_name : "none";
}

void guest_report_ready(void)
{
        report(REPORT_READY, "scenario=%s vcpus=%u mem_mib=%lu", scenario_name(), guest.topo.cpu_count,
               (unsigned long)guest_mem_mib());
}

void guest_report_info(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report_line(REPORT_INFO, fmt, ap);
        va_end(ap);
}

void guest_report_metric(const char *name, uint64_t value, const char *unit)
{
        report(REPORT_METRIC, "name=%s value=%lu unit=%s", name, (unsigned long)value, unit);
}

void guest_report_metric_milli(const char *name, uint64_t value_milli, const char *unit)
{
        report(REPORT_METRIC, "name=%s value=%lu.%03lu unit=%s", name, (unsigned long)(value_milli / 1000),
               (unsigned long)(value_milli % 1000), unit);
}

void guest_report_result(const char *status, const char *reason)
{
        if (reason)
                report(REPORT_RESULT, "scenario=%s status=%s reason=%s", scenario_name(), status, reason);
        else
                report(REPORT_RESULT, "scenario=%s status=%s", scenario_name(), status);
}

static void report_assert(const char *file, int line, const char *fmt, va_list ap)
{
        char msg[REPORT_LINE_MAX - 64];

        guest_vsnprintf(msg, sizeof(msg), fmt, ap);
        report(REPORT_ASSERT, "file=%s line=%d msg=%s", file, line, msg);
}

void guest_report_assert(const char *file, int line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report_assert(file, line, fmt, ap);
        va_end(ap);
}

void guest_assert_fail(const char *file, int line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report_assert(file, line, fmt, ap);
        va_end(ap);
        guest_report_result(REPORT_STATUS_FAIL, NULL);
        guest_poweroff();
}

void guest_expect_fail(const char *file, int line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report_assert(file, line, fmt, ap);
        va_end(ap);
        __atomic_add_fetch(&guest.expect_failures, 1, __ATOMIC_RELAXED);
}
