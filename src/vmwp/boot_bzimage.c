/* SPDX-License-Identifier: MIT */
/*
 * Linux bzImage through the x86 64-bit boot protocol: the protected-mode kernel is copied
 * to a suitably aligned address, a zero page (boot_params) carries the setup header, the
 * e820 map, the command line and the initrd, and the boot vCPU enters at load + 0x200 in
 * long mode with %rsi pointing at the zero page.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <abi/bootparam.h>
#include <abi/platform.h>

#include "vmms/macro.h"
#include "vmwp.h"

#define BZIMAGE_LOAD_ADDR (16ull * MIB)

int vmwp_boot_load_bzimage(struct gmem *mem, const struct vmwp_boot_input *in,
                           struct vmwp_boot *ret, struct config_error *err)
{
        const uint8_t *img = in->kernel;
        size_t size = in->kernel_size, setup_size, hdr_end, pm_size;
        const char *path = in->kernel_path;
        struct boot_params bp;
        struct boot_setup_header h;
        uint64_t load, align, init_size, cmdline_max;
        struct vmwp_mmap_entry map[VMWP_MMAP_MAX];
        unsigned n;

        if (size < 0x1000)
                return config_error_set(err, "kernel %s: truncated bzImage (%zu bytes)", path, size);
        memcpy(&h, img + BOOT_SETUP_HEADER_OFFSET, sizeof(h));
        if (h.boot_flag != BOOT_FLAG_MAGIC)
                return config_error_set(err, "kernel %s: bzImage without the 0xAA55 boot flag", path);
        if (h.version < BOOT_MIN_VERSION_64BIT)
                return config_error_set(err, "kernel %s: boot protocol %u.%02u is too old (2.12 needed for the 64-bit entry)",
                                        path, h.version >> 8, h.version & 0xff);
        if (!(h.xloadflags & BOOT_XLF_KERNEL_64))
                return config_error_set(err, "kernel %s: this bzImage has no 64-bit entry point", path);
        setup_size = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
        if (setup_size >= size)
                return config_error_set(err, "kernel %s: truncated bzImage (setup code is %zu bytes, file %zu)",
                                        path, setup_size, size);
        if (h.syssize && (uint64_t)h.syssize * 16 > size - setup_size)
                return config_error_set(err, "kernel %s: truncated bzImage (%zu bytes of kernel, header says %llu)",
                                        path, size - setup_size, (unsigned long long)h.syssize * 16);
        pm_size = size - setup_size;

        align = h.kernel_alignment ? h.kernel_alignment : 2 * MIB;
        if (align & (align - 1) || align > 1 * GIB)
                return config_error_set(err, "kernel %s: bad kernel_alignment 0x%x", path, h.kernel_alignment);
        if (h.relocatable_kernel)
                load = ALIGN_UP(BZIMAGE_LOAD_ADDR, align);
        else
                load = h.pref_address ? h.pref_address : PLATFORM_KERNEL_MIN_ADDR;
        init_size = MAX((uint64_t)h.init_size, (uint64_t)pm_size);
        if (load < PLATFORM_KERNEL_MIN_ADDR || !gmem_translate(mem, load, init_size))
                return config_error_set(err, "kernel %s: needs %llu MiB at 0x%llx, more than guest RAM holds",
                                        path, (unsigned long long)((load + init_size) >> 20) + 1,
                                        (unsigned long long)load);

        cmdline_max = h.cmdline_size ? h.cmdline_size : 255;
        if (strlen(in->cmdline) > cmdline_max)
                return config_error_set(err, "cmdline: %zu bytes, this kernel accepts at most %llu",
                                        strlen(in->cmdline), (unsigned long long)cmdline_max);

        /* The zero page starts as a copy of the image's setup header. */
        memset(&bp, 0, sizeof(bp));
        hdr_end = 0x202 + img[0x201];
        if (hdr_end > 0x1f1 + sizeof(h))
                hdr_end = 0x1f1 + sizeof(h);
        memcpy(&bp.hdr, img + BOOT_SETUP_HEADER_OFFSET, hdr_end - BOOT_SETUP_HEADER_OFFSET);
        bp.hdr.type_of_loader = BOOT_LOADER_TYPE_UNDEFINED;
        bp.hdr.loadflags = (uint8_t)((bp.hdr.loadflags | BOOT_LOADFLAG_LOADED_HIGH) & ~BOOT_LOADFLAG_CAN_USE_HEAP);
        bp.hdr.code32_start = (uint32_t)load;
        bp.hdr.cmd_line_ptr = (uint32_t)PLATFORM_CMDLINE_ADDR;
        bp.hdr.vid_mode = 0xffff;
        bp.acpi_rsdp_addr = in->rsdp;

        if (in->initrd) {
                uint64_t limit = h.initrd_addr_max ? h.initrd_addr_max : 0x37ffffff;
                uint64_t addr = vmwp_initrd_addr(mem, in->initrd_size, limit, load + init_size);

                if (!addr)
                        return config_error_set(err, "initrd %s: %zu bytes do not fit in guest RAM below 0x%llx beside the kernel",
                                                in->initrd_path, in->initrd_size, (unsigned long long)limit);
                if (gmem_write(mem, addr, in->initrd, in->initrd_size) < 0)
                        return -EFAULT;
                bp.hdr.ramdisk_image = (uint32_t)addr;
                bp.hdr.ramdisk_size = (uint32_t)in->initrd_size;
                bp.ext_ramdisk_image = (uint32_t)(addr >> 32);
                bp.ext_ramdisk_size = (uint32_t)((uint64_t)in->initrd_size >> 32);
        }

        n = vmwp_memory_map(mem, map);
        for (unsigned i = 0; i < n; i++)
                bp.e820_table[i] = (struct boot_e820_entry) {
                        .addr = map[i].addr, .size = map[i].size, .type = map[i].type,
                };
        bp.e820_entries = (uint8_t)n;

        if (gmem_write(mem, load, img + setup_size, pm_size) < 0 ||
            gmem_write(mem, PLATFORM_CMDLINE_ADDR, in->cmdline, strlen(in->cmdline) + 1) < 0 ||
            gmem_write(mem, PLATFORM_BOOT_INFO_ADDR, &bp, sizeof(bp)) < 0)
                return -EFAULT;

        *ret = (struct vmwp_boot) {
                .kind = VMWP_BOOT_LINUX64,
                .entry = load + 0x200,
                .info = PLATFORM_BOOT_INFO_ADDR,
                .kernel_start = load,
                .kernel_end = load + init_size,
        };
        return 0;
}
