/* SPDX-License-Identifier: MIT */
/*
 * Saved state: a paused VM written out (its devices' and vCPUs' state as vmstate sections,
 * guest memory as a sparse file of its own) and read back into a VM built from the same
 * configuration, which then goes on where the saved one stopped.
 *
 * Sections: "config" (the VM's JSON), "memory" (the layout), then per vCPU "cpuid.N" (what
 * the guest saw, checked against this host before anything runs) and "vcpu.N" (registers,
 * special registers, XSAVE, XCRs, MSRs with the TSC, LAPIC, events, MP state, debug
 * registers), the in-kernel irqchip ("irqchip.pic0", "irqchip.pic1", "irqchip.ioapic"),
 * "pit", "kvmclock", the legacy devices ("serial.com1", "rtc", "pm") and every virtio
 * device ("pci.DEVFN", "virtio.DEVFN" and what the device itself adds; one that cannot be
 * saved yet refuses, naming itself). Restore order: memory, CPUID, vCPUs, irqchip, PIT,
 * clock, the legacy devices (which raise their interrupt lines again over the restored
 * irqchip), then the virtio devices, which go on with their rings where they were.
 *
 * Memory: the file has the memfd's layout; pages never touched or all zero are holes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmms/vdev.h"
#include "vmms/vmbus.h"
#include "vmms/vmstate.h"
#include "vmwp.h"

#define VCPU_STATE_VERSION      1u
#define CPUID_STATE_VERSION     1u
#define VM_STATE_VERSION        1u
#define MAX_MSRS                1024u
#define MAX_CPUID               256u
#define PAGE                    4096u
#define COPY_CHUNK              (1u << 20)

struct vcpu_state_hdr {
        uint32_t xsave_len, n_msrs;
};

/* PVM hosts (HOST-NOTES.md): the switch that runs guest kernel code natively. */
static const uint32_t extra_msrs[] = { 0x4b564d10 };

/* The MSRs KVM saves and restores (its list, and extra_msrs), read once per VM. */
static int msr_list(struct vmwp_vm *vm, uint32_t **ret, uint32_t *ret_n)
{
        struct kvm_msr_list probe = { .nmsrs = 0 }, *l;
        int r;

        if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
                return -errno;
        if (probe.nmsrs > MAX_MSRS)
                return -E2BIG;
        l = malloc(sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
        if (!l)
                return -ENOMEM;
        l->nmsrs = probe.nmsrs;
        if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
                r = -errno;
                free(l);
                return r;
        }
        *ret = malloc((l->nmsrs + ARRAY_SIZE(extra_msrs)) * sizeof(uint32_t));
        if (!*ret) {
                free(l);
                return -ENOMEM;
        }
        memcpy(*ret, l->indices, l->nmsrs * sizeof(uint32_t));
        /* Not in KVM's list, saved where KVM can read them (msrs_get skips the others). */
        memcpy(*ret + l->nmsrs, extra_msrs, sizeof(extra_msrs));
        *ret_n = l->nmsrs + (uint32_t)ARRAY_SIZE(extra_msrs);
        free(l);
        return 0;
}

