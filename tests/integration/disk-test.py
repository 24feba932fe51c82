#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Disk images through vmms (issue 12): disk.create and disk.info, vmctl disk, backing
chains below --allow-dir, and the format vm.create records. qemu-img is the referee. No VM
boots here: a vm.start that fails does so while vmms opens the images, before any worker.

Usage: disk-test.py CASE   (environment: VMMS, VMCTL)
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout)."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../lib"))
from vmmstest import VMCTL, Skip, Vmms, check, run_vmms_case  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
BACKING_FORMAT_EXT = bytes.fromhex("e2792aca")  # the qcow2 header extension that names it


def qemu_img(*args):
    if not shutil.which("qemu-img"):
        raise Skip("qemu-img is not installed (Debian: qemu-utils; scripts/setup installs it)")
    p = subprocess.run(["qemu-img"] + list(args), capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"qemu-img {' '.join(args)}: {p.returncode} {p.stderr}")
    return p.stdout


def qemu_info(path):
    return json.loads(qemu_img("info", "--output=json", path))


def qemu_check_clean(path):
    out = qemu_img("check", path)
    check("No errors were found on the image." in out, f"qemu-img check {path}:\n{out}")


def case_create(v):
    """disk.create and vmctl disk create make images qemu-img agrees with, clean, with the
    backing file's name relative to the image's directory and its format recorded."""
    qemu_img("--version")
    v.start()
    c = v.client()
    img = v.images
    # A plain image: the size as given, the default 64 KiB clusters, mode 0660.
    res = c.call("disk.create", {"path": f"{img}/base.qcow2", "size": GIB})
    check(res["format"] == "qcow2" and res["virtual_size"] == GIB and res["cluster_size"] == 65536 and
          res["dirty"] is False and "backing_file" not in res and len(res["chain"]) == 1, f"disk.create: {res}")
    q = qemu_info(f"{img}/base.qcow2")
    check(q["format"] == "qcow2" and q["virtual-size"] == GIB and q["cluster-size"] == 65536 and
          "backing-filename" not in q, f"qemu-img info: {q}")
    check(q["format-specific"]["data"]["compat"] == "1.1", f"not qcow2 v3: {q}")
    qemu_check_clean(f"{img}/base.qcow2")
    check(os.stat(f"{img}/base.qcow2").st_mode & 0o777 == 0o660, "mode is not 0660")
    # vmctl: a relative PATH, sizes with units, another cluster size.
    p = subprocess.run([os.path.abspath(VMCTL), "--socket", v.socket, "disk", "create", "small.qcow2", "--size", "64M",
                        "--cluster-size", "4K"], cwd=img, capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and f"Created {img}/small.qcow2 (qcow2, 64 MiB)" in p.stdout,
          f"vmctl disk create: {p.returncode} {p.stdout} {p.stderr}")
    q = qemu_info(f"{img}/small.qcow2")
    check(q["virtual-size"] == 64 * MIB and q["cluster-size"] == 4096, f"qemu-img info: {q}")
    qemu_check_clean(f"{img}/small.qcow2")
    # A differencing image: its size is the backing file's; the name is relative.
    rc, out, err = v.vmctl("disk", "create", f"{img}/diff.qcow2", "--backing", f"{img}/base.qcow2")
    check(rc == 0 and "backing file base.qcow2" in out, f"vmctl disk create --backing: {rc} {out} {err}")
    q = qemu_info(f"{img}/diff.qcow2")
    check(q["virtual-size"] == GIB and q["backing-filename"] == "base.qcow2" and
          q["backing-filename-format"] == "qcow2", f"qemu-img info: {q}")
    qemu_check_clean(f"{img}/diff.qcow2")
    # Over a raw image in a subdirectory, with its own size; relative to the image's directory.
    os.mkdir(f"{img}/bases")
    v.image("bases/raw.img", 32 * MIB)
    res = c.call("disk.create", {"path": f"{img}/over-raw.qcow2", "backing": "bases/raw.img", "size": 48 * MIB})
    check(res["backing_file"] == "bases/raw.img" and res["backing_format"] == "raw", f"{res}")
    q = qemu_info(f"{img}/over-raw.qcow2")
    check(q["virtual-size"] == 48 * MIB and q["backing-filename"] == "bases/raw.img" and
          q["backing-filename-format"] == "raw", f"qemu-img info: {q}")
    qemu_check_clean(f"{img}/over-raw.qcow2")
    # A backing file outside the image's directory is recorded by its absolute path.
    os.mkdir(f"{img}/vms")
    res = c.call("disk.create", {"path": f"{img}/vms/child.qcow2", "backing": f"{img}/diff.qcow2"})
    check(res["backing_file"] == f"{img}/diff.qcow2" and res["virtual_size"] == GIB, f"{res}")
    q = qemu_info(f"{img}/vms/child.qcow2")
    check(q["backing-filename"] == f"{img}/diff.qcow2" and q["backing-filename-format"] == "qcow2", f"{q}")
    qemu_check_clean(f"{img}/vms/child.qcow2")
    # A raw backing file's size rounds up to whole sectors.
    v.image("odd.img", MIB + 100)
    res = c.call("disk.create", {"path": f"{img}/odd.qcow2", "backing": f"{img}/odd.img"})
    check(res["virtual_size"] == MIB + 512, f"{res}")
    c.close()


