#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Saved state on real KVM: vm.save writes a running VM (the memstate guest: a memory
pattern and a timer; blk-verify with requests in flight) to a state file and a sparse
memory file, the worker ends, and a fresh caged worker (vmjail --restore) goes on where it
stopped. Also what must be refused, with
the cause named: damaged, cut-short or foreign states, a CPU the guest did not see, devices
whose state cannot be saved yet.

Usage: save-test.py CASE   (environment: VMWP (vmjail), GUEST_KERNEL)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import TIME_SCALE, Fail, Skip, check, run_script_case, vmwp_cmd, wait_for_line, Control  # noqa: E402

GUEST = os.environ.get("GUEST_KERNEL", "build/guest/kernel/vmguest.elf")
# The integration services stay on (as vmms runs VMs): these guests never drive their device.
DEFAULT_CFG = {}


# --- the state file, as include/vmms/vmstate.h describes it ------------------------------

def read_sections(path):
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"VMMSSTAT", f"{path}: no header")
    secs, off = [], 16
    while off < len(data):
        nl = struct.unpack_from("<H", data, off)[0]
        name = data[off + 2:off + 2 + nl].decode()
        ver, ln = struct.unpack_from("<IQ", data, off + 2 + nl)
        payload = data[off + 14 + nl:off + 14 + nl + ln]
        secs.append([name, ver, bytearray(payload)])
        off += 14 + nl + ln + 4
    return data[:16], secs


def write_sections(path, header, secs):
    with open(path, "wb") as f:
        f.write(header)
        for name, ver, payload in secs:
            h = struct.pack("<H", len(name)) + name.encode() + struct.pack("<IQ", ver, len(payload))
            f.write(h + bytes(payload) + struct.pack("<I", zlib.crc32(h + bytes(payload))))


# --- running -------------------------------------------------------------------------------

