/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr with <N> syslog priority prefixes that journald understands.
 * log_*_errno(r, ...) logs with %m bound to -r and returns r (negative), so a failure
 * path is one line:  return log_error_errno(r, "Failed to map guest memory: %m");
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <syslog.h>
#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_prefix(const char *prefix);        /* e.g. "vmwp[demo]"; copied */
int log_parse_level(const char *s);             /* "debug", "info", ... or -EINVAL */

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                              \
        __extension__ ({                                                                             \
                int _l = (level), _e = (error);                                        \
                (log_get_max_level() >= _l)                                            \
                        ? log_internal(_l, _e, __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : -((_e) < 0 ? -(_e) : (_e));                                  \
        })

#define log_debug(...)   ((void)log_full_errno(LOG_DEBUG, 0, __VA_ARGS__))
#define log_info(...)    ((void)log_full_errno(LOG_INFO, 0, __VA_ARGS__))
#define log_notice(...)  ((void)log_full_errno(LOG_NOTICE, 0, __VA_ARGS__))
#define log_warning(...) ((void)log_full_errno(LOG_WARNING, 0, __VA_ARGS__))
#define log_error(...)   ((void)log_full_errno(LOG_ERR, 0, __VA_ARGS__))

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)

/*
 * Rate limiting for messages a guest can trigger: at most `burst` messages per
 * `interval_us`; the rest are counted and summarised when the window reopens.
 */
struct ratelimit {
        uint64_t interval_us;
        unsigned burst;
        uint64_t begin_us;
        unsigned num;
        unsigned suppressed;
};
#define RATELIMIT_INIT(interval, b) { .interval_us = (interval), .burst = (b) }
bool ratelimit_below(struct ratelimit *rl);     /* true: may log now */
