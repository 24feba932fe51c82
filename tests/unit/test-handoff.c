/* SPDX-License-Identifier: MIT */
/* vmwp's fd hand-off (src/vmwp/handoff.c): the fds named in the first line land in the
 * configuration; a disk is one index or [image, backing, its backing, ...]. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-main.h"
#include "vmms/config.h"
#include "../../src/vmwp/handoff.h"

/* A hand-off as vmwp_handoff_receive() leaves it: the line parsed, n fds (of /dev/null). */
static struct vmwp_handoff *handoff_new(const char *line, size_t n)
{
        struct vmwp_handoff *h = calloc(1, sizeof(*h));

        ck_assert_ptr_nonnull(h);
        h->fd_socket = -1;
        h->msg = json_tokener_parse(line);
        ck_assert_ptr_nonnull(h->msg);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_ge(h->fds[h->n_fds++] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
        return h;
}

static void config_with_disks(struct vm_config *c)
{
        struct config_error err = {};

        ck_assert_int_eq(vm_config_from_string("{\"disks\":[{\"path\":\"/a.img\"},"
                                               "{\"path\":\"/b.qcow2\",\"format\":\"qcow2\"}]}", c, &err), 0);
}

START_TEST(test_disks_with_chains)
{
        struct vmwp_handoff *h = handoff_new("{\"disks\": [3, [0, 2, 1]]}", 4);
        int fds[4];
        struct vm_config c;

        memcpy(fds, h->fds, sizeof(fds));
        config_with_disks(&c);
        ck_assert_int_eq(vmwp_handoff_apply(h, &c), 0);
        ck_assert_int_eq(c.disks[0].fd, fds[3]);
        ck_assert_uint_eq(c.disks[0].n_backing_fds, 0);
        ck_assert_int_eq(c.disks[1].fd, fds[0]);
        ck_assert_uint_eq(c.disks[1].n_backing_fds, 2);
        ck_assert_int_eq(c.disks[1].backing_fds[0], fds[2]);    /* nearest first */
        ck_assert_int_eq(c.disks[1].backing_fds[1], fds[1]);
        ck_assert_uint_eq(h->n_held, 4);                        /* closed with the hand-off */
        vmwp_handoff_free(h);
        ck_assert_int_eq(fcntl(fds[1], F_GETFD), -1);
        vm_config_done(&c);
}
END_TEST

START_TEST(test_disks_refused)
{
        static const struct { const char *line; size_t n_fds; } cases[] = {
                { "{\"disks\": [0]}", 1 },                      /* one per configured disk */
                { "{\"disks\": [0, []]}", 1 },                  /* an empty chain */
                { "{\"disks\": [0, [1, 1]]}", 2 },              /* an fd named twice */
                { "{\"disks\": [0, [1, 9]]}", 2 },              /* no such fd */
                { "{\"disks\": [0, [1, \"2\"]]}", 3 },
                { "{\"disks\": [0, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]]}", 18 },   /* too deep */
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vmwp_handoff *h = handoff_new(cases[i].line, cases[i].n_fds);
                struct vm_config c;

                config_with_disks(&c);
                ck_assert_msg(vmwp_handoff_apply(h, &c) == -EBADMSG, "accepted %s", cases[i].line);
                vmwp_handoff_free(h);
                vm_config_done(&c);
        }
}
END_TEST

CHECK_MAIN("handoff", test_disks_with_chains, test_disks_refused)
