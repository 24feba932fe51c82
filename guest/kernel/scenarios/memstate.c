/* SPDX-License-Identifier: MIT */
/*
 * The memstate scenario, for saved state and migration: the guest must go on as if nothing
 * happened while the host saved it and restored it elsewhere. It fills memstate_mib=
 * (default 32) MiB with an address pattern and runs a periodic LAPIC timer (100 Hz), then
 * for memstate_s= (default 10) seconds of its own time reports a round every 250 ms,
 * "#VMMS info memstate round=N ticks=T", checking a sixteenth of the memory each round.
 * At the end the whole region is checked again and the timer's ticks are compared with the
 * time that passed: at most the ticks the time allows, at least a quarter of them (as the
 * timer scenario checks under emulation). Time the VM spent saved is not its time.
 */
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

#define TICK_HZ 100u
#define ROUND_MS 250u

static volatile uint64_t ticks;

static void tick_irq(struct guest_regs *regs, void *data)
{
        ticks++;
        guest_lapic_eoi();
}

static inline uint64_t pattern(uint64_t addr)
{
        uint64_t x = addr * 0x9e3779b97f4a7c15ull + 0x6d656d7374617465ull;

        return x ^ (x >> 31);
}

/* Check [start, end) of the region; returns the mismatches (the first few reported). */
static uint64_t verify(uint64_t *base, uint64_t start, uint64_t end, uint64_t *reported)
{
        uint64_t bad = 0;

        for (uint64_t i = start; i < end; i++) {
                uint64_t want = pattern((uint64_t)(uintptr_t)&base[i]);

                if (base[i] != want) {
                        if ((*reported)++ < 4)
                                guest_report_info("memstate_error addr=%#lx want=%#lx got=%#lx",
                                                  (unsigned long)(uintptr_t)&base[i], (unsigned long)want,
                                                  (unsigned long)base[i]);
                        bad++;
                }
        }
        return bad;
}

int guest_scenario_memstate(void)
{
        uint64_t bytes = guest_cmdline_get_u64("memstate_mib", 32) << 20;
        uint64_t secs = guest_cmdline_get_u64("memstate_s", 10), words = bytes / 8, reported = 0, bad = 0;
        uint64_t t0, now, next, expected, got, round = 0;
        uint64_t *base;
        int vec, r;

        base = (uint64_t *)(uintptr_t)guest_page_alloc(bytes, 4096);
        if (!base)
                return -ENOMEM;
        for (uint64_t i = 0; i < words; i++)
                base[i] = pattern((uint64_t)(uintptr_t)&base[i]);
        guest_report_info("memstate filled mib=%lu", (unsigned long)(bytes >> 20));
        if (!guest.lapic.timer_hz && (r = guest_lapic_timer_calibrate(100)) < 0)
                return r;
        vec = guest_irq_alloc(tick_irq, NULL);
        if (vec < 0)
                return vec;
        r = guest_lapic_timer_periodic(TICK_HZ, (uint8_t)vec);
        if (r < 0)
                return r;
        t0 = guest_time_ns();
        next = t0 + ROUND_MS * 1000000ull;
        for (;;) {
                guest_cpu_wait();
                now = guest_time_ns();
                if (now < next)
                        continue;
                /* A sixteenth of the memory per round, all of it every 16 rounds. */
                bad += verify(base, words / 16 * (round % 16), words / 16 * (round % 16 + 1), &reported);
                round++;
                guest_report_info("memstate round=%lu ticks=%lu bad=%lu", (unsigned long)round,
                                  (unsigned long)ticks, (unsigned long)bad);
                next = now + ROUND_MS * 1000000ull;
                if (now - t0 >= secs * 1000000000ull)
                        break;
        }
        guest_lapic_timer_stop();
        got = ticks;
        now = guest_time_ns();
        bad += verify(base, 0, words, &reported);
        expected = (now - t0) * TICK_HZ / 1000000000ull;
        guest_report_metric("memstate_rounds", round, "count");
        guest_report_metric("memstate_ticks", got, "count");
        guest_report_metric("memstate_expected_ticks", expected, "count");
        guest_report_metric("memstate_bad_words", bad, "count");
        EXPECT_MSG(bad == 0, "%lu words of the pattern changed", (unsigned long)bad);
        EXPECT_MSG(got * 4 >= expected && got <= expected + expected / 20 + 2,
                   "the timer ticked %lu times in %lu ms of guest time, expected %lu",
                   (unsigned long)got, (unsigned long)((now - t0) / 1000000), (unsigned long)expected);
        return 0;
}
