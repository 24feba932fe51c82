/* SPDX-License-Identifier: MIT */
/* Virtual NIC configuration: the --nic syntax, its JSON form, MAC addresses. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <json-c/json.h>

#include "vmms/cleanup.h"
#include "vmms/cleanup-json.h"
#include "vmms/macro.h"
#include "vmms/nic.h"
#include "vmms/util.h"

_printf_(3, 4)
static int nic_error(char *err, size_t err_len, const char *fmt, ...)
{
        va_list ap;

        if (err && err_len > 0) {
                va_start(ap, fmt);
                vsnprintf(err, err_len, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

void nic_config_init(struct nic_config *c)
{
        *c = (struct nic_config) { .queues = 1 };
        for (unsigned i = 0; i < NIC_QUEUES_MAX; i++)
                c->fds[i] = -1;
}

void nic_config_done(struct nic_config *c)
{
        free(c->tap);
        free(c->bridge);
        free(c->switch_name);
        c->tap = c->bridge = c->switch_name = NULL;
}

static int strdup_or_null(const char *s, char **ret)
{
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int nic_config_copy(const struct nic_config *src, struct nic_config *ret)
{
        struct nic_config c = *src;

        c.tap = c.bridge = c.switch_name = NULL;
        if (strdup_or_null(src->tap, &c.tap) < 0 || strdup_or_null(src->bridge, &c.bridge) < 0 ||
            strdup_or_null(src->switch_name, &c.switch_name) < 0) {
                nic_config_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

bool nic_ifname_is_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > NIC_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) ||
                    (unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                        return false;
        return true;
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

int nic_mac_parse(const char *s, uint8_t ret[NIC_MAC_LEN])
{
        uint8_t mac[NIC_MAC_LEN];
        char sep = 0;

        if (!s || strlen(s) != NIC_MAC_STRLEN - 1)
                return -EINVAL;
        for (unsigned i = 0; i < NIC_MAC_LEN; i++) {
                const char *p = s + 3 * i;
                int hi = hexval(p[0]), lo = hexval(p[1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i < NIC_MAC_LEN - 1) {
                        if (p[2] != ':' && p[2] != '-')
                                return -EINVAL;
                        if (sep && p[2] != sep)
                                return -EINVAL;
                        sep = p[2];
                }
                mac[i] = (uint8_t)(hi << 4 | lo);
        }
        memcpy(ret, mac, NIC_MAC_LEN);
        return 0;
}

const char *nic_mac_format(const uint8_t mac[NIC_MAC_LEN], char buf[NIC_MAC_STRLEN])
{
        snprintf(buf, NIC_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
                 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return buf;
}

bool nic_mac_is_valid_unicast(const uint8_t mac[NIC_MAC_LEN])
{
        static const uint8_t zero[NIC_MAC_LEN];

        return !(mac[0] & 1) && memcmp(mac, zero, NIC_MAC_LEN) != 0;
}

void nic_mac_derive(const char *seed, unsigned index, uint8_t ret[NIC_MAC_LEN])
{
        uint64_t h = 0xcbf29ce484222325ull;     /* FNV-1a */
        uint8_t rnd[8];

        if (seed) {
                for (const char *p = seed; *p; p++)
                        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
        } else if (getrandom(rnd, sizeof(rnd), 0) == sizeof(rnd)) {
                memcpy(&h, rnd, sizeof(h));
        }
        for (unsigned i = 0; i < 4; i++)
                h = (h ^ ((index >> (8 * i)) & 0xff)) * 0x100000001b3ull;
        /* 0x02: locally administered, unicast; the second byte marks vmms ('V'). */
        ret[0] = 0x02;
        ret[1] = 0x56;
        for (unsigned i = 2; i < NIC_MAC_LEN; i++)
                ret[i] = (uint8_t)(h >> (8 * (i - 2) + 16));
}

int nic_config_set_mac(struct nic_config *c, const char *s, char *err, size_t err_len)
{
        uint8_t mac[NIC_MAC_LEN];

        if (nic_mac_parse(s, mac) < 0)
                return nic_error(err, err_len, "mac: '%s' is not a MAC address (XX:XX:XX:XX:XX:XX)", s);
        if (!nic_mac_is_valid_unicast(mac))
                return nic_error(err, err_len, "mac: '%s' is not a unicast address", s);
        memcpy(c->mac, mac, sizeof(mac));
        c->has_mac = true;
        return 0;
}

