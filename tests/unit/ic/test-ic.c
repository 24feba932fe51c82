/* SPDX-License-Identifier: MIT */
/*
 * The host's IC engine through its transport side: handshakes, each service's protocol,
 * and a guest that breaks every rule (garbage, endless lines, huge values, floods).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ic-harness.h"

START_TEST(test_hello)
{
        struct vsp_ic_status st;
        struct vsp_ic_event ev;
        struct ic_msg m;

        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.svc[IC_SVC_KVP].state, VSP_IC_STATE_CLOSED);
        ck_assert_int_eq(st.heartbeat, VSP_IC_HEARTBEAT_NO_CONTACT);
        /* Bytes before the port opens go nowhere. */
        feed(IC_SVC_KVP, "{\"type\":\"hello\",\"version\":1}\n");
        expect_none(IC_SVC_KVP);
        vsp_ic_port_open(ic, IC_SVC_KVP, true);
        ck_assert(pop_event(VSP_IC_EVENT_SERVICE, &ev));
        ck_assert_int_eq(ev.state, VSP_IC_STATE_OPEN);
        /* Anything but hello first is refused. */
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"id\":3}\n");
        expect(IC_SVC_KVP, "error", &m);
        ck_assert_int_eq(msg_int(&m, "error"), IC_ERR_BAD_MESSAGE);
        ck_assert_int_eq(msg_int(&m, "id"), 3);
        feed(IC_SVC_KVP, "{\"type\":\"hello\",\"version\":0}\n");
        expect(IC_SVC_KVP, "error", &m);
        /* A newer guest gets our version; split across writes and with \r\n. */
        feed(IC_SVC_KVP, "{\"type\":\"hello\",\"ver");
        feed(IC_SVC_KVP, "sion\":7,\"agent\":\"vmic 9\"}\r\n");
        expect(IC_SVC_KVP, "hello", &m);
        ck_assert_int_eq(msg_int(&m, "version"), IC_PROTOCOL_VERSION);
        ck_assert_int_eq(msg_int(&m, "value_max"), IC_KVP_VALUE_MAX);
        ck_assert(pop_event(VSP_IC_EVENT_SERVICE, &ev));
        ck_assert_int_eq(ev.svc, IC_SVC_KVP);
        ck_assert_int_eq(ev.state, VSP_IC_STATE_CONNECTED);
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.svc[IC_SVC_KVP].state, VSP_IC_STATE_CONNECTED);
        ck_assert_str_eq(st.svc[IC_SVC_KVP].agent, "vmic 9");
        ck_assert_uint_eq(st.svc[IC_SVC_KVP].violations, 2);
        ck_assert(vsp_ic_connected(ic, IC_SVC_KVP));
        vsp_ic_port_open(ic, IC_SVC_KVP, false);
        ck_assert(!vsp_ic_connected(ic, IC_SVC_KVP));
        ck_assert(pop_event(VSP_IC_EVENT_SERVICE, &ev));
        ck_assert_int_eq(ev.state, VSP_IC_STATE_CLOSED);
}
END_TEST

