/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup in the style of systemd: _cleanup_(fn) locals, TAKE_PTR/TAKE_FD to
 * hand ownership out of a scope.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p) __extension__ ({ __typeof__(p) _p_ = (p); (p) = NULL; _p_; })
#define TAKE_FD(fd) __extension__ ({ int _fd_ = (fd); (fd) = -1; _fd_; })

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(freep)

/* close() that keeps errno and ignores -1. */
static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}
static inline void closep(int *fd) { safe_close(*fd); }
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_fclose_ _cleanup_(fclosep)


/* Declare foo_freep() for _cleanup_(foo_freep): DEFINE_TRIVIAL_CLEANUP(struct foo, foo_free). */
#define DEFINE_TRIVIAL_CLEANUP(type, func)                      \
        static inline void func##p(type **p) { if (*p) func(*p); }
