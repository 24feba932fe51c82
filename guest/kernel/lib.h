/* SPDX-License-Identifier: MIT */
/* The kernel's tiny C library: memory/string functions, number parsing, snprintf. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a)      (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)     (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)   ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b)          ((a) < (b) ? (a) : (b))
#define MAX(a, b)          ((a) > (b) ? (a) : (b))
#define _noreturn_         __attribute__((noreturn))
#define _printf_(a, b)     __attribute__((format(printf, a, b)))
#define _unused_           __attribute__((unused))

#define EPERM    1
#define ENOENT   2
#define EIO      5
#define E2BIG    7
#define ENOMEM  12
#define EFAULT  14
#define EBUSY   16
#define EEXIST  17
#define ENODEV  19
#define EINVAL  22
#define ENOSPC  28
#define EROFS   30
#define ERANGE  34
#define EAGAIN  11
#define ENOSYS  38
#define EBADMSG 74
#define ETIMEDOUT 110

/* The compiler may emit calls to these four; they keep their standard names. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

size_t guest_strlen(const char *s);
size_t guest_strnlen(const char *s, size_t max);
int guest_strcmp(const char *a, const char *b);
int guest_strncmp(const char *a, const char *b, size_t n);
bool guest_startswith(const char *s, const char *prefix);
size_t guest_strlcpy(char *dst, const char *src, size_t size);
const void *guest_memmem(const void *hay, size_t hay_len, const void *needle, size_t needle_len);

/* Parse an unsigned decimal or 0x-prefixed hexadecimal number that spans [s, s+len). */
int guest_parse_u64(const char *s, size_t len, uint64_t *ret);

int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int guest_snprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
