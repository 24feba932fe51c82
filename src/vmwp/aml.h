/* SPDX-License-Identifier: MIT */
/*
 * A small AML encoder for the DSDT: names, integers, packages, devices, scopes and
 * resource templates. Nested objects are opened with aml_*_begin() and closed with
 * aml_end(), which back-patches the package length.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
        uint8_t *buf;
        size_t len, cap;
        size_t open[AML_MAX_DEPTH];     /* where each open object's length goes */
        unsigned depth;
        int error;                      /* sticky -errno */
};

void aml_init(struct aml *a);
void aml_done(struct aml *a);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
void aml_name_seg(struct aml *a, const char *name);     /* "_HID", "\\_SB_", "COM1" */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);         /* "PNP0501" */
void aml_name(struct aml *a, const char *name);         /* NameOp + name; a value must follow */
void aml_scope_begin(struct aml *a, const char *name);
void aml_device_begin(struct aml *a, const char *name);
void aml_package_begin(struct aml *a, uint8_t n_elements);
void aml_buffer_begin(struct aml *a);                   /* size is filled in at aml_end() */
void aml_end(struct aml *a);

/* Resource template items (inside aml_buffer_begin ... aml_end; end tag added by caller). */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *a, uint8_t irq);
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max);
void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max);
void aml_res_end(struct aml *a);
