/* SPDX-License-Identifier: MIT */
/*
 * Boot image selection and what both boot protocols share: the guest memory map and the
 * placement of the initrd.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <abi/platform.h>
#include <abi/pvh.h>

#include "vmms-build-config.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmwp.h"

unsigned vmwp_memory_map(const struct gmem *mem, struct vmwp_mmap_entry map[static VMWP_MMAP_MAX])
{
        const struct gmem_region *low = &mem->regions[0];
        unsigned n = 0;

        /* Conventional memory below the EBDA, then the EBDA and BIOS area (ACPI tables). */
        map[n++] = (struct vmwp_mmap_entry) { 0, 0x9fc00, HVM_MEMMAP_TYPE_RAM };
        map[n++] = (struct vmwp_mmap_entry) { 0x9fc00, 0x400, HVM_MEMMAP_TYPE_RESERVED };
        map[n++] = (struct vmwp_mmap_entry) { 0xe0000, 0x20000, HVM_MEMMAP_TYPE_RESERVED };
        map[n++] = (struct vmwp_mmap_entry) { 1 * MIB, low->size - 1 * MIB, HVM_MEMMAP_TYPE_RAM };
        /* Linux only trusts an ECAM window the firmware has reserved. */
        map[n++] = (struct vmwp_mmap_entry) { PLATFORM_ECAM_BASE, PLATFORM_ECAM_SIZE, HVM_MEMMAP_TYPE_RESERVED };
        if (mem->n_regions > 1)
                map[n++] = (struct vmwp_mmap_entry) { mem->regions[1].gpa, mem->regions[1].size,
                                                      HVM_MEMMAP_TYPE_RAM };
        return n;
}

uint64_t vmwp_initrd_addr(const struct gmem *mem, uint64_t size, uint64_t limit, uint64_t kernel_end)
{
        uint64_t top = MIN(mem->regions[0].size, limit + 1);
        uint64_t addr;

        if (size > top)
                return 0;
        addr = ALIGN_DOWN(top - size, 4096ull);
        if (addr < ALIGN_UP(kernel_end, 4096ull) || addr < PLATFORM_KERNEL_MIN_ADDR)
                return 0;
        return addr;
}

bool vmwp_boot_is_elf(const uint8_t *data, size_t size)
{
        return size >= 4 && memcmp(data, "\177ELF", 4) == 0;
}

bool vmwp_boot_is_bzimage(const uint8_t *data, size_t size)
{
        uint32_t magic;

        if (size < 0x206)
                return false;
        memcpy(&magic, data + 0x202, 4);
        return magic == 0x53726448u;    /* "HdrS" */
}

int vmwp_boot_load(struct gmem *mem, const struct vmwp_boot_input *in, struct vmwp_boot *ret,
                   struct config_error *err)
{
        if (in->kernel_size == 0)
                return config_error_set(err, "kernel %s: empty file", in->kernel_path);
        if (strlen(in->cmdline) >= PLATFORM_CMDLINE_MAX)
                return config_error_set(err, "cmdline: longer than %u bytes", PLATFORM_CMDLINE_MAX - 1);
        if (vmwp_boot_is_elf(in->kernel, in->kernel_size))
                return vmwp_boot_load_pvh(mem, in, ret, err);
        if (vmwp_boot_is_bzimage(in->kernel, in->kernel_size))
                return vmwp_boot_load_bzimage(mem, in, ret, err);
        return config_error_set(err, "kernel %s: neither an ELF kernel with a PVH entry nor a Linux bzImage",
                                in->kernel_path);
}

const char *vmwp_bundled_kernel_path(void)
{
        static const char build_path[] = VMMS_BUILD_ROOT "/guest/kernel/vmguest.elf";
        static const char installed_path[] = VMMS_PKGLIBDIR "/vmguest.elf";
        char self[PATH_MAX];
        ssize_t n;

        /* Run from the build tree: use the guest kernel built beside us. */
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                if (string_has_prefix(self, VMMS_BUILD_ROOT "/") && access(build_path, R_OK) == 0)
                        return build_path;
        }
        return installed_path;
}
