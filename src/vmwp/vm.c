/* SPDX-License-Identifier: MIT */
/*
 * One VM: the KVM objects, guest memory, the legacy devices on their buses, the boot image
 * and the vCPU threads. Built in explicit steps that unwind on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <abi/platform.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "vmms/vmbus.h"
#include "vmms/vmhost.h"
#include "vmms/vsp.h"
#include "vmms/vsp_ic.h"
#include "vmms/vsp_net.h"
#include "console.h"
#include "kvm_irq.h"
#include "vmwp.h"

#define KERNEL_MAX_SIZE (512ull << 20)

static const char *const exit_kind_names[] = {
        [VMWP_EXIT_NONE] = "running",
        [VMWP_EXIT_POWEROFF] = "powered off",
        [VMWP_EXIT_RESET] = "reset",
        [VMWP_EXIT_CRASH] = "crashed",
        [VMWP_EXIT_STOPPED] = "stopped",
        [VMWP_EXIT_ERROR] = "worker error",
        [VMWP_EXIT_SAVED] = "saved",
};

const char *vmwp_exit_kind_to_string(enum vmwp_exit_kind k)
{
        return (unsigned)k < ARRAY_SIZE(exit_kind_names) ? exit_kind_names[k] : "unknown";
}

void vmwp_vm_request_exit(struct vmwp_vm *vm, enum vmwp_exit_kind kind, const char *fmt, ...)
{
        va_list ap;
        uint64_t one = 1;
        bool first;

        pthread_mutex_lock(&vm->lock);
        first = vm->exit_kind == VMWP_EXIT_NONE;
        if (first) {
                vm->exit_kind = kind;
                va_start(ap, fmt);
                vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
                va_end(ap);
        }
        pthread_mutex_unlock(&vm->lock);
        if (!first)
                return;
        /* Stop every vCPU now: nothing more of the guest runs after it asked to end. */
        atomic_store(&vm->stop, true);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vmwp_vcpu_kick(&vm->vcpus[i]);
        pthread_mutex_lock(&vm->lock);
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        if (write(vm->exit_efd, &one, sizeof(one)) < 0)
                log_debug("Failed to signal the exit eventfd: %m");
}

static void vm_platform_event(void *opaque, enum vdev_platform_event ev, const char *how)
{
        struct vmwp_vm *vm = opaque;

        if (ev == VDEV_EVENT_POWEROFF)
                vmwp_vm_request_exit(vm, VMWP_EXIT_POWEROFF, "guest powered off (%s)", how);
        else
                vmwp_vm_request_exit(vm, VMWP_EXIT_RESET, "guest reset (%s)", how);
}

static void vm_serial_tx(void *opaque, const uint8_t *buf, size_t len)
{
        struct vmwp_vm *vm = opaque;

        vmwp_console_write(vm->console, buf, len);
}

static int vm_irq_line_set(void *opaque, unsigned gsi, bool level)
{
        struct vmwp_vm *vm = opaque;
        struct kvm_irq_level irq = { .irq = gsi, .level = level };

        if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
                return -errno;
        return 0;
}

static int vm_setup_memory(struct vmwp_vm *vm)
{
        int r = gmem_new(vm->cfg->memory, vm->cfg->hugepages, &vm->mem);

        if (r < 0)
                return r;
        for (unsigned i = 0; i < vm->mem->n_regions; i++) {
                struct kvm_userspace_memory_region region = {
                        .slot = i,
                        .guest_phys_addr = vm->mem->regions[i].gpa,
                        .memory_size = vm->mem->regions[i].size,
                        .userspace_addr = (uint64_t)(uintptr_t)vm->mem->regions[i].hva,
                };
                if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
                        return -errno;
        }
        return 0;
}

static int vm_setup_irqchip(struct vmwp_vm *vm)
{
        struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

        /* Intel needs these for real-mode emulation; harmless elsewhere. */
        if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 && errno != ENOTTY)
                return -errno;
        uint64_t ident = 0xfffbc000ull;
        if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0 && errno != ENOTTY && errno != EINVAL)
                return -errno;
        if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
                return -errno;
        if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
                return -errno;
        return 0;
}

