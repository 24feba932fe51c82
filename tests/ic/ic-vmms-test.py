#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration services through vmms and vmctl, as a user sees them: the heartbeat in
vmctl show and in events, vmctl stop through the shutdown service (and --force for a guest
that ignores it), vmctl kvp both ways, vmctl copy-to with the checksum the guest computed.
Reuses the private-vmms fixture of tests/integration/vmms-test.py.

Usage: ic-vmms-test.py CASE   (environment: VMMS, VMCTL, VMWP)
Exit 0 pass, 1 fail, 77 skip."""

import importlib.util
import os
import random
import re
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("vmms_test", os.path.join(HERE, "../integration/vmms-test.py"))
vt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vt)
check, Fail, Skip = vt.check, vt.Fail, vt.Skip


def boot(v, name="demo", *extra):
    vt.need_kvm()
    v.start()
    rc, out, err = v.vmctl("create", name, "--memory", "128M", *extra)
    check(rc == 0, f"create: {rc} {out} {err}")
    rc, out, err = v.vmctl("start", name)
    check(rc == 0 and "Running" in out, f"start: {rc} {out} {err}")
    c = v.client()
    v.track(c.call("vm.get", {"name": name}))
    vt.wait_for(lambda: c.call("vm.get", {"name": name}).get("heartbeat") == "OK", 20, "the heartbeat to be OK")
    return c


def case_heartbeat(v):
    c = boot(v)
    rc, out, err = v.vmctl("show", "demo")
    check(rc == 0 and re.search(r"^Heartbeat:\s+OK$", out, re.M), f"show: {out} {err}")
    c.call("events.subscribe")
    c.call("vm.pause", {"name": "demo"})
    deadline = time.time() + 15
    ev = None
    while time.time() < deadline:
        e = c.next_event(timeout=15)
        if e["method"] == "vm.heartbeat_changed" and e["params"]["heartbeat"] == "Lost":
            ev = e
            break
    check(ev and ev["params"]["name"] == "demo" and ev["params"]["previous"] == "OK", f"no Lost event: {ev}")
    check(c.call("vm.get", {"name": "demo"})["heartbeat"] == "Lost", "vm.get not Lost")
    check("Heartbeat lost" in v.logtext(), f"vmms did not log the lost heartbeat:\n{v.logtext()}")
    c.call("vm.resume", {"name": "demo"})
    vt.wait_for(lambda: c.call("vm.get", {"name": "demo"}).get("heartbeat") == "OK", 10, "OK after resume")
    rc, out, err = v.vmctl("stop", "demo")
    check(rc == 0, f"stop: {rc} {out} {err}")
    check("heartbeat" not in c.call("vm.get", {"name": "demo"}), "a heartbeat without a worker")
    c.close()


def case_stop(v):
    """vmctl stop goes through the shutdown service: the guest powers itself off."""
    c = boot(v)
    t0 = time.time()
    rc, out, err = v.vmctl("stop", "demo")
    check(rc == 0 and "Off" in out and "powered off" in out, f"stop: {rc} {out} {err}")
    check(time.time() - t0 < 5, "graceful stop took too long")
    # The log, not the console: a console may lose its last bytes when the VM ends.
    log = v.logtext()
    check("accepted the shutdown request" in log and "Power button pressed" not in log, f"vmms log:\n{log}")
    check("guest powered off" in log, f"the guest did not power itself off:\n{log}")
    c.close()


def case_stop_hung(v):
    """A guest that ignores the shutdown service (and the button): the stop times out, with
    --force it is turned off after --timeout."""
    c = boot(v, "hung", "--cmdline", "scenario=ic ic_ignore_shutdown=1")
    rc, out, err = v.vmctl("stop", "hung", "--timeout", "2")
    check(rc == 1 and "did not shut down within 2 s" in err, f"stop without force: {rc} {out} {err}")
    check(c.call("vm.get", {"name": "hung"})["state"] == "Running", "not Running after a failed stop")
    t0 = time.time()
    rc, out, err = v.vmctl("stop", "hung", "--timeout", "7", "--force")
    took = time.time() - t0
    check(rc == 0 and "Off" in out, f"forced stop: {rc} {out} {err}")
    check(took >= 6.5, f"turned off after {took:.1f}s, before the timeout")
    check(c.call("vm.get", {"name": "hung"}).get("reason") == "turned off", f"{c.call('vm.get', {'name': 'hung'})}")
    c.close()


def case_kvp(v):
    c = boot(v, "demo", "--cmdline", "scenario=ic hostname=web01")
    vt.wait_for(lambda: v.vmctl("kvp", "demo", "get", "FullyQualifiedDomainName")[1].strip() == "web01", 10,
                "the guest's host name")
    rc, out, err = v.vmctl("kvp", "demo")
    check(rc == 0 and re.search(r"OSName = vmguest", out), f"kvp: {out} {err}")
    rc, out, err = v.vmctl("kvp", "demo", "set", "Owner", "ops team")
    check(rc == 0, f"kvp set: {rc} {err}")
    rc, out, err = v.vmctl("kvp", "demo", "get", "Owner", "--host", "--from-guest")
    check(rc == 0 and out.strip() == "ops team", f"host to guest round trip: {rc} {out!r} {err}")
    rc, out, err = v.vmctl("kvp", "demo", "get", "NoSuchKey")
    check(rc == 1 and "No key 'NoSuchKey'" in err, f"missing key: {rc} {err}")
    rc, out, err = v.vmctl("kvp", "demo", "set", "bad key", "x")
    check(rc == 1 and "A-Za-z0-9" in err, f"bad key: {rc} {err}")
    rc, out, err = v.vmctl("kvp", "demo", "delete", "Owner")
    check(rc == 0, f"delete: {rc} {err}")
    v.vmctl("stop", "demo")
    rc, out, err = v.vmctl("kvp", "demo")
    check(rc == 1 and "is Off" in err, f"kvp while Off: {rc} {err}")
    c.close()


def case_copy_to(v):
    c = boot(v)
    data = random.Random(10).randbytes(10 << 20)
    src = os.path.join(v.dir, "payload.bin")
    with open(src, "wb") as f:
        f.write(data)
    os.chmod(src, 0o600)
    crc = zlib.crc32(data)
    con = vt.console_fd(c, "demo")
    rc, out, err = v.vmctl("copy-to", "demo", src, "/data/payload.bin")
    check(rc == 0 and f"CRC-32 {crc:08x}" in out and "10485760 bytes" in out, f"copy-to: {rc} {out} {err}")
    text = vt.console_read(con, r"ic_fcopy path=/data/payload.bin")
    check(re.search(rf"ic_fcopy path=/data/payload.bin size=10485760 crc32={crc:08x}", text),
          f"the guest's own checksum differs:\n{text}")
    rc, out, err = v.vmctl("copy-to", "demo", src, "/sys/evil")
    check(rc == 1 and "read-only" in err, f"refused path: {rc} {out} {err}")
    rc, out, err = v.vmctl("copy-to", "demo", src, "/data/payload.bin", "--no-overwrite")
    check(rc == 1 and "exists" in err, f"no overwrite: {rc} {err}")
    rc, out, err = v.vmctl("copy-to", "demo", "/nonexistent", "/data/x")
    check(rc == 1 and "No such file" in err, f"missing host file: {rc} {err}")
    os.close(con)
    v.vmctl("stop", "demo")
    c.close()


CASES = {
    "heartbeat": case_heartbeat,
    "stop": case_stop,
    "stop-hung": case_stop_hung,
    "kvp": case_kvp,
    "copy-to": case_copy_to,
}


def main():
    return vt.main(CASES)


if __name__ == "__main__":
    sys.exit(main())
