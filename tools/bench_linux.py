#!/usr/bin/python3
"""`make bench` beside a Linux guest: the same probes in Debian's kernel under
the same QEMU machine and accelerator as Nimbus, and the floor.

tools/bench.py calls run_all() after Nimbus's series (skip it with
--no-linux); run alone, this file does the same, taking Nimbus's user-space
figures from one ubench boot per series, and writes build/bench-linux.json.

What runs (every QEMU launch is nimbuslib.build_command()'s, so the machine,
CPU model, memory, devices and accelerator are the ones Nimbus gets):

  floor   build/floor.elf (tools/floor/floor.S): a PVH kernel that reads the
          TSC at its first instruction, prints it and ends QEMU through
          isa-debug-exit. Host time from launch to QEMU's exit is the VMM's
          own cost of a boot; under -icount its TSC is the number of
          firmware instructions before any kernel's entry.
  nimbus  the figures bench.py's series lack: host time to the first user
          instruction line and to the shell prompt (`nsh$ `, default init
          manifest), to QEMU's exit with `noinit poweroff`, and the smallest
          -m that still reaches the prompt.
  linux   Debian's linux-image-amd64 (/boot/vmlinuz-*-amd64), booted through
          PVH like Nimbus (the vmlinux ELF inside the bzImage, extracted to
          build/linuxbench/vmlinux) with build/linuxbench/initramfs.cpio
          (tools/linuxbench: /init prints `linuxbench: init uptime_ns= tsc=`
          first thing, then execs the probes or ends QEMU). Boot series
          (--linux-runs boots), one probe boot (two under -icount), and the
          smallest -m that reaches /init. --linux-boot bzimage boots the
          bzImage itself instead (slower under TCG: it decompresses itself).

Every figure is a report, never a pass/fail criterion; a part that cannot
run (no Debian kernel, a boot that fails) is recorded with its reason.
"""

import argparse
import datetime
import glob
import json
import lzma
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zlib
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nimbuslib as nl  # noqa: E402

BUILD = os.path.join(nl.ROOT, "build")
LB_DIR = os.path.join(BUILD, "linuxbench")
INITRAMFS = os.path.join(LB_DIR, "initramfs.cpio")
LBENCH = os.path.join(LB_DIR, "lbench")
LBLK = os.path.join(LB_DIR, "lblk")
INITRAMFS_BLK = os.path.join(LB_DIR, "initramfs-blk.cpio")
# The modules the block benchmark's guest loads (Debian builds them as
# modules), with what modules.dep says they need.
BLK_MODULES = ("virtio_pci", "virtio_blk")
VMLINUX = os.path.join(LB_DIR, "vmlinux")
FLOOR = os.path.join(BUILD, "floor.elf")

# console on COM1 like Nimbus; quiet (no boot log over the emulated UART);
# panic=-1: a failed boot reboots, which -no-reboot turns into QEMU's exit;
# tsc=reliable: no clocksource watchdog (under TCG the TSC it watches runs at
# the host's rate and the watchdog's references are coarse). Under TCG
# tsc_early_khz= is added: microvm has neither HPET nor the port-0x61 PIT
# gate that Linux calibrates the TSC against, and without a TSC rate Linux
# hangs in its timer setup.
LINUX_APPEND = "console=ttyS0 quiet panic=-1 tsc=reliable"
ICOUNT_TSC_KHZ = 1000000  # -icount shift=0: one tick per instruction, 1 ns each

INIT_RE = re.compile(r"linuxbench: init uptime_ns=(\d+) tsc=(\d+)")
IDLE_RE = re.compile(r"linuxbench: idle_ms=(\d+)")
FLOOR_RE = re.compile(r"floor: tsc=([0-9a-fA-F]{16})")
LBENCH_RE = re.compile(r"lbench: (\S+) median_ns=(\d+) min_ns=(\d+) max_ns=(\d+) "
                       r"median_cycles=(\d+) rounds=(\d+) iters=(\d+)")
LBENCH_FAIL_RE = re.compile(r"lbench: (\S+) failed(?::\s*(.*))?$", re.M)
LBENCH_DONE_RE = re.compile(r"lbench: done")
TSC_KHZ_RE = re.compile(r"lbench: tsc_khz=(\d+)")
NIMBUS_USER_RE = re.compile(r"boot: first user instruction \((\S+)\) at (\d+) us, tsc=(\d+)")
PROMPT_RE = re.compile(r"nsh\$ ")
# With `poweroff` Nimbus powers off before its `nimbus: ready` line; the
# stages line is printed at the same point.
NIMBUS_STAGES_RE = re.compile(r"boot: stages \(us\)")
NIMBUS_PROMPT_OR_CRASH = re.compile(r"nsh\$ |EXCEPTION:|PANIC:|nimbus: fatal")
LINUX_INIT_OR_PANIC = re.compile(INIT_RE.pattern + r"|Kernel panic")

# Nimbus's probe (ubench) beside the Linux probes that do the same job.
PAIRS = (
    ("null_syscall", "getpid", "null syscall: native / Linux getpid"),
    ("getpid_linux", "getpid", "getpid: Nimbus's Linux ABI / Linux"),
    ("page_fault", "page_fault", "page fault, first touch of anonymous memory"),
    ("thread_switch_futex", "futex_ping_pong", "futex thread switch / futex ping-pong"),
    ("channel_call_cross_process", "pipe_round_trip", "channel call / pipe round trip"),
    ("channel_call_cross_process", "unix_socket_round_trip",
     "channel call / unix socket round trip"),
    ("spawn_to_exit", "fork_exit_wait", "spawn to exit / fork+exit+wait"),
    ("spawn_to_exit", "spawn_exec_wait", "spawn to exit / posix_spawn(exec)+wait"),
)


