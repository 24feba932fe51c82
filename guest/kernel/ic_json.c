/* SPDX-License-Identifier: MIT */
/* Flat JSON objects, one per line: parse in place, write bounded, decode base64. */
#include "kernel/ic_json.h"
#include "kernel/lib.h"

static void skip_ws(const char **p, const char *end)
{
        while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n'))
                (*p)++;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool hex4(const char *p, uint32_t *ret)
{
        uint32_t v = 0;

        for (int i = 0; i < 4; i++) {
                int h = hexval(p[i]);

                if (h < 0)
                        return false;
                v = v << 4 | (uint32_t)h;
        }
        *ret = v;
        return true;
}

/* A string at *p (its opening quote), decoded in place: output never overtakes input. */
static int parse_string(char **pp, const char *end, const char **ret, size_t *ret_len)
{
        char *p = *pp, *w = p, *start = p;

        if (p >= end || *p != '"')
                return -EBADMSG;
        p++;
        for (;;) {
                char c;

                if (p >= end)
                        return -EBADMSG;
                c = *p++;
                if (c == '"')
                        break;
                if ((uint8_t)c < 0x20)
                        return -EBADMSG;
                if (c != '\\') {
                        *w++ = c;
                        continue;
                }
                if (p >= end)
                        return -EBADMSG;
                c = *p++;
                switch (c) {
                case '"': case '\\': case '/': *w++ = c; break;
                case 'b': *w++ = '\b'; break;
                case 'f': *w++ = '\f'; break;
                case 'n': *w++ = '\n'; break;
                case 'r': *w++ = '\r'; break;
                case 't': *w++ = '\t'; break;
                case 'u': {
                        uint32_t cp, lo;

                        if (end - p < 4 || !hex4(p, &cp))
                                return -EBADMSG;
                        p += 4;
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) ||
                                    lo < 0xdc00 || lo > 0xdfff)
                                        return -EBADMSG;
                                p += 6;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
                                return -EBADMSG;
                        }
                        if (cp < 0x80) {
                                *w++ = (char)cp;
                        } else if (cp < 0x800) {
                                *w++ = (char)(0xc0 | cp >> 6);
                                *w++ = (char)(0x80 | (cp & 0x3f));
                        } else if (cp < 0x10000) {
                                *w++ = (char)(0xe0 | cp >> 12);
                                *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                                *w++ = (char)(0x80 | (cp & 0x3f));
                        } else {
                                *w++ = (char)(0xf0 | cp >> 18);
                                *w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                                *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                                *w++ = (char)(0x80 | (cp & 0x3f));
                        }
                        break;
                }
                default:
                        return -EBADMSG;
                }
        }
        *w = 0;
        *ret = start;
        *ret_len = (size_t)(w - start);
        *pp = p;
        return 0;
}

static bool take(const char **p, const char *end, const char *word)
{
        size_t n = guest_strlen(word);

        if ((size_t)(end - *p) < n || memcmp(*p, word, n) != 0)
                return false;
        *p += n;
        return true;
}

static int parse_value(char **pp, const char *end, struct guest_ic_value *v)
{
        const char *p = *pp;
        uint64_t acc = 0, limit;
        bool neg = false;
        unsigned digits = 0;

        *v = (struct guest_ic_value){ 0 };
        if (p >= end)
                return -EBADMSG;
        if (*p == '"') {
                v->type = GUEST_IC_STRING;
                return parse_string(pp, end, &v->s, &v->len);
        }
        if (*p == 't' || *p == 'f' || *p == 'n') {
                v->type = *p == 'n' ? GUEST_IC_NULL : GUEST_IC_BOOL;
                v->b = *p == 't';
                if (!take(&p, end, *p == 't' ? "true" : *p == 'f' ? "false" : "null"))
                        return -EBADMSG;
                *pp = (char *)p;
                return 0;
        }
        v->type = GUEST_IC_INT;
        if (*p == '-') {
                neg = true;
                p++;
        }
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (p < end && *p == '0' && end - p > 1 && p[1] >= '0' && p[1] <= '9')
                return -EBADMSG;
        while (p < end && *p >= '0' && *p <= '9') {
                unsigned d = (unsigned)(*p++ - '0');

                if (acc > (limit - d) / 10)
                        return -EBADMSG;
                acc = acc * 10 + d;
                digits++;
        }
        if (!digits || (p < end && (*p == '.' || *p == 'e' || *p == 'E')))
                return -EBADMSG;
        v->i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
        *pp = (char *)p;
        return 0;
}

int guest_ic_parse(char *line, size_t len, struct guest_ic_msg *ret)
{
        const char *end = line + len;
        char *p = line;
        struct guest_ic_msg m = { 0 };

        skip_ws((const char **)&p, end);
        if (p >= end || *p != '{')
                return -EBADMSG;
        p++;
        skip_ws((const char **)&p, end);
        if (p < end && *p == '}') {
                p++;
        } else {
                for (;;) {
                        const char *name;
                        size_t nlen;
                        struct guest_ic_value v;

                        if (parse_string(&p, end, &name, &nlen) < 0 || nlen == 0 || nlen > IC_MSG_NAME_MAX)
                                return -EBADMSG;
                        skip_ws((const char **)&p, end);
                        if (p >= end || *p != ':')
                                return -EBADMSG;
                        p++;
                        skip_ws((const char **)&p, end);
                        if (parse_value(&p, end, &v) < 0 || m.n >= IC_MSG_MEMBERS_MAX)
                                return -EBADMSG;
                        for (unsigned i = 0; i < m.n; i++)
                                if (guest_strcmp(m.m[i].name, name) == 0)
                                        return -EBADMSG;
                        m.m[m.n].name = name;
                        m.m[m.n].v = v;
                        m.n++;
                        skip_ws((const char **)&p, end);
                        if (p < end && *p == ',') {
                                p++;
                                skip_ws((const char **)&p, end);
                                continue;
                        }
                        if (p < end && *p == '}') {
                                p++;
                                break;
                        }
                        return -EBADMSG;
                }
        }
        skip_ws((const char **)&p, end);
        if (p != end)
                return -EBADMSG;
        for (unsigned i = 0; i < m.n; i++)
                if (guest_strcmp(m.m[i].name, "type") == 0 && m.m[i].v.type == GUEST_IC_STRING)
                        m.type = m.m[i].v.s;
        if (!m.type)
                return -EBADMSG;
        *ret = m;
        return 0;
}

