/* SPDX-License-Identifier: MIT */
/*
 * guest_main: from the 64-bit entry (native on PVM) to the scenario. Boot order:
 * per-CPU pointer, IDT, CPUID snapshot, kvmclock, PVH start_info (memory map, command line,
 * modules, RSDP), console, ACPI/MP tables, banner, platform interrupts if the scenario needs
 * them, "ready", the scenario, its result, power off.
 */
#include <abi/platform.h>
#include <abi/pvh.h>
#include <abi/report.h>

#include "kernel/kernel.h"
#include "kernel/report.h"

struct guest_kernel guest;

void guest_cpu_halt_forever(void)
{
        for (;;) {
                guest_cli();
                guest_hlt();
        }
}

static void boot_cpu_setup(void)
{
        struct guest_cpu *cpu = &guest.cpus[0];

        *(struct guest_cpu **)(void *)guest_boot_stack = cpu;
        cpu->index = 0;
        cpu->stack_base = (uint64_t)(uintptr_t)guest_boot_stack;
        cpu->online = 1;
        guest.cpu_slots = 1;
}

static void cpuid_setup(void)
{
        struct guest_cpuid *c = &guest.cpuid;

        memcpy(c->leaf1, guest_boot.cpuid1, sizeof(c->leaf1));
        guest.boot_cpuid1_ecx = c->leaf1[2];
        c->hv_max = guest_boot.cpuid_hv[0];
        memcpy(c->hv_signature, &guest_boot.cpuid_hv[1], 12);
        c->hv_signature[12] = 0;
        for (unsigned i = 0; i < 12; i++)
                if (c->hv_signature[i] && (c->hv_signature[i] < 0x20 || c->hv_signature[i] > 0x7e))
                        c->hv_signature[i] = '?';
        c->kvm = memcmp(c->hv_signature, "KVMKVMKVM\0\0\0", 12) == 0 && c->hv_max >= 0x40000001;
        c->hv_features = c->kvm ? guest_boot.cpuid_hv_features : 0;
        guest.cpus[0].apic_id = c->leaf1[1] >> 24;
}

static bool phys_readable(uint64_t addr, uint64_t len)
{
        return addr != 0 && addr < 0x100000000ull && len <= 0x100000000ull - addr;
}

static int start_info_parse(uint32_t paddr)
{
        const struct hvm_start_info *si = (const struct hvm_start_info *)(uintptr_t)paddr;
        struct guest_mm *mm = &guest.mm;

        guest.start_info_paddr = paddr;
        if (!phys_readable(paddr, sizeof(*si)) || si->magic != HVM_START_MAGIC_VALUE)
                return -EINVAL;
        guest.start_info_valid = true;

        if (phys_readable(si->cmdline_paddr, 1)) {
                const char *s = (const char *)(uintptr_t)si->cmdline_paddr;
                size_t n = guest_strnlen(s, MIN(GUEST_CMDLINE_MAX - 1, 0x100000000ull - si->cmdline_paddr));
                memcpy(guest.cmdline, s, n);
                guest.cmdline[n] = 0;
        }

        guest.rsdp_hint = si->rsdp_paddr;

        if (si->version >= 1 && si->memmap_entries &&
            phys_readable(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry))) {
                const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)si->memmap_paddr;

                for (uint32_t i = 0; i < si->memmap_entries && mm->region_count < GUEST_MEMMAP_MAX; i++)
                        mm->regions[mm->region_count++] = (struct guest_mem_region){
                                .addr = e[i].addr, .size = e[i].size, .type = e[i].type,
                        };
        }

        if (si->nr_modules &&
            phys_readable(si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(struct hvm_modlist_entry))) {
                const struct hvm_modlist_entry *m = (const void *)(uintptr_t)si->modlist_paddr;

                for (uint32_t i = 0; i < si->nr_modules && mm->module_count < GUEST_MODULES_MAX; i++)
                        mm->modules[mm->module_count++] = (struct guest_module){
                                .paddr = m[i].paddr, .size = m[i].size,
                        };
        }
        return 0;
}

static void cmdline_parse(void)
{
        char *p = guest.cmdline_words;

        memcpy(guest.cmdline_words, guest.cmdline, sizeof(guest.cmdline_words));
        while (*p && guest.cmdline_argc < GUEST_CMDLINE_ARGS) {
                while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                        *p++ = 0;
                if (!*p)
                        break;
                char *key = p, *value = NULL;
                while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                        if (*p == '=' && !value) {
                                *p = 0;
                                value = p + 1;
                        }
                        p++;
                }
                if (*p)
                        *p++ = 0;
                guest.cmdline_args[guest.cmdline_argc].key = key;
                guest.cmdline_args[guest.cmdline_argc].value = value ? value : "";
                guest.cmdline_argc++;
        }
}

const char *guest_cmdline_get_str(const char *key, const char *def)
{
        for (unsigned i = guest.cmdline_argc; i > 0; i--)
                if (guest_strcmp(guest.cmdline_args[i - 1].key, key) == 0)
                        return guest.cmdline_args[i - 1].value;
        return def;
}

