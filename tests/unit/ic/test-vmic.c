/* SPDX-License-Identifier: MIT */
/*
 * vmic's engine without a VM: first against a test that plays the host line by line over
 * socketpairs, then against the host's own IC engine, with the bytes carried between the
 * two over socketpairs the way the virtio-console device carries them.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check-main.h"
#include <abi/ic_msg.h>
#include "vmic.h"
#include "vmms/vsp_ic.h"

static struct vmic *v;
static int host_fd[IC_SVC_COUNT];
static char tmpdir[64];
static struct {
        int shutdowns;
        bool reboot;
        int clock_sets, slews;
        int64_t clock_offset_ms;        /* the fake guest clock minus the real one */
        int64_t last_slew;
} fake;

static int fake_shutdown(void *u, bool reboot, const char *reason)
{
        __atomic_add_fetch(&fake.shutdowns, 1, __ATOMIC_SEQ_CST);
        fake.reboot = reboot;
        return 0;
}

static void fake_clock_get(void *u, struct timespec *ret)
{
        int64_t ms;

        clock_gettime(CLOCK_REALTIME, ret);
        ms = (int64_t)ret->tv_sec * 1000 + ret->tv_nsec / 1000000 + fake.clock_offset_ms;
        ret->tv_sec = ms / 1000;
        ret->tv_nsec = (ms % 1000) * 1000000;
}

static int fake_clock_set(void *u, const struct timespec *ts)
{
        fake.clock_sets++;
        fake.clock_offset_ms = 0;
        return 0;
}

static int fake_clock_slew(void *u, int64_t delta_ms)
{
        fake.slews++;
        fake.last_slew = delta_ms;
        return 0;
}

static void fake_kvp(void *u, struct vmic *x)
{
        vmic_kvp_report(x, IC_KVP_OS_NAME, "Test Linux");
        vmic_kvp_report(x, IC_KVP_HOSTNAME, "guest1");
        vmic_kvp_report(x, IC_KVP_IPV4, "192.0.2.10;198.51.100.7");
}

static const struct vmic_ops fake_ops = {
        .shutdown = fake_shutdown,
        .clock_get = fake_clock_get,
        .clock_set = fake_clock_set,
        .clock_slew = fake_clock_slew,
        .kvp_collect = fake_kvp,
};

static void setup_cfg(bool refuse)
{
        struct vmic_config cfg = { .set_clock = true, .refuse_shutdown = refuse };
        static char kvp[128];

        memset(&fake, 0, sizeof(fake));
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmic-test-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(kvp, sizeof(kvp), "%s/kvp", tmpdir);
        cfg.kvp_dir = kvp;
        cfg.fcopy_root = tmpdir;
        ck_assert_int_eq(vmic_new(&cfg, &fake_ops, NULL, &v), 0);
        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                int sv[2];

                ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                host_fd[s] = sv[0];
                ck_assert_int_eq(vmic_attach(v, (enum ic_service)s, sv[1]), 0);
        }
}