static const struct guest_ic_value *get(const struct guest_ic_msg *m, const char *name)
{
        for (unsigned i = 0; i < m->n; i++)
                if (guest_strcmp(m->m[i].name, name) == 0)
                        return &m->m[i].v;
        return NULL;
}

bool guest_ic_is(const struct guest_ic_msg *m, const char *type)
{
        return guest_strcmp(m->type, type) == 0;
}

bool guest_ic_str(const struct guest_ic_msg *m, const char *name, size_t max, const char **ret, size_t *ret_len)
{
        const struct guest_ic_value *v = get(m, name);

        if (!v || v->type != GUEST_IC_STRING || v->len > max)
                return false;
        *ret = v->s;
        if (ret_len)
                *ret_len = v->len;
        return true;
}

bool guest_ic_int(const struct guest_ic_msg *m, const char *name, int64_t min, int64_t max, int64_t *ret)
{
        const struct guest_ic_value *v = get(m, name);

        if (!v || v->type != GUEST_IC_INT || v->i < min || v->i > max)
                return false;
        *ret = v->i;
        return true;
}

bool guest_ic_bool(const struct guest_ic_msg *m, const char *name, bool *ret)
{
        const struct guest_ic_value *v = get(m, name);

        if (!v || v->type != GUEST_IC_BOOL)
                return false;
        *ret = v->b;
        return true;
}

/* --- writer -------------------------------------------------------------------------- */

static void put(struct guest_ic_writer *w, const char *s, size_t n)
{
        if (w->overflow || w->cap - w->len < n) {
                w->overflow = true;
                return;
        }
        memcpy(w->buf + w->len, s, n);
        w->len += n;
}

static void put_quoted(struct guest_ic_writer *w, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";

        put(w, "\"", 1);
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t)s[i];

                if (c == '"' || c == '\\') {
                        char e[2] = { '\\', (char)c };

                        put(w, e, 2);
                } else if (c < 0x20) {
                        char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

                        put(w, e, 6);
                } else {
                        put(w, (const char *)&s[i], 1);
                }
        }
        put(w, "\"", 1);
}

static void put_name(struct guest_ic_writer *w, const char *name)
{
        put(w, ",", 1);
        put_quoted(w, name, guest_strlen(name));
        put(w, ":", 1);
}

void guest_ic_begin(struct guest_ic_writer *w, char *buf, size_t cap, const char *type)
{
        *w = (struct guest_ic_writer){ .buf = buf, .cap = cap };
        put(w, "{\"type\":", 8);
        put_quoted(w, type, guest_strlen(type));
}

void guest_ic_add_str(struct guest_ic_writer *w, const char *name, const char *s, size_t len)
{
        put_name(w, name);
        put_quoted(w, s, len);
}

void guest_ic_add_cstr(struct guest_ic_writer *w, const char *name, const char *s)
{
        guest_ic_add_str(w, name, s, guest_strlen(s));
}

void guest_ic_add_int(struct guest_ic_writer *w, const char *name, int64_t v)
{
        char num[24];
        int n = guest_snprintf(num, sizeof(num), "%lld", (long long)v);

        put_name(w, name);
        put(w, num, (size_t)n);
}

void guest_ic_add_bool(struct guest_ic_writer *w, const char *name, bool v)
{
        put_name(w, name);
        put(w, v ? "true" : "false", v ? 4 : 5);
}

int guest_ic_end(struct guest_ic_writer *w)
{
        put(w, "}\n", 2);
        return w->overflow ? -E2BIG : (int)w->len;
}

/* --- base64 -------------------------------------------------------------------------- */

static int b64(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : c == '=' ? -2 : -1;
}

int guest_ic_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *ret_len)
{
        size_t o = 0;

        if (n % 4)
                return -EBADMSG;
        for (size_t i = 0; i < n; i += 4) {
                int a = b64(in[i]), b = b64(in[i + 1]), c = b64(in[i + 2]), d = b64(in[i + 3]);
                unsigned bytes = 3;
                uint32_t v;

                if (a < 0 || b < 0 || c == -1 || d == -1)
                        return -EBADMSG;
                if (c == -2 || d == -2) {
                        if (i + 4 != n || (c == -2 && d != -2))
                                return -EBADMSG;
                        bytes = c == -2 ? 1 : 2;
                }
                v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)(c < 0 ? 0 : c) << 6 | (uint32_t)(d < 0 ? 0 : d);
                if (cap - o < bytes)
                        return -E2BIG;
                out[o++] = (uint8_t)(v >> 16);
                if (bytes > 1)
                        out[o++] = (uint8_t)(v >> 8);
                if (bytes > 2)
                        out[o++] = (uint8_t)v;
        }
        *ret_len = o;
        return 0;
}
