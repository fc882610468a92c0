#!/usr/bin/python3
"""`make bench`: boot-time figures for Nimbus.

For each accelerator (TCG always, KVM when /dev/kvm is usable) boots microvm
--runs times with `bench` on the command line, stops each run at the
`nimbus: ready` line, and collects
  * the kernel's own `boot: stages (us): name=value ...` line (microseconds
    since PVH entry, measured with the guest TSC), and
  * the host wall time from launching QEMU to reading the ready line.
Then one more series under TCG with `-icount shift=0,sleep=off`, where the
guest TSC advances by exactly one per guest instruction: there the stages
are taken from the kernel's `boot: stages (tsc): ...` line when it prints
one (raw TSC ticks = guest instructions executed since PVH entry), else
from the us line (instructions scaled by the kernel's TSC rate). They
measure work, not time, and should repeat exactly from run to run.

Then (part `blk`) block I/O on q35: test/blkbench in Nimbus and lblk in the
Linux guest on fresh copies of the same 64 MiB image with the same QEMU
drive options, --blk-runs boots each, and one Nimbus boot under -icount for
instructions per request (docs/PERFORMANCE.md, "Block I/O").

Prints median/min/max per stage and accelerator, and writes build/bench.json.
Figures are reports, never pass/fail criteria: the exit status is non-zero
only if no TCG run reached the ready line at all (a broken kernel).
"""

import argparse
import datetime
import json
import re
import os
import platform
import statistics
import sys
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nimbuslib as nl  # noqa: E402

HOST_READY = "host: launch->ready"


def stats(values: List[float]) -> Optional[dict]:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def run_series(name: str, accel: str, icount: bool, runs: int, timeout: float,
               machine: str, memory: str) -> dict:
    """Boots `runs` times; returns per-stage and host-time statistics."""
    stages: dict = {}
    host_ms: List[float] = []
    failures: List[str] = []
    per_run: List[dict] = []
    unit = "us"
    for i in range(runs):
        r = nl.boot(timeout, until=nl.READY_RE, machine=machine, memory=memory, accel=accel,
                    icount=icount, append="noinit")
        if not r.stopped:
            why = (f"timed out after {timeout:g} s" if r.timed_out else r.vm_error
                   or f"QEMU exited with status {r.qemu_status}")
            failures.append(f"run {i + 1}: no ready line ({why})")
            print(f"  run {i + 1}: FAILED: {why}", flush=True)
            if r.stderr.strip():
                print("    " + r.stderr.strip().splitlines()[-1], flush=True)
            continue
        st = (icount and nl.parse_stages(r.output, "tsc")) or nl.parse_stages(r.output) or {}
        if icount and not per_run:
            unit = "instructions" if nl.parse_stages(r.output, "tsc") else "us (icount)"
        if not st:
            failures.append(f"run {i + 1}: no `boot: stages` line")
        for k, v in st.items():
            stages.setdefault(k, []).append(v)
        ms = r.until_time * 1000
        host_ms.append(ms)
        per_run.append({"stages": st, "host_ready_ms": round(ms, 3)})
        print(f"  run {i + 1}: ready after {ms:.1f} ms host time; "
              + " ".join(f"{k}={v}" for k, v in st.items()), flush=True)
    return {
        "name": name, "accel": accel, "icount": icount, "machine": machine, "memory": memory,
        "runs": runs, "runs_ok": len(host_ms), "failures": failures,
        "stage_unit": unit,
        "stages": {k: stats(v) for k, v in stages.items()},
        "host_ready_ms": stats(host_ms),
        "deterministic": (all(len(set(v)) == 1 for v in stages.values()) if icount and stages
                          else None),
        "per_run": per_run,
    }


KBENCH_RE = re.compile(r"kbench: (\S+) median_ns=(\d+) min_ns=(\d+) max_ns=(\d+) "
                       r"median_cycles=(\d+)")


