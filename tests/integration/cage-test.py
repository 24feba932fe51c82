#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The worker's cage (issue 7), as an operator would inspect it: a private vmms, real
workers, and what /proc shows of them from outside.

Usage: cage-test.py CASE   (environment: VMMS, VMCTL, VMMS_VMWP, VMJAIL, GUEST_KERNEL)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import json
import os
import socket
import stat
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import Client as Rpc, Fail, Skip, Vmms, check, need_kvm, run_vmms_case, wait_for  # noqa: E402

VMMS = os.environ.get("VMMS", "build/src/vmms/vmms")
VMCTL = os.environ.get("VMCTL", "build/src/vmctl/vmctl")
VMWP = os.environ.get("VMMS_VMWP", "build/src/vmwp/vmwp")
VMJAIL = os.environ.get("VMJAIL", "build/src/vmms/vmjail")
GUEST = os.environ.get("GUEST_KERNEL", "build/guest/kernel/vmguest.elf")
MIB = 1 << 20


def make_vmms():
    """vmms with an images/ directory and the guest kernel's as its --allow-dirs."""
    return Vmms(prefix="vmms-cage.", images=True, allow_dirs=[os.path.dirname(os.path.abspath(GUEST))],
                env={"VMMS_VMWP": VMWP})


def proc_status(pid):
    res = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            res[k] = v.strip()
    return res


def start_vm(c, v, name, **cfg):
    c.call("vm.create", dict({"name": name, "memory": "64M"}, **cfg))
    vm = c.call("vm.start", {"name": name})
    v.track(vm)
    return vm


# --- cases ---------------------------------------------------------------------------

def case_status(v):
    """What /proc shows of two running workers: no capabilities, no_new_privs, seccomp,
    their own uids, their own namespaces, a root that holds nothing of the host's."""
    need_kvm()
    v.start()
    c = v.client()
    a = start_vm(c, v, "a", disks=[{"path": v.image("a.img")}])
    b = start_vm(c, v, "b", disks=[{"path": v.image("b.img")}])
    uids = []
    for vm in (a, b):
        pid = vm["pid"]
        st = proc_status(pid)
        print(f"/proc/{pid}/status of VM '{vm['name']}':")
        for k in ("Name", "Uid", "Gid", "Groups", "NSpid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                  "NoNewPrivs", "Seccomp", "Seccomp_filters"):
            print(f"  {k}:\t{st.get(k, '')}")
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            check(int(st[k], 16) == 0, f"{k} {st[k]} of worker {pid}")
        check(st["NoNewPrivs"] == "1", f"NoNewPrivs {st['NoNewPrivs']}")
        check(st["Seccomp"] == "2", f"Seccomp {st['Seccomp']}")
        check(int(st.get("Seccomp_filters", "2")) >= 2, "vmms' baseline and the worker's allowlist")
        uid = st["Uid"].split()
        check(len(set(uid)) == 1 and uid[0] != "0", f"Uid {st['Uid']}")
        check(st["Gid"].split()[0] != "0" and st["Groups"] == "", f"Gid {st['Gid']} Groups {st['Groups']}")
        uids.append(uid[0])
        # PID 1 of a PID namespace of its own; mount, IPC, UTS and network namespaces of its own.
        check(st["NSpid"].split()[-1] == "1" and len(st["NSpid"].split()) == 2, f"NSpid {st['NSpid']}")
        for ns in ("mnt", "pid", "ipc", "uts", "net"):
            check(os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), f"{ns} namespace shared")
        host = subprocess.run(["nsenter", "-t", str(pid), "-u", "hostname"], capture_output=True, text=True)
        check(host.returncode != 0 or host.stdout.strip() == vm["name"], f"hostname {host.stdout!r}")
        limits = open(f"/proc/{pid}/limits").read()
        check(re.search(r"Max open files\s+16384\s+16384", limits), limits)
        check(re.search(r"Max core file size\s+0\s+0", limits), limits)
        # Its root: /usr (read-only), the loader's links and cache, its own run directory.
        root = f"/proc/{pid}/root"
        top = set(os.listdir(root))
        allowed = {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "proc",
                   v.run.split("/")[1]}
        check(top <= allowed, f"the worker's root holds {sorted(top - allowed)}")
        check(os.listdir(f"{root}/etc") == ["ld.so.cache"], f"/etc: {os.listdir(root + '/etc')}")
        for host_path in ("/dev", "/home", "/var", "/sys", "/root", v.state, v.images, "/dev/kvm",
                          "/etc/passwd", "/run/vmms/ids"):
            check(not os.path.exists(root + host_path), f"{host_path} is visible to the worker")
        mine = os.path.join(v.run, "vms", vm["uuid"])
        check(os.path.exists(f"{root}{mine}/control.sock"), "its own run directory is missing")
        try:
            open(f"{root}/usr/vmms-cage-test", "w")
            raise Fail("/usr is writable in the cage")
        except OSError as e:
            check(e.errno in (30, 13), f"/usr: {e}")      # EROFS
    check(uids[0] != uids[1], f"both workers run as uid {uids[0]}")
    # Neither sees the other VM: its disk image, its run directory.
    other = os.path.join(v.run, "vms", b["uuid"])
    check(not os.path.exists(f"/proc/{a['pid']}/root{other}"), "VM a sees VM b's run directory")
    for img in (a, b):
        for pid in (a["pid"], b["pid"]):
            check(not os.path.exists(f"/proc/{pid}/root{v.images}"), "the images directory is visible")
    # A worker owns its run directory: a link it puts there (here: to VM b's console) gets
    # no client a connection vmms made as root.
    run_a = os.path.join(v.run, "vms", a["uuid"])
    os.rename(f"{run_a}/console.sock", f"{run_a}/console.real")
    os.symlink(os.path.join(other, "console.sock"), f"{run_a}/console.sock")
    e = c.error("vm.console", {"name": "a", "fd": True})
    check("console" in e["message"].lower(), f"{e}")
    check("not by the worker" in v.logtext(), v.logtext())
    c.call("vm.stop", {"name": "a", "turn_off": True})
    c.call("vm.stop", {"name": "b", "turn_off": True})
    c.close()
    v.stop()


