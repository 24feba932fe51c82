#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmwp against real KVM: boots the bundled guest kernel (and the Debian cloud kernel) and
checks what a user sees: console output, the guest's report lines, exit statuses, messages.

Usage: vmwp-test.py CASE   (environment: VMWP, GUEST_KERNEL, SOURCE_ROOT)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import TIME_SCALE, Fail, Skip, check, need_dev_kvm, run_script_case, wait_for_line, Control, host_has_hw_virt  # noqa: E402

VMWP = os.environ.get("VMWP", "build/src/vmwp/vmwp")
GUEST = os.environ.get("GUEST_KERNEL", "build/guest/kernel/vmguest.elf")
SOURCE_ROOT = os.environ.get("SOURCE_ROOT", ".")
LINUX = os.path.join(SOURCE_ROOT, ".cache/linux/vmlinuz")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_CRASH = 0, 1, 2, 3


def run(args, timeout=60, stdin=subprocess.DEVNULL, input=None):
    """Run vmwp to completion; returns (exit status, stdout, stderr)."""
    try:
        p = subprocess.run([VMWP] + args, stdin=stdin if input is None else None, input=input,
                           capture_output=True, timeout=timeout * TIME_SCALE)
    except subprocess.TimeoutExpired as e:
        so_far = (e.stdout or b"").decode(errors="replace")[-3000:]
        raise Fail(f"vmwp {' '.join(args)}: no exit after {timeout * TIME_SCALE:.0f} s; its console so far:\n"
                   f"{so_far}") from None
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def reports(out, kind):
    """The guest's '#VMMS <kind> k=v ...' lines as dicts."""
    res = []
    for line in out.splitlines():
        m = re.match(r"#VMMS (\w+)\s*(.*)$", line.strip())
        if m and m.group(1) == kind:
            d = {}
            for k, v in re.findall(r"(\w+)=(\S+)", m.group(2)):
                d[k] = v
            res.append(d)
    return res


def expect_pass(out, scenario):
    res = reports(out, "result")
    check(res, f"no result line from scenario {scenario}:\n{out}")
    check(res[-1].get("scenario") == scenario and res[-1].get("status") == "pass",
          f"scenario {scenario} did not pass: {res[-1]}\n{out}")


def boot(scenario, *extra, vcpus=1, memory="128M", timeout=60):
    rc, out, err = run(["--vcpus", str(vcpus), "--memory", memory, "--cmdline", f"scenario={scenario}"]
                       + list(extra), timeout=timeout)
    return rc, out, err


# --- cases ---------------------------------------------------------------------------

def case_hello():
    rc, out, err = boot("hello", vcpus=2)
    check(rc == EXIT_OK, f"exit status {rc}, expected 0\n{err}")
    check("vmguest" in out, f"no banner:\n{out}")
    ready = reports(out, "ready")
    check(ready and ready[0]["vcpus"] == "2" and ready[0]["mem_mib"] == "128", f"ready line wrong: {ready}")
    expect_pass(out, "hello")
    check("powered off" in err, f"no power-off message on stderr:\n{err}")


