/* SPDX-License-Identifier: MIT */
/*
 * What the net scenarios share (net.c): picking and starting the NIC with the command line's
 * options, and the IPv4 stack on it.
 *
 * Options: nic=N (default 0), net_poll=0|1, qsize=N, event_idx=0, csum=0 (no transmit checksum
 * offload), promisc=1, tx_slot=BYTES (transmit slot size), ip=A.B.C.D/N, gw=A.B.C.D.
 */
#pragma once

#include <stdbool.h>

#include "kernel/netstack.h"
#include "kernel/virtio_net.h"

struct net_env {
        struct guest_net *n;
        struct guest_net_opts opts;
        struct guest_ip ip;
        bool vmms;              /* ACPI OEM id "VMMS": running on vmwp */
        bool have_ip;
};

/*
 * Probe and start the NIC; with need_ip, the address too (fails without ip=). Reports the
 * device as an info line. Returns 0, GUEST_SCENARIO_SKIP or -errno (reported).
 */
int net_env_init(struct net_env *e, bool default_poll, bool need_ip, uint32_t default_tx_slot);
/* Restart the device with the same options (after NEEDS_RESET). */
int net_env_restart(struct net_env *e);
