/* SPDX-License-Identifier: MIT */
/*
 * The boot loaders against crafted images: a good PVH ELF and a good bzImage load and
 * describe themselves correctly; every kind of damage is refused with a message that
 * names it, and nothing is written to guest memory for a refused image.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include <abi/bootparam.h>
#include <abi/platform.h>
#include <abi/pvh.h>

#include "check-main.h"
#include "vmms/config.h"
#include "vmms/gmem.h"
#include "../../src/vmwp/vmwp.h"

#define RAM (64ull << 20)

struct fixture {
        uint8_t *ram;
        struct gmem *mem;
};

static void fixture_init(struct fixture *f, uint64_t size)
{
        f->ram = calloc(1, size);
        ck_assert_ptr_nonnull(f->ram);
        ck_assert_int_eq(gmem_new_buffer(f->ram, size, &f->mem), 0);
}

static void fixture_done(struct fixture *f)
{
        gmem_free(f->mem);
        free(f->ram);
}

/* A minimal PVH kernel: one PT_LOAD at 1 MiB and a PT_NOTE with the Xen entry note. */
struct pvh_image {
        Elf64_Ehdr eh;
        Elf64_Phdr ph[2];
        struct {
                Elf64_Nhdr nh;
                char name[4];
                uint32_t entry;
        } note;
        uint8_t code[64];
};

static void make_pvh(struct pvh_image *img)
{
        memset(img, 0, sizeof(*img));
        memcpy(img->eh.e_ident, ELFMAG, SELFMAG);
        img->eh.e_ident[EI_CLASS] = ELFCLASS64;
        img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
        img->eh.e_ident[EI_VERSION] = EV_CURRENT;
        img->eh.e_type = ET_EXEC;
        img->eh.e_machine = EM_X86_64;
        img->eh.e_version = EV_CURRENT;
        img->eh.e_phoff = offsetof(struct pvh_image, ph);
        img->eh.e_phentsize = sizeof(Elf64_Phdr);
        img->eh.e_phnum = 2;
        img->eh.e_ehsize = sizeof(Elf64_Ehdr);
        img->ph[0] = (Elf64_Phdr) {
                .p_type = PT_LOAD, .p_offset = offsetof(struct pvh_image, code),
                .p_paddr = 0x100000, .p_vaddr = 0x100000, .p_filesz = sizeof(img->code),
                .p_memsz = 0x2000, .p_flags = PF_R | PF_X,
        };
        img->ph[1] = (Elf64_Phdr) {
                .p_type = PT_NOTE, .p_offset = offsetof(struct pvh_image, note),
                .p_filesz = sizeof(img->note),
        };
        img->note.nh = (Elf64_Nhdr) { .n_namesz = 4, .n_descsz = 4, .n_type = XEN_ELFNOTE_PHYS32_ENTRY };
        memcpy(img->note.name, "Xen", 4);
        img->note.entry = 0x100010;
        memset(img->code, 0x90, sizeof(img->code));
}

static int load(struct fixture *f, const void *img, size_t size, const char *cmdline,
                const void *initrd, size_t initrd_size, struct vmwp_boot *boot, struct config_error *err)
{
        struct vmwp_boot_input in = {
                .kernel_path = "/test/kernel", .kernel = img, .kernel_size = size,
                .initrd_path = initrd ? "/test/initrd" : NULL, .initrd = initrd, .initrd_size = initrd_size,
                .cmdline = cmdline, .rsdp = 0xe0000,
        };
        memset(err, 0, sizeof(*err));
        return vmwp_boot_load(f->mem, &in, boot, err);
}

static void expect_refused(struct fixture *f, const void *img, size_t size, const char *needle)
{
        struct vmwp_boot boot;
        struct config_error err;
        int r = load(f, img, size, "", NULL, 0, &boot, &err);

        ck_assert_msg(r < 0, "image accepted, expected '%s'", needle);
        ck_assert_msg(strstr(err.msg, needle), "error '%s' does not mention '%s'", err.msg, needle);
        ck_assert_msg(strstr(err.msg, "/test/kernel"), "error '%s' does not name the file", err.msg);
        /* Nothing was copied into guest memory. */
        for (size_t i = 0x100000; i < 0x102000; i++)
                ck_assert_msg(f->ram[i] == 0, "byte at 0x%zx written for a refused image", i);
}