static int xsave_size(struct vmwp_vm *vm)
{
        int n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

        return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

/* Read every listed MSR KVM lets us read, one call where it can: (index, value) pairs. */
static int msrs_get(struct vmwp_vcpu *c, const uint32_t *idx, uint32_t n, struct kvm_msr_entry *out, uint32_t *ret_n)
{
        struct kvm_msrs *m = malloc(sizeof(*m) + n * sizeof(struct kvm_msr_entry));
        uint32_t got = 0, i = 0;

        if (!m)
                return -ENOMEM;
        while (i < n) {
                int k;

                m->nmsrs = n - i;
                m->pad = 0;
                for (uint32_t j = 0; j < n - i; j++)
                        m->entries[j] = (struct kvm_msr_entry) { .index = idx[i + j] };
                k = ioctl(c->fd, KVM_GET_MSRS, m);
                if (k < 0) {
                        free(m);
                        return -errno;
                }
                memcpy(out + got, m->entries, (size_t)k * sizeof(*out));
                got += (uint32_t)k;
                i += (uint32_t)k + 1;   /* skip the one KVM refused */
        }
        free(m);
        *ret_n = got;
        return 0;
}

/* A vCPU's state in one piece, apart from the variable-size XSAVE area and MSRs. */
struct vcpu_fixed {
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_xcrs xcrs;
        struct kvm_lapic_state lapic;
        struct kvm_vcpu_events events;
        struct kvm_mp_state mp;
        struct kvm_debugregs dbg;
};

static int vcpu_save(struct vmwp_vcpu *c, struct vmstate_writer *w, const uint32_t *msr_idx, uint32_t n_msr_idx,
                     int xlen)
{
        struct vcpu_fixed f;
        struct vcpu_state_hdr h = { .xsave_len = (uint32_t)xlen };
        _cleanup_free_ uint8_t *buf = NULL, *xsave = NULL;
        _cleanup_free_ struct kvm_msr_entry *msrs = NULL;
        struct {
                struct kvm_cpuid2 hdr;
                struct kvm_cpuid_entry2 e[MAX_CPUID];
        } cpuid = { .hdr.nent = MAX_CPUID };
        char name[32];
        size_t len;
        int r;

        memset(&f, 0, sizeof(f));
        xsave = calloc(1, (size_t)xlen);
        msrs = calloc(MAX(n_msr_idx, 1u), sizeof(*msrs));
        if (!xsave || !msrs)
                return -ENOMEM;
        if (ioctl(c->fd, KVM_GET_REGS, &f.regs) < 0 || ioctl(c->fd, KVM_GET_SREGS, &f.sregs) < 0 ||
            ioctl(c->fd, xlen > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, xsave) < 0 ||
            ioctl(c->fd, KVM_GET_XCRS, &f.xcrs) < 0 || ioctl(c->fd, KVM_GET_LAPIC, &f.lapic) < 0 ||
            ioctl(c->fd, KVM_GET_VCPU_EVENTS, &f.events) < 0 || ioctl(c->fd, KVM_GET_MP_STATE, &f.mp) < 0 ||
            ioctl(c->fd, KVM_GET_DEBUGREGS, &f.dbg) < 0 || ioctl(c->fd, KVM_GET_CPUID2, &cpuid) < 0)
                return -errno;
        r = msrs_get(c, msr_idx, n_msr_idx, msrs, &h.n_msrs);
        if (r < 0)
                return r;
        snprintf(name, sizeof(name), "cpuid.%u", c->index);
        r = vmstate_put(w, name, CPUID_STATE_VERSION, cpuid.e, MIN(cpuid.hdr.nent, MAX_CPUID) * sizeof(cpuid.e[0]));
        if (r < 0)
                return r;
        /* header, the fixed part, XSAVE, MSRs */
        len = sizeof(h) + sizeof(f) + (size_t)xlen + h.n_msrs * sizeof(*msrs);
        buf = malloc(len);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + sizeof(h), &f, sizeof(f));
        memcpy(buf + sizeof(h) + sizeof(f), xsave, (size_t)xlen);
        memcpy(buf + sizeof(h) + sizeof(f) + (size_t)xlen, msrs, h.n_msrs * sizeof(*msrs));
        snprintf(name, sizeof(name), "vcpu.%u", c->index);
        return vmstate_put(w, name, VCPU_STATE_VERSION, buf, len);
}

struct vm_state {
        struct kvm_pit_state2 pit;
        struct kvm_clock_data clock;
};

/* The memory file: every page the guest ever wrote that is not all zeros, at its memfd offset. */
static bool page_zero(const uint8_t *p)
{
        const uint64_t *q = (const uint64_t *)(const void *)p;

        for (unsigned i = 0; i < PAGE / 8; i++)
                if (q[i])
                        return false;
        return true;
}

static int memory_save(struct vmwp_vm *vm, int mem_fd, uint64_t *ret_bytes)
{
        struct gmem *m = vm->mem;
        uint64_t written = 0;
        off_t pos = 0;

        if (ftruncate(mem_fd, 0) < 0 || ftruncate(mem_fd, (off_t)m->size) < 0)
                return -errno;
        /* The memfd knows which pages were ever written; a restored VM's memory maps its
         * memory file privately, so every page is looked at there. */
        bool scan_all = m->fd < 0 || m->file_backed;

        while ((uint64_t)pos < m->size) {
                off_t data = !scan_all ? lseek(m->fd, pos, SEEK_DATA) : pos, hole;

                if (data < 0 && errno == ENXIO)
                        break;          /* nothing more was ever written */
                if (data < 0)
                        return -errno;
                hole = !scan_all ? lseek(m->fd, data, SEEK_HOLE) : (off_t)m->size;
                if (hole < 0)
                        return -errno;
                hole = MIN(hole, (off_t)m->size);
                for (uint64_t p = ALIGN_DOWN((uint64_t)data, PAGE); p < (uint64_t)hole;) {
                        uint64_t run;
                        int r;

                        if (page_zero(m->base + p)) {
                                p += PAGE;
                                continue;
                        }
                        for (run = PAGE; p + run < (uint64_t)hole && run < COPY_CHUNK && !page_zero(m->base + p + run);)
                                run += PAGE;
                        r = pwrite_full(mem_fd, m->base + p, (size_t)run, (off_t)p);
                        if (r < 0)
                                return r;
                        written += run;
                        p += run;
                }
                pos = hole;
        }
        *ret_bytes = written;
        return 0;
}

