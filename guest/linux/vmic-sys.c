/* SPDX-License-Identifier: MIT */
/* vmic's reach into the system: power, clock, and what the guest reports about itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmic.h"

/* "poweroff"/"reboot" from the init system (systemd, busybox, sysvinit), else the syscall. */
static int sys_shutdown(void *userdata, bool reboot_, const char *reason)
{
        const char *cmd = reboot_ ? "reboot" : "poweroff";
        int status;
        pid_t pid;

        sync();
        pid = fork();
        if (pid == 0) {
                setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 0);
                execlp(cmd, cmd, (char *)NULL);
                _exit(127);
        }
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        fprintf(stderr, "vmic: %s did not run, calling reboot(2)\n", cmd);
        sync();
        return reboot(reboot_ ? RB_AUTOBOOT : RB_POWER_OFF) < 0 ? -errno : 0;
}

static void sys_clock_get(void *userdata, struct timespec *ret)
{
        clock_gettime(CLOCK_REALTIME, ret);
}

static int sys_clock_set(void *userdata, const struct timespec *ts)
{
        return clock_settime(CLOCK_REALTIME, ts) < 0 ? -errno : 0;
}

static int sys_clock_slew(void *userdata, int64_t delta_ms)
{
        struct timeval tv = { .tv_sec = (time_t)(delta_ms / 1000), .tv_usec = (suseconds_t)(delta_ms % 1000) * 1000 };

        return adjtime(&tv, NULL) < 0 ? -errno : 0;
}

/* KEY=value or KEY="value" from os-release. */
static bool os_release_get(const char *key, char *buf, size_t len)
{
        static const char *const files[] = { "/etc/os-release", "/usr/lib/os-release" };
        char line[512];

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                FILE *f = fopen(files[i], "re");

                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        size_t kl = strlen(key), vl;
                        char *v;

                        if (strncmp(line, key, kl) != 0 || line[kl] != '=')
                                continue;
                        v = line + kl + 1;
                        v[strcspn(v, "\n")] = 0;
                        vl = strlen(v);
                        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
                                v[vl - 1] = 0;
                                v++;
                        }
                        snprintf(buf, len, "%s", v);
                        fclose(f);
                        return true;
                }
                fclose(f);
                return false;
        }
        return false;
}

static void append(char *buf, size_t len, const char *addr)
{
        size_t used = strlen(buf);

        if (used + strlen(addr) + 2 > len)
                return;
        if (used)
                strcat(buf, ";");
        strcat(buf, addr);
}

static void sys_kvp_collect(void *userdata, struct vmic *v)
{
        char buf[IC_KVP_VALUE_MAX + 1], v4[IC_KVP_VALUE_MAX + 1] = "", v6[IC_KVP_VALUE_MAX + 1] = "";
        struct ifaddrs *ifa = NULL;
        struct utsname u;

        if (os_release_get("NAME", buf, sizeof(buf)))
                vmic_kvp_report(v, IC_KVP_OS_NAME, buf);
        else
                vmic_kvp_report(v, IC_KVP_OS_NAME, "Linux");
        if (os_release_get("VERSION_ID", buf, sizeof(buf)))
                vmic_kvp_report(v, IC_KVP_OS_VERSION, buf);
        if (uname(&u) == 0)
                vmic_kvp_report(v, IC_KVP_OS_KERNEL, u.release);
        if (gethostname(buf, sizeof(buf) - 1) == 0) {
                buf[sizeof(buf) - 1] = 0;
                vmic_kvp_report(v, IC_KVP_HOSTNAME, buf);
        }
        if (getifaddrs(&ifa) == 0) {
                for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                        char addr[INET6_ADDRSTRLEN];

                        if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
                                continue;
                        if (i->ifa_addr->sa_family == AF_INET &&
                            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, addr, sizeof(addr)))
                                append(v4, sizeof(v4), addr);
                        else if (i->ifa_addr->sa_family == AF_INET6) {
                                const struct in6_addr *a = &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;

                                if (!IN6_IS_ADDR_LINKLOCAL(a) && inet_ntop(AF_INET6, a, addr, sizeof(addr)))
                                        append(v6, sizeof(v6), addr);
                        }
                }
                freeifaddrs(ifa);
        }
        vmic_kvp_report(v, IC_KVP_IPV4, v4);
        vmic_kvp_report(v, IC_KVP_IPV6, v6);
        vmic_kvp_report(v, IC_KVP_AGENT, "vmic " VMIC_VERSION);
}

const struct vmic_ops vmic_sys_ops = {
        .shutdown = sys_shutdown,
        .clock_get = sys_clock_get,
        .clock_set = sys_clock_set,
        .clock_slew = sys_clock_slew,
        .kvp_collect = sys_kvp_collect,
};