# ---- statistics and parsing (no QEMU) ---------------------------------------

def stats(values: List[float]) -> Optional[dict]:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def parse_init(text: str) -> Optional[dict]:
    """/init's lines: {"uptime_ns": N, "tsc": T, "idle_ms": I or None}, or None."""
    m = INIT_RE.search(text)
    if not m:
        return None
    idle = IDLE_RE.search(text, m.end())
    return {"uptime_ns": int(m.group(1)), "tsc": int(m.group(2)),
            "idle_ms": int(idle.group(1)) if idle else None}


def parse_floor(text: str) -> Optional[int]:
    """The floor kernel's entry TSC, or None."""
    m = FLOOR_RE.search(text)
    return int(m.group(1), 16) if m else None


def parse_lbench(text: str) -> Tuple[Dict[str, dict], Dict[str, str], bool]:
    """The probes' lines: ({name: figures}, {name: failure reason}, done)."""
    cases = {}
    for m in LBENCH_RE.finditer(text):
        cases[m.group(1)] = {"median_ns": int(m.group(2)), "min_ns": int(m.group(3)),
                             "max_ns": int(m.group(4)), "median_cycles": int(m.group(5)),
                             "rounds": int(m.group(6)), "iters": int(m.group(7))}
    failed = {m.group(1): (m.group(2) or "").strip() for m in LBENCH_FAIL_RE.finditer(text)}
    return cases, failed, LBENCH_DONE_RE.search(text) is not None


def parse_nimbus_user(text: str) -> Optional[dict]:
    """`boot: first user instruction (NAME) at US us, tsc=T` (T: TSC ticks
    since PVH entry) as a dict, or None."""
    m = NIMBUS_USER_RE.search(text)
    if not m:
        return None
    return {"program": m.group(1), "us": int(m.group(2)), "tsc": int(m.group(3))}


def line_time(r: nl.RunResult, rx) -> Optional[float]:
    """Seconds from QEMU's launch to the first serial line matching rx."""
    for t, line in r.line_times:
        if rx.search(line):
            return t
    return None


def version_key(path: str) -> list:
    """Sorts /boot/vmlinuz-6.1.0-9-amd64 before /boot/vmlinuz-6.1.0-10-amd64."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", os.path.basename(path))]


def find_kernel() -> Optional[str]:
    """LINUXBENCH_KERNEL, else the newest /boot/vmlinuz-*-amd64 (plain
    flavour first: linux-image-amd64's), else None."""
    env = os.environ.get("LINUXBENCH_KERNEL")
    if env:
        return env if os.path.exists(env) else None
    found = sorted(glob.glob("/boot/vmlinuz-*-amd64"), key=version_key)
    plain = [k for k in found if not re.search(r"-(cloud|rt)-amd64$", k)]
    return (plain or found or [None])[-1]


# ---- the vmlinux inside a bzImage -------------------------------------------

MAGICS = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"),
          (b"\x5d\x00\x00", "lzma"))


def bzimage_payload(data: bytes) -> Tuple[bytes, str]:
    """The compressed kernel inside a bzImage and its format. The x86 boot
    protocol (>= 2.08) puts payload_offset and payload_length at 0x248 and
    0x24c, relative to the protected-mode code after (setup_sects + 1) * 512
    bytes of real-mode setup."""
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        raise ValueError("not a bzImage (no HdrS boot header)")
    version = struct.unpack_from("<H", data, 0x206)[0]
    if version < 0x208:
        raise ValueError(f"boot protocol {version >> 8}.{version & 0xff:02d} has no payload "
                         "fields (2.08+)")
    setup_sects = data[0x1f1] or 4
    start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", data, 0x248)
    payload = data[start + offset:start + offset + length]
    if len(payload) != length or not length:
        raise ValueError("bzImage payload runs past the end of the file")
    for magic, fmt in MAGICS:
        if payload.startswith(magic):
            return payload, fmt
    raise ValueError(f"unknown payload compression (magic {payload[:6].hex()})")


def decompress(payload: bytes, fmt: str) -> bytes:
    """Decompresses one stream; trailing bytes (Linux appends the size) are ignored."""
    if fmt == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if fmt == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload)
    if fmt == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
    if fmt == "zstd":
        if not shutil.which("zstd"):
            raise ValueError("zstd payload and no zstd program")
        return subprocess.run(["zstd", "-dc"], input=payload, capture_output=True,
                              check=True, timeout=120).stdout
    raise ValueError(f"unknown compression {fmt!r}")


def extract_vmlinux(bzimage: str, out: str = VMLINUX) -> str:
    """Writes the ELF vmlinux inside bzimage to out (reused while newer than
    the bzImage and made from the same file) and returns out."""
    tag = out + ".src"
    try:
        if (os.path.getmtime(out) >= os.path.getmtime(bzimage)
                and open(tag).read() == os.path.realpath(bzimage)):
            return out
    except OSError:
        pass
    with open(bzimage, "rb") as f:
        data = f.read()
    elf = decompress(*bzimage_payload(data))
    if not elf.startswith(b"\x7fELF"):
        raise ValueError("the bzImage payload is not an ELF vmlinux")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(out + ".tmp", out)
    with open(tag, "w") as f:
        f.write(os.path.realpath(bzimage))
    return out