def case_seccomp(v):
    """A worker that makes a forbidden system call dies and its VM is Critical, naming it."""
    need_kvm()
    v.start()
    c = v.client()
    # mount: never allowed; ioctl and socket: allowed only with the arguments the worker uses.
    for name, call in (("m", "mount"), ("i", "ioctl"), ("s", "socket")):
        vm = start_vm(c, v, name, debug=True)
        ctl = Rpc(os.path.join(v.run, "vms", vm["uuid"], "control.sock"))
        try:
            r = ctl.request("debug.forbidden_syscall", {"syscall": call})
            raise Fail(f"{call}: the worker answered {r}")
        except (EOFError, ConnectionResetError):
            pass
        vm = wait_for(lambda: (lambda x: x if x["state"] == "Critical" else None)(c.call("vm.get", {"name": name})),
                      10, f"VM {name} Critical")
        check(vm.get("reason") == f"seccomp violation: {call}", f"reason: {vm.get('reason')}")
        print(f"{name}: {vm['state']}: {vm['reason']}")
    rc = subprocess.run([VMCTL, "--socket", v.socket, "show", "m"], capture_output=True, text=True)
    check("seccomp violation: mount" in rc.stdout, f"vmctl show: {rc.stdout}")
    # Without "debug": true there is no such method.
    vm = start_vm(c, v, "plain")
    ctl = Rpc(os.path.join(v.run, "vms", vm["uuid"], "control.sock"))
    e = ctl.error("debug.forbidden_syscall", {"syscall": "mount"})
    check(e["code"] == -32601 and "debug" in e["message"], f"{e}")
    check(c.call("vm.get", {"name": "plain"})["state"] == "Running", "the plain VM suffered")
    ctl.close()
    c.call("vm.stop", {"name": "plain", "turn_off": True})
    c.close()
    v.stop()


