/* SPDX-License-Identifier: MIT */
/*
 * The worker: one VM in one process. The main thread runs an sd-event loop (signals,
 * console, control socket); one thread per vCPU runs KVM_RUN and dispatches port I/O and
 * MMIO exits to the device buses.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmms/config.h"
#include "vmms/gmem.h"
#include "vmms/iobus.h"
#include "vmms/log.h"
#include "vmms/vdev.h"

struct vmwp_console;
struct vmwp_control;
struct vmwp_ic;
struct vsp_ic;
struct vsp_blk;
struct vmbus;
struct kvm_irq_routing_state;
typedef struct sd_event sd_event;

enum vmwp_exit_kind {
        VMWP_EXIT_NONE,
        VMWP_EXIT_POWEROFF,     /* the guest powered off */
        VMWP_EXIT_RESET,        /* the guest asked for a reset */
        VMWP_EXIT_CRASH,        /* triple fault, KVM internal or emulation error */
        VMWP_EXIT_STOPPED,      /* the host turned it off (signal, control socket) */
        VMWP_EXIT_ERROR,        /* the worker failed (not the guest's doing) */
        VMWP_EXIT_SAVED,        /* vm.save wrote its state: it goes on in another worker */
};

enum vmwp_boot_kind {
        VMWP_BOOT_PVH,
        VMWP_BOOT_LINUX64,
};

/* Where and how the boot vCPU starts; written by the loaders. */
struct vmwp_boot {
        enum vmwp_boot_kind kind;
        uint64_t entry;         /* guest-physical entry point */
        uint64_t info;          /* hvm_start_info or boot_params address */
        uint64_t kernel_start, kernel_end;
};

struct vmwp_vcpu {
        struct vmwp_vm *vm;
        unsigned index;
        int fd;
        struct kvm_run *run;
        size_t run_size;
        pthread_t thread;
        bool thread_started;
        uint64_t exits_pio, exits_mmio;
        struct ratelimit unhandled_rl;  /* this vCPU's thread only: guest-triggered messages */
};

struct vmwp_vm {
        const struct vm_config *cfg;
        int kvm_fd;
        int vm_fd;
        struct gmem *mem;
        struct iobus pio, mmio;
        struct kvm_cpuid2 *cpuid;       /* KVM_GET_SUPPORTED_CPUID, patched per vCPU */
        unsigned n_vcpus;
        struct vmwp_vcpu *vcpus;
        struct vmwp_boot boot;

        struct vmwp_console *console;
        struct vdev_serial *serial;
        struct vdev_rtc *rtc;
        struct vdev_i8042 *i8042;
        struct vdev_pm *pm;
        struct vdev_reset_ctl reset_ctl;
        struct kvm_irq_routing_state *irq_routing;
        struct vmbus *bus;
        struct vsp_blk **disks;         /* [cfg->n_disks], owned by bus */
        struct vsp_ic *ic;              /* integration services (the worker's), or NULL */

        /* Run control: pause, resume, stop. Guarded by lock. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool pause_requested;
        unsigned n_paused;
        unsigned n_running;             /* vCPU threads inside their run loop */
        atomic_bool stop;
        enum vmwp_exit_kind exit_kind;
        char exit_reason[1024];
        int exit_efd;                   /* signalled once exit_kind is set */
};

/* The worker's main-thread state: the event loop and the VM of the current boot. */
struct vmwp_main {
        sd_event *event;
        const struct vm_config *cfg;
        struct vmwp_vm *vm;             /* NULL between boots */
        bool vm_done;
        int signal;
        uint64_t start_usec;            /* CLOCK_MONOTONIC when the worker started */
        unsigned boots;
        struct vmwp_control *control;
        struct vmwp_ic *ic;             /* integration services, NULL when all are off */
        struct vmstate *restore;        /* --restore: the state the first boot goes on from */
        char *config_json;              /* the configuration as given, before the hand-off's fds */
        int restore_mem_fd;             /* ... and its memory file */
};

/* The boot images: read once when the worker starts (from the fds vmms passed, or the
 * paths) and kept, so a reboot opens nothing. */
struct vmwp_images {
        const char *kernel_path, *initrd_path;  /* for messages */
        char *kernel, *initrd;
        size_t kernel_size, initrd_size;
};

/* save.c: the VM must be paused. err says why not (a device that cannot be saved...). */
int vmwp_vm_save(struct vmwp_vm *vm, const char *config_json, int state_fd, int mem_fd, char *err, size_t err_len);
/* Into a VM just made from the saved configuration (no boot image loaded), before it runs. */
int vmwp_vm_restore(struct vmwp_vm *vm, struct vmstate *st, int mem_fd, char *err, size_t err_len);

