/* SPDX-License-Identifier: MIT */
/* Basic scenarios: hello, poweroff, panic, fault. */
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

/* verbose=1: what the kernel learned from the boot information, for the host side's tests. */
static void hello_verbose(void)
{
        const struct guest_mm *mm = &guest.mm;
        const struct guest_topology *t = &guest.topo;
        const struct guest_acpi *a = &guest.acpi;

        guest_report_info("start_info=%#lx valid=%u rsdp_hint=%#lx", (unsigned long)guest.start_info_paddr,
                          guest.start_info_valid, (unsigned long)guest.rsdp_hint);
        for (unsigned i = 0; i < mm->region_count; i++)
                guest_report_info("memmap=%u addr=%#lx size=%#lx type=%u", i, (unsigned long)mm->regions[i].addr,
                                  (unsigned long)mm->regions[i].size, mm->regions[i].type);
        guest_report_info("kernel_start=%#lx kernel_end=%#lx alloc_next=%#lx trampoline=%#x boot_stack=%#lx",
                          (unsigned long)(uintptr_t)_kernel_start, (unsigned long)(uintptr_t)_kernel_end,
                          (unsigned long)mm->alloc_next, GUEST_TRAMPOLINE_ADDR,
                          (unsigned long)(uintptr_t)guest_boot_stack);
        guest_report_info("acpi_present=%u acpi_error=%d rsdp=%#lx revision=%u tables=%u", a->present, guest.acpi_error,
                          (unsigned long)a->rsdp, a->revision, a->table_count);
        if (a->fadt)
                guest_report_info("fadt=1 hw_reduced=%u sci_irq=%u smi_cmd=%#x acpi_enable=%#x pm1a_evt=%#x "
                                  "pm1_evt_len=%u pm1a_cnt=%#x pm1b_cnt=%#x sleep_ctl=%#lx reset_reg=%#lx/%u "
                                  "reset_value=%#x",
                                  a->hw_reduced, a->sci_irq, a->smi_cmd, a->acpi_enable, a->pm1a_evt, a->pm1_evt_len,
                                  a->pm1a_cnt, a->pm1b_cnt, (unsigned long)a->sleep_ctl.address,
                                  (unsigned long)a->reset_reg.address, a->reset_reg.space, a->reset_value);
        guest_report_info("dsdt=%#lx s5_found=%u slp_typa=%u slp_typb=%u", (unsigned long)a->dsdt, a->s5_found,
                          a->slp_typa, a->slp_typb);
        if (a->ecam_base)
                guest_report_info("mcfg_base=%#lx segment=%u bus_start=%u bus_end=%u", (unsigned long)a->ecam_base,
                                  a->ecam_segment, a->ecam_bus_start, a->ecam_bus_end);
        guest_report_info("topology=%s lapic_base=%#lx pic=%u x2apic=%u", t->source, (unsigned long)t->lapic_base,
                          t->pic_present, guest.lapic.x2apic);
        for (unsigned i = 0; i < t->cpu_count; i++)
                guest_report_info("cpu=%u apic_id=%u", i, t->cpu_apic_ids[i]);
        for (unsigned i = 0; i < t->ioapic_count; i++)
                guest_report_info("ioapic=%u id=%u addr=%#lx gsi_base=%u", i, t->ioapics[i].id,
                                  (unsigned long)t->ioapics[i].address, t->ioapics[i].gsi_base);
        for (unsigned i = 0; i < t->iso_count; i++)
                guest_report_info("iso irq=%u gsi=%u flags=%#x", t->isos[i].bus_irq, t->isos[i].gsi, t->isos[i].flags);
}

int guest_scenario_hello(void)
{
        const struct guest_mm *mm = &guest.mm;

        guest_report_info("vcpus=%u mem_mib=%lu native=%s hypervisor=%s time=%s topology=%s acpi=%s",
                          guest.topo.cpu_count, (unsigned long)guest_mem_mib(), guest.native ? "yes" : "no",
                          guest.cpuid.hv_signature[0] ? guest.cpuid.hv_signature : "none",
                          guest.time.source ? guest.time.source : "none", guest.topo.source,
                          guest.acpi.present ? guest.acpi.oem_id : "none");
        guest_report_info("cmdline=%s", guest.cmdline);
        if (guest_cmdline_get_u64("verbose", 0))
                hello_verbose();
        for (unsigned i = 0; i < mm->module_count; i++)
                guest_report_info("module=%u addr=%#lx size=%lu", i, (unsigned long)mm->modules[i].paddr,
                                  (unsigned long)mm->modules[i].size);
        /* From the PVH entry: the emulated part (up to native mode), to guest_main, to "ready". */
        guest_report_metric("boot_emulated_time", guest_tsc_to_ns(guest_boot.native_tsc - guest_boot.entry_tsc), "ns");
        guest_report_metric("entry_to_main_time", guest_tsc_to_ns(guest.main_tsc - guest_boot.entry_tsc), "ns");
        guest_report_metric("entry_to_ready_time", guest_tsc_to_ns(guest.ready_tsc - guest_boot.entry_tsc) / 1000, "us");
        if (guest.time.kvmclock) {
                /* kvmclock counts from VM creation: these are boot times as the guest sees them. */
                guest_report_metric("guest_main_time", guest.main_ns / 1000, "us");
                guest_report_metric("ready_time", guest.ready_ns / 1000, "us");
        }
        return 0;
}

int guest_scenario_poweroff(void)
{
        return 0;
}

int guest_scenario_panic(void)
{
        ASSERT(0);
        return 0;
}

int guest_scenario_fault(void)
{
        /* PML4 slot 128 is never mapped. */
        volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x400000000000ull;

        guest_report_info("fault=page-fault addr=%#lx", (unsigned long)(uintptr_t)p);
        *p = 0x1234;
        return -EFAULT;
}
