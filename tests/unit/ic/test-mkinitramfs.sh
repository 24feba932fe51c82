#!/bin/sh
# SPDX-License-Identifier: MIT
# guest/linux/mkinitramfs builds a busybox initramfs that starts vmic from busybox init.
set -eu
mk=$1 vmic=$2
command -v busybox >/dev/null || { echo "busybox not installed: skipped"; exit 77; }
command -v cpio >/dev/null || { echo "cpio not installed: skipped"; exit 77; }
file -L "$(command -v busybox)" 2>/dev/null | grep -q "statically linked" || { echo "busybox is not static: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$mk" --vmic "$vmic" --add /etc/hostname:/etc/extra "$dir/initrd.gz" >/dev/null
gzip -dc "$dir/initrd.gz" | (cd "$dir" && mkdir root && cd root && cpio -id --quiet)
for f in init bin/busybox bin/sh bin/poweroff sbin/vmic etc/inittab etc/init.d/rcS etc/os-release etc/extra; do
        [ -e "$dir/root/$f" ] || [ -L "$dir/root/$f" ] || { echo "FAIL: /$f missing"; exit 1; }
done
grep -q "respawn:/sbin/vmic" "$dir/root/etc/inittab" || { echo "FAIL: inittab does not start vmic"; exit 1; }
"$dir/root/sbin/vmic" --version | grep -q "^vmic " || { echo "FAIL: vmic does not run"; exit 1; }
# Usage errors are reported, not ignored.
if "$mk" 2>/dev/null; then echo "FAIL: no output accepted"; exit 1; fi
echo PASS
