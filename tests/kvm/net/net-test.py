#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The network VSP end to end: the bundled guest kernel (scenarios net-echo, net-ping,
net-hostile) on vmwp with TAPs in a network namespace the test makes, pings and UDP from that
namespace with every byte checked, bridges and virtual switches.

Usage: net-test.py CASE   (environment: VMWP, GUEST_KERNEL, SWITCH_TOOL)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout). Namespaces, TAPs, bridges and
switches the test makes are removed whatever happens."""

import contextlib
import ctypes
import fcntl
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lib"))
from vmmstest import vmwp_cmd, Control, Fail, Skip, check, run_script_case, wait_for  # noqa: E402

VMWP = os.environ.get("VMWP", "build/src/vmwp/vmwp")
GUEST = os.environ.get("GUEST_KERNEL", "build/guest/kernel/vmguest.elf")
SWITCH_TOOL = os.environ.get("SWITCH_TOOL", "build/tests/kvm/net/switch-tool")

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
HOST_IP, GUEST_IP = "10.123.0.1", "10.123.0.2"
TAG = f"{os.getpid() % 100000}"


def sh(*args, check_rc=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise Fail(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class Netns:
    """A network namespace of the test's own; enter() moves this process into it."""

    def __init__(self, name):
        self.name = name
        p = sh("ip", "netns", "add", name, check_rc=False)
        if p.returncode != 0:
            raise Skip(f"cannot make a network namespace: {p.stderr.strip()}")
        self.made = True
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def run(self, *args, check_rc=True):
        return sh("ip", "netns", "exec", self.name, *args, check_rc=check_rc)

    def enter(self):
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise Fail(f"setns: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(fd)

    def leave(self):
        ctypes.CDLL(None, use_errno=True).setns(self.home, CLONE_NEWNET)

    def delete(self):
        self.leave()
        sh("ip", "netns", "del", self.name, check_rc=False)


class Vm:
    """vmwp in the background; its console lines are collected as they come."""

    def __init__(self, args, cmdline, pass_fds=()):
        self.p = subprocess.Popen(vmwp_cmd() + ["--memory", "128", "--kernel", GUEST, "--cmdline", cmdline] + args,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds)
        self.lines, self.err = [], []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True).start()

    def _read(self, f, into):
        for raw in f:
            with self.cv:
                into.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()

    def wait_line(self, pattern, timeout=30):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for line in self.lines:
                    m = re.search(pattern, line)
                    if m:
                        return m
                left = deadline - time.time()
                if left <= 0 or self.p.poll() is not None and not self.cv.wait(0.2):
                    raise Fail(f"no line /{pattern}/ from the guest (exit {self.p.poll()}):\n" + self.output())
                self.cv.wait(min(left, 0.5))

    def output(self):
        return "\n".join(self.lines) + "\n--- stderr ---\n" + "\n".join(self.err)

    def finish(self, timeout=30):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise Fail("vmwp did not exit:\n" + self.output())
        time.sleep(0.1)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def result(self):
        for line in reversed(self.lines):
            m = re.match(r"#VMMS result scenario=(\S+) status=(\S+)", line)
            if m:
                return m.group(2)
        return None


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff


def ping(dst, count=5, size=56, timeout=1.0):
    """ICMP echo from this process's namespace; returns how many came back intact."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(timeout)
    ident, ok = os.getpid() & 0xffff, 0
    for seq in range(count):
        payload = bytes(random.randrange(256) for _ in range(size))
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload, (dst, 0))
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                d, _ = s.recvfrom(4096)
            except socket.timeout:
                break
            ihl = (d[0] & 15) * 4
            t, _, _, i, sq = struct.unpack("!BBHHH", d[ihl:ihl + 8])
            if t == 0 and i == ident and sq == seq:
                if d[ihl + 8:] == payload and csum(d[ihl:]) == 0:
                    ok += 1
                break
    s.close()
    return ok


def udp_echo(dst, sizes, timeout=2.0):
    """Each datagram to dst:7 must come back byte for byte."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    for n in sizes:
        data = os.urandom(n)
        s.sendto(data, (dst, 7))
        try:
            back, src = s.recvfrom(65536)
        except socket.timeout:
            raise Fail(f"UDP echo of {n} bytes: nothing came back")
        check(src == (dst, 7), f"UDP echo from {src}")
        check(back == data, f"UDP echo of {n} bytes: {len(back)} bytes back, content differs")
    s.close()


