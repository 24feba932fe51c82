/* SPDX-License-Identifier: MIT */
/*
 * The host side of the integration services against arbitrary guest bytes.
 *
 * First byte even: the rest is one line for ic_msg_parse(); what parses must survive a
 * round trip through the writer. First byte odd: the rest is a guest's byte stream on port
 * (byte >> 1) % IC_SVC_COUNT of a connected engine, fed in pieces while a fake clock
 * advances and the timers run; everything the host answers must itself be valid lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <abi/ic_msg.h>
#include "vmms/vsp_ic.h"

static uint64_t fake_ms;

static uint64_t fake_clock(void *opaque)
{
        return fake_ms;
}

static void check_roundtrip(const uint8_t *data, size_t size)
{
        static char line[IC_FCOPY_LINE_MAX], out[IC_FCOPY_LINE_MAX * 2], again[IC_FCOPY_LINE_MAX * 2];
        struct ic_msg m, m2;
        struct ic_writer w;
        int n;

        if (size > sizeof(line))
                return;
        memcpy(line, data, size);
        if (ic_msg_parse(line, size, &m) < 0)
                return;
        ic_writer_begin(&w, out, sizeof(out), m.type);
        for (unsigned i = 0; i < m.n; i++) {
                const struct ic_value *v = &m.m[i].v;

                if (strcmp(m.m[i].name, "type") == 0)
                        continue;
                if (v->type == IC_VAL_STRING)
                        ic_writer_str(&w, m.m[i].name, v->s, v->len);
                else if (v->type == IC_VAL_INT)
                        ic_writer_int(&w, m.m[i].name, v->i);
                else if (v->type == IC_VAL_BOOL)
                        ic_writer_bool(&w, m.m[i].name, v->b);
        }
        n = ic_writer_end(&w);
        if (n < 0)
                abort();
        memcpy(again, out, (size_t)n);
        if (ic_msg_parse(again, (size_t)n - 1, &m2) < 0 || strcmp(m2.type, m.type) != 0)
                abort();
}

static void drain(struct vsp_ic *ic)
{
        static char buf[1 << 18], line[IC_FCOPY_LINE_MAX];
        size_t len = 0, n;

        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                while ((n = vsp_ic_port_output(ic, (enum ic_service)s, buf + len, sizeof(buf) - len)) > 0)
                        len += n;
                for (char *p = buf, *nl; (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
                        struct ic_msg m;
                        size_t l = (size_t)(nl - p);

                        if (l > sizeof(line))
                                abort();
                        memcpy(line, p, l);
                        if (ic_msg_parse(line, l, &m) < 0)
                                abort();        /* the host never sends a bad line */
                }
                len = 0;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char hello[] = "{\"type\":\"hello\",\"version\":1,\"agent\":\"fuzz\"}\n";
        struct vsp_ic_config cfg = { .enabled = { true, true, true, true, true } };
        struct vsp_ic_event ev;
        struct vsp_ic *ic;
        enum ic_service s;
        size_t off = 1;
        uint64_t id;

        if (size < 1)
                return 0;
        if (!(data[0] & 1)) {
                check_roundtrip(data + 1, size - 1);
                return 0;
        }
        s = (enum ic_service)((data[0] >> 1) % IC_SVC_COUNT);
        if (vsp_ic_new(&cfg, &ic) < 0)
                return 0;
        fake_ms = 1000000;
        vsp_ic_set_clock(ic, fake_clock, NULL);
        vsp_ic_port_open(ic, s, true);
        vsp_ic_port_input(ic, s, hello, sizeof(hello) - 1);
        /* Requests outstanding, so that the guest's answers have something to match. */
        (void)vsp_ic_shutdown(ic, false, "fuzz", &id);
        (void)vsp_ic_kvp_set(ic, "k", "v");
        (void)vsp_ic_kvp_query(ic, true, "k", &id);
        (void)vsp_ic_fcopy_stat(ic, "/x", &id);
        drain(ic);
        while (off < size) {
                size_t piece = 1 + data[off - 1] % 4096, taken;

                if (piece > size - off)
                        piece = size - off;
                taken = vsp_ic_port_input(ic, s, data + off, piece);
                off += taken ? taken : 0;
                fake_ms += taken ? 7 : 1000;
                (void)vsp_ic_tick(ic);
                drain(ic);
        }
        while (vsp_ic_pop_event(ic, &ev) > 0)
                vsp_ic_event_done(&ev);
        vsp_ic_port_open(ic, s, false);
        vsp_ic_free(ic);
        return 0;
}