def case_info(v):
    """disk.info and vmctl disk info on a chain of three that qemu-img made in part."""
    qemu_img("--version")
    v.start()
    c = v.client()
    img = v.images
    v.image("base.img", 64 * MIB)
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.img", "-F", "raw", f"{img}/mid.qcow2")
    res = c.call("disk.create", {"path": f"{img}/top.qcow2", "backing": f"{img}/mid.qcow2"})
    check(res["virtual_size"] == 64 * MIB, f"{res}")
    # Written by qemu: allocated clusters show in "allocated".
    qemu_img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", f"{img}/qtop.qcow2")
    qemu_img("resize", "-q", f"{img}/qtop.qcow2", "128M")
    for top, size in ((f"{img}/top.qcow2", 64 * MIB), (f"{img}/qtop.qcow2", 128 * MIB)):
        res = c.call("disk.info", {"path": top})
        q = qemu_info(top)
        check(res["format"] == "qcow2" and res["virtual_size"] == size == q["virtual-size"] and
              res["cluster_size"] == 65536 and res["dirty"] is False and res["backing_file"] == "mid.qcow2" and
              res["backing_format"] == "qcow2" and res["allocated"] == q["actual-size"], f"disk.info {top}: {res}\n{q}")
        check([(e["path"], e["format"], e["virtual_size"]) for e in res["chain"]] ==
              [(top, "qcow2", size), (f"{img}/mid.qcow2", "qcow2", 64 * MIB), (f"{img}/base.img", "raw", 64 * MIB)],
              f"chain of {top}: {res['chain']}")
    res = c.call("disk.info", {"path": f"{img}/base.img"})
    check(res["format"] == "raw" and res["virtual_size"] == 64 * MIB and "cluster_size" not in res and
          len(res["chain"]) == 1, f"disk.info raw: {res}")
    rc, out, err = v.vmctl("disk", "info", f"{img}/top.qcow2")
    check(rc == 0, f"vmctl disk info: {rc} {err}")
    for needle in (f"image: {img}/top.qcow2", "file format: qcow2", "virtual size: 64 MiB (67108864 bytes)",
                   "cluster_size: 65536", f"backing file: mid.qcow2 (actual path: {img}/mid.qcow2)",
                   "backing file format: qcow2", f"    {img}/base.img (raw, 64 MiB)"):
        check(needle in out, f"vmctl disk info lacks {needle!r}:\n{out}")
    rc, out, err = v.vmctl("disk", "info", f"{img}/top.qcow2", "--json")
    check(rc == 0 and len(json.loads(out)["chain"]) == 3, f"vmctl disk info --json: {rc} {out} {err}")
    # A backing file without a recorded format is probed (it is read-only): qemu-img no
    # longer writes such images, so the backing-format extension becomes an unknown one.
    with open(f"{img}/top.qcow2", "r+b") as f:
        head = f.read(4096)
        at = head.index(BACKING_FORMAT_EXT, 104)
        f.seek(at)
        f.write(b"XTST")
    check(qemu_info(f"{img}/top.qcow2").get("backing-filename-format") is None, "the format is still recorded")
    res = c.call("disk.info", {"path": f"{img}/top.qcow2"})
    check([e["format"] for e in res["chain"]] == ["qcow2", "qcow2", "raw"], f"probed chain: {res}")
    rc, out, err = v.vmctl("disk", "--help")
    check(rc == 0 and "vmctl disk create PATH" in out and "vmctl disk info PATH" in out, f"--help: {out}")
    c.close()