class NumberedEcho:
    """Numbered datagrams of random size to the guest's UDP echo; each must come back once, intact."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sent = {}

    def send(self, i):
        self.sent[i] = struct.pack("!I", i) + os.urandom(random.randrange(0, 1400))
        self.s.sendto(self.sent[i], (GUEST_IP, 7))

    def receive(self, n, what, timeout=5):
        self.s.settimeout(timeout)
        for k in range(n):
            try:
                back = self.s.recv(65536)
            except socket.timeout:
                raise Fail(f"{what}: {n - k} datagrams did not come back")
            i = struct.unpack("!I", back[:4])[0]
            check(self.sent.pop(i, None) == back, f"{what}: datagram {i} came back wrong or twice")


def quit_echo(vm, dst):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"quit", (dst, 7))
    s.close()
    rc = vm.finish()
    check(rc == 0 and vm.result() == "pass", f"net-echo did not end well (exit {rc}):\n{vm.output()}")


def guest_info(vm, key):
    m = vm.wait_line(rf"#VMMS info net nic=.* {key}=(\S+)")
    return m.group(1)


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    return fd


class Env:
    """A namespace with a TAP (host side HOST_IP/24) the test process lives in."""

    def __init__(self, tap_opts=()):
        self.ns = Netns(f"vmmsnet{TAG}")
        self.tap = "vmtap0"
        self.ns.run("ip", "link", "set", "lo", "up")
        if tap_opts is not None:
            self.ns.run("ip", "tuntap", "add", "mode", "tap", "name", self.tap, *tap_opts)
            self.ns.run("ip", "addr", "add", f"{HOST_IP}/24", "dev", self.tap)
            self.ns.run("ip", "link", "set", self.tap, "up")
        self.ns.enter()

    def close(self):
        self.ns.delete()


def echo_vm(nic, extra=(), cmdline=f"scenario=net-echo ip={GUEST_IP}/24"):
    vm = Vm(["--nic", nic] + list(extra), cmdline)
    vm.wait_line(r"#VMMS info net-echo listening")
    return vm


# --- cases ---------------------------------------------------------------------------

def case_ping_udp():
    env = Env()
    vm = None
    try:
        vm = echo_vm(f"tap={env.tap}")
        # Transmit batches through io_uring, also in the cage (else one writev() per frame).
        time.sleep(0.2)
        check(not any("no io_uring for transmit" in x for x in vm.err), f"the worker has no io_uring: {vm.err}")
        check(guest_info(vm, "link") == "up", "link not up")
        check(ping(GUEST_IP, 5) == 5, "not every ICMP echo came back intact")
        udp_echo(GUEST_IP, [1, 18, 64, 512, 1024, 1400, 1472])
        quit_echo(vm, GUEST_IP)
        out = "\n".join(vm.lines)
        check("name=net_icmp_echoed value=5 " in out, f"guest counted other echoes:\n{out}")
        check("name=net_udp_echoed value=7 " in out, f"guest counted other datagrams:\n{out}")
    finally:
        if vm:
            vm.kill()
        env.close()


def case_udp_burst():
    """Windows of 32 datagrams in flight, 640 in all, numbered: every one back, intact."""
    env = Env()
    vm = None
    try:
        vm = echo_vm(f"tap={env.tap}")
        e = NumberedEcho()
        for w in range(20):
            for k in range(32):
                e.send(w * 32 + k)
            e.receive(32, f"window {w}", timeout=3)
        check(not e.sent, f"{len(e.sent)} datagrams lost")
        quit_echo(vm, GUEST_IP)
    finally:
        if vm:
            vm.kill()
        env.close()


def case_tap_fd():
    """vmms opens TAPs and passes fds: --nic fd=N."""
    env = Env(tap_opts=None)
    vm = None
    try:
        fd = open_tap("vmtapfd")
        env.ns.run("ip", "addr", "add", f"{HOST_IP}/24", "dev", "vmtapfd")
        env.ns.run("ip", "link", "set", "vmtapfd", "up")
        vm = Vm(["--nic", f"fd={fd}"], f"scenario=net-echo ip={GUEST_IP}/24", pass_fds=(fd,))
        os.close(fd)
        vm.wait_line(r"#VMMS info net-echo listening")
        check(ping(GUEST_IP, 3) == 3, "no ICMP echo through the passed fd")
        udp_echo(GUEST_IP, [100, 1472])
        quit_echo(vm, GUEST_IP)
    finally:
        if vm:
            vm.kill()
        env.close()


def case_config_file():
    env = Env()
    vm = None
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"name": "nettest", "nics": [{"tap": env.tap, "mac": "02:12:34:56:78:9a"}]}, f)
            path = f.name
        vm = Vm(["--config", path], f"scenario=net-echo ip={GUEST_IP}/24")
        vm.wait_line(r"#VMMS info net-echo listening")
        check(guest_info(vm, "mac") == "02:12:34:56:78:9a", "the configured MAC did not reach the guest")
        udp_echo(GUEST_IP, [300])
        quit_echo(vm, GUEST_IP)
        os.unlink(path)
    finally:
        if vm:
            vm.kill()
        env.close()


def case_mac():
    env = Env()
    vm = None
    try:
        vm = echo_vm(f"tap={env.tap},mac=02:aa:bb:cc:dd:ee")
        check(guest_info(vm, "mac") == "02:aa:bb:cc:dd:ee", "MAC not in the guest")
        check(ping(GUEST_IP, 1) == 1, "no echo")
        neigh = sh("ip", "neigh", "show", GUEST_IP).stdout
        check("02:aa:bb:cc:dd:ee" in neigh, f"the host learned another MAC: {neigh}")
        quit_echo(vm, GUEST_IP)
        # Without mac=, a stable address derived from the VM's name.
        macs = []
        for _ in range(2):
            vm = echo_vm(f"tap={env.tap}", ["--name", "same-name"])
            macs.append(guest_info(vm, "mac"))
            quit_echo(vm, GUEST_IP)
        check(macs[0] == macs[1] and macs[0].startswith("02:"), f"derived MACs {macs}")
    finally:
        if vm:
            vm.kill()
        env.close()


def case_bridge():
    """bridge=BR: the TAP becomes a port of a Linux bridge that carries the host address."""
    env = Env(tap_opts=None)
    vm = None
    try:
        env.ns.run("ip", "link", "add", "br-test", "type", "bridge")
        env.ns.run("ip", "addr", "add", f"{HOST_IP}/24", "dev", "br-test")
        env.ns.run("ip", "link", "set", "br-test", "up")
        vm = echo_vm("tap=vmtapbr,bridge=br-test")
        link = sh("ip", "-o", "link", "show", "dev", "vmtapbr").stdout
        check("master br-test" in link and "UP" in link, f"TAP not an up port of the bridge: {link}")
        check(ping(GUEST_IP, 3) == 3, "no echo across the bridge")
        udp_echo(GUEST_IP, [1000])
        quit_echo(vm, GUEST_IP)
    finally:
        if vm:
            vm.kill()
        env.close()


def switch_tool(*args, check_rc=True):
    return sh(SWITCH_TOOL, *args, check_rc=check_rc)


def case_private_switch():
    """Two VMs on one private switch reach each other, and the host reaches neither."""
    if not os.access(SWITCH_TOOL, os.X_OK):
        raise Skip(f"{SWITCH_TOOL} not built")
    name = f"priv{TAG}"
    env = Env(tap_opts=None)       # "the host" is the test's namespace; the VMs start there
    switch_tool("create", name, "private")
    a = b = None
    try:
        check(switch_tool("type", name).stdout.strip() == "private", "switch type")
        a = Vm(["--nic", f"switch={name}"], "scenario=net-echo ip=10.124.0.2/24")
        a.wait_line(r"#VMMS info net-echo listening")
        b = Vm(["--nic", f"switch={name}"], "scenario=net-ping peer=10.124.0.2 count=5 udp=1 ip=10.124.0.3/24")
        rc = b.finish(60)
        check(rc == 0 and b.result() == "pass", f"VM to VM over the private switch failed:\n{b.output()}")
        check("name=net_udp_echoes value=5 " in "\n".join(b.lines), "UDP echoes between the VMs")
        # The host: no TAP, no bridge of the switch in its namespace ...
        links = sh("ip", "-o", "link").stdout
        check(f"vms-{name}" not in links, f"the switch's bridge is in the host namespace:\n{links}")
        check("master vms-" not in links, f"a host interface is a port of a switch:\n{links}")
        # ... and with an address of its own on the guests' subnet, still no way in.
        sh("ip", "link", "add", "vmhost0", "type", "veth", "peer", "name", "vmhost1")
        sh("ip", "addr", "add", "10.124.0.1/24", "dev", "vmhost0")
        sh("ip", "link", "set", "vmhost0", "up")
        sh("ip", "link", "set", "vmhost1", "up")
        check(ping("10.124.0.2", 2, timeout=0.5) == 0, "the host reached a guest on the private switch")
        # Nothing reaches the echo VM but its peer: it stops as the host stops it.
        a.p.terminate()
        check(a.finish() == 0, f"the echo VM did not stop cleanly:\n{a.output()}")
    finally:
        for vm in (a, b):
            if vm:
                vm.kill()
        switch_tool("delete", name, check_rc=False)
        env.close()


def case_internal_switch():
    """An internal switch: the host has an address on it and reaches the guest."""
    if not os.access(SWITCH_TOOL, os.X_OK):
        raise Skip(f"{SWITCH_TOOL} not built")
    env = Env(tap_opts=None)       # the switch lives in the test's namespace
    name = f"int{TAG}"
    vm = None
    try:
        switch_tool("create", name, "internal", f"{HOST_IP}/24")
        check(switch_tool("type", name).stdout.strip() == "internal", "switch type")
        vm = echo_vm(f"switch={name}")
        check(ping(GUEST_IP, 3) == 3, "the host does not reach the guest on an internal switch")
        udp_echo(GUEST_IP, [777])
        quit_echo(vm, GUEST_IP)
        switch_tool("delete", name)
    finally:
        if vm:
            vm.kill()
        env.close()


@contextlib.contextmanager
def controlled_echo_vm():
    """A net-echo VM on a fresh TAP with vmwp's control socket, and a client on it."""
    env = Env()
    vm = None
    try:
        with tempfile.TemporaryDirectory() as d:
            ctl = os.path.join(d, "control.sock")
            vm = echo_vm(f"tap={env.tap}", ["--control", ctl])
            yield vm, Control(ctl)
    finally:
        if vm:
            vm.kill()
        env.close()


