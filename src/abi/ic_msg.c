/* SPDX-License-Identifier: MIT */
/*
 * The IC line format: a strict, allocation-free parser for flat JSON objects and a bounded
 * writer. Everything here reads bytes a guest chose; every index is checked against the
 * line's end before it is used.
 *
 * Freestanding: the one copy of the codec, built into the host's services, vmic and the
 * bundled guest kernel (which has no C library), so it uses no library function at all.
 */
#include <abi/ic_msg.h>

static size_t c_strlen(const char *s)
{
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

static int c_memcmp(const void *a, const void *b, size_t n)
{
        const unsigned char *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

static int c_strcmp(const char *a, const char *b)
{
        while (*a && *a == *b)
                a++, b++;
        return (unsigned char)*a - (unsigned char)*b;
}

static void c_memcpy(void *dst, const void *src, size_t n)
{
        unsigned char *d = dst;
        const unsigned char *s = src;

        for (size_t i = 0; i < n; i++)
                d[i] = s[i];
}

static const char *const service_names[IC_SVC_COUNT] = {
        [IC_SVC_HEARTBEAT] = "heartbeat",
        [IC_SVC_SHUTDOWN] = "shutdown",
        [IC_SVC_TIMESYNC] = "timesync",
        [IC_SVC_KVP] = "kvp",
        [IC_SVC_FCOPY] = "fcopy",
};

static const char *const service_ports[IC_SVC_COUNT] = {
        [IC_SVC_HEARTBEAT] = IC_PORT_HEARTBEAT,
        [IC_SVC_SHUTDOWN] = IC_PORT_SHUTDOWN,
        [IC_SVC_TIMESYNC] = IC_PORT_TIMESYNC,
        [IC_SVC_KVP] = IC_PORT_KVP,
        [IC_SVC_FCOPY] = IC_PORT_FCOPY,
};

static const char *const error_names[IC_ERR_MAX + 1] = {
        [0] = "success",
        [IC_ERR_BAD_MESSAGE] = "bad message",
        [IC_ERR_UNKNOWN_TYPE] = "unknown message type",
        [IC_ERR_VERSION] = "no common protocol version",
        [IC_ERR_TOO_LARGE] = "too large",
        [IC_ERR_NOT_FOUND] = "not found",
        [IC_ERR_NO_SPACE] = "no space",
        [IC_ERR_ACCESS] = "access refused",
        [IC_ERR_INVALID_PATH] = "invalid path",
        [IC_ERR_CHECKSUM] = "checksum mismatch",
        [IC_ERR_SEQUENCE] = "out of sequence",
        [IC_ERR_BUSY] = "busy",
        [IC_ERR_EXISTS] = "file exists",
        [IC_ERR_IO] = "I/O error",
        [IC_ERR_REFUSED] = "refused",
        [IC_ERR_CANCELLED] = "cancelled",
        [IC_ERR_TIMEOUT] = "timed out",
        [IC_ERR_NOT_CONNECTED] = "not connected",
};

const char *ic_service_name(enum ic_service s)
{
        return (unsigned)s < IC_SVC_COUNT ? service_names[s] : NULL;
}

const char *ic_service_port(enum ic_service s)
{
        return (unsigned)s < IC_SVC_COUNT ? service_ports[s] : NULL;
}

int ic_service_from_port(const char *name, size_t len)
{
        for (unsigned i = 0; i < IC_SVC_COUNT; i++)
                if (c_strlen(service_ports[i]) == len && c_memcmp(service_ports[i], name, len) == 0)
                        return (int)i;
        return -IC_ENOENT;
}

const char *ic_error_name(unsigned code)
{
        return code <= IC_ERR_MAX ? error_names[code] : "unknown error";
}

bool ic_utf8_valid(const char *str, size_t n)
{
        const uint8_t *s = (const uint8_t *)str;
        size_t i = 0;

        while (i < n) {
                uint8_t c = s[i];
                unsigned need;
                uint32_t cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        need = 1, cp = c & 0x1f, min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        need = 2, cp = c & 0x0f, min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        need = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        return false;
                }
                if (n - i <= need)
                        return false;
                for (unsigned k = 1; k <= need; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += need + 1;
        }
        return true;
}

/* --- parser -------------------------------------------------------------------------- */

struct cursor {
        char *p, *end;
};

static void skip_ws(struct cursor *c)
{
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
                c->p++;
}

static int hex4(const char *p, uint32_t *ret)
{
        uint32_t v = 0;

        for (int i = 0; i < 4; i++) {
                char h = p[i];

                v <<= 4;
                if (h >= '0' && h <= '9')
                        v |= (uint32_t)(h - '0');
                else if (h >= 'a' && h <= 'f')
                        v |= (uint32_t)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F')
                        v |= (uint32_t)(h - 'A' + 10);
                else
                        return -IC_EBADMSG;
        }
        *ret = v;
        return 0;
}

static char *put_utf8(char *w, uint32_t cp)
{
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
        return w;
}

/*
 * A string at c->p (the opening quote), decoded in place: the output never runs ahead of
 * the input (every escape is at least as long as what it stands for), so writing from the
 * opening quote on only overwrites bytes already read.
 */
static int parse_string(struct cursor *c, const char **ret, size_t *ret_len)
{
        char *w = c->p, *start = c->p;

        if (c->p >= c->end || *c->p != '"')
                return -IC_EBADMSG;
        c->p++;
        for (;;) {
                char ch;

                if (c->p >= c->end)
                        return -IC_EBADMSG;
                ch = *c->p++;
                if (ch == '"')
                        break;
                if ((uint8_t)ch < 0x20)
                        return -IC_EBADMSG;
                if (ch != '\\') {
                        *w++ = ch;
                        continue;
                }
                if (c->p >= c->end)
                        return -IC_EBADMSG;
                ch = *c->p++;
                switch (ch) {
                case '"': *w++ = '"'; break;
                case '\\': *w++ = '\\'; break;
                case '/': *w++ = '/'; break;
                case 'b': *w++ = '\b'; break;
                case 'f': *w++ = '\f'; break;
                case 'n': *w++ = '\n'; break;
                case 'r': *w++ = '\r'; break;
                case 't': *w++ = '\t'; break;
                case 'u': {
                        uint32_t cp, lo;

                        if (c->end - c->p < 4 || hex4(c->p, &cp) < 0)
                                return -IC_EBADMSG;
                        c->p += 4;
                        if (cp >= 0xdc00 && cp <= 0xdfff)
                                return -IC_EBADMSG;
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
                                    hex4(c->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                                        return -IC_EBADMSG;
                                c->p += 6;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        }
                        if (cp == 0)
                                return -IC_EBADMSG;
                        w = put_utf8(w, cp);
                        break;
                }
                default:
                        return -IC_EBADMSG;
                }
        }
        *w = 0;         /* w < c->p: at most the closing quote is overwritten */
        if (!ic_utf8_valid(start, (size_t)(w - start)))
                return -IC_EBADMSG;
        *ret = start;
        *ret_len = (size_t)(w - start);
        return 0;
}

static int parse_int(struct cursor *c, int64_t *ret)
{
        bool neg = false;
        uint64_t v = 0, limit;
        unsigned digits = 0;

        if (c->p < c->end && *c->p == '-') {
                neg = true;
                c->p++;
        }
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
                return -IC_EBADMSG;
        if (*c->p == '0' && c->end - c->p > 1 && c->p[1] >= '0' && c->p[1] <= '9')
                return -IC_EBADMSG;        /* no leading zeros */
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                unsigned d = (unsigned)(*c->p++ - '0');

                if (v > (limit - d) / 10)
                        return -IC_EBADMSG;
                v = v * 10 + d;
                digits++;
        }
        if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
                return -IC_EBADMSG;        /* integers only */
        *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
        return digits ? 0 : -IC_EBADMSG;
}

static bool take_word(struct cursor *c, const char *word)
{
        size_t n = c_strlen(word);

        if ((size_t)(c->end - c->p) < n || c_memcmp(c->p, word, n) != 0)
                return false;
        c->p += n;
        return true;
}

static int parse_value(struct cursor *c, struct ic_value *v)
{
        if (c->p >= c->end)
                return -IC_EBADMSG;
        *v = (struct ic_value) { 0 };
        switch (*c->p) {
        case '"':
                v->type = IC_VAL_STRING;
                return parse_string(c, &v->s, &v->len);
        case 't':
                v->type = IC_VAL_BOOL;
                v->b = true;
                return take_word(c, "true") ? 0 : -IC_EBADMSG;
        case 'f':
                v->type = IC_VAL_BOOL;
                return take_word(c, "false") ? 0 : -IC_EBADMSG;
        case 'n':
                v->type = IC_VAL_NULL;
                return take_word(c, "null") ? 0 : -IC_EBADMSG;
        default:
                v->type = IC_VAL_INT;
                return parse_int(c, &v->i);     /* objects and arrays end up here: refused */
        }
}

int ic_msg_parse(char *line, size_t len, struct ic_msg *ret)
{
        struct cursor c = { .p = line, .end = line + len };
        struct ic_msg m = { 0 };
        int r;

        skip_ws(&c);
        if (c.p >= c.end || *c.p != '{')
                return -IC_EBADMSG;
        c.p++;
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') {
                c.p++;
        } else {
                for (;;) {
                        const char *name;
                        size_t name_len;
                        struct ic_value v;

                        r = parse_string(&c, &name, &name_len);
                        if (r < 0)
                                return r;
                        if (name_len == 0 || name_len > IC_MSG_NAME_MAX)
                                return name_len ? -IC_E2BIG : -IC_EBADMSG;
                        skip_ws(&c);
                        if (c.p >= c.end || *c.p != ':')
                                return -IC_EBADMSG;
                        c.p++;
                        skip_ws(&c);
                        r = parse_value(&c, &v);
                        if (r < 0)
                                return r;
                        for (unsigned i = 0; i < m.n; i++)
                                if (c_strcmp(m.m[i].name, name) == 0)
                                        return -IC_EBADMSG;
                        if (m.n >= IC_MSG_MEMBERS_MAX)
                                return -IC_E2BIG;
                        m.m[m.n++] = (struct ic_member) { .name = name, .v = v };
                        skip_ws(&c);
                        if (c.p < c.end && *c.p == ',') {
                                c.p++;
                                skip_ws(&c);
                                continue;
                        }
                        if (c.p < c.end && *c.p == '}') {
                                c.p++;
                                break;
                        }
                        return -IC_EBADMSG;
                }
        }
        skip_ws(&c);
        if (c.p != c.end)
                return -IC_EBADMSG;
        for (unsigned i = 0; i < m.n; i++)
                if (c_strcmp(m.m[i].name, "type") == 0 && m.m[i].v.type == IC_VAL_STRING)
                        m.type = m.m[i].v.s;
        if (!m.type)
                return -IC_EBADMSG;
        *ret = m;
        return 0;
}

