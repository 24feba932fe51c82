/* SPDX-License-Identifier: MIT */
/*
 * Integration services: "ic" serves heartbeat, shutdown, time sync, KVP and file copy until
 * the host shuts the guest down (the default scenario); "ic-hostile" first breaks every rule
 * of the protocol on purpose (garbage, an endless line, oversized values, floods), then
 * serves like "ic", so tests can check that the host only degrades this guest's services.
 */
#include "kernel/ic.h"
#include "kernel/kernel.h"
#include "kernel/report.h"
#include "kernel/scenarios/scenarios.h"

#define START_TIMEOUT_MS 3000
#define FLOOD_NS         (10000ull * 1000000)

static _noreturn_ void idle_forever(void)
{
        guest_irq_disable();
        for (;;)
                guest_cpu_wait();
}

static struct guest_ic *start(void)
{
        struct guest_ic *ic = NULL;
        int r = guest_ic_start(START_TIMEOUT_MS, &ic);

        if (r < 0) {
                /* No integration services for this VM: behave like "idle". */
                guest_report_info("ic=unavailable error=%d", r);
                idle_forever();
        }
        if (ic->ignore_shutdown) {
                guest.power.button_ignored = true;
                guest_report_info("ic_ignore_shutdown=1");
        }
        return ic;
}

int guest_scenario_ic(void)
{
        struct guest_ic *ic = start();

        guest_report_info("ic=serving");
        guest_ic_serve(ic);
}

/* Wait until the host answered our hellos (or give up after ms). */
static void settle(struct guest_ic *ic, uint64_t ms)
{
        uint64_t end = guest_time_ns() + ms * 1000000;

        while (guest_time_ns() < end)
                (void)guest_ic_poll(ic);
}

static uint64_t flood(struct guest_ic *ic, enum ic_service s, const char *line, unsigned times)
{
        uint64_t deadline = guest_time_ns() + FLOOD_NS, sent = 0;
        size_t len = guest_strlen(line);

        for (unsigned i = 0; i < times && guest_time_ns() < deadline; i++) {
                int r = guest_ic_write_raw(ic, s, line, len, deadline);

                if (r < 0)
                        break;
                sent += (uint64_t)r;
                if (i % 64 == 63)
                        (void)guest_ic_poll(ic);        /* drain the host's answers now and then */
        }
        (void)guest_ic_poll(ic);
        return sent;
}

int guest_scenario_ic_hostile(void)
{
        struct guest_ic *ic = start();
        static char big[IC_KVP_VALUE_MAX + 1200];
        static char endless[GUEST_CON_BUF];
        uint64_t deadline, sent = 0;
        int n;

        settle(ic, 500);
        /* KVP: values over the limit, again and again. */
        n = guest_snprintf(big, sizeof(big), "{\"type\":\"set\",\"pool\":\"guest\",\"key\":\"huge\",\"value\":\"");
        memset(big + n, 'v', IC_KVP_VALUE_MAX + 1000);
        guest_strlcpy(big + n + IC_KVP_VALUE_MAX + 1000, "\",\"id\":1}\n", 16);
        sent += flood(ic, IC_SVC_KVP, big, 60);
        /* Heartbeat: garbage lines. */
        sent += flood(ic, IC_SVC_HEARTBEAT, "\x01{{{ not json ]]]\n", 400);
        /* Timesync: one endless line, 2 MiB without a newline. */
        memset(endless, 'x', sizeof(endless));
        deadline = guest_time_ns() + FLOOD_NS;
        for (unsigned i = 0; i < (2u << 20) / sizeof(endless) && guest_time_ns() < deadline; i++) {
                n = guest_ic_write_raw(ic, IC_SVC_TIMESYNC, endless, sizeof(endless), deadline);
                if (n < 0)
                        break;
                sent += (uint64_t)n;
                (void)guest_ic_poll(ic);
        }
        sent += flood(ic, IC_SVC_TIMESYNC, "\n", 1);
        /* Shutdown: a flood of messages that port does not take. */
        sent += flood(ic, IC_SVC_SHUTDOWN, "{\"type\":\"request\"}\n", 3000);
        /* Fcopy: answers to questions never asked. */
        sent += flood(ic, IC_SVC_FCOPY, "{\"type\":\"done\",\"id\":99,\"size\":1,\"crc32\":1}\n", 200);
        guest_report_metric("ic_hostile_bytes", sent, "bytes");
        guest_report_info("ic_hostile=done");
        guest_ic_serve(ic);
}
