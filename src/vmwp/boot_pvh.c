/* SPDX-License-Identifier: MIT */
/*
 * PVH boot: an ELF64 kernel whose note XEN_ELFNOTE_PHYS32_ENTRY names a 32-bit entry point.
 * Every header field is checked against the file and guest RAM before anything is copied:
 * a truncated or corrupt image is a clear error, never an out-of-bounds access.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include <abi/platform.h>
#include <abi/pvh.h>

#include "vmms/macro.h"
#include "vmwp.h"

#define PVH_MAX_PHDRS 64

/* Find the PVH entry in a note region [off, off+len) of the file. */
static int pvh_find_note(const uint8_t *img, size_t size, uint64_t off, uint64_t len,
                         uint64_t *ret_entry)
{
        uint64_t pos = off, end;

        if (off > size || len > size - off)
                return -EINVAL;
        end = off + len;
        while (end - pos >= sizeof(Elf64_Nhdr)) {
                Elf64_Nhdr nh;
                uint64_t name_sz, desc_sz, desc_off;

                memcpy(&nh, img + pos, sizeof(nh));
                name_sz = ALIGN_UP((uint64_t)nh.n_namesz, 4ull);
                desc_sz = ALIGN_UP((uint64_t)nh.n_descsz, 4ull);
                desc_off = pos + sizeof(nh) + name_sz;
                if (name_sz > end - pos - sizeof(nh) || desc_sz > end - desc_off)
                        return -EINVAL;
                if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
                    memcmp(img + pos + sizeof(nh), "Xen", 4) == 0) {
                        if (nh.n_descsz == 4) {
                                uint32_t e;

                                memcpy(&e, img + desc_off, 4);
                                *ret_entry = e;
                        } else if (nh.n_descsz == 8) {
                                memcpy(ret_entry, img + desc_off, 8);
                        } else
                                return -EINVAL;
                        return 1;
                }
                pos = desc_off + desc_sz;
        }
        return 0;
}

static int pvh_write_start_info(struct gmem *mem, const struct vmwp_boot_input *in,
                                uint64_t kernel_end, struct config_error *err)
{
        struct hvm_start_info si = {
                .magic = HVM_START_MAGIC_VALUE,
                .version = 1,
                .cmdline_paddr = PLATFORM_CMDLINE_ADDR,
                .rsdp_paddr = in->rsdp,
        };
        struct vmwp_mmap_entry map[VMWP_MMAP_MAX];
        struct hvm_memmap_table_entry hmap[VMWP_MMAP_MAX];
        unsigned n = vmwp_memory_map(mem, map);
        uint64_t mmap_addr = PLATFORM_BOOT_MMAP_ADDR, modlist_addr = mmap_addr + sizeof(hmap);

        for (unsigned i = 0; i < n; i++)
                hmap[i] = (struct hvm_memmap_table_entry) {
                        .addr = map[i].addr, .size = map[i].size, .type = map[i].type,
                };
        si.memmap_paddr = mmap_addr;
        si.memmap_entries = n;
        if (gmem_write(mem, mmap_addr, hmap, n * sizeof(hmap[0])) < 0)
                return -EFAULT;

        if (in->initrd) {
                uint64_t addr = vmwp_initrd_addr(mem, in->initrd_size, PLATFORM_LOW_RAM_END - 1, kernel_end);
                struct hvm_modlist_entry mod = { .size = in->initrd_size };

                if (!addr)
                        return config_error_set(err, "initrd %s: %zu bytes do not fit in guest RAM beside the kernel",
                                                in->initrd_path, in->initrd_size);
                mod.paddr = addr;
                if (gmem_write(mem, addr, in->initrd, in->initrd_size) < 0 ||
                    gmem_write(mem, modlist_addr, &mod, sizeof(mod)) < 0)
                        return -EFAULT;
                si.nr_modules = 1;
                si.modlist_paddr = modlist_addr;
        }
        if (gmem_write(mem, PLATFORM_CMDLINE_ADDR, in->cmdline, strlen(in->cmdline) + 1) < 0 ||
            gmem_write(mem, PLATFORM_BOOT_INFO_ADDR, &si, sizeof(si)) < 0)
                return -EFAULT;
        return 0;
}