START_TEST(test_pvh_good)
{
        struct fixture f;
        struct pvh_image img;
        struct vmwp_boot boot;
        struct config_error err;
        const char initrd[] = "initrd-contents";
        struct hvm_start_info si;
        struct hvm_modlist_entry mod;
        struct hvm_memmap_table_entry map[8];

        fixture_init(&f, RAM);
        make_pvh(&img);
        ck_assert_int_eq(load(&f, &img, sizeof(img), "scenario=hello", initrd, sizeof(initrd), &boot, &err), 0);
        ck_assert_int_eq(boot.kind, VMWP_BOOT_PVH);
        ck_assert_uint_eq(boot.entry, 0x100010);
        ck_assert_uint_eq(boot.kernel_end, 0x102000);
        ck_assert_int_eq(memcmp(f.ram + 0x100000, img.code, sizeof(img.code)), 0);
        ck_assert_uint_eq(f.ram[0x100000 + sizeof(img.code)], 0);      /* bss zeroed */

        ck_assert_int_eq(gmem_read(f.mem, boot.info, &si, sizeof(si)), 0);
        ck_assert_uint_eq(si.magic, HVM_START_MAGIC_VALUE);
        ck_assert_uint_eq(si.version, 1);
        ck_assert_uint_eq(si.rsdp_paddr, 0xe0000);
        ck_assert_str_eq((char *)f.ram + si.cmdline_paddr, "scenario=hello");
        ck_assert_uint_eq(si.nr_modules, 1);
        ck_assert_int_eq(gmem_read(f.mem, si.modlist_paddr, &mod, sizeof(mod)), 0);
        ck_assert_uint_eq(mod.size, sizeof(initrd));
        ck_assert_int_eq(memcmp(f.ram + mod.paddr, initrd, sizeof(initrd)), 0);
        ck_assert_uint_ge(mod.paddr, boot.kernel_end);
        ck_assert_uint_le(mod.paddr + mod.size, RAM);

        /* The memory map covers all RAM exactly once. */
        ck_assert_uint_le(si.memmap_entries, 8);
        ck_assert_int_eq(gmem_read(f.mem, si.memmap_paddr, map, si.memmap_entries * sizeof(map[0])), 0);
        uint64_t ram = 0;
        for (unsigned i = 0; i < si.memmap_entries; i++)
                if (map[i].type == HVM_MEMMAP_TYPE_RAM)
                        ram += map[i].size;
        ck_assert_uint_eq(ram, RAM - (0x100000 - 0x9fc00));
        fixture_done(&f);
}
END_TEST