int nic_config_set_queues(struct nic_config *c, unsigned long long n, char *err, size_t err_len)
{
        if (n < 1 || n > NIC_QUEUES_MAX)
                return nic_error(err, err_len, "queues: %llu is outside 1..%u", n, NIC_QUEUES_MAX);
        c->queues = (unsigned)n;
        return 0;
}

static int set_name(char **dst, const char *key, const char *s, bool (*valid)(const char *),
                    const char *what, char *err, size_t err_len)
{
        char *n;

        if (!valid(s))
                return nic_error(err, err_len, "%s: '%s' is not a valid %s", key, s, what);
        n = strdup(s);
        if (!n)
                return -ENOMEM;
        free(*dst);
        *dst = n;
        return 0;
}

int nic_config_set_tap(struct nic_config *c, const char *s, char *err, size_t err_len)
{
        return set_name(&c->tap, "tap", s, nic_ifname_is_valid,
                        "interface name (1 to 15 bytes, no '/', ':' or spaces)", err, err_len);
}

int nic_config_set_bridge(struct nic_config *c, const char *s, char *err, size_t err_len)
{
        return set_name(&c->bridge, "bridge", s, nic_ifname_is_valid,
                        "bridge name (1 to 15 bytes, no '/', ':' or spaces)", err, err_len);
}

int nic_config_set_switch(struct nic_config *c, const char *s, char *err, size_t err_len)
{
        return set_name(&c->switch_name, "switch", s, name_is_valid,
                        "switch name ([A-Za-z0-9._-], 1 to 64 characters)", err, err_len);
}

