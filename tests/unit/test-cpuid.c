/* SPDX-License-Identifier: MIT */
/*
 * The CPUID vmwp gives each vCPU (src/vmwp/cpuid.c), from a made-up KVM_GET_SUPPORTED_CPUID:
 * one topology whichever leaf the guest reads, the TSC-deadline timer, and virtualization
 * extensions (VMX, SVM and SVM's leaf) only when nested virtualization is asked for.
 */
#include "check-main.h"
#include <stdlib.h>
#include <string.h>

#include "../../src/vmwp/vmwp.h"

#define VMX (1u << 5)
#define SVM (1u << 2)

static struct kvm_cpuid2 *supported(void)
{
        static const struct kvm_cpuid_entry2 e[] = {
                { .function = 0, .eax = 0xd },
                { .function = 1, .eax = 0x60fb1, .ebx = 0x800, .ecx = VMX | (1u << 21), .edx = 1u << 28 },
                { .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
                { .function = 0x80000000, .eax = 0x8000000a },
                { .function = 0x80000001, .ecx = SVM | 1u },
                { .function = 0x80000008, .ecx = 0 },
                { .function = 0x8000000a, .eax = 1, .ebx = 8, .edx = 0x10010021 },
        };
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(e));

        ck_assert_ptr_nonnull(c);
        c->nent = sizeof(e) / sizeof(e[0]);
        memcpy(c->entries, e, sizeof(e));
        return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
        for (unsigned i = 0; i < c->nent; i++)
                if (c->entries[i].function == fn && c->entries[i].index == idx)
                        return &c->entries[i];
        return NULL;
}

START_TEST(test_no_virtualization_extensions_by_default)
{
        struct kvm_cpuid2 *s = supported(), *c = NULL;

        ck_assert_int_eq(vmwp_cpuid_build(s, 1, 2, false, &c), 0);
        ck_assert_uint_eq(find(c, 1, 0)->ecx & VMX, 0);
        ck_assert_uint_eq(find(c, 0x80000001, 0)->ecx & SVM, 0);
        ck_assert_ptr_null(find(c, 0x8000000a, 0));
        ck_assert_uint_eq(find(c, 1, 0)->ecx & (1u << 31), 1u << 31);  /* hypervisor */
        free(c);
        ck_assert_int_eq(vmwp_cpuid_build(s, 1, 2, true, &c), 0);
        ck_assert_uint_eq(find(c, 1, 0)->ecx & VMX, VMX);
        ck_assert_uint_eq(find(c, 0x80000001, 0)->ecx & SVM, SVM);
        ck_assert_ptr_nonnull(find(c, 0x8000000a, 0));
        free(c);
        free(s);
}
END_TEST

START_TEST(test_topology)
{
        struct kvm_cpuid2 *s = supported(), *c = NULL;

        ck_assert_int_eq(vmwp_cpuid_build(s, 3, 4, false, &c), 0);
        ck_assert_uint_eq(find(c, 1, 0)->ebx >> 24, 3);                 /* APIC id */
        ck_assert_uint_eq((find(c, 1, 0)->ebx >> 16) & 0xff, 4);        /* logical processors */
        ck_assert_uint_eq(find(c, 0xb, 0)->edx, 3);                     /* x2APIC id */
        ck_assert_uint_eq(find(c, 0xb, 1)->ebx, 4);                     /* cores */
        ck_assert_uint_eq(find(c, 0x80000008, 0)->ecx & 0xff, 3);       /* NC = cores - 1 */
        ck_assert_uint_eq(find(c, 0x80000001, 0)->ecx & 2, 2);          /* CmpLegacy */
        free(c);
        free(s);
}
END_TEST

CHECK_MAIN("cpuid", test_no_virtualization_extensions_by_default, test_topology)
