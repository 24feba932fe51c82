/* SPDX-License-Identifier: MIT */
#include "kernel/lib.h"

void *memcpy(void *dst, const void *src, size_t n)
{
        void *ret = dst;

        __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
        return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
        unsigned char *d = dst;
        const unsigned char *s = src;

        if (d <= s || d >= s + n)
                return memcpy(dst, src, n);
        while (n-- > 0)
                d[n] = s[n];
        return dst;
}

void *memset(void *dst, int c, size_t n)
{
        void *ret = dst;

        __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
        return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
        const unsigned char *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

size_t guest_strlen(const char *s)
{
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

size_t guest_strnlen(const char *s, size_t max)
{
        size_t n = 0;

        while (n < max && s[n])
                n++;
        return n;
}

int guest_strcmp(const char *a, const char *b)
{
        while (*a && *a == *b) {
                a++;
                b++;
        }
        return (unsigned char)*a - (unsigned char)*b;
}

int guest_strncmp(const char *a, const char *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (a[i] != b[i] || !a[i])
                        return (unsigned char)a[i] - (unsigned char)b[i];
        }
        return 0;
}

bool guest_startswith(const char *s, const char *prefix)
{
        return guest_strncmp(s, prefix, guest_strlen(prefix)) == 0;
}

size_t guest_strlcpy(char *dst, const char *src, size_t size)
{
        size_t len = guest_strlen(src);

        if (size > 0) {
                size_t n = MIN(len, size - 1);
                memcpy(dst, src, n);
                dst[n] = 0;
        }
        return len;
}

const void *guest_memmem(const void *hay, size_t hay_len, const void *needle, size_t needle_len)
{
        const unsigned char *h = hay;

        if (needle_len == 0)
                return hay;
        for (size_t i = 0; i + needle_len <= hay_len; i++)
                if (h[i] == *(const unsigned char *)needle && memcmp(h + i, needle, needle_len) == 0)
                        return h + i;
        return NULL;
}

int guest_parse_u64(const char *s, size_t len, uint64_t *ret)
{
        unsigned base = 10;
        uint64_t v = 0;
        size_t i = 0;

        if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                i = 2;
        }
        if (i == len)
                return -EINVAL;
        for (; i < len; i++) {
                char c = s[i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (base == 16 && c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (base == 16 && c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return -EINVAL;
                if (v > (UINT64_MAX - d) / base)
                        return -ERANGE;
                v = v * base + d;
        }
        *ret = v;
        return 0;
}
