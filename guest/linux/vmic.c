/* SPDX-License-Identifier: MIT */
/*
 * vmic: serve the vmms integration services (vmms-ic(7)) in a Linux guest. Opens
 * /dev/virtio-ports/org.vmms.* (or, without udev, the /dev/vportNpM whose sysfs name
 * matches), answers heartbeats, shuts the guest down on request, keeps the clock, reports
 * KVP data and receives copied files. Missing ports are looked for again every few seconds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <abi/ic_msg.h>
#include "vmic.h"

#define RETRY_MS 5000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        stop = 1;
}

static void help(void)
{
        printf("Usage: vmic [OPTIONS]\n"
               "Serve the vmms integration services in this guest (vmms-ic(7)).\n\n"
               "      --dev-dir DIR       where the ports are (default /dev/virtio-ports)\n"
               "      --fcopy-root DIR    accept copied files only below DIR (default /)\n"
               "      --kvp-dir DIR       mirror the host pool to DIR/host/KEY and publish\n"
               "                          DIR/guest/KEY files (default /run/vmic/kvp)\n"
               "      --refuse-shutdown   answer shutdown requests with a refusal\n"
               "      --no-set-clock      report the clock offset, never change the clock\n"
               "  -v, --verbose           log every exchange to stderr\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n");
}

/* /dev/virtio-ports/NAME, or the /dev/vportNpM whose sysfs name is NAME (no udev). */
static int open_port(const char *dev_dir, const char *name)
{
        char path[512];
        struct dirent *de;
        DIR *d;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dev_dir, name);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 || errno != ENOENT)
                return fd >= 0 ? fd : -errno;
        d = opendir("/sys/class/virtio-ports");
        if (!d)
                return -ENOENT;
        fd = -ENOENT;
        while ((de = readdir(d)) && fd == -ENOENT) {
                char n[64] = "";
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(n, sizeof(n), f))
                        n[strcspn(n, "\n")] = 0;
                fclose(f);
                if (strcmp(n, name) != 0)
                        continue;
                snprintf(path, sizeof(path), "/dev/%s", de->d_name);
                fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                if (fd < 0)
                        fd = -errno;
        }
        closedir(d);
        return fd;
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                { "dev-dir", required_argument, NULL, 'd' },
                { "fcopy-root", required_argument, NULL, 'r' },
                { "kvp-dir", required_argument, NULL, 'k' },
                { "refuse-shutdown", no_argument, NULL, 'R' },
                { "no-set-clock", no_argument, NULL, 'C' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        struct vmic_config cfg = { .fcopy_root = "/", .kvp_dir = "/run/vmic/kvp", .set_clock = true };
        const char *dev_dir = "/dev/virtio-ports";
        struct sigaction sa = { .sa_handler = on_signal };
        struct vmic *v;
        unsigned last_found = ~0u;
        int c, r;

        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0) {
                switch (c) {
                case 'd': dev_dir = optarg; break;
                case 'r': cfg.fcopy_root = optarg; break;
                case 'k': cfg.kvp_dir = optarg[0] ? optarg : NULL; break;
                case 'R': cfg.refuse_shutdown = true; break;
                case 'C': cfg.set_clock = false; break;
                case 'v': cfg.verbose = true; break;
                case 'h': help(); return 0;
                case 'V': printf("vmic %s\n", VMIC_VERSION); return 0;
                default: return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vmic: unexpected argument '%s' (see --help)\n", argv[optind]);
                return 2;
        }
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        r = vmic_new(&cfg, &vmic_sys_ops, NULL, &v);
        if (r < 0) {
                fprintf(stderr, "vmic: %s\n", strerror(-r));
                return 1;
        }
        while (!stop) {
                unsigned found = 0;

                for (unsigned s = 0; s < IC_SVC_COUNT; s++) {
                        if (!vmic_attached(v, (enum ic_service)s)) {
                                int fd = open_port(dev_dir, ic_service_port((enum ic_service)s));

                                if (fd >= 0 && vmic_attach(v, (enum ic_service)s, fd) < 0)
                                        vmic_detach(v, (enum ic_service)s);
                        }
                        found += vmic_attached(v, (enum ic_service)s);
                }
                if (found != last_found)
                        fprintf(stderr, "vmic: serving %u of %u integration services\n", found, IC_SVC_COUNT);
                last_found = found;
                /* Serve until it is time to look for missing ports again. */
                for (unsigned t = 0; t < RETRY_MS / 500 && !stop; t++) {
                        r = vmic_poll_once(v, 500);
                        if (r < 0) {
                                fprintf(stderr, "vmic: poll: %s\n", strerror(-r));
                                stop = 1;
                        }
                }
        }
        vmic_free(v);
        return 0;
}
