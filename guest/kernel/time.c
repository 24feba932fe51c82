/* SPDX-License-Identifier: MIT */
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/time.h"

#define KVM_FEATURE_CLOCKSOURCE         (1u << 0)
#define KVM_FEATURE_CLOCKSOURCE2        (1u << 3)
#define MSR_KVM_SYSTEM_TIME             0x12
#define MSR_KVM_SYSTEM_TIME_NEW         0x4b564d01

#define PIT_CH0         0x40
#define PIT_CMD         0x43
#define PIT_HZ          1193182u

static uint64_t scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
        if (shift < 0)
                delta >>= -shift;
        else
                delta <<= shift;
        return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

static uint64_t pvclock_read(const volatile struct guest_pvclock *p)
{
        uint32_t version;
        uint64_t ns;

        do {
                version = p->version;
                guest_barrier();
                uint64_t delta = guest_rdtsc() - p->tsc_timestamp;
                ns = p->system_time + scale_delta(delta, p->tsc_to_system_mul, p->tsc_shift);
                guest_barrier();
        } while ((version & 1) || version != p->version);
        return ns;
}

static uint32_t kvmclock_msr(void)
{
        if (!guest.cpuid.kvm)
                return 0;
        if (guest.cpuid.hv_features & KVM_FEATURE_CLOCKSOURCE2)
                return MSR_KVM_SYSTEM_TIME_NEW;
        if (guest.cpuid.hv_features & KVM_FEATURE_CLOCKSOURCE)
                return MSR_KVM_SYSTEM_TIME;
        return 0;
}

int guest_time_init_cpu(void)
{
        struct guest_cpu *cpu = guest_this_cpu();
        uint32_t msr = kvmclock_msr();

        if (!guest.time.kvmclock || !msr)
                return 0;
        guest_wrmsr(msr, (uint64_t)(uintptr_t)&cpu->pvclock | 1);
        cpu->pvclock_enabled = true;
        return 0;
}

/* mul/shift such that ns = ((delta << shift) * mul) >> 32 for a clock of hz; mul < 2^32. */
static void compute_scale(uint64_t hz, uint32_t *ret_mul, int8_t *ret_shift)
{
        int8_t shift = 0;

        while (hz <= 1000000000ull) {
                hz <<= 1;
                shift++;
        }
        *ret_mul = (uint32_t)((1000000000ull << 32) / hz);
        *ret_shift = shift;
}

static uint16_t pit_read_ch0(void)
{
        uint8_t lo, hi;

        guest_outb(PIT_CMD, 0x00);      /* latch channel 0 */
        lo = guest_inb(PIT_CH0);
        hi = guest_inb(PIT_CH0);
        return (uint16_t)(lo | (hi << 8));
}

/*
 * TSC rate from PIT channel 0 read back through the latch command: needs nothing but ports
 * 0x40/0x43 (no speaker gate at 0x61, which QEMU microvm lacks). Channel 0 is left in mode 0,
 * which raises IRQ0 once at most; the PIC and IOAPIC keep it masked.
 */
static int pit_calibrate_tsc(uint64_t *ret_hz)
{
        const uint32_t target = PIT_HZ / 100;   /* 10 ms */
        uint32_t elapsed = 0;
        uint16_t prev, cur;
        uint64_t t0, t1;
        unsigned polls = 0, same = 0;

        guest_outb(PIT_CMD, 0x34);              /* ch0, lo/hi, mode 2, binary */
        guest_outb(PIT_CH0, 0);
        guest_outb(PIT_CH0, 0);                 /* 65536 */
        prev = pit_read_ch0();
        t0 = guest_rdtsc();
        while (elapsed < target) {
                cur = pit_read_ch0();
                if (cur == prev) {
                        if (++same > 100000)
                                return -ENODEV;         /* not counting: no PIT */
                } else {
                        same = 0;
                }
                elapsed += (uint16_t)(prev - cur);
                prev = cur;
                if (++polls > 10000000)
                        return -ETIMEDOUT;
        }
        t1 = guest_rdtsc();
        guest_outb(PIT_CMD, 0x30);              /* ch0, lo/hi, mode 0 */
        guest_outb(PIT_CH0, 1);
        guest_outb(PIT_CH0, 0);
        if (t1 <= t0)
                return -EIO;
        *ret_hz = (t1 - t0) * PIT_HZ / elapsed;
        return 0;
}

int guest_time_init(void)
{
        struct guest_time *t = &guest.time;
        struct guest_cpu *cpu = guest_this_cpu();
        uint64_t hz;
        int r;

        if (kvmclock_msr()) {
                t->kvmclock = true;
                guest_time_init_cpu();
                /* Wait for the host's first update, then derive the TSC rate from its scale. */
                for (unsigned i = 0; i < 1000000 && cpu->pvclock.tsc_to_system_mul == 0; i++)
                        guest_cpu_relax();
                if (cpu->pvclock.tsc_to_system_mul) {
                        hz = (1000000000ull << 32) / cpu->pvclock.tsc_to_system_mul;
                        if (cpu->pvclock.tsc_shift > 0)
                                hz >>= cpu->pvclock.tsc_shift;
                        else
                                hz <<= -cpu->pvclock.tsc_shift;
                        t->tsc_hz = hz;
                        t->source = "kvmclock";
                        return 0;
                }
                t->kvmclock = false;
                cpu->pvclock_enabled = false;
        }

        r = pit_calibrate_tsc(&hz);
        if (r < 0)
                return r;
        t->tsc_hz = hz;
        t->tsc_base = guest_rdtsc();
        compute_scale(hz, &t->tsc_mul, &t->tsc_shift);
        t->source = "tsc";
        return 0;
}

uint64_t guest_time_ns(void)
{
        struct guest_cpu *cpu = guest_this_cpu();
        const struct guest_time *t = &guest.time;

        if (cpu->pvclock_enabled)
                return pvclock_read(&cpu->pvclock);
        if (t->kvmclock)        /* an AP without its own kvmclock page: borrow the BSP's */
                return pvclock_read(&guest.cpus[0].pvclock);
        if (!t->tsc_hz)
                return 0;
        return scale_delta(guest_rdtsc() - t->tsc_base, t->tsc_mul, t->tsc_shift);
}

void guest_delay_us(uint64_t us)
{
        uint64_t end = guest_time_ns() + us * 1000;

        while (guest_time_ns() < end)
                guest_cpu_relax();
}

uint64_t guest_tsc_to_ns(uint64_t delta)
{
        uint64_t khz = guest.time.tsc_hz / 1000;

        return khz ? delta * 1000000 / khz : 0;
}