static void teardown(void)
{
        char cmd[128];

        vmic_free(v);
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                close(host_fd[s]);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

/* --- part 1: the test plays the host ------------------------------------------------ */

static char rbuf[IC_SVC_COUNT][1 << 16];
static size_t rlen[IC_SVC_COUNT];

static void host_write(enum ic_service s, const char *line)
{
        ck_assert_int_eq(write(host_fd[s], line, strlen(line)), (ssize_t)strlen(line));
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(vmic_poll_once(v, 20), 0);
}

/* The next line vmic wrote on s, parsed into m (storage: line). */
static void host_read(enum ic_service s, const char *type, struct ic_msg *m, char *line)
{
        for (int tries = 0; tries < 100; tries++) {
                char *nl = memchr(rbuf[s], '\n', rlen[s]);
                struct pollfd p = { .fd = host_fd[s], .events = POLLIN };
                ssize_t n;

                if (nl) {
                        size_t l = (size_t)(nl - rbuf[s]);

                        memcpy(line, rbuf[s], l);
                        memmove(rbuf[s], nl + 1, rlen[s] - l - 1);
                        rlen[s] -= l + 1;
                        ck_assert_int_eq(ic_msg_parse(line, l, m), 0);
                        ck_assert_msg(strcmp(m->type, type) == 0, "got %s, wanted %s", m->type, type);
                        return;
                }
                if (poll(&p, 1, 20) == 1) {
                        n = read(host_fd[s], rbuf[s] + rlen[s], sizeof(rbuf[s]) - rlen[s]);
                        ck_assert_int_gt(n, 0);
                        rlen[s] += (size_t)n;
                } else {
                        (void)vmic_poll_once(v, 0);
                }
        }
        ck_abort_msg("vmic sent no %s on %s", type, ic_service_name(s));
}

static int64_t int_of(const struct ic_msg *m, const char *k)
{
        const struct ic_value *x = ic_msg_get(m, k);

        ck_assert_msg(x && x->type == IC_VAL_INT, "no %s", k);
        return x->i;
}

static void host_hello(enum ic_service s)
{
        static char line[IC_LINE_MAX];
        char hello[128];
        struct ic_msg m;

        host_read(s, "hello", &m, line);
        ck_assert_int_eq(int_of(&m, "version"), IC_PROTOCOL_VERSION);
        snprintf(hello, sizeof(hello), "{\"type\":\"hello\",\"version\":1,\"service\":\"%s\"}\n", ic_service_name(s));
        host_write(s, hello);
}

static void setup(void)
{
        setup_cfg(false);
        memset(rlen, 0, sizeof(rlen));
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                host_hello((enum ic_service)s);
}

START_TEST(test_heartbeat_shutdown_timesync)
{
        static char line[IC_LINE_MAX];
        struct ic_msg m;

        host_write(IC_SVC_HEARTBEAT, "{\"type\":\"ping\",\"seq\":7}\n");
        host_read(IC_SVC_HEARTBEAT, "pong", &m, line);
        ck_assert_int_eq(int_of(&m, "seq"), 7);

        host_write(IC_SVC_SHUTDOWN, "{\"type\":\"shutdown\",\"id\":4,\"action\":\"reboot\",\"reason\":\"patch day\"}\n");
        host_read(IC_SVC_SHUTDOWN, "ack", &m, line);
        ck_assert_int_eq(int_of(&m, "id"), 4);
        ck_assert_int_eq(fake.shutdowns, 1);
        ck_assert(fake.reboot);
        host_write(IC_SVC_SHUTDOWN, "{\"type\":\"shutdown\",\"action\":\"poweroff\"}\n");
        host_read(IC_SVC_SHUTDOWN, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_BAD_MESSAGE);

        /* Off by 5 s: stepped. */
        struct timespec now;
        char t[160];

        fake.clock_offset_ms = 5000;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(t, sizeof(t), "{\"type\":\"time\",\"seq\":1,\"sec\":%lld,\"nsec\":%ld,\"reason\":\"start\"}\n",
                 (long long)now.tv_sec, now.tv_nsec);
        host_write(IC_SVC_TIMESYNC, t);
        host_read(IC_SVC_TIMESYNC, "ack", &m, line);
        ck_assert_int_eq(int_of(&m, "seq"), 1);
        ck_assert_int_ge(int_of(&m, "offset_ms"), 4900);
        ck_assert_str_eq(ic_msg_get(&m, "action")->s, "step");
        ck_assert_int_eq(fake.clock_sets, 1);
        /* Off by 300 ms: slewed back. */
        fake.clock_offset_ms = 300;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(t, sizeof(t), "{\"type\":\"time\",\"seq\":2,\"sec\":%lld,\"nsec\":%ld,\"reason\":\"periodic\"}\n",
                 (long long)now.tv_sec, now.tv_nsec);
        host_write(IC_SVC_TIMESYNC, t);
        host_read(IC_SVC_TIMESYNC, "ack", &m, line);
        ck_assert_str_eq(ic_msg_get(&m, "action")->s, "slew");
        ck_assert_int_le(fake.last_slew, -250);
        /* Garbage gets an error, not a crash. */
        host_write(IC_SVC_TIMESYNC, "}}}{{{\n");
        host_read(IC_SVC_TIMESYNC, "error", &m, line);
}
END_TEST

START_TEST(test_kvp)
{
        static char line[IC_LINE_MAX];
        struct ic_msg m;
        char path[256], buf[64] = "";
        char *val;
        int fd;
        bool saw_os = false;

        /* On hello vmic reports its pool. */
        for (int i = 0; i < 3; i++) {
                host_read(IC_SVC_KVP, "set", &m, line);
                ck_assert_str_eq(ic_msg_get(&m, "pool")->s, "guest");
                if (strcmp(ic_msg_get(&m, "key")->s, IC_KVP_OS_NAME) == 0) {
                        ck_assert_str_eq(ic_msg_get(&m, "value")->s, "Test Linux");
                        saw_os = true;
                }
        }
        ck_assert(saw_os);
        host_write(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"host\",\"key\":\"Owner\",\"value\":\"ops \\\"team\\\"\",\"id\":10}\n");
        host_read(IC_SVC_KVP, "ack", &m, line);
        ck_assert_int_eq(int_of(&m, "id"), 10);
        val = vmic_kvp_host_get(v, "Owner");
        ck_assert_str_eq(val, "ops \"team\"");
        free(val);
        snprintf(path, sizeof(path), "%s/kvp/host/Owner", tmpdir);
        fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
        close(fd);
        ck_assert_str_eq(buf, "ops \"team\"");
        host_write(IC_SVC_KVP, "{\"type\":\"get\",\"pool\":\"host\",\"key\":\"Owner\",\"id\":11}\n");
        host_read(IC_SVC_KVP, "value", &m, line);
        ck_assert_str_eq(ic_msg_get(&m, "value")->s, "ops \"team\"");
        host_write(IC_SVC_KVP, "{\"type\":\"get\",\"pool\":\"guest\",\"key\":\"FullyQualifiedDomainName\",\"id\":12}\n");
        host_read(IC_SVC_KVP, "value", &m, line);
        ck_assert_str_eq(ic_msg_get(&m, "value")->s, "guest1");
        host_write(IC_SVC_KVP, "{\"type\":\"get\",\"pool\":\"host\",\"key\":\"Nope\",\"id\":13}\n");
        host_read(IC_SVC_KVP, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_NOT_FOUND);
        host_write(IC_SVC_KVP, "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"x\",\"value\":\"y\",\"id\":14}\n");
        host_read(IC_SVC_KVP, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_ACCESS);
        host_write(IC_SVC_KVP, "{\"type\":\"delete\",\"pool\":\"host\",\"key\":\"Owner\",\"id\":15}\n");
        host_read(IC_SVC_KVP, "ack", &m, line);
        ck_assert_int_ne(access(path, F_OK), 0);
        /* A key the guest's admin adds as a file shows up at the next refresh. */
        snprintf(path, sizeof(path), "%s/kvp/guest", tmpdir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/kvp/guest/Role", tmpdir);
        fd = open(path, O_WRONLY | O_CREAT, 0644);
        ck_assert_int_eq(write(fd, "web\n", 4), 4);
        close(fd);
        vmic_kvp_refresh(v);
        host_read(IC_SVC_KVP, "set", &m, line);
        ck_assert_str_eq(ic_msg_get(&m, "key")->s, "Role");
        ck_assert_str_eq(ic_msg_get(&m, "value")->s, "web");
}
END_TEST

static void send_chunk(uint64_t id, unsigned seq, uint64_t off, const void *data, size_t len, uint32_t crc)
{
        static char line[IC_FCOPY_LINE_MAX];
        struct ic_writer w;
        int n;

        ic_writer_begin(&w, line, sizeof(line), "data");
        ic_writer_int(&w, "id", (int64_t)id);
        ic_writer_int(&w, "seq", seq);
        ic_writer_int(&w, "offset", (int64_t)off);
        ic_writer_int(&w, "size", (int64_t)len);
        ic_writer_int(&w, "crc32", crc);
        ic_writer_base64(&w, "data", data, len);
        n = ic_writer_end(&w);
        ck_assert_int_gt(n, 0);
        line[n] = 0;
        host_write(IC_SVC_FCOPY, line);
}

START_TEST(test_fcopy)
{
        static char line[IC_LINE_MAX];
        static uint8_t data[100000];
        char msg[512], path[256];
        struct ic_msg m;
        struct stat st;
        uint32_t crc;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 13 + 5);
        crc = ic_crc32(0, data, sizeof(data));
        snprintf(msg, sizeof(msg), "{\"type\":\"start\",\"id\":1,\"path\":\"%s/sub/dir/f.bin\",\"size\":%zu,"
                 "\"mode\":384,\"overwrite\":false,\"mkdirs\":true}\n", tmpdir, sizeof(data));
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "ack", &m, line);
        for (unsigned seq = 0, off = 0; off < sizeof(data); seq++) {
                size_t len = sizeof(data) - off < IC_FCOPY_CHUNK ? sizeof(data) - off : IC_FCOPY_CHUNK;

                send_chunk(1, seq, off, data + off, len, ic_crc32(0, data + off, len));
                host_read(IC_SVC_FCOPY, "ack", &m, line);
                ck_assert_int_eq(int_of(&m, "seq"), seq);
                off += (unsigned)len;
        }
        snprintf(path, sizeof(path), "%s/sub/dir/f.bin", tmpdir);
        ck_assert_int_ne(access(path, F_OK), 0);        /* not visible before the end */
        snprintf(msg, sizeof(msg), "{\"type\":\"end\",\"id\":1,\"size\":%zu,\"crc32\":%u}\n", sizeof(data), crc);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "done", &m, line);
        ck_assert_int_eq(int_of(&m, "crc32"), crc);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, sizeof(data));
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        snprintf(msg, sizeof(msg), "{\"type\":\"stat\",\"id\":2,\"path\":\"%s\"}\n", path);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "stat", &m, line);
        ck_assert_int_eq(int_of(&m, "crc32"), crc);
        ck_assert_int_eq(int_of(&m, "size"), sizeof(data));

        /* Refusals. */
        snprintf(msg, sizeof(msg), "{\"type\":\"start\",\"id\":3,\"path\":\"%s\",\"size\":1}\n", path);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_EXISTS);
        host_write(IC_SVC_FCOPY, "{\"type\":\"start\",\"id\":4,\"path\":\"/etc/passwd\",\"size\":1,\"overwrite\":true}\n");
        host_read(IC_SVC_FCOPY, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_ACCESS);
        snprintf(msg, sizeof(msg), "{\"type\":\"start\",\"id\":5,\"path\":\"%s/../x\",\"size\":1}\n", tmpdir);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_INVALID_PATH);
        snprintf(msg, sizeof(msg), "{\"type\":\"start\",\"id\":6,\"path\":\"%s/nodir/x\",\"size\":1}\n", tmpdir);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_INVALID_PATH);
        /* A corrupted chunk: refused, nothing left behind. */
        snprintf(msg, sizeof(msg), "{\"type\":\"start\",\"id\":7,\"path\":\"%s/g.bin\",\"size\":10}\n", tmpdir);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "ack", &m, line);
        send_chunk(7, 0, 0, "0123456789", 10, 12345);
        host_read(IC_SVC_FCOPY, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_CHECKSUM);
        snprintf(msg, sizeof(msg), "ls -A %s | grep -v sub | grep -v kvp | wc -l | grep -qx 0", tmpdir);
        ck_assert_int_eq(system(msg), 0);
        snprintf(msg, sizeof(msg), "{\"type\":\"stat\",\"id\":8,\"path\":\"%s/g.bin\"}\n", tmpdir);
        host_write(IC_SVC_FCOPY, msg);
        host_read(IC_SVC_FCOPY, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_refuse_shutdown)
{
        static char line[IC_LINE_MAX];
        struct ic_msg m;

        teardown();
        setup_cfg(true);
        memset(rlen, 0, sizeof(rlen));
        host_hello(IC_SVC_SHUTDOWN);
        host_write(IC_SVC_SHUTDOWN, "{\"type\":\"shutdown\",\"id\":1,\"action\":\"poweroff\"}\n");
        host_read(IC_SVC_SHUTDOWN, "error", &m, line);
        ck_assert_int_eq(int_of(&m, "error"), IC_ERR_REFUSED);
        ck_assert_int_eq(fake.shutdowns, 0);
}
END_TEST

