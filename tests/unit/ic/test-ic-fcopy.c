/* SPDX-License-Identifier: MIT */
/* File copy through the host's IC engine: chunks, window, checksums, refusals, timeouts. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ic-harness.h"

#define FILE_SIZE 200000u

static uint8_t content[FILE_SIZE];

static int make_file(size_t size)
{
        char path[] = "/tmp/vmms-fcopy-XXXXXX";
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        unlink(path);
        srand(7);
        for (size_t i = 0; i < size; i++)
                content[i] = (uint8_t)rand();
        ck_assert_int_eq(write(fd, content, size), (ssize_t)size);
        return fd;
}

/* fmt takes up to three %llu. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void send_line(enum ic_service s, const char *fmt, unsigned long long a, unsigned long long b,
                      unsigned long long c)
{
        char line[256];

        snprintf(line, sizeof(line), fmt, a, b, c);
        feed(s, line);
}
#pragma GCC diagnostic pop

/* The next data chunk: checked and appended to out; returns its seq. */
static int64_t take_chunk(uint64_t id, uint8_t *out, uint64_t *offset)
{
        static uint8_t raw[IC_FCOPY_CHUNK];
        struct ic_msg m;
        size_t len;
        const char *data;

        expect(IC_SVC_FCOPY, "data", &m);
        ck_assert_int_eq(msg_int(&m, "id"), (int64_t)id);
        ck_assert_int_eq(msg_int(&m, "offset"), (int64_t)*offset);
        data = msg_str(&m, "data");
        ck_assert_int_eq(ic_base64_decode(data, strlen(data), raw, sizeof(raw), &len), 0);
        ck_assert_int_eq(msg_int(&m, "size"), (int64_t)len);
        ck_assert_uint_le(len, IC_FCOPY_CHUNK);
        ck_assert_int_eq(msg_int(&m, "crc32"), ic_crc32(0, raw, len));
        memcpy(out + *offset, raw, len);
        *offset += len;
        return msg_int(&m, "seq");
}

START_TEST(test_copy)
{
        static uint8_t got[FILE_SIZE];
        struct vsp_ic_event ev;
        struct vsp_ic_status st;
        struct ic_msg m;
        uint64_t id, off = 0;
        int64_t seq = -1;

        ic_connect(IC_SVC_FCOPY);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(FILE_SIZE), "relative/path", 0644, true, false, &id), -EINVAL);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(FILE_SIZE), "/tmp/out.bin", 0644, true, false, &id), 0);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(10), "/tmp/b", 0644, true, false, NULL), -EBUSY);
        expect(IC_SVC_FCOPY, "start", &m);
        ck_assert_int_eq(msg_int(&m, "id"), (int64_t)id);
        ck_assert_str_eq(msg_str(&m, "path"), "/tmp/out.bin");
        ck_assert_int_eq(msg_int(&m, "size"), FILE_SIZE);
        ck_assert_int_eq(msg_int(&m, "mode"), 0644);
        expect_none(IC_SVC_FCOPY);      /* nothing before the guest accepts */
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu}\n", id, 0, 0);
        /* A window of chunks, then it waits for acks. */
        for (unsigned i = 0; i < IC_FCOPY_WINDOW; i++)
                ck_assert_int_eq(take_chunk(id, got, &off), ++seq);
        expect_none(IC_SVC_FCOPY);
        vsp_ic_get_status(ic, &st);
        ck_assert(st.fcopy_active);
        ck_assert_uint_eq(st.fcopy_sent, off);
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu,\"seq\":%llu}\n", id, (unsigned long long)seq, 0);
        while (off < FILE_SIZE)
                ck_assert_int_eq(take_chunk(id, got, &off), ++seq);
        ck_assert_mem_eq(got, content, FILE_SIZE);
        expect(IC_SVC_FCOPY, "end", &m);
        ck_assert_int_eq(msg_int(&m, "size"), FILE_SIZE);
        ck_assert_int_eq(msg_int(&m, "crc32"), ic_crc32(0, content, FILE_SIZE));
        /* An ack out of sequence is a violation. */
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu,\"seq\":%llu}\n", id, 99, 0);
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu,\"seq\":%llu}\n", id, (unsigned long long)seq, 0);
        send_line(IC_SVC_FCOPY, "{\"type\":\"done\",\"id\":%llu,\"size\":%llu,\"crc32\":%llu}\n", id, FILE_SIZE,
                  ic_crc32(0, content, FILE_SIZE));
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.id, id);
        ck_assert_uint_eq(ev.error, 0);
        ck_assert_uint_eq(ev.size, FILE_SIZE);
        ck_assert_uint_eq(ev.crc32, ic_crc32(0, content, FILE_SIZE));
        vsp_ic_get_status(ic, &st);
        ck_assert(!st.fcopy_active);
        ck_assert_uint_eq(st.svc[IC_SVC_FCOPY].violations, 1);
}
END_TEST

START_TEST(test_empty_file)
{
        struct vsp_ic_event ev;
        struct ic_msg m;
        uint64_t id;

        ic_connect(IC_SVC_FCOPY);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(0), "/empty", 0600, false, true, &id), 0);
        expect(IC_SVC_FCOPY, "start", &m);
        ck_assert(ic_msg_get(&m, "mkdirs")->b);
        ck_assert(!ic_msg_get(&m, "overwrite")->b);
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu}\n", id, 0, 0);
        expect(IC_SVC_FCOPY, "end", &m);
        ck_assert_int_eq(msg_int(&m, "crc32"), 0);
        send_line(IC_SVC_FCOPY, "{\"type\":\"done\",\"id\":%llu,\"size\":0,\"crc32\":0}\n", id, 0, 0);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.error, 0);
}
END_TEST

