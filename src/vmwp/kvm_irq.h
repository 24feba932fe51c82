/* SPDX-License-Identifier: MIT */
/*
 * The vmhost fast paths on KVM: KVM_IOEVENTFD doorbells, MSI routes in the GSI routing
 * table, and KVM_IRQFD. Needs only a VM fd with an in-kernel irqchip (KVM_CREATE_IRQCHIP).
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so the state keeps the full table: the
 * default irqchip routes KVM installs at KVM_CREATE_IRQCHIP (GSI 0-23 to IOAPIC pins 0-23,
 * GSI 0-15 also to the PIC pins) and then every MSI route, at GSIs from 24 up.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vmms/vmhost.h"

struct kvm_irq_routing_state;

/* vm_fd is borrowed: it must outlive the state. Nothing is sent to KVM until a route. */
int kvm_irq_routing_new(int vm_fd, struct kvm_irq_routing_state **ret);
void kvm_irq_routing_free(struct kvm_irq_routing_state *s);

int kvm_irq_msi_route_add(struct kvm_irq_routing_state *s, uint64_t addr, uint32_t data,
                          unsigned *ret_gsi);
int kvm_irq_msi_route_update(struct kvm_irq_routing_state *s, unsigned gsi, uint64_t addr,
                             uint32_t data);
int kvm_irq_msi_route_del(struct kvm_irq_routing_state *s, unsigned gsi);
int kvm_irq_irqfd(struct kvm_irq_routing_state *s, unsigned gsi, int fd, bool assign);
int kvm_irq_ioeventfd(struct kvm_irq_routing_state *s, uint64_t addr, unsigned len, int fd,
                      bool assign);

/* The vmhost_ops for a vmhost whose opaque is a struct kvm_irq_routing_state. */
extern const struct vmhost_ops kvm_irq_vmhost_ops;
