/* SPDX-License-Identifier: MIT */
/*
 * Interrupt and exception entry stubs: 256 stubs of 16 bytes each, starting at
 * guest_isr_stubs (the IDT code computes guest_isr_stubs + 16 * vector). Each pushes a zero
 * error code where the CPU pushes none, then the vector, and jumps to a common path that saves
 * the registers as a struct guest_regs (idt.h) and calls C on a 16-byte aligned stack.
 *
 * Exceptions (vectors 0-31) go through trap gates and return with a plain iretq. Interrupts go
 * through interrupt gates and return with `sti; iretq`: in PVM native mode iretq runs natively
 * and does not restore the virtual IF (HOST-NOTES.md); in ring 0 the sti is harmless because the
 * interrupted context always had IF=1.
 */
        .macro  SAVE_REGS
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        .endm

        .macro  RESTORE_REGS
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        .endm

        .section .text, "ax", @progbits
        .code64
        .balign 16
        .globl  guest_isr_stubs
guest_isr_stubs:
        .set    vec, 0
        .rept   256
        .balign 16
        .if     (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        pushq   $0
        .endif
        pushq   $vec
        .if     vec < 32
        jmp     isr_exception_common
        .else
        jmp     isr_irq_common
        .endif
        .set    vec, vec + 1
        .endr
        .balign 16
        .globl  guest_isr_stubs_end
guest_isr_stubs_end:

isr_exception_common:
        cld
        SAVE_REGS
        movq    %rsp, %rdi
        movq    %rsp, %rbx
        andq    $-16, %rsp
        call    guest_isr_exception
        movq    %rbx, %rsp
        RESTORE_REGS
        addq    $16, %rsp
        iretq

isr_irq_common:
        cld
        SAVE_REGS
        movq    %rsp, %rdi
        movq    %rsp, %rbx
        andq    $-16, %rsp
        call    guest_isr_irq
        movq    %rbx, %rsp
        RESTORE_REGS
        addq    $16, %rsp
        sti
        iretq

        .section .note.GNU-stack, "", @progbits