def run_kbench(name: str, accel: str, icount: bool, timeout: float, machine: str,
               memory: str) -> dict:
    """One boot with `kbench`: the kernel times its primitives itself (11
    rounds each) and prints median/min/max per case."""
    r = nl.boot(timeout, until=re.compile(r"kbench: done"), machine=machine, memory=memory,
                accel=accel, icount=icount, append="kbench noinit")
    cases = {}
    for m in KBENCH_RE.finditer(r.output):
        cases[m.group(1)] = {"median_ns": int(m.group(2)), "min_ns": int(m.group(3)),
                             "max_ns": int(m.group(4)), "median_cycles": int(m.group(5))}
    return {"name": name, "accel": accel, "icount": icount, "ok": r.stopped, "cases": cases}


UBENCH_RE = re.compile(r"ubench: (\S+) median_ns=(\d+) min_ns=(\d+) max_ns=(\d+) "
                       r"median_cycles=(\d+)")


def run_ubench(name: str, accel: str, icount: bool, timeout: float, machine: str,
               memory: str, smp: int = 1) -> dict:
    """One boot where init runs etc/bench.manifest: the user-space probes
    (test/ubench) print one line each. With smp > 1 the scheduler places the
    echo peer on another CPU (channel_call_cross_vcpu crosses vCPUs)."""
    r = nl.boot(timeout, until=re.compile(r"ubench: done"), machine=machine, memory=memory,
                accel=accel, icount=icount, smp=smp,
                append="quiet init.arg=etc/bench.manifest")
    cases = {}
    for m in UBENCH_RE.finditer(r.output):
        cases[m.group(1)] = {"median_ns": int(m.group(2)), "min_ns": int(m.group(3)),
                             "max_ns": int(m.group(4)), "median_cycles": int(m.group(5))}
    return {"name": name, "accel": accel, "icount": icount, "smp": smp, "ok": r.stopped,
            "cases": cases}


BLK_RE = (r"{p}: (\S+) qd=(\d+) ops=(\d+) bytes=(\d+) ns=(\d+) iops=(\d+) mbps=([\d.]+)"
          r"((?: \w+=\d+)*)")
BLK_FAIL_RE = r"{p}: (\S+) failed(?::\s*(.*))?$"


def parse_blkbench(text: str, prefix: str = "blkbench") -> tuple:
    """blkbench's lines (user/tests/blkbench.c; tools/linuxbench/blkbench.c
    prints the same): ({case: figures}, {case: why it failed}, done)."""
    p = re.escape(prefix)
    cases = {}
    for m in re.finditer(BLK_RE.format(p=p), text):
        c = {"qd": int(m.group(2)), "ops": int(m.group(3)), "bytes": int(m.group(4)),
             "ns": int(m.group(5)), "iops": int(m.group(6)), "mbps": float(m.group(7))}
        c.update({k: int(v) for k, v in re.findall(r" (\w+)=(\d+)", m.group(8))})
        cases[m.group(1)] = c
    failed = {m.group(1): (m.group(2) or "").strip()
              for m in re.finditer(BLK_FAIL_RE.format(p=p), text, re.M)}
    return cases, failed, re.search(rf"{p}: done", text) is not None


BLK_IMAGE = os.path.join(nl.ROOT, "build", "blkbench.img")
BLK_IMAGE_MIB = 64
BLK_SECONDS = 2  # per case: the --seconds of initrd/etc/blkbench.manifest
BLK_MACHINE = "q35"
BLK_CASES = ("randread_4k_qd1", "randread_4k_qd32", "seqread_1m_qd1", "seqread_1m_qd32",
             "seqwrite_1m_qd1", "seqwrite_1m_qd32")


def blk_drive(image: str) -> List[str]:
    """The disk both guests get: a raw image, host page cache bypassed
    (cache=none: O_DIRECT on the host), a modern-only virtio-blk-pci."""
    return ["-drive", f"file={image},format=raw,if=none,id=d0,cache=none,aio=threads",
            "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"]


