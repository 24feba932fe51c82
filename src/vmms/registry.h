/* SPDX-License-Identifier: MIT */
/*
 * The registry: one directory per VM under STATE_DIR/vms/<uuid>/ holding config.json.
 * Every write is atomic (write a temporary file, fsync it, rename it over the old one,
 * fsync the directory): a crash at any point leaves either the old or the new file, and
 * loading removes what a crash left behind (temporary files, half-created directories).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmms/config.h"

#define VMMS_UUID_STRING_MAX 37

/* The steps of an atomic write, in order; tests stop after any of them ("crash"). */
enum vmms_write_step {
        VMMS_WRITE_OPEN,        /* the temporary file exists, empty */
        VMMS_WRITE_HALF,        /* half the data is in it */
        VMMS_WRITE_DATA,        /* all of it */
        VMMS_WRITE_FSYNC,       /* on disk */
        VMMS_WRITE_RENAME,      /* renamed over the old file */
        VMMS_WRITE_DONE,        /* the directory fsynced: durable */
};

/* Steps of removing a VM. */
enum vmms_remove_step {
        VMMS_REMOVE_UNLINK,     /* config.json is gone: the VM no longer exists */
        VMMS_REMOVE_FSYNC,
        VMMS_REMOVE_RMDIR,
        VMMS_REMOVE_DONE,
};

int vmms_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
int vmms_write_file_atomic_until(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                                 enum vmms_write_step stop_after);

/* Create STATE_DIR/vms (0700) and return an O_PATH-less directory fd for it. */
int vmms_registry_open(const char *state_dir, int *ret_dirfd);
/* The canonical stored JSON of a VM (no console: vmms manages it). */
int vmms_registry_format(const struct vm_config *cfg, char **ret);
int vmms_registry_save(int vms_dirfd, const struct vm_config *cfg);
int vmms_registry_save_until(int vms_dirfd, const struct vm_config *cfg, enum vmms_write_step stop_after);
int vmms_registry_remove(int vms_dirfd, const char *uuid);
int vmms_registry_remove_until(int vms_dirfd, const char *uuid, enum vmms_remove_step stop_after);

/*
 * Load every VM, calling cb with each configuration (cb takes it over on success). Crash
 * leftovers are cleaned up; an unreadable configuration is reported through bad_cb (may
 * be NULL) and skipped.
 */
typedef int (*vmms_registry_load_fn)(struct vm_config *cfg, void *userdata);
typedef void (*vmms_registry_bad_fn)(const char *uuid, const char *message, void *userdata);
int vmms_registry_load(int vms_dirfd, vmms_registry_load_fn cb, vmms_registry_bad_fn bad_cb, void *userdata);

/* Random (version 4) UUIDs in the canonical lower-case form. */
int vmms_uuid_generate(char ret[VMMS_UUID_STRING_MAX]);
bool vmms_uuid_is_valid(const char *s);

/* Remove a directory's plain files and the directory itself (one level; for run dirs too). */
int vmms_rmdir_flat(int parent_fd, const char *name);