static int set_fds(struct nic_config *c, char *s, char *err, size_t err_len)
{
        unsigned n = 0;

        for (char *save = NULL, *tok = strtok_r(s, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
                unsigned fd;

                if (safe_atou(tok, &fd) < 0 || fd > INT32_MAX)
                        return nic_error(err, err_len, "fd: '%s' is not a file descriptor number", tok);
                if (n == NIC_QUEUES_MAX)
                        return nic_error(err, err_len, "fd: more than %u file descriptors", NIC_QUEUES_MAX);
                c->fds[n++] = (int)fd;
        }
        if (n == 0)
                return nic_error(err, err_len, "fd: needs a file descriptor number");
        c->n_fds = n;
        return 0;
}

int nic_config_validate(const struct nic_config *c, char *err, size_t err_len)
{
        unsigned kinds = !!c->n_fds + !!c->switch_name + !!c->tap;

        if (kinds == 0)
                return nic_error(err, err_len, "needs one of tap=NAME, fd=N or switch=NAME");
        if (kinds > 1)
                return nic_error(err, err_len, "tap=, fd= and switch= exclude each other");
        if (c->n_fds && c->queues != 1 && c->queues != c->n_fds)
                return nic_error(err, err_len, "queues: %u, but %u file descriptors were given", c->queues, c->n_fds);
        if (c->bridge && c->switch_name)
                return nic_error(err, err_len, "bridge: not with switch= (the switch is the bridge)");
        return 0;
}

/* Split off the next comma-separated item. NULL at the end. */
static char *next_item(char **p)
{
        char *start = *p, *comma;

        if (!start)
                return NULL;
        comma = strchr(start, ',');
        if (comma)
                *comma = 0;
        *p = comma ? comma + 1 : NULL;
        return start;
}

int nic_config_parse(const char *s, char *err, size_t err_len, struct nic_config *ret)
{
        _cleanup_free_ char *copy = NULL;
        struct nic_config c;
        char *p, *item;
        int r = 0;

        nic_config_init(&c);
        if (!s || !*s)
                return nic_error(err, err_len, "empty NIC specification");
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        p = copy;
        while ((item = next_item(&p))) {
                char *val = strchr(item, '=');

                if (val)
                        *val++ = 0;
                if (!val || !*val) {
                        r = *item ? nic_error(err, err_len, "%s: needs a value (%s=...)", item, item)
                                  : nic_error(err, err_len, "empty option");
                } else if (strcmp(item, "tap") == 0) {
                        r = nic_config_set_tap(&c, val, err, err_len);
                } else if (strcmp(item, "fd") == 0) {
                        r = set_fds(&c, val, err, err_len);
                } else if (strcmp(item, "switch") == 0) {
                        r = nic_config_set_switch(&c, val, err, err_len);
                } else if (strcmp(item, "bridge") == 0) {
                        r = nic_config_set_bridge(&c, val, err, err_len);
                } else if (strcmp(item, "mac") == 0) {
                        r = nic_config_set_mac(&c, val, err, err_len);
                } else if (strcmp(item, "queues") == 0) {
                        uint64_t v;

                        r = safe_atou64(val, &v) < 0
                                ? nic_error(err, err_len, "queues: '%s' is not a number", val)
                                : nic_config_set_queues(&c, v, err, err_len);
                } else {
                        r = nic_error(err, err_len, "unknown NIC option '%s' (known: tap, fd, switch, bridge, mac, queues)", item);
                }
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = nic_config_validate(&c, err, err_len);
        if (r < 0) {
                nic_config_done(&c);
                return r;
        }
        if (c.n_fds > 1)
                c.queues = c.n_fds;
        *ret = c;
        return 0;
}

/* Prefix err with "key" and sep so that the message names the whole key path. */
static int json_error_sep(char *err, size_t err_len, const char *key, const char *sep, int r)
{
        char msg[256];

        if (r == -EINVAL && err && err_len > 0) {
                snprintf(msg, sizeof(msg), "%s", err);
                snprintf(err, err_len, "%s%s%s", key, sep, msg);
        }
        return r;
}

static int json_error(char *err, size_t err_len, const char *key, int r)
{
        return json_error_sep(err, err_len, key, ".", r);
}

int nic_config_from_json(struct json_object *o, const char *key, char *err, size_t err_len,
                         struct nic_config *ret)
{
        struct nic_config c;
        int r = 0;

        if (!json_object_is_type(o, json_type_object))
                return nic_error(err, err_len, "%s: expected an object {\"tap\": ...} or {\"switch\": ...}", key);
        nic_config_init(&c);
        json_object_object_foreach(o, k, v) {
                bool is_str = json_object_is_type(v, json_type_string);
                const char *s = json_object_get_string(v);

                if (strcmp(k, "queues") == 0) {
                        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                                r = nic_error(err, err_len, "%s.queues: expected a positive integer", key);
                        else
                                r = json_error(err, err_len, key,
                                               nic_config_set_queues(&c, (unsigned long long)json_object_get_int64(v),
                                                                     err, err_len));
                } else if (strcmp(k, "tap") != 0 && strcmp(k, "mac") != 0 && strcmp(k, "bridge") != 0 &&
                           strcmp(k, "switch") != 0) {
                        r = nic_error(err, err_len, "%s.%s: unknown key", key, k);
                } else if (!is_str) {
                        r = nic_error(err, err_len, "%s.%s: expected a string", key, k);
                } else if (strcmp(k, "tap") == 0) {
                        r = json_error(err, err_len, key, nic_config_set_tap(&c, s, err, err_len));
                } else if (strcmp(k, "mac") == 0) {
                        r = json_error(err, err_len, key, nic_config_set_mac(&c, s, err, err_len));
                } else if (strcmp(k, "bridge") == 0) {
                        r = json_error(err, err_len, key, nic_config_set_bridge(&c, s, err, err_len));
                } else {
                        r = json_error(err, err_len, key, nic_config_set_switch(&c, s, err, err_len));
                }
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = json_error_sep(err, err_len, key, ": ", nic_config_validate(&c, err, err_len));
        if (r < 0) {
                nic_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

static int add_str(struct json_object *o, const char *key, const char *s)
{
        struct json_object *v;

        if (!s)
                return 0;
        v = json_object_new_string(s);
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int nic_config_to_json(const struct nic_config *c, struct json_object **ret)
{
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char mac[NIC_MAC_STRLEN];
        int r;

        if (!o)
                return -ENOMEM;
        if ((r = add_str(o, "tap", c->tap)) < 0 ||
            (r = add_str(o, "switch", c->switch_name)) < 0 ||
            (r = add_str(o, "bridge", c->bridge)) < 0 ||
            (c->has_mac && (r = add_str(o, "mac", nic_mac_format(c->mac, mac))) < 0))
                return r;
        if (json_object_object_add(o, "queues", json_object_new_int((int)c->queues)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