def case_power_button():
    """net-echo runs until the ACPI power button (vmwp's control socket), then passes."""
    with controlled_echo_vm() as (vm, ctl):
        check(ping(GUEST_IP, 2) == 2, "no echo")
        ctl.call("vm.power_button")
        rc = vm.finish()
        check(rc == 0 and vm.result() == "pass", f"net-echo did not pass on the power button (exit {rc}):\n"
              + vm.output())


def case_paused():
    """vm.pause rests the NIC with the vCPUs: datagrams sent meanwhile wait in the TAP and
    every one comes back after vm.resume; pause/resume in the middle of traffic loses none."""
    with controlled_echo_vm() as (vm, ctl):
        udp_echo(GUEST_IP, [64])
        e = NumberedEcho()
        ctl.call("vm.pause")
        for i in range(16):
            e.send(i)
        e.s.settimeout(0.5)
        try:
            back = e.s.recv(65536)
            raise Fail(f"a paused VM echoed {back[:8]!r}")
        except socket.timeout:
            pass
        ctl.call("vm.resume")
        e.receive(16, "sent while paused")
        for c in range(20):
            for k in range(8):
                e.send(100 + c * 8 + k)
            ctl.call("vm.pause")
            time.sleep(0.01)
            ctl.call("vm.resume")
            e.receive(8, f"pause {c}")
        check(not e.sent, f"{len(e.sent)} datagrams lost")
        quit_echo(vm, GUEST_IP)