/*
 * Guest memory from the memory file: mapped privately over guest RAM (the default: the
 * restore returns at once, pages come in from the file as the guest touches them, its
 * writes stay in this process), or read whole where RAM is on huge pages.
 */
static int memory_load(struct vmwp_vm *vm, int mem_fd, char *err, size_t err_len)
{
        struct gmem *m = vm->mem;
        off_t pos = 0, end = lseek(mem_fd, 0, SEEK_END);
        struct stat st;

        if (end < 0)
                return -errno;
        if ((uint64_t)end != m->size) {
                snprintf(err, err_len, "the memory file holds %llu bytes, the VM has %llu",
                         (unsigned long long)end, (unsigned long long)m->size);
                return -EINVAL;
        }
        if (!m->hugepages && m->fd >= 0) {
                void *p = mmap(m->base, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
                               mem_fd, 0);

                if (p == MAP_FAILED)
                        return -errno;
                (void)madvise(m->base, m->size, MADV_DONTDUMP);
                m->file_backed = true;
                if (fstat(mem_fd, &st) == 0) {
                        m->file_dev = st.st_dev;
                        m->file_ino = st.st_ino;
                }
                return 0;
        }
        while (pos < end) {
                off_t data = lseek(mem_fd, pos, SEEK_DATA), hole;
                int r;

                if (data < 0 && errno == ENXIO)
                        break;
                if (data < 0)
                        return -errno;
                hole = lseek(mem_fd, data, SEEK_HOLE);
                if (hole < 0)
                        return -errno;
                r = pread_full(mem_fd, m->base + data, (size_t)(hole - data), data);
                if (r < 0)
                        return r;
                pos = hole;
        }
        return 0;
}

int vmwp_vm_save(struct vmwp_vm *vm, const char *config_json, int state_fd, int mem_fd, char *err, size_t err_len)
{
        _cleanup_free_ uint32_t *msr_idx = NULL;
        struct vmstate_writer *w = NULL;
        struct vm_state vs = { 0 };
        uint32_t n_msr = 0;
        uint64_t mem_bytes = 0, layout[2];
        const char *s;
        int r, xlen;

        if (!vmwp_vm_is_paused(vm)) {
                snprintf(err, err_len, "the VM is not paused");
                return -EBUSY;
        }
        /* A restored VM's memory is mapped from its memory file: writing over that file
         * would pull the ground from under it. */
        if (vm->mem->file_backed) {
                struct stat st;

                if (fstat(mem_fd, &st) == 0 && st.st_dev == vm->mem->file_dev && st.st_ino == vm->mem->file_ino) {
                        snprintf(err, err_len, "the memory file is the one this VM was restored from (its memory "
                                 "is mapped from it): save to another file");
                        return -EINVAL;
                }
        }
        s = config_json;
        r = msr_list(vm, &msr_idx, &n_msr);
        if (r < 0)
                return r;
        xlen = xsave_size(vm);
        r = vmstate_writer_new(state_fd, &w);
        if (r < 0)
                return r;
        layout[0] = vm->mem->size;
        layout[1] = vm->cfg->vcpus;
        if ((r = vmstate_put(w, "config", 1, s, strlen(s))) < 0 ||
            (r = vmstate_put(w, "memory", 1, layout, sizeof(layout))) < 0)
                goto fail;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if ((r = vcpu_save(&vm->vcpus[i], w, msr_idx, n_msr, xlen)) < 0)
                        goto fail;
        for (uint32_t chip = 0; chip < 3; chip++) {
                struct kvm_irqchip ic = { .chip_id = chip };
                static const char *const names[] = { "irqchip.pic0", "irqchip.pic1", "irqchip.ioapic" };

                if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &ic) < 0) {
                        r = -errno;
                        goto fail;
                }
                if ((r = vmstate_put(w, names[chip], VM_STATE_VERSION, &ic, sizeof(ic))) < 0)
                        goto fail;
        }
        if (ioctl(vm->vm_fd, KVM_GET_PIT2, &vs.pit) < 0 || ioctl(vm->vm_fd, KVM_GET_CLOCK, &vs.clock) < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = vmstate_put(w, "pit", VM_STATE_VERSION, &vs.pit, sizeof(vs.pit))) < 0 ||
            (r = vmstate_put(w, "kvmclock", VM_STATE_VERSION, &vs.clock, sizeof(vs.clock))) < 0 ||
            (r = vdev_serial_save(vm->serial, w, "serial.com1")) < 0 || (r = vdev_rtc_save(vm->rtc, w, "rtc")) < 0 ||
            (r = vdev_pm_save(vm->pm, w, "pm")) < 0 || (r = vmbus_save(vm->bus, w, err, err_len)) < 0)
                goto fail;
        r = memory_save(vm, mem_fd, &mem_bytes);
        if (r < 0) {
                snprintf(err, err_len, "cannot write guest memory: %s", strerror(-r));
                goto fail;
        }
        r = vmstate_writer_finish(TAKE_PTR(w));
        if (r < 0)
                goto fail;
        if (fdatasync(state_fd) < 0 || fdatasync(mem_fd) < 0)
                return -errno;
        log_info("Saved: %u vCPUs, %llu KiB of memory written (%llu MiB in the VM)", vm->n_vcpus,
                 (unsigned long long)(mem_bytes >> 10), (unsigned long long)(vm->mem->size >> 20));
        return 0;
