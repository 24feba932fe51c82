/* SPDX-License-Identifier: MIT */
/*
 * Timekeeping: kvmclock when the KVM CPUID leaf 0x40000001 offers it (one wrmsr per CPU, then
 * reads are plain memory + rdtsc), else the TSC calibrated against the PIT (channel 0, latched reads).
 * guest_time_ns() is monotonic nanoseconds; with kvmclock it counts from VM creation.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct guest_time {
        const char *source;     /* "kvmclock" or "tsc" */
        bool kvmclock;
        uint64_t tsc_hz;
        uint64_t tsc_base;      /* TSC at calibration (tsc source) */
        uint32_t tsc_mul;       /* ns = ((tsc - base) * mul) >> 32 ... */
        int8_t tsc_shift;       /* ... after << shift (>> -shift) */
};

int guest_time_init(void);
/* kvmclock on the calling AP (no-op without kvmclock). */
int guest_time_init_cpu(void);
uint64_t guest_time_ns(void);
void guest_delay_us(uint64_t us);
/* A TSC interval in nanoseconds (0 without a known TSC rate). */
uint64_t guest_tsc_to_ns(uint64_t delta);
