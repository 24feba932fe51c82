/* SPDX-License-Identifier: MIT */
/*
 * Console scenarios:
 *   shell          an interactive prompt: help, info, echo TEXT, poweroff, reboot
 *   echo           every input line comes back as "#VMMS info echo=TEXT" until "quit"
 *   console-bench  the cost of console output per byte (lines=N lines of 64 bytes)
 * shell and echo read interrupt-driven serial input.
 */
#include <abi/report.h>

#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

#define LINE_MAX 256

/* Wait for a byte; interrupts are on again when it returns. */
static char console_getc(void)
{
        int c;

        guest_irq_disable();
        while ((c = guest_uart_getc(&guest.console.uart)) < 0)
                guest_cpu_wait();
        guest_irq_enable();
        return (char)c;
}

/*
 * Read a line terminated by CR or LF (a CR LF pair gives one line and an empty one, which
 * callers skip). With echo, typed characters are echoed and backspace edits.
 */
static size_t read_line(char *buf, size_t size, bool echo)
{
        size_t n = 0;

        for (;;) {
                char c = console_getc();

                if (c == '\r' || c == '\n') {
                        if (echo)
                                guest_console_write("\n", 1);
                        buf[n] = 0;
                        return n;
                }
                if (c == 0x7f || c == 0x08) {
                        if (n > 0) {
                                n--;
                                if (echo)
                                        guest_console_write("\b \b", 3);
                        }
                        continue;
                }
                if ((unsigned char)c < 0x20 || n + 1 >= size)
                        continue;
                buf[n++] = c;
                if (echo)
                        guest_console_write(&c, 1);
        }
}

static void shell_info(void)
{
        guest_printf("vmguest %s, %s\n", GUEST_VERSION, guest.native ? "PVM native mode" : "ring 0");
        guest_printf("  vcpus:     %u (topology from %s)\n", guest.topo.cpu_count, guest.topo.source);
        guest_printf("  memory:    %lu MiB\n", (unsigned long)guest_mem_mib());
        guest_printf("  apic:      %s\n", guest.lapic.x2apic ? "x2APIC" : "xAPIC");
        guest_printf("  time:      %s, TSC %lu kHz, up %lu ms\n", guest.time.source ? guest.time.source : "none",
                     (unsigned long)(guest.time.tsc_hz / 1000), (unsigned long)(guest_time_ns() / 1000000));
        guest_printf("  acpi:      %s%s\n", guest.acpi.present ? guest.acpi.oem_id : "none",
                     guest.acpi.hw_reduced ? " (hardware-reduced)" : "");
        guest_printf("  power btn: %s\n", guest.power.button_enabled ? "enabled" : "unavailable");
        guest_printf("  cmdline:   %s\n", guest.cmdline);
}

int guest_scenario_shell(void)
{
        char line[LINE_MAX];

        guest_printf("vmguest shell; type \"help\"\n");
        for (;;) {
                guest_console_write("vmguest> ", 9);
                read_line(line, sizeof(line), true);
                if (!line[0])
                        continue;
                if (guest_strcmp(line, "help") == 0) {
                        guest_printf("commands: help, info, echo TEXT, poweroff, reboot\n");
                } else if (guest_strcmp(line, "info") == 0) {
                        shell_info();
                } else if (guest_strcmp(line, "echo") == 0 || guest_startswith(line, "echo ")) {
                        guest_printf("%s\n", line[4] ? line + 5 : "");
                } else if (guest_strcmp(line, "poweroff") == 0) {
                        guest_report_result(REPORT_STATUS_PASS, NULL);
                        guest_poweroff();
                } else if (guest_strcmp(line, "reboot") == 0) {
                        guest_reboot(GUEST_RESET_CF9);
                } else {
                        guest_printf("unknown command: %s (try \"help\")\n", line);
                }
        }
}

int guest_scenario_echo(void)
{
        char line[LINE_MAX];

        for (;;) {
                read_line(line, sizeof(line), false);
                if (!line[0])
                        continue;
                if (guest_strcmp(line, "quit") == 0)
                        return 0;
                guest_report_info("echo=%s", line);
        }
}

int guest_scenario_console_bench(void)
{
        /* 63 characters; with the console's CR before LF, 64 bytes on the wire */
        static const char line[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\n";
        unsigned lines = (unsigned)guest_cmdline_get_u64("lines", 16);
        uint64_t t0, t1;

        t0 = guest_rdtsc();
        for (unsigned i = 0; i < lines; i++)
                guest_console_write(line, sizeof(line) - 1);
        t1 = guest_rdtsc();
        if (lines)
                guest_report_metric("console_write_ns_per_byte", guest_tsc_to_ns(t1 - t0) / (lines * 64ull),
                                    "ns");
        return 0;
}