fail:
        vmstate_writer_free(w);
        if (!err[0])
                snprintf(err, err_len, "cannot write the saved state: %s", strerror(-r));
        return r;
}

/*
 * The CPUID the saved guest saw against what a guest made on this host sees (the vCPU's
 * CPUID as vcpu_init set it): refuse features this host lacks.
 */
static int cpuid_check(const struct kvm_cpuid_entry2 *saved, size_t n, const struct kvm_cpuid_entry2 *here,
                       size_t n_here, char *err, size_t err_len)
{
        static const struct { uint32_t fn, idx; const char *what; } leaves[] = {
                { 1, 0, "CPUID.1" }, { 7, 0, "CPUID.7.0" }, { 0x80000001, 0, "CPUID.80000001" },
                { 0xd, 1, "CPUID.D.1" },
        };
        static const char *const reg[4] = { "EAX", "EBX", "ECX", "EDX" };

        for (size_t l = 0; l < ARRAY_SIZE(leaves); l++) {
                const struct kvm_cpuid_entry2 *s = NULL, *h = NULL;

                for (size_t i = 0; i < n && !s; i++)
                        if (saved[i].function == leaves[l].fn && saved[i].index == leaves[l].idx)
                                s = &saved[i];
                for (size_t i = 0; i < n_here && !h; i++)
                        if (here[i].function == leaves[l].fn && here[i].index == leaves[l].idx)
                                h = &here[i];
                if (!s)
                        continue;
                log_debug("CPUID %s: saved %08x %08x %08x %08x, here (%zu entries) %s %08x %08x %08x %08x",
                          leaves[l].what, s->eax, s->ebx, s->ecx, s->edx, n_here, h ? "" : "(none)", h ? h->eax : 0,
                          h ? h->ebx : 0, h ? h->ecx : 0, h ? h->edx : 0);
                const uint32_t sv[4] = { s->eax, s->ebx, s->ecx, s->edx };
                const uint32_t hv[4] = { h ? h->eax : 0, h ? h->ebx : 0, h ? h->ecx : 0, h ? h->edx : 0 };

                for (unsigned k = 0; k < 4; k++) {
                        uint32_t missing = sv[k] & ~hv[k];

                        /* Not feature bits: CPUID.1 EAX/EBX (family, APIC id), ECX bit 27
                         * (OSXSAVE mirrors CR4), CPUID.7.0 EAX (the last subleaf), CPUID.D.1
                         * beyond EAX. */
                        if ((leaves[l].fn == 1 && k < 2) || (leaves[l].fn == 7 && k == 0) ||
                            (leaves[l].fn == 0xd && k != 0))
                                continue;
                        if (leaves[l].fn == 1 && k == 2)
                                missing &= ~(1u << 27);
                        if (missing) {
                                snprintf(err, err_len, "the saved guest saw CPU features this host lacks (%s %s bits "
                                         "%#x)", leaves[l].what, reg[k], missing);
                                return -EOPNOTSUPP;
                        }
                }
        }
        return 0;
}

