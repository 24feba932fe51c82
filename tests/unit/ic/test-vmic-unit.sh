#!/bin/sh
# SPDX-License-Identifier: MIT
# guest/linux/vmic.service passes systemd-analyze verify (with ExecStart pointing at the
# vmic just built; PID 1 need not be systemd for this).
set -eu
unit=$1 vmic=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/sbin/vmic|ExecStart=$vmic|" "$unit" > "$dir/vmic.service"
grep -q "^ExecStart=$vmic" "$dir/vmic.service" || { echo "FAIL: no ExecStart=/usr/sbin/vmic in the unit"; exit 1; }
out=$(systemd-analyze verify --man=no "$dir/vmic.service" 2>&1) || { echo "FAIL: $out"; exit 1; }
[ -z "$out" ] || { echo "FAIL: warnings: $out"; exit 1; }
echo PASS
