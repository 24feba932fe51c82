/* SPDX-License-Identifier: MIT */
/* The scenario entry points, one group per file in this directory. */
#pragma once

/* basic.c */
int guest_scenario_hello(void);
int guest_scenario_poweroff(void);
int guest_scenario_panic(void);
int guest_scenario_fault(void);
/* smp.c */
int guest_scenario_smp(void);
/* timer.c */
int guest_scenario_timer(void);
/* memtest.c */
int guest_scenario_memtest(void);
/* memstate.c */
int guest_scenario_memstate(void);
/* power.c */
int guest_scenario_idle(void);
int guest_scenario_reboot(void);
int guest_scenario_triple_fault(void);
/* console.c */
int guest_scenario_shell(void);
int guest_scenario_echo(void);
int guest_scenario_console_bench(void);
/* blk.c */
int guest_scenario_blk_verify(void);
int guest_scenario_blk_ro(void);
int guest_scenario_blk_bench(void);
/* blk_faults.c */
int guest_scenario_blk_durable(void);
int guest_scenario_blk_errors(void);
/* blk_hostile.c */
int guest_scenario_blk_hostile(void);
/* net.c, net_hostile.c */
int guest_scenario_net_echo(void);
int guest_scenario_net_ping(void);
int guest_scenario_net_bench(void);
int guest_scenario_net_hostile(void);
/* ic.c */
int guest_scenario_ic(void);
int guest_scenario_ic_hostile(void);
