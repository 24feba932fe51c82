#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration services (vmms-ic(7)) against real KVM: vmwp with its control socket boots the
bundled guest kernel, whose default scenario serves heartbeat, shutdown, time sync, KVP and
file copy; the checks are what an operator sees through the ic.* methods and the console.

Usage: ic-test.py CASE   (environment: VMWP, GUEST_KERNEL)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import TIME_SCALE, vmwp_cmd, Fail, Skip, check, host_has_hw_virt, run_script_case  # noqa: E402

VMWP = os.environ.get("VMWP", "build/src/vmwp/vmwp")


class RpcError(Exception):
    def __init__(self, err):
        super().__init__(err.get("message"))
        self.code = err.get("code")
        self.message = err.get("message", "")
        self.data = err.get("data")


class Control:
    """A JSON-RPC client on vmwp's control socket that keeps the notifications it sees."""

    def __init__(self, path, timeout=30):
        deadline = time.time() + 10
        while not os.path.exists(path):
            if time.time() > deadline:
                raise Fail(f"control socket {path} never appeared")
            time.sleep(0.01)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.settimeout(timeout)
        self.buf = b""
        self.next_id = 1
        self.events = []

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Fail("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, _fds=(), **params):
        rid = self.next_id
        self.next_id += 1
        data = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n"
        if _fds:        # the file itself, not its path: a caged worker opens nothing
            socket.send_fds(self.s, [data], list(_fds))
        else:
            self.s.sendall(data)
        while True:
            msg = self._read()
            if "method" in msg and "id" not in msg:
                self.events.append(msg)
                continue
            if msg.get("id") == rid:
                if "error" in msg:
                    raise RpcError(msg["error"])
                return msg["result"]

    def wait_event(self, method, pred=lambda p: True, timeout=20):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method and pred(e.get("params") or {}):
                    return self.events.pop(i)
            if time.time() > deadline:
                raise Fail(f"no {method} event within {timeout}s (seen: {self.events})")
            self.s.settimeout(max(0.05, deadline - time.time()))
            try:
                msg = self._read()
            except socket.timeout:
                continue
            finally:
                self.s.settimeout(30)
            if "method" in msg and "id" not in msg:
                self.events.append(msg)


class VM:
    """vmwp in the background; the console goes to a file the test reads."""

    def __init__(self, d, name, cmdline="", memory="128", extra=()):
        self.ctl_path = os.path.join(d, f"{name}.sock")
        self.console = os.path.join(d, f"{name}.log")
        args = vmwp_cmd() + ["--memory", memory, "--name", name, "--control", self.ctl_path,
                "--console", f"file:{self.console}"] + list(extra)
        if cmdline:
            args += ["--cmdline", cmdline]
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ctl = Control(self.ctl_path)

    def out(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_console(self, needle, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.out():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise Fail(f"'{needle}' not on the console within {timeout}s:\n{self.out()}")

    def wait_services(self, n=5, timeout=30):
        def ready():
            st = self.ctl.call("ic.status")
            return sum(1 for s in st["services"].values() if s["state"] == "connected") >= n
        deadline = time.time() + timeout
        while not ready():
            if time.time() > deadline:
                raise Fail(f"services not connected: {self.ctl.call('ic.status')}\n{self.out()}")
            time.sleep(0.05)

    def wait_exit(self, timeout=20):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Fail(f"vmwp did not exit within {timeout}s:\n{self.out()}")
        return self.p.returncode, self.p.stderr.read().decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


# --- cases ----------------------------------------------------------------------------

def case_heartbeat(d):
    """OK while the guest answers, Lost (with an event) once it is paused, OK after resume;
    the resume also sends the guest the time."""
    vm = VM(d, "hb")
    try:
        vm.wait_services()
        check(vm.ctl.call("ic.status")["heartbeat"] == "OK", "heartbeat not OK after connect")
        check(vm.ctl.call("vm.info")["heartbeat"] == "OK", "vm.info does not show the heartbeat")
        vm.ctl.events.clear()
        vm.ctl.call("vm.pause")
        t0 = time.time()
        ev = vm.ctl.wait_event("ic.heartbeat_changed", lambda p: p["heartbeat"] == "Lost", timeout=15)
        lost_after = time.time() - t0
        check(ev["params"]["previous"] == "OK", f"event {ev}")
        check(lost_after >= 4.0, f"heartbeat lost after only {lost_after:.1f}s (3 intervals of 2s expected)")
        check(vm.ctl.call("ic.status")["heartbeat"] == "Lost", "status not Lost while paused")
        vm.ctl.call("vm.resume")
        vm.ctl.wait_event("ic.heartbeat_changed", lambda p: p["heartbeat"] == "OK", timeout=10)
        st = vm.ctl.call("ic.status")
        check(st["time"]["synced"], f"no time sync: {st['time']}")
        vm.ctl.call("vm.power_button")
        rc, err = vm.wait_exit()
        check(rc == 0, f"exit {rc}: {err}")
    finally:
        vm.kill()


def case_shutdown(d):
    """ic.shutdown: the guest acknowledges and powers itself off (not a turn-off)."""
    vm = VM(d, "sd")
    try:
        vm.wait_services()
        r = vm.ctl.call("ic.shutdown", reason="maintenance")
        check(r.get("acknowledged") is True, f"reply {r}")
        rc, err = vm.wait_exit()
        check(rc == 0, f"exit {rc}: {err}")
        check("guest powered off" in err, f"not a guest power-off:\n{err}")
        check("ic_shutdown action=poweroff" in vm.out(), f"guest did not report the request:\n{vm.out()}")
    finally:
        vm.kill()


def case_ignore_shutdown(d):
    """A guest that ignores shutdown: the request times out, the power button is ignored
    too, only a turn-off ends it."""
    vm = VM(d, "hung", cmdline="scenario=ic ic_ignore_shutdown=1")
    try:
        vm.wait_services()
        t0 = time.time()
        try:
            vm.ctl.call("ic.shutdown", reason="please")
            raise Fail("a hung guest acknowledged the shutdown")
        except RpcError as e:
            check(e.code == -32006, f"error {e.code} {e.message}")
        check(time.time() - t0 >= 4.0, "shutdown failed too early")
        vm.ctl.call("vm.power_button")
        time.sleep(1)
        check(vm.p.poll() is None, "the hung guest obeyed the power button")
        check("ignored=1" in vm.out(), f"guest did not see the button:\n{vm.out()}")
        vm.ctl.call("vm.turn_off")
        rc, err = vm.wait_exit()
        check(rc == 0 and "turned off" in err, f"exit {rc}: {err}")
    finally:
        vm.kill()


def case_kvp(d):
    """Guest to host: what the guest reports; host to guest: a key the guest can give back."""
    vm = VM(d, "kvp", cmdline="scenario=ic hostname=web01 ip=192.0.2.7")
    try:
        vm.wait_services()
        items = {}
        deadline = time.time() + 10
        while "FullyQualifiedDomainName" not in items and time.time() < deadline:
            items = vm.ctl.call("ic.kvp.get")["items"]
            time.sleep(0.05)
        check(items.get("OSName") == "vmguest", f"guest pool {items}")
        check(items.get("FullyQualifiedDomainName") == "web01", f"guest pool {items}")
        check(items.get("NetworkAddressIPv4") == "192.0.2.7", f"guest pool {items}")
        check(vm.ctl.call("ic.kvp.get", key="OSName")["value"] == "vmguest", "single key")
        vm.ctl.call("ic.kvp.set", key="Owner", value="team ünïcode \"quoted\"")
        r = vm.ctl.call("ic.kvp.get", key="Owner", pool="host", guest=True)
        check(r["value"] == "team ünïcode \"quoted\"" and r["from_guest"], f"round trip: {r}")
        check("ic_kvp key=Owner" in vm.out(), "guest did not report the key")
        for bad in ({"key": "has space", "value": "x"}, {"key": "k", "value": "v" * 2049}):
            try:
                vm.ctl.call("ic.kvp.set", **bad)
                raise Fail(f"accepted {bad['key']}")
            except RpcError as e:
                check(e.code == -32602, f"{e.code} {e.message}")
        vm.ctl.call("ic.kvp.delete", key="Owner")
        try:
            vm.ctl.call("ic.kvp.get", key="Owner", pool="host", guest=True)
            raise Fail("the guest still has a deleted key")
        except RpcError as e:
            check(e.code == -32001, f"{e.code} {e.message}")
        vm.ctl.call("ic.shutdown")
        vm.wait_exit()
    finally:
        vm.kill()


def case_fcopy(d):
    """A 10 MiB file copied in, checked in the guest; a path the guest refuses; no overwrite."""
    vm = VM(d, "fc", memory="256")
    try:
        src = os.path.join(d, "data.bin")
        data = random.Random(6).randbytes(10 << 20)
        with open(src, "wb") as f:
            f.write(data)
        crc = zlib.crc32(data)
        src_fd = os.open(src, os.O_RDONLY)
        vm.wait_services()
        t0 = time.time()
        r = vm.ctl.call("ic.fcopy", _fds=(src_fd,), fd=True, guest_path="/srv/data.bin")
        took = time.time() - t0
        check(r["size"] == len(data) and r["crc32"] == crc, f"copy reply {r}, crc {crc:#x}")
        st = vm.ctl.call("ic.fcopy.stat", guest_path="/srv/data.bin")
        check(st["size"] == len(data) and st["crc32"] == crc, f"stat in the guest {st}")
        check(f"crc32={crc:08x}" in vm.out(), f"guest report:\n{vm.out()}")
        print(f"10 MiB copied in {took:.2f}s")
        try:
            vm.ctl.call("ic.fcopy", _fds=(src_fd,), fd=True, guest_path="/proc/evil")
            raise Fail("the guest accepted /proc")
        except RpcError as e:
            check("access refused" in e.message and "read-only" in e.message, e.message)
            check(e.data and e.data.get("ic_error") == 7, f"data {e.data}")
        try:
            vm.ctl.call("ic.fcopy", _fds=(src_fd,), fd=True, guest_path="/srv/data.bin", overwrite=False)
            raise Fail("overwrote without overwrite")
        except RpcError as e:
            check("exists" in e.message, e.message)
        try:
            vm.ctl.call("ic.fcopy.stat", guest_path="/srv/none")
            raise Fail("stat of a missing file")
        except RpcError as e:
            check(e.code == -32001, f"{e.code} {e.message}")
        vm.ctl.call("ic.shutdown")
        vm.wait_exit()
    finally:
        vm.kill()


def case_disabled(d):
    """Services switched off in the configuration have no port and answer 'off'."""
    cfg = os.path.join(d, "vm.json")
    with open(cfg, "w") as f:
        json.dump({"memory": "128M", "integration": {"kvp": False, "fcopy": False}}, f)
    vm = VM(d, "off", extra=["--config", cfg])
    try:
        vm.wait_services(n=3)
        st = vm.ctl.call("ic.status")
        check(st["services"]["kvp"]["state"] == "disabled" and st["services"]["fcopy"]["state"] == "disabled",
              f"{st['services']}")
        vm.wait_console("ic_ports=3")
        try:
            vm.ctl.call("ic.kvp.set", key="a", value="b")
            raise Fail("kvp set while kvp is off")
        except RpcError as e:
            check(e.code == -32008, f"{e.code} {e.message}")
        vm.ctl.call("ic.shutdown")
        vm.wait_exit()
    finally:
        vm.kill()


def case_hostile(d):
    """A guest that floods garbage, an endless line and huge values degrades its own
    services only: its worker lives, another VM's services stay healthy meanwhile."""
    good = VM(d, "good")
    bad = VM(d, "bad", cmdline="scenario=ic-hostile")
    try:
        good.wait_services()
        stop = threading.Event()
        errors = []

        def watch():
            n = 0
            while not stop.is_set():
                try:
                    n += 1
                    good.ctl.call("ic.kvp.set", key="probe", value=str(n))
                    r = good.ctl.call("ic.kvp.get", key="probe", pool="host", guest=True)
                    if r["value"] != str(n):
                        errors.append(f"round trip {n}: {r}")
                    if good.ctl.call("ic.status")["heartbeat"] != "OK":
                        errors.append("heartbeat of the good VM not OK")
                except Exception as e:      # noqa: BLE001 - any failure is the finding
                    errors.append(repr(e))
                time.sleep(0.1)

        t = threading.Thread(target=watch)
        t.start()
        try:
            bad.wait_console("ic_hostile=done", timeout=60)
        finally:
            stop.set()
            t.join()
        check(not errors, f"the good VM was disturbed: {errors[:5]}")
        st = bad.ctl.call("ic.status")
        svcs = st["services"]
        degraded = [k for k, v in svcs.items() if v["state"] == "degraded"]
        check(len(degraded) >= 3, f"services not degraded: { {k: v['state'] for k, v in svcs.items()} }")
        check(svcs["kvp"]["violations"] >= 20 and "kvp value too large" in svcs["kvp"].get("last_violation", "")
              or svcs["kvp"]["state"] == "degraded", f"kvp {svcs['kvp']}")
        # The 2 MiB line was cut at the limit (whether the guest was also throttled depends on
        # how fast it wrote; the unit tests check the budgets).
        check(svcs["timesync"].get("last_violation") == "line too long", f"timesync: {svcs['timesync']}")
        print("throttled:", {k: v["throttled"] for k, v in svcs.items()})
        check(bad.ctl.call("vm.info")["state"] == "running", "the hostile VM's worker is not running")
        check(bad.p.poll() is None, "the hostile VM's worker died")
        bad.ctl.call("vm.turn_off")
        rc, err = bad.wait_exit()
        check(rc == 0, f"hostile worker exit {rc}: {err}")
        good.ctl.call("ic.shutdown")
        rc, err = good.wait_exit()
        check(rc == 0, f"good worker exit {rc}: {err}")
    finally:
        good.kill()
        bad.kill()


CASES = {
    "heartbeat": case_heartbeat,
    "shutdown": case_shutdown,
    "ignore-shutdown": case_ignore_shutdown,
    "kvp": case_kvp,
    "fcopy": case_fcopy,
    "disabled": case_disabled,
    "hostile": case_hostile,
}


def case_linux(d):
    """vmic in a real Linux guest (the Debian cloud kernel, its virtio modules and a busybox
    initramfs from guest/linux/mkinitramfs): every service connects, the guest's KVP pool
    says what it runs, a host key reaches it, and the shutdown service powers it off."""
    ok, why = host_has_hw_virt()
    if not ok:
        raise Skip(f"a Linux guest needs hardware virtualisation: {why}")
    src = os.environ.get("SOURCE_ROOT", ".")
    linux = os.path.join(src, ".cache/linux/vmlinuz")
    modules = os.path.join(src, ".cache/linux/modules")
    vmic = os.environ.get("VMIC", "build/guest/linux/vmic")
    for path, what in ((linux, "the test kernel"), (os.path.join(modules, "order"), "its modules"),
                       (vmic, "vmic")):
        check(os.path.exists(path), f"{path} missing ({what}): scripts/setup and the build make it")
    scale = TIME_SCALE
    initrd = os.path.join(d, "initrd.cpio")
    p = subprocess.run([os.path.join(src, "guest/linux/mkinitramfs"), "--vmic", vmic, "--modules", modules, initrd],
                       capture_output=True, text=True, timeout=60 * scale)
    check(p.returncode == 0, f"mkinitramfs: {p.stderr}")
    vm = VM(d, "lx", memory="512", cmdline="console=ttyS0 panic=-1",
            extra=["--kernel", linux, "--initrd", initrd, "--no-reboot"])
    try:
        vm.wait_services(timeout=120 * scale)
        items = {}
        deadline = time.time() + 30 * scale
        while "FullyQualifiedDomainName" not in items and time.time() < deadline:
            items = vm.ctl.call("ic.kvp.get")["items"]
            time.sleep(0.2)
        check(items.get("FullyQualifiedDomainName") == "vmguest-linux", f"guest pool {items}\n{vm.out()[-2000:]}")
        check("busybox" in items.get("OSName", "") or "vmms" in items.get("OSName", ""), f"guest pool {items}")
        vm.ctl.call("ic.kvp.set", key="Owner", value="linux-guest-test")
        deadline = time.time() + 10 * scale
        while True:
            try:
                r = vm.ctl.call("ic.kvp.get", key="Owner", pool="host", guest=True)
                break
            except RpcError as e:
                if time.time() > deadline:
                    raise Fail(f"the Linux guest never had the host's key: {e.message}") from None
                time.sleep(0.2)
        check(r["value"] == "linux-guest-test" and r["from_guest"], f"round trip: {r}")
        check(vm.ctl.call("ic.status")["heartbeat"] == "OK", "no heartbeat from vmic")
        vm.ctl.call("ic.shutdown")
        rc, err = vm.wait_exit(timeout=60 * scale)
        check(rc == 0, f"exit {rc}: {err}\n{vm.out()[-2000:]}")
        check("reboot: Power down" in vm.out(), f"not powered off by Linux:\n{vm.out()[-2000:]}")
    finally:
        vm.kill()


CASES["linux"] = case_linux


def in_tempdir(fn):
    """The cases take a scratch directory."""
    def run():
        with tempfile.TemporaryDirectory() as d:
            fn(d)
    return run


if __name__ == "__main__":
    sys.exit(run_script_case({k: in_tempdir(f) for k, f in CASES.items()}))
