/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the guest kernel's side of the integration services protocol
 * (guest/kernel/ic_json.c, vmms-ic(7)), built hosted: arbitrary bytes as one line from the
 * host, parsed; every member read back through the typed getters; string values base64-
 * decoded; and an accepted message written again with the bounded writer, which must parse.
 *
 * The guest kernel's own C library is not linked: the four functions ic_json.c takes from
 * it are the C library's here.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/ic_json.h"

size_t guest_strlen(const char *s);
int guest_strcmp(const char *a, const char *b);
int guest_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

size_t guest_strlen(const char *s) { return strlen(s); }
int guest_strcmp(const char *a, const char *b) { return strcmp(a, b); }

int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct guest_ic_msg m, again;
        struct guest_ic_writer w;
        char *line = malloc(size + 1), out[4096];
        uint8_t bin[1024];
        int n;

        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = 0;
        if (guest_ic_parse(line, size, &m) < 0) {
                free(line);
                return 0;
        }
        if (!m.type || !guest_ic_is(&m, m.type))
                abort();        /* a parsed message has its type */
        guest_ic_begin(&w, out, sizeof(out), m.type);
        for (unsigned i = 0; i < m.n; i++) {
                const char *name = m.m[i].name, *s;
                bool dup = strcmp(name, "type") == 0;   /* written by guest_ic_begin() */
                size_t len;
                int64_t v;
                bool b;

                /* A name decoded with a NUL in it reads shorter: written once only. */
                for (unsigned k = 0; k < i && !dup; k++)
                        dup = strcmp(m.m[k].name, name) == 0;
                if (dup)
                        continue;
                if (guest_ic_str(&m, name, 4096, &s, &len)) {
                        size_t got;

                        (void)guest_ic_base64_decode(s, len, bin, sizeof(bin), &got);
                        guest_ic_add_str(&w, name, s, len);
                } else if (guest_ic_int(&m, name, INT64_MIN, INT64_MAX, &v))
                        guest_ic_add_int(&w, name, v);
                else if (guest_ic_bool(&m, name, &b))
                        guest_ic_add_bool(&w, name, b);
        }
        n = guest_ic_end(&w);
        /* What the guest writes, the guest reads (the host's reader is fuzz-ic). */
        if (n > 0 && guest_ic_parse(out, (size_t)n - 1, &again) < 0)
                abort();
        free(line);
        return 0;
}
