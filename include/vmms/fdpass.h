/* SPDX-License-Identifier: MIT */
/*
 * Passing file descriptors over Unix sockets (SCM_RIGHTS). Received fds are O_CLOEXEC;
 * fds beyond what the caller has room for are closed, never leaked.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX 16u

/* Send all of data (at least one byte) with fds attached to its first byte. Blocking. */
int fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t n_fds);
/*
 * One recvmsg(): up to len bytes into buf, up to max_fds fds into fds. Returns the byte
 * count (0 at EOF) and the number of fds in *ret_n_fds, or -errno (nothing kept then).
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *ret_n_fds);
