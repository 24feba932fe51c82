/* SPDX-License-Identifier: MIT */
/*
 * PVH entry. Everything up to the `sysretq` below runs emulated on a PVM host (about 1 µs per
 * instruction), so this path is kept to a few dozen instructions: the page tables are built by
 * the assembler, not at run time, and every mapping level has U=1 so that the same tables serve
 * PVM's native mode.
 *
 *   32-bit, paging off, %ebx = struct hvm_start_info
 *     -> CR3, CR4.PAE, EFER.LME|SCE, lgdt, CR0.PG, far jump to 64-bit
 *     -> #GP gate, CPUID snapshot (plain CPUID shows the outer host once native)
 *     -> rdmsr MSR_PVM_PROBE: "PVM" -> wrmsr MSR_PVM_NATIVE, STAR, sysretq to CS 0x33
 *                             #GP   -> the early handler skips the rdmsr, stay in ring 0
 *     -> clear .bss, guest_main(start_info)
 */
#include "kernel/boot.h"

/* The PVH ELF note: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, desc = 32-bit entry address. */
        .section .note.Xen, "a", @note
        .balign 4
        .long   4                       /* namesz */
        .long   4                       /* descsz */
        .long   XEN_NOTE_PHYS32_ENTRY
        .asciz  "Xen"
        .long   pvh_start32
        .balign 4

        .section .text.boot, "ax", @progbits
        .code32
        .globl  pvh_start32
        .type   pvh_start32, @function
pvh_start32:
        rdtsc
        movl    %eax, guest_boot + BOOT_ENTRY_TSC
        movl    %edx, guest_boot + BOOT_ENTRY_TSC + 4
        movl    %ebx, guest_boot + BOOT_START_INFO
        movl    $guest_boot_pml4, %eax
        movl    %eax, %cr3
        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $(EFER_LME | EFER_SCE), %eax
        wrmsr
        lgdt    guest_gdt_desc
        movl    %cr0, %eax
        orl     $(CR0_PG | CR0_PE), %eax
        movl    %eax, %cr0
        ljmp    $GUEST_KERNEL_CS, $start64

        .code64
start64:
        movl    $GUEST_KERNEL_DS, %eax
        movl    %eax, %ss
        movl    $(guest_boot_stack + GUEST_STACK_SIZE), %esp

        /* Just the #GP gate, for the probe below; C fills the whole IDT later. */
        movl    $early_gp, %eax
        movw    %ax, guest_idt + 13 * 16
        movl    $((0x8e00 << 16) | GUEST_KERNEL_CS), guest_idt + 13 * 16 + 2
        shrl    $16, %eax
        movw    %ax, guest_idt + 13 * 16 + 6
        lidt    guest_idt_desc

        movl    $1, %eax
        cpuid
        movl    %eax, guest_boot + BOOT_CPUID1
        movl    %ebx, guest_boot + BOOT_CPUID1 + 4
        movl    %ecx, guest_boot + BOOT_CPUID1 + 8
        movl    %edx, guest_boot + BOOT_CPUID1 + 12
        movl    $0x40000000, %eax
        cpuid
        movl    %eax, guest_boot + BOOT_CPUID_HV
        movl    %ebx, guest_boot + BOOT_CPUID_HV + 4
        movl    %ecx, guest_boot + BOOT_CPUID_HV + 8
        movl    %edx, guest_boot + BOOT_CPUID_HV + 12
        movl    $0x40000001, %eax
        cpuid
        movl    %eax, guest_boot + BOOT_CPUID_HV_FEAT

        /* Probe PVM; on other hosts the rdmsr raises #GP, early_gp skips it, %eax stays 0. */
        xorl    %eax, %eax
        xorl    %edx, %edx
        movl    $MSR_PVM_PROBE, %ecx
        rdmsr
        cmpl    $PVM_PROBE_VALUE, %eax
        jne     1f
        movl    $MSR_PVM_NATIVE, %ecx
        movl    $1, %eax
        xorl    %edx, %edx
        wrmsr
        movl    $MSR_STAR, %ecx
        xorl    %eax, %eax
        movl    $GUEST_STAR_NATIVE_HI, %edx
        wrmsr
        movl    $1, guest_boot + BOOT_NATIVE
        movl    $1f, %ecx
        movl    $2, %r11d
        sysretq

        /* From here on: native on PVM, ring 0 elsewhere. */
