/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/memfd.h>

#include <abi/platform.h>

#include "vmms/cleanup.h"
#include "vmms/gmem.h"
#include "vmms/macro.h"

static void gmem_layout(struct gmem *m)
{
        uint64_t low = MIN(m->size, (uint64_t)PLATFORM_LOW_RAM_END);

        m->n_regions = 0;
        m->regions[m->n_regions++] = (struct gmem_region) {
                .gpa = 0, .size = low, .hva = m->base, .offset = 0,
        };
        if (m->size > low)
                m->regions[m->n_regions++] = (struct gmem_region) {
                        .gpa = PLATFORM_HIGH_RAM_BASE, .size = m->size - low,
                        .hva = m->base + low, .offset = low,
                };
}

int gmem_new(uint64_t size, bool hugepages, struct gmem **ret)
{
        struct gmem *m;
        uint64_t align = hugepages ? 2 * MIB : 4 * KIB;
        int fd;
        void *p;

        if (size == 0 || !IS_ALIGNED(size, align))
                return -EINVAL;
        fd = memfd_create("vmms-guest-ram", MFD_CLOEXEC | (hugepages ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t)size) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        /*
         * Huge pages are reserved at mmap time (no MAP_NORESERVE), so a shortage is an
         * error now rather than a SIGBUS when the guest first touches the page.
         */
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (hugepages ? 0 : MAP_NORESERVE), fd, 0);
        if (p == MAP_FAILED) {
                int r = -errno;
                close(fd);
                return r;
        }
        /* Guest RAM is useless in a core dump and may be large. */
        (void)madvise(p, size, MADV_DONTDUMP);
        m = calloc(1, sizeof(*m));
        if (!m) {
                munmap(p, size);
                close(fd);
                return -ENOMEM;
        }
        m->fd = fd;
        m->owned = true;
        m->hugepages = hugepages;
        m->base = p;
        m->size = size;
        gmem_layout(m);
        *ret = m;
        return 0;
}

int gmem_new_buffer(void *buf, uint64_t size, struct gmem **ret)
{
        struct gmem *m;

        if (size == 0 || size > PLATFORM_LOW_RAM_END)
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->fd = -1;
        m->base = buf;
        m->size = size;
        gmem_layout(m);
        *ret = m;
        return 0;
}

void gmem_free(struct gmem *m)
{
        if (!m)
                return;
        if (m->owned) {
                munmap(m->base, m->size);
                safe_close(m->fd);
        }
        free(m);
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *buf, uint64_t len)
{
        const void *p = gmem_translate(m, gpa, len);

        if (!p)
                return -EFAULT;
        memcpy(buf, p, len);
        return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *buf, uint64_t len)
{
        void *p = gmem_translate(m, gpa, len);

        if (!p)
                return -EFAULT;
        memcpy(p, buf, len);
        return 0;
}