const struct ic_value *ic_msg_get(const struct ic_msg *m, const char *name)
{
        for (unsigned i = 0; i < m->n; i++)
                if (c_strcmp(m->m[i].name, name) == 0)
                        return &m->m[i].v;
        return NULL;
}

int ic_msg_get_str(const struct ic_msg *m, const char *name, size_t max, const char **ret,
                   size_t *ret_len)
{
        const struct ic_value *v = ic_msg_get(m, name);

        if (!v)
                return -IC_ENOENT;
        if (v->type != IC_VAL_STRING)
                return -IC_EBADMSG;
        if (v->len > max)
                return -IC_E2BIG;
        *ret = v->s;
        if (ret_len)
                *ret_len = v->len;
        return 0;
}

int ic_msg_get_int(const struct ic_msg *m, const char *name, int64_t min, int64_t max, int64_t *ret)
{
        const struct ic_value *v = ic_msg_get(m, name);

        if (!v)
                return -IC_ENOENT;
        if (v->type != IC_VAL_INT)
                return -IC_EBADMSG;
        if (v->i < min || v->i > max)
                return -IC_ERANGE;
        *ret = v->i;
        return 0;
}

int ic_msg_get_bool(const struct ic_msg *m, const char *name, bool *ret)
{
        const struct ic_value *v = ic_msg_get(m, name);

        if (!v)
                return -IC_ENOENT;
        if (v->type != IC_VAL_BOOL)
                return -IC_EBADMSG;
        *ret = v->b;
        return 0;
}

