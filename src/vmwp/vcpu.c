/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO exits to the
 * buses. A vCPU leaves KVM_RUN when kicked (immediate_exit + SIGUSR1) to pause or stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <abi/platform.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmwp.h"

#define SIG_VCPU_KICK SIGUSR1

#define MSR_IA32_MISC_ENABLE 0x000001a0
#define MISC_ENABLE_FAST_STRING 1ull
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI    (4u << 8)
#define APIC_MODE_EXTINT (7u << 8)

static void kick_handler(int sig) { (void)sig; }

int vmwp_vcpu_install_kick_handler(void)
{
        struct sigaction sa = { .sa_handler = kick_handler };   /* no SA_RESTART */

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIG_VCPU_KICK, &sa, NULL) < 0)
                return -errno;
        return 0;
}

int vmwp_vcpu_init(struct vmwp_vm *vm, unsigned index)
{
        struct vmwp_vcpu *c = &vm->vcpus[index];
        int r, mmap_size;

        c->vm = vm;
        c->index = index;
        c->unhandled_rl = (struct ratelimit) RATELIMIT_INIT(5 * 1000000, 10);
        c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
        if (c->fd < 0)
                return -errno;
        mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (mmap_size < 0)
                return -errno;
        c->run_size = (size_t)mmap_size;
        c->run = mmap(NULL, c->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
        if (c->run == MAP_FAILED) {
                c->run = NULL;
                return -errno;
        }
        r = vmwp_cpuid_setup(c, vm->cpuid, vm->n_vcpus, vm->cfg->nested_virtualization);
        if (r < 0)
                return r;

        /* Fast strings, as firmware leaves them. */
        struct {
                struct kvm_msrs hdr;
                struct kvm_msr_entry e[1];
        } msrs = {
                .hdr.nmsrs = 1,
                .e[0] = { .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
        };
        (void)ioctl(c->fd, KVM_SET_MSRS, &msrs);

        /* LINT0 = ExtINT (the PIC) and LINT1 = NMI on every LAPIC, as firmware sets them. */
        struct kvm_lapic_state lapic;
        if (ioctl(c->fd, KVM_GET_LAPIC, &lapic) < 0)
                return -errno;
        uint32_t lint0 = APIC_MODE_EXTINT, lint1 = APIC_MODE_NMI;
        memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, 4);
        memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, 4);
        if (ioctl(c->fd, KVM_SET_LAPIC, &lapic) < 0)
                return -errno;
        return 0;
}

void vmwp_vcpu_done(struct vmwp_vcpu *c)
{
        if (c->run)
                munmap(c->run, c->run_size);
        c->run = NULL;
        c->fd = safe_close(c->fd);
}

static struct kvm_segment seg_flat(uint16_t sel, uint8_t type, bool code64, bool db)
{
        return (struct kvm_segment) {
                .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
                .present = 1, .dpl = 0, .db = db, .s = 1, .l = code64, .g = 1,
        };
}

/* A GDT in guest memory matching the segment state we load: null, -, code, data, TSS. */
#define BOOT_GDT_ADDR 0x500ull
static void write_boot_gdt(struct gmem *mem, bool code64)
{
        uint64_t gdt[4] = {
                0,
                0,
                code64 ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull,  /* 0x10 code */
                0x00cf93000000ffffull,                                    /* 0x18 data */
        };
        gmem_write(mem, BOOT_GDT_ADDR, gdt, sizeof(gdt));
}