1:      rdtsc
        movl    %eax, guest_boot + BOOT_NATIVE_TSC
        movl    %edx, guest_boot + BOOT_NATIVE_TSC + 4
        cld
        movl    $_bss_start, %edi
        movl    $_bss_end, %ecx
        subl    %edi, %ecx
        shrl    $3, %ecx
        xorl    %eax, %eax
        rep stosq
        movl    guest_boot + BOOT_START_INFO, %edi
        call    guest_main
2:      ud2
        jmp     2b
        .size   pvh_start32, . - pvh_start32

        /* #GP during the probe: skip the 2-byte rdmsr, drop the error code. */
early_gp:
        addq    $2, 8(%rsp)
        addq    $8, %rsp
        iretq

        .section .data, "aw", @progbits
        .balign 64
        .globl  guest_boot
        .type   guest_boot, @object
guest_boot:
        .fill   BOOT_SIZE, 1, 0
        .size   guest_boot, BOOT_SIZE

        .balign 16
        .globl  guest_gdt
        .type   guest_gdt, @object
guest_gdt:
        .quad   0                       /* null */
        .quad   0x00af9b000000ffff      /* 0x08: 64-bit code, DPL 0 */
        .quad   0x00cf93000000ffff      /* 0x10: data, DPL 0 */
        .quad   0x00cf9b000000ffff      /* 0x18: 32-bit code, DPL 0 */
        .quad   0                       /* 0x20 */
        .quad   0x00cff3000000ffff      /* 0x28: data, DPL 3 (PVM native SS 0x2b) */
        .quad   0x00affb000000ffff      /* 0x30: 64-bit code, DPL 3 (PVM native CS 0x33) */
guest_gdt_end:
        .size   guest_gdt, . - guest_gdt

        .balign 8
        .word   0
        .globl  guest_gdt_desc
guest_gdt_desc:
        .word   guest_gdt_end - guest_gdt - 1
        .quad   guest_gdt

        .balign 8
        .word   0
        .globl  guest_idt_desc
guest_idt_desc:
        .word   256 * 16 - 1
        .quad   guest_idt

/*
 * Identity map of the first 4 GiB with 2 MiB pages, U=1 at every level. Entries from
 * 0xb0000000 (PLATFORM_LOW_RAM_END: ECAM, PCI MMIO, IOAPIC, LAPIC) are uncached.
 */
        .section .data.pgtable, "aw", @progbits
        .balign 4096
        .globl  guest_boot_pml4
guest_boot_pml4:
        .quad   guest_boot_pdpt + PTE_TABLE
        .fill   511, 8, 0
        .globl  guest_boot_pdpt
guest_boot_pdpt:
        .quad   guest_boot_pd + 0 * 4096 + PTE_TABLE
        .quad   guest_boot_pd + 1 * 4096 + PTE_TABLE
        .quad   guest_boot_pd + 2 * 4096 + PTE_TABLE
        .quad   guest_boot_pd + 3 * 4096 + PTE_TABLE
        .fill   508, 8, 0
guest_boot_pd:
        .set    pde, 0
        .rept   2048
        .if     pde >= 0x580
        .quad   (pde << 21) | PTE_LARGE | PTE_PCD | PTE_PWT
        .else
        .quad   (pde << 21) | PTE_LARGE
        .endif
        .set    pde, pde + 1
        .endr

        .section .bss, "aw", @nobits
        .balign GUEST_STACK_SIZE
        .globl  guest_boot_stack
guest_boot_stack:
        .skip   GUEST_STACK_SIZE

        .section .note.GNU-stack, "", @progbits
