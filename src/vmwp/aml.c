/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"

#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_NAME        0x08
#define AML_BYTE        0x0a
#define AML_WORD        0x0b
#define AML_DWORD       0x0c
#define AML_STRING      0x0d
#define AML_QWORD       0x0e
#define AML_SCOPE       0x10
#define AML_BUFFER      0x11
#define AML_PACKAGE     0x12
#define AML_EXT         0x5b
#define AML_DEVICE      0x82
#define AML_ONES        0xff

/* Buffers get their BufferSize (a WordConst) patched at aml_end(). */
#define OPEN_BUFFER_FLAG ((size_t)1 << 63)

void aml_init(struct aml *a)
{
        *a = (struct aml) {};
}

void aml_done(struct aml *a)
{
        free(a->buf);
        *a = (struct aml) {};
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
        if (a->error)
                return;
        if (a->len + n > a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 1024;
                uint8_t *nb;

                while (cap < a->len + n)
                        cap *= 2;
                nb = realloc(a->buf, cap);
                if (!nb) {
                        a->error = -ENOMEM;
                        return;
                }
                a->buf = nb;
                a->cap = cap;
        }
        memcpy(a->buf + a->len, p, n);
        a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
        aml_bytes(a, &b, 1);
}

void aml_name_seg(struct aml *a, const char *name)
{
        char seg[4] = { '_', '_', '_', '_' };

        while (*name == '\\' || *name == '^')
                aml_byte(a, (uint8_t)*name++);
        for (unsigned i = 0; i < 4 && name[i]; i++)
                seg[i] = name[i];
        aml_bytes(a, seg, 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
        if (v == 0)
                aml_byte(a, AML_ZERO);
        else if (v == 1)
                aml_byte(a, AML_ONE);
        else if (v <= 0xff) {
                aml_byte(a, AML_BYTE);
                aml_byte(a, (uint8_t)v);
        } else if (v <= 0xffff) {
                uint16_t w = (uint16_t)v;

                aml_byte(a, AML_WORD);
                aml_bytes(a, &w, 2);
        } else if (v <= 0xffffffff) {
                uint32_t d = (uint32_t)v;

                aml_byte(a, AML_DWORD);
                aml_bytes(a, &d, 4);
        } else {
                aml_byte(a, AML_QWORD);
                aml_bytes(a, &v, 8);
        }
}

void aml_string(struct aml *a, const char *s)
{
        aml_byte(a, AML_STRING);
        aml_bytes(a, s, strlen(s) + 1);
}

static uint8_t hexval(char c)
{
        return (uint8_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

void aml_eisaid(struct aml *a, const char *id)
{
        /* Three letters compressed to 5 bits each, four hex digits; stored big-endian. */
        uint32_t v = (uint32_t)((id[0] - 0x40) & 0x1f) << 26 | (uint32_t)((id[1] - 0x40) & 0x1f) << 21 |
                     (uint32_t)((id[2] - 0x40) & 0x1f) << 16 | (uint32_t)hexval(id[3]) << 12 |
                     (uint32_t)hexval(id[4]) << 8 | (uint32_t)hexval(id[5]) << 4 | hexval(id[6]);
        uint32_t be = __builtin_bswap32(v);

        aml_byte(a, AML_DWORD);
        aml_bytes(a, &be, 4);
}

void aml_name(struct aml *a, const char *name)
{
        aml_byte(a, AML_NAME);
        aml_name_seg(a, name);
}

static void aml_open(struct aml *a, size_t flag)
{
        if (a->depth == AML_MAX_DEPTH) {
                a->error = -E2BIG;
                return;
        }
        a->open[a->depth++] = a->len | flag;
}

void aml_scope_begin(struct aml *a, const char *name)
{
        aml_byte(a, AML_SCOPE);
        aml_open(a, 0);
        aml_name_seg(a, name);
}

void aml_device_begin(struct aml *a, const char *name)
{
        aml_byte(a, AML_EXT);
        aml_byte(a, AML_DEVICE);
        aml_open(a, 0);
        aml_name_seg(a, name);
}

void aml_package_begin(struct aml *a, uint8_t n_elements)
{
        aml_byte(a, AML_PACKAGE);
        aml_open(a, 0);
        aml_byte(a, n_elements);
}

void aml_buffer_begin(struct aml *a)
{
        uint8_t size[3] = { AML_WORD, 0, 0 };

        aml_byte(a, AML_BUFFER);
        aml_open(a, OPEN_BUFFER_FLAG);
        aml_bytes(a, size, sizeof(size));
}

void aml_end(struct aml *a)
{
        size_t start, body, total;
        uint8_t pkg[4];
        unsigned n;

        if (a->error || a->depth == 0) {
                if (!a->error)
                        a->error = -EINVAL;
                return;
        }
        start = a->open[--a->depth];
        if (start & OPEN_BUFFER_FLAG) {
                uint16_t bsz;

                start &= ~OPEN_BUFFER_FLAG;
                bsz = (uint16_t)(a->len - start - 3);
                memcpy(a->buf + start + 1, &bsz, 2);
        }
        body = a->len - start;
        /* PkgLength counts its own bytes: 1 byte up to 63, else 2..4 bytes. */
        if (body + 1 <= 0x3f) {
                n = 1;
                total = body + 1;
                pkg[0] = (uint8_t)total;
        } else {
                n = body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
                total = body + n;
                pkg[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
                for (unsigned i = 1; i < n; i++)
                        pkg[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
        }
        aml_bytes(a, pkg, n);           /* grow, then move the body up */
        if (a->error)
                return;
        memmove(a->buf + start + n, a->buf + start, body);
        memcpy(a->buf + start, pkg, n);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
        /* I/O port descriptor: decode16, min = max = base, alignment 1. */
        uint8_t d[8] = { 0x47, 0x01, (uint8_t)base, (uint8_t)(base >> 8), (uint8_t)base,
                         (uint8_t)(base >> 8), 0x01, len };
        aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, uint8_t irq)
{
        uint16_t mask = (uint16_t)(1u << irq);
        uint8_t d[3] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };

        aml_bytes(a, d, sizeof(d));
}

static void res_address16(struct aml *a, uint8_t type, uint8_t gflags, uint16_t min, uint16_t max)
{
        uint16_t v[5] = { 0, min, max, 0, (uint16_t)(max - min + 1) };
        uint8_t h[6] = { 0x88, 13, 0, type, 0x0c /* min/max fixed, producer */, gflags };

        aml_bytes(a, h, 3);
        aml_bytes(a, h + 3, 3);
        aml_bytes(a, v, sizeof(v));
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
        res_address16(a, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
        res_address16(a, 1, 3 /* entire range */, min, max);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
        uint32_t v[5] = { 0, min, max, 0, max - min + 1 };
        uint8_t h[6] = { 0x87, 23, 0, 0, 0x0c, 0x01 /* read-write, non-cacheable */ };

        aml_bytes(a, h, sizeof(h));
        aml_bytes(a, v, sizeof(v));
}

void aml_res_qword_mem(struct aml *a, uint64_t min, uint64_t max)
{
        uint64_t v[5] = { 0, min, max, 0, max - min + 1 };
        uint8_t h[6] = { 0x8a, 43, 0, 0, 0x0c, 0x01 };

        aml_bytes(a, h, sizeof(h));
        aml_bytes(a, v, sizeof(v));
}

void aml_res_end(struct aml *a)
{
        uint8_t d[2] = { 0x79, 0x00 };  /* end tag; checksum 0 = "treat as correct" */

        aml_bytes(a, d, sizeof(d));
}
