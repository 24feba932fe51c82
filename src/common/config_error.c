/* SPDX-License-Identifier: MIT */
/* Errors as kinds: see include/vmms/config_error.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmms/config_error.h"

int config_error_set(struct config_error *err, const char *fmt, ...)
{
        va_list ap;

        if (err) {
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

bool errno_is_host_shortage(int r)
{
        return r == -ENOMEM || r == -EMFILE || r == -ENFILE || r == -ENOBUFS;
}

int config_error_errno(struct config_error *err, int r, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (!err || errno_is_host_shortage(r))
                return r;
        va_start(ap, fmt);
        n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(err->msg))
                snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(-r));
        return r;
}