int vmwp_boot_load_pvh(struct gmem *mem, const struct vmwp_boot_input *in, struct vmwp_boot *ret,
                       struct config_error *err)
{
        const uint8_t *img = in->kernel;
        size_t size = in->kernel_size;
        const char *path = in->kernel_path;
        Elf64_Ehdr eh;
        Elf64_Phdr ph[PVH_MAX_PHDRS];
        uint64_t entry = 0, lo = UINT64_MAX, hi = 0;
        bool found = false;
        int r;

        if (size < EI_NIDENT || img[EI_CLASS] != ELFCLASS64)
                return config_error_set(err, "kernel %s: only 64-bit ELF kernels are supported", path);
        if (size < sizeof(eh))
                return config_error_set(err, "kernel %s: truncated ELF header", path);
        memcpy(&eh, img, sizeof(eh));
        if (img[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 || img[EI_VERSION] != EV_CURRENT)
                return config_error_set(err, "kernel %s: not a little-endian x86-64 ELF file", path);
        if (eh.e_type != ET_EXEC)
                return config_error_set(err, "kernel %s: ELF type %u is not an executable", path, eh.e_type);
        if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > PVH_MAX_PHDRS)
                return config_error_set(err, "kernel %s: bad program header table (%u entries of %u bytes)",
                                        path, eh.e_phnum, eh.e_phentsize);
        if (eh.e_phoff > size || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > size - eh.e_phoff)
                return config_error_set(err, "kernel %s: truncated program header table", path);
        memcpy(ph, img + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));

        /* Validate every segment first; copy nothing until the whole image is known good. */
        for (unsigned i = 0; i < eh.e_phnum; i++) {
                const Elf64_Phdr *p = &ph[i];

                if (p->p_type == PT_NOTE) {
                        r = pvh_find_note(img, size, p->p_offset, p->p_filesz, &entry);
                        if (r < 0)
                                return config_error_set(err, "kernel %s: corrupt ELF note segment %u", path, i);
                        if (r > 0)
                                found = true;
                        continue;
                }
                if (p->p_type != PT_LOAD || p->p_memsz == 0)
                        continue;
                if (p->p_filesz > p->p_memsz)
                        return config_error_set(err, "kernel %s: segment %u has a file size larger than its memory size",
                                                path, i);
                if (p->p_offset > size || p->p_filesz > size - p->p_offset)
                        return config_error_set(err, "kernel %s: segment %u extends past the end of the file (truncated image?)",
                                                path, i);
                if (p->p_paddr < PLATFORM_KERNEL_MIN_ADDR)
                        return config_error_set(err, "kernel %s: segment %u loads at 0x%llx, below 1 MiB",
                                                path, i, (unsigned long long)p->p_paddr);
                if (!gmem_translate(mem, p->p_paddr, p->p_memsz))
                        return config_error_set(err, "kernel %s: segment %u (0x%llx, %llu bytes) does not fit in guest RAM",
                                                path, i, (unsigned long long)p->p_paddr,
                                                (unsigned long long)p->p_memsz);
                for (unsigned j = 0; j < i; j++)
                        if (ph[j].p_type == PT_LOAD && ph[j].p_memsz &&
                            ranges_overlap(p->p_paddr, p->p_memsz, ph[j].p_paddr, ph[j].p_memsz))
                                return config_error_set(err, "kernel %s: segments %u and %u overlap", path, j, i);
                lo = MIN(lo, p->p_paddr);
                hi = MAX(hi, p->p_paddr + p->p_memsz);
        }
        if (!found)
                return config_error_set(err, "kernel %s: ELF kernel without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)",
                                        path);
        if (lo == UINT64_MAX)
                return config_error_set(err, "kernel %s: no loadable segments", path);
        if (entry < lo || entry >= hi)
                return config_error_set(err, "kernel %s: PVH entry 0x%llx lies outside the loaded image",
                                        path, (unsigned long long)entry);

        for (unsigned i = 0; i < eh.e_phnum; i++) {
                const Elf64_Phdr *p = &ph[i];
                uint8_t *dst;

                if (p->p_type != PT_LOAD || p->p_memsz == 0)
                        continue;
                dst = gmem_translate(mem, p->p_paddr, p->p_memsz);
                memcpy(dst, img + p->p_offset, p->p_filesz);
                memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
        }
        r = pvh_write_start_info(mem, in, hi, err);
        if (r < 0)
                return r;
        *ret = (struct vmwp_boot) {
                .kind = VMWP_BOOT_PVH,
                .entry = entry,
                .info = PLATFORM_BOOT_INFO_ADDR,
                .kernel_start = lo,
                .kernel_end = hi,
        };
        return 0;
}
