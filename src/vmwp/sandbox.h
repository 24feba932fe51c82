/* SPDX-License-Identifier: MIT */
/*
 * The worker's side of its cage (vmms(8), issue 7). vmms or vmjail put the worker in its
 * cage before exec (namespaces, its own uid, no capabilities, no_new_privs, a baseline
 * seccomp filter); the worker checks that at start and, once set up and before the first
 * vCPU runs, stacks its own allowlist: only the system calls it uses (and for ioctl only
 * the KVM, TAP and terminal requests it uses). Anything else raises SIGSYS: the handler
 * writes "seccomp NR ARCH\n" to the status fd vmms passed (and a line to stderr) and the
 * worker dies by SIGSYS; vmms reports the VM Critical with "seccomp violation: NAME".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * 0 when the worker is caged: uid and gid not 0, no capability in any set (effective,
 * permitted, inheritable, bounding, ambient), no_new_privs set, a seccomp filter in place.
 * Else -EPERM and why says what is missing.
 */
int vmwp_sandbox_check(char *why, size_t len);

/*
 * Install the SIGSYS handler (reporting to report_fd, -1: stderr only) and the allowlist
 * filter on every thread. Call once, after setup, before any vCPU runs.
 */
int vmwp_sandbox_install(int report_fd);

/* For tests (debug.forbidden_syscall): make system call `name`, which the filter forbids.
 * Returns only when it was allowed after all (-EPERM) or the name is unknown (-EINVAL). */
int vmwp_sandbox_call_forbidden(const char *name);