START_TEST(test_heartbeat)
{
        struct vsp_ic_event ev;
        struct vsp_ic_status st;
        struct ic_msg m;
        char pong[64];
        uint64_t next;

        ic_connect(IC_SVC_HEARTBEAT);
        ck_assert(pop_event(VSP_IC_EVENT_HEARTBEAT, &ev));
        ck_assert_int_eq(ev.heartbeat, VSP_IC_HEARTBEAT_OK);
        ck_assert_int_eq(ev.heartbeat_old, VSP_IC_HEARTBEAT_NO_CONTACT);
        next = vsp_ic_tick(ic);
        ck_assert_uint_le(next, IC_HEARTBEAT_INTERVAL_MS);
        expect(IC_SVC_HEARTBEAT, "ping", &m);
        ck_assert_int_eq(msg_int(&m, "seq"), 1);
        /* A pong for a ping never sent is a violation and changes nothing. */
        feed(IC_SVC_HEARTBEAT, "{\"type\":\"pong\",\"seq\":2}\n");
        feed(IC_SVC_HEARTBEAT, "{\"type\":\"pong\",\"seq\":1,\"status\":\"critical\"}\n");
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.svc[IC_SVC_HEARTBEAT].violations, 1);
        ck_assert(st.heartbeat_critical);
        ck_assert_uint_eq(st.heartbeat_age_ms, 0);

        /* Silence for three intervals: lost, with one outstanding ping at a time. */
        for (unsigned i = 0; i < IC_HEARTBEAT_LOST_INTERVALS; i++) {
                fake_now += IC_HEARTBEAT_INTERVAL_MS;
                vsp_ic_tick(ic);
        }
        expect(IC_SVC_HEARTBEAT, "ping", &m);
        ck_assert_int_eq(msg_int(&m, "seq"), 2);
        expect_none(IC_SVC_HEARTBEAT);  /* the rest waited: one ping in flight */
        ck_assert(!pop_event(VSP_IC_EVENT_HEARTBEAT, &ev));
        fake_now += 1;
        vsp_ic_tick(ic);
        ck_assert(pop_event(VSP_IC_EVENT_HEARTBEAT, &ev));
        ck_assert_int_eq(ev.heartbeat, VSP_IC_HEARTBEAT_LOST);
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.heartbeat, VSP_IC_HEARTBEAT_LOST);
        /* The guest comes back. */
        fake_now += IC_HEARTBEAT_INTERVAL_MS;
        vsp_ic_tick(ic);
        expect(IC_SVC_HEARTBEAT, "ping", &m);
        snprintf(pong, sizeof(pong), "{\"type\":\"pong\",\"seq\":%lld}\n", (long long)msg_int(&m, "seq"));
        feed(IC_SVC_HEARTBEAT, pong);
        ck_assert(pop_event(VSP_IC_EVENT_HEARTBEAT, &ev));
        ck_assert_int_eq(ev.heartbeat, VSP_IC_HEARTBEAT_OK);
        vsp_ic_port_open(ic, IC_SVC_HEARTBEAT, false);
        ck_assert(pop_event(VSP_IC_EVENT_HEARTBEAT, &ev));
        ck_assert_int_eq(ev.heartbeat, VSP_IC_HEARTBEAT_NO_CONTACT);
}
END_TEST

START_TEST(test_shutdown)
{
        struct vsp_ic_event ev;
        struct ic_msg m;
        uint64_t id = 0, id2 = 0;
        char line[128];

        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "x", &id), -ENOTCONN);
        ic_connect(IC_SVC_SHUTDOWN);
        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "maintenance \"window\"", &id), 0);
        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "again", &id2), -EBUSY);
        expect(IC_SVC_SHUTDOWN, "shutdown", &m);
        ck_assert_int_eq(msg_int(&m, "id"), (int64_t)id);
        ck_assert_str_eq(msg_str(&m, "action"), "poweroff");
        ck_assert_str_eq(msg_str(&m, "reason"), "maintenance \"window\"");
        feed(IC_SVC_SHUTDOWN, "{\"type\":\"ack\",\"id\":999}\n");        /* not ours */
        ck_assert(!pop_event(VSP_IC_EVENT_SHUTDOWN, &ev));
        snprintf(line, sizeof(line), "{\"type\":\"ack\",\"id\":%llu}\n", (unsigned long long)id);
        feed(IC_SVC_SHUTDOWN, line);
        ck_assert(pop_event(VSP_IC_EVENT_SHUTDOWN, &ev));
        ck_assert_uint_eq(ev.id, id);
        ck_assert_uint_eq(ev.error, 0);

        /* Refused. */
        ck_assert_int_eq(vsp_ic_shutdown(ic, true, "", &id), 0);
        expect(IC_SVC_SHUTDOWN, "shutdown", &m);
        ck_assert_str_eq(msg_str(&m, "action"), "reboot");
        snprintf(line, sizeof(line), "{\"type\":\"error\",\"id\":%llu,\"error\":%u,\"message\":\"busy doing X\"}\n",
                 (unsigned long long)id, IC_ERR_REFUSED);
        feed(IC_SVC_SHUTDOWN, line);
        ck_assert(pop_event(VSP_IC_EVENT_SHUTDOWN, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_REFUSED);
        ck_assert_str_eq(ev.message, "busy doing X");

        /* Ignored: times out. */
        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "", &id), 0);
        fake_now += IC_SHUTDOWN_ACK_TIMEOUT_MS;
        vsp_ic_tick(ic);
        ck_assert(pop_event(VSP_IC_EVENT_SHUTDOWN, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_TIMEOUT);
        /* Pending when the port closes. */
        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "", &id), 0);
        vsp_ic_port_open(ic, IC_SVC_SHUTDOWN, false);
        ck_assert(pop_event(VSP_IC_EVENT_SHUTDOWN, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_NOT_CONNECTED);
        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "", &id), -ENOTCONN);
}
END_TEST