def case_save():
    """vm.save in the middle of UDP traffic and vmwp --restore on the same TAP: the NIC goes
    on with the driver's rings, filter and offloads where they were, and the echo with it."""
    env = Env()
    vm = vm2 = None
    try:
        with tempfile.TemporaryDirectory() as d:
            ctl = os.path.join(d, "control.sock")
            vm = echo_vm(f"tap={env.tap}", ["--control", ctl])
            c = Control(ctl)
            udp_echo(GUEST_IP, [64, 1400])
            e = NumberedEcho()
            for i in range(16):
                e.send(i)
            e.receive(16, "before the save")
            state = os.path.join(d, "vm.state")
            with open(state, "wb") as s, open(state + ".mem", "w+b") as m:
                c.call("vm.save", _fds=(s.fileno(), m.fileno()))
            check(vm.finish() == 0, f"the saved worker failed:\n{vm.output()}")
            vm2 = Vm(["--restore", state], f"scenario=net-echo ip={GUEST_IP}/24")
            wait_for(lambda: any("Restored from the saved state" in x for x in vm2.err) or vm2.p.poll() is not None,
                     60, "the restore")
            check(vm2.p.poll() is None, f"the restore failed:\n{vm2.output()}")
            for c_ in range(10):
                for k in range(8):
                    e.send(100 + c_ * 8 + k)
                e.receive(8, f"after the restore, round {c_}")
            check(not e.sent, f"{len(e.sent)} datagrams lost")
            check(ping(GUEST_IP, 3) == 3, "no ICMP echo after the restore")
            quit_echo(vm2, GUEST_IP)
            check(not any("#VMMS info net-echo listening" in x for x in vm2.lines),
                  "the restored guest started over")
    finally:
        for v in (vm, vm2):
            if v:
                v.kill()
        env.close()


