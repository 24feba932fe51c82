/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: what vmms reads from a worker it must assume compromised, outside
 * JSON-RPC (fuzz-jsonrpc): the seccomp report on the worker's status pipe
 * ("seccomp NR ARCH\n", cage.c), and vmms' --worker-ids range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char msg[160], *s;
        unsigned first, count;

        /* The report arrives as raw bytes (no terminator): at most 128 are read. */
        if (cage_parse_report((const char *)data, size > 128 ? 128 : size, msg, sizeof(msg)) &&
            strncmp(msg, "seccomp violation: ", 19) != 0)
                abort();
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (cage_ids_parse(s, &first, &count) == 0 && (first == 0 || count == 0 || first + (count - 1) < first))
                abort();
        free(s);
        return 0;
}
