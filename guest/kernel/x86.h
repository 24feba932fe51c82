/* SPDX-License-Identifier: MIT */
/*
 * Thin wrappers around x86 instructions. In PVM native mode the privileged ones (in/out,
 * rdmsr/wrmsr, cli/sti, hlt, lidt, mov from CR2) trap to the host, about 2 µs each, and port
 * I/O that reaches the VMM about 30 µs: callers keep them out of hot loops.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

static inline void guest_outb(uint16_t port, uint8_t v)
{
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void guest_outw(uint16_t port, uint16_t v)
{
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void guest_outl(uint16_t port, uint32_t v)
{
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t guest_inb(uint16_t port)
{
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
        return v;
}

static inline uint16_t guest_inw(uint16_t port)
{
        uint16_t v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
        return v;
}

static inline uint32_t guest_inl(uint16_t port)
{
        uint32_t v;
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
        return v;
}

static inline uint64_t guest_rdmsr(uint32_t msr)
{
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
        return ((uint64_t)hi << 32) | lo;
}

static inline void guest_wrmsr(uint32_t msr, uint64_t v)
{
        __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t guest_rdtsc(void)
{
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
        return ((uint64_t)hi << 32) | lo;
}

static inline void guest_cpu_relax(void)
{
        __asm__ volatile("pause" : : : "memory");
}

static inline void guest_barrier(void)
{
        __asm__ volatile("" : : : "memory");
}

/*
 * Barriers for memory shared with a device (virtqueues). x86 keeps loads in order and stores in
 * order, so read and write barriers only stop the compiler; a store followed by a load of another
 * location (publish an index, then read the other side's event index) needs a full fence.
 */
static inline void guest_mb(void)
{
        __asm__ volatile("mfence" : : : "memory");
}

static inline void guest_rmb(void)
{
        __asm__ volatile("" : : : "memory");
}

static inline void guest_wmb(void)
{
        __asm__ volatile("" : : : "memory");
}

static inline uint64_t guest_read_cr3(void)
{
        uint64_t v;
        __asm__ volatile("mov %%cr3, %0" : "=r"(v) : : "memory");
        return v;
}

/* Privileged: traps in PVM native mode (about 2 µs); flushes the non-global TLB entries. */
static inline void guest_write_cr3(uint64_t v)
{
        __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void guest_cli(void)
{
        __asm__ volatile("cli" : : : "memory");
}

static inline void guest_sti(void)
{
        __asm__ volatile("sti" : : : "memory");
}

static inline void guest_hlt(void)
{
        __asm__ volatile("hlt" : : : "memory");
}

static inline uint64_t guest_read_cr2(void)
{
        uint64_t v;
        __asm__ volatile("mov %%cr2, %0" : "=r"(v));
        return v;
}

static inline uint64_t guest_read_rsp(void)
{
        uint64_t v;
        __asm__ volatile("mov %%rsp, %0" : "=r"(v));
        return v;
}

static inline uint16_t guest_read_cs(void)
{
        uint16_t v;
        __asm__ volatile("mov %%cs, %0" : "=r"(v));
        return v;
}

struct __attribute__((packed)) guest_dtr {
        uint16_t limit;
        uint64_t base;
};

static inline void guest_lidt(const struct guest_dtr *d)
{
        __asm__ volatile("lidt %0" : : "m"(*d) : "memory");
}

static inline uint32_t guest_mmio_read32(uint64_t addr)
{
        return *(volatile uint32_t *)(uintptr_t)addr;
}

static inline void guest_mmio_write32(uint64_t addr, uint32_t v)
{
        *(volatile uint32_t *)(uintptr_t)addr = v;
}

static inline uint8_t guest_mmio_read8(uint64_t addr)
{
        return *(volatile uint8_t *)(uintptr_t)addr;
}

static inline void guest_mmio_write8(uint64_t addr, uint8_t v)
{
        *(volatile uint8_t *)(uintptr_t)addr = v;
}

static inline void guest_mmio_write16(uint64_t addr, uint16_t v)
{
        *(volatile uint16_t *)(uintptr_t)addr = v;
}

static inline uint16_t guest_mmio_read16(uint64_t addr)
{
        return *(volatile uint16_t *)(uintptr_t)addr;
}

static inline void guest_mmio_write64(uint64_t addr, uint64_t v)
{
        *(volatile uint64_t *)(uintptr_t)addr = v;
}

static inline uint64_t guest_mmio_read64(uint64_t addr)
{
        return *(volatile uint64_t *)(uintptr_t)addr;
}
