#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmms + vmctl + vmwp + the guest kernel, as a user sees them: a private vmms per case in
a temporary directory, driven through the JSON-RPC socket and through vmctl.

Usage: vmms-test.py CASE   (environment: VMMS, VMCTL, VMWP, GUEST_KERNEL)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import TIME_SCALE, VMCTL, VMMS, Client, Fail, Skip, Vmms, check, need_kvm, run_vmms_case, wait_for  # noqa: E402,F401

VMWP = os.environ.get("VMWP", "build/src/vmwp/vmwp")


def zombies_of(pid):
    res = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" and int(fields[1]) == pid:
            res.append(int(d))
    return res


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def console_read(fd, until, timeout=10):
    """Read a console fd until a complete line matches `until` (a regex): a line still being
    written ("status=pa") is never judged. Returns all the text read."""
    os.set_blocking(fd, False)
    out = b""
    deadline = time.time() + timeout * TIME_SCALE
    while time.time() < deadline:
        try:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
            text = out.decode(errors="replace")
            if any(re.search(until, line) for line in text.splitlines(keepends=True) if line.endswith("\n")):
                return text
        except BlockingIOError:
            time.sleep(0.01)
    raise Fail(f"console: no match for {until!r} in:\n{out.decode(errors='replace')}")


def console_fd(c, name):
    res = c.call("vm.console", {"name": name, "fd": True})
    check(res.get("fd") == 0 and c.fds, f"no fd passed: {res}")
    check(os.path.isabs(res["path"]), f"console path {res}")
    return c.fds.pop(0)


# --- cases ---------------------------------------------------------------------------

def case_lifecycle(v):
    """create -> start -> list (Running) -> pause -> resume -> stop (graceful) -> delete."""
    need_kvm()
    v.start()
    c = v.client()
    pid = v.proc.pid
    fds_before = fd_count(pid)
    rc, out, err = v.vmctl("create", "demo", "--memory", "64M", "--vcpus", "2")
    check(rc == 0 and "Created VM 'demo'" in out, f"create: {rc} {out} {err}")
    rc, out, err = v.vmctl("start", "demo")
    check(rc == 0 and "Running" in out, f"start: {rc} {out} {err}")
    rc, out, err = v.vmctl("list")
    check(rc == 0, f"list: {rc} {err}")
    lines = out.splitlines()
    check(lines[0].split() == ["NAME", "STATE", "VCPUS", "MEMORY", "UPTIME"], f"list header: {out}")
    check(re.match(r"demo\s+Running\s+2\s+64 MiB\s+\d+s", lines[1]), f"list row: {out}")
    vm = c.call("vm.get", {"name": "demo"})
    v.track(vm)
    check(vm["state"] == "Running" and vm["pid"] > 0 and vm["vcpus"] == 2 and vm["memory"] == 64 << 20, f"{vm}")
    run_dir = os.path.join(v.run, "vms", vm["uuid"])
    check(os.path.exists(os.path.join(run_dir, "control.sock")), "no control socket in the run dir")
    con = console_fd(c, "demo")
    console_read(con, r"#VMMS ready scenario=ic vcpus=2 mem_mib=64")
    rc, out, err = v.vmctl("pause", "demo")
    check(rc == 0 and "Paused" in out, f"pause: {rc} {out} {err}")
    check(c.call("vm.get", {"name": "demo"})["state"] == "Paused", "not Paused")
    rc, out, err = v.vmctl("resume", "demo")
    check(rc == 0 and "Running" in out, f"resume: {rc} {out} {err}")
    # Wrong-state errors name the state.
    rc, out, err = v.vmctl("delete", "demo")
    check(rc == 1 and "is Running" in err and "delete needs Off" in err, f"delete while running: {rc} {err}")
    t0 = time.time()
    rc, out, err = v.vmctl("stop", "demo")
    check(rc == 0 and "Off" in out and "powered off" in out, f"stop: {rc} {out} {err}")
    check(time.time() - t0 < 5, "graceful stop took too long")
    # The default guest runs the integration services: the stop goes through the shutdown
    # service, or the power button while the guest has not connected it yet (the log says
    # which; the console's last bytes may be lost when the VM ends).
    log = v.logtext()
    check("accepted the shutdown request" in log or "Power button pressed" in log, f"not a graceful stop:\n{log}")
    os.close(con)
    vm = c.call("vm.get", {"name": "demo"})
    check(vm["state"] == "Off" and "pid" not in vm, f"after stop: {vm}")
    # Nothing left behind: run-dir files, zombies, fds.
    wait_for(lambda: not os.path.exists(run_dir), 5, "the run dir to go")
    check(not zombies_of(pid), f"zombies: {zombies_of(pid)}")
    rc, out, err = v.vmctl("delete", "demo")
    check(rc == 0 and "Deleted" in out, f"delete: {rc} {out} {err}")
    check(c.call("vm.list") == [], "list not empty after delete")
    check(not os.listdir(os.path.join(v.state, "vms")), "registry not empty after delete")
    c.close()
    time.sleep(0.1)
    check(fd_count(pid) == fds_before, f"vmms leaks fds: {fds_before} before, {fd_count(pid)} after")
    v.stop()
    check(v.proc.returncode == 0, f"vmms exit status {v.proc.returncode}")