def make_blk_image(path: str = BLK_IMAGE, mib: int = BLK_IMAGE_MIB) -> str:
    """A fresh image of mib MiB, every block written (no holes: a read of a
    hole costs the host less than a read of data)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with open(path + ".tmp", "wb") as f:
        for _ in range(mib):
            f.write(chunk)
    os.replace(path + ".tmp", path)
    return path


def run_blk(runs: int, timeout: float, memory: str, linux: bool = True) -> dict:
    """`runs` boots of each guest on a fresh copy of the same image with the
    same QEMU options (q35, TCG, 1 vCPU): Nimbus's test/blkbench
    (etc/blkbench.manifest) and Linux's lblk on /dev/vda. Median per case."""
    guests = [("nimbus", None)] + ([("linux", None)] if linux else [])
    res = {"machine": BLK_MACHINE, "memory": memory, "accel": "tcg", "image_mib": BLK_IMAGE_MIB,
           "seconds_per_case": BLK_SECONDS, "drive": blk_drive("build/blkbench.img"),
           "runs": runs, "guests": {}}
    for name, _ in guests:
        per_run, failures, skipped = [], [], None
        for i in range(runs):
            image = make_blk_image()
            print(f"  {name} blk run {i + 1}", flush=True)
            if name == "nimbus":
                r = nl.boot(timeout, until=re.compile(r"blkbench: done|init: blkbench exited"),
                            machine=BLK_MACHINE, memory=memory, accel="tcg",
                            append="quiet init.arg=etc/blkbench.manifest",
                            extra=blk_drive(image))
            else:
                import bench_linux
                r, skipped = bench_linux.run_linux_blk(blk_drive(image),
                                                       ["--seconds", str(BLK_SECONDS)], timeout,
                                                       BLK_MACHINE, memory)
                if skipped:
                    print(f"  linux: skipped: {skipped}", flush=True)
                    break
            cases, failed, done = parse_blkbench(r.output)
            if not done or failed:
                tail = [ln for ln in r.output.splitlines() if ln.strip()][-3:]
                failures.append(f"run {i + 1}: " + ("; ".join(f"{k}: {v}" for k, v in
                                                              failed.items()) or
                                                    "no `blkbench: done` (" +
                                                    " / ".join(tail) + ")"))
            per_run.append(cases)
        g = {"runs_ok": sum(1 for c in per_run if c), "failures": failures, "cases": {}}
        if skipped:
            g["skipped"] = skipped
        for case in BLK_CASES:
            vals = [c[case] for c in per_run if case in c]
            if vals:
                g["cases"][case] = {"iops": statistics.median(v["iops"] for v in vals),
                                    "mbps": statistics.median(v["mbps"] for v in vals),
                                    "iops_all": [v["iops"] for v in vals],
                                    "mbps_all": [v["mbps"] for v in vals],
                                    "ops_all": [v["ops"] for v in vals]}
                cpu = [(blk_cpu_ns(v), v) for v in vals if blk_cpu_ns(v) is not None]
                if cpu:
                    g["cases"][case]["cpu_us_per_op"] = statistics.median(
                        c / 1000 / max(v["ops"], 1) for c, v in cpu)
                    g["cases"][case]["cpu_busy"] = statistics.median(
                        c / max(v["ns"], 1) for c, v in cpu)
                dev = [v["dev_requests"] / max(v["ops"], 1) for v in vals if "dev_requests" in v]
                if dev:  # Linux: what the block layer sent the device per request
                    g["cases"][case]["dev_requests_per_op"] = statistics.median(dev)
        res["guests"][name] = g
    res["nimbus_icount"] = run_blk_icount(timeout, memory)
    print_blk(res)
    return res


