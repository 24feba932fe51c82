/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: arbitrary bytes as a qcow2 image file, opened read-write by the storage
 * VSP's format layer (header, L1/refcount walks, the metadata cache at its smallest), then
 * read, written, zeroed, discarded and flushed at offsets the input's last bytes choose,
 * and closed (which writes the metadata back). Whatever the image says, nothing may crash,
 * hang or touch memory it does not own; reads and writes stay inside the file (a memfd).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmms/config_error.h"
#include "vmms/disk.h"
#include "vmms/macro.h"
#include "uring.h"

#define MAX_FILE (4u << 20)

struct waiter {
        int res;
        int done;
};

static void on_done(void *ctx, struct vsp_io *io, int res)
{
        struct waiter *w = ctx;

        (void)io;
        w->res = res;
        w->done = 1;
}

static void wait_io(struct vsp_uring *u, int r)
{
        struct waiter w = { 0, 0 };

        if (r < 0)
                return;
        while (!w.done)
                if (vsp_uring_wait(u, on_done, &w) < 0)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t buf[3 * 65536];
        struct config_error err = { { 0 } };
        struct vsp_image *img = NULL;
        struct vsp_uring *u = NULL;
        struct disk_config c;
        uint64_t vsize, seed = 0;
        int fd;

        if (size > MAX_FILE)
                return 0;
        fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
        if (fd < 0 || write(fd, data, size) != (ssize_t)size)
                abort();
        disk_config_init(&c);
        c.fd = fd;
        c.format = DISK_FORMAT_QCOW2;
        c.metadata_cache = 1;           /* the smallest cache: evictions all the time */
        if (vsp_image_open(&c, &img, &err) < 0)
                goto out;
        if (vsp_uring_new(img, 8, &u) < 0)
                abort();
        vsize = vsp_image_size(img);
        for (size_t i = 0; i < 8 && i < size; i++)
                seed = seed << 8 | data[size - 1 - i];
        for (unsigned op = 0; op < 12 && vsize >= 512; op++) {
                uint64_t off = ((seed >> (op * 5)) % (vsize / 512)) * 512;
                uint64_t len = MIN((uint64_t)(((seed >> (op * 3)) & 0x17f) + 1) * 512, (uint64_t)sizeof(buf));
                struct iovec v = { buf, 0 };
                struct vsp_io io;

                len = MIN(len, vsize - off);
                v.iov_len = len;
                switch (op % 6) {
                case 0: case 3:
                        wait_io(u, vsp_uring_read(u, &io, &v, 1, op == 0 ? 0 : off));
                        break;
                case 1: case 4:
                        memset(buf, (int)op, len);
                        wait_io(u, vsp_uring_write(u, &io, &v, 1, off));
                        break;
                case 2:
                        wait_io(u, vsp_uring_write_zeroes(u, &io, off, len, op & 1));
                        break;
                default:
                        wait_io(u, op & 1 ? vsp_uring_discard(u, &io, off, len) : vsp_uring_flush(u, &io));
                        break;
                }
        }
out:
        vsp_uring_free(u);
        vsp_image_free(img);
        close(fd);
        return 0;
}
