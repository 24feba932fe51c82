/* SPDX-License-Identifier: MIT */
/*
 * The timer scenario: run the LAPIC timer periodically (timer_hz=, default 1000) for
 * timer_ms= (default 200) and compare the number of interrupts with the elapsed time on
 * kvmclock (or the PIT-calibrated TSC). Passes within 5% (+/- 2 ticks).
 */
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

int guest_scenario_timer(void)
{
        struct guest_cpu *cpu = guest_this_cpu();
        uint64_t hz = guest_cmdline_get_u64("timer_hz", 1000);
        uint64_t ms = guest_cmdline_get_u64("timer_ms", 200);
        uint64_t t0, t1, tsc0, tsc1, ticks0, ticks1, got, expected, elapsed, tol, tsc_hz;
        int r;

        if (hz == 0 || hz > 100000 || ms == 0 || ms > 60000) {
                guest_report_assert(GUEST_FILE, __LINE__, "bad timer_hz=%lu or timer_ms=%lu", (unsigned long)hz,
                                    (unsigned long)ms);
                return -EINVAL;
        }
        r = guest_lapic_timer_calibrate(10);
        if (r < 0) {
                guest_report_assert(GUEST_FILE, __LINE__, "LAPIC timer calibration failed: %d", r);
                return r;
        }
        guest_report_metric("lapic_timer_hz", guest.lapic.timer_hz, "Hz");

        guest_irq_disable();
        ticks0 = cpu->timer_ticks;
        r = guest_lapic_timer_periodic((uint32_t)hz, GUEST_VEC_TIMER);
        t0 = guest_time_ns();
        tsc0 = guest_rdtsc();
        if (r < 0) {
                guest_irq_enable();
                return r;
        }
        do
                guest_cpu_wait();
        while (guest_time_ns() - t0 < ms * 1000000);
        t1 = guest_time_ns();
        tsc1 = guest_rdtsc();
        ticks1 = cpu->timer_ticks;
        guest_lapic_timer_stop();
        guest_irq_enable();

        elapsed = t1 - t0;
        got = ticks1 - ticks0;
        expected = elapsed * hz / 1000000000ull;
        tol = expected / 20 + 2;
        tsc_hz = (tsc1 - tsc0) * 1000000000ull / elapsed;

        guest_report_metric("timer_ticks", got, "count");
        guest_report_metric("timer_expected", expected, "count");
        guest_report_metric_milli("timer_rate", got * 1000000000000ull / elapsed, "Hz");
        guest_report_metric("timer_elapsed", elapsed / 1000, "us");
        guest_report_metric("tsc_hz_measured", tsc_hz, "Hz");
        guest_report_info("time_source=%s tsc_hz=%lu", guest.time.source, (unsigned long)guest.time.tsc_hz);

        /* What a clock read costs here (rdtsc may trap on some hosts). */
        tsc0 = guest_rdtsc();
        for (unsigned i = 0; i < 1000; i++)
                (void)guest_time_ns();
        tsc1 = guest_rdtsc();
        guest_report_metric("time_read_cost", guest_tsc_to_ns(tsc1 - tsc0) / 1000, "ns");

        /*
         * A periodic timer never fires early, so more ticks than the clock allows is a bug.
         * Fewer is not: when the host deschedules the vCPU, KVM coalesces the ticks that
         * came due meanwhile, as real hardware drops interrupts that arrive while one is
         * pending. On a loaded host up to half may coalesce.
         */
        EXPECT_MSG(got * 2 >= expected && got <= expected + tol,
                   "LAPIC timer delivered %lu interrupts in %lu us, expected %lu (at most %lu more, at most half lost)",
                   (unsigned long)got, (unsigned long)(elapsed / 1000), (unsigned long)expected, (unsigned long)tol);
        /* The TSC must agree with the time source within 2%. */
        EXPECT_MSG(tsc_hz + guest.time.tsc_hz / 50 >= guest.time.tsc_hz && tsc_hz <= guest.time.tsc_hz + guest.time.tsc_hz / 50,
                   "TSC ran at %lu Hz, time source says %lu Hz", (unsigned long)tsc_hz,
                   (unsigned long)guest.time.tsc_hz);
        return 0;
}
