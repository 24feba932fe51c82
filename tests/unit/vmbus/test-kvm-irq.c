/* SPDX-License-Identifier: MIT */
/*
 * The KVM side of the fast paths: MSI routes in the GSI routing table (which must keep the
 * irqchip defaults), irqfd injection into the in-kernel LAPIC, ioeventfd registration.
 * Needs /dev/kvm (exit 77 without it).
 */
#include "check-main.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_irq.h"

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_irq_routing_state *st;

static void setup(void)
{
        kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(kvm_fd, 0);
        vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
        ck_assert_int_ge(vm_fd, 0);
        ck_assert_int_eq(ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0), 0);
        vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
        ck_assert_int_ge(vcpu_fd, 0);
        ck_assert_int_eq(kvm_irq_routing_new(vm_fd, &st), 0);
}

static void teardown(void)
{
        kvm_irq_routing_free(st);
        close(vcpu_fd);
        close(vm_fd);
        close(kvm_fd);
}

/* Software-enable the LAPIC so that it accepts fixed interrupts. */
static void lapic_enable(void)
{
        struct kvm_lapic_state l;
        uint32_t svr;

        ck_assert_int_eq(ioctl(vcpu_fd, KVM_GET_LAPIC, &l), 0);
        memcpy(&svr, l.regs + 0xf0, 4);
        svr |= 0x100;
        memcpy(l.regs + 0xf0, &svr, 4);
        ck_assert_int_eq(ioctl(vcpu_fd, KVM_SET_LAPIC, &l), 0);
}

static bool lapic_irr(unsigned vector)
{
        struct kvm_lapic_state l;
        uint32_t irr;

        ck_assert_int_eq(ioctl(vcpu_fd, KVM_GET_LAPIC, &l), 0);
        memcpy(&irr, l.regs + 0x200 + 0x10 * (vector / 32), 4);
        return irr & (1u << (vector % 32));
}

static bool wait_irr(unsigned vector)
{
        for (int i = 0; i < 2000; i++) {
                if (lapic_irr(vector))
                        return true;
                usleep(1000);
        }
        return false;
}

START_TEST(test_routes_and_irqfd)
{
        unsigned g1, g2, g3;
        int efd = eventfd(0, EFD_CLOEXEC);

        ck_assert_int_ge(efd, 0);
        lapic_enable();
        ck_assert_int_eq(kvm_irq_msi_route_add(st, 0xfee00000, 0x41, &g1), 0);
        ck_assert_int_eq(kvm_irq_msi_route_add(st, 0xfee00000, 0x42, &g2), 0);
        ck_assert_int_eq(kvm_irq_msi_route_add(st, 0xfee00000, 0x43, &g3), 0);
        ck_assert_uint_ge(g1, 24);
        ck_assert_uint_ne(g1, g2);
        ck_assert_uint_ne(g2, g3);
        ck_assert_int_eq(kvm_irq_msi_route_del(st, g2), 0);
        ck_assert_int_eq(kvm_irq_msi_route_del(st, g2), -ENOENT);
        ck_assert_int_eq(kvm_irq_msi_route_update(st, g2, 0xfee00000, 1), -ENOENT);

        /* An irqfd on g3 raises vector 0x43 in the LAPIC, no vCPU exit involved. */
        ck_assert_int_eq(kvm_irq_irqfd(st, g3, efd, true), 0);
        ck_assert(!lapic_irr(0x43));
        ck_assert_int_eq(eventfd_write(efd, 1), 0);
        ck_assert(wait_irr(0x43));
        /* Re-route g3 to vector 0x51: the same irqfd now raises the new vector. */
        ck_assert_int_eq(kvm_irq_msi_route_update(st, g3, 0xfee00000, 0x51), 0);
        ck_assert_int_eq(eventfd_write(efd, 1), 0);
        ck_assert(wait_irr(0x51));
        ck_assert_int_eq(kvm_irq_irqfd(st, g3, efd, false), 0);

        /* The default irqchip routes survived our table replacements: a GSI 0-23 irqfd works. */
        ck_assert_int_eq(kvm_irq_irqfd(st, 4, efd, true), 0);
        ck_assert_int_eq(kvm_irq_irqfd(st, 4, efd, false), 0);
        close(efd);
}
END_TEST

START_TEST(test_ioeventfd)
{
        int efd = eventfd(0, EFD_CLOEXEC);

        ck_assert_int_eq(kvm_irq_ioeventfd(st, 0xc0003000, 2, efd, true), 0);
        ck_assert_int_eq(kvm_irq_ioeventfd(st, 0xc0003000, 2, efd, true), -EEXIST);
        ck_assert_int_eq(kvm_irq_ioeventfd(st, 0xc0003000, 2, efd, false), 0);
        ck_assert_int_eq(kvm_irq_ioeventfd(st, 0xc0003000, 2, efd, false), -ENOENT);
        /* The vmhost_ops table reaches the same calls. */
        ck_assert_int_eq(kvm_irq_vmhost_ops.ioeventfd(st, 0xc0003004, 2, efd, true), 0);
        ck_assert_int_eq(kvm_irq_vmhost_ops.ioeventfd(st, 0xc0003004, 2, efd, false), 0);
        close(efd);
}
END_TEST

START_TEST(test_many_routes)
{
        unsigned g, n = 0;

        while (kvm_irq_msi_route_add(st, 0xfee00000, 0x40, &g) == 0)
                n++;
        ck_assert_uint_ge(n, 200);
        ck_assert_int_eq(kvm_irq_msi_route_add(st, 0xfee00000, 0x40, &g), -ENOSPC);
}
END_TEST

int main(void)
{
        Suite *s;
        TCase *tc;
        int fd;

        /* Before the suite exists: a skip leaves nothing allocated (LeakSanitizer). */
        fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                printf("skipped: /dev/kvm: %s\n", strerror(errno));
                return 77;
        }
        close(fd);
        s = suite_create("kvm-irq");
        tc = tcase_create("kvm");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_routes_and_irqfd);
        tcase_add_test(tc, test_ioeventfd);
        tcase_add_test(tc, test_many_routes);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