START_TEST(test_pvh_damage)
{
        struct fixture f;
        struct pvh_image img;

        fixture_init(&f, RAM);

        make_pvh(&img);
        expect_refused(&f, &img, 40, "truncated ELF header");

        make_pvh(&img);
        expect_refused(&f, &img, offsetof(struct pvh_image, ph) + 10, "truncated program header table");

        make_pvh(&img);
        img.ph[0].p_filesz = 4096;
        expect_refused(&f, &img, sizeof(img), "extends past the end of the file");

        make_pvh(&img);
        img.ph[0].p_offset = ~0ull - 8;
        expect_refused(&f, &img, sizeof(img), "extends past the end of the file");

        make_pvh(&img);
        img.ph[0].p_memsz = RAM;
        expect_refused(&f, &img, sizeof(img), "does not fit in guest RAM");

        make_pvh(&img);
        img.ph[0].p_paddr = ~0ull - 0x100;
        expect_refused(&f, &img, sizeof(img), "does not fit in guest RAM");

        make_pvh(&img);
        img.ph[0].p_paddr = 0x1000;
        expect_refused(&f, &img, sizeof(img), "below 1 MiB");

        make_pvh(&img);
        img.ph[1] = img.ph[0];
        img.ph[1].p_paddr += 0x1000;
        expect_refused(&f, &img, sizeof(img), "overlap");

        make_pvh(&img);
        img.note.nh.n_type = 1;
        expect_refused(&f, &img, sizeof(img), "without a PVH entry note");

        make_pvh(&img);
        img.note.nh.n_descsz = 4000;
        expect_refused(&f, &img, sizeof(img), "corrupt ELF note");

        make_pvh(&img);
        img.note.entry = 0x900000;
        expect_refused(&f, &img, sizeof(img), "outside the loaded image");

        make_pvh(&img);
        img.eh.e_phnum = 0;
        expect_refused(&f, &img, sizeof(img), "program header table");

        make_pvh(&img);
        img.eh.e_phnum = 60000;
        expect_refused(&f, &img, sizeof(img), "program header table");

        make_pvh(&img);
        img.eh.e_ident[EI_CLASS] = ELFCLASS32;
        expect_refused(&f, &img, sizeof(img), "64-bit ELF");

        make_pvh(&img);
        img.eh.e_machine = EM_AARCH64;
        expect_refused(&f, &img, sizeof(img), "x86-64");

        make_pvh(&img);
        img.ph[0].p_filesz = img.ph[0].p_memsz + 1;
        expect_refused(&f, &img, sizeof(img), "file size larger");

        uint8_t junk[600];
        memset(junk, 0x5a, sizeof(junk));
        expect_refused(&f, junk, sizeof(junk), "neither an ELF kernel");
        expect_refused(&f, junk, 0, "empty file");
        fixture_done(&f);
}
END_TEST

START_TEST(test_pvh_initrd_too_big)
{
        struct fixture f;
        struct pvh_image img;
        struct vmwp_boot boot;
        struct config_error err;
        uint8_t *initrd = calloc(1, RAM);

        fixture_init(&f, RAM);
        make_pvh(&img);
        ck_assert_int_lt(load(&f, &img, sizeof(img), "", initrd, RAM - 0x100000, &boot, &err), 0);
        ck_assert_msg(strstr(err.msg, "initrd /test/initrd") && strstr(err.msg, "do not fit"), "%s", err.msg);
        free(initrd);
        fixture_done(&f);
}
END_TEST

/* A synthetic bzImage: setup sectors, a setup header, and a protected-mode payload. */
#define BZ_SETUP_SECTS 4
#define BZ_SIZE (((BZ_SETUP_SECTS + 1) * 512) + 8192)

static uint8_t *make_bzimage(void)
{
        uint8_t *img = calloc(1, BZ_SIZE);
        struct boot_setup_header h = {
                .setup_sects = BZ_SETUP_SECTS,
                .syssize = 8192 / 16,
                .boot_flag = BOOT_FLAG_MAGIC,
                .header = BOOT_HDR_MAGIC,
                .version = 0x020f,
                .loadflags = BOOT_LOADFLAG_LOADED_HIGH,
                .kernel_alignment = 0x200000,
                .relocatable_kernel = 1,
                .xloadflags = BOOT_XLF_KERNEL_64,
                .cmdline_size = 2047,
                .initrd_addr_max = 0x7fffffff,
                .init_size = 0x400000,
        };

        memcpy(img + BOOT_SETUP_HEADER_OFFSET, &h, sizeof(h));
        img[0x201] = 0x6a;      /* setup header length: up to 0x26c */
        for (size_t i = (BZ_SETUP_SECTS + 1) * 512; i < BZ_SIZE; i++)
                img[i] = (uint8_t)i;
        return img;
}

static struct boot_setup_header *bz_hdr(uint8_t *img)
{
        return (struct boot_setup_header *)(img + BOOT_SETUP_HEADER_OFFSET);
}

