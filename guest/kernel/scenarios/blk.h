/* SPDX-License-Identifier: MIT */
/*
 * What the blk scenarios share (blk_env.c): choosing the disk, the command-line options,
 * starting the APs that drive the queues, running one worker per CPU, and the sector pattern of
 * blk-verify.
 *
 * The pattern, for host tests that check the image file: sector `lba` (512 bytes) holds 64
 * little-endian 64-bit words; word 0 = lba, word 1 = seed, word i (2..63) = base + i modulo 2^64
 * where base = (lba * 0x9e3779b97f4a7c15) XOR (seed * 0xc2b2ae3d27d4eb4f), modulo 2^64.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/virtio_blk.h"

#define BLK_PATTERN_K1 0x9e3779b97f4a7c15ull
#define BLK_PATTERN_K2 0xc2b2ae3d27d4eb4full
#define BLK_SECTOR_WORDS (VIRTIO_BLK_SECTOR_SIZE / 8)

static inline uint64_t blk_pattern_base(uint64_t lba, uint64_t seed)
{
        return (lba * BLK_PATTERN_K1) ^ (seed * BLK_PATTERN_K2);
}

void blk_pattern_fill(void *buf, uint64_t lba, uint32_t sectors, uint64_t seed);
/* Index of the first differing word of sector lba in buf, or -1 when it matches. */
int blk_pattern_check(const void *buf, uint64_t lba, uint64_t seed, uint64_t *ret_got, uint64_t *ret_want);

enum blk_want {
        BLK_WANT_RW,            /* a writable disk */
        BLK_WANT_RO,            /* a read-only disk */
        BLK_WANT_ANY,
};

struct blk_env {
        struct guest_blk *b;
        struct guest_blk_opts opts;
        unsigned ncpus;                                 /* workers: one per CPU driving queues */
        unsigned cpu_slot[GUEST_BLK_MAX_QUEUES];        /* worker k runs on guest.cpus[cpu_slot[k]] */
        bool vmms;                                      /* ACPI OEM id "VMMS": running on vmwp */
        bool backstop;                                  /* 100 Hz LAPIC timer while waiting for interrupts */
};

#define BLK_QUEUES_PER_CPU 0u      /* default_queues: one queue per vCPU */

/*
 * Probe, pick the disk (disk=N, else the first that fits `want`), read the options
 * (queues=N|cpus, default default_queues, at most the device's virtqueues; blk_poll=0|1,
 * qsize=N, indirect=auto|0|1|direct, event_idx=0|1, seg_bytes=N, spin_us=N, smp=0|1), start
 * the APs that the queues need and the device. Reports what it found as info lines. Returns 0,
 * GUEST_SCENARIO_SKIP (no such disk) or -errno (already reported).
 */
int blk_env_init(struct blk_env *e, enum blk_want want, bool default_poll, unsigned default_queues);
/* One info line about the started device. */
void blk_env_describe(const struct blk_env *e);

/*
 * Run fn(args[k]) for each worker k < ncpus (worker 0 is the BSP, here); returns when all are
 * done or after timeout_ms (-ETIMEDOUT). Worker k drives the queues i with i % ncpus == k.
 */
int blk_env_run(struct blk_env *e, void (*fn)(void *), void *const *args, uint64_t timeout_ms);
/* Workers call these around their loop: the interrupt backstop timer on APs. */
void blk_worker_enter(const struct blk_env *e);
void blk_worker_leave(const struct blk_env *e);

/* The queues of worker k. */
unsigned blk_env_queues_of(const struct blk_env *e, unsigned k, struct guest_blk_queue **ret);

/* A simple generator for offsets. */
static inline uint64_t blk_rand(uint64_t *state)
{
        uint64_t x = *state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *state = x;
}
