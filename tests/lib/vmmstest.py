# SPDX-License-Identifier: MIT
"""What every test driver here shares: outcomes, waiting, running vmwp by hand, and a
JSON-RPC client for a worker's control socket. Each driver exits 0 pass, 1 fail, 77 skip."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


# Hosts where guests run emulated (scripts/nested-kvm sets 4) stretch every deadline below.
TIME_SCALE = float(os.environ.get("VMMS_TEST_TIME_SCALE", "1"))


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_for(pred, timeout=10.0, what="condition"):
    """Poll pred until it returns something true; that is returned."""
    timeout *= TIME_SCALE
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise Fail(f"timed out waiting for {what}")


def wait_for_line(f, needle, timeout):
    """Read the binary stream f until a line holds needle (bytes); returns all read so far."""
    timeout *= TIME_SCALE
    deadline = time.time() + timeout
    buf = b""
    while time.time() < deadline:
        line = f.readline()
        if not line:
            break
        buf += line
        if needle in line:
            return buf
    raise Fail(f"'{needle.decode()}' not seen within {timeout}s:\n{buf.decode(errors='replace')}")


KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01


def kvm_status():
    """(usable, hw_virt, why): whether /dev/kvm can create a VM here, whether it runs a stock
    Linux kernel at full speed, and why not (empty when both hold)."""
    import fcntl
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, False, "this host has no /dev/kvm (no hardware virtualisation)"
    except OSError as e:
        return False, False, f"/dev/kvm cannot be opened: {e.strerror}"
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != 12:
            return False, False, "/dev/kvm speaks an unknown API version"
        vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        os.close(vm)
    except OSError as e:
        return False, False, f"/dev/kvm cannot create a VM: {e.strerror}"
    finally:
        os.close(fd)
    hw, why = host_has_hw_virt()
    return True, hw, why


def host_has_hw_virt():
    """(True, "") where /dev/kvm runs a stock Linux kernel at full speed (VT-x/AMD-V); else
    (False, why). PVM runs it emulated: minutes to user space (../shared/HOST-NOTES.md)."""
    if os.path.exists("/sys/module/kvm_pvm"):
        return False, "/dev/kvm here is PVM (kvm_pvm), which runs a stock Linux kernel emulated"
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    if not re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M):
        return False, "this host's CPU has no VT-x/AMD-V"
    return True, ""


_vmwp_cmd = None


def vmwp_cmd():
    """vmwp run by hand ($VMWP): outside vmms's cage it needs --unconfined, unless $VMWP is
    vmjail, which cages it; VMWP_ARGS overrides. Opening TAPs by name needs CAP_NET_ADMIN,
    which only an unconfined worker keeps (vmms and vmjail open TAPs for caged workers)."""
    global _vmwp_cmd
    if _vmwp_cmd is None:
        vmwp = os.environ.get("VMWP", "build/src/vmwp/vmwp")
        extra = os.environ.get("VMWP_ARGS")
        if extra is not None:
            _vmwp_cmd = [vmwp] + extra.split()
        else:
            h = subprocess.run([vmwp, "--help"], capture_output=True, text=True, timeout=30).stdout
            bare = os.path.basename(vmwp).startswith("vmwp") and "--unconfined" in h
            _vmwp_cmd = [vmwp] + (["--unconfined"] if bare else [])
    return list(_vmwp_cmd)


class Control:
    """A JSON-RPC client on vmwp's control socket."""

    def __init__(self, path, timeout=10):
        deadline = time.time() + timeout
        while not os.path.exists(path):
            if time.time() > deadline:
                raise Fail(f"control socket {path} never appeared")
            time.sleep(0.01)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.settimeout(timeout)
        self.buf = b""
        self.next_id = 1

    def call(self, method, _fds=(), **params):
        """The result; _fds are passed with the request (SCM_RIGHTS)."""
        rid = self.next_id
        self.next_id += 1
        data = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n"
        if _fds:
            n = socket.send_fds(self.s, [data], list(_fds))
            self.s.sendall(data[n:])
        else:
            self.s.sendall(data)
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise Fail(f"control socket closed during {method}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("id") == rid:
                if "error" in msg:
                    raise Fail(f"{method}: {msg['error']}")
                return msg["result"]


# --- JSON-RPC 2.0, one text per line: vmms' API socket (and a worker's control socket) ----

class Client:
    """A JSON-RPC client on the vmms socket; keeps notifications and passed fds."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1
        self.events = []
        self.fds = []

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_message(self):
        while b"\n" not in self.buf:
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, 16)
            self.fds += fds
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None):
        """Send a request; returns the whole response object."""
        rid = self.next_id
        self.next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": rid}
        if params is not None:
            req["params"] = params
        self.send_raw((json.dumps(req) + "\n").encode())
        while True:
            msg = self.read_message()
            if "method" in msg:
                self.events.append(msg)
                continue
            if msg.get("id") == rid or msg.get("id") is None:
                return msg

    def call(self, method, params=None):
        """The result, or Fail with the error."""
        r = self.request(method, params)
        check("result" in r, f"{method} {params}: {r.get('error')}")
        return r["result"]

    def error(self, method, params=None):
        r = self.request(method, params)
        check("error" in r, f"{method} {params} succeeded: {r.get('result')}")
        return r["error"]

    def next_event(self, timeout=10):
        if self.events:
            return self.events.pop(0)
        self.sock.settimeout(timeout)
        while True:
            msg = self.read_message()
            if "method" in msg:
                return msg


# --- a private vmms, and the runner every integration driver uses ------------------------

VMMS = os.environ.get("VMMS", "build/src/vmms/vmms")
VMCTL = os.environ.get("VMCTL", "build/src/vmctl/vmctl")


class Vmms:
    """A private vmms in a temporary directory. allow_dirs: vmms --allow-dir (an images/
    directory made here comes first when images=True); env: added to its environment."""

    def __init__(self, prefix="vmms-it.", images=False, allow_dirs=(), env=None):
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "vmms.sock")
        self.state = os.path.join(self.dir, "state")
        self.run = os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "vmms.log")
        self.images = os.path.join(self.dir, "images") if images else None
        if self.images:
            os.makedirs(self.images)
        self.allow_dirs = ([self.images] if self.images else []) + list(allow_dirs)
        self.env = dict(env or {})
        self.proc = None
        self.workers = set()

    def args(self):
        res = ["--state-dir", self.state, "--run-dir", self.run]
        for d in self.allow_dirs:
            res += ["--allow-dir", d]
        return res

    def start(self, env=None, prefix=None, wait=True, socket_arg=True):
        e = dict(os.environ)
        e.update(self.env)
        e.update(env or {})
        cmd = (prefix or []) + [VMMS] + (["--socket", self.socket] if socket_arg else []) + self.args()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, env=e)
        if wait:
            wait_for(self.answers, 10, f"vmms to answer on {self.socket}\n{self.logtext()}")
        return self.proc

    def answers(self):
        if self.proc and self.proc.poll() is not None:
            raise Fail(f"vmms exited with {self.proc.returncode}\n{self.logtext()}")
        try:
            c = Client(self.socket, timeout=2)
            c.call("host.info")
            c.close()
            return True
        except (OSError, EOFError):
            return False

    def logtext(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def client(self):
        return Client(self.socket)

    def vmctl(self, *args, user=None, timeout=60):
        cmd = [VMCTL, "--socket", self.socket] + list(args)
        if user:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * TIME_SCALE)
        return p.returncode, p.stdout, p.stderr

    def image(self, name, size=16 << 20):
        path = os.path.join(self.images, name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    def track(self, vm):
        """Remember a started VM's worker: cleanup() kills it if it outlives the test."""
        pid = vm.get("pid") if isinstance(vm, dict) else vm
        if pid:
            self.workers.add(pid)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Fail("vmms did not exit on SIGTERM")
            # A clean exit (and, in sanitizer builds, no leak report).
            check(sig != signal.SIGTERM or self.proc.returncode == 0,
                  f"vmms exited with {self.proc.returncode} on SIGTERM")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.workers:
            try:
                if "vmwp" in open(f"/proc/{pid}/cmdline").read():
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def need_kvm():
    """Cases that boot VMs: tests/lib/vm-run brings them where /dev/kvm works (nested if
    need be); this is the last word where even that could not."""
    usable, _, why = kvm_status()
    if not usable:
        raise Skip(f"these cases boot VMs: {why}")
    if os.geteuid() != 0:
        raise Skip("needs root (vmms runs as root)")


def run_vmms_case(cases, make_vmms):
    """The integration drivers' main(): run case argv[1] of cases against make_vmms();
    exit 0 pass, 1 fail (with vmms' log), 77 skip, 2 usage."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print(f"usage: {sys.argv[0]} CASE  ({', '.join(cases)})")
        return 2
    v = make_vmms()
    try:
        cases[sys.argv[1]](v)
        v.stop()
    except Skip as e:
        print(f"SKIP: {e}")
        return 77
    except Exception as e:  # noqa: BLE001 - any failure shows the daemon's log
        print(f"FAIL: {e!r}" if not isinstance(e, Fail) else f"FAIL: {e}")
        print("--- vmms log ---")
        print(v.logtext())
        return 1
    finally:
        v.cleanup()
    print("PASS")
    return 0


def need_dev_kvm(name=None):
    """The usual precheck: a case that boots VMs skips where /dev/kvm cannot be used."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise Skip("/dev/kvm is not available")


def run_script_case(cases, precheck=need_dev_kvm):
    """The kvm drivers' main(): run case argv[1] of cases (name -> function) after
    precheck(name) (which may raise Skip); meson's SIGTERM at a timeout unwinds as a
    failure, so the case's cleanup ends its VMs. Exit 0 pass, 1 fail, 77 skip, 2 usage."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print(f"usage: {sys.argv[0]} CASE; cases: {' '.join(sorted(cases))}")
        return 2

    def on_term(signo, frame):
        raise Fail(f"terminated by signal {signo} (test timeout?)")

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.time()
    try:
        if precheck:
            precheck(sys.argv[1])
        cases[sys.argv[1]]()
    except Skip as e:
        print(f"SKIP: {e}")
        return 77
    except Fail as e:
        print(f"FAIL: {e}")
        return 1
    except subprocess.TimeoutExpired as e:
        print(f"FAIL: timed out: {e}")
        return 1
    print(f"PASS ({time.time() - t0:.1f}s)")
    return 0
