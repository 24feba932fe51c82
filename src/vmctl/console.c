/* SPDX-License-Identifier: MIT */
/* The interactive console: the terminal in raw mode, relayed to the VM's serial port. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vmms/util.h"
#include "vmctl.h"

#define DETACH_KEY 0x1d         /* Ctrl-] */

static int write_all(int fd, const char *p, size_t len)
{
        int r = loop_write(fd, p, len);

        return r == -EAGAIN ? 0 : r;
}

int vmctl_console_run(int fd, const char *name)
{
        struct termios saved, raw;
        bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        bool stdin_open = true;
        int r = 0;

        (void)fd_set_nonblock(fd, false);
        if (tty) {
                raw = saved;
                cfmakeraw(&raw);
                tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }
        fprintf(stderr, "Connected to the console of VM '%s'. Press Ctrl-] to detach.%s\n", name, tty ? "\r" : "");
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
                };
                char buf[4096];
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (p[0].revents) {
                        n = read(fd, buf, sizeof(buf));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                fprintf(stderr, "%sThe console closed (the VM stopped).%s\n", tty ? "\r\n" : "\n",
                                        tty ? "\r" : "");
                                break;
                        }
                        if ((r = write_all(STDOUT_FILENO, buf, (size_t)n)) < 0)
                                break;
                }
                if (p[1].revents) {
                        char *detach;

                        n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                stdin_open = false;     /* keep showing output until the VM ends */
                                continue;
                        }
                        detach = memchr(buf, DETACH_KEY, (size_t)n);
                        if (detach)
                                n = detach - buf;
                        if (n > 0 && (r = write_all(fd, buf, (size_t)n)) < 0)
                                break;
                        if (detach) {
                                fprintf(stderr, "%sDetached from VM '%s'.%s\n", tty ? "\r\n" : "\n", name, tty ? "\r" : "");
                                break;
                        }
                }
        }
        if (tty)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        return r;
}
