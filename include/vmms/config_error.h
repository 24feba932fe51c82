/* SPDX-License-Identifier: MIT */
/*
 * Errors as kinds: the code that finds a value the user gave at fault (a config key, a
 * disk path, a TAP name) says so in a config_error; the worker then exits with "bad
 * configuration" (2) and that message. A failure with the message left empty is the
 * host's or the worker's own (exit 1). No errno list decides it afterwards.
 */
#pragma once

#include <stdbool.h>

#define VM_CONFIG_ERROR_MAX      256

/* A validation error: the message names the key and what is wrong with it. */
struct config_error {
        char msg[VM_CONFIG_ERROR_MAX];
};

/* Fill err (may be NULL) with the message; returns -EINVAL. */
int config_error_set(struct config_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/*
 * Where a value the user gave (a path, a TAP name, a switch) failed with r: the message
 * (fmt, then ": " and strerror) names it and r comes back. Unless r says only that this
 * host ran short (memory, file descriptors): then err stays empty and the failure is the
 * worker's.
 */
int config_error_errno(struct config_error *err, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* r (negative) blames the host, not a value the user gave: no memory, no fds. */
bool errno_is_host_shortage(int r);
static inline bool config_error_is_set(const struct config_error *err)
{
        return err && err->msg[0];
}
