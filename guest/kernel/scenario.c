/* SPDX-License-Identifier: MIT */
#include "kernel/kernel.h"
#include "kernel/scenario.h"
#include "kernel/scenarios/scenarios.h"

const struct guest_scenario guest_scenarios[] = {
        { "hello", "banner, ready, info lines, pass, power off", 0, guest_scenario_hello },
        { "poweroff", "power off at once (boot timing)", 0, guest_scenario_poweroff },
        { "panic", "a failing ASSERT (exercises the report path)", 0, guest_scenario_panic },
        { "fault", "a page fault (exercises the exception report)", 0, guest_scenario_fault },
        { "smp", "start every AP, each reports in", GUEST_SCENARIO_PLATFORM, guest_scenario_smp },
        { "timer", "LAPIC timer rate against kvmclock/TSC", GUEST_SCENARIO_PLATFORM, guest_scenario_timer },
        { "memtest", "write and verify all RAM above the kernel", GUEST_SCENARIO_PLATFORM, guest_scenario_memtest },
        { "memstate", "memory and a timer that must survive save and restore", GUEST_SCENARIO_PLATFORM,
          guest_scenario_memstate },
        { "idle", "halt until the power button", GUEST_SCENARIO_PLATFORM | GUEST_SCENARIO_POWER_BUTTON_PASS,
          guest_scenario_idle },
        { "shell", "interactive prompt on the serial console", GUEST_SCENARIO_PLATFORM, guest_scenario_shell },
        { "echo", "echo console input lines until \"quit\"", GUEST_SCENARIO_PLATFORM, guest_scenario_echo },
        { "reboot", "reset via 0xCF9 (method=i8042|acpi|triple-fault)", 0, guest_scenario_reboot },
        { "console-bench", "console output cost per byte", 0, guest_scenario_console_bench },
        { "triple-fault", "triple fault on purpose", 0, guest_scenario_triple_fault },
        { "blk-verify", "virtio-blk: write a pattern over the whole disk (seed=), flush, read back, check",
          GUEST_SCENARIO_PLATFORM, guest_scenario_blk_verify },
        { "blk-hostile", "virtio-blk: malformed requests end in NEEDS_RESET or an error status; reset recovers",
          GUEST_SCENARIO_PLATFORM, guest_scenario_blk_hostile },
        { "blk-bench", "virtio-blk: rw=randread|randwrite|read|write bs= qd= duration_ms=; IOPS and MiB/s",
          GUEST_SCENARIO_PLATFORM, guest_scenario_blk_bench },
        { "blk-ro", "virtio-blk: a read-only disk reads and refuses writes with IOERR", GUEST_SCENARIO_PLATFORM,
          guest_scenario_blk_ro },
        { "blk-durable", "virtio-blk: write, flush, report \"flushed\", keep writing un-flushed (for SIGKILL tests)",
          GUEST_SCENARIO_PLATFORM, guest_scenario_blk_durable },
        { "blk-errors", "virtio-blk: write the whole disk counting IOERR (backend errors), then check the device works",
          GUEST_SCENARIO_PLATFORM, guest_scenario_blk_errors },
        { "net-echo", "virtio-net: answer ARP, ICMP echo and UDP port 7 (ip=) until \"quit\" or the power button",
          GUEST_SCENARIO_PLATFORM | GUEST_SCENARIO_POWER_BUTTON_PASS, guest_scenario_net_echo },
        { "net-ping", "virtio-net: ICMP echo (and udp=1 UDP echo) to peer=, every reply checked",
          GUEST_SCENARIO_PLATFORM, guest_scenario_net_ping },
        { "net-bench", "virtio-net: UDP dir=tx|rx at full speed, peer=IP:PORT size= duration_ms=; packets/s, Mbit/s",
          GUEST_SCENARIO_PLATFORM, guest_scenario_net_bench },
        { "net-hostile", "virtio-net: malformed chains, bad headers, oversized frames: dropped or NEEDS_RESET",
          GUEST_SCENARIO_PLATFORM, guest_scenario_net_hostile },
        { "ic", "integration services until shut down (the default; ic_ignore_shutdown=1: a hung guest)",
          GUEST_SCENARIO_PLATFORM | GUEST_SCENARIO_POWER_BUTTON_PASS, guest_scenario_ic },
        { "ic-hostile", "integration services: garbage, an endless line, huge values, floods; then serve",
          GUEST_SCENARIO_PLATFORM | GUEST_SCENARIO_POWER_BUTTON_PASS, guest_scenario_ic_hostile },
};

const size_t guest_scenario_count = ARRAY_SIZE(guest_scenarios);

const struct guest_scenario *guest_scenario_find(const char *name)
{
        for (size_t i = 0; i < guest_scenario_count; i++)
                if (guest_strcmp(guest_scenarios[i].name, name) == 0)
                        return &guest_scenarios[i];
        return NULL;
}