/* --- part 2: vmic against the host's engine ---------------------------------------- */

static struct vsp_ic *hic;
static volatile bool guest_stop;

static void *guest_thread(void *arg)
{
        while (!guest_stop)
                (void)vmic_poll_once(v, 10);
        return NULL;
}

/* What the virtio-console device does: carry bytes both ways, run the timers. */
static void device_pump(void)
{
        static char buf[1 << 16];

        for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                ssize_t n;
                size_t out;

                while ((n = recv(host_fd[s], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
                        for (size_t done = 0; done < (size_t)n;) {
                                size_t t = vsp_ic_port_input(hic, (enum ic_service)s, buf + done, (size_t)n - done);

                                done += t;
                                if (t == 0)
                                        usleep(1000);
                        }
                while ((out = vsp_ic_port_output(hic, (enum ic_service)s, buf, sizeof(buf))) > 0)
                        ck_assert_int_eq(write(host_fd[s], buf, out), (ssize_t)out);
        }
        (void)vsp_ic_tick(hic);
}

static bool wait_event(enum vsp_ic_event_type type, struct vsp_ic_event *ev, int ms)
{
        for (int t = 0; t < ms; t++) {
                device_pump();
                while (vsp_ic_pop_event(hic, ev) > 0) {
                        if (ev->type == type)
                                return true;
                        vsp_ic_event_done(ev);
                }
                usleep(1000);
        }
        return false;
}

START_TEST(test_against_host_engine)
{
        struct vsp_ic_config cfg = { .enabled = { true, true, true, true, true } };
        struct vsp_ic_status st;
        struct vsp_ic_event ev;
        static uint8_t data[1u << 20];
        char path[256], *val = NULL;
        pthread_t th;
        uint64_t id;
        int fd;

        teardown();
        ck_assert_int_eq(vsp_ic_new(&cfg, &hic), 0);
        ck_assert_int_eq(vsp_ic_kvp_set(hic, "VirtualMachineName", "demo"), 0);
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                vsp_ic_port_open(hic, (enum ic_service)s, true);
        setup_cfg(false);
        guest_stop = false;
        ck_assert_int_eq(pthread_create(&th, NULL, guest_thread, NULL), 0);

        /* Every service connects; the heartbeat is OK. */
        for (int t = 0; t < 2000; t++) {
                bool all = true;

                device_pump();
                for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                        all &= vsp_ic_connected(hic, (enum ic_service)s);
                if (all)
                        break;
                usleep(1000);
        }
        vsp_ic_get_status(hic, &st);
        for (unsigned s = 0; s < IC_SVC_COUNT; s++)
                ck_assert_int_eq(st.svc[s].state, VSP_IC_STATE_CONNECTED);
        ck_assert_str_eq(st.svc[IC_SVC_KVP].agent, "vmic " VMIC_VERSION);
        ck_assert_int_eq(st.heartbeat, VSP_IC_HEARTBEAT_OK);

        /* KVP both ways. */
        for (int t = 0; t < 2000 && vsp_ic_kvp_get(hic, true, IC_KVP_HOSTNAME, &val) < 0; t++) {
                device_pump();
                usleep(1000);
        }
        ck_assert_str_eq(val, "guest1");
        free(val);
        ck_assert_int_eq(vsp_ic_kvp_query(hic, false, "VirtualMachineName", &id), 0);
        ck_assert(wait_event(VSP_IC_EVENT_KVP, &ev, 2000));
        ck_assert_uint_eq(ev.error, 0);
        ck_assert_str_eq(ev.value, "demo");
        vsp_ic_event_done(&ev);

        /* A 1 MiB copy, checked in place. */
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i ^ (i >> 8) ^ (i >> 16));
        snprintf(path, sizeof(path), "%s/copy.bin", tmpdir);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
        unlink(path);
        snprintf(path, sizeof(path), "%s/in/copy.bin", tmpdir);
        ck_assert_int_eq(vsp_ic_fcopy_start(hic, fd, path, 0644, true, true, &id), 0);
        ck_assert(wait_event(VSP_IC_EVENT_FCOPY, &ev, 10000));
        ck_assert_msg(ev.error == 0, "copy failed: %s", ev.message);
        ck_assert_uint_eq(ev.size, sizeof(data));
        ck_assert_uint_eq(ev.crc32, ic_crc32(0, data, sizeof(data)));
        ck_assert_int_eq(vsp_ic_fcopy_stat(hic, path, &id), 0);
        ck_assert(wait_event(VSP_IC_EVENT_FCOPY_STAT, &ev, 5000));
        ck_assert_uint_eq(ev.crc32, ic_crc32(0, data, sizeof(data)));
        /* The guest refuses a path outside its copy root: the host hears why. */
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(vsp_ic_fcopy_start(hic, open("/proc/self/exe", O_RDONLY | O_CLOEXEC), "/etc/vmic-test",
                                            0644, true, false, &id), 0);
        close(fd);
        ck_assert(wait_event(VSP_IC_EVENT_FCOPY, &ev, 5000));
        ck_assert_uint_eq(ev.error, IC_ERR_ACCESS);
        ck_assert_ptr_nonnull(strstr(ev.message, "outside the copy root"));

        /* Shutdown. */
        ck_assert_int_eq(vsp_ic_shutdown(hic, false, "test", &id), 0);
        ck_assert(wait_event(VSP_IC_EVENT_SHUTDOWN, &ev, 2000));
        ck_assert_uint_eq(ev.error, 0);
        ck_assert_int_eq(__atomic_load_n(&fake.shutdowns, __ATOMIC_SEQ_CST), 1);

        guest_stop = true;
        pthread_join(th, NULL);
        vsp_ic_free(hic);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("vmic");
        TCase *tc = tcase_create("vmic");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_heartbeat_shutdown_timesync);
        tcase_add_test(tc, test_kvp);
        tcase_add_test(tc, test_fcopy);
        tcase_add_test(tc, test_refuse_shutdown);
        tcase_add_test(tc, test_against_host_engine);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