START_TEST(test_timesync)
{
        struct vsp_ic_status st;
        struct ic_msg m;
        struct timespec now;

        ic_connect(IC_SVC_TIMESYNC);
        clock_gettime(CLOCK_REALTIME, &now);
        expect(IC_SVC_TIMESYNC, "time", &m);
        ck_assert_str_eq(msg_str(&m, "reason"), "start");
        ck_assert_int_eq(msg_int(&m, "seq"), 1);
        ck_assert_int_le(llabs(msg_int(&m, "sec") - now.tv_sec), 2);
        ck_assert_int_lt(msg_int(&m, "nsec"), 1000000000);
        feed(IC_SVC_TIMESYNC, "{\"type\":\"ack\",\"seq\":1,\"offset_ms\":-1500,\"action\":\"step\"}\n");
        vsp_ic_get_status(ic, &st);
        ck_assert(st.time_synced);
        ck_assert_int_eq(st.time_offset_ms, -1500);
        ck_assert_str_eq(st.time_action, "step");
        /* Requests: answered at most once a second. */
        fake_now += 1000;
        feed(IC_SVC_TIMESYNC, "{\"type\":\"request\"}\n{\"type\":\"request\"}\n");
        expect(IC_SVC_TIMESYNC, "time", &m);
        ck_assert_str_eq(msg_str(&m, "reason"), "request");
        expect_none(IC_SVC_TIMESYNC);
        ck_assert_int_eq(vsp_ic_timesync(ic, "resume"), 0);
        expect(IC_SVC_TIMESYNC, "time", &m);
        ck_assert_str_eq(msg_str(&m, "reason"), "resume");
        fake_now += IC_TIMESYNC_PERIOD_MS;
        vsp_ic_tick(ic);
        expect(IC_SVC_TIMESYNC, "time", &m);
        ck_assert_str_eq(msg_str(&m, "reason"), "periodic");
        feed(IC_SVC_TIMESYNC, "{\"type\":\"ack\",\"seq\":99}\n");
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.svc[IC_SVC_TIMESYNC].violations, 1);
}
END_TEST

static int count_keys(const char *key, const char *value, void *userdata)
{
        (*(unsigned *)userdata)++;
        return 0;
}