START_TEST(test_refused_and_failures)
{
        struct vsp_ic_event ev;
        struct ic_msg m;
        uint64_t id, off = 0;
        static uint8_t got[FILE_SIZE];
        int pipefd[2];

        ic_connect(IC_SVC_FCOPY);
        ck_assert_int_eq(pipe(pipefd), 0);
        close(pipefd[1]);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, pipefd[0], "/x", 0644, true, false, &id), -EINVAL);

        /* The guest refuses the path: the caller gets its words. */
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(100), "/etc/shadow", 0644, true, false, &id), 0);
        expect(IC_SVC_FCOPY, "start", &m);
        send_line(IC_SVC_FCOPY, "{\"type\":\"error\",\"id\":%llu,\"error\":%llu,\"message\":\"/etc is not writable\"}\n",
                  id, IC_ERR_ACCESS, 0);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.id, id);
        ck_assert_uint_eq(ev.error, IC_ERR_ACCESS);
        ck_assert_str_eq(ev.message, "/etc is not writable");
        expect_none(IC_SVC_FCOPY);

        /* The guest's checksum differs: the host cancels. */
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(1000), "/a", 0644, true, false, &id), 0);
        expect(IC_SVC_FCOPY, "start", &m);
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu}\n", id, 0, 0);
        take_chunk(id, got, &off);
        expect(IC_SVC_FCOPY, "end", &m);
        send_line(IC_SVC_FCOPY, "{\"type\":\"done\",\"id\":%llu,\"size\":1000,\"crc32\":%llu}\n", id, 12345, 0);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_CHECKSUM);
        expect(IC_SVC_FCOPY, "cancel", &m);
        ck_assert_int_eq(msg_int(&m, "id"), (int64_t)id);
        send_line(IC_SVC_FCOPY, "{\"type\":\"ack\",\"id\":%llu}\n", id, 0, 0);  /* late ack: fine */

        /* A guest that stops answering. */
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(1000), "/b", 0644, true, false, &id), 0);
        fake_now += IC_FCOPY_TIMEOUT_MS;
        vsp_ic_tick(ic);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_TIMEOUT);
        expect(IC_SVC_FCOPY, "start", &m);
        expect(IC_SVC_FCOPY, "cancel", &m);

        /* Cancelled on the host; the port closing ends a copy too. */
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(1000), "/c", 0644, true, false, &id), 0);
        ck_assert_int_eq(vsp_ic_fcopy_cancel(ic, id + 1), -ENOENT);
        ck_assert_int_eq(vsp_ic_fcopy_cancel(ic, id), 0);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_CANCELLED);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(1000), "/d", 0644, true, false, &id), 0);
        vsp_ic_port_open(ic, IC_SVC_FCOPY, false);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_NOT_CONNECTED);
        ck_assert_int_eq(vsp_ic_fcopy_start(ic, make_file(1000), "/d", 0644, true, false, &id), -ENOTCONN);
}
END_TEST

START_TEST(test_stat)
{
        struct vsp_ic_event ev;
        struct ic_msg m;
        uint64_t id;

        ic_connect(IC_SVC_FCOPY);
        ck_assert_int_eq(vsp_ic_fcopy_stat(ic, "/tmp/x", &id), 0);
        ck_assert_int_eq(vsp_ic_fcopy_stat(ic, "/tmp/y", NULL), -EBUSY);
        expect(IC_SVC_FCOPY, "stat", &m);
        ck_assert_str_eq(msg_str(&m, "path"), "/tmp/x");
        send_line(IC_SVC_FCOPY, "{\"type\":\"stat\",\"id\":%llu,\"path\":\"/tmp/x\",\"size\":%llu,\"crc32\":%llu}\n",
                  id, 10485760, 3735928559ull);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY_STAT, &ev));
        ck_assert_uint_eq(ev.id, id);
        ck_assert_uint_eq(ev.error, 0);
        ck_assert_uint_eq(ev.size, 10485760);
        ck_assert_uint_eq(ev.crc32, 0xdeadbeefu);
        ck_assert_int_eq(vsp_ic_fcopy_stat(ic, "/nope", &id), 0);
        send_line(IC_SVC_FCOPY, "{\"type\":\"error\",\"id\":%llu,\"error\":%llu}\n", id, IC_ERR_NOT_FOUND, 0);
        ck_assert(pop_event(VSP_IC_EVENT_FCOPY_STAT, &ev));
        ck_assert_uint_eq(ev.error, IC_ERR_NOT_FOUND);
        ck_assert_str_eq(ev.message, "not found");
        send_line(IC_SVC_FCOPY, "{\"type\":\"stat\",\"id\":%llu,\"size\":1,\"crc32\":1}\n", 77, 0, 0);
        ck_assert(!pop_event(VSP_IC_EVENT_FCOPY_STAT, &ev));
}
END_TEST

IC_CHECK_MAIN("ic-fcopy", test_copy, test_empty_file, test_refused_and_failures, test_stat)
