/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: arbitrary bytes as a VM configuration document, parsed, validated and,
 * when accepted, written back to JSON and parsed again (the round trip must succeed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vm_config c, d;
        struct config_error err;
        struct json_object *o;
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (vm_config_from_string(text, &c, &err) == 0) {
                if (vm_config_to_json(&c, &o) < 0)
                        abort();
                if (vm_config_from_json(o, &d, &err) < 0)
                        abort();        /* what we write we must read back */
                json_object_put(o);
                vm_config_done(&d);
                vm_config_done(&c);
        }
        free(text);
        return 0;
}