def run_blk_icount(timeout: float, memory: str) -> dict:
    """One Nimbus boot under -icount shift=0,sleep=on: each case's CPU
    figures are then guest instructions (one per ns), the same from run to
    run to within ~0.5%, so the per-request cost of the driver and of blkbench can be
    compared across commits (throughputs there mean nothing). sleep=on, not
    the other series' sleep=off: with sleep=off the clock jumps to the next
    timer whenever the guest waits, so a wait for the disk (done by QEMU's
    I/O threads in real time) reaches its deadline at once, and a case's
    2 s pass in a handful of requests."""
    print("  nimbus blk -icount run", flush=True)
    r = nl.boot(timeout, until=re.compile(r"blkbench: done|init: blkbench exited"),
                machine=BLK_MACHINE, memory=memory, accel="tcg",
                append="quiet init.arg=etc/blkbench.manifest",
                extra=["-icount", "shift=0,sleep=on", *blk_drive(make_blk_image())])
    cases, failed, done = parse_blkbench(r.output)
    out = {"done": done, "failed": failed, "cases": {}}
    for name, c in cases.items():
        if "cpu_driver_ns" in c and c["ops"]:
            pieces = c["ops"] * max(1, c["bytes"] // c["ops"] // (64 << 10))
            out["cases"][name] = {"ops": c["ops"],
                                  "driver_per_request": c["cpu_driver_ns"] // c["ops"],
                                  "bench_per_request": c["cpu_bench_ns"] // c["ops"],
                                  "driver_per_64k": c["cpu_driver_ns"] // pieces}
    return out


def blk_cpu_ns(case: dict) -> Optional[int]:
    """The guest CPU time a case used: Nimbus's driver and blkbench
    processes (cpu_driver_ns + cpu_bench_ns), Linux's non-idle time
    (cpu_busy_ns); None without those figures."""
    if "cpu_busy_ns" in case:
        return case["cpu_busy_ns"]
    if "cpu_driver_ns" in case and "cpu_bench_ns" in case:
        return case["cpu_driver_ns"] + case["cpu_bench_ns"]
    return None


def print_blk(res: dict) -> None:
    print(f"\nblock I/O ({res['machine']}, TCG, -m {res['memory']}, 1 vCPU, "
          f"{res['image_mib']} MiB raw image, cache=none, virtio-blk-pci modern; "
          f"{res['seconds_per_case']} s per case, median of {res['runs']} boots;\n"
          " QD = requests of the case's size outstanding)")
    g = res["guests"]
    n, lx = g.get("nimbus", {}), g.get("linux", {})
    print(f"  {'':<28}{'':>12}{'':>12}{'':>8}{'guest CPU us/request':>22}{'guest CPU busy':>18}")
    print(f"  {'case':<22}{'unit':>6}{'Nimbus':>12}{'Linux':>12}{'ratio':>8}"
          f"{'Nimbus':>11}{'Linux':>11}{'Nimbus':>9}{'Linux':>9}")
    for case in BLK_CASES:
        unit = "IOPS" if "4k" in case else "MB/s"
        key = "iops" if unit == "IOPS" else "mbps"
        nc, lc = n.get("cases", {}).get(case, {}), lx.get("cases", {}).get(case, {})
        nv, lv = nc.get(key), lc.get(key)
        ratio = f"{nv / lv:.2f}" if nv and lv else "—"
        show = (lambda v: "—" if v is None else f"{v:,.0f}" if key == "iops" else f"{v:,.1f}")
        us = (lambda c: f"{c['cpu_us_per_op']:,.0f}" if "cpu_us_per_op" in c else "—")
        busy = (lambda c: f"{c['cpu_busy']:.0%}" if "cpu_busy" in c else "—")
        print(f"  {case:<22}{unit:>6}{show(nv):>12}{show(lv):>12}{ratio:>8}"
              f"{us(nc):>11}{us(lc):>11}{busy(nc):>9}{busy(lc):>9}")
    print("  (guest CPU: Nimbus's virtio-blk and blkbench processes, kernel time for them\n"
          "   included; Linux's non-idle time from /proc/stat, 10 ms resolution)")
    dev = {c: v["dev_requests_per_op"] for c, v in lx.get("cases", {}).items()
           if "dev_requests_per_op" in v}
    if dev:
        print("  Linux's device requests per request (/sys/block/vda/stat; Nimbus: 1 per 4 KiB,"
              " 16 per MiB): " + ", ".join(f"{c} {v:.2f}" for c, v in dev.items()))
    ic = res.get("nimbus_icount") or {}
    if ic.get("cases"):
        print("  Nimbus under -icount (guest instructions per request; repeat to ~0.5%):")
        print(f"  {'case':<22}{'ops':>6}{'virtio-blk':>12}{'blkbench':>12}{'driver/64KiB':>14}")
        for case in BLK_CASES:
            c = ic["cases"].get(case)
            if c:
                print(f"  {case:<22}{c['ops']:>6}{c['driver_per_request']:>12,}"
                      f"{c['bench_per_request']:>12,}{c['driver_per_64k']:>14,}")
    for f in (ic.get("failed") or {}).items():
        print(f"  ! nimbus -icount: {f[0]}: {f[1]}")
    for name, x in g.items():
        if x.get("skipped"):
            print(f"  ! {name}: skipped: {x['skipped']}")
        for f in x.get("failures", []):
            print(f"  ! {name}: {f}")


def print_kbench(results: List[dict]) -> None:
    for k in results:
        unit = "instructions" if k["icount"] else "ns"
        what = k.get("what", "kernel primitives (kbench")
        print(f"\n{what}, {k['name']}, 11 rounds; median / min / max {unit})")
        if not k["ok"]:
            print("  ! the boot did not finish")
        for case, v in k["cases"].items():
            if k["icount"]:
                print(f"  {case:<22}{v['median_cycles']:>12,}")
            else:
                print(f"  {case:<22}{v['median_ns']:>12,}{v['min_ns']:>12,}{v['max_ns']:>12,}")


def num(v) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def print_table(series: List[dict]) -> None:
    """One block per series: stage, median, min, max."""
    for s in series:
        unit = s["stage_unit"]
        title = f"{s['name']} ({s['machine']}, {s['runs_ok']}/{s['runs']} runs reached ready)"
        print(f"\n{title}")
        print(f"  {'stage':<22}{'median':>15}{'min':>15}{'max':>15}")
        for name, st in s["stages"].items():
            print(f"  {name:<22}{num(st['median']):>15}{num(st['min']):>15}{num(st['max']):>15}"
                  f"  {unit}")
        h = s["host_ready_ms"]
        if h:
            print(f"  {HOST_READY:<22}{h['median']:>15.1f}{h['min']:>15.1f}{h['max']:>15.1f}  ms")
        if s["icount"]:
            print("  -icount shift=0,sleep=off: the guest TSC advances one tick per guest "
                  "instruction,\n  so the stage figures count instructions executed since "
                  "PVH entry, not time\n  (a us figure is instructions / the kernel's TSC "
                  "MHz). Identical in every run: "
                  f"{'yes' if s['deterministic'] else 'NO'}.")
        for f in s["failures"]:
            print(f"  ! {f}")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="boots per accelerator (default 5)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per TCG boot")
    ap.add_argument("--kvm-timeout", type=float, default=300,
                    help="seconds per KVM boot (nested software KVM is slow)")
    ap.add_argument("--accel", default=None,
                    help="comma-separated accelerators (default: tcg, plus kvm if usable)")
    ap.add_argument("--no-icount", action="store_true", help="skip the -icount series")
    ap.add_argument("--machine", default="microvm", choices=nl.MACHINES)
    ap.add_argument("-m", "--memory", default="256M")
    ap.add_argument("--no-linux", action="store_true",
                    help="skip the floor kernel and the Linux guest (tools/bench_linux.py)")
    ap.add_argument("--linux-runs", type=int, default=3, help="Linux boots to /init (default 3)")
    ap.add_argument("--only", action="append", default=[], metavar="PART",
                    choices=("boot", "kbench", "ubench", "blk"),
                    help="run only these parts (repeatable): boot (the boot series), kbench "
                         "(kernel primitives), ubench (user-space paths), blk (block I/O, "
                         "Nimbus beside Linux on q35); default all")
    ap.add_argument("--blk-runs", type=int, default=3,
                    help="boots per guest for the block benchmark (default 3)")
    ap.add_argument("--json", default=os.path.join(nl.ROOT, "build", "bench.json"),
                    help="where to write the results (default build/bench.json)")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.blk_runs < 1:
        ap.error("--blk-runs must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.accel:
        accels = [a for a in args.accel.split(",") if a]
    else:
        accels = ["tcg"] + (["kvm"] if nl.kvm_usable() else [])
    plan = [(a, a, False) for a in accels]
    if not args.no_icount and "tcg" in accels:
        plan.append(("tcg-icount", "tcg", True))
    kernel = os.path.join(nl.ROOT, nl.DEFAULT_KERNEL)
    if not os.path.exists(kernel):
        print(f"bench: {nl.DEFAULT_KERNEL} is missing (run `make all`)", file=sys.stderr)
        return 1
    print(f"bench: {args.runs} boots of {nl.DEFAULT_KERNEL} per series on {args.machine}; "
          f"{', '.join(p[0] for p in plan)}", flush=True)
    parts = set(args.only) or {"boot", "kbench", "ubench", "blk"}
    series = []
    for name, accel, icount in (plan if "boot" in parts else []):
        print(f"\n== {name} ==", flush=True)
        timeout = args.kvm_timeout if accel == "kvm" else args.timeout
        series.append(run_series(name, accel, icount, args.runs, timeout, args.machine,
                                 args.memory))
    print_table(series)
    kbench = []
    for name, accel, icount in (plan if "kbench" in parts else []):
        timeout = args.kvm_timeout if accel == "kvm" else args.timeout
        kbench.append(run_kbench(name, accel, icount, timeout, args.machine, args.memory))
    print_kbench(kbench)
    ubench = []
    uplan = [(n, a, i, 1) for n, a, i in plan]
    if "tcg" in accels:
        uplan.append(("tcg-smp2", "tcg", False, 2))  # cross-vCPU channel calls
    for name, accel, icount, smp in (uplan if "ubench" in parts else []):
        if accel == "kvm" and not nl.host_has_hw_virt():
            continue  # nested software KVM: user mode cannot run there (REFERENCE.md)
        ub = run_ubench(name, accel, icount, args.timeout * 3, args.machine, args.memory, smp)
        ub["what"] = "user-space paths (test/ubench"
        ubench.append(ub)
    print_kbench(ubench)
    blk = None
    if "blk" in parts:
        print("\n== block I/O (q35, tcg) ==", flush=True)
        blk = run_blk(args.blk_runs, args.timeout * 3, args.memory, linux=not args.no_linux)
    beside = {}
    if not args.no_linux and parts & {"boot", "kbench", "ubench"}:  # the floor and a Linux guest under the same launch (bench_linux.py)
        import bench_linux
        beside = bench_linux.run_all(accels, not args.no_icount, args.runs, args.linux_runs,
                                     args.timeout, args.machine, args.memory, ubench)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpu_model": nl.cpu_model(), "cpus": os.cpu_count(),
                 "kernel": platform.release(), "qemu": nl.qemu_version(),
                 "hw_virt": nl.host_has_hw_virt(), "kvm_usable": nl.kvm_usable()},
        "kernel_image": nl.DEFAULT_KERNEL,
        "append": "noinit",
        "series": series,
        "kbench": kbench,
        "ubench": ubench,
        "blk": blk,
        **beside,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    shown = os.path.relpath(args.json, nl.ROOT)
    print(f"\nwrote {args.json if shown.startswith('..') else shown}")
    tcg = [s for s in series if s["accel"] == "tcg" and not s["icount"]]
    if "boot" in parts and tcg and not any(s["runs_ok"] for s in tcg):
        print("bench: no TCG boot reached `nimbus: ready`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        nl.kill_all()
        sys.exit(130)