START_TEST(test_kvp)
{
        struct vsp_ic_event ev;
        struct ic_msg m;
        char *v = NULL, line[256];
        uint64_t qid;
        unsigned n = 0;

        /* The host pool waits for the guest. */
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "Owner", "ops team"), 0);
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "Owner", "ops team 2"), 0);
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "bad key", "x"), -EINVAL);
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "k", "\xff"), -EINVAL);
        ck_assert_int_eq(vsp_ic_kvp_query(ic, true, "OSName", &qid), -ENOTCONN);
        ic_connect(IC_SVC_KVP);
        expect(IC_SVC_KVP, "set", &m);
        ck_assert_str_eq(msg_str(&m, "pool"), "host");
        ck_assert_str_eq(msg_str(&m, "key"), "Owner");
        ck_assert_str_eq(msg_str(&m, "value"), "ops team 2");
        expect_none(IC_SVC_KVP);
        snprintf(line, sizeof(line), "{\"type\":\"ack\",\"id\":%lld}\n", (long long)msg_int(&m, "id"));
        feed(IC_SVC_KVP, line);

        /* The guest reports. */
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"OSName\",\"value\":\"vmguest\",\"id\":5}\n"
                         "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"FullyQualifiedDomainName\",\"value\":\"demo\"}\n");
        expect(IC_SVC_KVP, "ack", &m);
        ck_assert_int_eq(msg_int(&m, "id"), 5);
        expect_none(IC_SVC_KVP);
        ck_assert_int_eq(vsp_ic_kvp_get(ic, true, "OSName", &v), 0);
        ck_assert_str_eq(v, "vmguest");
        free(v);
        ck_assert_int_eq(vsp_ic_kvp_get(ic, true, "Nope", &v), -ENOENT);
        ck_assert_int_eq(vsp_ic_kvp_get(ic, false, "Owner", &v), 0);
        free(v);
        ck_assert_int_eq(vsp_ic_kvp_foreach(ic, true, count_keys, &n), 0);
        ck_assert_uint_eq(n, 2);
        /* ... but may not write the host pool. */
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"host\",\"key\":\"Owner\",\"value\":\"me\",\"id\":6}\n");
        expect(IC_SVC_KVP, "error", &m);
        ck_assert_int_eq(msg_int(&m, "error"), IC_ERR_ACCESS);
        feed(IC_SVC_KVP, "{\"type\":\"delete\",\"pool\":\"guest\",\"key\":\"OSName\",\"id\":7}\n");
        expect(IC_SVC_KVP, "ack", &m);
        ck_assert_int_eq(vsp_ic_kvp_get(ic, true, "OSName", &v), -ENOENT);

        /* The host asks for the guest's copy of a host key. */
        ck_assert_int_eq(vsp_ic_kvp_query(ic, false, "Owner", &qid), 0);
        expect(IC_SVC_KVP, "get", &m);
        ck_assert_str_eq(msg_str(&m, "pool"), "host");
        ck_assert_int_eq(msg_int(&m, "id"), (int64_t)qid);
        snprintf(line, sizeof(line), "{\"type\":\"value\",\"id\":%llu,\"key\":\"Owner\",\"value\":\"ops team 2\"}\n",
                 (unsigned long long)qid);
        feed(IC_SVC_KVP, line);
        ck_assert(pop_event(VSP_IC_EVENT_KVP, &ev));
        ck_assert_uint_eq(ev.id, qid);
        ck_assert_uint_eq(ev.error, 0);
        ck_assert_str_eq(ev.key, "Owner");
        ck_assert_str_eq(ev.value, "ops team 2");
        vsp_ic_event_done(&ev);
        ck_assert_int_eq(vsp_ic_kvp_query(ic, true, "Gone", &qid), 0);
        fake_now += 6000;
        vsp_ic_tick(ic);
        ck_assert(pop_event(VSP_IC_EVENT_KVP, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_TIMEOUT);

        /* Host deletes go out as they happen. */
        ck_assert_int_eq(vsp_ic_kvp_delete(ic, "Owner"), 0);
        ck_assert_int_eq(vsp_ic_kvp_delete(ic, "Owner"), -ENOENT);
        expect(IC_SVC_KVP, "get", &m);         /* the query that timed out */
        expect(IC_SVC_KVP, "delete", &m);
        ck_assert_str_eq(msg_str(&m, "key"), "Owner");
        ck_assert_int_eq(vsp_ic_kvp_get(ic, false, "Owner", &v), -ENOENT);
        /* A query right after a set sees the new value: the set goes out first. */
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "Order", "1"), 0);
        ck_assert_int_eq(vsp_ic_kvp_query(ic, false, "Order", &qid), 0);
        expect(IC_SVC_KVP, "set", &m);
        ck_assert_str_eq(msg_str(&m, "key"), "Order");
        expect(IC_SVC_KVP, "get", &m);
}
END_TEST

