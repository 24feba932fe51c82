/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: arbitrary bytes as a kernel image (PVH ELF or bzImage) and, from the
 * second half of the input, as an initrd, loaded into 64 MiB of guest memory. The loader
 * must refuse or accept without touching memory outside guest RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/config.h"
#include "vmms/gmem.h"
#include "../../src/vmwp/vmwp.h"

#define RAM (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t *ram;
        static struct gmem *mem;
        struct vmwp_boot boot;
        struct config_error err;
        size_t split = size;

        if (!ram) {
                ram = calloc(1, RAM);
                if (!ram || gmem_new_buffer(ram, RAM, &mem) < 0)
                        abort();
        }
        /* A trailing "INITRD" marker splits kernel and initrd. */
        for (size_t i = 0; i + 6 <= size; i++)
                if (memcmp(data + i, "INITRD", 6) == 0) {
                        split = i;
                        break;
                }
        struct vmwp_boot_input in = {
                .kernel_path = "/fuzz/kernel", .kernel = data, .kernel_size = split,
                .initrd_path = split < size ? "/fuzz/initrd" : NULL,
                .initrd = split < size ? data + split + 6 : NULL,
                .initrd_size = split < size ? size - split - 6 : 0,
                .cmdline = "console=ttyS0", .rsdp = 0xe0000,
        };
        (void)vmwp_boot_load(mem, &in, &boot, &err);
        return 0;
}
