#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The storage VSP against real KVM: the bundled guest kernel's virtio-blk scenarios on vmwp
(and on QEMU q35 for comparison), then the image files themselves are checked on the host.

Usage: blk-test.py CASE   (environment: VMWP, GUEST_KERNEL, SOURCE_ROOT)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import Fail, Skip, check, need_dev_kvm, run_script_case, vmwp_cmd, wait_for_line, Control  # noqa: E402

VMWP = os.environ.get("VMWP", "build/src/vmwp/vmwp")
GUEST = os.environ.get("GUEST_KERNEL", "build/guest/kernel/vmguest.elf")
VMJAIL = os.environ.get("VMJAIL", os.path.join(os.path.dirname(VMWP), "../vmms/vmjail"))

MIB = 1 << 20
SECTOR = 512
M64 = (1 << 64) - 1
K1, K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F


# --- the guest's report lines ----------------------------------------------------------

def reports(out, kind, prefix=None):
    """'#VMMS <kind> k=v ...' lines as dicts; with prefix, only info lines starting with it."""
    res = []
    for line in out.splitlines():
        m = re.match(r"#VMMS (\w+)\s*(.*)$", line.strip())
        if not m or m.group(1) != kind:
            continue
        if prefix and not m.group(2).startswith(prefix + " "):
            continue
        res.append(dict(re.findall(r"(\w+)=(\S+)", m.group(2))))
    return res


def metric(out, name):
    for r in reports(out, "metric"):
        if r.get("name") == name:
            return float(r["value"])
    raise Fail(f"no metric {name}:\n{out}")


def expect_pass(out, scenario):
    res = reports(out, "result")
    check(res, f"no result line from scenario {scenario}:\n{out}")
    check(res[-1].get("scenario") == scenario and res[-1].get("status") == "pass",
          f"scenario {scenario} did not pass: {res[-1]}\n{out}")


# --- images ------------------------------------------------------------------------------

def scratch_dir(kind):
    """tmpfs for most cases; a disk file system (O_DIRECT for real) for kind == 'disk'."""
    if kind == "disk":
        base = "/var/tmp"
    else:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"
    return tempfile.TemporaryDirectory(prefix="vmms-blk-", dir=base)


def make_image(path, size, fill=None):
    with open(path, "wb") as f:
        if fill is None:
            f.truncate(size)
        else:
            f.write(fill)


def sector_pattern(lba, seed):
    """blk-verify's sector, as guest/kernel/README.md documents it."""
    base = ((lba * K1) & M64) ^ ((seed * K2) & M64)
    return struct.pack("<64Q", lba, seed, *[(base + i) & M64 for i in range(2, 64)])


def pattern_bytes(first, count, seed):
    return b"".join(sector_pattern(lba, seed) for lba in range(first, first + count))


def check_image(path, seed, first=0, count=None):
    """Every sector in [first, first + count) holds the pattern of seed."""
    with open(path, "rb") as f:
        f.seek(first * SECTOR)
        data = f.read() if count is None else f.read(count * SECTOR)
    n = len(data) // SECTOR
    check(count is None or n == count, f"{path}: {n} sectors, expected {count}")
    bad = []
    for i in range(n):
        lba = first + i
        if data[i * SECTOR:(i + 1) * SECTOR] != sector_pattern(lba, seed):
            bad.append(lba)
            if len(bad) >= 8:
                break
    check(not bad, f"{path}: sectors {bad} do not hold the pattern of seed {seed}")
    return n


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


# --- running VMs -------------------------------------------------------------------------