def case_worker_killed(v):
    """SIGKILL of a worker -> Critical with the reason, nothing leaked, and it starts again."""
    need_kvm()
    v.start()
    c = v.client()
    c.call("vm.create", {"name": "k", "memory": "64M"})
    vm = c.call("vm.start", {"name": "k"})
    v.track(vm)
    os.kill(vm["pid"], signal.SIGKILL)
    vm = wait_for(lambda: (lambda x: x if x["state"] == "Critical" else None)(c.call("vm.get", {"name": "k"})),
                  5, "Critical")
    check("SIGKILL" in vm.get("reason", ""), f"reason: {vm}")
    rc, out, err = v.vmctl("show", "k")
    check("Critical" in out and "SIGKILL" in out, f"show: {out}")
    wait_for(lambda: not os.path.exists(os.path.join(v.run, "vms", vm["uuid"])), 5, "the run dir to go")
    check(not zombies_of(v.proc.pid), "zombie worker")
    vm = c.call("vm.start", {"name": "k"})
    v.track(vm)
    check(vm["state"] == "Running" and "reason" not in vm, f"restart from Critical: {vm}")
    c.call("vm.stop", {"name": "k", "turn_off": True})
    # A Critical VM turned off is simply Off.
    vm = c.call("vm.start", {"name": "k"})
    os.kill(vm["pid"], signal.SIGKILL)
    wait_for(lambda: c.call("vm.get", {"name": "k"})["state"] == "Critical", 5, "Critical")
    vm = c.call("vm.stop", {"name": "k", "turn_off": True})
    check(vm["state"] == "Off", f"turn off a Critical VM: {vm}")


def case_triple_fault(v):
    need_kvm()
    v.start()
    c = v.client()
    c.call("vm.create", {"name": "tf", "memory": "64M", "cmdline": "scenario=triple-fault"})
    r = c.request("vm.start", {"name": "tf"})
    if "error" in r:    # it may crash before it was seen running
        check("triple fault" in r["error"]["message"], f"start error: {r}")
    vm = wait_for(lambda: (lambda x: x if x["state"] == "Critical" else None)(c.call("vm.get", {"name": "tf"})),
                  10, "Critical")
    check("triple fault" in vm.get("reason", ""), f"reason: {vm}")
    check(not zombies_of(v.proc.pid), "zombie worker")


def case_readopt(v):
    """vmms killed and restarted re-adopts running VMs; the guests never notice."""
    need_kvm()
    v.start()
    c = v.client()
    c.call("vm.create", {"name": "a", "memory": "64M", "cmdline": "scenario=echo"})
    c.call("vm.create", {"name": "p", "memory": "64M"})
    a = c.call("vm.start", {"name": "a"})
    p = c.call("vm.start", {"name": "p"})
    v.track(a)
    v.track(p)
    con = console_fd(c, "p")
    console_read(con, r"#VMMS ready")       # booted: its power button works
    os.close(con)
    c.call("vm.pause", {"name": "p"})
    c.close()
    time.sleep(0.3)
    v.stop(signal.SIGKILL)
    check(os.path.exists(f"/proc/{a['pid']}"), "the worker died with vmms")
    v.start()
    c = v.client()
    vms = {x["name"]: x for x in c.call("vm.list")}
    check(vms["a"]["state"] == "Running" and vms["a"]["pid"] == a["pid"], f"not re-adopted: {vms['a']}")
    check(vms["p"]["state"] == "Paused" and vms["p"]["pid"] == p["pid"], f"paused VM: {vms['p']}")
    check(vms["a"]["uptime_usec"] >= 300000, f"uptime restarted: {vms['a']}")
    # The guest kept running: one boot only, and it still echoes.
    con = console_fd(c, "a")
    text = console_read(con, r"#VMMS ready")     # the history: everything since boot
    os.write(con, b"still-there\n")
    text += console_read(con, r"echo=still-there")
    check(text.count("#VMMS ready") == 1, f"the guest rebooted:\n{text}")
    os.close(con)
    # It obeys every verb.
    check(c.call("vm.pause", {"name": "a"})["state"] == "Paused", "pause")
    check(c.call("vm.resume", {"name": "a"})["state"] == "Running", "resume")
    check(c.call("vm.resume", {"name": "p"})["state"] == "Running", "resume p")
    vm = c.call("vm.stop", {"name": "p"})
    check(vm["state"] == "Off" and "powered off" in vm.get("reason", ""), f"graceful stop after re-adoption: {vm}")
    # A worker that dies while vmms is away: Critical after the next start.
    c.close()
    v.stop(signal.SIGKILL)
    os.kill(a["pid"], signal.SIGKILL)
    time.sleep(0.2)
    v.start()
    c = v.client()
    vm = c.call("vm.get", {"name": "a"})
    check(vm["state"] == "Critical" and "while vmms was not running" in vm.get("reason", ""), f"{vm}")
    check(not os.path.exists(os.path.join(v.run, "vms", vm["uuid"])), "stale run dir kept")