def has_pvh_note(path: str) -> bool:
    """True if the ELF file has a Xen note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY)
    in a PT_NOTE segment (where QEMU's PVH loader looks)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data,
                                                                  phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def elf_load_end(path: str) -> Optional[int]:
    """The highest physical address (p_paddr + p_memsz) of the ELF's PT_LOAD
    segments: a PVH guest with less memory cannot hold the image."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return None
        phoff = struct.unpack_from("<Q", head, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    end = 0
    for i in range(phnum):
        p_type, _, _, _, p_paddr, _, p_memsz = struct.unpack_from("<IIQQQQQ", table,
                                                                  i * phentsize)
        if p_type == 1:  # PT_LOAD
            end = max(end, p_paddr + p_memsz)
    return end or None


# ---- launching ----------------------------------------------------------------

_host_tsc_khz: Optional[int] = None


def host_tsc_khz() -> Optional[int]:
    """The host's TSC rate (which TCG passes to the guest), measured by lbench."""
    global _host_tsc_khz
    if _host_tsc_khz is None:
        try:
            out = subprocess.run([LBENCH, "tsc-khz"], capture_output=True, text=True,
                                 timeout=20).stdout
            m = TSC_KHZ_RE.search(out)
            _host_tsc_khz = int(m.group(1)) if m else 0
        except (OSError, subprocess.TimeoutExpired):
            _host_tsc_khz = 0
    return _host_tsc_khz or None


def linux_append(accel: str, icount: bool, words: List[str]) -> str:
    khz = ICOUNT_TSC_KHZ if icount else host_tsc_khz() if accel == "tcg" else None
    s = LINUX_APPEND + (f" tsc_early_khz={khz}" if khz else "")
    return s + (" -- " + " ".join(words) if words else "")


def boot_linux(kernel: str, accel: str, icount: bool, machine: str, memory: str,
               timeout: float, words: List[str] = (), until=None, initrd: str = INITRAMFS,
               extra: List[str] = ()) -> nl.RunResult:
    return nl.boot(timeout, until=until, kernel=kernel, initrd=initrd, machine=machine,
                   memory=memory, accel=accel, icount=icount, extra=list(extra),
                   append=linux_append(accel, icount, list(words)))


# ---- the block benchmark's Linux guest ------------------------------------------

def module_order(dep_text: str, wanted) -> List[str]:
    """The modules.dep paths to load for `wanted` (module names), each after
    what it needs."""
    deps = {}
    for line in dep_text.splitlines():
        if ":" in line:
            path, rest = line.split(":", 1)
            deps[path.strip()] = rest.split()
    by_name = {os.path.basename(p).split(".ko")[0].replace("-", "_"): p for p in deps}
    order: List[str] = []

    def visit(path: str, seen=()) -> None:
        if path in order or path in seen:
            return
        for d in deps.get(path, []):
            visit(d, seen + (path,))
        order.append(path)

    for name in wanted:
        if name not in by_name:
            raise ValueError(f"no module {name} in modules.dep")
        visit(by_name[name])
    return order


def build_blk_initramfs(kernel: str, out: str = INITRAMFS_BLK) -> str:
    """/init, /lblk and the virtio modules of `kernel` (/lib/modules/VERSION)
    with /modules/order: the block benchmark's initramfs."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "linuxbench"))
    import mkinitramfs  # noqa: E402
    import mkinitrd  # noqa: E402
    mdir = os.path.join("/lib/modules", kernel_version(kernel))
    with open(os.path.join(mdir, "modules.dep")) as f:
        paths = module_order(f.read(), BLK_MODULES)
    if any(not p.endswith(".ko") for p in paths):
        raise ValueError("compressed modules are not supported: " + ", ".join(paths))
    specs = [f"init={os.path.join(LB_DIR, 'init')}", f"lblk={LBLK}"]
    specs += [f"modules/{os.path.basename(p)}={os.path.join(mdir, p)}" for p in paths]
    order = os.path.join(LB_DIR, "modules-order.txt")
    with open(order, "w") as f:
        f.write("".join(os.path.basename(p) + "\n" for p in paths))
    specs.append(f"modules/order={order}")
    blob = mkinitramfs.build(mkinitrd.collect(None, specs))
    with open(out + ".tmp", "wb") as f:
        f.write(blob)
    os.replace(out + ".tmp", out)
    return out


def run_linux_blk(extra: List[str], words: List[str], timeout: float, machine: str = "q35",
                  memory: str = "256M", accel: str = "tcg",
                  kernel: Optional[str] = None) -> Tuple[Optional[nl.RunResult], Optional[str]]:
    """One boot of the Linux guest running lblk on /dev/vda (the disk of
    `extra`): (the run, None) or (None, why it cannot run)."""
    bz = kernel or find_kernel()
    if not bz:
        return None, ("no Debian kernel in /boot (tools/linuxbench/deps.sh installs "
                      "linux-image-amd64 as root)")
    if not os.path.exists(LBLK) or not os.path.exists(os.path.join(LB_DIR, "init")):
        return None, "build/linuxbench/lblk is missing (make linuxbench)"
    try:
        vmlinux = extract_vmlinux(bz)
        initrd = build_blk_initramfs(bz)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        return None, f"cannot prepare the Linux guest: {e}"
    r = boot_linux(vmlinux, accel, False, machine, memory, timeout, ["blk", *words],
                   until=re.compile(r"blkbench: done|linuxbench: blk failed|Kernel panic"),
                   initrd=initrd, extra=extra)
    return r, None


def why(r: nl.RunResult) -> str:
    if r.timed_out:
        return f"timed out after {r.elapsed:.0f} s"
    if r.vm_error:
        return r.vm_error
    tail = [ln for ln in r.lines if ln.strip()][-1:] or [r.stderr.strip()[-200:]]
    return f"QEMU exit {r.qemu_status}: {tail[0][:160]}"


def smallest_memory(ok: Callable[[int], bool], lo: int = 1, hi: int = 256) -> Optional[int]:
    """Bisects (lo, hi] MiB for the smallest size where ok(size) holds,
    taking ok as monotonic and lo as failing; None if hi fails."""
    if not ok(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def bisect_memory(name: str, attempt: Callable[[int], nl.RunResult], good,
                  lo: int = 1, hi: int = 256) -> dict:
    tries = []

    def ok(mib: int) -> bool:
        r = attempt(mib)
        m = good(r)
        tries.append({"mib": mib, "ok": bool(m), "seconds": round(r.elapsed, 2)})
        print(f"  {name} -m {mib}M: {'boots' if m else 'fails (' + why(r) + ')'}", flush=True)
        return bool(m)

    return {"smallest_mib": smallest_memory(ok, lo=lo, hi=hi), "searched_mib": [lo, hi],
            "tries": tries}


# ---- the three guests ---------------------------------------------------------

def run_floor(accel: str, icount: bool, runs: int, timeout: float, machine: str,
              memory: str) -> dict:
    """Boots the floor kernel `runs` times: host ms from launch to QEMU's
    exit, and its entry TSC (instructions before entry under -icount)."""
    exit_ms, tscs, failures = [], [], []
    for i in range(runs):
        r = nl.boot(timeout, kernel=FLOOR, initrd=None, machine=machine, memory=memory,
                    accel=accel, icount=icount)
        tsc = parse_floor(r.output)
        if r.status != nl.STATUS_OK or tsc is None:
            failures.append(f"run {i + 1}: {why(r)}")
            continue
        exit_ms.append(r.elapsed * 1000)
        tscs.append(tsc)
    return {"accel": accel, "icount": icount, "machine": machine, "memory": memory,
            "runs": runs, "runs_ok": len(exit_ms), "failures": failures,
            "host_exit_ms": stats(exit_ms), "entry_tsc": stats(tscs),
            "deterministic": len(set(tscs)) == 1 if icount and tscs else None,
            "image_bytes": os.path.getsize(FLOOR)}


def run_nimbus(accel: str, icount: bool, runs: int, timeout: float, machine: str,
               memory: str) -> dict:
    """Nimbus to the shell prompt (default init manifest) `runs` times, and
    to QEMU's exit with `noinit poweroff` `runs` times."""
    user_ms, prompt_ms, ready_ms, user_tsc, exit_ms, failures = [], [], [], [], [], []
    for i in range(runs):
        r = nl.boot(timeout, until=PROMPT_RE, machine=machine, memory=memory, accel=accel,
                    icount=icount)
        u = parse_nimbus_user(r.output)
        t = line_time(r, NIMBUS_USER_RE)
        if not r.stopped or u is None or t is None:
            failures.append(f"prompt run {i + 1}: {why(r)}")
            continue
        user_ms.append(t * 1000)
        prompt_ms.append(r.until_time * 1000)
        user_tsc.append(u["tsc"])
    for i in range(runs):
        r = nl.boot(timeout, machine=machine, memory=memory, accel=accel, icount=icount,
                    append="noinit poweroff")
        t = line_time(r, NIMBUS_STAGES_RE)
        if r.status != nl.STATUS_OK or t is None:
            failures.append(f"poweroff run {i + 1}: {why(r)}")
            continue
        ready_ms.append(t * 1000)
        exit_ms.append(r.elapsed * 1000)
    return {"accel": accel, "icount": icount, "machine": machine, "memory": memory,
            "runs": runs, "failures": failures,
            "host_user_ms": stats(user_ms), "host_prompt_ms": stats(prompt_ms),
            "host_ready_ms": stats(ready_ms), "host_exit_ms": stats(exit_ms),
            "user_tsc": stats(user_tsc),
            "deterministic": len(set(user_tsc)) == 1 if icount and user_tsc else None}


def run_linux(accel: str, icount: bool, runs: int, timeout: float, machine: str,
              memory: str = "256M", kernel: Optional[str] = None, probe_boots: int = 1) -> dict:
    """`runs` boots to /init (which ends QEMU at once: host ms to the /init
    line and to QEMU's exit, the guest's uptime and TSC there), then
    `probe_boots` boots that run the probes. Under -icount the boot figures
    come from the probe boots' /init lines."""
    kernel = kernel or VMLINUX
    init_ms, exit_ms, uptime_ms, tscs, idle_ms, failures = [], [], [], [], [], []
    for i in range(runs):
        r = boot_linux(kernel, accel, icount, machine, memory, timeout)
        init = parse_init(r.output)
        t = line_time(r, INIT_RE)
        if init is None or t is None:
            failures.append(f"boot {i + 1}: no /init line ({why(r)})")
            print(f"  linux boot {i + 1}: FAILED: {why(r)}", flush=True)
            continue
        init_ms.append(t * 1000)
        uptime_ms.append(init["uptime_ns"] / 1e6)
        tscs.append(init["tsc"])
        if init["idle_ms"] is not None:
            idle_ms.append(init["idle_ms"])
        if r.status == nl.STATUS_OK:
            exit_ms.append(r.elapsed * 1000)
        print(f"  linux boot {i + 1}: /init after {t * 1000:.0f} ms host time, guest uptime "
              f"{init['uptime_ns'] / 1e6:.0f} ms, tsc {init['tsc']:,}", flush=True)
    probes, probe_runs = {}, []
    for i in range(probe_boots):
        t0 = time.monotonic()
        r = boot_linux(kernel, accel, icount, machine, memory, timeout * 4, ["probes"],
                       until=LBENCH_DONE_RE)
        cases, failed, done = parse_lbench(r.output)
        init = parse_init(r.output)
        probe_runs.append({"cases": cases, "failed": failed, "done": done, "init": init})
        if init and runs == 0:
            tscs.append(init["tsc"])
            uptime_ms.append(init["uptime_ns"] / 1e6)
            if init["idle_ms"] is not None:
                idle_ms.append(init["idle_ms"])
        if not done:
            failures.append(f"probe boot {i + 1}: not done ({why(r)})")
        for name, reason in failed.items():
            failures.append(f"probe boot {i + 1}: {name} failed: {reason}")
        print(f"  linux probe boot {i + 1}: {len(cases)} probes in "
              f"{time.monotonic() - t0:.0f} s" + ("" if done else f"; {why(r)}"), flush=True)
    for name in (probe_runs[0]["cases"] if probe_runs else {}):
        runs_of = [p["cases"][name] for p in probe_runs if name in p["cases"]]
        probes[name] = dict(runs_of[0])
        if len(runs_of) > 1:
            probes[name]["median_cycles_all"] = [p["median_cycles"] for p in runs_of]
    deterministic = None
    if icount and len(tscs) > 1:
        deterministic = len(set(tscs)) == 1
    return {"accel": accel, "icount": icount, "machine": machine, "memory": memory,
            "kernel": kernel, "append": linux_append(accel, icount, []),
            "runs": runs, "runs_ok": len(init_ms), "probe_boots": probe_boots,
            "failures": failures,
            "host_init_ms": stats(init_ms), "host_exit_ms": stats(exit_ms),
            "uptime_ms": stats(uptime_ms), "init_tsc": stats(tscs), "idle_ms": stats(idle_ms),
            "deterministic": deterministic, "probes": probes, "probe_runs": probe_runs}


# ---- printing -------------------------------------------------------------------

def fmt(v, nd=0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{nd}f}"


def triple(s: Optional[dict], nd=0) -> str:
    if not s:
        return f"{'—':>15}{'':>15}{'':>15}"
    return f"{fmt(s['median'], nd):>15}{fmt(s['min'], nd):>15}{fmt(s['max'], nd):>15}"


def print_floor(floors: List[dict]) -> None:
    print("\nfloor: build/floor.elf, a PVH kernel that prints its entry TSC and exits")
    print(f"  {'series':<28}{'median':>15}{'min':>15}{'max':>15}")
    for f in floors:
        name = f"{f['accel']}{'-icount' if f['icount'] else ''}"
        print(f"  {name + ' launch -> exit ms':<28}{triple(f['host_exit_ms'], 1)}")
        if f["icount"]:
            print(f"  {name + ' entry tsc':<28}{triple(f['entry_tsc'])}  instructions before "
                  "entry (firmware)")
        for x in f["failures"]:
            print(f"  ! {x}")


def print_linux(res: dict) -> None:
    """The Linux guest's table, Nimbus's extra boot figures, sizes and memory."""
    if res.get("skipped"):
        print(f"\nlinux guest: skipped: {res['skipped']}")
        return
    print(f"\nLinux guest: {res['kernel_version']} ({res['boot']}), initramfs "
          f"{res['sizes']['linux_initramfs']:,} bytes; machine {res['machine']}, "
          f"-m {res['memory']}")
    for s in res["series"]:
        name = f"{s['accel']}{'-icount' if s['icount'] else ''}"
        if s["icount"]:
            print(f"\n  {name}: {s['probe_boots']} probe boots (their /init lines give the boot "
                  "figures)")
        else:
            print(f"\n  {name}: {s['runs_ok']}/{s['runs']} boots to /init, "
                  f"{s['probe_boots']} probe boot")
        print(f"  {'':<34}{'median':>15}{'min':>15}{'max':>15}")
        if not s["icount"]:
            print(f"  {'host: launch -> /init line ms':<34}{triple(s['host_init_ms'], 1)}")
            print(f"  {'host: launch -> QEMU exit ms':<34}{triple(s['host_exit_ms'], 1)}")
        print(f"  {'guest: uptime at /init ms':<34}{triple(s['uptime_ms'], 1)}")
        print(f"  {'guest: idle before /init ms':<34}{triple(s['idle_ms'])}")
        if s["icount"]:
            same = {True: "yes", False: "no", None: "n/a"}[s["deterministic"]]
            if s["deterministic"] is False:
                same += f" (spread {s['init_tsc']['max'] - s['init_tsc']['min']:,})"
            print(f"  {'guest: tsc at /init (instr.)':<34}{triple(s['init_tsc'])}"
                  f"  identical: {same}")
            print(f"  {'probe (instructions, median)':<34}{'boot 1':>15}{'min of boots':>15}"
                  f"{'max of boots':>15}")
        else:
            print(f"  {'probe (ns per operation)':<34}{'median':>15}{'min':>15}{'max':>15}")
        for name_, v in s["probes"].items():
            if s["icount"]:
                each = v.get("median_cycles_all") or [v["median_cycles"]]
                print(f"  {name_:<34}{v['median_cycles']:>15,}{min(each):>15,}{max(each):>15,}")
            else:
                print(f"  {name_:<34}{v['median_ns']:>15,}{v['min_ns']:>15,}{v['max_ns']:>15,}")
        for x in s["failures"]:
            print(f"  ! {x}")


def ratio(a, b) -> str:
    if not a or not b:
        return "—"
    return f"{a / b:.2f}" if a / b >= 0.1 else f"{a / b:.2g}"


def comparison(res: dict, ubench: List[dict]) -> List[dict]:
    """Rows of (what, Nimbus figure, Linux figure, ratio) per series."""
    rows = []
    by_series = {}
    for u in ubench or []:
        if u.get("smp", 1) == 1:
            by_series[(u["accel"], bool(u["icount"]))] = u.get("cases", {})
    for s in res.get("series", []):
        key = (s["accel"], bool(s["icount"]))
        field = "median_cycles" if s["icount"] else "median_ns"
        unit = "instructions" if s["icount"] else "ns"
        ncases = by_series.get(key, {})
        for nname, lname, what in PAIRS:
            n = ncases.get(nname, {}).get(field)
            lx = s["probes"].get(lname, {}).get(field)
            rows.append({"series": f"{s['accel']}{'-icount' if s['icount'] else ''}",
                         "what": what, "nimbus_probe": nname, "linux_probe": lname,
                         "unit": unit, "nimbus": n, "linux": lx,
                         "ratio": round(n / lx, 3) if n and lx else None})
    return rows


def boot_rows(res: dict, nimbus: List[dict], floors: List[dict]) -> List[dict]:
    """Boot-to-user-space rows: host ms (TCG) and instructions (-icount)."""
    rows = []
    for s in res.get("series", []):
        n = next((x for x in nimbus if x["accel"] == s["accel"] and x["icount"] == s["icount"]),
                 None)
        fl = next((x for x in floors if x["accel"] == s["accel"] and x["icount"] == s["icount"]),
                  None)
        name = f"{s['accel']}{'-icount' if s['icount'] else ''}"
        med = lambda d, k: (d or {}).get(k, None) and d[k]["median"]  # noqa: E731
        if not s["icount"]:
            for what, short, nv, lv in (
                    ("host ms: launch to first user instr. / to /init", "to user space",
                     med(n, "host_user_ms"), med(s, "host_init_ms")),
                    ("host ms: launch to QEMU exit (poweroff / from /init)", "to QEMU's exit",
                     med(n, "host_exit_ms"), med(s, "host_exit_ms"))):
                rows.append(over_floor({"series": name, "what": what, "short": short,
                                        "unit": "ms",
                                        "nimbus": nv, "linux": lv,
                                        "floor": med(fl, "host_exit_ms")}))
        else:
            entry = med(fl, "entry_tsc") or 0
            nv = med(n, "user_tsc")
            nv = nv + entry if nv is not None else None  # since entry -> since reset
            lv = med(s, "init_tsc")
            rows.append(over_floor({"series": name,
                                    "what": "instructions, reset to first user instr. / to /init",
                                    "short": "to user space",
                                    "unit": "instructions", "nimbus": nv, "linux": lv,
                                    "floor": entry or None}))
    return rows


def over_floor(row: dict) -> dict:
    """Adds the ratio, and each figure less the floor's (the VMM's and
    firmware's share) with their ratio."""
    nv, lv, fv = row["nimbus"], row["linux"], row["floor"]
    row["ratio"] = round(nv / lv, 4) if nv and lv else None
    row["nimbus_over_floor"] = nv - fv if nv is not None and fv is not None else None
    row["linux_over_floor"] = lv - fv if lv is not None and fv is not None else None
    a, b = row["nimbus_over_floor"], row["linux_over_floor"]
    row["ratio_over_floor"] = round(a / b, 4) if a and b and a > 0 and b > 0 else None
    return row


def print_comparison(doc: dict) -> None:
    lx = doc["linux"]
    if lx.get("skipped"):
        return
    print(f"\nNimbus / Linux (same QEMU launch: machine {lx['machine']}, -m {lx['memory']}, "
          "1 vCPU; ratio < 1: Nimbus does less)")
    print(f"  {'':<66}{'Nimbus':>14}{'Linux':>16}{'ratio':>8}")
    for r in lx["boot_rows"] + lx["comparison"]:
        nd = 1 if r["unit"] == "ms" else 0
        label = f"[{r['series']}] {r['what']}"
        print(f"  {label[:66]:<66}{fmt(r['nimbus'], nd):>14}{fmt(r['linux'], nd):>16}"
              f"{ratio(r['nimbus'], r['linux']):>8}")
    print(f"  {'boot, less the floor (what each kernel adds to the bare launch)':<66}"
          f"{'Nimbus':>14}{'Linux':>16}{'ratio':>8}")
    for r in lx["boot_rows"]:
        nd = 1 if r["unit"] == "ms" else 0
        label = (f"[{r['series']}] {r['short']}, {r['unit']} over the floor's "
                 f"{fmt(r['floor'], nd)}")
        print(f"  {label[:66]:<66}{fmt(r['nimbus_over_floor'], nd):>14}"
              f"{fmt(r['linux_over_floor'], nd):>16}"
              f"{ratio(r['nimbus_over_floor'], r['linux_over_floor']):>8}")
    mem = lx.get("memory_min", {})
    nm = mem.get("nimbus", {}).get("smallest_mib")
    lm = mem.get("linux", {}).get("smallest_mib")
    print(f"  {'smallest -m MiB (Nimbus to nsh$ prompt; Linux to /init)':<66}{fmt(nm):>14}"
          f"{fmt(lm):>16}{ratio(nm, lm):>8}")
    sz = lx["sizes"]
    print(f"  {'kernel bytes (nimbus.elf; vmlinuz bzImage)':<66}{fmt(sz['nimbus_kernel']):>14}"
          f"{fmt(sz['linux_bzimage']):>16}{ratio(sz['nimbus_kernel'], sz['linux_bzimage']):>8}")
    print(f"  {'  Linux as loaded through PVH (the vmlinux ELF)':<66}{'':>14}"
          f"{fmt(sz['linux_vmlinux']):>16}")
    print(f"  {'initrd bytes (initrd.cpio; initramfs.cpio)':<66}{fmt(sz['nimbus_initrd']):>14}"
          f"{fmt(sz['linux_initramfs']):>16}"
          f"{ratio(sz['nimbus_initrd'], sz['linux_initramfs']):>8}")
    print("  (Nimbus's initrd holds init, the shell and every test program; Linux's holds\n"
          "   /init and the probes only)")


# ---- the whole Linux part ----------------------------------------------------

def kernel_version(path: str) -> str:
    m = re.search(r"vmlinuz-(.+)$", path)
    return m.group(1) if m else os.path.basename(path)


def run_all(accels: List[str], icount: bool = True, runs: int = 5, linux_runs: int = 3,
            timeout: float = 60, machine: str = "microvm", memory: str = "256M",
            ubench: Optional[List[dict]] = None, memory_bisect: bool = True,
            linux_boot: str = "pvh") -> dict:
    """The floor, Nimbus's extra boot figures and the Linux guest for each
    accelerator (KVM only where user mode can run: real hardware
    virtualization), plus -icount under TCG. linux_boot "pvh" boots the
    vmlinux inside Debian's bzImage through PVH (as Nimbus boots), "bzimage"
    the bzImage itself (the firmware loads it; the kernel decompresses
    itself). Prints the tables; returns {"linux": ..., "floor": [...]} for
    build/bench.json."""
    plan = [(a, False) for a in accels
            if a == "tcg" or (a == "kvm" and nl.host_has_hw_virt() and nl.kvm_usable())]
    if icount and "tcg" in accels:
        plan.append(("tcg", True))
    t_start = time.monotonic()
    floors = []
    for accel, ic in plan:
        print(f"\n== floor, {accel}{' -icount' if ic else ''} ==", flush=True)
        if not os.path.exists(FLOOR):
            print("  build/floor.elf is missing (make linuxbench)", flush=True)
            break
        floors.append(run_floor(accel, ic, runs if not ic else 2, timeout, machine, memory))
    nimbus = []
    for accel, ic in plan:
        print(f"\n== nimbus to the prompt and to exit, {accel}{' -icount' if ic else ''} ==",
              flush=True)
        nimbus.append(run_nimbus(accel, ic, runs if not ic else 2,
                                 timeout * (3 if ic else 1), machine, memory))
    res = {"machine": machine, "memory": memory, "nimbus": nimbus}
    kernel = find_kernel()
    skipped = None
    if not kernel:
        skipped = ("no Debian kernel in /boot (tools/linuxbench/deps.sh installs "
                   "linux-image-amd64 as root)")
    elif not os.path.exists(INITRAMFS) or not os.path.exists(LBENCH):
        skipped = "build/linuxbench/initramfs.cpio is missing (make linuxbench)"
    else:
        try:
            vmlinux = extract_vmlinux(kernel)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            skipped = f"cannot take the vmlinux out of {kernel}: {e}"
    if skipped:
        res["skipped"] = skipped
    else:
        guest = vmlinux if linux_boot == "pvh" else kernel
        res.update({"kernel_version": kernel_version(kernel), "bzimage": kernel,
                    "boot": ("PVH entry of the vmlinux inside the bzImage" if linux_boot == "pvh"
                             else "bzImage through the firmware's Linux boot protocol"),
                    "sizes": {}, "series": []})
        for accel, ic in plan:
            print(f"\n== linux, {accel}{' -icount' if ic else ''} ==", flush=True)
            t = timeout * (3 if ic else 1)
            if ic:  # deterministic: two probe boots show it, their /init lines give the boot
                s = run_linux(accel, ic, 0, t, machine, memory, guest, probe_boots=2)
            else:
                s = run_linux(accel, ic, linux_runs, t, machine, memory, guest)
            res["series"].append(s)
        if memory_bisect and "tcg" in accels:
            print("\n== smallest -m (tcg) ==", flush=True)
            # Below the end of the vmlinux's segments Linux cannot boot: the
            # search starts there. A failing boot can hang: 3x a normal boot.
            end = elf_load_end(vmlinux) or 0
            lo = max(1, -(-end // (1 << 20)) - 1)
            tcg = next((x for x in res["series"] if x["accel"] == "tcg" and not x["icount"]),
                       None)
            usual = (tcg or {}).get("host_init_ms") or {"max": timeout * 1000 / 3}
            linux_try = min(timeout, max(20.0, 3 * usual["max"] / 1000))
            res["memory_min"] = {
                "nimbus": bisect_memory(
                    "nimbus", lambda mib: nl.boot(30, until=NIMBUS_PROMPT_OR_CRASH,
                                                  machine=machine, memory=f"{mib}M",
                                                  accel="tcg", append="panic=exit"),
                    lambda r: r.stopped and PROMPT_RE.search(r.output)),
                "linux": bisect_memory(
                    "linux", lambda mib: boot_linux(guest, "tcg", False, machine, f"{mib}M",
                                                    linux_try, until=LINUX_INIT_OR_PANIC),
                    lambda r: r.stopped and INIT_RE.search(r.output), lo=lo),
            }
        res["sizes"] = {
            "nimbus_kernel": size_of(os.path.join(nl.ROOT, nl.DEFAULT_KERNEL)),
            "nimbus_initrd": size_of(os.path.join(nl.ROOT, nl.DEFAULT_INITRD)),
            "linux_bzimage": size_of(kernel), "linux_vmlinux": size_of(vmlinux),
            "linux_initramfs": size_of(INITRAMFS)}
        res["comparison"] = comparison(res, ubench or [])
        res["boot_rows"] = boot_rows(res, nimbus, floors)
    res["seconds"] = round(time.monotonic() - t_start, 1)
    doc = {"linux": res, "floor": floors}
    print_floor(floors)
    print_nimbus(nimbus)
    print_linux(res)
    print_comparison(doc)
    print(f"\n(floor, Nimbus boots and the Linux guest took {res['seconds']:.0f} s)")
    return doc


def print_nimbus(nimbus: List[dict]) -> None:
    print("\nNimbus to user space (default init manifest) and to exit (noinit poweroff)")
    print(f"  {'':<40}{'median':>15}{'min':>15}{'max':>15}")
    for n in nimbus:
        name = f"{n['accel']}{'-icount' if n['icount'] else ''}"
        for key, what in (("host_ready_ms", "launch -> ready ms"),
                          ("host_user_ms", "launch -> first user instr. ms"),
                          ("host_prompt_ms", "launch -> nsh$ prompt ms"),
                          ("host_exit_ms", "launch -> QEMU exit ms")):
            print(f"  {name + ' ' + what:<40}{triple(n[key], 1)}")
        if n["icount"]:
            print(f"  {name + ' first user tsc (instr.)':<40}{triple(n['user_tsc'])}"
                  "  since PVH entry")
        for x in n["failures"]:
            print(f"  ! {x}")


def size_of(path: str) -> Optional[int]:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="floor and Nimbus boots (default 5)")
    ap.add_argument("--linux-runs", type=int, default=3, help="Linux boots to /init (default 3)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per TCG boot")
    ap.add_argument("--accel", default="tcg", help="comma-separated accelerators")
    ap.add_argument("--no-icount", action="store_true")
    ap.add_argument("--no-ubench", action="store_true",
                    help="no Nimbus ubench boots (no ratio table)")
    ap.add_argument("--no-memory", action="store_true", help="skip the smallest -m bisection")
    ap.add_argument("--linux-boot", choices=("pvh", "bzimage"), default="pvh",
                    help="boot Linux's vmlinux through PVH (default) or its bzImage")
    ap.add_argument("--machine", default="microvm", choices=nl.MACHINES)
    ap.add_argument("-m", "--memory", default="256M")
    ap.add_argument("--json", default=os.path.join(BUILD, "bench-linux.json"))
    args = ap.parse_args(argv)
    accels = [a for a in args.accel.split(",") if a]
    ubench = []
    if not args.no_ubench:
        import bench
        for accel in accels:
            for ic in ([False, True] if accel == "tcg" and not args.no_icount else [False]):
                print(f"== nimbus ubench, {accel}{' -icount' if ic else ''} ==", flush=True)
                ubench.append(bench.run_ubench(accel + ("-icount" if ic else ""), accel, ic,
                                               args.timeout * 3, args.machine, args.memory))
    doc = run_all(accels, not args.no_icount, args.runs, args.linux_runs, args.timeout,
                  args.machine, args.memory, ubench, not args.no_memory, args.linux_boot)
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "host": {"cpu_model": nl.cpu_model(), "qemu": nl.qemu_version()},
           "ubench": ubench, **doc}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"\nwrote {os.path.relpath(args.json, nl.ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        nl.kill_all()
        sys.exit(130)