def descendants(pid):
    """Every process below pid (vmjail's worker lives in a PID namespace of its own)."""
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        try:
            for task in os.listdir(f"/proc/{cur}/task"):
                with open(f"/proc/{cur}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            pass
    return out


def worker_pid(p):
    """The vmwp process of p: p itself, or vmjail's caged child."""
    deadline = time.time() + 10
    while time.time() < deadline:
        for pid in [p.pid] + descendants(p.pid):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "vmwp":
                        return pid
            except OSError:
                pass
        time.sleep(0.01)
    raise Fail("no vmwp process found")


def stop(p, grace=10):
    """End p and everything below it: SIGTERM first (vmjail passes it on to the worker),
    then SIGKILL to each process, so that no caged worker outlives a failed test."""
    if p.poll() is not None:
        return
    below = descendants(p.pid)
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    for pid in below + [p.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    p.wait()


def run(cmd, timeout):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(p)
        raise Fail(f"timed out after {timeout}s: {' '.join(cmd)}")
    finally:
        stop(p)
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def vmwp(args, timeout=90):
    return run(vmwp_cmd() + args, timeout)


def boot(cmdline, disks, vcpus=1, memory="128M", timeout=90, extra=()):
    args = ["--vcpus", str(vcpus), "--memory", memory, "--cmdline", cmdline]
    for d in disks:
        args += ["--disk", d]
    rc, out, err = vmwp(args + list(extra), timeout=timeout)
    check("AddressSanitizer" not in err and "runtime error" not in err, f"sanitizer report:\n{err}")
    return rc, out, err


# --- cases -------------------------------------------------------------------------------

class Pauser(threading.Thread):
    """Pauses and resumes vmwp over its control socket, again and again, until stopped."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.done, self.cycles, self.error = path, threading.Event(), 0, None

    def run(self):
        try:
            ctl = Control(self.path, timeout=30)
            while not self.done.is_set():
                ctl.call("vm.pause")
                time.sleep(0.01)
                ctl.call("vm.resume")
                self.cycles += 1
                time.sleep(0.03)
        except OSError:
            pass        # vmwp exited (its exit status is checked)
        except Fail as e:
            if "socket closed" not in str(e):
                self.error = e

    def stop(self):
        self.done.set()
        self.join(timeout=30)


def verify(where="shm", cache="writeback", queues=1, vcpus=1, size=16 * MIB, seed=None, opts="", pauses=False):
    """blk-verify on vmwp, then every sector of the image checked here. With pauses, the VM
    is paused and resumed all the while (the devices come to rest each time)."""
    seed = seed if seed is not None else int(time.time()) & 0xFFFF | 1
    with scratch_dir(where) as d:
        img = os.path.join(d, "disk.img")
        make_image(img, size)
        spec = f"{img},cache={cache},queues={queues},serial=vmms-verify"
        extra, pauser = (), None
        if pauses:
            extra = ("--control", os.path.join(d, "control.sock"))
            pauser = Pauser(extra[1])
            pauser.start()
        try:
            rc, out, err = boot(f"scenario=blk-verify seed={seed} {opts}", [spec], vcpus=vcpus, extra=extra)
        finally:
            if pauser:
                pauser.stop()
        if pauser:
            # The scenario may end before the first pause where the host is fast.
            check(pauser.error is None, f"pausing failed: {pauser.error}")
            print(f"paused and resumed {pauser.cycles} times during blk-verify")
        check(rc == 0, f"exit status {rc}\n{err}\n{out}")
        expect_pass(out, "blk-verify")
        blk = reports(out, "info", "blk")
        dev = [r for r in blk if "capacity" in r]
        check(dev and int(dev[0]["capacity"]) == size // SECTOR, f"capacity wrong: {dev}")
        check(int(dev[0]["queues"]) == min(queues, vcpus) or int(dev[0]["queues"]) == queues,
              f"queues: {dev[0]}")
        ids = [r for r in blk if "serial" in r]
        check(ids and ids[0]["serial"] == "vmms-verify", f"get-id: {ids}")
        check(metric(out, "blk_verify_mismatches") == 0 and metric(out, "blk_verify_errors") == 0, out)
        n = check_image(img, seed)
        check(n == size // SECTOR, f"image holds {n} sectors")
        return out, dev[0]


def case_verify_1q_writeback():
    verify(cache="writeback")


def case_verify_1q_none():
    # cache=none on a disk file system, where O_DIRECT is real.
    verify(where="disk", cache="none")


def case_verify_4q_writeback():
    out, dev = verify(cache="writeback", queues=4, vcpus=4, size=32 * MIB)
    check(dev["queues"] == "4" and dev["cpus"] == "4", f"expected 4 queues on 4 CPUs: {dev}")
    per_q = [r for r in reports(out, "info", "blk") if "submitted" in r]
    check(len(per_q) == 4 and all(int(r["completed"]) > 0 for r in per_q), f"a queue did no work: {per_q}")


def case_verify_4q_none():
    out, dev = verify(where="disk", cache="none", queues=4, vcpus=4, size=32 * MIB)
    check(dev["queues"] == "4", f"expected 4 queues: {dev}")


def case_verify_paused():
    # Pause/resume while four queues are busy: nothing lost, nothing written twice or late.
    verify(where="disk", cache="none", queues=4, vcpus=4, size=32 * MIB, pauses=True)


def case_verify_4q_1cpu():
    # More queues than vCPUs: the boot CPU drives all four.
    out, dev = verify(cache="writeback", queues=4, vcpus=1, opts="queues=4")
    check(dev["queues"] == "4" and dev["cpus"] == "1", f"expected 4 queues on 1 CPU: {dev}")


def case_verify_poll():
    out, dev = verify(opts="blk_poll=1")
    check(dev["mode"] == "poll", f"not in poll mode: {dev}")


def case_verify_interrupt():
    out, dev = verify(opts="blk_poll=0 event_idx=0")
    check(dev["mode"] == "interrupt" and dev["event_idx"] == "0", f"not interrupt mode without EVENT_IDX: {dev}")
    per_q = [r for r in reports(out, "info", "blk") if "irqs" in r]
    check(per_q and int(per_q[0]["irqs"]) > 0, f"no interrupts counted: {per_q}")


def case_verify_qsize16():
    # Regression: a queue-size worth of indirect requests in flight used every slot of the
    # device, which then stopped looking at the ring (the guest's progress timeout fired).
    t0 = time.time()
    out, dev = verify(opts="qsize=16 qd=16 indirect=1")
    check(dev["queue_size"] == "16" and dev["indirect"] == "1", f"{dev}")
    check(time.time() - t0 < 20, "blk-verify with qsize=16 was slow")
    out, dev = verify(queues=2, vcpus=2, opts="qsize=16 qd=64 indirect=1 blk_poll=1")
    check(dev["queue_size"] == "16", f"{dev}")


def case_hostile():
    with scratch_dir("shm") as d:
        rw, ro = os.path.join(d, "rw.img"), os.path.join(d, "ro.img")
        make_image(rw, 16 * MIB)
        make_image(ro, 4 * MIB, fill=pattern_bytes(0, 8192, 3))
        before = sha256(ro)
        rc, out, err = boot("scenario=blk-hostile", [rw, ro + ",ro"], timeout=120)
        check(rc == 0, f"exit status {rc}\n{err}")
        expect_pass(out, "blk-hostile")
        cases = [r for r in reports(out, "info", "blk-hostile") if "case" in r]
        check(len(cases) >= 25, f"only {len(cases)} cases ran:\n{out}")
        bad = [r for r in cases if r.get("verdict") != "pass"]
        check(not bad, f"cases that did not pass: {bad}")
        check(all(r.get("recovered") == "1" for r in cases), "a case did not recover")
        summary = [r for r in reports(out, "info", "blk-hostile") if "cases" in r]
        check(summary and summary[0]["fail"] == "0" and summary[0]["skip"] == "0", f"{summary}")
        check(sha256(ro) == before, "the read-only image changed")
        check("vmwp" not in err or "Assertion" not in err, err)


def durable(cache, where, fmt="raw"):
    """SIGKILL the worker while the guest writes without flushing: what was flushed is in
    the image. A qcow2 image must also pass qemu-img check (leaked clusters are allowed:
    exit 0 or 3; corruption is not)."""
    seed = 0x5eed
    with scratch_dir(where) as d:
        img = os.path.join(d, "disk.img")
        size = 32 * MIB
        if fmt == "qcow2":
            qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", img, str(size))
        else:
            make_image(img, size)
        p = subprocess.Popen(vmwp_cmd() + ["--memory", "128M", "--disk", f"{img},cache={cache},format={fmt}",
                                           "--cmdline", f"scenario=blk-durable seed={seed}"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            worker = worker_pid(p)
            out = wait_for_line(p.stdout, b"blk-durable flushed=1", 60)
            if fmt == "qcow2":
                time.sleep(0.3)                 # let the unflushed writes allocate
            os.kill(worker, signal.SIGKILL)     # the worker itself, not vmjail
            p.wait(timeout=30)
        finally:
            stop(p)
        # vmwp itself: killed by SIGKILL; vmjail: exits 128 + 9 for it
        check(p.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL),
              f"the worker ended with {p.returncode}, not by the kill:\n{out.decode()}")
        line = reports(out.decode(errors="replace"), "info", "blk-durable")
        check(line and line[0]["status"] == "ok", f"flush failed: {line}")
        sectors = int(line[0]["sectors"])
        check(sectors == size // SECTOR // 2, f"flushed {sectors} sectors")
        if fmt == "qcow2":
            rc, report = qemu_img("check", img, ok=(0, 3))
            print(f"qemu-img check after SIGKILL: exit {rc}: {report.strip().splitlines()[-1]}")
            check("ERROR" not in report and "corrupt" not in report.lower(), report)
            raw = os.path.join(d, "view.raw")
            qemu_img("convert", "-O", "raw", img, raw)
            img = raw
        check_image(img, seed, 0, sectors)


def case_durable_writeback():
    durable("writeback", "shm")


def case_durable_none():
    durable("none", "disk")


def case_ro():
    seed = 77
    with scratch_dir("shm") as d:
        img = os.path.join(d, "ro.img")
        make_image(img, 8 * MIB, fill=pattern_bytes(0, 8 * MIB // SECTOR, seed))
        os.chmod(img, 0o444)
        before, mtime = sha256(img), os.stat(img).st_mtime_ns
        rc, out, err = boot("scenario=blk-ro", [img + ",ro"])
        check(rc == 0, f"exit status {rc}\n{err}")
        expect_pass(out, "blk-ro")
        writes = [r for r in reports(out, "info", "blk-ro") if "sector" in r]
        check(len(writes) == 2 and all(w["status"] == "ioerr" for w in writes), f"writes: {writes}")
        dev = [r for r in reports(out, "info", "blk") if "capacity" in r]
        check(dev and dev[0]["ro"] == "1" and dev[0]["discard"] == "0", f"{dev}")
        check(sha256(img) == before and os.stat(img).st_mtime_ns == mtime, "the read-only image changed")
        check_image(img, seed)


def case_enospc():
    """The image lives on a 1 MiB tmpfs (a private mount namespace): writes past the space end
    in IOERR, the device counts them, the guest goes on."""
    if not shutil.which("unshare"):
        raise Skip("unshare(1) not found")
    with tempfile.TemporaryDirectory(prefix="vmms-blk-") as d:
        mnt = os.path.join(d, "small")
        os.mkdir(mnt)
        ctl_path = os.path.join(d, "control.sock")
        img = os.path.join(mnt, "disk.img")
        script = ('mount -t tmpfs -o size=1m vmms-enospc "$0" || exit 77; '
                  'truncate -s 16M "$0/disk.img" || exit 77; exec "$@"')
        p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, mnt]
                             + vmwp_cmd() + ["--memory", "128M", "--disk", img, "--control", ctl_path,
                                             "--cmdline", "scenario=blk-errors hold=1"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            try:
                out = wait_for_line(p.stdout, b"blk-errors holding=1", 90).decode(errors="replace")
            except Fail:
                if p.poll() == 77 or (p.wait(timeout=10) == 77):
                    raise Skip("cannot mount a tmpfs in a private mount namespace")
                raise
            expect_pass(out, "blk-errors")
            res = reports(out, "info", "blk-errors")[0]
            ioerr, ok = int(res["writes_ioerr"]), int(res["writes_ok"])
            check(ioerr > 0 and ok > 0, f"{res}")
            check(res["needs_reset"] == "0" and res["mismatches"] == "0", f"{res}")
            info = Control(ctl_path).call("vm.info")
            check(info["state"] == "running", f"the VM is not running: {info}")
            disks = info.get("disks")
            check(disks and len(disks) == 1, f"vm.info has no disks: {info}")
            st = disks[0]
            check(st["io_errors"] == ioerr, f"device counted {st['io_errors']} I/O errors, the guest saw {ioerr}")
            check(st["ring_errors"] == 0 and st["writes"] >= ok, f"{st}")
            Control(ctl_path).call("vm.power_button")
            _, err = p.communicate(timeout=60)
            check(p.returncode == 0, f"exit {p.returncode}\n{err.decode()}")
            check(b"AddressSanitizer" not in err, err.decode())
        finally:
            stop(p)


def case_caged():
    """The storage path inside the worker's cage (vmjail: its own uid, no capabilities, the
    seccomp allowlist): both backends (io_uring on a disk file system, inline on tmpfs),
    reads, writes, flush, discard, write-zeroes, get-id, several queues."""
    if not os.path.exists(VMJAIL):
        raise Skip(f"{VMJAIL} not built")
    seed = 99
    for where, cache in (("shm", "none"), ("disk", "none"), ("disk", "writeback")):
        with scratch_dir(where) as d:
            img = os.path.join(d, "disk.img")
            make_image(img, 16 * MIB)
            rc, out, err = run([VMJAIL, "--kernel", GUEST, "--vcpus", "2", "--memory", "128M",
                                "--disk", f"{img},cache={cache},queues=2,serial=caged",
                                "--cmdline", f"scenario=blk-verify seed={seed}"], 90)
            if rc != 0 and ("cgroup" in err or "namespace" in err) and "seccomp" not in err:
                raise Skip(f"vmjail cannot build the cage here: {err.strip().splitlines()[-1]}")
            check(rc == 0, f"{where} cache={cache}: exit {rc}\n{err}\n{out}")
            check("seccomp" not in err, f"seccomp violation:\n{err}")
            expect_pass(out, "blk-verify")
            check_image(img, seed)


# --- qcow2 (qemu-img is the referee) ------------------------------------------------------

def qemu_img(*args, ok=(0,)):
    if not shutil.which("qemu-img"):
        raise Skip("qemu-img not found (scripts/setup installs qemu-utils)")
    p = subprocess.run(["qemu-img", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    check(p.returncode in ok, f"qemu-img {' '.join(args)}: exit {p.returncode}\n{p.stdout.decode()}")
    return p.returncode, p.stdout.decode()


def qcow2_check_pattern(d, img, seed, size):
    """qemu-img check is clean, and the guest's view (converted to raw) holds the pattern."""
    qemu_img("check", "-q", img)
    raw = os.path.join(d, "view.raw")
    qemu_img("convert", "-O", "raw", img, raw)
    check_image(raw, seed, 0, size // SECTOR)
    os.unlink(raw)


def qcow2_ro_read(img, seed):
    """The guest reads img (read-only) and finds the pattern of seed everywhere."""
    size = os.path.getsize(img) if img.endswith(".raw") else None
    rc, out, err = boot(f"scenario=blk-ro ro_seed={seed} ro_bytes={64 * MIB}", [f"{img},format=qcow2,ro"])
    check(rc == 0, f"exit status {rc}\n{err}\n{out}")
    expect_pass(out, "blk-ro")
    line = [r for r in reports(out, "info", "blk-ro") if "mismatches" in r]
    check(line and line[0]["mismatches"] == "0", f"{line}")
    return size


def qcow2_verify(img, seed, cache="writeback", queues=1, vcpus=1):
    rc, out, err = boot(f"scenario=blk-verify seed={seed}",
                        [f"{img},format=qcow2,cache={cache},queues={queues},serial=vmms-qcow2"], vcpus=vcpus)
    check(rc == 0, f"exit status {rc}\n{err}\n{out}")
    expect_pass(out, "blk-verify")
    check(metric(out, "blk_verify_mismatches") == 0 and metric(out, "blk_verify_errors") == 0, out)
    return out


def case_qcow2_verify_1q():
    size = 16 * MIB
    with scratch_dir("shm") as d:
        img = os.path.join(d, "disk.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", img, str(size))
        qcow2_verify(img, 11)
        qcow2_check_pattern(d, img, 11, size)


def case_qcow2_verify_4q_none():
    # Four queues allocating at once, O_DIRECT on a disk file system.
    size = 32 * MIB
    with scratch_dir("disk") as d:
        img = os.path.join(d, "disk.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", img, str(size))
        qcow2_verify(img, 12, cache="none", queues=4, vcpus=4)
        qcow2_check_pattern(d, img, 12, size)


def case_qcow2_chain():
    """base.raw <- mid.qcow2 <- top.qcow2: the guest first reads the base's pattern through
    two levels, then blk-verify writes (256 KiB clusters on top: its 64 KiB writes copy the
    rest of each cluster up from below); the backing files stay as they were."""
    size = 16 * MIB
    with scratch_dir("shm") as d:
        base, mid, top = (os.path.join(d, n) for n in ("base.raw", "mid.qcow2", "top.qcow2"))
        make_image(base, size, fill=pattern_bytes(0, size // SECTOR, 21))
        qemu_img("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "-o", "cluster_size=4096", mid)
        qemu_img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", "-o", "cluster_size=262144", top)
        before = sha256(base), sha256(mid)
        qcow2_ro_read(top, 21)
        for queues, vcpus, seed in ((1, 1, 22), (4, 4, 23)):
            qcow2_verify(top, seed, queues=queues, vcpus=vcpus)
            qcow2_check_pattern(d, top, seed, size)
        check((sha256(base), sha256(mid)) == before, "a backing file changed")
        qemu_img("check", "-q", mid)


def case_qcow2_compressed():
    """An image qemu-img convert -c compressed reads right in the guest, and writes over its
    compressed clusters (each rewritten whole on its first write) leave a clean image."""
    size = 16 * MIB
    with scratch_dir("shm") as d:
        raw, img = os.path.join(d, "src.raw"), os.path.join(d, "c.qcow2")
        make_image(raw, size, fill=pattern_bytes(0, size // SECTOR, 31))
        qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, img)
        _, info = qemu_img("info", img)
        qcow2_ro_read(img, 31)
        qcow2_verify(img, 32)
        qcow2_check_pattern(d, img, 32, size)


def case_qcow2_durable():
    durable("writeback", "disk", fmt="qcow2")


def case_qcow2_paused():
    """A paused VM's qcow2 disk is consistent as a file (pausing writes the metadata back):
    qemu-img check, run while the VM is paused in the middle of blk-verify, finds it clean."""
    size = 32 * MIB
    with scratch_dir("disk") as d:
        img, ctl_path = os.path.join(d, "disk.qcow2"), os.path.join(d, "control.sock")
        qemu_img("create", "-q", "-f", "qcow2", img, str(size))
        p = subprocess.Popen(vmwp_cmd() + ["--memory", "128M", "--vcpus", "2", "--control", ctl_path,
                                           "--disk", f"{img},format=qcow2,queues=2",
                                           "--cmdline", "scenario=blk-verify seed=41 bs=4096"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        checked = 0
        try:
            wait_for_line(p.stdout, b"blk-verify", 60)
            ctl = Control(ctl_path, timeout=30)
            while p.poll() is None and checked < 5:
                try:
                    ctl.call("vm.pause")
                except (OSError, Fail):
                    break               # the guest finished meanwhile
                rc, report = qemu_img("check", img, ok=(0, 1, 2, 3))
                check(rc == 0, f"qemu-img check of the paused VM's disk: exit {rc}\n{report}")
                # What the file says now: every sector written so far, or zeros.
                raw = os.path.join(d, "view.raw")
                qemu_img("convert", "-O", "raw", img, raw)
                with open(raw, "rb") as f:
                    data = f.read()
                os.unlink(raw)
                zero, written = bytes(SECTOR), 0
                for lba in range(size // SECTOR):
                    sec = data[lba * SECTOR:(lba + 1) * SECTOR]
                    if sec != zero:
                        check(sec == sector_pattern(lba, 41), f"pause {checked}: sector {lba} holds neither "
                              "the pattern nor zeros")
                        written += 1
                print(f"pause {checked}: qemu-img check clean, {written} sectors written")
                checked += 1
                ctl.call("vm.resume")
                time.sleep(0.05)
            out, err = p.communicate(timeout=120)
        finally:
            stop(p)
        check(p.returncode == 0, f"exit {p.returncode}\n{err.decode()}")
        check(checked > 0, "the guest finished before the first pause")
        print(f"qemu-img check clean in {checked} pauses")
        expect_pass(out.decode(errors="replace"), "blk-verify")
        qcow2_check_pattern(d, img, 41, size)


def case_qcow2_hostile_open():
    """Images the worker must refuse, before the guest runs, with a message naming why."""
    with scratch_dir("shm") as d:
        img = os.path.join(d, "h.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", img, "16M")
        with open(img, "r+b") as f:
            f.seek(40)
            f.write(struct.pack(">Q", 1 << 40))      # the L1 table outside the file
        rc, out, err = boot("scenario=blk-verify", [f"{img},format=qcow2"])
        check(rc == 2 and "L1 table" in err, f"exit {rc}, wanted 2 with a message about the L1 table:\n{err}")
        raw = os.path.join(d, "r.img")
        make_image(raw, 16 * MIB)
        rc, out, err = boot("scenario=blk-verify", [f"{raw},format=qcow2"])
        check(rc == 2 and "not a qcow2 image" in err, f"exit {rc}:\n{err}")
        # The other way round: a raw disk whose guest wrote a qcow2 header stays raw.
        qemu_img("create", "-q", "-f", "qcow2", os.path.join(d, "q.qcow2"), "16M")
        with open(os.path.join(d, "q.qcow2"), "rb") as f, open(raw, "r+b") as g:
            g.write(f.read(4096))
        rc, out, err = boot("scenario=blk-ro ro_bytes=4096", [f"{raw},ro"])
        check(rc == 0, f"exit {rc}:\n{err}")
        dev = [r for r in reports(out, "info", "blk") if "capacity" in r]
        check(dev and int(dev[0]["capacity"]) == 16 * MIB // SECTOR, f"the raw disk's size changed: {dev}")


def case_qemu_q35():
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Skip("qemu-system-x86_64 not found")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise Skip("no /dev/kvm")
    seed = 4242
    with scratch_dir("shm") as d:
        img = os.path.join(d, "disk.img")
        size = 16 * MIB
        make_image(img, size)
        cmd = [qemu, "-enable-kvm", "-M", "q35", "-m", "128", "-smp", "1", "-nographic", "-nodefaults",
               "-serial", "stdio", "-no-reboot", "-kernel", GUEST,
               "-append", f"scenario=blk-verify seed={seed}",
               "-drive", f"file={img},if=none,id=d0,format=raw,cache=writeback",
               "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,serial=qemu-q35"]
        rc, out, err = run(cmd, 150)
        check(rc == 0, f"qemu exit {rc}\n{err}\n{out}")
        expect_pass(out, "blk-verify")
        dev = [r for r in reports(out, "info", "blk") if "capacity" in r]
        check(dev and dev[0]["msix"] == "1" and int(dev[0]["capacity"]) == size // SECTOR, f"{dev}")
        check_image(img, seed)


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


def precheck(name):
    need_dev_kvm()
    for f in (VMWP, GUEST):
        if not os.path.exists(f):
            raise Fail(f"{f} not built")


if __name__ == "__main__":
    sys.exit(run_script_case(CASES, precheck))
