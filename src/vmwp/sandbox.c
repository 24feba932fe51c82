/* SPDX-License-Identifier: MIT */
/*
 * The worker's checks of its cage and its own seccomp allowlist: see sandbox.h.
 *
 * The list below was gathered with strace over the kvm, storage, network, integration
 * services and vmms integration suites (everything after setup: each boot of the VM
 * builds it again, so a reboot exercises the same calls as the first boot).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/sockios.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "vmms/macro.h"
#include "sandbox.h"

/*
 * The one file-scope variable outside main.c: a signal handler has no other way to find
 * the fd it reports to. Written once, before the filter is installed.
 */
static int sigsys_report_fd = -1;

int vmwp_sandbox_check(char *why, size_t len)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        int r;

        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
            ru == 0 || eu == 0 || su == 0 || rg == 0 || eg == 0 || sg == 0) {
                snprintf(why, len, "it runs as root (uid %u, gid %u)", (unsigned)geteuid(), (unsigned)getegid());
                return -EPERM;
        }
        if (syscall(SYS_capget, &h, d) < 0) {
                snprintf(why, len, "cannot read its capabilities: %s", strerror(errno));
                return -EPERM;
        }
        for (size_t i = 0; i < ARRAY_SIZE(d); i++)
                if (d[i].effective || d[i].permitted || d[i].inheritable) {
                        snprintf(why, len, "it has capabilities (effective %#x, permitted %#x, inheritable %#x)",
                                 d[i].effective, d[i].permitted, d[i].inheritable);
                        return -EPERM;
                }
        for (int cap = 0; cap < 64; cap++) {
                r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (r < 0)
                        break;          /* past the last capability this kernel knows */
                if (r > 0) {
                        snprintf(why, len, "its capability bounding set is not empty (capability %d)", cap);
                        return -EPERM;
                }
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0) {
                        snprintf(why, len, "it has ambient capabilities (capability %d)", cap);
                        return -EPERM;
                }
        }
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
                snprintf(why, len, "no_new_privs is not set");
                return -EPERM;
        }
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) {
                snprintf(why, len, "it runs without a seccomp filter");
                return -EPERM;
        }
        return 0;
}

/* Async-signal-safe: a decimal number into buf, returns the length. */
static size_t fmt_uint(char *buf, unsigned long v)
{
        char tmp[24];
        size_t n = 0, k = 0;

        do
                tmp[n++] = (char)('0' + v % 10);
        while ((v /= 10) && n < sizeof(tmp));
        while (n)
                buf[k++] = tmp[--n];
        return k;
}

static void on_sigsys(int sig, siginfo_t *si, void *ucontext)
{
        char line[64];
        size_t n = 0;
        ssize_t w;

        memcpy(line, "seccomp ", 8);
        n = 8;
        n += fmt_uint(line + n, (unsigned long)(unsigned)si->si_syscall);
        line[n++] = ' ';
        n += fmt_uint(line + n, (unsigned long)si->si_arch);
        line[n++] = '\n';
        if (sigsys_report_fd >= 0)
                w = write(sigsys_report_fd, line, n);
        w = write(STDERR_FILENO, "vmwp: ", 6);
        w = write(STDERR_FILENO, line, n);
        (void)w;
        /*
         * Die by SIGSYS. SA_RESETHAND made the disposition the default again; a forced
         * SIGSYS with the default disposition kills even a PID namespace's init (which
         * the worker is), so trap once more on a call no filter allows.
         */
        syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 0UL);
        _exit(128 + SIGSYS);
}

/* Every ioctl request the worker makes after setup: KVM (running, saving and restoring), TAP (and the MTU query through a
 * socket), the block-device size, the stdio console's terminal. Matched on the request. */
static const unsigned long allowed_ioctls[] = {
        KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE,
        KVM_GET_SUPPORTED_CPUID, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR,
        KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_IRQ_LINE, KVM_CREATE_VCPU, KVM_SET_CPUID2, KVM_SET_MSRS,
        KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_RUN,
        KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD,
        /* saved state (save.c) */
        KVM_GET_MSR_INDEX_LIST, KVM_GET_MSRS, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_SET_XSAVE, KVM_GET_XCRS,
        KVM_SET_XCRS, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_MP_STATE, KVM_SET_MP_STATE,
        KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_GET_CPUID2, KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_PIT2,
        KVM_SET_PIT2, KVM_GET_CLOCK, KVM_SET_CLOCK,
        TUNGETIFF, TUNGETSNDBUF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, TUNSETQUEUE, SIOCGIFMTU,
        BLKGETSIZE64,
        TCGETS, TCSETS,
};