def case_refusals(v):
    """Outside --allow-dir, over an existing file, a chain that loops, a backing name whose
    '..' leads out of the allowed directory, a broken chain when a VM starts."""
    qemu_img("--version")
    v.start()
    c = v.client()
    img = v.images
    outside = os.path.join(v.dir, "outside.qcow2")
    e = c.error("disk.create", {"path": outside, "size": MIB})
    check(e["code"] == -32004 and "outside the directories" in e["message"], f"outside: {e}")
    check(not os.path.exists(outside), "created outside")
    e = c.error("disk.create", {"path": f"{img}/../outside.qcow2", "size": MIB})
    check(e["code"] == -32004, f"'..': {e}")
    v.image("exists.img", MIB)
    e = c.error("disk.create", {"path": f"{img}/exists.img", "size": MIB})
    check(e["code"] == -32002 and "exists already" in e["message"], f"existing file: {e}")
    check(os.path.getsize(f"{img}/exists.img") == MIB, "the existing file changed")
    target = os.path.join(v.dir, "target.qcow2")
    os.symlink(target, f"{img}/link.qcow2")
    e = c.error("disk.create", {"path": f"{img}/link.qcow2", "size": MIB})
    check(e["code"] == -32002 and not os.path.exists(target), f"through a link: {e}")
    for params, needle in (({"path": f"{img}/x.qcow2"}, "'size' is required"),
                           ({"path": f"{img}/x.qcow2", "size": 1000}, "size: 1000"),
                           ({"path": f"{img}/x.qcow2", "size": MIB, "cluster_size": 3000}, "cluster_size: 3000"),
                           ({"path": "x.qcow2", "size": MIB}, "not an absolute path")):
        e = c.error("disk.create", params)
        check(needle in e["message"] and not os.path.exists(f"{img}/x.qcow2"), f"{params}: {e}")
    # A loop: two images that name each other.
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "b.qcow2", "-F", "qcow2", f"{img}/a.qcow2", "16M")
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "a.qcow2", "-F", "qcow2", f"{img}/b.qcow2", "16M")
    e = c.error("disk.info", {"path": f"{img}/a.qcow2"})
    check(e["code"] == -32004 and f"backing chain loops at {img}/a.qcow2" in e["message"], f"loop: {e}")
    e = c.error("disk.create", {"path": f"{img}/c.qcow2", "backing": f"{img}/b.qcow2"})
    check(e["code"] == -32004 and "backing chain loops" in e["message"], f"create over a loop: {e}")
    check(not os.path.exists(f"{img}/c.qcow2"), "created over a loop")
    e = c.error("vm.create", {"name": "loop", "disks": [{"path": f"{img}/a.qcow2"}]})
    check(e["code"] == -32004 and e["message"].startswith("disks[0].path") and "loops" in e["message"], f"{e}")
    # An image that is its own backing file.
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "self.qcow2", "-F", "qcow2", f"{img}/self.qcow2", "16M")
    e = c.error("disk.info", {"path": f"{img}/self.qcow2"})
    check("backing chain loops" in e["message"], f"self: {e}")
    # A backing name whose '..' leads out of the allowed directory, and an absolute one.
    open(os.path.join(v.dir, "secret.img"), "wb").truncate(MIB)
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", "../secret.img", "-F", "raw", f"{img}/esc.qcow2", "1M")
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", os.path.join(v.dir, "secret.img"), "-F", "raw",
             f"{img}/abs.qcow2", "1M")
    for name in ("esc.qcow2", "abs.qcow2"):
        e = c.error("disk.info", {"path": f"{img}/{name}"})
        check(e["code"] == -32004 and f"of {img}/{name}" in e["message"] and
              f"{v.dir}/secret.img is outside the directories" in e["message"], f"{name}: {e}")
        e = c.error("vm.create", {"name": "esc", "disks": [{"path": f"{img}/{name}", "format": "qcow2"}]})
        check(e["code"] == -32004 and "outside the directories" in e["message"], f"vm.create {name}: {e}")
    e = c.error("disk.create", {"path": f"{img}/d.qcow2", "backing": "../secret.img"})
    check(e["code"] == -32004 and "outside the directories" in e["message"], f"create over ../: {e}")
    # vmctl: exit 1 and the message.
    rc, out, err = v.vmctl("disk", "create", outside, "--size", "1M")
    check(rc == 1 and "outside the directories" in err, f"vmctl: {rc} {err}")
    rc, out, err = v.vmctl("disk", "create", f"{img}/y.qcow2")
    check(rc == 2 and "--size" in err, f"vmctl without --size: {rc} {err}")
    rc, out, err = v.vmctl("disk", "create", f"{img}/y.qcow2", "--size", "lots")
    check(rc == 2 and "not a size" in err, f"vmctl --size lots: {rc} {err}")
    # A chain that breaks after the VM was created: vm.start says so, as a configuration
    # error, while vmms opens the images (nothing boots).
    v.image("base.img", 16 * MIB)
    c.call("disk.create", {"path": f"{img}/vm.qcow2", "backing": f"{img}/base.img"})
    c.call("vm.create", {"name": "broken", "disks": [{"path": f"{img}/vm.qcow2"}]})
    qemu_img("rebase", "-q", "-u", "-b", "vm.qcow2", "-F", "qcow2", f"{img}/vm.qcow2")
    e = c.error("vm.start", {"name": "broken"})
    check(e["code"] == -32004 and "backing chain loops" in e["message"], f"vm.start: {e}")
    qemu_img("rebase", "-q", "-u", "-b", "../secret.img", "-F", "raw", f"{img}/vm.qcow2")
    e = c.error("vm.start", {"name": "broken"})
    check(e["code"] == -32004 and "outside the directories" in e["message"], f"vm.start: {e}")
    check(c.call("vm.get", {"name": "broken"})["state"] == "Off", "not Off after a failed start")
    c.close()