def case_default_scenario():
    """With no command line the bundled guest serves the integration services (scenario
    "ic") until it is shut down."""
    with tempfile.TemporaryDirectory() as d:
        ctl_path = os.path.join(d, "control.sock")
        p = subprocess.Popen([VMWP, "--memory", "64", "--control", ctl_path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_line(p.stdout, b"#VMMS ready scenario=ic", 30)
            wait_for_line(p.stdout, b"#VMMS info ic=serving", 30)
            Control(ctl_path).call("vm.power_button")
            out, err = p.communicate(timeout=20)
            check(p.returncode == EXIT_OK, f"exit {p.returncode}\n{err.decode()}")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def case_smp():
    rc, out, err = boot("smp", vcpus=4)
    check(rc == EXIT_OK, f"exit {rc}\n{err}")
    online = {r["apic_id"] for r in reports(out, "info") if r.get("online") == "1"}
    check(online == {"0", "1", "2", "3"}, f"vCPUs online: {sorted(online)}\n{out}")
    expect_pass(out, "smp")


# KVM's LAPIC counts at its 1 GHz bus clock; the guest divides it by 16.
KVM_LAPIC_TIMER_HZ = 1000000000 // 16


def case_timer():
    """Every clock the guest sees at the right rate (guest/kernel/scenarios/timer.c), and the
    guest's clock against this host's: two lines window_ms apart by the guest's clock must
    arrive here that far apart, within a quarter (line delivery adds milliseconds; a clock at
    half or double speed is off by seconds)."""
    window_ms = int(1000 * TIME_SCALE)
    cmdline = (f"scenario=timer lapic_hz={KVM_LAPIC_TIMER_HZ} oneshot_ms={int(10 * TIME_SCALE)} "
               f"window_ms={window_ms}")
    p = subprocess.Popen([VMWP, "--cmdline", cmdline, "--memory", "128M"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    marks, out = {}, b""
    try:
        deadline = time.time() + 60 * TIME_SCALE
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            out += line
            m = re.match(rb"#VMMS info clock_mark n=(\d) ns=(\d+)", line.strip())
            if m:
                marks[int(m.group(1))] = (time.monotonic(), int(m.group(2)))
        p.wait(timeout=30 * TIME_SCALE)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = out.decode(errors="replace")
    check(p.returncode == EXIT_OK, f"exit {p.returncode}\n{p.stderr.read().decode(errors='replace')}\n{text}")
    expect_pass(text, "timer")
    check(1 in marks and 2 in marks, f"no clock_mark lines:\n{text}")
    host_s = marks[2][0] - marks[1][0]
    guest_s = (marks[2][1] - marks[1][1]) / 1e9
    print(f"clock window: guest {guest_s:.3f} s, host {host_s:.3f} s")
    check(0.8 <= host_s / guest_s <= 1.25,
          f"the guest's clock measured {guest_s:.3f} s while {host_s:.3f} s passed on the host")


def case_memtest_high():
    # 3 GiB crosses the PCI hole: RAM continues above 4 GiB and must be usable there too.
    rc, out, err = boot("memtest", memory="3G", timeout=180)
    check(rc == EXIT_OK, f"exit {rc}\n{err}")
    expect_pass(out, "memtest")


def case_console_input():
    lines = b"hello world\nsecond line\nquit\n"
    p = subprocess.Popen([VMWP, "--cmdline", "scenario=echo", "--memory", "64"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(lines, timeout=60)
    out = out.decode(errors="replace")
    check(p.returncode == EXIT_OK, f"exit {p.returncode}\n{err.decode()}")
    echoed = [r["echo"] for r in reports(out, "info") if "echo" in r]
    check("hello" in echoed and "second" in echoed, f"console input not echoed: {echoed}\n{out}")
    check(re.search(r"echo=hello world", out), f"line mangled:\n{out}")


def case_reset_no_reboot():
    for method in ("cf9", "i8042"):
        rc, out, err = boot("reboot", "--no-reboot", "--cmdline", f"scenario=reboot method={method}")
        check(rc == EXIT_OK, f"{method}: exit {rc}\n{err}")
        check("reset" in err and "--no-reboot" in err, f"{method}: no reset message:\n{err}")


def case_reset_restarts():
    p = subprocess.Popen([VMWP, "--cmdline", "scenario=reboot", "--memory", "64"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    buf = b""
    os.set_blocking(p.stdout.fileno(), False)
    while time.time() < deadline and buf.count(b"#VMMS ready") < 3:
        try:
            chunk = p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    check(buf.count(b"#VMMS ready") >= 3, f"guest did not boot again after reset:\n{buf.decode()}")
    check(p.returncode == EXIT_OK, f"exit {p.returncode} after SIGTERM\n{err.decode()}")


def case_triple_fault():
    rc, out, err = boot("triple-fault")
    check(rc == EXIT_CRASH, f"exit {rc}, expected {EXIT_CRASH}\n{err}")
    check("triple fault" in err, f"reason missing:\n{err}")
    check(re.search(r"RIP=[0-9a-f]{16}", err) and "CR0=" in err, f"registers missing:\n{err}")


def case_guest_panic_reports():
    rc, out, err = boot("panic")
    check(rc == EXIT_OK, f"exit {rc}\n{err}")
    a = reports(out, "assert")
    check(a and "file" in a[0] and "line" in a[0], f"no assert report with file and line:\n{out}")
    res = reports(out, "result")
    check(res and res[-1]["status"] == "fail", f"panic scenario should report fail:\n{out}")


def case_sigterm():
    p = subprocess.Popen([VMWP, "--cmdline", "scenario=idle", "--memory", "64", "--vcpus", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_line(p.stdout, b"#VMMS ready", 30)
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=10)
    check(p.returncode == EXIT_OK, f"exit {p.returncode}\n{err.decode()}")
    check(b"stopped by" in err, f"no stop message:\n{err.decode()}")
    check(time.time() - t0 < 5, "SIGTERM took too long")


def hugepages_free():
    with open("/proc/meminfo") as f:
        m = re.search(r"^HugePages_Free:\s+(\d+)", f.read(), re.M)
    return int(m.group(1)) if m else None


def case_hugepages():
    free = hugepages_free()
    if free is None or not os.access("/proc/sys/vm/nr_hugepages", os.W_OK):
        raise Skip("no hugetlbfs support or /proc/sys/vm/nr_hugepages not writable")
    # More than are free: refused up front with a message, never a SIGBUS later.
    want = max(16, free + 8)
    rc, out, err = boot("hello", "--hugepages", memory=f"{want * 2}M")
    check(rc == EXIT_CONFIG and "huge pages" in err, f"exit {rc}, expected 2 with a message:\n{err}")
    with open("/proc/sys/vm/nr_hugepages") as f:
        orig = int(f.read())
    try:
        with open("/proc/sys/vm/nr_hugepages", "w") as f:
            f.write(str(orig + 40))
        if hugepages_free() < 32:
            raise Skip("could not reserve 32 huge pages (memory too fragmented)")
        rc, out, err = boot("memtest", "--hugepages", memory="64M")
        check(rc == EXIT_OK, f"exit {rc}\n{err}")
        expect_pass(out, "memtest")
    finally:
        with open("/proc/sys/vm/nr_hugepages", "w") as f:
            f.write(str(orig))


def case_pause_resume():
    """Pausing stops every vCPU (console input is not echoed), resuming continues."""
    with tempfile.TemporaryDirectory() as d:
        ctl_path = os.path.join(d, "control.sock")
        p = subprocess.Popen([VMWP, "--cmdline", "scenario=echo", "--memory", "64", "--vcpus", "2",
                              "--control", ctl_path],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_line(p.stdout, b"#VMMS ready", 30)
            ctl = Control(ctl_path)
            check(ctl.call("vm.info")["state"] == "running", "not running after boot")
            ctl.call("vm.pause")
            check(ctl.call("vm.info")["state"] == "paused", "vm.info does not say paused")
            p.stdin.write(b"while paused\n")
            p.stdin.flush()
            os.set_blocking(p.stdout.fileno(), False)
            time.sleep(1.0)
            try:
                early = p.stdout.read() or b""
            except BlockingIOError:
                early = b""
            check(b"echo=" not in early, f"a paused guest answered: {early!r}")
            os.set_blocking(p.stdout.fileno(), True)
            ctl.call("vm.resume")
            wait_for_line(p.stdout, b"echo=while paused", 10)
            check(ctl.call("vm.info")["state"] == "running", "not running after resume")
            p.stdin.write(b"quit\n")
            p.stdin.flush()
            check(p.wait(timeout=20) == EXIT_OK, "exit status")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def case_power_button():
    """The ACPI power button: the guest sees the SCI, powers off, vmwp exits 0."""
    with tempfile.TemporaryDirectory() as d:
        ctl_path = os.path.join(d, "control.sock")
        p = subprocess.Popen([VMWP, "--cmdline", "scenario=idle", "--memory", "64", "--control", ctl_path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_line(p.stdout, b"#VMMS ready", 30)
            Control(ctl_path).call("vm.power_button")
            out, err = p.communicate(timeout=20)
            check(b"event=power-button" in out, f"guest did not see the power button:\n{out.decode()}")
            check(p.returncode == EXIT_OK and b"powered off" in err, f"exit {p.returncode}\n{err.decode()}")
            check(not os.path.exists(ctl_path), "control socket left behind")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def case_console_file():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "console.log")
        rc, out, err = boot("hello", "--console", path)
        check(rc == EXIT_OK, f"exit {rc}\n{err}")
        check(out == "", f"console went to stdout too:\n{out}")
        with open(path) as f:
            text = f.read()
        expect_pass(text, "hello")


def case_console_socket():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "console.sock")
        p = subprocess.Popen([VMWP, "--cmdline", "scenario=echo", "--memory", "64", "--console", "socket:" + path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)     # let the guest print its banner into the history
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.settimeout(30)
        buf = b""
        while b"#VMMS ready" not in buf:
            chunk = s.recv(4096)
            check(chunk, f"socket closed early: {buf.decode()}")
            buf += chunk
        s.sendall(b"via socket\nquit\n")
        while not re.search(rb"echo=via[^\n]*\n", buf):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        check(b"echo=via socket" in buf, f"socket input not echoed:\n{buf.decode()}")
        rc = p.wait(timeout=30)
        check(rc == EXIT_OK, f"exit {rc}")
        check(not os.path.exists(path), "console socket left behind")


def case_config_file():
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "vm.json")
        with open(cfg, "w") as f:
            f.write('{"name": "cfgvm", "memory": "96M", "vcpus": 3, "kernel": "%s", '
                    '"cmdline": "scenario=hello"}' % os.path.abspath(GUEST))
        rc, out, err = run(["--config", cfg])
        check(rc == EXIT_OK, f"exit {rc}\n{err}")
        ready = reports(out, "ready")
        check(ready and ready[0]["vcpus"] == "3" and ready[0]["mem_mib"] == "96", f"{ready}")
        check("vmwp[cfgvm]" in err, f"VM name not in messages:\n{err}")
        # Command-line options override the file.
        rc, out, err = run(["--config", cfg, "--vcpus", "1"])
        check(reports(out, "ready")[0]["vcpus"] == "1", "--vcpus did not override the file")


def expect_config_error(args, *needles, stdin=None):
    rc, out, err = run(args, timeout=30)
    check(rc == EXIT_CONFIG, f"{args}: exit {rc}, expected {EXIT_CONFIG}\n{err}")
    for n in needles:
        check(n in err, f"{args}: message does not mention '{n}':\n{err}")
    check("Traceback" not in err and "AddressSanitizer" not in err, err)


def case_bad_input():
    with tempfile.TemporaryDirectory() as d:
        missing = os.path.join(d, "nope.elf")
        expect_config_error(["--kernel", missing], missing, "No such file")
        trunc = os.path.join(d, "trunc.elf")
        with open(GUEST, "rb") as f:
            data = f.read()
        with open(trunc, "wb") as f:
            f.write(data[:200])
        expect_config_error(["--kernel", trunc], trunc)
        # Corrupt the program header offset.
        bad = bytearray(data)
        bad[32:40] = (len(data) - 8).to_bytes(8, "little")
        corrupt = os.path.join(d, "corrupt.elf")
        with open(corrupt, "wb") as f:
            f.write(bad)
        expect_config_error(["--kernel", corrupt], corrupt, "program header")
        junk = os.path.join(d, "junk.bin")
        with open(junk, "wb") as f:
            f.write(os.urandom(8192))
        expect_config_error(["--kernel", junk], junk, "neither")
        empty = os.path.join(d, "empty")
        open(empty, "w").close()
        expect_config_error(["--kernel", empty], "empty")
        expect_config_error(["--kernel", d], d)          # a directory
        expect_config_error(["--initrd", missing, "--kernel", GUEST], missing)
        expect_config_error(["--memory", "99T"], "memory")
        expect_config_error(["--memory", "7"], "memory")
        expect_config_error(["--memory", "lots"], "memory")
        expect_config_error(["--vcpus", "0"], "--vcpus")
        expect_config_error(["--vcpus", "100000"], "--vcpus")
        expect_config_error(["--frobnicate"])
        cfg = os.path.join(d, "bad.json")
        with open(cfg, "w") as f:
            f.write('{"memroy": "1G"}')
        expect_config_error(["--config", cfg], "memroy", cfg)
        with open(cfg, "w") as f:
            f.write('{"memory": ')
        expect_config_error(["--config", cfg], "invalid JSON")
        expect_config_error(["--config", missing], missing)
        # Larger than the host: a clear error, not an OOM kill.
        expect_config_error(["--memory", "900G"], "memory", "host")
        # An initrd that cannot fit beside the kernel in RAM.
        big = os.path.join(d, "big.img")
        with open(big, "wb") as f:
            f.truncate(60 << 20)
        expect_config_error(["--kernel", GUEST, "--initrd", big, "--memory", "32"], big, "fit")


def case_help():
    rc, out, err = run(["--help"])
    check(rc == EXIT_OK and "--kernel" in out and "--no-reboot" in out and "Exit status" in out, out)
    rc, out, err = run(["--version"])
    check(rc == EXIT_OK and out.startswith("vmwp "), out)


def case_no_kvm():
    """A host without /dev/kvm (made here: a mount namespace whose /dev lacks it): vmwp,
    vmjail and vmctl demo each say in one line why and how to run VMs anyway."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise Skip("needs root and unshare(1) to hide /dev/kvm in a mount namespace")
    vmjail = os.environ.get("VMJAIL", os.path.join(os.path.dirname(VMWP), "vmjail"))
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(VMWP))))
    vmwp = os.path.join(build, "src/vmwp/vmwp")
    vmctl = os.path.join(build, "src/vmctl/vmctl")
    hide = ("set -e; d=$(mktemp -d); mount -t tmpfs none $d; cp -a /dev/. $d/ 2>/dev/null || true; "
            "rm -f $d/kvm; mount --rbind $d /dev; exec \"$@\"")
    for cmd in ([vmwp, "--unconfined"], [vmjail], [vmctl, "demo"]):
        p = subprocess.run(["unshare", "-m", "sh", "-c", hide, "sh"] + cmd, capture_output=True, text=True,
                           timeout=60 * TIME_SCALE, stdin=subprocess.DEVNULL)
        text = p.stdout + p.stderr
        lines = [l for l in text.splitlines() if "no /dev/kvm" in l]
        check(lines and "scripts/nested-kvm" in lines[0] and "hardware virtualisation" in lines[0],
              f"{' '.join(cmd)}: no one-line reason and way out:\n{text}")
        check(p.returncode != 0 or cmd[-1] == "demo", f"{' '.join(cmd)}: exit {p.returncode}")


def case_linux_early():
    """The Debian cloud kernel's bzImage through the 64-bit boot protocol, as far as the
    decompressor's first serial output (a full boot runs emulated here: HOST-NOTES.md)."""
    if not os.path.exists(LINUX):
        raise Fail(f"{LINUX} missing: scripts/setup fetches it")
    p = subprocess.Popen([VMWP, "--kernel", LINUX, "--memory", "512",
                          "--cmdline", "earlyprintk=serial,ttyS0,115200 console=ttyS0 nokaslr"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        buf = wait_for_line(p.stdout, b"KASLR disabled", 90)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    check(b"KASLR disabled: 'nokaslr' on cmdline" in buf, buf.decode(errors="replace"))
    check(p.returncode == EXIT_OK, f"exit {p.returncode}\n{err.decode()}")


def case_linux_full():
    """A full Linux boot to a busybox init. Needs VT-x/AMD-V: under PVM a stock kernel
    runs emulated (minutes to reach user space), see ../shared/HOST-NOTES.md."""
    ok, why = host_has_hw_virt()
    if not ok:
        raise Skip(f"full Linux boot needs hardware virtualisation: {why}")
    if not os.path.exists(LINUX):
        raise Fail(f"{LINUX} missing: scripts/setup fetches it")
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        raise Fail("busybox-static missing: scripts/setup installs it")
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, "root")
        os.makedirs(os.path.join(root, "bin"))
        subprocess.run(["cp", busybox, os.path.join(root, "bin/busybox")], check=True)
        for tool in ("sh", "echo", "poweroff", "mount", "cat"):
            os.symlink("busybox", os.path.join(root, "bin", tool))
        with open(os.path.join(root, "init"), "w") as f:
            f.write("#!/bin/sh\n/bin/mount -t proc proc /proc 2>/dev/null\n"
                    "echo VMMS-LINUX-INIT-OK $(cat /proc/cpuinfo | grep -c ^processor) cpus\n"
                    "/bin/poweroff -f\n")
        os.chmod(os.path.join(root, "init"), 0o755)
        os.makedirs(os.path.join(root, "proc"))
        initrd = os.path.join(d, "initrd.cpio")
        subprocess.run(f"cd {root} && find . | cpio -o -H newc > {initrd} 2>/dev/null", shell=True, check=True)
        rc, out, err = run(["--kernel", LINUX, "--initrd", initrd, "--memory", "512", "--vcpus", "2",
                            "--cmdline", "console=ttyS0 panic=-1 rdinit=/init", "--no-reboot"], timeout=120)
        print(out[-3000:])
        check("VMMS-LINUX-INIT-OK 2 cpus" in out, "init did not run")
        check(rc == EXIT_OK, f"exit {rc}\n{err}")


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


def precheck(name):
    if name not in ("help", "no-kvm"):
        need_dev_kvm()


if __name__ == "__main__":
    sys.exit(run_script_case(CASES, precheck))
