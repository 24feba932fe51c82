/* SPDX-License-Identifier: MIT */
#include <abi/platform.h>
#include <abi/report.h>

#include "kernel/apic.h"
#include "kernel/kernel.h"
#include "kernel/power.h"
#include "kernel/report.h"
#include "kernel/time.h"

#define SLEEP_CTL_SLP_TYP_SHIFT 2
#define SLEEP_CTL_SLP_EN        (1u << 5)
#define I8042_STATUS_IBF        0x02

static const char *const reset_names[_GUEST_RESET_MAX] = {
        [GUEST_RESET_CF9] = "cf9",
        [GUEST_RESET_I8042] = "i8042",
        [GUEST_RESET_ACPI] = "acpi",
        [GUEST_RESET_TRIPLE_FAULT] = "triple-fault",
};

const char *guest_reset_method_to_string(enum guest_reset_method m)
{
        return m < _GUEST_RESET_MAX ? reset_names[m] : NULL;
}

int guest_reset_method_from_string(const char *s, enum guest_reset_method *ret)
{
        for (unsigned i = 0; i < _GUEST_RESET_MAX; i++)
                if (guest_strcmp(s, reset_names[i]) == 0) {
                        *ret = (enum guest_reset_method)i;
                        return 0;
                }
        return -EINVAL;
}

/* Give a write that should end the VM a moment to take effect. */
static void settle(void)
{
        if (guest.time.source)
                guest_delay_us(100000);
        else
                for (volatile unsigned i = 0; i < 10000000; i++)
                        guest_cpu_relax();
}

