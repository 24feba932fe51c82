/* SPDX-License-Identifier: MIT */
/* Split virtqueue parsing against crafted rings, including every hostile case. */
#include "check-main.h"
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/gmem.h"
#include "vmms/iov.h"
#include "vmms/virtqueue.h"

#define MEM_SIZE   (1u << 20)
#define QSIZE      8u
#define DESC_GPA   0x1000u
#define AVAIL_GPA  0x2000u
#define USED_GPA   0x3000u
#define INDIR_GPA  0x8000u
#define DATA_GPA   0x10000u
#define FEAT_ALL   (VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | \
                    VIRTIO_BIT(VIRTIO_F_VERSION_1))

static uint8_t *buf;
static struct gmem *mem;
static struct virtq vq;
static struct iovec iov[16];
static struct virtq_elem el;

static void setup_features(uint64_t features)
{
        buf = aligned_alloc(4096, MEM_SIZE);
        ck_assert_ptr_nonnull(buf);
        memset(buf, 0, MEM_SIZE);
        ck_assert_int_eq(gmem_new_buffer(buf, MEM_SIZE, &mem), 0);
        ck_assert_int_eq(virtq_init(&vq, mem, 0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA, features), 0);
}

static void setup(void) { setup_features(FEAT_ALL); }

static void teardown(void)
{
        gmem_free(mem);
        free(buf);
}

static void set_desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                        uint16_t next)
{
        struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

        memcpy(buf + table + 16u * i, &d, sizeof(d));
}

static void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
        set_desc_at(DESC_GPA, i, addr, len, flags, next);
}

static uint16_t *avail_u16(unsigned off) { return (uint16_t *)(buf + AVAIL_GPA + off); }
static uint16_t *used_u16(unsigned off) { return (uint16_t *)(buf + USED_GPA + off); }

static void avail_add(uint16_t head)
{
        uint16_t idx = *avail_u16(2);

        *avail_u16(4 + 2u * (idx % QSIZE)) = head;
        *avail_u16(2) = (uint16_t)(idx + 1);
}

static void expect_broken(int expected)
{
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), expected);
        ck_assert(vq.broken);
        ck_assert_ptr_nonnull(vq.error);
        /* A broken queue stays broken. */
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), -EIO);
}

START_TEST(test_simple_chain)
{
        set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 3);
        set_desc(3, DATA_GPA + 0x1000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
        set_desc(5, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
        avail_add(0);

        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert_int_eq(el.head, 0);
        ck_assert_int_eq(el.n_out, 1);
        ck_assert_int_eq(el.n_in, 2);
        ck_assert_uint_eq(el.out_len, 16);
        ck_assert_uint_eq(el.in_len, 513);
        ck_assert_ptr_eq(iov[0].iov_base, buf + DATA_GPA);
        ck_assert_ptr_eq(iov[1].iov_base, buf + DATA_GPA + 0x1000);
        ck_assert_ptr_eq(iov[2].iov_base, buf + DATA_GPA + 0x2000);
        ck_assert_uint_eq(iov[2].iov_len, 1);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 0);
        ck_assert(!vq.broken);
}
END_TEST

START_TEST(test_zero_length_skipped)
{
        set_desc(0, 0xdeadbeef000ull, 0, VIRTQ_DESC_F_NEXT, 1);
        set_desc(1, DATA_GPA, 8, 0, 0);
        avail_add(0);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert_int_eq(el.n_out, 1);
        ck_assert_int_eq(el.n_in, 0);
        ck_assert_ptr_eq(iov[0].iov_base, buf + DATA_GPA);
}
END_TEST

START_TEST(test_push_flush)
{
        struct virtq_used_elem *ue = (struct virtq_used_elem *)(buf + USED_GPA + 4);

        for (unsigned k = 0; k < 3; k++) {
                set_desc((uint16_t)k, DATA_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
                avail_add((uint16_t)k);
        }
        for (unsigned k = 0; k < 3; k++)
                ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        virtq_push(&vq, 2, 100);
        virtq_push(&vq, 0, 7);
        ck_assert_int_eq(*used_u16(2), 0);      /* nothing visible before the flush */
        virtq_flush(&vq);
        ck_assert_int_eq(*used_u16(2), 2);
        ck_assert_uint_eq(ue[0].id, 2);
        ck_assert_uint_eq(ue[0].len, 100);
        ck_assert_uint_eq(ue[1].id, 0);
        ck_assert_uint_eq(ue[1].len, 7);
}
END_TEST

START_TEST(test_index_wrap)
{
        vq.last_avail = vq.avail_idx = 65534;
        vq.used_idx = 65534;
        *avail_u16(2) = 65534;
        for (unsigned k = 0; k < 4; k++) {
                set_desc((uint16_t)k, DATA_GPA, 4, 0, 0);
                avail_add((uint16_t)k);
        }
        ck_assert_int_eq(*avail_u16(2), 2);
        for (unsigned k = 0; k < 4; k++) {
                ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
                ck_assert_int_eq(el.head, k);
                virtq_push(&vq, el.head, 0);
        }
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 0);
        virtq_flush(&vq);
        ck_assert_int_eq(*used_u16(2), 2);
}
END_TEST