def tap_has_uso():
    """Whether this kernel's TAPs take UDP segmentation offload (TUN_F_USO4, Linux 6.2)."""
    import fcntl
    import struct
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"", 0x0002 | 0x1000 | 0x4000))  # TUNSETIFF: TAP, NO_PI, VNET_HDR
        fcntl.ioctl(fd, 0x400454d0, 0x01 | 0x20 | 0x40)     # TUNSETOFFLOAD: CSUM, USO4, USO6
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def case_uso():
    """UDP segmentation offload from the guest: one virtio packet of 64 datagrams becomes 64
    datagrams at the host's socket, each the right size and content."""
    env = Env()
    vm = None
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((HOST_IP, 9000))
        s.settimeout(5)
        vm = Vm(["--nic", f"tap={env.tap}"], f"scenario=net-bench ip={GUEST_IP}/24 peer={HOST_IP}:9000 dir=tx "
                f"size=100 duration_ms=200 net_poll=0 uso=1")
        m = vm.wait_line(r"segments_per_frame=(\d+) uso=(\d)")
        if tap_has_uso():
            check(m.group(1) == "64" and m.group(2) == "1", f"no USO: {m.group(0)}")
        else:   # Linux < 6.2: the device must not offer it; the guest sends datagram by datagram
            check(m.group(1) == "1" and m.group(2) == "0", f"USO offered on a TAP without it: {m.group(0)}")
        want, got, bad = bytes((k % 100) + 1 for k in range(100)), 0, 0
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            got += 1
            bad += d != want
            s.settimeout(1)
        rc = vm.finish()
        check(rc == 0 and vm.result() == "pass", f"net-bench failed (exit {rc}):\n{vm.output()}")
        check(got >= 64 and bad == 0, f"{got} datagrams, {bad} of them wrong")
    finally:
        if vm:
            vm.kill()
        env.close()