uint64_t guest_cmdline_get_u64(const char *key, uint64_t def)
{
        const char *s = guest_cmdline_get_str(key, NULL);
        uint64_t v;

        if (!s || guest_parse_u64(s, guest_strlen(s), &v) < 0)
                return def;
        return v;
}

static void topology_setup(void)
{
        guest.acpi_error = guest_acpi_init(&guest.acpi, &guest.topo, guest.rsdp_hint);
        if (guest.topo.cpu_count == 0 && guest_mptable_init(&guest.topo) < 0)
                guest_topology_default(&guest.topo, guest.cpus[0].apic_id);
        if (guest.topo.ioapic_count == 0) {
                guest.topo.ioapic_count = 1;
                guest.topo.ioapics[0] = (struct guest_ioapic_info){ .address = PLATFORM_IOAPIC_BASE };
        }
        guest_lapic_setup(guest.topo.lapic_base);
}

static void timer_irq(struct guest_regs *regs, void *data)
{
        guest_this_cpu()->timer_ticks++;
        guest_lapic_eoi();
}

static void lapic_error_irq(struct guest_regs *regs, void *data)
{
        guest_printf("vmguest: LAPIC error interrupt on cpu %u\n", guest_this_cpu()->index);
        guest_lapic_eoi();
}

static void uart_irq(struct guest_regs *regs, void *data)
{
        guest_uart_irq(data);
        guest_lapic_eoi();
}

int guest_platform_init(void)
{
        uint32_t bsp;
        int r;

        guest_pic_disable();
        guest_lapic_init_cpu();
        bsp = guest.cpus[0].apic_id = guest_lapic_id();
        guest_irq_register(GUEST_VEC_TIMER, timer_irq, NULL);
        guest_irq_register(GUEST_VEC_LAPIC_ERROR, lapic_error_irq, NULL);

        r = guest_irq_route_isa(PLATFORM_IRQ_COM1, false, bsp, uart_irq, &guest.console.uart);
        if (r >= 0)
                guest_uart_enable_rx(&guest.console.uart);
        else
                guest_printf("vmguest: cannot route the COM1 interrupt: %d\n", r);

        r = guest_power_button_init();
        if (r < 0)
                guest_printf("vmguest: no ACPI power button (%s)\n",
                             !guest.acpi.present ? "no ACPI" :
                             guest.acpi.hw_reduced ? "hardware-reduced ACPI" : "no PM1 blocks in the FADT");

        guest_irq_enable();
        return 0;
}

static void banner(void)
{
        guest_printf("vmguest " GUEST_VERSION ": %u vCPU%s, %lu MiB, %s\n", guest.topo.cpu_count,
                     guest.topo.cpu_count == 1 ? "" : "s", (unsigned long)guest_mem_mib(),
                     guest.native ? "native mode (PVM)" : "ring-0 mode");
        if (!guest.start_info_valid)
                guest_printf("vmguest: no valid PVH start_info at %#lx\n", (unsigned long)guest.start_info_paddr);
}

void guest_main(uint32_t start_info)
{
        const struct guest_scenario *s;
        const char *name;
        int r;

        guest.main_tsc = guest_rdtsc();
        boot_cpu_setup();
        guest.native = guest_boot.native != 0;
        guest.code_selector = guest.native ? GUEST_NATIVE_CS : GUEST_KERNEL_CS;
        guest_idt_init(guest.code_selector);
        guest_idt_load();
        cpuid_setup();
        guest_time_init();
        guest.main_ns = guest_time_ns();

        start_info_parse(start_info);
        guest_console_init(&guest.console, PLATFORM_PORT_COM1);
        cmdline_parse();
        guest_mm_init();
        topology_setup();
        banner();

        /* No scenario named: serve the integration services until shut down (scenarios/ic.c). */
        name = guest.scenario_name = guest_cmdline_get_str("scenario", "ic");
        s = guest_scenario_find(name);
        if (!s) {
                guest_printf("vmguest: unknown scenario \"%s\"; known:", name);
                for (size_t i = 0; i < guest_scenario_count; i++)
                        guest_printf(" %s", guest_scenarios[i].name);
                guest_printf("\n");
                guest_report_result(REPORT_STATUS_FAIL, "unknown-scenario");
                guest_poweroff();
        }
        guest.scenario = s;

        if (s->flags & GUEST_SCENARIO_PLATFORM)
                guest_platform_init();

        guest.ready_ns = guest_time_ns();
        guest.ready_tsc = guest_rdtsc();
        guest_report_ready();

        r = s->run();
        if (r == GUEST_SCENARIO_SKIP)
                guest_report_result(REPORT_STATUS_SKIP, NULL);
        else if (r < 0 || guest.expect_failures)
                guest_report_result(REPORT_STATUS_FAIL, NULL);
        else
                guest_report_result(REPORT_STATUS_PASS, NULL);
        guest_poweroff();
}
