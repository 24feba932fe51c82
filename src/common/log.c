/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <pthread.h>

#include "vmms/log.h"
#include "vmms/util.h"

/* Process-wide log settings: the one deliberate exception to "no mutable globals". */
static int log_max_level = LOG_INFO;
static char log_prefix[64];

void log_set_max_level(int level) { log_max_level = level; }
int log_get_max_level(void) { return log_max_level; }

void log_set_prefix(const char *prefix)
{
        snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

int log_parse_level(const char *s)
{
        static const char *const names[] = {
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        };
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strcasecmp(s, names[i]) == 0)
                        return (int)i;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        if (strcasecmp(s, "warn") == 0)
                return LOG_WARNING;
        return -EINVAL;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...)
{
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        errno = error;          /* so that %m in fmt prints the right message */
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (log_max_level >= LOG_DEBUG)
                fprintf(stderr, "<%d>%s%s(%s:%d) %s\n", level, log_prefix,
                        log_prefix[0] ? ": " : "", file, line, buf);
        else
                fprintf(stderr, "<%d>%s%s%s\n", level, log_prefix, log_prefix[0] ? ": " : "", buf);
        (void)func;
        errno = saved;
        return -error;
}

bool ratelimit_below(struct ratelimit *rl)
{
        uint64_t ts = now_usec(CLOCK_MONOTONIC);

        if (rl->begin_us == 0 || ts - rl->begin_us > rl->interval_us) {
                if (rl->suppressed)
                        log_warning("(%u similar messages suppressed)", rl->suppressed);
                rl->begin_us = ts;
                rl->num = 0;
                rl->suppressed = 0;
        }
        if (rl->num < rl->burst) {
                rl->num++;
                return true;
        }
        rl->suppressed++;
        return false;
}
