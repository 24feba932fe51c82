/* SPDX-License-Identifier: MIT */
/*
 * The saved-state format: what a paused VM needs to go on in a fresh worker, apart from its
 * guest memory (a file of its own, see vmwp's save.c). A stream of sections, so the same
 * bytes can go to a file (save, checkpoints) or a socket (live migration):
 *
 *   header   "VMMSSTAT" (8 bytes), format version (u32 LE), flags (u32 LE)
 *   section  name length (u16 LE, 1..VMSTATE_NAME_MAX), name (ASCII), section version
 *            (u32 LE), payload length (u64 LE, <= VMSTATE_SECTION_MAX), payload,
 *            CRC-32 of everything from the name length to the payload's end (u32 LE)
 *   ...
 *   section  "end" with an empty payload: the stream is complete
 *
 * Each device writes and reads its own section (its name, e.g. "vcpu.0", "serial.com1", and
 * a version it checks). The reader refuses, naming the section: a damaged one (CRC), one
 * cut short, a format version it does not know; a device refuses a section version it does
 * not know. Sections nobody asks for are reported by vmstate_unclaimed().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMSTATE_MAGIC           "VMMSSTAT"
#define VMSTATE_FORMAT_VERSION  1u
#define VMSTATE_NAME_MAX        63u
#define VMSTATE_SECTION_MAX     (64u << 20)
#define VMSTATE_MAX_SECTIONS    4096u

struct vmstate_writer;
struct vmstate;

/* Start a stream on fd (the header is written at once). */
int vmstate_writer_new(int fd, struct vmstate_writer **ret);
/* One section; name must be unique in the stream. */
int vmstate_put(struct vmstate_writer *w, const char *name, uint32_t version, const void *data, size_t len);
/* The "end" section; then frees w. Returns the first error any put met. */
int vmstate_writer_finish(struct vmstate_writer *w);
void vmstate_writer_free(struct vmstate_writer *w);

/* Read a whole stream from fd and check it. -EINVAL/-EPROTO with a message in err. */
int vmstate_read(int fd, struct vmstate **ret, char *err, size_t err_len);
void vmstate_free(struct vmstate *s);
/*
 * The payload of section `name` (NULL, -ENOENT when absent); *ret_version and *ret_len
 * receive its version and length. Marks it claimed.
 */
int vmstate_get(struct vmstate *s, const char *name, uint32_t *ret_version, const void **ret_data, size_t *ret_len);
/* The first section nobody asked for, or NULL. */
const char *vmstate_unclaimed(const struct vmstate *s);
/* The same, leaving out sections whose names start with either prefix (not yet asked for). */
const char *vmstate_unclaimed_except(const struct vmstate *s, const char *prefix1, const char *prefix2);