def case_hostile():
    env = Env()
    try:
        vm = Vm(["--nic", f"tap={env.tap}"], "scenario=net-hostile")
        rc = vm.finish(80)
        out = "\n".join(vm.lines)
        check(rc == 0 and vm.result() == "pass", f"net-hostile failed (exit {rc}):\n{vm.output()}")
        m = re.search(r"net-hostile cases=(\d+) pass=(\d+) fail=(\d+)", out)
        check(m and m.group(3) == "0" and int(m.group(2)) >= 14, f"hostile cases: {m and m.group(0)}")
        # The worker survived every case and shut down cleanly: no crash, no sanitizer report.
        check("ERROR: AddressSanitizer" not in "\n".join(vm.err), "sanitizer report")
    finally:
        env.close()


def case_bad_nic():
    if True:
        cases = [
            (["--nic", "tap=a,queues=99"], "queues"),
            (["--nic", "tap=a,mac=01:00:00:00:00:01"], "unicast"),
            (["--nic", "bogus=1"], "unknown NIC option 'bogus'"),
            (["--nic", "tap=a,fd=3"], "exclude"),
            (["--nic", f"switch=nosuch{TAG}"], f"nic 0: switch 'nosuch{TAG}' does not exist"),
            (["--nic", "fd=99"], "nic 0 (fd)"),
        ]
        for args, msg in cases:
            p = subprocess.run(vmwp_cmd() + ["--kernel", GUEST, "--cmdline", "scenario=hello"] + args,
                               capture_output=True, text=True, timeout=30)
            check(p.returncode == 2, f"{args}: exit {p.returncode}, expected 2 (configuration)\n{p.stderr}")
            check(msg in p.stderr, f"{args}: message does not mention '{msg}':\n{p.stderr}")


def case_multiqueue():
    """A multiqueue TAP with queues=2: the device offers two pairs, a one-pair driver works."""
    env = Env(tap_opts=("multi_queue", "vnet_hdr"))
    vm = None
    try:
        vm = echo_vm(f"tap={env.tap},queues=2")
        offered = int(guest_info(vm, "offered"), 16)
        check(offered & (1 << 22), "MQ not offered with queues=2")
        check(ping(GUEST_IP, 3) == 3, "no echo on a multiqueue TAP")
        udp_echo(GUEST_IP, [64, 1400])
        quit_echo(vm, GUEST_IP)
    finally:
        if vm:
            vm.kill()
        env.close()


def case_qemu_q35():
    """The guest's driver against QEMU's virtio-net-pci: the same scenario passes there."""
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Skip("qemu-system-x86_64 not installed")
    env = Env()
    p = None
    try:
        p = subprocess.Popen([qemu, "-M", "q35", "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "128",
                              "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot", "-kernel", GUEST,
                              "-append", f"scenario=net-echo ip={GUEST_IP}/24",
                              "-netdev", f"tap,id=n0,ifname={env.tap},script=no,downscript=no,vhost=off",
                              "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,romfile="],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        buf = b""
        deadline = time.time() + 60
        os.set_blocking(p.stdout.fileno(), False)
        while b"net-echo listening" not in buf:
            check(time.time() < deadline and p.poll() is None, f"QEMU guest did not come up:\n{buf.decode()}")
            try:
                buf += p.stdout.read() or b""
            except BlockingIOError:
                pass
            time.sleep(0.1)
        check(ping(GUEST_IP, 3) == 3, "no echo under QEMU")
        udp_echo(GUEST_IP, [64, 1472])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"quit", (GUEST_IP, 7))
        p.wait(30)
        buf += p.stdout.read() or b""
        check(b"#VMMS result scenario=net-echo status=pass" in buf, f"QEMU run:\n{buf.decode()}")
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        env.close()


def precheck(name):
    if not os.path.exists("/dev/kvm"):
        raise Skip("no /dev/kvm")
    if not os.path.exists("/dev/net/tun"):
        raise Skip("no /dev/net/tun")
    if os.geteuid() != 0:
        raise Skip("needs root (network namespaces, TAP devices)")
    if not shutil.which("ip"):
        raise Skip("iproute2 (ip) not installed")


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


if __name__ == "__main__":
    sys.exit(run_script_case(CASES, precheck))