/* Unconditionally allowed. */
static const int allowed_syscalls[] = {
        /* I/O on the fds it holds */
        SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
        SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
        SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(fcntl), SCMP_SYS(fstat),
        SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(fallocate), SCMP_SYS(fdatasync), SCMP_SYS(fsync),
        SCMP_SYS(ftruncate),
        /* the event loops: sd-event, the I/O threads */
        SCMP_SYS(eventfd2), SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(poll), SCMP_SYS(ppoll),
        SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime), SCMP_SYS(signalfd4),
        /* io_uring (the storage VSP) */
        SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
        /* memory: guest RAM is a memfd, made again at every boot */
        SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(memfd_create),
        SCMP_SYS(sysinfo),
        /* threads */
        SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(exit), SCMP_SYS(exit_group),
        SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(getcpu),
        /* signals: the vCPU kick, sd-event's signalfd */
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(tgkill), SCMP_SYS(getpid),
        SCMP_SYS(gettid), SCMP_SYS(restart_syscall),
        /* the control and console sockets */
        SCMP_SYS(accept4), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
        SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(shutdown), SCMP_SYS(unlink),
        SCMP_SYS(unlinkat), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
        /* time */
        SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep), SCMP_SYS(getrandom),
#ifdef VMMS_SANITIZERS
        /* The sanitizer runtimes: /proc/self/maps, LeakSanitizer's thread stopper (it
         * clones a tracer that ptraces the worker's threads), its output. */
        SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(getdents), SCMP_SYS(getdents64), SCMP_SYS(stat),
        SCMP_SYS(lstat), SCMP_SYS(pipe), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
        SCMP_SYS(sigaltstack), SCMP_SYS(personality), SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid),
        SCMP_SYS(prctl), SCMP_SYS(clone), SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(mincore),
        SCMP_SYS(kill), SCMP_SYS(getppid), SCMP_SYS(pipe2), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit),
        SCMP_SYS(setrlimit), SCMP_SYS(uname), SCMP_SYS(dup2), SCMP_SYS(rt_sigaction), SCMP_SYS(sched_getparam),
        SCMP_SYS(getpriority), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(exit_group),
        SCMP_SYS(set_tid_address), SCMP_SYS(arch_prctl),
#endif
};

static int add_rules(scmp_filter_ctx ctx)
{
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(allowed_syscalls); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], 0);
                if (r < 0 && r != -EEXIST)
                        return r;
        }
        for (size_t i = 0; i < ARRAY_SIZE(allowed_ioctls); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i] & 0xffffffffu));
                if (r < 0)
                        return r;
        }
#ifndef VMMS_SANITIZERS
        /* W^X: no new executable memory (no JIT here; libraries are mapped at exec). */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
            (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0)
                return r;
        /* Threads only: clone() must share the thread group (no new processes, no namespaces). */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD))) < 0)
                return r;
        /* Files come as fds: a path has nothing to name in the cage. The fallbacks that
         * open paths (for a worker run --unconfined) fail cleanly instead of killing the VM. */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0)) < 0 ||
            (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0)) < 0)
                return r;
#endif
        /* glibc installs its thread-cancellation handler with the first thread; the SIGSYS
         * handler that reports a violation stays as it is. */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
                                  SCMP_A0(SCMP_CMP_NE, SIGSYS))) < 0)
                return r;
        /* clone3() hides its flags from the filter: glibc falls back to clone(). */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
                return r;
        /* The TAP MTU query: a datagram socket in the worker's own (empty) network namespace. */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_INET),
                                  SCMP_A1(SCMP_CMP_EQ, SOCK_DGRAM | SOCK_CLOEXEC))) < 0 ||
            (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
                                  SCMP_A1(SCMP_CMP_EQ, SOCK_DGRAM | SOCK_CLOEXEC))) < 0)
                return r;
        return 0;
}

int vmwp_sandbox_install(int report_fd)
{
        struct sigaction sa = {
                .sa_sigaction = on_sigsys,
                .sa_flags = SA_SIGINFO | SA_RESETHAND,
        };
        scmp_filter_ctx ctx;
        sigset_t set;
        int r;

        sigsys_report_fd = report_fd;
        if (sigaction(SIGSYS, &sa, NULL) < 0)
                return -errno;
        sigemptyset(&set);
        sigaddset(&set, SIGSYS);
        (void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
#ifndef VMMS_SANITIZERS
        /* Nobody but root reads our memory, not even a process of the same uid. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
        ctx = seccomp_init(SCMP_ACT_TRAP);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r >= 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);    /* threads that exist already */
        if (r >= 0)
                r = add_rules(ctx);
        if (r >= 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        return r;
}

int vmwp_sandbox_call_forbidden(const char *name)
{
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR || nr < 0)
                return -EINVAL;
        /* What the filter allows is not made (exit would end a thread, not test anything). */
        for (size_t i = 0; i < ARRAY_SIZE(allowed_syscalls); i++)
                if (allowed_syscalls[i] == nr)
                        return -EPERM;
        if (nr == SCMP_SYS(clone) || nr == SCMP_SYS(rt_sigaction) || nr == SCMP_SYS(clone3))
                return -EPERM;
        /* Harmless arguments: invalid for every call that could do anything. */
        syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
        return -EPERM;
}