def cgroup_dir(pid, controller="memory"):
    """The worker's cgroup directory: cgroup v2, else the v1 hierarchy of controller."""
    lines = open(f"/proc/{pid}/cgroup").read().splitlines()
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        path = [x for x in lines if x.startswith("0::")][0][3:]
        return "v2", "/sys/fs/cgroup" + path
    for x in lines:
        _, ctrl, path = x.split(":", 2)
        if controller in ctrl.split(","):
            return "v1", f"/sys/fs/cgroup/{controller}" + path
    raise Skip(f"no {controller} cgroup")


def read_int(path):
    with open(path) as f:
        s = f.read().strip()
    return s if s == "max" else int(s)


def case_cgroup(v):
    """memory.max = guest RAM + the overhead allowance, pids.max, CPU weight; gone at stop."""
    need_kvm()
    v.start()
    c = v.client()
    vm = start_vm(c, v, "cg", vcpus=2, cpu_weight=200)
    kind, d = cgroup_dir(vm["pid"])
    check(os.path.basename(d) == "vmms-vm-" + vm["uuid"], f"the worker's cgroup is {d}")
    allowance = {(64 + 256) * MIB, (64 + 256 + 2048) * MIB}      # sanitizer builds: +2 GiB
    if kind == "v2":
        mem = read_int(f"{d}/memory.max")
        pids_max = read_int(f"{d}/pids.max")
        if os.path.exists(f"{d}/cpu.weight"):
            check(read_int(f"{d}/cpu.weight") == 200, "cpu.weight")
    else:
        mem = read_int(f"{d}/memory.limit_in_bytes")
        pids_max = read_int(cgroup_dir(vm["pid"], "pids")[1] + "/pids.max")
        cpu = cgroup_dir(vm["pid"], "cpu")[1] + "/cpu.shares"
        if os.path.exists(cpu):
            check(read_int(cpu) == 2048, f"cpu.shares {read_int(cpu)}")
    print(f"cgroup {kind} {d}: memory limit {mem}, pids.max {pids_max}")
    check(mem in allowance, f"memory limit {mem}, expected 64 MiB + the allowance")
    check(pids_max == 1024 + 2, f"pids.max {pids_max}")
    e = c.error("vm.create", {"name": "heavy", "cpu_weight": 0})
    check(e["code"] == -32004 and "cpu_weight" in e["message"], f"{e}")
    c.call("vm.stop", {"name": "cg", "turn_off": True})
    wait_for(lambda: not os.path.exists(d), 5, f"{d} to go")
    c.close()
    v.stop()


