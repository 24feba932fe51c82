/* SPDX-License-Identifier: MIT */
/*
 * CPUID: what KVM supports, with a consistent topology on top: one socket, one core per
 * vCPU, one thread per core, APIC id = vCPU index. Intel leaves (1, 4, 0xB, 0x1F) and AMD
 * leaves (0x80000008) say the same thing, so a guest gets one answer whichever it reads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmms/cleanup.h"
#include "vmms/macro.h"
#include "vmwp.h"

#define CPUID_MAX_ENTRIES 256
#define CPUID1_ECX_X2APIC      (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_HYPERVISOR  (1u << 31)
#define CPUID1_EDX_HTT         (1u << 28)
#define CPUID1_ECX_VMX         (1u << 5)
#define CPUID80000001_ECX_SVM  (1u << 2)

int vmwp_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **ret)
{
        _cleanup_free_ struct kvm_cpuid2 *c = NULL;

        c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
        if (!c)
                return -ENOMEM;
        c->nent = CPUID_MAX_ENTRIES;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
                return -errno;
        /*
         * KVM leaves out what only its in-kernel LAPIC provides: the TSC-deadline timer. A
         * guest without it calibrates the LAPIC timer against the PIT at boot, which goes
         * wrong where time is emulated (nested, PVM): Linux then ran its ticks off the PIT
         * with broadcast IPIs and stalled in SMP boots. QEMU and Firecracker set it too.
         */
        if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
                for (unsigned i = 0; i < c->nent; i++)
                        if (c->entries[i].function == 1)
                                c->entries[i].ecx |= CPUID1_ECX_TSC_DEADLINE;
        *ret = TAKE_PTR(c);
        return 0;
}

static unsigned order_base_2(unsigned n)
{
        unsigned b = 0;

        while ((1u << b) < n)
                b++;
        return b;
}

static void set_topology_leaf(struct kvm_cpuid_entry2 *e, uint32_t function, uint32_t index,
                              unsigned apic_id, unsigned n_vcpus)
{
        /* x2APIC topology: level 0 SMT (1 thread per core), level 1 core (n_vcpus). */
        *e = (struct kvm_cpuid_entry2) {
                .function = function,
                .index = index,
                .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                .edx = apic_id,
        };
        if (index == 0) {
                e->ebx = 1;
                e->ecx = (1u << 8) | index;
        } else if (index == 1) {
                e->eax = order_base_2(n_vcpus);
                e->ebx = n_vcpus;
                e->ecx = (2u << 8) | index;
        } else
                e->ecx = index;
}

int vmwp_cpuid_build(const struct kvm_cpuid2 *supported, unsigned index, unsigned n_vcpus,
                     bool nested_virtualization, struct kvm_cpuid2 **ret)
{
        _cleanup_free_ struct kvm_cpuid2 *cp = NULL;
        unsigned apic_id = index, shift = order_base_2(n_vcpus), n = 0;
        bool has_leaf_b = false;

        cp = calloc(1, sizeof(*cp) + (supported->nent + 3) * sizeof(struct kvm_cpuid_entry2));
        if (!cp)
                return -ENOMEM;

        for (unsigned i = 0; i < supported->nent; i++) {
                struct kvm_cpuid_entry2 *e = &cp->entries[n];

                if (supported->entries[i].function == 0xb) {
                        has_leaf_b = true;
                        continue;       /* rebuilt below with all its subleaves */
                }
                if (supported->entries[i].function == 0x1f)
                        continue;       /* 0xB says it all; don't offer a second view */
                if (supported->entries[i].function == 0x8000000a && !nested_virtualization)
                        continue;       /* SVM's own leaf: only with SVM */
                *e = supported->entries[i];
                n++;
                switch (e->function) {
                case 1:
                        e->ebx = (e->ebx & 0x0000ffffu) | (MIN(n_vcpus, 255u) << 16) | (apic_id << 24);
                        e->ecx |= CPUID1_ECX_HYPERVISOR;
                        /*
                         * Virtualization extensions only when asked for, as Hyper-V
                         * exposes them: a guest that may run its own VMs is more attack
                         * surface, and a stock Linux guest otherwise loads KVM at boot.
                         */
                        if (!nested_virtualization)
                                e->ecx &= ~CPUID1_ECX_VMX;
                        if (n_vcpus > 1)
                                e->edx |= CPUID1_EDX_HTT;
                        else
                                e->edx &= ~CPUID1_EDX_HTT;
                        break;
                case 4:
                        /* Deterministic cache parameters: cores per package - 1 in EAX[31:26]. */
                        if (e->eax & 0x1f)
                                e->eax = (e->eax & 0x03ffffffu) | ((MIN(n_vcpus, 64u) - 1) << 26);
                        break;
                case 0x80000001:
                        /* CmpLegacy: logical processors are cores, not threads. */
                        if (n_vcpus > 1)
                                e->ecx |= 1u << 1;
                        if (!nested_virtualization)
                                e->ecx &= ~CPUID80000001_ECX_SVM;
                        break;
                case 0x80000008:
                        e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (n_vcpus - 1);
                        break;
                }
        }
        if (has_leaf_b)
                for (uint32_t idx = 0; idx < 3; idx++)
                        set_topology_leaf(&cp->entries[n++], 0xb, idx, apic_id, n_vcpus);
        cp->nent = n;
        *ret = TAKE_PTR(cp);
        return 0;
}

int vmwp_cpuid_setup(struct vmwp_vcpu *c, const struct kvm_cpuid2 *supported, unsigned n_vcpus,
                     bool nested_virtualization)
{
        _cleanup_free_ struct kvm_cpuid2 *cp = NULL;
        int r;

        r = vmwp_cpuid_build(supported, c->index, n_vcpus, nested_virtualization, &cp);
        if (r < 0)
                return r;
        if (ioctl(c->fd, KVM_SET_CPUID2, cp) < 0)
                return -errno;
        return 0;
}