def case_save(v):
    """Save-VM: Running -> Saving -> Saved (the worker ends, the state is on disk), start
    restores it where it was (the guest's memory and rounds go on), also after a vmms
    restart; a VM whose guest drives a device that cannot be saved refuses and runs on;
    stop --turn-off discards a saved state."""
    need_kvm()
    v.start()
    c = v.client()
    c.call("vm.create", {"name": "m", "memory": "64M", "cmdline": "scenario=memstate memstate_s=6 memstate_mib=16"})
    vm = c.call("vm.start", {"name": "m"})
    v.track(vm)
    con = console_fd(c, "m")
    text = console_read(con, r"memstate round=2 ")
    os.close(con)
    rc, out, err = v.vmctl("save", "m")
    check(rc == 0 and "Saved" in out, f"save: {rc} {out} {err}")
    vm = c.call("vm.get", {"name": "m"})
    check(vm["state"] == "Saved" and "pid" not in vm and vm.get("saved_state_bytes", 0) > 16 << 20, f"{vm}")
    files = os.listdir(os.path.join(v.state, "vms", vm["uuid"]))
    check("saved.state" in files and "saved.mem" in files, f"no saved state in the VM's directory: {files}")
    rc, out, err = v.vmctl("show", "m")
    check(rc == 0 and "Saved state:" in out, f"show: {out}")
    # vmms goes away and comes back: the VM is still Saved.
    c.close()
    v.stop()
    v.start()
    c = v.client()
    check(c.call("vm.get", {"name": "m"})["state"] == "Saved", "not Saved after a vmms restart")
    rc, out, err = v.vmctl("start", "m")
    check(rc == 0 and "Running" in out, f"start (restore): {rc} {out} {err}")
    con = console_fd(c, "m")
    # The last line may be lost when the VM powers off (see lifecycle): its last metric decides.
    text = console_read(con, r"memstate_bad_words value=\d+", timeout=120)
    os.close(con)
    check("memstate_bad_words value=0 " in text and "#VMMS assert" not in text,
          f"memstate after the restore:\n{text}")
    check("memstate filled" not in text.split("memstate round=2 ")[-1], "the guest started over")
    wait_for(lambda: c.call("vm.get", {"name": "m"})["state"] == "Off", 60, "the restored guest to power off")
    vm = c.call("vm.get", {"name": "m"})
    check("saved.state" not in os.listdir(os.path.join(v.state, "vms", vm["uuid"])), "saved state kept after restore")
    # The default guest drives the integration services' device: refused, it runs on.
    c.call("vm.create", {"name": "ic", "memory": "64M"})
    v.track(c.call("vm.start", {"name": "ic"}))
    con = console_fd(c, "ic")
    console_read(con, r"ic=serving")
    os.close(con)
    rc, out, err = v.vmctl("save", "ic")
    check(rc == 1 and "cannot be saved" in err and "integration services" in err, f"save refused: {rc} {out} {err}")
    check(c.call("vm.get", {"name": "ic"})["state"] == "Running", "not Running after a refused save")
    c.call("vm.stop", {"name": "ic", "turn_off": True})
    # Saved, then turned off: the saved state is deleted.
    vm = c.call("vm.start", {"name": "m"})
    con = console_fd(c, "m")
    console_read(con, r"memstate round=1 ")
    os.close(con)
    check(c.call("vm.save", {"name": "m"})["state"] == "Saved", "second save")
    rc, out, err = v.vmctl("stop", "m", "--turn-off")
    check(rc == 0 and "Off" in out, f"turn off a Saved VM: {rc} {out} {err}")
    check("saved.state" not in os.listdir(os.path.join(v.state, "vms", vm["uuid"])), "saved state kept after turn-off")