static int vcpu_load(struct vmwp_vcpu *c, struct vmstate *st, int xlen, char *err, size_t err_len)
{
        struct {
                struct kvm_cpuid2 hdr;
                struct kvm_cpuid_entry2 e[MAX_CPUID];
        } cpuid = { .hdr.nent = 0 };
        struct vcpu_state_hdr h;
        const uint8_t *p;
        const void *data;
        uint32_t v;
        size_t len, off = 0, need;
        char name[32];
        int r;

        snprintf(name, sizeof(name), "cpuid.%u", c->index);
        if (vmstate_get(st, name, &v, &data, &len) < 0 || v != CPUID_STATE_VERSION ||
            len % sizeof(struct kvm_cpuid_entry2) || len / sizeof(struct kvm_cpuid_entry2) > MAX_CPUID) {
                snprintf(err, err_len, "section %s is missing, of another version or malformed", name);
                return -EINVAL;
        }
        cpuid.hdr.nent = MAX_CPUID;
        if (ioctl(c->fd, KVM_GET_CPUID2, &cpuid) < 0)
                return -errno;
        r = cpuid_check(data, len / sizeof(struct kvm_cpuid_entry2), cpuid.e, cpuid.hdr.nent, err, err_len);
        if (r < 0)
                return r;
        cpuid.hdr = (struct kvm_cpuid2) { .nent = (uint32_t)(len / sizeof(struct kvm_cpuid_entry2)) };
        memcpy(cpuid.e, data, len);
        if (ioctl(c->fd, KVM_SET_CPUID2, &cpuid) < 0) {
                snprintf(err, err_len, "vCPU %u: this host's KVM refuses the saved CPUID: %s", c->index, strerror(errno));
                return -EOPNOTSUPP;
        }

        snprintf(name, sizeof(name), "vcpu.%u", c->index);
        if (vmstate_get(st, name, &v, &data, &len) < 0 || v != VCPU_STATE_VERSION || len < sizeof(h)) {
                snprintf(err, err_len, "section %s is missing, of another version or malformed", name);
                return -EINVAL;
        }
        p = data;
        memcpy(&h, p, sizeof(h));
        need = sizeof(h) + sizeof(struct vcpu_fixed) + h.xsave_len + (size_t)h.n_msrs * sizeof(struct kvm_msr_entry);
        if (h.n_msrs > MAX_MSRS || h.xsave_len > (1u << 20) || len != need) {
                snprintf(err, err_len, "section %s: %zu bytes, not what its header says", name, len);
                return -EINVAL;
        }
        if ((int)h.xsave_len > xlen) {
                snprintf(err, err_len, "section %s: the saved XSAVE area (%u bytes) is larger than this host's (%d)",
                         name, h.xsave_len, xlen);
                return -EOPNOTSUPP;
        }
        {
                struct vcpu_fixed f;
                _cleanup_free_ uint8_t *xsave = calloc(1, (size_t)xlen);
                _cleanup_free_ struct kvm_msrs *msrs = malloc(sizeof(struct kvm_msrs) +
                                                              h.n_msrs * sizeof(struct kvm_msr_entry));
                int k;

                if (!xsave || !msrs)
                        return -ENOMEM;
                off = sizeof(h);
                memcpy(&f, p + off, sizeof(f));
                off += sizeof(f);
                memcpy(xsave, p + off, h.xsave_len);
                off += h.xsave_len;
                memcpy(msrs->entries, p + off, h.n_msrs * sizeof(struct kvm_msr_entry));
                msrs->nmsrs = h.n_msrs;
                msrs->pad = 0;
                /* Special registers first (modes), then the rest; the LAPIC after the MSRs
                 * (APIC base), events and MP state last, as KVM wants. */
                if (ioctl(c->fd, KVM_SET_SREGS, &f.sregs) < 0 || ioctl(c->fd, KVM_SET_REGS, &f.regs) < 0 ||
                    ioctl(c->fd, KVM_SET_XSAVE, xsave) < 0 || ioctl(c->fd, KVM_SET_XCRS, &f.xcrs) < 0) {
                        snprintf(err, err_len, "vCPU %u: KVM refuses the saved registers: %s", c->index, strerror(errno));
                        return -EINVAL;
                }
                k = ioctl(c->fd, KVM_SET_MSRS, msrs);
                if (k < 0 || (uint32_t)k != h.n_msrs) {
                        snprintf(err, err_len, "vCPU %u: KVM refuses saved MSR %#x", c->index,
                                 k >= 0 && (uint32_t)k < h.n_msrs ? msrs->entries[k].index : 0);
                        return -EINVAL;
                }
                f.events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
                                  KVM_VCPUEVENT_VALID_SMM;
                if (ioctl(c->fd, KVM_SET_LAPIC, &f.lapic) < 0 || ioctl(c->fd, KVM_SET_VCPU_EVENTS, &f.events) < 0 ||
                    ioctl(c->fd, KVM_SET_MP_STATE, &f.mp) < 0 || ioctl(c->fd, KVM_SET_DEBUGREGS, &f.dbg) < 0) {
                        snprintf(err, err_len, "vCPU %u: KVM refuses the saved LAPIC or events: %s", c->index,
                                 strerror(errno));
                        return -EINVAL;
                }
        }
        return 0;
}

