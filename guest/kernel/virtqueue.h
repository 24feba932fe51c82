/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, driver side (virtio 1.2 section 2.7): a descriptor free list threaded
 * through the descriptors' next fields, direct and indirect chains, the available ring written
 * here and the used ring read here, with EVENT_IDX (used_event/avail_event) when negotiated.
 *
 * Not locked: one CPU drives a queue. Everything on the data path is plain memory except the
 * doorbell (one MMIO write, caught by an ioeventfd on vmwp), which guest_vq_kick() skips when the
 * device said it does not need it.
 */
#pragma once

#include <abi/virtio.h>

#include <stdbool.h>
#include <stdint.h>

/* One buffer of a chain: guest-physical (= virtual) address and length. */
struct guest_vq_sg {
        uint64_t addr;
        uint32_t len;
};

enum guest_vq_mode {
        GUEST_VQ_AUTO,          /* indirect when negotiated and the chain has more than one buffer */
        GUEST_VQ_DIRECT,
        GUEST_VQ_INDIRECT,
};

struct guest_vq_slot {
        void *cookie;           /* NULL: the head is not in use */
        uint16_t ndesc;         /* descriptors this chain holds in the ring's table */
};

struct guest_vq {
        uint16_t index;
        uint16_t size;          /* power of two */
        bool event_idx;
        bool indirect;          /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
        bool callbacks;         /* used buffer notifications wanted (interrupt mode) */
        bool broken;            /* the device returned a bad used entry */

        struct virtq_desc *desc;
        struct virtq_avail *avail;
        struct virtq_used *used;
        volatile uint16_t *used_event;  /* in the driver area, after ring[size] */
        volatile uint16_t *avail_event; /* in the device area, after ring[size] */
        uint64_t notify_addr;

        uint16_t free_head, num_free;
        uint16_t avail_idx;             /* shadow of avail->idx */
        uint16_t kicked_idx;            /* avail_idx at the last notification decision */
        uint16_t last_used;             /* next used entry to read */
        uint16_t inflight;              /* chains added and not yet used */
        struct guest_vq_slot *slots;    /* [size], by head */
        struct virtq_desc *indirect_tables;     /* [size][indirect_max], by head */
        uint16_t indirect_max;

        /* Memory, allocated once and kept over device resets */
        uint64_t mem;
        uint64_t mem_size;
        uint16_t mem_queue_size;

        /* Interrupt */
        int msix_entry;                 /* -1: none */
        int vector;                     /* IDT vector, -1: none */
        uint32_t apic_id;
        volatile uint64_t irqs;

        /* Statistics */
        uint64_t added, completed, notifies, notifies_suppressed, bad_used;
};

/* Memory for a queue of up to `size` entries and chains of up to indirect_max indirect descriptors. */
int guest_vq_alloc(struct guest_vq *vq, uint16_t size, uint16_t indirect_max);
/* Empty rings and a full free list for queue size `size` (<= the allocated one). */
void guest_vq_init(struct guest_vq *vq, uint16_t index, uint16_t size, bool event_idx, bool indirect);

uint64_t guest_vq_desc_addr(const struct guest_vq *vq);
uint64_t guest_vq_driver_addr(const struct guest_vq *vq);
uint64_t guest_vq_device_addr(const struct guest_vq *vq);

/*
 * Add a chain: out device-readable buffers, then in device-writable ones. Publishes it in the
 * available ring (no notification: guest_vq_kick() after a batch). -ENOSPC when full.
 */
int guest_vq_add(struct guest_vq *vq, const struct guest_vq_sg *sg, unsigned out, unsigned in, void *cookie,
                 enum guest_vq_mode mode);
/* Descriptors a chain of n buffers needs in this mode (1 for indirect). */
unsigned guest_vq_descs_needed(const struct guest_vq *vq, unsigned n, enum guest_vq_mode mode);

/* Does the device want a notification for what was added since the last kick? (Also records it.) */
bool guest_vq_kick_prepare(struct guest_vq *vq);
void guest_vq_notify(struct guest_vq *vq);
/* kick_prepare + notify; returns whether it notified. */
bool guest_vq_kick(struct guest_vq *vq);

/* Is a used entry waiting? */
static inline bool guest_vq_has_used(const struct guest_vq *vq)
{
        return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used;
}
/* The next used chain's cookie and written length, or NULL. Frees its descriptors. */
void *guest_vq_get_used(struct guest_vq *vq, uint32_t *ret_len);

/* Poll mode: ask the device for no used buffer notifications. */
void guest_vq_disable_cb(struct guest_vq *vq);
/*
 * Interrupt mode: ask for a notification when `batch` more (at least 1) of the outstanding chains
 * are used. Returns false if used entries are already waiting (do not sleep then).
 */
bool guest_vq_enable_cb(struct guest_vq *vq, uint16_t batch);

/* Chains added and not yet used. */
static inline uint16_t guest_vq_outstanding(const struct guest_vq *vq)
{
        return vq->inflight;
}