def case_socket_activation(v):
    if not shutil.which("systemd-socket-activate"):
        raise Skip("systemd-socket-activate is not installed")
    act = os.path.join(v.dir, "act.sock")
    v.socket = act
    prefix = ["systemd-socket-activate", "-l", act]
    if os.environ.get("VMMS_VMWP"):
        prefix += ["-E", "VMMS_VMWP"]       # it passes no environment unless asked
    v.start(prefix=prefix, wait=False, socket_arg=False)
    # The path appears at bind(), a moment before listen(): connect until it is accepted.
    clients = []

    def connected():
        try:
            clients.append(Client(act))
            return True
        except (FileNotFoundError, ConnectionRefusedError):
            return False

    wait_for(connected, 10, "systemd-socket-activate to listen")
    c = clients[0]
    info = c.call("host.info")
    check(info["socket"] == act, f"host.info socket: {info['socket']}")
    check(info["pid"] == v.proc.pid, "not the activated process")
    check("Using the socket systemd passed" in v.logtext(), v.logtext())
    check(c.call("vm.list") == [], "list")
    c.close()
    v.stop()
    check(v.proc.returncode == 0, f"exit {v.proc.returncode}")
    # vmms does not remove a socket it did not create.
    check(os.path.exists(act), "the activated socket was removed")