START_TEST(test_kvp_limits)
{
        static char line[IC_LINE_MAX + 64];
        struct vsp_ic_status st;
        struct ic_msg m;
        char big[IC_KVP_VALUE_MAX + 2];
        int n;

        ic_connect(IC_SVC_KVP);
        memset(big, 'v', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "k", big), -E2BIG);
        big[IC_KVP_VALUE_MAX] = 0;
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "k", big), 0);
        expect(IC_SVC_KVP, "set", &m);
        ck_assert_uint_eq(strlen(msg_str(&m, "value")), IC_KVP_VALUE_MAX);

        big[IC_KVP_VALUE_MAX] = 'v';
        snprintf(line, sizeof(line), "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"k\",\"value\":\"%s\",\"id\":1}\n", big);
        feed(IC_SVC_KVP, line);
        expect(IC_SVC_KVP, "error", &m);
        ck_assert_int_eq(msg_int(&m, "error"), IC_ERR_TOO_LARGE);
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"a b\",\"value\":\"\",\"id\":2}\n");
        expect(IC_SVC_KVP, "error", &m);
        ck_assert_int_eq(msg_int(&m, "error"), IC_ERR_BAD_MESSAGE);
        for (unsigned i = 0; i < IC_KVP_POOL_MAX; i++) {
                snprintf(line, sizeof(line), "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"k%u\",\"value\":\"%u\"}\n", i, i);
                feed(IC_SVC_KVP, line);
        }
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"one-more\",\"value\":\"x\",\"id\":3}\n");
        expect(IC_SVC_KVP, "error", &m);
        ck_assert_int_eq(msg_int(&m, "error"), IC_ERR_NO_SPACE);
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.kvp_guest_keys, IC_KVP_POOL_MAX);
        ck_assert_uint_eq(st.svc[IC_SVC_KVP].violations, 3);
        ck_assert_int_eq(st.svc[IC_SVC_KVP].state, VSP_IC_STATE_CONNECTED);
        /* A reconnect starts the guest pool afresh. */
        vsp_ic_port_open(ic, IC_SVC_KVP, false);
        ic_connect(IC_SVC_KVP);
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.kvp_guest_keys, 0);
        n = 0;
        while (next_msg(IC_SVC_KVP, &m))
                n++;
        ck_assert_int_eq(n, 1);         /* the host's "k" again */
}
END_TEST

START_TEST(test_hostile_garbage)
{
        struct vsp_ic_status st;
        struct vsp_ic_event ev;
        static char junk[1u << 20];
        size_t done = 0;
        struct ic_msg m;

        ic_connect(IC_SVC_KVP);
        /* An endless line: dropped after the limit, one violation, bounded memory. */
        memset(junk, 'x', sizeof(junk));
        while (done < sizeof(junk)) {
                size_t n = vsp_ic_port_input(ic, IC_SVC_KVP, junk + done, sizeof(junk) - done);

                done += n;
                if (n == 0)
                        fake_now += 1000;       /* over budget: wait */
        }
        feed(IC_SVC_KVP, "\n");
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.svc[IC_SVC_KVP].violations, 1);
        ck_assert_uint_ge(st.svc[IC_SVC_KVP].throttled, 1);
        ck_assert_str_eq(st.svc[IC_SVC_KVP].last_violation, "line too long");
        expect(IC_SVC_KVP, "error", &m);
        ck_assert_int_eq(msg_int(&m, "error"), IC_ERR_TOO_LARGE);
        /* The service still works after it. */
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"a\",\"value\":\"b\",\"id\":9}\n");
        expect(IC_SVC_KVP, "ack", &m);

        /* Garbage: answered (rate-limited) until the port is degraded. */
        while (pop_event(VSP_IC_EVENT_SERVICE, &ev))
                ;
        for (unsigned i = 0; i < 2 * IC_DEGRADED_VIOLATIONS; i++)
                feed(IC_SVC_KVP, "\x01\x02garbage {]\n");
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.svc[IC_SVC_KVP].state, VSP_IC_STATE_DEGRADED);
        ck_assert_uint_eq(st.svc[IC_SVC_KVP].violations, IC_DEGRADED_VIOLATIONS);  /* then not parsed */
        ck_assert(pop_event(VSP_IC_EVENT_SERVICE, &ev));
        ck_assert_int_eq(ev.state, VSP_IC_STATE_DEGRADED);
        ck_assert(!vsp_ic_connected(ic, IC_SVC_KVP));
        drain_output(IC_SVC_KVP);
        outlen[IC_SVC_KVP] = 0;
        /* Degraded: valid requests are ignored too, other services are untouched. */
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"c\",\"value\":\"d\",\"id\":10}\n");
        expect_none(IC_SVC_KVP);
        ic_connect(IC_SVC_SHUTDOWN);
        while (pop_event(VSP_IC_EVENT_SERVICE, &ev))
                ;
        /* After the hold it recovers. */
        fake_now += IC_DEGRADED_HOLD_MS;
        vsp_ic_tick(ic);
        ck_assert(pop_event(VSP_IC_EVENT_SERVICE, &ev));
        ck_assert_int_eq(ev.state, VSP_IC_STATE_CONNECTED);
        feed(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"c\",\"value\":\"d\",\"id\":11}\n");
        expect(IC_SVC_KVP, "ack", &m);
}
END_TEST