void guest_poweroff(void)
{
        const struct guest_acpi *a = &guest.acpi;
        uint8_t typ_a = a->s5_found ? a->slp_typa : PLATFORM_SLP_TYP_S5;
        uint8_t typ_b = a->s5_found ? a->slp_typb : PLATFORM_SLP_TYP_S5;

        guest_irq_disable();
        if (a->present && !a->hw_reduced && a->pm1a_cnt) {
                uint16_t cnt = guest_inw(a->pm1a_cnt) & ~PM1_CNT_SLP_TYP_MASK;

                if (a->pm1b_cnt)
                        guest_outw(a->pm1b_cnt, (uint16_t)(cnt | (typ_b << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN));
                guest_outw(a->pm1a_cnt, (uint16_t)(cnt | (typ_a << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN));
                settle();
                guest_printf("vmguest: ACPI S5 through PM1a_CNT %#x (SLP_TYP %u) did not power off\n", a->pm1a_cnt,
                             typ_a);
        } else if (a->present && a->sleep_ctl.address) {
                guest_gas_write(&a->sleep_ctl, ((uint64_t)(typ_a & 7) << SLEEP_CTL_SLP_TYP_SHIFT) | SLEEP_CTL_SLP_EN);
                settle();
                guest_printf("vmguest: ACPI S5 through the sleep control register did not power off\n");
        } else {
                guest_printf("vmguest: no ACPI power-off method (no FADT PM1a_CNT or sleep control register)\n");
        }
        guest_report_info("poweroff=failed");
        guest_cpu_halt_forever();
}

static bool try_reset(enum guest_reset_method m)
{
        const struct guest_acpi *a = &guest.acpi;

        switch (m) {
        case GUEST_RESET_CF9:
                guest_outb(PLATFORM_PORT_RESET, PLATFORM_RESET_CF9_VALUE);
                return true;
        case GUEST_RESET_I8042:
                for (unsigned i = 0; i < 1000 && (guest_inb(PLATFORM_PORT_I8042_CMD) & I8042_STATUS_IBF); i++)
                        guest_cpu_relax();
                guest_outb(PLATFORM_PORT_I8042_CMD, PLATFORM_I8042_CMD_RESET);
                return true;
        case GUEST_RESET_ACPI:
                if (!a->present || !a->reset_supported || !a->reset_reg.address)
                        return false;
                return guest_gas_write(&a->reset_reg, a->reset_value) == 0;
        case GUEST_RESET_TRIPLE_FAULT:
                guest_triple_fault();
        default:
                return false;
        }
}

void guest_reboot(enum guest_reset_method method)
{
        guest_irq_disable();
        for (unsigned i = 0; i <= _GUEST_RESET_MAX; i++) {
                enum guest_reset_method m = i == 0 ? method : (enum guest_reset_method)(i - 1);

                if (i > 0 && m == method)
                        continue;
                if (m == GUEST_RESET_TRIPLE_FAULT)
                        guest_report_info("reset_method=triple-fault");
                if (!try_reset(m)) {
                        guest_report_info("reset_method=%s status=unavailable", reset_names[m]);
                        continue;
                }
                settle();
                guest_report_info("reset_method=%s status=failed", reset_names[m]);
        }
        guest_cpu_halt_forever();
}

void guest_triple_fault(void)
{
        /* An empty IDT: the #UD cannot be delivered, nor the #DF that follows: shutdown. */
        struct guest_dtr empty = { .limit = 0, .base = 0 };

        guest_irq_disable();
        guest_lidt(&empty);
        __asm__ volatile("ud2");
        guest_cpu_halt_forever();
}

static uint16_t pm1_en_port(const struct guest_acpi *a)
{
        return (uint16_t)(a->pm1a_evt + (a->pm1_evt_len ? a->pm1_evt_len / 2 : PLATFORM_PM1_EVT_LEN / 2));
}

static void sci_irq(struct guest_regs *regs, void *data)
{
        const struct guest_acpi *a = &guest.acpi;
        uint16_t sts = guest_inw(a->pm1a_evt);

        if (sts & PM1_STS_PWRBTN) {
                guest_outw(a->pm1a_evt, PM1_STS_PWRBTN);        /* write 1 to clear */
                guest_lapic_eoi();
                guest.power.button_presses++;
                if (guest.power.button_ignored) {
                        guest_report_info("event=power-button ignored=1");
                        return;
                }
                guest_report_info("event=power-button");
                if (guest.scenario && (guest.scenario->flags & GUEST_SCENARIO_POWER_BUTTON_PASS))
                        guest_report_result(REPORT_STATUS_PASS, NULL);
                guest_printf("vmguest: power button pressed, powering off\n");
                guest_poweroff();
        }
        guest_lapic_eoi();
}

int guest_power_button_init(void)
{
        const struct guest_acpi *a = &guest.acpi;
        struct guest_power *p = &guest.power;
        uint16_t cnt;
        int r;

        if (!a->present || a->hw_reduced || !a->pm1a_evt || !a->pm1a_cnt)
                return -ENODEV;

        /* Into ACPI mode: through SMI_CMD when the firmware has one, else set SCI_EN directly. */
        cnt = guest_inw(a->pm1a_cnt);
        if (!(cnt & PM1_CNT_SCI_EN) && a->smi_cmd && a->acpi_enable) {
                guest_outb((uint16_t)a->smi_cmd, a->acpi_enable);
                for (unsigned i = 0; i < 1000 && !(cnt & PM1_CNT_SCI_EN); i++)
                        cnt = guest_inw(a->pm1a_cnt);
        }
        if (!(cnt & PM1_CNT_SCI_EN))
                guest_outw(a->pm1a_cnt, cnt | PM1_CNT_SCI_EN);

        r = guest_irq_route_isa(a->sci_irq ? a->sci_irq : PLATFORM_IRQ_SCI, true, guest.cpus[0].apic_id, sci_irq,
                                NULL);
        if (r < 0)
                return r;
        p->sci_gsi = (uint32_t)r;

        /* Clear a stale press, then enable the event. */
        guest_outw(a->pm1a_evt, PM1_STS_PWRBTN);
        guest_outw(pm1_en_port(a), guest_inw(pm1_en_port(a)) | PM1_EN_PWRBTN);
        p->button_enabled = true;
        return 0;
}
