/* SPDX-License-Identifier: MIT */
/*
 * ACPI fixed hardware: PM1a event block (status, enable) and control block. SLP_EN with
 * SLP_TYP = S5 powers the machine off; the power button sets PWRBTN_STS and raises the
 * SCI (a level interrupt) while the guest has it enabled. There is no SMI_CMD port, so the
 * platform starts in ACPI mode with SCI_EN set.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <abi/platform.h>

#include "vmms/macro.h"
#include "vmms/vdev.h"
#include "vmms/vmstate.h"

struct vdev_pm {
        pthread_mutex_t lock;
        struct irq_line sci;
        vdev_event_fn ev;
        void *opaque;
        uint16_t sts, en, cnt;
        bool sci_level;
};

int vdev_pm_new(const struct irq_line *sci, vdev_event_fn ev, void *opaque, struct vdev_pm **ret)
{
        struct vdev_pm *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        if (sci)
                p->sci = *sci;
        p->ev = ev;
        p->opaque = opaque;
        p->cnt = PM1_CNT_SCI_EN;
        *ret = p;
        return 0;
}

void vdev_pm_free(struct vdev_pm *p)
{
        if (!p)
                return;
        pthread_mutex_destroy(&p->lock);
        free(p);
}

static void pm_update_sci(struct vdev_pm *p)
{
        bool level;

        assert_held(&p->lock);
        level = (p->cnt & PM1_CNT_SCI_EN) && (p->sts & p->en);

        if (level != p->sci_level) {
                p->sci_level = level;
                irq_line_set(&p->sci, level);
        }
}

static void reg16_access(uint16_t *reg, unsigned byte, void *data, unsigned len, bool is_write,
                         bool write_one_to_clear)
{
        for (unsigned i = 0; i < len && byte + i < 2; i++) {
                unsigned shift = 8 * (byte + i);
                uint8_t *b = (uint8_t *)data + i;

                if (!is_write)
                        *b = (uint8_t)(*reg >> shift);
                else if (write_one_to_clear)
                        *reg = (uint16_t)(*reg & ~((uint16_t)*b << shift));
                else
                        *reg = (uint16_t)((*reg & ~(0xffu << shift)) | ((unsigned)*b << shift));
        }
}

int vdev_pm_evt_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        struct vdev_pm *p = opaque;

        if (!is_write)
                memset(data, 0, len);
        pthread_mutex_lock(&p->lock);
        if (offset < 2)
                reg16_access(&p->sts, (unsigned)offset, data, MIN(len, 2 - (unsigned)offset), is_write, true);
        if (offset + len > 2) {
                unsigned skip = offset < 2 ? 2 - (unsigned)offset : 0;

                reg16_access(&p->en, (unsigned)(offset + skip - 2), (uint8_t *)data + skip,
                             len - skip, is_write, false);
        }
        pm_update_sci(p);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

int vdev_pm_cnt_io(void *opaque, uint64_t offset, void *data, unsigned len, bool is_write)
{
        struct vdev_pm *p = opaque;
        unsigned slp_typ;
        bool sleep = false;

        if (!is_write)
                memset(data, 0, len);
        pthread_mutex_lock(&p->lock);
        reg16_access(&p->cnt, (unsigned)offset, data, len, is_write, false);
        if (is_write && (p->cnt & PM1_CNT_SLP_EN)) {
                slp_typ = (p->cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
                p->cnt &= (uint16_t)~PM1_CNT_SLP_EN;    /* SLP_EN always reads 0 */
                sleep = slp_typ == PLATFORM_SLP_TYP_S5;
        }
        p->cnt |= PM1_CNT_SCI_EN;       /* no legacy mode to go back to */
        pm_update_sci(p);
        pthread_mutex_unlock(&p->lock);
        if (sleep && p->ev)
                p->ev(p->opaque, VDEV_EVENT_POWEROFF, "ACPI S5 (PM1a_CNT SLP_EN)");
        return 0;
}

int vdev_pm_power_button(struct vdev_pm *p)
{
        pthread_mutex_lock(&p->lock);
        p->sts |= PM1_STS_PWRBTN;
        pm_update_sci(p);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

bool vdev_pm_sci_enabled(struct vdev_pm *p)
{
        bool r;

        pthread_mutex_lock(&p->lock);
        r = (p->en & PM1_EN_PWRBTN) != 0;
        pthread_mutex_unlock(&p->lock);
        return r;
}

/* Saved state, version 1: PM1 status, enable and control. */
#define PM_STATE_VERSION 1u
struct pm_state {
        uint16_t sts, en, cnt, pad;
};

int vdev_pm_save(struct vdev_pm *p, struct vmstate_writer *w, const char *name)
{
        struct pm_state st;

        pthread_mutex_lock(&p->lock);
        st = (struct pm_state) { .sts = p->sts, .en = p->en, .cnt = p->cnt };
        pthread_mutex_unlock(&p->lock);
        return vmstate_put(w, name, PM_STATE_VERSION, &st, sizeof(st));
}

int vdev_pm_load(struct vdev_pm *p, struct vmstate *stt, const char *name, char *err, size_t err_len)
{
        struct pm_state st;
        int r = vdev_state_get(stt, name, PM_STATE_VERSION, &st, sizeof(st), err, err_len);

        if (r < 0)
                return r;
        pthread_mutex_lock(&p->lock);
        p->sts = st.sts;
        p->en = st.en;
        p->cnt = st.cnt;
        p->sci_level = false;
        pm_update_sci(p);       /* the line as the registers say (the irqchip is restored first) */
        pthread_mutex_unlock(&p->lock);
        return 0;
}