int vmwp_vcpu_setup_boot(struct vmwp_vcpu *c, const struct vmwp_boot *boot)
{
        struct kvm_sregs s;
        struct kvm_regs regs = { .rflags = 0x2 };
        bool long_mode = boot->kind == VMWP_BOOT_LINUX64;

        if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
                return -errno;
        write_boot_gdt(c->vm->mem, long_mode);
        s.gdt.base = BOOT_GDT_ADDR;
        s.gdt.limit = 4 * 8 - 1;
        s.cs = seg_flat(0x10, 0xb, long_mode, !long_mode);
        s.ds = s.es = s.fs = s.gs = s.ss = seg_flat(0x18, 0x3, false, true);
        s.tr = (struct kvm_segment) { .selector = 0x20, .type = 0xb, .present = 1, .limit = 0x67 };
        s.ldt = (struct kvm_segment) { .type = 0x2, .present = 1, .limit = 0xffff };

        if (long_mode) {
                /* Linux 64-bit boot protocol: paging on, identity map of 4 GiB. */
                uint64_t pml4 = PLATFORM_BOOT_PGTABLE, pdpt = pml4 + 0x1000, pd = pml4 + 0x2000;
                uint64_t *p;

                p = gmem_translate(c->vm->mem, pml4, 6 * 0x1000);
                if (!p)
                        return -EFAULT;
                memset(p, 0, 6 * 0x1000);
                p[0] = pdpt | 0x3;
                for (unsigned i = 0; i < 4; i++)
                        p[512 + i] = (pd + i * 0x1000ull) | 0x3;
                for (unsigned i = 0; i < 4 * 512; i++)
                        p[1024 + i] = ((uint64_t)i << 21) | 0x83;      /* 2 MiB, present, writable */
                s.cr3 = pml4;
                s.cr4 = 1u << 5;                        /* PAE */
                s.cr0 = 0x80000001u | 0x10;             /* PG, PE, ET */
                s.efer = (1u << 8) | (1u << 10);        /* LME, LMA */
                regs.rsi = boot->info;
        } else {
                /* PVH: 32-bit protected mode, paging off, %ebx = hvm_start_info. */
                s.cr0 = 0x1 | 0x10;
                s.cr3 = 0;
                s.cr4 = 0;
                s.efer = 0;
                regs.rbx = boot->info;
        }
        regs.rip = boot->entry;
        if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0)
                return -errno;
        if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0)
                return -errno;
        return 0;
}

void vmwp_vcpu_kick(struct vmwp_vcpu *c)
{
        if (!c->thread_started)
                return;
        __atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        pthread_kill(c->thread, SIG_VCPU_KICK);
}

void vmwp_vcpu_format_state(struct vmwp_vcpu *c, char *buf, size_t len)
{
        struct kvm_regs r;
        struct kvm_sregs s;

        if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 || ioctl(c->fd, KVM_GET_SREGS, &s) < 0) {
                snprintf(buf, len, "vCPU %u: registers unavailable: %m", c->index);
                return;
        }
        snprintf(buf, len,
                 "vCPU %u registers:\n"
                 "  RIP=%016llx RFLAGS=%016llx\n"
                 "  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
                 "  RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
                 "  R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
                 "  R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
                 "  CS=%04x(base %llx l=%u db=%u dpl=%u) SS=%04x DS=%04x\n"
                 "  CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx EFER=%016llx\n"
                 "  GDT=%016llx/%04x IDT=%016llx/%04x",
                 c->index, r.rip, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
                 r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
                 s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.cs.dpl, s.ss.selector, s.ds.selector,
                 s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}

static void vcpu_pio(struct vmwp_vcpu *c)
{
        struct kvm_run *run = c->run;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

        c->exits_pio++;
        for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
                int r = iobus_dispatch(&c->vm->pio, run->io.port, data, run->io.size, is_write);

                if (r < 0 && log_get_max_level() >= LOG_DEBUG && ratelimit_below(&c->unhandled_rl))
                        log_debug("vCPU %u: unhandled port %s 0x%x size %u: %s", c->index,
                                  is_write ? "write" : "read", run->io.port, run->io.size, strerror(-r));
        }
}

