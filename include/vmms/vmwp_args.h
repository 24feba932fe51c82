/* SPDX-License-Identifier: MIT */
/*
 * vmwp's command line, shared by vmwp and by vmjail (which opens what the options name
 * and starts vmwp in its cage with them): one parser, one set of messages.
 */
#pragma once

#include <stdbool.h>

#include "vmms/config.h"

struct vmwp_args {
        const char *config_path;
        const char *kernel, *initrd, *cmdline, *memory, *vcpus, *console, *name;
        char **disks;
        unsigned n_disks;
        char **nics;
        unsigned n_nics;
        bool no_reboot, hugepages, nested_virtualization;
        const char *control;    /* --control PATH */
        const char *restore;    /* --restore STATE: go on from a saved state (STATE.mem beside it) */
        int fd_socket;          /* --fd-socket N, or -1 */
        bool unconfined;        /* --unconfined: no cage checks, no filter (development) */
        const char *log_level;  /* --log-level (already applied to this process) */
        bool jail;              /* parsing for vmjail: its --help */
};


#define VMWP_ARGS_INIT { .fd_socket = -1 }

void vmwp_args_done(struct vmwp_args *a);
void vmwp_args_help(bool jail);
/* Returns 1 to go on, 0 to exit successfully (--help, --version), -EINVAL for a usage error
 * (logged). The strings point into argv. */
int vmwp_args_parse(int argc, char *argv[], struct vmwp_args *a);
/* Apply the options to a configuration (loaded from --config, or the defaults) and
 * validate it; err names the option at fault. */
int vmwp_args_apply(const struct vmwp_args *a, struct vm_config *cfg, struct config_error *err);