static int vm_setup_devices(struct vmwp_vm *vm)
{
        struct irq_line com1 = { .set = vm_irq_line_set, .opaque = vm, .gsi = PLATFORM_IRQ_COM1 };
        struct irq_line sci = { .set = vm_irq_line_set, .opaque = vm, .gsi = PLATFORM_IRQ_SCI };
        uint64_t low = vm->mem->regions[0].size;
        uint64_t high = vm->mem->n_regions > 1 ? vm->mem->regions[1].size : 0;
        int r;

        r = iobus_init(&vm->pio, "pio");
        if (r < 0)
                return r;
        r = iobus_init(&vm->mmio, "mmio");
        if (r < 0)
                return r;
        if ((r = vdev_serial_new(&com1, vm_serial_tx, vm, &vm->serial)) < 0 ||
            (r = vdev_rtc_new(low, high, &vm->rtc)) < 0 ||
            (r = vdev_i8042_new(vm_platform_event, vm, &vm->i8042)) < 0 ||
            (r = vdev_pm_new(&sci, vm_platform_event, vm, &vm->pm)) < 0)
                return r;
        vm->reset_ctl = (struct vdev_reset_ctl) { .ev = vm_platform_event, .opaque = vm };

        const struct {
                uint64_t base, len;
                iobus_handler_fn fn;
                void *opaque;
                const char *name;
        } ports[] = {
                { PLATFORM_PORT_COM1, 8, vdev_serial_io, vm->serial, "com1" },
                { PLATFORM_PORT_RTC, 2, vdev_rtc_io, vm->rtc, "rtc" },
                { PLATFORM_PORT_I8042_DATA, 5, vdev_i8042_io, vm->i8042, "i8042" },
                { PLATFORM_PORT_PM1A_EVT, PLATFORM_PM1_EVT_LEN, vdev_pm_evt_io, vm->pm, "pm1a_evt" },
                { PLATFORM_PORT_PM1A_CNT, PLATFORM_PM1_CNT_LEN, vdev_pm_cnt_io, vm->pm, "pm1a_cnt" },
                { PLATFORM_PORT_POST, 1, vdev_ignore_io, NULL, "post" },
                { 0xed, 1, vdev_ignore_io, NULL, "io-delay" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
                r = iobus_register(&vm->pio, ports[i].base, ports[i].len, ports[i].fn,
                                   ports[i].opaque, ports[i].name);
                if (r < 0)
                        return r;
        }
        vmwp_console_attach(vm->console, vm->serial);
        return 0;
}

/* VMBus: the PCI bus with its virtio channels. 0xCF9 (reset) sits inside the PCI ports. */
static int vm_setup_vmbus(struct vmwp_vm *vm, struct config_error *err)
{
        struct vmhost host;
        int r;

        r = kvm_irq_routing_new(vm->vm_fd, &vm->irq_routing);
        if (r < 0)
                return log_error_errno(r, "Failed to set up interrupt routing: %m");
        host = (struct vmhost) {
                .ops = &kvm_irq_vmhost_ops, .opaque = vm->irq_routing,
                .mem = vm->mem, .pio = &vm->pio, .mmio = &vm->mmio,
        };
        r = vmbus_new(&host, vdev_reset_cf9_io, &vm->reset_ctl, &vm->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to create the PCI bus: %m");
        vm->disks = calloc(MAX(vm->cfg->n_disks, 1u), sizeof(*vm->disks));
        if (!vm->disks)
                return log_error_errno(-ENOMEM, "Failed to allocate the disk table: %m");
        for (unsigned i = 0; i < vm->cfg->n_disks; i++) {
                const struct disk_config *d = &vm->cfg->disks[i];

                r = vsp_blk_add(vm->bus, d, &vm->disks[i], err);
                if (r < 0)
                        return config_error_is_set(err) ? r : log_error_errno(r, "Failed to add disk %s: %m", d->path);
        }
        for (unsigned i = 0; i < vm->cfg->n_nics; i++) {
                const struct nic_config *nc = &vm->cfg->nics[i];
                const char *what = nc->tap ? nc->tap : nc->switch_name ? nc->switch_name : "fd";
                /* Without a MAC of its own a NIC keeps one derived from the VM (or its TAP). */
                const char *seed = vm->cfg->uuid ? vm->cfg->uuid : vm->cfg->name ? vm->cfg->name : nc->tap;

                r = vsp_net_add(vm->bus, nc, seed, i, NULL, err);
                if (r < 0)
                        return config_error_is_set(err) ? r : log_error_errno(r, "Failed to add NIC %u (%s): %m", i, what);
        }
        /* Integration services: one virtio-console with a named port per service. */
        if (vm->ic) {
                r = vsp_console_add(vm->bus, vm->ic);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the integration services device: %m");
        }
        return 0;
}

static int read_image(const char *path, int fd, const char *what, char **ret, size_t *ret_size,
                      struct config_error *err)
{
        int r = fd >= 0 ? read_full_fd(fd, KERNEL_MAX_SIZE, ret, ret_size)
                        : read_full_file(path, KERNEL_MAX_SIZE, ret, ret_size);

        safe_close(fd);
        if (r == -EFBIG)
                return config_error_set(err, "%s %s: larger than %llu MiB", what, path, KERNEL_MAX_SIZE >> 20);
        if (r == -EBADFD)
                return config_error_set(err, "%s %s: not a regular file", what, path);
        if (r < 0)
                return config_error_set(err, "%s %s: %s", what, path, strerror(-r));
        return 0;
}

int vmwp_images_load(struct vmwp_images *img, const char *kernel_path, int kernel_fd, const char *initrd_path,
                     int initrd_fd, struct config_error *err)
{
        int r;

        *img = (struct vmwp_images) { .kernel_path = kernel_path, .initrd_path = initrd_path };
        r = read_image(kernel_path, kernel_fd, "kernel", &img->kernel, &img->kernel_size, err);
        if (r >= 0 && initrd_path)
                r = read_image(initrd_path, initrd_fd, "initrd", &img->initrd, &img->initrd_size, err);
        else
                safe_close(initrd_fd);
        if (r < 0)
                vmwp_images_done(img);
        return r;
}

void vmwp_images_done(struct vmwp_images *img)
{
        free(img->kernel);
        free(img->initrd);
        img->kernel = img->initrd = NULL;
        img->kernel_size = img->initrd_size = 0;
}

static int vm_check_host_memory(const struct vm_config *cfg, struct config_error *err)
{
        struct sysinfo si;
        uint64_t total;

        if (sysinfo(&si) < 0)
                return 0;
        total = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
        if (cfg->memory > total)
                return config_error_set(err, "memory: %llu MiB is more than this host has (%llu MiB of RAM and swap)",
                                        (unsigned long long)(cfg->memory >> 20),
                                        (unsigned long long)(total >> 20));
        return 0;
}

int vmwp_vm_new(const struct vm_config *cfg, const struct vmwp_images *img, struct vmwp_console *console,
                struct vsp_ic *ic, struct vmwp_vm **ret, struct config_error *err)
{
        struct vmwp_vm *vm;
        uint64_t rsdp = 0;
        int r, max_vcpus;

        r = vm_check_host_memory(cfg, err);
        if (r < 0)
                return r;

        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;
        vm->cfg = cfg;
        vm->console = console;
        vm->ic = ic;
        vm->kvm_fd = vm->vm_fd = vm->exit_efd = -1;
        pthread_mutex_init(&vm->lock, NULL);
        pthread_cond_init(&vm->cond, NULL);

        vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vm->exit_efd < 0) {
                r = log_error_errno(-errno, "Failed to create eventfd: %m");
                goto fail;
        }
        /* vmms passes /dev/kvm (the worker may not open it); each boot gets its own copy. */
        if (cfg->kvm_fd >= 0) {
                vm->kvm_fd = fcntl(cfg->kvm_fd, F_DUPFD_CLOEXEC, 3);
                if (vm->kvm_fd < 0) {
                        r = log_error_errno(-errno, "Failed to duplicate the /dev/kvm fd: %m");
                        goto fail;
                }
        } else {
                char why[512];

                vm->kvm_fd = kvm_open(why, sizeof(why));
                if (vm->kvm_fd < 0) {
                        r = vm->kvm_fd;
                        log_error("%s", why);
                        goto fail;
                }
        }
        if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
                r = log_error_errno(-ENOTSUP, "/dev/kvm speaks an unknown API version");
                goto fail;
        }
        max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        if (max_vcpus > 0 && cfg->vcpus > (unsigned)max_vcpus) {
                r = config_error_set(err, "vcpus: %u is more than KVM allows on this host (%d)",
                                     cfg->vcpus, max_vcpus);
                goto fail;
        }
        vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
        if (vm->vm_fd < 0) {
                r = log_error_errno(-errno, "Failed to create the VM: %m");
                goto fail;
        }
        r = vm_setup_memory(vm);
        if (r < 0 && cfg->hugepages && (r == -ENOMEM || r == -EINVAL)) {
                r = config_error_set(err, "hugepages: cannot reserve %llu huge pages of 2 MiB for guest RAM "
                                     "(see /proc/sys/vm/nr_hugepages)",
                                     (unsigned long long)(cfg->memory >> 21));
                goto fail;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to set up %llu MiB of guest memory: %m",
                                (unsigned long long)(cfg->memory >> 20));
                goto fail;
        }
        r = vm_setup_irqchip(vm);
        if (r < 0) {
                log_error_errno(r, "Failed to create the in-kernel irqchip: %m");
                goto fail;
        }
        r = vm_setup_devices(vm);
        if (r < 0) {
                log_error_errno(r, "Failed to set up devices: %m");
                goto fail;
        }
        r = vm_setup_vmbus(vm, err);
        if (r < 0)
                goto fail;
        /* A VM to restore gets its memory (ACPI tables, kernel and all) from the saved state. */
        r = img ? vmwp_acpi_build(vm->mem, cfg->vcpus, &rsdp) : 0;
        if (r < 0) {
                log_error_errno(r, "Failed to build ACPI tables: %m");
                goto fail;
        }
        r = !img ? 0 : vmwp_boot_load(vm->mem, &(struct vmwp_boot_input) {
                        .kernel_path = img->kernel_path,
                        .kernel = (const uint8_t *)img->kernel, .kernel_size = img->kernel_size,
                        .initrd_path = img->initrd_path,
                        .initrd = (const uint8_t *)img->initrd, .initrd_size = img->initrd_size,
                        .cmdline = cfg->cmdline ? cfg->cmdline : "",
                        .rsdp = rsdp,
                }, &vm->boot, err);
        if (r < 0)
                goto fail;

        r = vmwp_cpuid_get_supported(vm->kvm_fd, &vm->cpuid);
        if (r < 0) {
                log_error_errno(r, "Failed to read the supported CPUID: %m");
                goto fail;
        }
        vm->vcpus = calloc(cfg->vcpus, sizeof(*vm->vcpus));
        if (!vm->vcpus) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < cfg->vcpus; i++)
                vm->vcpus[i].fd = -1;
        vm->n_vcpus = cfg->vcpus;
        for (unsigned i = 0; i < cfg->vcpus; i++) {
                r = vmwp_vcpu_init(vm, i);
                if (r < 0) {
                        log_error_errno(r, "Failed to create vCPU %u: %m", i);
                        goto fail;
                }
        }
        r = img ? vmwp_vcpu_setup_boot(&vm->vcpus[0], &vm->boot) : 0;
        if (r < 0) {
                log_error_errno(r, "Failed to set the boot vCPU's registers: %m");
                goto fail;
        }
        *ret = vm;
        return 0;