bool ic_msg_is(const struct ic_msg *m, const char *t)
{
        return m->type && c_strcmp(m->type, t) == 0;
}

/* --- writer -------------------------------------------------------------------------- */

static void w_put(struct ic_writer *w, const char *s, size_t n)
{
        if (w->overflow || w->cap - w->len < n) {
                w->overflow = true;
                return;
        }
        c_memcpy(w->buf + w->len, s, n);
        w->len += n;
}

static void w_quoted(struct ic_writer *w, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";

        w_put(w, "\"", 1);
        for (size_t i = 0; i < n && !w->overflow; i++) {
                uint8_t ch = (uint8_t)s[i];
                char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };
                size_t run = i;

                /* Copy runs of plain bytes at once. */
                while (run < n && (uint8_t)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
                        run++;
                if (run > i) {
                        w_put(w, s + i, run - i);
                        i = run - 1;
                        continue;
                }
                if (ch == '"' || ch == '\\') {
                        esc[1] = (char)ch;
                        w_put(w, esc, 2);
                } else if (ch == '\n') {
                        w_put(w, "\\n", 2);
                } else if (ch == '\t') {
                        w_put(w, "\\t", 2);
                } else {
                        w_put(w, esc, 6);
                }
        }
        w_put(w, "\"", 1);
}

