/* SPDX-License-Identifier: MIT */
/*
 * A small vsnprintf: flags '-', '0', '#', ' ', '+', width and precision (also '*'), length
 * modifiers hh h l ll z t j, conversions d i u x X o p s c %. Always NUL-terminates when size > 0
 * and returns the length the full output would have had.
 */
#include "kernel/lib.h"

struct out {
        char *buf;
        size_t size;
        size_t len;
};

static void out_char(struct out *o, char c)
{
        if (o->len + 1 < o->size)
                o->buf[o->len] = c;
        o->len++;
}

static void out_repeat(struct out *o, char c, int n)
{
        while (n-- > 0)
                out_char(o, c);
}

#define F_LEFT  1u
#define F_ZERO  2u
#define F_ALT   4u
#define F_SPACE 8u
#define F_PLUS  16u

static void out_number(struct out *o, uint64_t v, bool negative, unsigned base, bool upper,
                       unsigned flags, int width, int precision)
{
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        char tmp[24];
        int n = 0, prefix_len = 0;
        char prefix[3];

        do {
                tmp[n++] = digits[v % base];
                v /= base;
        } while (v);
        if (precision == 0 && n == 1 && tmp[0] == '0')
                n = 0;

        if (negative)
                prefix[prefix_len++] = '-';
        else if (flags & F_PLUS)
                prefix[prefix_len++] = '+';
        else if (flags & F_SPACE)
                prefix[prefix_len++] = ' ';
        if ((flags & F_ALT) && base == 16) {
                prefix[prefix_len++] = '0';
                prefix[prefix_len++] = upper ? 'X' : 'x';
        } else if ((flags & F_ALT) && base == 8 && (n == 0 || tmp[n - 1] != '0')) {
                prefix[prefix_len++] = '0';
        }

        int zeros = precision > n ? precision - n : 0;
        int total = prefix_len + zeros + n;

        if ((flags & F_ZERO) && !(flags & F_LEFT) && precision < 0 && width > total) {
                zeros += width - total;
                total = width;
        }
        if (!(flags & F_LEFT))
                out_repeat(o, ' ', width - total);
        for (int i = 0; i < prefix_len; i++)
                out_char(o, prefix[i]);
        out_repeat(o, '0', zeros);
        while (n > 0)
                out_char(o, tmp[--n]);
        if (flags & F_LEFT)
                out_repeat(o, ' ', width - total);
}

int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
        struct out o = { .buf = buf, .size = size };

        for (const char *p = fmt; *p; p++) {
                if (*p != '%') {
                        out_char(&o, *p);
                        continue;
                }
                p++;

                unsigned flags = 0;
                for (;; p++) {
                        if (*p == '-')
                                flags |= F_LEFT;
                        else if (*p == '0')
                                flags |= F_ZERO;
                        else if (*p == '#')
                                flags |= F_ALT;
                        else if (*p == ' ')
                                flags |= F_SPACE;
                        else if (*p == '+')
                                flags |= F_PLUS;
                        else
                                break;
                }

                int width = 0;
                if (*p == '*') {
                        width = va_arg(ap, int);
                        if (width < 0) {
                                flags |= F_LEFT;
                                width = -width;
                        }
                        p++;
                } else {
                        while (*p >= '0' && *p <= '9')
                                width = width * 10 + (*p++ - '0');
                }

                int precision = -1;
                if (*p == '.') {
                        p++;
                        precision = 0;
                        if (*p == '*') {
                                precision = va_arg(ap, int);
                                p++;
                        } else {
                                while (*p >= '0' && *p <= '9')
                                        precision = precision * 10 + (*p++ - '0');
                        }
                }

                int lng = 0;    /* -2 hh, -1 h, 0 int, 1 long, 2 long long */
                for (;; p++) {
                        if (*p == 'h')
                                lng--;
                        else if (*p == 'l')
                                lng++;
                        else if (*p == 'z' || *p == 't' || *p == 'j')
                                lng = 2;
                        else
                                break;
                }

                switch (*p) {
                case 'd':
                case 'i': {
                        int64_t v = lng >= 1 ? va_arg(ap, long long) : va_arg(ap, int);
                        if (lng == -1)
                                v = (short)v;
                        else if (lng <= -2)
                                v = (signed char)v;
                        out_number(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0, 10, false, flags,
                                   width, precision);
                        break;
                }
                case 'u':
                case 'x':
                case 'X':
                case 'o': {
                        uint64_t v = lng >= 1 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
                        if (lng == -1)
                                v = (unsigned short)v;
                        else if (lng <= -2)
                                v = (unsigned char)v;
                        unsigned base = *p == 'u' ? 10 : *p == 'o' ? 8 : 16;
                        out_number(&o, v, false, base, *p == 'X', flags, width, precision);
                        break;
                }
                case 'p':
                        out_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, flags | F_ALT,
                                   width, precision);
                        break;
                case 'c': {
                        char c = (char)va_arg(ap, int);
                        if (!(flags & F_LEFT))
                                out_repeat(&o, ' ', width - 1);
                        out_char(&o, c);
                        if (flags & F_LEFT)
                                out_repeat(&o, ' ', width - 1);
                        break;
                }
                case 's': {
                        const char *s = va_arg(ap, const char *);
                        if (!s)
                                s = "(null)";
                        int n = (int)guest_strnlen(s, precision >= 0 ? (size_t)precision : SIZE_MAX);
                        if (!(flags & F_LEFT))
                                out_repeat(&o, ' ', width - n);
                        for (int i = 0; i < n; i++)
                                out_char(&o, s[i]);
                        if (flags & F_LEFT)
                                out_repeat(&o, ' ', width - n);
                        break;
                }
                case '%':
                        out_char(&o, '%');
                        break;
                case 0:
                        p--;
                        break;
                default:
                        out_char(&o, '%');
                        out_char(&o, *p);
                        break;
                }
        }

        if (size > 0)
                buf[MIN(o.len, size - 1)] = 0;
        return (int)MIN(o.len, (size_t)INT32_MAX);
}

int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = guest_vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return r;
}
