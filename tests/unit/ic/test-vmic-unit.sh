#!/bin/sh
# SPDX-License-Identifier: MIT
# guest/linux/vmic.service passes systemd-analyze verify (with ExecStart pointing at the
# vmic just built; PID 1 need not be systemd for this), and leaves writable every place an
# administrator copies files to with `vmctl copy-to` (ProtectHome=read-only once made
# "vmctl copy-to VM f /root/f" fail with "Read-only file system" in a Debian guest).
set -eu
unit=$1 vmic=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/sbin/vmic|ExecStart=$vmic|" "$unit" > "$dir/vmic.service"
grep -q "^ExecStart=$vmic" "$dir/vmic.service" || { echo "FAIL: no ExecStart=/usr/sbin/vmic in the unit"; exit 1; }
out=$(systemd-analyze verify --man=no "$dir/vmic.service" 2>&1) || { echo "FAIL: $out"; exit 1; }
[ -z "$out" ] || { echo "FAIL: warnings: $out"; exit 1; }
for bad in '^ProtectHome=\(yes\|read-only\|tmpfs\)' '^ProtectSystem=\(full\|strict\)' '^ReadOnlyPaths=' \
           '^InaccessiblePaths=' '^TemporaryFileSystem='; do
        if grep -q "$bad" "$unit"; then
                echo "FAIL: $(grep "$bad" "$unit") keeps vmctl copy-to from paths like /root, /home, /etc"
                exit 1
        fi
done
echo PASS