static void w_name(struct ic_writer *w, const char *name)
{
        w_put(w, ",", 1);
        w_quoted(w, name, c_strlen(name));
        w_put(w, ":", 1);
}

void ic_writer_begin(struct ic_writer *w, char *buf, size_t cap, const char *type)
{
        *w = (struct ic_writer) { .buf = buf, .cap = cap };
        w_put(w, "{\"type\":", 8);
        w_quoted(w, type, c_strlen(type));
}

void ic_writer_str(struct ic_writer *w, const char *name, const char *s, size_t len)
{
        w_name(w, name);
        w_quoted(w, s, len);
}

void ic_writer_cstr(struct ic_writer *w, const char *name, const char *s)
{
        ic_writer_str(w, name, s, c_strlen(s));
}

void ic_writer_int(struct ic_writer *w, const char *name, int64_t v)
{
        char num[24];
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        size_t n = sizeof(num);

        do
                num[--n] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (v < 0)
                num[--n] = '-';
        w_name(w, name);
        w_put(w, num + n, sizeof(num) - n);
}

void ic_writer_bool(struct ic_writer *w, const char *name, bool v)
{
        w_name(w, name);
        w_put(w, v ? "true" : "false", v ? 4 : 5);
}

void ic_writer_base64(struct ic_writer *w, const char *name, const void *data, size_t len)
{
        size_t n = IC_BASE64_LEN(len);

        w_name(w, name);
        w_put(w, "\"", 1);
        if (w->overflow || w->cap - w->len < n) {
                w->overflow = true;
                return;
        }
        w->len += ic_base64_encode(data, len, w->buf + w->len);
        w_put(w, "\"", 1);
}

int ic_writer_end(struct ic_writer *w)
{
        w_put(w, "}\n", 2);
        if (w->overflow)
                return -IC_ENOBUFS;
        return (int)w->len;
}

/* --- base64 -------------------------------------------------------------------------- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ic_base64_encode(const void *in, size_t n, char *out)
{
        const uint8_t *s = in;
        size_t o = 0, i = 0;

        for (; n - i >= 3; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

                out[o++] = b64_chars[v >> 18];
                out[o++] = b64_chars[(v >> 12) & 63];
                out[o++] = b64_chars[(v >> 6) & 63];
                out[o++] = b64_chars[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t)s[i] << 16;

                out[o++] = b64_chars[v >> 18];
                out[o++] = b64_chars[(v >> 12) & 63];
                out[o++] = '=';
                out[o++] = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

                out[o++] = b64_chars[v >> 18];
                out[o++] = b64_chars[(v >> 12) & 63];
                out[o++] = b64_chars[(v >> 6) & 63];
                out[o++] = '=';
        }
        return o;
}

static int b64_val(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int ic_base64_decode(const char *in, size_t n, void *out, size_t cap, size_t *ret_len)
{
        uint8_t *d = out;
        size_t o = 0;

        if (n % 4)
                return -IC_EBADMSG;
        for (size_t i = 0; i < n; i += 4) {
                int a = b64_val(in[i]), b = b64_val(in[i + 1]);
                int c = in[i + 2] == '=' ? -2 : b64_val(in[i + 2]);
                int e = in[i + 3] == '=' ? -2 : b64_val(in[i + 3]);
                bool last = i + 4 == n;
                unsigned bytes = 3;
                uint32_t v;

                if (a < 0 || b < 0 || c == -1 || e == -1)
                        return -IC_EBADMSG;
                if (c == -2 || e == -2) {
                        if (!last || (c == -2 && e != -2))
                                return -IC_EBADMSG;
                        bytes = c == -2 ? 1 : 2;
                }
                v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)(c < 0 ? 0 : c) << 6 |
                    (uint32_t)(e < 0 ? 0 : e);
                /* Canonical: the bits padding drops must be zero. */
                if ((bytes == 1 && (v & 0xffff)) || (bytes == 2 && (v & 0xff)))
                        return -IC_EBADMSG;
                if (cap - o < bytes)
                        return -IC_ENOBUFS;
                d[o++] = (uint8_t)(v >> 16);
                if (bytes > 1)
                        d[o++] = (uint8_t)(v >> 8);
                if (bytes > 2)
                        d[o++] = (uint8_t)v;
        }
        *ret_len = o;
        return 0;
}