class Run:
    """A worker running memstate with a control socket."""

    def __init__(self, d, secs=10, extra=(), cfg=DEFAULT_CFG, vcpus=2):
        self.d = d
        cfg_path = os.path.join(d, "vm.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        self.ctl_path = os.path.join(d, "control.sock")
        if os.path.exists(self.ctl_path):
            os.unlink(self.ctl_path)
        self.p = subprocess.Popen(vmwp_cmd() + ["--config", cfg_path, "--kernel", GUEST, "--memory", "128M",
                                                "--vcpus", str(vcpus), "--control", self.ctl_path,
                                                "--cmdline", f"scenario=memstate memstate_s={secs}", *extra],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def save(self, state, after=b"memstate round=2"):
        out = wait_for_line(self.p.stdout, after, 60 * TIME_SCALE)
        ctl = Control(self.ctl_path, timeout=30 * TIME_SCALE)
        # The files are made here and passed as fds, as vmms does: the caged worker opens nothing.
        # A new memory file each time: a restored VM's memory is mapped from the old one.
        if os.path.exists(state + ".mem"):
            os.unlink(state + ".mem")
        with open(state, "wb") as s, open(state + ".mem", "w+b") as m:
            ctl.call("vm.save", _fds=(s.fileno(), m.fileno()))
        rest, err = self.p.communicate(timeout=60 * TIME_SCALE)
        check(self.p.returncode == 0, f"the saved worker exited {self.p.returncode}:\n{err.decode()}")
        check(b"saved" in err, f"no 'saved' in the worker's log:\n{err.decode()}")
        return (out + rest).decode(errors="replace")


def restore(state, timeout=120):
    p = subprocess.run(vmwp_cmd() + ["--restore", state], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout * TIME_SCALE)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def rounds(out):
    return [int(x) for x in re.findall(r"memstate round=(\d+)", out)]


def expect_pass(out, err):
    check("#VMMS result scenario=memstate status=pass" in out, f"memstate did not pass:\n{out[-3000:]}\n{err}")


# --- cases ---------------------------------------------------------------------------------

def case_save_restore():
    with tempfile.TemporaryDirectory(prefix="vmms-save-") as d:
        state = os.path.join(d, "vm.state")
        before = Run(d, secs=4).save(state)
        last = max(rounds(before))
        mem = os.stat(state + ".mem")
        print(f"saved after round {last}: state {os.path.getsize(state)} bytes, memory file "
              f"{mem.st_size >> 20} MiB with {mem.st_blocks * 512 >> 20} MiB written")
        check(mem.st_size == 128 << 20, "the memory file is not the VM's size")
        check(mem.st_blocks * 512 < 96 << 20, "the memory file is not sparse")
        names = [s[0] for s in read_sections(state)[1]]
        for n in ("config", "memory", "vcpu.0", "vcpu.1", "cpuid.0", "irqchip.ioapic", "pit", "kvmclock",
                  "serial.com1", "rtc", "pm", "end"):
            check(n in names, f"no section {n}: {names}")
        rc, out, err = restore(state)
        check(rc == 0, f"restore exited {rc}:\n{err}\n{out[-2000:]}")
        expect_pass(out, err)
        after = rounds(out)
        check("memstate filled" not in out, "the guest started over instead of going on")
        check(after and after[0] == last + 1, f"the restored guest's first round is {after[:1]}, not {last + 1}")


def case_save_repeat():
    """Save and restore 20 times in a row: nothing drifts, nothing is lost."""
    with tempfile.TemporaryDirectory(prefix="vmms-save-") as d:
        state = os.path.join(d, "vm.state")
        run = Run(d, secs=40)
        seen = rounds(run.save(state, after=b"memstate round=1"))
        for i in range(20):
            ctl_path = os.path.join(d, "control.sock")
            if os.path.exists(ctl_path):
                os.unlink(ctl_path)
            p = subprocess.Popen(vmwp_cmd() + ["--restore", state, "--control", ctl_path],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            run.p, run.ctl_path = p, ctl_path
            n = max(seen) + 1
            out = run.save(state, after=f"memstate round={n} ".encode())
            got = rounds(out)
            check(got and got[0] == max(seen) + 1, f"cycle {i}: rounds {got[:3]} after {max(seen)}")
            seen += got
        rc, out, err = restore(state, timeout=180)
        check(rc == 0, f"final restore exited {rc}:\n{err}")
        expect_pass(out, err)
        print(f"20 save/restore cycles; the guest reached round {max(rounds(out))}")


K1, K2, M64 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, (1 << 64) - 1


def sector_pattern(lba, seed):
    """blk-verify's sector (guest/kernel/README.md)."""
    base = ((lba * K1) & M64) ^ ((seed * K2) & M64)
    return struct.pack("<64Q", lba, seed, *[(base + i) & M64 for i in range(2, 64)])


def check_pattern(path, seed, size):
    with open(path, "rb") as f:
        data = f.read()
    bad = [lba for lba in range(size // 512) if data[lba * 512:(lba + 1) * 512] != sector_pattern(lba, seed)]
    check(not bad, f"{path}: sectors {bad[:8]} do not hold the pattern")


def case_save_blk():
    """Save in the middle of blk-verify, requests in flight on two queues, raw and qcow2:
    after the restore the guest's check passes and the image holds exactly its pattern."""
    for fmt, cache, where in (("raw", "writeback", "/dev/shm"), ("qcow2", "none", "/var/tmp")):
        with tempfile.TemporaryDirectory(prefix="vmms-save-", dir=where if os.path.isdir(where) else None) as d:
            img, state, size = os.path.join(d, "disk." + fmt), os.path.join(d, "vm.state"), 32 << 20
            if fmt == "raw":
                open(img, "wb").truncate(size)
            else:
                p = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, str(size)])
                if p.returncode:
                    raise Skip("qemu-img not found (scripts/setup installs qemu-utils)")
            cfg_path = os.path.join(d, "vm.json")
            with open(cfg_path, "w") as f:
                json.dump(DEFAULT_CFG, f)
            run = Run.__new__(Run)
            run.ctl_path = os.path.join(d, "control.sock")
            run.p = subprocess.Popen(vmwp_cmd() + ["--config", cfg_path, "--kernel", GUEST, "--memory", "128M",
                                                   "--vcpus", "2", "--control", run.ctl_path,
                                                   "--disk", f"{img},format={fmt},cache={cache},queues=2",
                                                   "--cmdline", "scenario=blk-verify seed=88 bs=4096 qd=16"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            run.save(state, after=b"blk-verify")
            rc, out, err = restore(state)
            check(rc == 0, f"{fmt}: restore exited {rc}:\n{err}\n{out[-2000:]}")
            check("#VMMS result scenario=blk-verify status=pass" in out, f"{fmt}: blk-verify failed after "
                  f"the restore:\n{out[-3000:]}")
            if fmt == "qcow2":
                p = subprocess.run(["qemu-img", "check", img], capture_output=True, text=True)
                check(p.returncode == 0, f"qemu-img check: {p.stdout}")
                subprocess.run(["qemu-img", "convert", "-O", "raw", img, img + ".raw"], check=True)
                img += ".raw"
            check_pattern(img, 88, size)
            print(f"{fmt}: saved during blk-verify, restored, the image holds the pattern")


def case_save_refused():
    """What cannot be saved or restored is refused, naming why, and nothing is lost."""
    with tempfile.TemporaryDirectory(prefix="vmms-save-") as d:
        # The integration services' device, once the guest drives it, cannot be saved yet:
        # the refusal names it, and the VM goes on.
        cfg_path = os.path.join(d, "ic.json")
        with open(cfg_path, "w") as f:
            json.dump({}, f)
        ctl_path = os.path.join(d, "ic.sock")
        p = subprocess.Popen(vmwp_cmd() + ["--config", cfg_path, "--kernel", GUEST, "--memory", "128M",
                                           "--control", ctl_path, "--cmdline", "scenario=ic"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_line(p.stdout, b"ic=serving", 60 * TIME_SCALE)
            ctl = Control(ctl_path, timeout=30 * TIME_SCALE)
            with open(os.path.join(d, "x"), "wb") as s, open(os.path.join(d, "x.mem"), "w+b") as m:
                try:
                    ctl.call("vm.save", _fds=(s.fileno(), m.fileno()))
                    raise Fail("vm.save of a VM whose guest drives the integration services succeeded")
                except Fail as e:
                    check("integration services" in str(e) and "cannot be saved" in str(e),
                          f"the refusal does not name the device: {e}")
                    print(f"refused: {e}")
            check(ctl.call("vm.info")["state"] == "running", "the VM did not resume after the refused save")
            ctl.call("vm.turn_off")
            p.communicate(timeout=60 * TIME_SCALE)
            check(p.returncode == 0, f"the VM did not go on: {p.returncode}")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

        state = os.path.join(d, "vm.state")
        Run(d, secs=3).save(state)
        header, secs = read_sections(state)
        good = open(state, "rb").read()

        def refused(what, needle, path=state):
            rc, out, err = restore(path)
            check(rc == 2, f"{what}: restore exited {rc}, not 2 (configuration error):\n{err}")
            check(needle in err, f"{what}: the message does not say '{needle}':\n{err}")
            check("#VMMS" not in out, f"{what}: the guest ran")
            print(f"{what}: refused: {err.strip().splitlines()[-1]}")

        with open(state, "wb") as f:            # cut short
            f.write(good[:len(good) // 2])
        refused("cut short", "cut short")
        damaged = bytearray(good)               # one bit flipped in a vCPU's section
        i = good.index(b"vcpu.0") + 40
        damaged[i] ^= 1
        with open(state, "wb") as f:
            f.write(damaged)
        refused("damaged", "vcpu.0")
        with open(state, "wb") as f:            # another format version
            f.write(good[:8] + struct.pack("<I", 99) + good[12:])
        refused("format version", "version 99")
        write_sections(state, header, [s if s[0] != "rtc" else [s[0], 7, s[2]] for s in secs])
        refused("section version", "section rtc: version 7")
        write_sections(state, header, secs[:-1] + [["nvme.0", 1, bytearray(8)]] + secs[-1:])
        refused("unknown section", "nvme.0")
        # A CPU feature the host lacks: set every bit of CPUID.7.0 EBX the guest saw.
        cpuid = [list(s) for s in secs if s[0] == "cpuid.0"][0][2]
        for k in range(0, len(cpuid), 40):
            fn, idx = struct.unpack_from("<II", cpuid, k)
            if fn == 7 and idx == 0:
                struct.pack_into("<I", cpuid, k + 16, 0xffffffff)       # ebx
        write_sections(state, header, [s if s[0] != "cpuid.0" else [s[0], s[1], cpuid] for s in secs])
        refused("CPU features", "CPU features this host lacks")
        with open(state, "wb") as f:
            f.write(good)
        os.truncate(state + ".mem", 64 << 20)   # memory of another size
        refused("memory file", "memory file holds")
        # And the good state still restores.
        os.truncate(state + ".mem", 128 << 20)
        rc, out, err = restore(state)
        check(rc == 0 and "status=pass" in out, f"the intact state did not restore: {rc}\n{err}")


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


if __name__ == "__main__":
    sys.exit(run_script_case(CASES))