def case_notify(v):
    ns = os.path.join(v.dir, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(ns)
    s.settimeout(0.2)
    v.start(env={"NOTIFY_SOCKET": ns, "WATCHDOG_USEC": "200000"}, wait=False)
    got = []
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            got += s.recv(4096).decode().splitlines()
        except socket.timeout:
            pass
        if "READY=1" in got and got.count("WATCHDOG=1") >= 3:
            break
    check("READY=1" in got, f"no READY=1: {got}")
    check(any(x.startswith("STATUS=0 VMs") for x in got), f"no STATUS: {got}")
    check(got.count("WATCHDOG=1") >= 3, f"watchdog pings: {got}")
    # STATUS follows the VMs.
    if os.path.exists("/dev/kvm"):
        c = v.client()
        c.call("vm.create", {"name": "n", "memory": "64M"})
        v.track(c.call("vm.start", {"name": "n"}))
        deadline = time.time() + 5
        status = []
        while time.time() < deadline and not any("1 running" in x for x in status):
            try:
                status += [x for x in s.recv(4096).decode().splitlines() if x.startswith("STATUS=")]
            except socket.timeout:
                pass
        check(any("1 VMs: 1 running" in x for x in status), f"STATUS after start: {status}")
        c.call("vm.stop", {"name": "n", "turn_off": True})
    v.stop()
    s.settimeout(2)
    tail = []
    try:
        while "STOPPING=1" not in tail:
            tail += s.recv(4096).decode().splitlines()
    except socket.timeout:
        pass
    check("STOPPING=1" in tail, f"no STOPPING=1: {tail}")


def case_access(v):
    """Only root and the vmms group: a client that is neither is refused."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        raise Skip("needs root and setpriv to run a client as nobody")
    v.start()
    mode = os.stat(v.socket).st_mode & 0o777
    check(mode == 0o660, f"socket mode {oct(mode)}")
    # The socket's permissions stop nobody first ...
    rc, out, err = v.vmctl("list", user=65534)
    check(rc == 3 and v.socket in err and "Permission denied" in err, f"as nobody (0660): {rc} {out} {err}")
    # ... and where they do not, the credentials check does.
    os.chmod(v.socket, 0o666)
    rc, out, err = v.vmctl("list", user=65534)
    check(rc == 1 and "Permission denied" in err and "65534" in err, f"as nobody (0666): {rc} {out} {err}")
    check("Refused a client: uid 65534" in v.logtext(), v.logtext())
    rc, out, err = v.vmctl("list")
    check(rc == 0, f"as root: {rc} {err}")


def case_concurrent(v):
    """100 clients hammering vm.list/vm.get never stall a start or a stop."""
    need_kvm()
    v.start()
    c = v.client()
    c.call("vm.create", {"name": "busy", "memory": "64M"})
    for i in range(20):
        c.call("vm.create", {"name": f"idle{i}", "memory": "64M"})
    stop = threading.Event()
    errors = []
    counts = [0] * 100

    def hammer(i):
        try:
            cl = v.client()
            while not stop.is_set():
                if i % 2:
                    r = cl.call("vm.list")
                    check(len(r) == 21, "list length")
                else:
                    cl.call("vm.get", {"name": f"idle{i % 20}"})
                counts[i] += 1
            cl.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {i}: {e!r}")

    # Misbehaving clients alongside: half a request then silence, a subscriber that never
    # reads, one over the size limit, one that vanishes mid-request.
    stalled = []
    for _ in range(10):
        s = socket.socket(socket.AF_UNIX)
        s.connect(v.socket)
        s.sendall(b'{"jsonrpc":"2.0","method":"vm.li')
        stalled.append(s)
    deaf = Client(v.socket)
    deaf.call("events.subscribe")
    big = Client(v.socket)
    try:
        big.send_raw(b"[" + b" " * (2 << 20))
    except BrokenPipeError:
        pass            # vmms answered and hung up before taking all of it
    err = big.read_message()
    check(err.get("error", {}).get("code") == -32600 and "limit" in err["error"]["message"], f"oversized: {err}")
    try:
        check(big.sock.recv(1) == b"", "oversized request: connection not closed")
    except ConnectionResetError:
        pass
    gone = socket.socket(socket.AF_UNIX)
    gone.connect(v.socket)
    gone.sendall(b'{"jsonrpc":"2.0","method":"vm.start","params":{"name":"idle0"},"id":1}\n')
    gone.close()

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    worst = 0.0
    for _ in range(3):
        t0 = time.time()
        vm = c.call("vm.start", {"name": "busy"})
        v.track(vm)
        t_start = time.time() - t0
        t0 = time.time()
        vm = c.call("vm.stop", {"name": "busy"})
        t_stop = time.time() - t0
        check(vm["state"] == "Off", f"stop: {vm}")
        worst = max(worst, t_start, t_stop)
    stop.set()
    for t in threads:
        t.join(30)
    check(not errors, "\n".join(errors[:5]))
    check(min(counts) > 0, f"a client got nothing done: {counts}")
    print(f"start/stop worst {worst * 1000:.0f} ms with 100 busy clients; {sum(counts)} requests served")
    check(worst < 5.0, f"a start or stop took {worst:.1f} s under load")
    # The vanished client's start still happened; stop it.
    vm = wait_for(lambda: (lambda x: x if x["state"] == "Running" else None)(c.call("vm.get", {"name": "idle0"})),
                  5, "idle0 started by the vanished client")
    v.track(vm)
    c.call("vm.stop", {"name": "idle0", "turn_off": True})
    for s in stalled:
        s.close()
    deaf.close()
    big.close()
    wait_for(lambda: c.call("host.info")["clients"] == 1, 5, "vmms to drop the closed connections")


def case_errors(v):
    """Errors users see: codes, messages that name the VM/state/key, exit statuses."""
    v.start()
    c = v.client()
    # JSON-RPC framing on the real socket.
    c.send_raw(b"{bad json\n")
    check(c.read_message()["error"]["code"] == -32700, "parse error")
    check(c.request("no.such.method")["error"]["code"] == -32601, "method not found")
    check(c.error("vm.get", {"nam": "x"})["code"] == -32602, "invalid params")
    check(c.error("vm.get", ["x"])["code"] == -32602, "positional params")
    c.send_raw(b'[{"jsonrpc":"2.0","method":"vm.list","id":1},{"jsonrpc":"2.0","method":"host.info"},1]\n')
    batch = c.read_message()
    check(isinstance(batch, list) and len(batch) == 2, f"batch: {batch}")
    c.send_raw(b'{"jsonrpc":"2.0","method":"vm.list"}\n')      # a notification: no answer
    check(c.call("vm.list") == [], "after notification")
    # Application errors.
    e = c.error("vm.get", {"name": "ghost"})
    check(e["code"] == -32001 and "ghost" in e["message"], f"{e}")
    c.call("vm.create", {"name": "x", "memory": "64M"})
    e = c.error("vm.create", {"name": "x"})
    check(e["code"] == -32002 and "'x'" in e["message"], f"{e}")
    e = c.error("vm.create", {"name": "y", "vcpus": 0})
    check(e["code"] == -32004 and e["message"].startswith("vcpus"), f"{e}")
    e = c.error("vm.create", {"name": "y", "bogus": 1})
    check(e["code"] == -32004 and "bogus" in e["message"], f"{e}")
    e = c.error("vm.create", {"name": "bad name!"})
    check(e["code"] == -32004 and e["message"].startswith("name"), f"{e}")
    e = c.error("vm.create", {"name": "y", "console": {"type": "stdio"}})
    check(e["code"] == -32004 and "console" in e["message"], f"{e}")
    e = c.error("vm.create", {"name": "y", "kernel": "/no/such/kernel"})
    check(e["code"] == -32004 and "kernel" in e["message"], f"{e}")
    e = c.error("vm.pause", {"name": "x"})
    check(e["code"] == -32003 and "is Off" in e["message"] and e["data"]["state"] == "Off", f"{e}")
    e = c.error("vm.stop", {"name": "x", "timeout": -1})
    check(e["code"] == -32602, f"{e}")
    e = c.error("vm.set", {"name": "x", "config": {"uuid": "0b5e1a52-8a8e-4c4e-9f1e-3a1b2c3d4e5f"}})
    check(e["code"] == -32004 and "uuid" in e["message"], f"{e}")
    vm = c.call("vm.set", {"name": "x", "config": {"vcpus": 2, "cmdline": "scenario=idle"}})
    check(vm["vcpus"] == 2 and vm["config"]["cmdline"] == "scenario=idle", f"{vm}")
    vm = c.call("vm.set", {"name": "x", "config": {"cmdline": None, "name": "x2"}})
    check(vm["name"] == "x2" and "cmdline" not in vm["config"], f"{vm}")
    # vmctl's exit statuses and messages.
    rc, out, err = v.vmctl("start", "ghost")
    check(rc == 1 and "ghost" in err, f"{rc} {err}")
    rc, out, err = v.vmctl("frobnicate")
    check(rc == 2, f"{rc} {err}")
    rc, out, err = v.vmctl("stop")
    check(rc == 2, f"{rc} {err}")
    rc, out, err = v.vmctl("set", "x2", "vcpus=abc")
    check(rc == 1 and "vcpus" in err, f"{rc} {err}")
    p = subprocess.run([VMCTL, "--socket", "/tmp/no-such-vmms.sock", "list"], capture_output=True, text=True)
    check(p.returncode == 3 and "/tmp/no-such-vmms.sock" in p.stderr, f"{p.returncode} {p.stderr}")
    p = subprocess.run([VMCTL, "list"], capture_output=True, text=True,
                       env=dict(os.environ, VMMS_SOCKET="/tmp/no-such-vmms-2.sock"))
    check(p.returncode == 3 and "/tmp/no-such-vmms-2.sock" in p.stderr, f"VMMS_SOCKET: {p.stderr}")
    rc, out, err = v.vmctl("--json", "show", "x2")
    check(rc == 0 and json.loads(out)["name"] == "x2", f"--json: {out}")
    # The registry survives a restart.
    c.close()
    v.stop()
    v.start()
    c = v.client()
    check([x["name"] for x in c.call("vm.list")] == ["x2"], "registry lost")
    # A second vmms on the same socket or state directory refuses to start.
    p = subprocess.run([VMMS, "--socket", v.socket] + v.args(), capture_output=True, text=True, timeout=10)
    check(p.returncode == 1, f"second vmms: {p.returncode} {p.stderr}")


def case_events_and_console(v):
    need_kvm()
    v.start()
    ev = v.client()
    ev.call("events.subscribe")
    c = v.client()
    c.call("vm.create", {"name": "e", "memory": "64M", "cmdline": "scenario=echo"})
    v.track(c.call("vm.start", {"name": "e"}))
    c.call("vm.stop", {"name": "e", "turn_off": True})
    c.call("vm.delete", {"name": "e"})
    seen = []
    while len(seen) < 6:
        p = ev.next_event()["params"]
        seen.append((p["previous"], p["state"]))
    check(seen == [(None, "Off"), ("Off", "Starting"), ("Starting", "Running"), ("Running", "Stopping"),
                   ("Stopping", "Off"), ("Off", None)], f"events: {seen}")
    # vmctl console: input reaches the guest, Ctrl-] detaches.
    c.call("vm.create", {"name": "e", "memory": "64M", "cmdline": "scenario=echo"})
    v.track(c.call("vm.start", {"name": "e"}))
    con = console_fd(c, "e")
    console_read(con, "#VMMS ready")
    os.close(con)
    p = subprocess.Popen([VMCTL, "--socket", v.socket, "console", "e"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    p.stdin.write(b"hello-console\n")
    p.stdin.flush()
    time.sleep(0.5)
    p.stdin.write(b"\x1d")
    p.stdin.flush()
    out, err = p.communicate(timeout=10)
    check(p.returncode == 0, f"console exit {p.returncode}: {err}")
    check(b"echo=hello-console" in out, f"console output: {out}")
    check(b"Detached" in err, f"console: {err}")
    c.call("vm.stop", {"name": "e", "turn_off": True})


def case_stop_timeout(v):
    """A guest that ignores the power button: stop times out, --force turns it off."""
    need_kvm()
    v.start()
    c = v.client()
    # The reboot scenario never enables the power button (and reboots in a loop).
    c.call("vm.create", {"name": "deaf", "memory": "64M", "cmdline": "scenario=reboot"})
    v.track(c.call("vm.start", {"name": "deaf"}))
    t0 = time.time()
    e = c.error("vm.stop", {"name": "deaf", "timeout": 1})
    check(e["code"] == -32006 and "1 s" in e["message"], f"{e}")
    check(time.time() - t0 < 3, "timeout not honoured")
    check(c.call("vm.get", {"name": "deaf"})["state"] == "Running", "state after a timed-out stop")
    rc, out, err = v.vmctl("stop", "deaf", "--force", "--timeout", "1")
    check(rc == 0 and "Off" in out, f"--force: {rc} {out} {err}")


def case_demo(v):
    need_kvm()
    e = dict(os.environ, VMMS_SOCKET=os.path.join(v.dir, "none.sock"), VMMS_BINARY=VMMS)
    p = subprocess.run([VMCTL, "demo"], capture_output=True, text=True, timeout=60, env=e)
    check(p.returncode == 0, f"demo exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    for s in ("started a private one", "#VMMS ready", "power button pressed", "Off after", "deleted",
              "removed /tmp/vmms-demo."):
        check(s in p.stdout, f"demo output lacks {s!r}:\n{p.stdout}")
    d = re.search(r"removed (/tmp/vmms-demo\.\w+)", p.stdout).group(1)
    check(not os.path.exists(d), "demo left its directory")


def new_netns():
    """Move this test (and the vmms it starts) into a network namespace of its own, so the
    switches it makes touch nothing of the host's."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:       # CLONE_NEWNET
        raise Skip(f"cannot make a network namespace: {os.strerror(ctypes.get_errno())}")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def links():
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def udp_echo(addr, payload, tries=20):
    """Send payload to addr's UDP port 7 (the net-echo scenario) until it comes back."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        for _ in range(tries):
            s.sendto(payload, (addr, 7))
            try:
                if s.recv(65536) == payload:
                    return True
            except socket.timeout:
                pass
        return False
    finally:
        s.close()


def remove_switches(c, priv, internal):
    """Best effort, after a failure: the test's switches and the private one's namespace."""
    for n in (priv, internal):
        try:
            c.call("switch.delete", {"name": n})
        except Exception:  # noqa: BLE001 - best effort
            pass
    subprocess.run(["ip", "netns", "del", f"vmms-sw-{priv}"], capture_output=True)


def case_switches(v):
    """Virtual switches through the API and vmctl: create, list, refuse what is wrong,
    survive a vmms restart (and a host that lost them), delete."""
    if os.geteuid() != 0:
        raise Skip("needs root (switches are bridges)")
    new_netns()
    tag = str(os.getpid() % 100000)
    priv, internal = f"p{tag}", f"i{tag}"
    v.start()
    c = v.client()
    try:
        check(c.call("switch.list") == [], "a new vmms has switches")
        s = c.call("switch.create", {"name": priv, "type": "private"})
        check(s["type"] == "private" and s["bridge"] == f"vms-{priv}" and s["present"], f"{s}")
        check(os.path.exists(f"/run/netns/vmms-sw-{priv}"), "the private switch has no namespace")
        rc, out, err = v.vmctl("switch", "create", internal, "--type", "internal", "--address", "10.98.0.1/24")
        check(rc == 0 and f"vms-{internal}" in out, f"vmctl switch create: {rc} {out} {err}")
        check(f"vms-{internal}" in links(), "the internal switch's bridge is missing")
        addrs = subprocess.run(["ip", "-o", "addr", "show", f"vms-{internal}"], capture_output=True, text=True).stdout
        check("10.98.0.1/24" in addrs, f"the host has no address on the internal switch: {addrs}")
        # What is wrong is refused, and says what.
        e = c.error("switch.create", {"name": priv, "type": "private"})
        check(e["code"] == -32002 and priv in e["message"], f"duplicate: {e}")
        e = c.error("switch.create", {"name": "x", "type": "hub"})
        check(e["code"] == -32004 and e["message"].startswith("type"), f"bad type: {e}")
        e = c.error("switch.create", {"name": "x", "type": "external"})
        check(e["code"] == -32004 and e["message"].startswith("uplink"), f"no uplink: {e}")
        e = c.error("switch.create", {"name": "x", "type": "external", "uplink": "nosuchnic0"})
        check(e["code"] == -32004 and e["message"].startswith("uplink") and "nosuchnic0" in e["message"],
              f"missing uplink: {e}")
        e = c.error("switch.create", {"name": "x", "type": "private", "address": "10.0.0.1/24"})
        check(e["code"] == -32004 and e["message"].startswith("address"), f"address on private: {e}")
        e = c.error("switch.create", {"name": "bad/name", "type": "private"})
        check(e["code"] == -32004 and "name" in e["message"], f"bad name: {e}")
        e = c.error("switch.create", {"name": "y", "type": "internal", "address": "300.1.1.1/99"})
        check(e["code"] == -32004, f"bad address: {e}")
        check(len(c.call("switch.list")) == 2, "a refused switch was kept")
        rc, out, err = v.vmctl("switch", "create", "z")
        check(rc == 2 and "--type" in err, f"vmctl without --type: {rc} {err}")
        # VMs name switches vmms knows.
        e = c.error("vm.create", {"name": "a", "nics": [{"switch": "ghost"}]})
        check(e["code"] == -32004 and "nics[0].switch" in e["message"] and "ghost" in e["message"], f"{e}")
        rc, out, err = v.vmctl("create", "a", "--nic", f"switch={priv}", "--memory", "64M")
        check(rc == 0, f"vmctl create --nic: {rc} {err}")
        vm = c.call("vm.get", {"name": "a"})
        check(vm["config"]["nics"][0]["switch"] == priv, f"{vm['config']}")
        rc, out, err = v.vmctl("switch", "list")
        check(rc == 0 and priv in out and internal in out and re.search(rf"{priv}\s.*\sa$", out, re.M), out)
        # They come back: after a restart of vmms, and after the host lost them.
        c.close()
        v.stop()
        subprocess.run(["ip", "link", "del", f"vms-{internal}"], check=True)
        v.start()
        c = v.client()
        check(f"vms-{internal}" in links(), f"the internal switch was not restored\n{v.logtext()}")
        addrs = subprocess.run(["ip", "-o", "addr", "show", f"vms-{internal}"], capture_output=True, text=True).stdout
        check("10.98.0.1/24" in addrs, f"the restored switch lost its address: {addrs}")
        check(sorted(x["name"] for x in c.call("switch.list")) == sorted([priv, internal]), "switches lost")
        # Delete.
        rc, out, err = v.vmctl("switch", "delete", internal)
        check(rc == 0, f"vmctl switch delete: {rc} {err}")
        check(f"vms-{internal}" not in links(), "the bridge outlived its switch")
        e = c.error("switch.delete", {"name": internal})
        check(e["code"] == -32001, f"delete twice: {e}")
    finally:
        remove_switches(c, priv, internal)
    check(not os.path.exists(f"/run/netns/vmms-sw-{priv}"), "the private switch's namespace outlived it")


def case_switch_vms(v):
    """Two VMs on a private switch reach each other; one on an internal switch answers the
    host; a switch in use cannot be deleted; the TAPs go with the workers."""
    need_kvm()
    new_netns()
    tag = str(os.getpid() % 100000)
    priv, internal = f"p{tag}", f"i{tag}"
    v.start()
    c = v.client()
    try:
        c.call("switch.create", {"name": priv, "type": "private"})
        c.call("switch.create", {"name": internal, "type": "internal", "address": "10.97.0.1/24"})
        c.call("vm.create", {"name": "echo", "memory": "64M", "nics": [{"switch": priv}],
                             "cmdline": "scenario=net-echo ip=10.124.0.2/24"})
        c.call("vm.create", {"name": "ping", "memory": "64M", "nics": [{"switch": priv}],
                             "cmdline": "scenario=net-ping peer=10.124.0.2 count=5 udp=1 ip=10.124.0.3/24"})
        c.call("vm.create", {"name": "host", "memory": "64M", "nics": [{"switch": internal}],
                             "cmdline": "scenario=net-echo ip=10.97.0.2/24"})
        for n in ("echo", "host"):
            v.track(c.call("vm.start", {"name": n}))
        uuid = c.call("vm.get", {"name": "echo"})["uuid"]
        ports = subprocess.run(["ip", "netns", "exec", f"vmms-sw-{priv}", "ip", "-o", "link"], capture_output=True,
                               text=True).stdout
        check(f"vm{uuid[:8]}-0" in ports and f"master vms-{priv}" in ports, f"the echo VM's TAP is no port:\n{ports}")
        e = c.error("switch.delete", {"name": priv})
        check(e["code"] == -32003 and "in use" in e["message"], f"deleting a switch in use: {e}")
        # The host reaches the VM on the internal switch.
        check(udp_echo("10.97.0.2", b"vmms-switch-%d" % os.getpid()),
              "the host gets no UDP echo from the VM on the internal switch")
        # VM to VM over the private switch: the ping VM powers off with its result.
        v.track(c.call("vm.start", {"name": "ping"}))
        con = console_fd(c, "ping")
        out = console_read(con, r"#VMMS result .*status=\w+", timeout=60)
        os.close(con)
        check("status=pass" in out and "name=net_udp_echoes value=5 " in out, f"VM to VM over the switch:\n{out}")
        wait_for(lambda: c.call("vm.get", {"name": "ping"})["state"] == "Off", 30, "the ping VM to power off")
        for n in ("echo", "host"):
            c.call("vm.stop", {"name": n, "turn_off": True})
        wait_for(lambda: f"vm{uuid[:8]}-0" not in subprocess.run(
            ["ip", "netns", "exec", f"vmms-sw-{priv}", "ip", "-o", "link"], capture_output=True, text=True).stdout,
            10, "the TAP to go with its worker")
        c.call("switch.delete", {"name": priv})
    finally:
        remove_switches(c, priv, internal)


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


def main(cases=None):
    """Run the case argv[1] of cases (default: this file's) against a private vmms; the
    integration-service tests (tests/ic/ic-vmms-test.py) use it with theirs."""
    return run_vmms_case(cases if cases is not None else CASES, Vmms)


if __name__ == "__main__":
    sys.exit(main())