START_TEST(test_indirect)
{
        set_desc_at(INDIR_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
        set_desc_at(INDIR_GPA, 2, DATA_GPA + 0x100, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
        set_desc_at(INDIR_GPA, 1, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
        set_desc(4, INDIR_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
        avail_add(4);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert_int_eq(el.head, 4);
        ck_assert_int_eq(el.n_out, 1);
        ck_assert_int_eq(el.n_in, 2);
        ck_assert_uint_eq(el.in_len, 4097);
        ck_assert_ptr_eq(iov[1].iov_base, buf + DATA_GPA + 0x100);
}
END_TEST

START_TEST(test_direct_then_indirect)
{
        set_desc_at(INDIR_GPA, 0, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
        set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        set_desc(1, INDIR_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert_int_eq(el.n_out, 1);
        ck_assert_int_eq(el.n_in, 1);
}
END_TEST

START_TEST(test_indirect_not_negotiated)
{
        teardown();
        setup_features(VIRTIO_BIT(VIRTIO_F_VERSION_1));
        set_desc_at(INDIR_GPA, 0, DATA_GPA, 16, 0, 0);
        set_desc(0, INDIR_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_indirect_nested)
{
        set_desc_at(INDIR_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        set_desc_at(INDIR_GPA, 1, INDIR_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
        set_desc_at(INDIR_GPA + 0x100, 0, DATA_GPA, 16, 0, 0);
        set_desc(0, INDIR_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_indirect_with_next)
{
        set_desc_at(INDIR_GPA, 0, DATA_GPA, 16, 0, 0);
        set_desc(0, INDIR_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
        set_desc(1, DATA_GPA, 16, 0, 0);
        avail_add(0);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_indirect_bad_len)
{
        static const uint32_t lens[] = { 0, 8, 17, 16 * (QSIZE + 1), 0xfffffff0u };

        set_desc(0, INDIR_GPA, lens[_i], VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_indirect_outside_ram)
{
        set_desc(0, MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        expect_broken(-EFAULT);
}
END_TEST

START_TEST(test_indirect_loop)
{
        set_desc_at(INDIR_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        set_desc_at(INDIR_GPA, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
        set_desc(0, INDIR_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        expect_broken(-ELOOP);
}
END_TEST

START_TEST(test_indirect_next_out_of_table)
{
        set_desc_at(INDIR_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);      /* table has 2 */
        set_desc_at(INDIR_GPA, 1, DATA_GPA, 16, 0, 0);
        set_desc(0, INDIR_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
        avail_add(0);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_addr_outside_ram)
{
        static const struct { uint64_t addr; uint32_t len; } cases[] = {
                { MEM_SIZE, 1 },                        /* just past RAM */
                { MEM_SIZE - 4, 8 },                    /* straddles the end */
                { UINT64_MAX - 7, 16 },                 /* wraps around */
                { 0xb0000000ull, 4096 },                /* the ECAM window */
                { 0x100000000ull, 1 },                  /* no high RAM in this VM */
                { 0, 0xffffffffu },                     /* longer than RAM */
        };

        set_desc(0, cases[_i].addr, cases[_i].len, 0, 0);
        avail_add(0);
        expect_broken(-EFAULT);
}
END_TEST

START_TEST(test_loop)
{
        set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        set_desc(1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
        avail_add(0);
        expect_broken(-ELOOP);
}
END_TEST

START_TEST(test_self_loop)
{
        set_desc(2, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
        avail_add(2);
        expect_broken(-ELOOP);
}
END_TEST

START_TEST(test_chain_of_whole_queue)
{
        /* A chain through all QSIZE descriptors is legal; it cannot be longer w/o a loop. */
        for (unsigned k = 0; k < QSIZE; k++)
                set_desc((uint16_t)k, DATA_GPA + 16 * k, 16,
                         k + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(k + 1));
        avail_add(0);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert_int_eq(el.n_out, QSIZE);
}
END_TEST

START_TEST(test_next_out_of_range)
{
        set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, QSIZE);
        avail_add(0);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_head_out_of_range)
{
        avail_add(QSIZE + 3);
        expect_broken(-EINVAL);
}
END_TEST

START_TEST(test_avail_jump)
{
        set_desc(0, DATA_GPA, 16, 0, 0);
        *avail_u16(2) = QSIZE + 1;
        expect_broken(-EOVERFLOW);
}
END_TEST

START_TEST(test_avail_full_ring_ok)
{
        for (unsigned k = 0; k < QSIZE; k++) {
                set_desc((uint16_t)k, DATA_GPA, 16, 0, 0);
                avail_add((uint16_t)k);
        }
        for (unsigned k = 0; k < QSIZE; k++)
                ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 0);
}
END_TEST

START_TEST(test_avail_backwards)
{
        /* The index moving backwards looks like a jump of almost 2^16. */
        vq.last_avail = vq.avail_idx = 10;
        *avail_u16(2) = 9;
        expect_broken(-EOVERFLOW);
}
END_TEST

START_TEST(test_readable_after_writable)
{
        set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
        set_desc(1, DATA_GPA, 16, 0, 0);
        avail_add(0);
        expect_broken(-EBADMSG);
}
END_TEST

START_TEST(test_too_many_segments)
{
        for (unsigned k = 0; k < 4; k++)
                set_desc((uint16_t)k, DATA_GPA, 16, k < 3 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(k + 1));
        avail_add(0);
        ck_assert_int_eq(virtq_pop(&vq, iov, 3, &el), -E2BIG);
        ck_assert(vq.broken);
}
END_TEST

START_TEST(test_init_validation)
{
        struct virtq q;

        ck_assert_int_eq(virtq_init(&q, mem, 0, 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 12, DESC_GPA, AVAIL_GPA, USED_GPA, 0), -EINVAL);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0), -EINVAL);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0), -EINVAL);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0), -EINVAL);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, MEM_SIZE - 64, AVAIL_GPA, USED_GPA, 0), -EFAULT);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, DESC_GPA, MEM_SIZE - 4, USED_GPA, 0), -EFAULT);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, 0), -EFAULT);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 32768, MEM_SIZE - 0x40000, AVAIL_GPA, USED_GPA, 0), -EFAULT);
        ck_assert_int_eq(virtq_init(&q, mem, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA, 0), 0);
}
END_TEST

START_TEST(test_event_idx_interrupts)
{
        for (unsigned k = 0; k < 4; k++) {
                set_desc((uint16_t)k, DATA_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
                avail_add((uint16_t)k);
        }
        /* First completion always interrupts (nothing signalled yet). */
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        virtq_push(&vq, el.head, 16);
        virtq_flush(&vq);
        ck_assert(virtq_need_interrupt(&vq));
        /* used_event = 2: the driver wants an interrupt once entry 2 is used. */
        *avail_u16(VIRTQ_USED_EVENT_OFF(QSIZE)) = 2;
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        virtq_push(&vq, el.head, 16);
        virtq_flush(&vq);                         /* used idx 2: entry 1 used */
        ck_assert(!virtq_need_interrupt(&vq));
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        virtq_push(&vq, el.head, 16);
        virtq_flush(&vq);                         /* used idx 3: entry 2 used */
        ck_assert(virtq_need_interrupt(&vq));
        /* AVAIL_F_NO_INTERRUPT is ignored with EVENT_IDX. */
        *avail_u16(0) = VIRTQ_AVAIL_F_NO_INTERRUPT;
        *avail_u16(VIRTQ_USED_EVENT_OFF(QSIZE)) = 3;
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        virtq_push(&vq, el.head, 16);
        virtq_flush(&vq);
        ck_assert(virtq_need_interrupt(&vq));
}
END_TEST

START_TEST(test_flags_interrupts)
{
        teardown();
        setup_features(VIRTIO_BIT(VIRTIO_F_VERSION_1));
        set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
        avail_add(0);
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        virtq_push(&vq, el.head, 16);
        virtq_flush(&vq);
        ck_assert(virtq_need_interrupt(&vq));
        *avail_u16(0) = VIRTQ_AVAIL_F_NO_INTERRUPT;
        ck_assert(!virtq_need_interrupt(&vq));
}
END_TEST

START_TEST(test_notify_suppression_event_idx)
{
        set_desc(0, DATA_GPA, 16, 0, 0);
        virtq_disable_notify(&vq);
        ck_assert_int_eq(*used_u16(0), 0);        /* flags untouched with EVENT_IDX */
        ck_assert(!virtq_enable_notify(&vq));
        ck_assert_int_eq(*used_u16(VIRTQ_AVAIL_EVENT_OFF(QSIZE)), 0);
        avail_add(0);
        ck_assert(virtq_enable_notify(&vq));       /* arrived meanwhile: go again */
        ck_assert_int_eq(virtq_pop(&vq, iov, 16, &el), 1);
        ck_assert(!virtq_enable_notify(&vq));
        ck_assert_int_eq(*used_u16(VIRTQ_AVAIL_EVENT_OFF(QSIZE)), 1);
}
END_TEST

START_TEST(test_notify_suppression_flags)
{
        teardown();
        setup_features(VIRTIO_BIT(VIRTIO_F_VERSION_1));
        virtq_disable_notify(&vq);
        ck_assert_int_eq(*used_u16(0), VIRTQ_USED_F_NO_NOTIFY);
        ck_assert(!virtq_enable_notify(&vq));
        ck_assert_int_eq(*used_u16(0), 0);
}
END_TEST

START_TEST(test_iov_helpers)
{
        uint8_t a[3] = { 1, 2, 3 }, b[5] = { 4, 5, 6, 7, 8 }, out[8];
        struct iovec v[2] = { { a, 3 }, { b, 5 } }, s[2];

        ck_assert_uint_eq(iov_size(v, 2), 8);
        ck_assert_uint_eq(iov_to_buf(v, 2, 2, out, 4), 4);
        ck_assert_int_eq(out[0], 3);
        ck_assert_int_eq(out[3], 6);
        ck_assert_uint_eq(iov_to_buf(v, 2, 6, out, 8), 2);
        ck_assert_int_eq(iov_slice(v, 2, 1, 6, s, 2), 2);
        ck_assert_ptr_eq(s[0].iov_base, a + 1);
        ck_assert_uint_eq(s[1].iov_len, 4);
        ck_assert_int_eq(iov_slice(v, 2, 1, 6, s, 1), -E2BIG);
        ck_assert_int_eq(iov_slice(v, 2, 1, 8, s, 2), -ERANGE);
        ck_assert_uint_eq(iov_memset(v, 2, 7, 0, 4), 1);
        ck_assert_int_eq(b[4], 0);
        ck_assert_uint_eq(iov_from_buf(v, 2, 0, "xyzw", 4), 4);
        ck_assert_int_eq(b[0], 'w');
}
END_TEST

static Suite *virtqueue_suite(void)
{
        Suite *s = suite_create("virtqueue");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_simple_chain);
        tcase_add_test(tc, test_zero_length_skipped);
        tcase_add_test(tc, test_push_flush);
        tcase_add_test(tc, test_index_wrap);
        tcase_add_test(tc, test_indirect);
        tcase_add_test(tc, test_direct_then_indirect);
        tcase_add_test(tc, test_chain_of_whole_queue);
        tcase_add_test(tc, test_avail_full_ring_ok);
        tcase_add_test(tc, test_init_validation);
        tcase_add_test(tc, test_event_idx_interrupts);
        tcase_add_test(tc, test_flags_interrupts);
        tcase_add_test(tc, test_notify_suppression_event_idx);
        tcase_add_test(tc, test_notify_suppression_flags);
        tcase_add_test(tc, test_iov_helpers);
        suite_add_tcase(s, tc);

        tc = tcase_create("hostile");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_indirect_not_negotiated);
        tcase_add_test(tc, test_indirect_nested);
        tcase_add_test(tc, test_indirect_with_next);
        tcase_add_loop_test(tc, test_indirect_bad_len, 0, 5);
        tcase_add_test(tc, test_indirect_outside_ram);
        tcase_add_test(tc, test_indirect_loop);
        tcase_add_test(tc, test_indirect_next_out_of_table);
        tcase_add_loop_test(tc, test_addr_outside_ram, 0, 6);
        tcase_add_test(tc, test_loop);
        tcase_add_test(tc, test_self_loop);
        tcase_add_test(tc, test_next_out_of_range);
        tcase_add_test(tc, test_head_out_of_range);
        tcase_add_test(tc, test_avail_jump);
        tcase_add_test(tc, test_avail_backwards);
        tcase_add_test(tc, test_readable_after_writable);
        tcase_add_test(tc, test_too_many_segments);
        suite_add_tcase(s, tc);
        return s;
}

CHECK_SUITE_MAIN(virtqueue_suite)
