/* SPDX-License-Identifier: MIT */
/*
 * Application-processor start. guest_smp_boot() copies the 16-bit part to
 * GUEST_TRAMPOLINE_ADDR and sends INIT-SIPI-SIPI with vector GUEST_TRAMPOLINE_ADDR >> 12. The AP
 * goes straight from real mode to long mode (CR0.PE and CR0.PG in one write, as EFER.LME is
 * already set) to keep its emulated instruction count small, takes a slot number with
 * lock xadd, loads that slot's stack, switches itself to PVM native mode (the MSR is per vCPU)
 * and calls guest_ap_main(slot).
 */
#include "kernel/boot.h"

        .section .rodata.trampoline, "a", @progbits
        .code16
        .balign 16
        .globl  guest_trampoline_start
guest_trampoline_start:
        cli
        movw    %cs, %ax
        movw    %ax, %ds
        lgdtl   tramp_gdt_desc - guest_trampoline_start
        movl    $guest_boot_pml4, %eax
        movl    %eax, %cr3
        movl    $CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $MSR_EFER, %ecx
        movl    $(EFER_LME | EFER_SCE), %eax
        xorl    %edx, %edx
        wrmsr
        movl    $(CR0_PG | CR0_PE), %eax
        movl    %eax, %cr0
        ljmpl   $GUEST_KERNEL_CS, $guest_ap_start64

        .balign 8
tramp_gdt_desc:
        .word   GUEST_GDT_ENTRIES * 8 - 1
        .long   guest_gdt
        .globl  guest_trampoline_end
guest_trampoline_end:

        .section .text, "ax", @progbits
        .code64
        .globl  guest_ap_start64
        .type   guest_ap_start64, @function
guest_ap_start64:
        movl    $GUEST_KERNEL_DS, %eax
        movl    %eax, %ss
        movl    $1, %ebx
        lock xaddl %ebx, guest_boot + BOOT_AP_NEXT
        cmpl    guest_boot + BOOT_AP_MAX, %ebx
        ja      9f
        movq    guest_boot + BOOT_AP_STACKS, %rax
        movq    (%rax, %rbx, 8), %rsp
        cmpl    $0, guest_boot + BOOT_NATIVE
        je      1f
        movl    $MSR_PVM_NATIVE, %ecx
        movl    $1, %eax
        xorl    %edx, %edx
        wrmsr
        movl    $MSR_STAR, %ecx
        xorl    %eax, %eax
        movl    $GUEST_STAR_NATIVE_HI, %edx
        wrmsr
        movl    $1f, %ecx
        movl    $2, %r11d
        sysretq
1:      cld
        movl    %ebx, %edi
        call    guest_ap_main
        /* An AP without a slot (more APs than the MADT listed) parks here. */
9:      cli
        hlt
        jmp     9b
        .size   guest_ap_start64, . - guest_ap_start64

        .section .note.GNU-stack, "", @progbits
