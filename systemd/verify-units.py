#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the systemd units and snippets with systemd's own tools (skip, 77, where missing).

Usage: verify-units.py SERVICE SOCKET SYSUSERS TMPFILES VMMS_BINARY
The service's ExecStart names the installed binary; the copy checked here names the build
tree's, since systemd-analyze wants an executable there."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

service, socket_unit, sysusers, tmpfiles, binary = sys.argv[1:6]

for tool in ("systemd-analyze", "systemd-sysusers", "systemd-tmpfiles"):
    if not shutil.which(tool):
        print(f"SKIP: {tool} is not installed")
        sys.exit(77)

failed = False


def check(cmd, what):
    global failed
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    if p.returncode != 0 or out:
        print(f"FAIL: {what}: exit {p.returncode}\n{out}")
        failed = True
    else:
        print(f"ok: {what}")


with tempfile.TemporaryDirectory() as d:
    text = open(service).read()
    for key in ("Type=notify", "KillMode=process", "WatchdogSec=", "RuntimeDirectoryPreserve=yes"):
        if key not in text:
            print(f"FAIL: vmms.service lacks {key}")
            failed = True
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={binary}", text, flags=re.M)
    open(os.path.join(d, "vmms.service"), "w").write(text)
    shutil.copy(socket_unit, os.path.join(d, "vmms.socket"))
    check(["systemd-analyze", "verify", "--man=no", "--generators=no",
           os.path.join(d, "vmms.service"), os.path.join(d, "vmms.socket")], "systemd-analyze verify")
    root = os.path.join(d, "root")
    os.mkdir(root)
    p = subprocess.run(["systemd-sysusers", "--dry-run", "--root=" + root, os.path.abspath(sysusers)],
                       capture_output=True, text=True)
    if p.returncode != 0 or "vmms" not in p.stdout + p.stderr:
        print(f"FAIL: systemd-sysusers --dry-run: exit {p.returncode}\n{p.stdout}{p.stderr}")
        failed = True
    else:
        print("ok: sysusers")
    check(["systemd-tmpfiles", "--create", "--root=" + root, os.path.abspath(tmpfiles)], "tmpfiles")
    for path in ("run/vmms", "var/lib/vmms"):
        if not os.path.isdir(os.path.join(root, path)):
            print(f"FAIL: tmpfiles did not create /{path}")
            failed = True

sys.exit(1 if failed else 0)
