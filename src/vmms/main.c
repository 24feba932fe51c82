/* SPDX-License-Identifier: MIT */
/*
 * vmms: the Virtual Machine Management Service. See vmms(8) and vmms-api(7).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmms-build-config.h"
#include "vmms/api.h"
#include "vmms/log.h"
#include "cage.h"
#include "vmms.h"

static void help(void)
{
        printf("Usage: vmms [OPTIONS]\n"
               "The Virtual Machine Management Service: keeps every VM's configuration and state,\n"
               "runs one vmwp worker per running VM, and serves the JSON-RPC API (vmms-api(7)).\n\n"
               "      --socket PATH      the API socket (default %s; a socket passed by\n"
               "                         systemd is used instead)\n"
               "      --state-dir DIR    the registry of VMs (default %s)\n"
               "      --run-dir DIR      per-VM runtime files and sockets (default %s)\n"
               "      --allow-dir DIR    kernels, initrds and disks may be below DIR; repeatable\n"
               "                         (default %s)\n"
               "      --worker-ids FIRST-LAST\n"
               "                         the uids (and gids) workers run as, one per running VM\n"
               "                         (default %u-%u)\n"
               "      --log-level LEVEL  err, warning, notice, info (default), debug\n"
               "  -h, --help             show this help\n"
               "      --version          show the version\n",
               VMMS_SOCKET_PATH_DEFAULT, VMMS_STATE_DIR_DEFAULT, VMMS_RUN_DIR_DEFAULT, VMMS_IMAGES_DIR_DEFAULT,
               CAGE_IDS_FIRST_DEFAULT, CAGE_IDS_FIRST_DEFAULT + CAGE_IDS_COUNT_DEFAULT - 1);
}

enum {
        ARG_SOCKET = 0x100,
        ARG_STATE_DIR,
        ARG_RUN_DIR,
        ARG_LOG_LEVEL,
        ARG_VERSION,
        ARG_ALLOW_DIR,
        ARG_WORKER_IDS,
};

#define ALLOW_DIRS_MAX 64

/* 1: run, 0: done (help), -EINVAL: usage error. */
static int parse_argv(int argc, char *argv[], struct vmms_settings *s, const char **allow_dirs)
{
        size_t n_allow = 0;
        static const struct option options[] = {
                { "socket",    required_argument, NULL, ARG_SOCKET },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "run-dir",   required_argument, NULL, ARG_RUN_DIR },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "allow-dir", required_argument, NULL, ARG_ALLOW_DIR },
                { "worker-ids", required_argument, NULL, ARG_WORKER_IDS },
                { "help",      no_argument,       NULL, 'h' },
                { "version",   no_argument,       NULL, ARG_VERSION },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_SOCKET: s->socket_path = optarg; break;
                case ARG_STATE_DIR: s->state_dir = optarg; break;
                case ARG_RUN_DIR: s->run_dir = optarg; break;
                case ARG_ALLOW_DIR:
                        if (optarg[0] != '/' || n_allow >= ALLOW_DIRS_MAX) {
                                log_error("--allow-dir: '%s' is not an absolute path (or one too many)", optarg);
                                return -EINVAL;
                        }
                        allow_dirs[n_allow++] = optarg;
                        s->allow_dirs = allow_dirs;
                        break;
                case ARG_WORKER_IDS:
                        if (cage_ids_parse(optarg, &s->worker_id_first, &s->worker_id_count) < 0) {
                                log_error("--worker-ids: '%s' is not a range FIRST-LAST of non-zero ids", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        r = log_parse_level(optarg);
                        if (r < 0) {
                                log_error("--log-level: unknown level '%s'", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(r);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vmms %s\n", VMMS_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("Unexpected argument '%s' (see --help)", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[])
{
        struct vmms_settings s = {
                .socket_path = VMMS_SOCKET_PATH_DEFAULT,
                .state_dir = VMMS_STATE_DIR_DEFAULT,
                .run_dir = VMMS_RUN_DIR_DEFAULT,
        };
        struct vmms_manager *m = NULL;
        const char *allow_dirs[ALLOW_DIRS_MAX + 1] = {};
        sigset_t mask;
        int r;

        log_set_prefix("vmms");
        r = parse_argv(argc, argv, &s, allow_dirs);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        /* Blocked before anything else, so only the event loop sees them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = vmms_manager_new(&s, &m);
        if (r < 0)
                return 1;
        r = vmms_manager_start(m);
        if (r >= 0) {
                r = vmms_manager_run(m);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
        }
        vmms_manager_free(m);
        return r < 0 ? 1 : 0;
}
