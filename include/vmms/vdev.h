/* SPDX-License-Identifier: MIT */
/*
 * Emulated legacy devices (VDevs): one file each in src/vdev/. Each exposes an iobus
 * handler (`*_io`) that the worker registers at the device's ports, and is handed its
 * interrupt line and its callbacks at creation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmms/irq.h"

struct vmstate;
struct vmstate_writer;
struct vdev_serial;
struct vdev_rtc;
struct vdev_pm;

/*
 * Saved state: each device writes its own section (include/vmms/vmstate.h) and reads it
 * back into a device made the same way; load fails with -EINVAL and a message in err for a
 * missing, short or unknown-version section. Only while no vCPU runs.
 */
int vdev_serial_save(struct vdev_serial *s, struct vmstate_writer *w, const char *name);
int vdev_serial_load(struct vdev_serial *s, struct vmstate *st, const char *name, char *err, size_t err_len);
int vdev_rtc_save(struct vdev_rtc *r, struct vmstate_writer *w, const char *name);
int vdev_rtc_load(struct vdev_rtc *r, struct vmstate *st, const char *name, char *err, size_t err_len);
int vdev_pm_save(struct vdev_pm *p, struct vmstate_writer *w, const char *name);
int vdev_pm_load(struct vdev_pm *p, struct vmstate *st, const char *name, char *err, size_t err_len);
/* A section's payload of exactly `len` bytes and version `version`, or the message. */
int vdev_state_get(struct vmstate *st, const char *name, uint32_t version, void *buf, size_t len, char *err,
                   size_t err_len);

/* 8250/16550A UART */
/* Bytes the guest transmits. Called from vCPU threads. */
typedef void (*vdev_serial_tx_fn)(void *opaque, const uint8_t *buf, size_t len);
int vdev_serial_new(const struct irq_line *irq, vdev_serial_tx_fn tx, void *opaque,
                    struct vdev_serial **ret);
void vdev_serial_free(struct vdev_serial *s);
int vdev_serial_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);
/* Queue received bytes for the guest; returns how many were accepted (the rest dropped). */
size_t vdev_serial_receive(struct vdev_serial *s, const uint8_t *buf, size_t len);

/* CMOS RTC (MC146818): time from the host clock, 128 bytes of NVRAM */
int vdev_rtc_new(uint64_t low_mem, uint64_t high_mem, struct vdev_rtc **ret);
void vdev_rtc_free(struct vdev_rtc *r);
int vdev_rtc_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);

/* Platform events a guest can request: power off, reset. */
enum vdev_platform_event {
        VDEV_EVENT_POWEROFF,
        VDEV_EVENT_RESET,
};
typedef void (*vdev_event_fn)(void *opaque, enum vdev_platform_event ev, const char *how);

/* i8042 keyboard controller: only what a guest uses to reset the machine */
struct vdev_i8042;
int vdev_i8042_new(vdev_event_fn ev, void *opaque, struct vdev_i8042 **ret);
void vdev_i8042_free(struct vdev_i8042 *k);
int vdev_i8042_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);

/* ACPI PM1a event and control blocks, the SCI and the power button */
int vdev_pm_new(const struct irq_line *sci, vdev_event_fn ev, void *opaque, struct vdev_pm **ret);
void vdev_pm_free(struct vdev_pm *p);
int vdev_pm_evt_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);
int vdev_pm_cnt_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);
/* Press the power button: PM1 PWRBTN_STS and an SCI, as an ACPI platform does. */
int vdev_pm_power_button(struct vdev_pm *p);
bool vdev_pm_sci_enabled(struct vdev_pm *p);

/* Reset control register at 0xCF9 */
int vdev_reset_cf9_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);
struct vdev_reset_ctl {
        vdev_event_fn ev;
        void *opaque;
        uint8_t value;
};

/* Ports that read as zero and ignore writes (port 0x80 POST codes, ...) */
int vdev_ignore_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write);