int vmwp_vm_restore(struct vmwp_vm *vm, struct vmstate *st, int mem_fd, char *err, size_t err_len)
{
        const void *data;
        uint64_t layout[2];
        struct vm_state vs;
        uint32_t v;
        size_t len;
        int r, xlen = xsave_size(vm);

        if (vmstate_get(st, "memory", &v, &data, &len) < 0 || len != sizeof(layout)) {
                snprintf(err, err_len, "the saved state has no memory section");
                return -EINVAL;
        }
        memcpy(layout, data, sizeof(layout));
        if (layout[0] != vm->mem->size || layout[1] != vm->n_vcpus) {
                snprintf(err, err_len, "the saved VM had %llu MiB and %llu vCPUs, this one %llu MiB and %u",
                         (unsigned long long)(layout[0] >> 20), (unsigned long long)layout[1],
                         (unsigned long long)(vm->mem->size >> 20), vm->n_vcpus);
                return -EINVAL;
        }
        /* Memory first: devices that go on look at their rings in it. */
        r = memory_load(vm, mem_fd, err, err_len);
        if (r < 0) {
                if (!err[0])
                        snprintf(err, err_len, "cannot read the memory file: %s", strerror(-r));
                return r;
        }
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if ((r = vcpu_load(&vm->vcpus[i], st, xlen, err, err_len)) < 0)
                        return r;
        for (uint32_t chip = 0; chip < 3; chip++) {
                static const char *const names[] = { "irqchip.pic0", "irqchip.pic1", "irqchip.ioapic" };
                struct kvm_irqchip ic;

                r = vdev_state_get(st, names[chip], VM_STATE_VERSION, &ic, sizeof(ic), err, err_len);
                if (r < 0)
                        return r;
                if (ic.chip_id != chip || ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &ic) < 0) {
                        snprintf(err, err_len, "KVM refuses the saved %s", names[chip]);
                        return -EINVAL;
                }
        }
        if ((r = vdev_state_get(st, "pit", VM_STATE_VERSION, &vs.pit, sizeof(vs.pit), err, err_len)) < 0 ||
            (r = vdev_state_get(st, "kvmclock", VM_STATE_VERSION, &vs.clock, sizeof(vs.clock), err, err_len)) < 0)
                return r;
        vs.clock.flags = 0;     /* the guest's clock goes on from where it stopped */
        if (ioctl(vm->vm_fd, KVM_SET_PIT2, &vs.pit) < 0 || ioctl(vm->vm_fd, KVM_SET_CLOCK, &vs.clock) < 0) {
                snprintf(err, err_len, "KVM refuses the saved PIT or clock: %s", strerror(errno));
                return -EINVAL;
        }
        if ((r = vdev_serial_load(vm->serial, st, "serial.com1", err, err_len)) < 0 ||
            (r = vdev_rtc_load(vm->rtc, st, "rtc", err, err_len)) < 0 ||
            (r = vdev_pm_load(vm->pm, st, "pm", err, err_len)) < 0)
                return r;
        (void)vmstate_get(st, "config", NULL, &data, NULL);
        /* Before the devices go on: an unknown section means a device this VM lacks. */
        if (vmstate_unclaimed_except(st, "virtio.", "pci.")) {
                snprintf(err, err_len, "the saved state has a section this vmwp does not know: %s",
                         vmstate_unclaimed_except(st, "virtio.", "pci."));
                return -EINVAL;
        }
        r = vmbus_load(vm->bus, st, err, err_len);
        if (r < 0)
                return r;
        if (vmstate_unclaimed(st)) {
                snprintf(err, err_len, "the saved state has a section this vmwp does not know: %s",
                         vmstate_unclaimed(st));
                return -EINVAL;
        }
        return 0;
}
