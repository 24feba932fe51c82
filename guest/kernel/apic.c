/* SPDX-License-Identifier: MIT */
#include <abi/platform.h>

#include "kernel/apic.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/kernel.h"
#include "kernel/time.h"

#define MSR_APIC_BASE           0x1b
#define APIC_BASE_EXTD          (1u << 10)
#define APIC_BASE_EN            (1u << 11)
#define MSR_X2APIC_BASE         0x800

#define LAPIC_ID                0x020
#define LAPIC_TPR               0x080
#define LAPIC_EOI               0x0b0
#define LAPIC_SVR               0x0f0
#define LAPIC_ESR               0x280
#define LAPIC_ICR_LO            0x300
#define LAPIC_ICR_HI            0x310
#define LAPIC_LVT_TIMER         0x320
#define LAPIC_LVT_LINT0         0x350
#define LAPIC_LVT_LINT1         0x360
#define LAPIC_LVT_ERROR         0x370
#define LAPIC_TIMER_INIT        0x380
#define LAPIC_TIMER_CUR         0x390
#define LAPIC_TIMER_DIV         0x3e0

#define LAPIC_SVR_ENABLE        0x100u
#define LAPIC_LVT_MASKED        (1u << 16)
#define LAPIC_LVT_NMI           (4u << 8)
#define LAPIC_TIMER_PERIODIC    (1u << 17)
#define LAPIC_TIMER_DIV_16      0x3u
#define LAPIC_ICR_BUSY          (1u << 12)

#define CPUID1_ECX_X2APIC       (1u << 21)

#define PIC1_DATA               0x21
#define PIC2_DATA               0xa1

static uint32_t lapic_read(unsigned reg)
{
        if (guest.lapic.x2apic)
                return (uint32_t)guest_rdmsr(MSR_X2APIC_BASE + (reg >> 4));
        return guest_mmio_read32(guest.lapic.mmio_base + reg);
}

static void lapic_write(unsigned reg, uint32_t v)
{
        if (guest.lapic.x2apic)
                guest_wrmsr(MSR_X2APIC_BASE + (reg >> 4), v);
        else
                guest_mmio_write32(guest.lapic.mmio_base + reg, v);
}

int guest_lapic_init_cpu(void)
{
        struct guest_lapic *l = &guest.lapic;
        uint64_t base = guest_rdmsr(MSR_APIC_BASE);

        if (l->x2apic) {
                if ((base & (APIC_BASE_EN | APIC_BASE_EXTD)) != (APIC_BASE_EN | APIC_BASE_EXTD)) {
                        if (!(base & APIC_BASE_EN))
                                guest_wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
                        guest_wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
                }
        } else if (!(base & APIC_BASE_EN)) {
                guest_wrmsr(MSR_APIC_BASE, base | APIC_BASE_EN);
        }

        lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | GUEST_VEC_SPURIOUS);
        lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
        lapic_write(LAPIC_LVT_LINT1, LAPIC_LVT_NMI);
        lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | GUEST_VEC_TIMER);
        lapic_write(LAPIC_LVT_ERROR, GUEST_VEC_LAPIC_ERROR);
        lapic_write(LAPIC_TPR, 0);
        return 0;
}

/* Decide x2APIC vs xAPIC once, on the BSP, from the CPUID snapshot taken before native mode. */
void guest_lapic_setup(uint64_t mmio_base)
{
        struct guest_lapic *l = &guest.lapic;
        const char *mode = guest_cmdline_get_str("apic", NULL);

        l->mmio_base = mmio_base ? mmio_base : PLATFORM_LAPIC_BASE;
        l->x2apic = (guest.boot_cpuid1_ecx & CPUID1_ECX_X2APIC) != 0;
        if (mode && guest_strcmp(mode, "xapic") == 0)
                l->x2apic = false;
}

uint32_t guest_lapic_id(void)
{
        if (guest.lapic.x2apic)
                return (uint32_t)guest_rdmsr(MSR_X2APIC_BASE + (LAPIC_ID >> 4));
        return guest_mmio_read32(guest.lapic.mmio_base + LAPIC_ID) >> 24;
}

void guest_lapic_eoi(void)
{
        lapic_write(LAPIC_EOI, 0);
}

int guest_lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
        if (guest.lapic.x2apic) {
                guest_wrmsr(MSR_X2APIC_BASE + (LAPIC_ICR_LO >> 4), ((uint64_t)apic_id << 32) | icr_low);
                return 0;
        }
        if (apic_id > 0xff)
                return -EINVAL;
        guest_mmio_write32(guest.lapic.mmio_base + LAPIC_ICR_HI, apic_id << 24);
        guest_mmio_write32(guest.lapic.mmio_base + LAPIC_ICR_LO, icr_low);
        for (unsigned i = 0; i < 100000; i++) {
                if (!(guest_mmio_read32(guest.lapic.mmio_base + LAPIC_ICR_LO) & LAPIC_ICR_BUSY))
                        return 0;
                guest_cpu_relax();
        }
        return -ETIMEDOUT;
}

/* Read the timer count and the time around it; the time is the midpoint of the two reads. */
static uint32_t timer_sample(uint64_t *ret_ns)
{
        uint64_t a = guest_time_ns();
        uint32_t c = lapic_read(LAPIC_TIMER_CUR);
        uint64_t b = guest_time_ns();

        *ret_ns = a + (b - a) / 2;
        return c;
}

int guest_lapic_timer_calibrate(unsigned ms)
{
        uint64_t t0, t1;
        uint32_t c0, c1;

        if (ms == 0)
                return -EINVAL;
        lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
        lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | GUEST_VEC_TIMER);
        lapic_write(LAPIC_TIMER_INIT, UINT32_MAX);
        c0 = timer_sample(&t0);
        while (guest_time_ns() < t0 + (uint64_t)ms * 1000000)
                guest_cpu_relax();
        c1 = timer_sample(&t1);
        lapic_write(LAPIC_TIMER_INIT, 0);

        if (c1 >= c0 || t1 <= t0)
                return -EIO;
        guest.lapic.timer_hz = (uint32_t)((uint64_t)(c0 - c1) * 1000000000ull / (t1 - t0));
        return guest.lapic.timer_hz ? 0 : -EIO;
}

int guest_lapic_timer_periodic(uint32_t hz, uint8_t vector)
{
        if (!guest.lapic.timer_hz || hz == 0 || hz > guest.lapic.timer_hz)
                return -EINVAL;
        lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
        lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | vector);
        lapic_write(LAPIC_TIMER_INIT, guest.lapic.timer_hz / hz);
        return 0;
}

int guest_lapic_timer_oneshot_ns(uint64_t ns, uint8_t vector)
{
        uint64_t count;

        if (!guest.lapic.timer_hz)
                return -EINVAL;
        count = ns * guest.lapic.timer_hz / 1000000000ull;
        if (count == 0)
                count = 1;
        if (count > UINT32_MAX)
                return -ERANGE;
        lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
        lapic_write(LAPIC_LVT_TIMER, vector);
        lapic_write(LAPIC_TIMER_INIT, (uint32_t)count);
        return 0;
}

void guest_lapic_timer_stop(void)
{
        lapic_write(LAPIC_TIMER_INIT, 0);
        lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | GUEST_VEC_TIMER);
}

uint32_t guest_lapic_timer_current(void)
{
        return lapic_read(LAPIC_TIMER_CUR);
}

void guest_pic_disable(void)
{
        /* OCW1: mask every input of both 8259s. LINT0 is masked too, so nothing gets through. */
        guest_outb(PIC1_DATA, 0xff);
        guest_outb(PIC2_DATA, 0xff);
}