START_TEST(test_hostile_flood)
{
        static char flood[64u << 10];
        struct vsp_ic_status st;
        size_t n, len = 0, taken;

        ic_connect(IC_SVC_TIMESYNC);
        /* Over-long member lists. */
        feed(IC_SVC_TIMESYNC, "{\"type\":\"ack\",\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
                              "\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16}\n");
        vsp_ic_get_status(ic, &st);
        ck_assert_str_eq(st.svc[IC_SVC_TIMESYNC].last_violation, "too many or too long members");
        while (len + 20 < sizeof(flood))
                len += (size_t)snprintf(flood + len, sizeof(flood) - len, "{\"type\":\"request\"}\n");
        /* More lines than the burst: the engine stops taking them (the device then holds them). */
        taken = vsp_ic_port_input(ic, IC_SVC_TIMESYNC, flood, len);
        ck_assert_uint_lt(taken, len);
        ck_assert_uint_ge(taken, (IC_RATE_LINES_BURST - 2) * 19);   /* hello and the line above took two */
        n = vsp_ic_port_input(ic, IC_SVC_TIMESYNC, flood + taken, len - taken);
        ck_assert_uint_eq(n, 0);
        vsp_ic_get_status(ic, &st);
        ck_assert_uint_eq(st.svc[IC_SVC_TIMESYNC].throttled, 1);
        ck_assert_uint_le(st.svc[IC_SVC_TIMESYNC].lines_in, IC_RATE_LINES_BURST);
        ck_assert_uint_le(vsp_ic_tick(ic), 10);
        /* Budget refills with time. */
        fake_now += 1000;
        n = vsp_ic_port_input(ic, IC_SVC_TIMESYNC, flood + taken, len - taken);
        ck_assert_uint_gt(n, 0);
}
END_TEST

START_TEST(test_disabled)
{
        static const bool some[IC_SVC_COUNT] = { [IC_SVC_HEARTBEAT] = true };
        struct vsp_ic_status st;
        uint64_t id;

        ic_teardown();
        ic_setup_with(some);
        ck_assert(!vsp_ic_enabled(ic, IC_SVC_KVP));
        ck_assert_int_eq(vsp_ic_shutdown(ic, false, "", &id), -EOPNOTSUPP);
        ck_assert_int_eq(vsp_ic_kvp_set(ic, "a", "b"), -EOPNOTSUPP);
        ck_assert_int_eq(vsp_ic_timesync(ic, "resume"), -EOPNOTSUPP);
        vsp_ic_port_open(ic, IC_SVC_KVP, true);
        feed(IC_SVC_KVP, "{\"type\":\"hello\",\"version\":1}\n");
        expect_none(IC_SVC_KVP);
        vsp_ic_get_status(ic, &st);
        ck_assert_int_eq(st.svc[IC_SVC_KVP].state, VSP_IC_STATE_DISABLED);
        ck_assert_int_eq(st.heartbeat, VSP_IC_HEARTBEAT_NO_CONTACT);
        ck_assert_str_eq(vsp_ic_heartbeat_to_string(st.heartbeat), "No contact");
        ck_assert_str_eq(vsp_ic_state_to_string(VSP_IC_STATE_DEGRADED), "degraded");
}
END_TEST

START_TEST(test_events_bounded)
{
        struct vsp_ic_event ev;
        unsigned n = 0;

        /* Nobody reads events: the queue keeps the newest, never grows. */
        for (unsigned i = 0; i < 200; i++) {
                vsp_ic_port_open(ic, IC_SVC_KVP, true);
                vsp_ic_port_open(ic, IC_SVC_KVP, false);
        }
        while (vsp_ic_pop_event(ic, &ev) > 0) {
                vsp_ic_event_done(&ev);
                n++;
        }
        ck_assert_uint_eq(n, 64);
        ck_assert_int_eq(vsp_ic_pop_event(ic, &ev), 0);
}
END_TEST

IC_CHECK_MAIN("ic", test_hello, test_heartbeat, test_shutdown, test_timesync, test_kvp, test_kvp_limits,
           test_hostile_garbage, test_hostile_flood, test_disabled, test_events_bounded)