static void vcpu_mmio(struct vmwp_vcpu *c)
{
        struct kvm_run *run = c->run;
        int r;

        c->exits_mmio++;
        if (run->mmio.len == 0 || run->mmio.len > 8)
                return;
        r = iobus_dispatch(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
                           run->mmio.is_write);
        if (r < 0 && log_get_max_level() >= LOG_DEBUG && ratelimit_below(&c->unhandled_rl))
                log_debug("vCPU %u: unhandled MMIO %s 0x%llx size %u: %s", c->index,
                          run->mmio.is_write ? "write" : "read", run->mmio.phys_addr,
                          run->mmio.len, strerror(-r));
}

static void vcpu_crash(struct vmwp_vcpu *c, const char *what)
{
        char regs[2048];

        vmwp_vcpu_format_state(c, regs, sizeof(regs));
        vmwp_vm_request_exit(c->vm, VMWP_EXIT_CRASH, "%s on vCPU %u\n%s", what, c->index, regs);
}

/* Returns false when the thread should leave its loop. */
static bool vcpu_wait_if_paused(struct vmwp_vcpu *c)
{
        struct vmwp_vm *vm = c->vm;
        bool keep_going;

        pthread_mutex_lock(&vm->lock);
        if (vm->pause_requested && !atomic_load(&vm->stop)) {
                vm->n_paused++;
                pthread_cond_broadcast(&vm->cond);
                while (vm->pause_requested && !atomic_load(&vm->stop))
                        pthread_cond_wait(&vm->cond, &vm->lock);
                vm->n_paused--;
        }
        keep_going = !atomic_load(&vm->stop);
        __atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        /* A kick may have raced with the store above; check the flags once more. */
        if (keep_going && (vm->pause_requested || atomic_load(&vm->stop)))
                __atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&vm->lock);
        return keep_going;
}

static void vcpu_loop(struct vmwp_vcpu *c)
{
        struct kvm_run *run = c->run;
        char what[128];

        while (vcpu_wait_if_paused(c)) {
                if (ioctl(c->fd, KVM_RUN, 0) < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        vmwp_vm_request_exit(c->vm, VMWP_EXIT_ERROR, "KVM_RUN failed on vCPU %u: %m",
                                             c->index);
                        return;
                }
                switch (run->exit_reason) {
                case KVM_EXIT_IO:
                        vcpu_pio(c);
                        break;
                case KVM_EXIT_MMIO:
                        vcpu_mmio(c);
                        break;
                case KVM_EXIT_INTR:
                case KVM_EXIT_IRQ_WINDOW_OPEN:
                        break;
                case KVM_EXIT_SHUTDOWN:
                        vcpu_crash(c, "triple fault");
                        return;
                case KVM_EXIT_INTERNAL_ERROR:
                        snprintf(what, sizeof(what), "KVM internal error (suberror %u%s)",
                                 run->internal.suberror,
                                 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? ": emulation failure" : "");
                        vcpu_crash(c, what);
                        return;
                case KVM_EXIT_FAIL_ENTRY:
                        snprintf(what, sizeof(what), "VM entry failed (hardware reason 0x%llx)",
                                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
                        vcpu_crash(c, what);
                        return;
                case KVM_EXIT_SYSTEM_EVENT:
                        if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
                                vmwp_vm_request_exit(c->vm, VMWP_EXIT_RESET, "reset (system event)");
                        else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
                                vmwp_vm_request_exit(c->vm, VMWP_EXIT_POWEROFF, "power off (system event)");
                        else
                                vcpu_crash(c, "guest crash (system event)");
                        break;
                case KVM_EXIT_HLT:
                        /* Only without an in-kernel LAPIC, and ours has one: run again. */
                        break;
                default:
                        snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
                        vcpu_crash(c, what);
                        return;
                }
        }
}

void *vmwp_vcpu_thread(void *arg)
{
        struct vmwp_vcpu *c = arg;
        struct vmwp_vm *vm = c->vm;

        vcpu_loop(c);
        pthread_mutex_lock(&vm->lock);
        vm->n_running--;
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        return NULL;
}
