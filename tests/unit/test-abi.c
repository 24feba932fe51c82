/* SPDX-License-Identifier: MIT */
/*
 * The guest/host contract compiles hosted (this file) and freestanding (the same file,
 * built with -ffreestanding -nostdlib by meson); the _Static_asserts inside the headers
 * check every size and offset in both.
 */
#include <abi/bootparam.h>
#include <abi/ic.h>
#include <abi/pci.h>
#include <abi/platform.h>
#include <abi/pvh.h>
#include <abi/report.h>
#include <abi/virtio.h>
#include <abi/virtio_blk.h>
#include <abi/virtio_console.h>
#include <abi/virtio_net.h>

#ifndef ABI_FREESTANDING
#include <stdlib.h>
#include <string.h>

int main(void)
{
        /* The report prefix is what tests and the guest agree on. */
        return strcmp(REPORT_PREFIX, "#VMMS ") == 0 && sizeof(struct hvm_start_info) == 56 &&
               sizeof(struct boot_params) == 4096 &&
               ic_crc32(0, "123456789", 9) == 0xcbf43926u &&    /* the IC checksum is zlib's CRC-32 */
               VIRTIO_CONSOLE_NUM_QUEUES(IC_CONSOLE_MAX_PORTS) == 14 ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
