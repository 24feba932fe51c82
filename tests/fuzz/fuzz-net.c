/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for what the network VSP reads from untrusted sources: a transmitted
 * packet's vnet header against negotiated features (guest), a received header (TAP), the
 * control queue's MAC tables (guest), and the --nic syntax. The first byte picks the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/nic.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t mac[6] = { 0x02, 0x56, 0, 0, 0, 1 };

        if (size < 1)
                return 0;
        switch (*data++ % 3) {
        case 0: {
                struct virtio_net_hdr h, out;
                uint64_t features;
                uint32_t frame_len;
                uint16_t mtu;

                if (--size < sizeof(features) + sizeof(mtu) + sizeof(frame_len) + sizeof(h))
                        return 0;
                memcpy(&features, data, sizeof(features));
                memcpy(&mtu, data + 8, sizeof(mtu));
                memcpy(&frame_len, data + 10, sizeof(frame_len));
                memcpy(&h, data + 14, sizeof(h));
                if (vsp_net_tx_check(&h, features, frame_len, mtu, &out) == VSP_NET_TX_OK) {
                        /* what goes to the TAP: only NEEDS_CSUM, offsets inside the frame */
                        if (out.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM || out.num_buffers)
                                abort();
                        if ((out.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
                            (uint64_t)out.csum_start + out.csum_offset + 2 > frame_len)
                                abort();
                }
                (void)vsp_net_check_features(features);
                (void)vsp_net_tun_offloads(features);
                if (vsp_net_rx_fixup(&h, features) == 0 && !(features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)) && h.flags)
                        abort();
                break;
        }
        case 1: {
                struct vsp_net_filter f;

                vsp_net_filter_reset(&f, mac, true);
                f.promisc = false;
                if (vsp_net_filter_set_tables(&f, data, size - 1) == 0) {
                        if (f.n_uni > VSP_NET_MAC_TABLE || f.n_multi > VSP_NET_MAC_TABLE)
                                abort();
                        for (size_t i = 0; i + 6 <= size - 1 && i < 64; i += 6)
                                (void)vsp_net_filter_accept(&f, data + i);
                }
                break;
        }
        default: {
                char *s = malloc(size);
                struct nic_config c;
                char err[256];

                if (!s)
                        return 0;
                memcpy(s, data, size - 1);
                s[size - 1] = 0;
                if (nic_config_parse(s, err, sizeof(err), &c) == 0) {
                        if (nic_config_validate(&c, err, sizeof(err)) < 0 || c.queues < 1 || c.queues > NIC_QUEUES_MAX)
                                abort();
                        nic_config_done(&c);
                }
                free(s);
                break;
        }
        }
        return 0;
}
