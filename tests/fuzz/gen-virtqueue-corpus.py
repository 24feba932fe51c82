#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz-virtqueue: a few well-formed virtio-blk requests and a
few hostile rings, in the harness's input format (struct fuzz_hdr + guest memory)."""
import os
import struct
import sys

DESC, AVAIL, USED, HDR, INDIR, DATA = 0x100, 0x200, 0x300, 0x400, 0x500, 0x600
NEXT, WRITE, INDIRECT = 1, 2, 4


def image(reqs, flags=3 | 8, qlog=3, capacity=1024, indirect_table=None):
    mem = bytearray(0x800)
    heads = []
    for i, (chain, htype, sector, extra) in enumerate(reqs):
        struct.pack_into('<IIQ', mem, HDR + 0x40 * i, htype, 0, sector)
        if extra:
            mem[HDR + 0x40 * i + 0x20:HDR + 0x40 * i + 0x20 + len(extra)] = extra
        for idx, (addr, ln, fl, nxt) in chain:
            struct.pack_into('<QIHH', mem, DESC + 16 * idx, addr, ln, fl, nxt)
        heads.append(chain[0][0])
    if indirect_table:
        for idx, (addr, ln, fl, nxt) in enumerate(indirect_table):
            struct.pack_into('<QIHH', mem, INDIR + 16 * idx, addr, ln, fl, nxt)
    struct.pack_into('<HH', mem, AVAIL, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into('<H', mem, AVAIL + 4 + 2 * i, h)
    hdr = struct.pack('<BBHHHHHI', qlog, flags, 0, 0, DESC // 16, AVAIL // 2, USED // 4, capacity)
    return hdr + bytes(mem).rstrip(b'\0')


def rw(i, head, htype, sector, writable):
    h = HDR + 0x40 * i
    return ([(head, (h, 16, NEXT, head + 1)),
             (head + 1, (DATA, 512, NEXT | (WRITE if writable else 0), head + 2)),
             (head + 2, (h + 16, 1, WRITE, 0))], htype, sector, None)


seeds = {
    'read': image([rw(0, 0, 0, 3, True)]),
    'write': image([rw(0, 0, 1, 7, False)]),
    'flush-unknown': image([([(0, (HDR, 16, NEXT, 1)), (1, (HDR + 16, 1, WRITE, 0))], 4, 0, None),
                            ([(3, (HDR + 0x40, 16, NEXT, 4)), (4, (HDR + 0x50, 1, WRITE, 0))], 99, 0, None)]),
    'discard': image([([(0, (HDR, 16, NEXT, 1)), (1, (HDR + 0x20, 16, NEXT, 2)),
                        (2, (HDR + 0x10, 1, WRITE, 0))], 11, 0, struct.pack('<QII', 8, 8, 0))]),
    'indirect-get-id': image([([(5, (INDIR, 48, INDIRECT, 0))], 8, 0, None)],
                             indirect_table=[(HDR, 16, NEXT, 1), (DATA, 20, NEXT | WRITE, 2),
                                             (HDR + 16, 1, WRITE, 0)]),
    'loop': image([([(0, (HDR, 16, NEXT, 1)), (1, (DATA, 16, NEXT, 0))], 0, 0, None)]),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'virtqueue')
os.makedirs(out, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(blob)
