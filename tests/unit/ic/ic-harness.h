/* SPDX-License-Identifier: MIT */
/*
 * Driving the IC engine's transport side by hand in tests: a fake millisecond clock,
 * lines in, parsed lines out.
 */
#pragma once

#include <check.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "vmms/vsp_ic.h"
#include <abi/ic_msg.h>

static uint64_t fake_now = 1000000;
static struct vsp_ic *ic;
static char outbuf[IC_SVC_COUNT][1u << 18];
static size_t outlen[IC_SVC_COUNT];
static char linebuf[4][IC_FCOPY_LINE_MAX];
static unsigned linepick;

static inline uint64_t fake_clock(void *opaque)
{
        return fake_now;
}

static inline void ic_setup_with(const bool enabled[IC_SVC_COUNT])
{
        struct vsp_ic_config cfg = { .heartbeat_interval_ms = 0 };

        memcpy(cfg.enabled, enabled, sizeof(cfg.enabled));
        fake_now = 1000000;
        memset(outlen, 0, sizeof(outlen));
        ck_assert_int_eq(vsp_ic_new(&cfg, &ic), 0);
        vsp_ic_set_clock(ic, fake_clock, NULL);
}

static inline void ic_setup(void)
{
        static const bool all[IC_SVC_COUNT] = { true, true, true, true, true };

        ic_setup_with(all);
}

static inline void ic_teardown(void)
{
        vsp_ic_free(ic);
        ic = NULL;
}

static inline void feed(enum ic_service s, const char *text)
{
        size_t n = strlen(text);

        ck_assert_uint_eq(vsp_ic_port_input(ic, s, text, n), n);
}

static inline void drain_output(enum ic_service s)
{
        size_t n;

        while ((n = vsp_ic_port_output(ic, s, outbuf[s] + outlen[s], sizeof(outbuf[s]) - outlen[s])) > 0)
                outlen[s] += n;
}

/* The next line the host sent on s, parsed (valid until four more are read). */
static inline bool next_msg(enum ic_service s, struct ic_msg *m)
{
        char *line = linebuf[linepick++ % 4], *nl;
        size_t l;

        drain_output(s);
        nl = memchr(outbuf[s], '\n', outlen[s]);
        if (!nl)
                return false;
        l = (size_t)(nl - outbuf[s]);
        ck_assert_uint_lt(l, IC_FCOPY_LINE_MAX);
        memcpy(line, outbuf[s], l);
        memmove(outbuf[s], nl + 1, outlen[s] - l - 1);
        outlen[s] -= l + 1;
        ck_assert_int_eq(ic_msg_parse(line, l, m), 0);
        return true;
}

static inline void expect(enum ic_service s, const char *type, struct ic_msg *m)
{
        ck_assert_msg(next_msg(s, m), "no message on %s, wanted %s", ic_service_name(s), type);
        ck_assert_msg(strcmp(m->type, type) == 0, "got %s on %s, wanted %s", m->type,
                      ic_service_name(s), type);
}

static inline void expect_none(enum ic_service s)
{
        struct ic_msg m;

        ck_assert_msg(!next_msg(s, &m), "unexpected %s on %s", m.type, ic_service_name(s));
}

static inline int64_t msg_int(const struct ic_msg *m, const char *name)
{
        const struct ic_value *v = ic_msg_get(m, name);

        ck_assert_msg(v && v->type == IC_VAL_INT, "no integer %s", name);
        return v->i;
}

static inline const char *msg_str(const struct ic_msg *m, const char *name)
{
        const struct ic_value *v = ic_msg_get(m, name);

        ck_assert_msg(v && v->type == IC_VAL_STRING, "no string %s", name);
        return v->s;
}

static inline void ic_connect(enum ic_service s)
{
        struct ic_msg m;

        vsp_ic_port_open(ic, s, true);
        feed(s, "{\"type\":\"hello\",\"version\":1,\"agent\":\"unit test\"}\n");
        expect(s, "hello", &m);
        ck_assert_int_eq(msg_int(&m, "version"), 1);
        ck_assert_str_eq(msg_str(&m, "service"), ic_service_name(s));
}

/* The next event of a type (others are dropped); false when there is none. */
static inline bool pop_event(enum vsp_ic_event_type type, struct vsp_ic_event *ret)
{
        struct vsp_ic_event ev;

        while (vsp_ic_pop_event(ic, &ev) > 0) {
                if (ev.type == type) {
                        *ret = ev;
                        return true;
                }
                vsp_ic_event_done(&ev);
        }
        return false;
}

/* One suite whose tests each get a fresh engine (ic_setup/ic_teardown). */
#define IC_CHECK_MAIN(suite_name, ...)                                          \
        int main(void)                                                          \
        {                                                                       \
                const TTest *const tests[] = { __VA_ARGS__ };                   \
                Suite *s = suite_create(suite_name);                            \
                TCase *tc = tcase_create(suite_name);                           \
                SRunner *sr;                                                    \
                int failed;                                                     \
                                                                                \
                tcase_set_timeout(tc, 60);                                      \
                tcase_add_checked_fixture(tc, ic_setup, ic_teardown);           \
                for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)   \
                        tcase_add_test(tc, tests[i]);                           \
                suite_add_tcase(s, tc);                                         \
                sr = srunner_create(s);                                         \
                srunner_run_all(sr, CK_NORMAL);                                 \
                failed = srunner_ntests_failed(sr);                             \
                srunner_free(sr);                                               \
                return failed ? EXIT_FAILURE : EXIT_SUCCESS;                    \
        }