/* vm.c */
/* Read the kernel (and the initrd, if initrd_path) from the fds (taken; -1: open the paths). */
int vmwp_images_load(struct vmwp_images *img, const char *kernel_path, int kernel_fd, const char *initrd_path,
                     int initrd_fd, struct config_error *err);
void vmwp_images_done(struct vmwp_images *img);
int vmwp_vm_new(const struct vm_config *cfg, const struct vmwp_images *img, struct vmwp_console *console,
                struct vsp_ic *ic, struct vmwp_vm **ret, struct config_error *err);
void vmwp_vm_free(struct vmwp_vm *vm);
int vmwp_vm_start(struct vmwp_vm *vm);
/* Stop all vCPU threads and join them (idempotent). */
void vmwp_vm_stop(struct vmwp_vm *vm);
int vmwp_vm_pause(struct vmwp_vm *vm);
int vmwp_vm_resume(struct vmwp_vm *vm);
bool vmwp_vm_is_paused(struct vmwp_vm *vm);
/* Record why the VM ends (first caller wins) and wake the main loop. */
void vmwp_vm_request_exit(struct vmwp_vm *vm, enum vmwp_exit_kind kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int vmwp_vm_power_button(struct vmwp_vm *vm);
const char *vmwp_exit_kind_to_string(enum vmwp_exit_kind k);

/* vcpu.c */
int vmwp_vcpu_init(struct vmwp_vm *vm, unsigned index);
void vmwp_vcpu_done(struct vmwp_vcpu *c);
int vmwp_vcpu_setup_boot(struct vmwp_vcpu *c, const struct vmwp_boot *boot);
void *vmwp_vcpu_thread(void *arg);
void vmwp_vcpu_kick(struct vmwp_vcpu *c);
int vmwp_vcpu_install_kick_handler(void);
/* Registers and segment state for a crash report. */
void vmwp_vcpu_format_state(struct vmwp_vcpu *c, char *buf, size_t len);

/* cpuid.c */
int vmwp_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **ret);
/* vCPU index's CPUID: what KVM supports, one topology, VMX/SVM only with nested_virtualization. */
int vmwp_cpuid_build(const struct kvm_cpuid2 *supported, unsigned index, unsigned n_vcpus,
                     bool nested_virtualization, struct kvm_cpuid2 **ret);
int vmwp_cpuid_setup(struct vmwp_vcpu *c, const struct kvm_cpuid2 *supported, unsigned n_vcpus,
                     bool nested_virtualization);

/* boot.c, boot_pvh.c, boot_bzimage.c */
struct vmwp_boot_input {
        const char *kernel_path;
        const uint8_t *kernel;
        size_t kernel_size;
        const char *initrd_path;
        const uint8_t *initrd;
        size_t initrd_size;
        const char *cmdline;
        uint64_t rsdp;
};
int vmwp_boot_load(struct gmem *mem, const struct vmwp_boot_input *in, struct vmwp_boot *ret,
                   struct config_error *err);
int vmwp_boot_load_pvh(struct gmem *mem, const struct vmwp_boot_input *in, struct vmwp_boot *ret,
                       struct config_error *err);
int vmwp_boot_load_bzimage(struct gmem *mem, const struct vmwp_boot_input *in,
                           struct vmwp_boot *ret, struct config_error *err);
bool vmwp_boot_is_elf(const uint8_t *data, size_t size);
bool vmwp_boot_is_bzimage(const uint8_t *data, size_t size);

/* The guest memory map both boot protocols report. */
struct vmwp_mmap_entry {
        uint64_t addr, size;
        uint32_t type;          /* HVM_MEMMAP_TYPE_* (== E820 types) */
};
#define VMWP_MMAP_MAX 8
unsigned vmwp_memory_map(const struct gmem *mem, struct vmwp_mmap_entry map[static VMWP_MMAP_MAX]);
/* Where the initrd goes: the top of low RAM below limit, page-aligned; 0 if it does not fit. */
uint64_t vmwp_initrd_addr(const struct gmem *mem, uint64_t size, uint64_t limit, uint64_t kernel_end);

/* acpi.c */
int vmwp_acpi_build(struct gmem *mem, unsigned n_vcpus, uint64_t *ret_rsdp);

/* Path of the bundled guest kernel: the build tree's when run from it, else the installed one. */
const char *vmwp_bundled_kernel_path(void);