def case_paths(v):
    """Disks, kernels and initrds only below --allow-dir; no '..', no way out by a link; names
    never paths."""
    v.start()
    c = v.client()
    outside = os.path.join(v.dir, "outside.img")
    open(outside, "wb").truncate(MIB)
    os.symlink("/etc/passwd", os.path.join(v.images, "escape.img"))
    os.symlink(outside, os.path.join(v.images, "escape2.img"))
    for cfg, needle in (
            ({"disks": [{"path": outside}]}, "outside the directories"),
            ({"disks": [{"path": os.path.join(v.images, "../outside.img")}]}, "'..'"),
            ({"disks": [{"path": os.path.join(v.images, "escape.img")}]}, "leads out"),
            ({"disks": [{"path": os.path.join(v.images, "escape2.img")}]}, "leads out"),
            ({"disks": [{"path": os.path.join(v.images, "none.img")}]}, "No such file"),
            ({"kernel": "/etc/passwd"}, "outside the directories"),
            ({"kernel": GUEST, "initrd": "/etc/shadow"}, "outside the directories")):
        e = c.error("vm.create", dict({"name": "x"}, **cfg))
        check(e["code"] == -32004 and needle in e["message"], f"{cfg}: {e}")
    # Only regular files and block devices: a FIFO once made vm.create wait forever in open()
    # (and vmms with it); a socket, a directory and a character device are refused too.
    fifo = os.path.join(v.images, "k.fifo")
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(v.images, "k.sock"))
    os.mkdir(os.path.join(v.images, "k.dir"))
    os.mknod(os.path.join(v.images, "null.img"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    for cfg, needle in (
            ({"kernel": fifo}, "is a FIFO, not a regular file or block device"),
            ({"kernel": GUEST, "initrd": fifo}, "is a FIFO"),
            ({"disks": [{"path": fifo}]}, "is a FIFO"),
            ({"disks": [{"path": fifo, "readonly": True}]}, "is a FIFO"),
            ({"kernel": os.path.join(v.images, "k.sock")}, "is a socket"),
            ({"disks": [{"path": os.path.join(v.images, "k.dir")}]}, "is a directory"),
            ({"disks": [{"path": os.path.join(v.images, "null.img")}]}, "is a character device")):
        e = c.error("vm.create", dict({"name": "x"}, **cfg))
        check(e["code"] == -32004 and needle in e["message"], f"{cfg}: {e}")
    sock.close()
    check(c.call("vm.list", {}) is not None, "vmms stopped answering")
    for name in ("..", ".", "a/b", "../../etc", "x" * 65, ""):
        e = c.error("vm.create", {"name": name})
        check(e["code"] == -32004 and e["message"].startswith("name"), f"name {name!r}: {e}")
    # Inside: fine, also through a link that stays inside.
    os.symlink("ok.img", os.path.join(v.images, "link.img"))
    v.image("ok.img")
    c.call("vm.create", {"name": "ok", "kernel": os.path.abspath(GUEST), "cmdline": "scenario=idle",
                         "disks": [{"path": os.path.join(v.images, "link.img")}]})
    if os.path.exists("/dev/kvm"):
        vm = c.call("vm.start", {"name": "ok"})
        v.track(vm)
        check(vm["state"] == "Running", f"{vm}")
        c.call("vm.stop", {"name": "ok", "turn_off": True})
    # A file swapped for a link after the VM was created is refused when it starts.
    os.unlink(os.path.join(v.images, "ok.img"))
    os.symlink("/etc/passwd", os.path.join(v.images, "ok.img"))
    e = c.error("vm.start", {"name": "ok"})
    check("leads out" in e["message"], f"{e}")
    c.close()
    v.stop()


def case_unconfined(v):
    """vmwp by hand refuses to run a VM outside its cage, unless told --unconfined; vmjail
    cages it as vmms does."""
    need_kvm()
    p = subprocess.run([VMWP, "--memory", "64", "--cmdline", "scenario=hello"], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 2 and "Refusing to run a VM outside the cage" in p.stderr and "vmjail" in p.stderr,
          f"bare vmwp: {p.returncode} {p.stderr}")
    check("#VMMS" not in p.stdout, "the guest ran")
    p = subprocess.run([VMWP, "--unconfined", "--memory", "64", "--cmdline", "scenario=hello"], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and "--unconfined" in p.stderr and "WITHOUT its cage" in p.stderr,
          f"--unconfined: {p.returncode} {p.stderr}")
    check("status=pass" in p.stdout, p.stdout)
    p = subprocess.run([VMJAIL, "--memory", "64", "--cmdline", "scenario=hello"], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0 and "status=pass" in p.stdout and "WITHOUT" not in p.stderr,
          f"vmjail: {p.returncode} {p.stderr}")
    p = subprocess.run([VMJAIL, "--unconfined"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "not for vmjail" in p.stderr, f"vmjail --unconfined: {p.returncode} {p.stderr}")
    # A forbidden system call under vmjail: reported by name, the exit status says SIGSYS.
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "vm.json")
        ctl = os.path.join(d, "ctl.sock")
        with open(cfg, "w") as f:
            json.dump({"name": "dbg", "memory": "64M", "cmdline": "scenario=idle", "debug": True}, f)
        j = subprocess.Popen([VMJAIL, "--config", cfg, "--control", ctl], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: os.path.exists(ctl), 10, "the control socket")
            try:
                Rpc(ctl).request("debug.forbidden_syscall", {"syscall": "mount"})
            except (EOFError, ConnectionResetError):
                pass
            _, err = j.communicate(timeout=20)
        finally:
            if j.poll() is None:
                j.kill()
                j.wait()
        check(j.returncode == 128 + signal.SIGSYS and "seccomp violation: mount" in err,
              f"vmjail: {j.returncode} {err}")


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    return run_vmms_case(CASES, make_vmms)


if __name__ == "__main__":
    sys.exit(main())