START_TEST(test_bzimage_good)
{
        struct fixture f;
        uint8_t *img = make_bzimage();
        struct vmwp_boot boot;
        struct config_error err;
        struct boot_params bp;
        const char initrd[] = "ramdisk!";

        fixture_init(&f, RAM);
        ck_assert_int_eq(load(&f, img, BZ_SIZE, "console=ttyS0", initrd, sizeof(initrd), &boot, &err), 0);
        ck_assert_int_eq(boot.kind, VMWP_BOOT_LINUX64);
        ck_assert_uint_eq(boot.entry, 16 * 1024 * 1024 + 0x200);
        ck_assert_int_eq(memcmp(f.ram + 16 * 1024 * 1024, img + (BZ_SETUP_SECTS + 1) * 512, 8192), 0);
        ck_assert_int_eq(gmem_read(f.mem, boot.info, &bp, sizeof(bp)), 0);
        ck_assert_uint_eq(bp.hdr.header, BOOT_HDR_MAGIC);
        ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
        ck_assert_uint_eq(bp.acpi_rsdp_addr, 0xe0000);
        ck_assert_str_eq((char *)f.ram + bp.hdr.cmd_line_ptr, "console=ttyS0");
        ck_assert_uint_eq(bp.hdr.ramdisk_size, sizeof(initrd));
        ck_assert_int_eq(memcmp(f.ram + bp.hdr.ramdisk_image, initrd, sizeof(initrd)), 0);
        ck_assert_uint_ge(bp.hdr.ramdisk_image, boot.kernel_end);
        ck_assert_uint_ge(bp.e820_entries, 3);
        ck_assert_uint_eq(bp.e820_table[0].addr, 0);
        ck_assert_uint_eq(bp.e820_table[0].type, BOOT_E820_RAM);
        free(img);
        fixture_done(&f);
}
END_TEST

START_TEST(test_bzimage_damage)
{
        struct fixture f;
        uint8_t *img;

        fixture_init(&f, RAM);

        img = make_bzimage();
        expect_refused(&f, img, 0x800, "truncated bzImage");
        free(img);

        img = make_bzimage();
        expect_refused(&f, img, (BZ_SETUP_SECTS + 1) * 512 + 100, "truncated bzImage");
        free(img);

        img = make_bzimage();
        bz_hdr(img)->boot_flag = 0;
        expect_refused(&f, img, BZ_SIZE, "0xAA55");
        free(img);

        img = make_bzimage();
        bz_hdr(img)->version = 0x0204;
        expect_refused(&f, img, BZ_SIZE, "too old");
        free(img);

        img = make_bzimage();
        bz_hdr(img)->xloadflags = 0;
        expect_refused(&f, img, BZ_SIZE, "no 64-bit entry");
        free(img);

        img = make_bzimage();
        bz_hdr(img)->init_size = 0x7fffffff;
        expect_refused(&f, img, BZ_SIZE, "more than guest RAM");
        free(img);

        img = make_bzimage();
        bz_hdr(img)->setup_sects = 200;
        expect_refused(&f, img, BZ_SIZE, "truncated bzImage");
        free(img);

        img = make_bzimage();
        bz_hdr(img)->kernel_alignment = 0x300000;
        expect_refused(&f, img, BZ_SIZE, "kernel_alignment");
        free(img);

        fixture_done(&f);
}
END_TEST

START_TEST(test_bzimage_cmdline_limit)
{
        struct fixture f;
        uint8_t *img = make_bzimage();
        struct vmwp_boot boot;
        struct config_error err;
        char cmdline[300];

        fixture_init(&f, RAM);
        bz_hdr(img)->cmdline_size = 100;
        memset(cmdline, 'a', sizeof(cmdline) - 1);
        cmdline[sizeof(cmdline) - 1] = 0;
        ck_assert_int_lt(load(&f, img, BZ_SIZE, cmdline, NULL, 0, &boot, &err), 0);
        ck_assert_msg(strstr(err.msg, "cmdline:"), "%s", err.msg);
        free(img);
        fixture_done(&f);
}
END_TEST

CHECK_MAIN("boot", test_pvh_good, test_pvh_damage, test_pvh_initrd_too_big, test_bzimage_good,
           test_bzimage_damage, test_bzimage_cmdline_limit)