fail:
        vmwp_vm_free(vm);
        return r;
}

int vmwp_vm_start(struct vmwp_vm *vm)
{
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                struct vmwp_vcpu *c = &vm->vcpus[i];
                int r;

                pthread_mutex_lock(&vm->lock);
                vm->n_running++;
                pthread_mutex_unlock(&vm->lock);
                r = -pthread_create(&c->thread, NULL, vmwp_vcpu_thread, c);
                if (r < 0) {
                        pthread_mutex_lock(&vm->lock);
                        vm->n_running--;
                        pthread_mutex_unlock(&vm->lock);
                        vmwp_vm_request_exit(vm, VMWP_EXIT_ERROR, "Failed to start vCPU %u: %s", i, strerror(-r));
                        return r;
                }
                c->thread_started = true;
        }
        return 0;
}

void vmwp_vm_stop(struct vmwp_vm *vm)
{
        atomic_store(&vm->stop, true);
        pthread_mutex_lock(&vm->lock);
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vmwp_vcpu_kick(&vm->vcpus[i]);
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                if (!vm->vcpus[i].thread_started)
                        continue;
                pthread_join(vm->vcpus[i].thread, NULL);
                vm->vcpus[i].thread_started = false;
        }
}

int vmwp_vm_pause(struct vmwp_vm *vm)
{
        pthread_mutex_lock(&vm->lock);
        if (vm->pause_requested) {
                pthread_mutex_unlock(&vm->lock);
                return 0;
        }
        vm->pause_requested = true;
        pthread_mutex_unlock(&vm->lock);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vmwp_vcpu_kick(&vm->vcpus[i]);
        /* Paused means no vCPU is inside KVM_RUN any more. */
        pthread_mutex_lock(&vm->lock);
        while (vm->n_paused < vm->n_running && !atomic_load(&vm->stop))
                pthread_cond_wait(&vm->cond, &vm->lock);
        pthread_mutex_unlock(&vm->lock);
        /* Then the devices: with no vCPU to ring a doorbell, they come to rest. */
        vmbus_pause(vm->bus);
        return 0;
}

