/* SPDX-License-Identifier: MIT */
/*
 * The serial console's host end: stdout/stdin, a file, or a Unix socket that one client at
 * a time attaches to (the last 64 KiB of output are replayed on attach). It outlives the
 * VM across guest reboots.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "vmms/config.h"
#include "vmms/vdev.h"

struct vmwp_console;

/* passed_fd (taken; -1: none): the file (type file) or the bound socket (type socket)
 * whoever started the worker opened for it, instead of cfg->console_path. */
int vmwp_console_new(const struct vm_config *cfg, sd_event *event, int passed_fd, struct vmwp_console **ret,
                     struct config_error *err);
void vmwp_console_free(struct vmwp_console *c);
/* Guest output; called from vCPU threads. */
void vmwp_console_write(struct vmwp_console *c, const uint8_t *buf, size_t len);
/* Where input goes (NULL while no VM runs). */
void vmwp_console_attach(struct vmwp_console *c, struct vdev_serial *serial);
