/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "vmms/cleanup.h"
#include "vmms/log.h"
#include "vmms/macro.h"
#include "vmms/util.h"
#include "console.h"

#define CONSOLE_HISTORY (64 * 1024)

struct vmwp_console {
        enum console_type type;
        sd_event *event;
        pthread_mutex_t lock;
        int out_fd;                     /* stdout, file, or the attached client */
        int in_fd;                      /* stdin or the attached client */
        int listen_fd;
        char *socket_path;
        sd_event_source *in_source, *listen_source;
        struct vdev_serial *serial;
        bool tty_raw;
        struct termios saved_tty;
        uint8_t history[CONSOLE_HISTORY];
        size_t history_len, history_head;
};

static void console_history_add(struct vmwp_console *c, const uint8_t *buf, size_t len)
{
        if (len >= CONSOLE_HISTORY) {
                buf += len - CONSOLE_HISTORY;
                len = CONSOLE_HISTORY;
        }
        for (size_t i = 0; i < len; i++) {
                c->history[(c->history_head + c->history_len) % CONSOLE_HISTORY] = buf[i];
                if (c->history_len < CONSOLE_HISTORY)
                        c->history_len++;
                else
                        c->history_head = (c->history_head + 1) % CONSOLE_HISTORY;
        }
}

void vmwp_console_write(struct vmwp_console *c, const uint8_t *buf, size_t len)
{
        if (!c || c->type == CONSOLE_NONE)
                return;
        pthread_mutex_lock(&c->lock);
        if (c->type == CONSOLE_SOCKET)
                console_history_add(c, buf, len);
        if (c->out_fd >= 0) {
                ssize_t n = write(c->out_fd, buf, len);

                /* A console that cannot keep up loses output; the guest never waits for it. */
                (void)n;
        }
        pthread_mutex_unlock(&c->lock);
}

void vmwp_console_attach(struct vmwp_console *c, struct vdev_serial *serial)
{
        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        c->serial = serial;
        pthread_mutex_unlock(&c->lock);
}

static void console_client_detach(struct vmwp_console *c)
{
        pthread_mutex_lock(&c->lock);
        c->in_source = sd_event_source_disable_unref(c->in_source);
        safe_close(c->in_fd);
        c->in_fd = c->out_fd = -1;
        pthread_mutex_unlock(&c->lock);
}

static int console_on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmwp_console *c = userdata;
        uint8_t buf[4096];
        ssize_t n;

        n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                if (c->type == CONSOLE_SOCKET)
                        console_client_detach(c);
                else
                        sd_event_source_set_enabled(s, SD_EVENT_OFF);   /* stdin closed */
                return 0;
        }
        pthread_mutex_lock(&c->lock);
        if (c->serial)
                vdev_serial_receive(c->serial, buf, (size_t)n);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

static int console_on_connect(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct vmwp_console *c = userdata;
        int cfd, r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return 0;
        /* The newest client wins, as with a serial cable moved to another terminal. */
        console_client_detach(c);
        r = sd_event_add_io(c->event, &c->in_source, cfd, EPOLLIN, console_on_input, c);
        if (r < 0) {
                close(cfd);
                return 0;
        }
        pthread_mutex_lock(&c->lock);
        c->in_fd = c->out_fd = cfd;
        if (c->history_len) {
                size_t first = MIN(c->history_len, CONSOLE_HISTORY - c->history_head);
                ssize_t n = write(cfd, c->history + c->history_head, first);

                if (n == (ssize_t)first && first < c->history_len)
                        n = write(cfd, c->history, c->history_len - first);
                (void)n;
        }
        pthread_mutex_unlock(&c->lock);
        return 0;
}

static int console_setup_socket(struct vmwp_console *c, const char *path, struct config_error *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return config_error_set(err, "console.path: '%s' is too long for a Unix socket", path);
        strcpy(sa.sun_path, path);
        c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->listen_fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return config_error_set(err, "console.path: cannot bind %s: %s", path, strerror(errno));
        c->socket_path = strdup(path);
        if (!c->socket_path)
                return -ENOMEM;
        if (listen(c->listen_fd, 4) < 0)
                return -errno;
        r = sd_event_add_io(c->event, &c->listen_source, c->listen_fd, EPOLLIN, console_on_connect, c);
        return r;
}

static void console_setup_tty(struct vmwp_console *c)
{
        struct termios t;

        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved_tty) < 0)
                return;
        t = c->saved_tty;
        /* Characters go to the guest as typed; Ctrl-C still stops the worker. */
        t.c_lflag &= (tcflag_t)~(ICANON | ECHO | ECHONL | IEXTEN);
        t.c_iflag &= (tcflag_t)~(ICRNL | INLCR | IXON);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
                c->tty_raw = true;
}

int vmwp_console_new(const struct vm_config *cfg, sd_event *event, int passed_fd, struct vmwp_console **ret,
                     struct config_error *err)
{
        struct vmwp_console *c;
        struct stat st;
        int r = 0;

        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(passed_fd);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->lock, NULL);
        c->type = cfg->console_type;
        c->event = sd_event_ref(event);
        c->in_fd = c->out_fd = c->listen_fd = -1;

        switch (c->type) {
        case CONSOLE_STDIO:
                c->out_fd = STDOUT_FILENO;
                /* Input only from a terminal or a pipe: not /dev/null, not a closed fd. */
                if (fstat(STDIN_FILENO, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) ||
                                                      S_ISSOCK(st.st_mode)) &&
                    !(S_ISCHR(st.st_mode) && !isatty(STDIN_FILENO))) {
                        console_setup_tty(c);
                        r = sd_event_add_io(event, &c->in_source, STDIN_FILENO, EPOLLIN, console_on_input, c);
                        if (r < 0)
                                c->in_source = NULL;    /* e.g. a regular file: no input */
                        r = 0;
                }
                break;
        case CONSOLE_FILE:
                if (passed_fd >= 0) {           /* opened by whoever started us */
                        c->out_fd = TAKE_FD(passed_fd);
                        break;
                }
                c->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
                if (c->out_fd < 0)
                        r = config_error_set(err, "console.path: cannot open %s: %s", cfg->console_path,
                                             strerror(errno));
                break;
        case CONSOLE_SOCKET:
                if (passed_fd >= 0) {           /* bound by whoever started us: not ours to remove */
                        c->listen_fd = TAKE_FD(passed_fd);
                        r = fd_set_nonblock(c->listen_fd, true);
                        if (r >= 0 && listen(c->listen_fd, 4) < 0)
                                r = -errno;
                        if (r >= 0)
                                r = sd_event_add_io(c->event, &c->listen_source, c->listen_fd, EPOLLIN,
                                                    console_on_connect, c);
                        break;
                }
                r = console_setup_socket(c, cfg->console_path, err);
                break;
        case CONSOLE_NONE:
                break;
        }
        safe_close(passed_fd);          /* not the kind of console that takes one */
        if (r < 0) {
                vmwp_console_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

void vmwp_console_free(struct vmwp_console *c)
{
        if (!c)
                return;
        c->in_source = sd_event_source_disable_unref(c->in_source);
        c->listen_source = sd_event_source_disable_unref(c->listen_source);
        if (c->tty_raw)
                tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tty);
        if (c->type == CONSOLE_FILE || c->type == CONSOLE_SOCKET)
                safe_close(c->out_fd);
        safe_close(c->listen_fd);
        if (c->socket_path)
                (void)unlink(c->socket_path);
        free(c->socket_path);
        sd_event_unref(c->event);
        pthread_mutex_destroy(&c->lock);
        free(c);
}