int vmwp_vm_resume(struct vmwp_vm *vm)
{
        pthread_mutex_lock(&vm->lock);
        if (vm->pause_requested)
                vmbus_resume(vm->bus);
        vm->pause_requested = false;
        pthread_cond_broadcast(&vm->cond);
        pthread_mutex_unlock(&vm->lock);
        if (vm->ic)     /* the guest's clock stood still: set it (best effort) */
                (void)vsp_ic_timesync(vm->ic, IC_TIMESYNC_RESUME);
        return 0;
}

bool vmwp_vm_is_paused(struct vmwp_vm *vm)
{
        bool r;

        pthread_mutex_lock(&vm->lock);
        r = vm->pause_requested;
        pthread_mutex_unlock(&vm->lock);
        return r;
}

int vmwp_vm_power_button(struct vmwp_vm *vm)
{
        return vdev_pm_power_button(vm->pm);
}

void vmwp_vm_free(struct vmwp_vm *vm)
{
        if (!vm)
                return;
        vmwp_vm_stop(vm);
        if (vm->console)
                vmwp_console_attach(vm->console, NULL);
        /* Devices first (their I/O threads use routes and guest memory), then routing. */
        vmbus_free(vm->bus);
        free(vm->disks);
        kvm_irq_routing_free(vm->irq_routing);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vmwp_vcpu_done(&vm->vcpus[i]);
        free(vm->vcpus);
        free(vm->cpuid);
        vdev_serial_free(vm->serial);
        vdev_rtc_free(vm->rtc);
        vdev_i8042_free(vm->i8042);
        vdev_pm_free(vm->pm);
        iobus_done(&vm->pio);
        iobus_done(&vm->mmio);
        safe_close(vm->vm_fd);
        safe_close(vm->kvm_fd);
        gmem_free(vm->mem);
        safe_close(vm->exit_efd);
        pthread_cond_destroy(&vm->cond);
        pthread_mutex_destroy(&vm->lock);
        free(vm);
}