def case_vm_format(v):
    """vm.create without a format probes the image once and records what it found; a given
    format is kept (a raw image stays raw whatever it holds)."""
    qemu_img("--version")
    v.start()
    c = v.client()
    img = v.images
    qemu_img("create", "-q", "-f", "qcow2", f"{img}/q.qcow2", "16M")
    v.image("r.img", 16 * MIB)
    vm = c.call("vm.create", {"name": "f", "disks": [{"path": f"{img}/q.qcow2"}, {"path": f"{img}/r.img"},
                                                     {"path": f"{img}/q.qcow2", "format": "raw", "readonly": True},
                                                     {"path": f"{img}/q.qcow2", "metadata_cache": "4M"}]})
    disks = vm["config"]["disks"]
    check([d["format"] for d in disks] == ["qcow2", "raw", "raw", "qcow2"], f"formats: {disks}")
    check(disks[3]["metadata_cache"] == 4 * MIB and "metadata_cache" not in disks[0], f"metadata_cache: {disks}")
    stored = json.load(open(os.path.join(v.state, "vms", vm["uuid"], "config.json")))
    check([d["format"] for d in stored["disks"]] == ["qcow2", "raw", "raw", "qcow2"], f"stored: {stored}")
    # Recorded, not probed again: the image may change, the configuration does not.
    os.unlink(f"{img}/r.img")
    qemu_img("create", "-q", "-f", "qcow2", f"{img}/r.img", "16M")
    vm = c.call("vm.set", {"name": "f", "config": {"vcpus": 2}})
    check(vm["config"]["disks"][1]["format"] == "raw", f"after vm.set: {vm['config']['disks']}")
    # vmctl: --disk without format= is probed too; show names the format.
    rc, out, err = v.vmctl("create", "g", "--disk", f"{img}/q.qcow2", "--disk", f"{img}/r.img,format=raw,metadata-cache=1M")
    check(rc == 0, f"vmctl create: {rc} {err}")
    disks = c.call("vm.get", {"name": "g"})["config"]["disks"]
    check([d["format"] for d in disks] == ["qcow2", "raw"] and disks[1]["metadata_cache"] == MIB, f"{disks}")
    rc, out, err = v.vmctl("show", "g")
    check(rc == 0 and f"{img}/q.qcow2 (qcow2)" in out and f"{img}/r.img (raw)" in out, f"vmctl show: {out}")
    rc, out, err = v.vmctl("create", "h", "--disk", f"{img}/q.qcow2,format=vhdx")
    check(rc == 2 and "format" in err, f"format=vhdx: {rc} {err}")
    e = c.error("vm.create", {"name": "h", "disks": [{"path": f"{img}/r.img", "format": "vhdx"}]})
    check(e["code"] == -32004 and "disks[0].format" in e["message"], f"{e}")
    # A format the image does not have is refused when it is given for qcow2.
    v.image("plain.img", MIB)
    e = c.error("vm.create", {"name": "h", "disks": [{"path": f"{img}/plain.img", "format": "qcow2"}]})
    check(e["code"] == -32004 and "not a qcow2 image" in e["message"], f"{e}")
    c.close()


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    return run_vmms_case(CASES, lambda: Vmms(prefix="vmms-disk.", images=True))


if __name__ == "__main__":
    sys.exit(main())
