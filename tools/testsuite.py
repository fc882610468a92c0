#!/usr/bin/python3
"""`make test`: every Nimbus test, one summary.

Stages, in order:
  host         build/host/ktest-host: the portable kernel suites under ASan and
               UBSan (KTAP on stdout; a non-zero exit or sanitizer report fails)
  guest        the in-kernel KTAP suites: boots with `ktest panic=exit` under
               TCG on microvm (1 vCPU) and q35 (2 vCPUs), concurrently
  integration  /usr/bin/python3 -m pytest tests/integration (results from
               its JUnit XML)

Leaf test cases are counted per stage; a stage-level problem (timeout, crash,
missing plan, exit status that disagrees with the KTAP, sanitizer report,
pytest crash) counts as one more failure. The last line printed is always
`N passed, N failed, N skipped`; the exit status is 0 only if nothing failed.
Logs go to build/test-logs/.
"""

import argparse
import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
import nimbuslib as nl  # noqa: E402

ROOT = nl.ROOT
LOGS = os.path.join(ROOT, "build", "test-logs")
HOST_TEST = os.path.join(ROOT, "build", "host", "ktest-host")
USER_HOST_TEST = os.path.join(ROOT, "build", "user", "host", "user-host-tests")
PYTHON = "/usr/bin/python3"
STAGES = ("lint", "host", "guest", "user", "integration")
SANITIZER_RE = re.compile(r"ERROR: \w*Sanitizer|SUMMARY: \w*Sanitizer|runtime error:")
# The runner's own totals, a top-level diagnostic: "# ktest: 3 passed, 0 failed, 1 skipped".
KTEST_TOTALS_RE = re.compile(r"^ktest: (\d+) passed, (\d+) failed, (\d+) skipped", re.M)
GUEST_RUNS = (("microvm", 1), ("q35", 2))
TAIL = 30
_children: List[subprocess.Popen] = []  # killed (whole group) on SIGINT/SIGTERM


@dataclass
class StageResult:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: List[str] = field(default_factory=list)  # failing tests, with details
    problems: List[str] = field(default_factory=list)  # stage-level failures
    tail: str = ""                                      # output tail, shown on failure
    log: str = ""
    seconds: float = 0.0

    @property
    def total_failed(self) -> int:
        return self.failed + (1 if self.problems else 0)

    @property
    def ok(self) -> bool:
        return self.total_failed == 0


def from_ktap(res: StageResult, rep: ktap.Report) -> None:
    """Copies leaf counts, failed tests and reader errors into a stage result."""
    res.passed, res.failed, res.skipped = rep.passed, rep.failed, rep.skipped
    for path, t in rep.failed_tests():
        res.failures.append(path + "".join(f"\n      # {d}" for d in t.diagnostics))
    res.problems += rep.errors
    if rep.found and rep.total == 0 and not rep.errors:
        res.problems.append("KTAP reported no test cases")
    m = KTEST_TOTALS_RE.search("\n".join(rep.root.diagnostics) if rep.root else "")
    if m and tuple(map(int, m.groups())) != (rep.passed, rep.failed, rep.skipped):
        res.problems.append(f"runner says '{m.group(0)}' but the KTAP shows "
                            f"{rep.passed} passed, {rep.failed} failed, {rep.skipped} skipped")


def write_log(name: str, text: str) -> str:
    os.makedirs(LOGS, exist_ok=True)
    path = os.path.join(LOGS, name)
    with open(path, "w") as f:
        f.write(text)
    return os.path.relpath(path, ROOT)


def tail(text: str, n: int = TAIL) -> str:
    return "\n".join(text.splitlines()[-n:])


# -- host -----------------------------------------------------------------------
def evaluate_host(rc, stdout: str, stderr: str, timeout: float) -> StageResult:
    """Judges a ktest-host run from its exit status and output."""
    res = StageResult("host")
    rep = ktap.parse(stdout)
    from_ktap(res, rep)
    if rc is None:
        res.problems.append(f"ktest-host timed out after {timeout:g} s")
    elif rc < 0:
        res.problems.append(f"ktest-host killed by signal {-rc}")
    elif rc != 0 and rep.ok:
        res.problems.append(f"ktest-host exited {rc} although its KTAP passed")
    elif rc == 0 and rep.failed:
        res.problems.append("ktest-host exited 0 although its KTAP shows failures")
    san = [ln for ln in (stdout + "\n" + stderr).splitlines() if SANITIZER_RE.search(ln)]
    if san:
        res.problems.append("sanitizer report: " + san[0].strip())
    res.tail = tail(stdout + ("\n--- stderr ---\n" + stderr if stderr.strip() else ""))
    return res


def stage_host(args, binary=HOST_TEST, name="host") -> StageResult:
    if not os.path.exists(binary):
        return StageResult(name, problems=[f"{os.path.relpath(binary, ROOT)} is missing "
                                             "(run `make all`)"])
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    proc = subprocess.Popen([binary], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True, text=True, errors="replace")
    _children.append(proc)
    try:
        out, err = proc.communicate(timeout=args.host_timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        nl.kill_group(proc)
        out, err = proc.communicate()
        rc = None
    res = evaluate_host(rc, out, err, args.host_timeout)
    res.name = name
    res.log = write_log(f"{name}.log", out + ("\n--- stderr ---\n" + err if err else ""))
    return res


# -- lint ---------------------------------------------------------------------------

LINT_CHECKS = (
    ("clang-format", ["make", "--no-print-directory", "-s", "check-format"]),
    ("cppcheck", ["make", "--no-print-directory", "-s", "check-cppcheck"]),
)


def stage_lint(args) -> StageResult:
    """clang-format and cppcheck over the kernel sources: one test each."""
    res = StageResult("lint")
    for name, cmd in LINT_CHECKS:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True, errors="replace",
                              timeout=600)
        if proc.returncode == 0:
            res.passed += 1
        else:
            res.failed += 1
            res.failures.append(f"{name}:\n{tail(proc.stdout)}")
    return res


# -- guest ------------------------------------------------------------------------
def evaluate_guest(name: str, r: nl.RunResult) -> StageResult:
    """Judges an in-guest ktest boot: the KTAP and QEMU's exit status must agree."""
    res = StageResult(name)
    rep = ktap.parse(r.output)
    from_ktap(res, rep)
    if r.timed_out:
        res.problems.insert(0, f"timed out after {r.elapsed:.0f} s (no isa-debug-exit)")
    elif r.vm_error:
        res.problems.insert(0, f"QEMU stopped the guest: {r.vm_error}")
    elif r.qemu_status == nl.QEMU_PANIC:
        res.problems.insert(0, "kernel panic: QEMU exit status 37")
    elif r.qemu_status == nl.QEMU_PASSED:
        if rep.failed:
            res.problems.append(f"QEMU exit status 33 (passed) but the KTAP shows "
                                f"{rep.failed} failed")
    elif r.qemu_status == nl.QEMU_FAILED:
        if not rep.failed:
            res.problems.append("QEMU exit status 35 (failed) but no test case failed in the KTAP")
    elif r.qemu_status == 0:
        res.problems.insert(0, "QEMU exited with status 0: the guest reset or powered off "
                               "(-no-reboot) instead of reporting through isa-debug-exit")
    else:
        res.problems.insert(0, f"unexpected QEMU exit status {r.qemu_status}")
    text = r.output + ("\n--- qemu stderr ---\n" + r.stderr if r.stderr.strip() else "")
    res.tail = tail(text)
    return res


def stage_guest(args) -> List[StageResult]:
    def one(machine, smp):
        t0 = time.monotonic()
        name = f"guest-{machine}"
        r = nl.boot(args.guest_timeout, machine=machine, smp=smp, memory="256M", accel="tcg",
                    append="ktest panic=exit")
        res = evaluate_guest(name, r)
        res.log = write_log(f"{name}.log", f"$ {' '.join(r.cmd)}\n{r.output}"
                            + (f"\n--- qemu stderr ---\n{r.stderr}" if r.stderr else ""))
        res.seconds = time.monotonic() - t0
        return res

    if not os.path.exists(os.path.join(ROOT, nl.DEFAULT_KERNEL)):
        return [StageResult("guest", problems=[f"{nl.DEFAULT_KERNEL} is missing (run `make all`)"])]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(GUEST_RUNS)) as pool:
        return list(pool.map(lambda a: one(*a), GUEST_RUNS))


# -- user -----------------------------------------------------------------------------
USER_DONE_RE = re.compile(r"init: manifest done")
# init's lines come through the kernel log: "[   1.234567] [init] init: ..."
# (or bare, from the debug console, when init has no log handle).
USER_LOG_PREFIX = r"^(?:\[\s*\d+\.\d+\] )?(?:\[init\] )?"
USER_EXIT_RE = re.compile(USER_LOG_PREFIX + r"init: (\S+) exited with (-?\d+)\s*$")
USER_BAD_RE = re.compile(USER_LOG_PREFIX +
                         r"init: .*(faulted|killed|giving up|cannot|no manifest|line \d+:)")


def split_ktap(output: str) -> List[str]:
    """Each user program prints its own KTAP document, and a test program's
    child may print one in the middle of its parent's: a document opened
    while another is incomplete nests, and lines go to the innermost open
    document until its top-level plan is met."""
    docs: List[List[str]] = []
    stack: List[dict] = []
    for line in output.splitlines():
        if line.rstrip() == "KTAP version 1":
            doc = {"lines": [line], "plan": None, "results": 0}
            docs.append(doc["lines"])
            stack.append(doc)
            continue
        if not stack:
            continue
        doc = stack[-1]
        doc["lines"].append(line)
        if doc["plan"] is None and re.match(r"^1\.\.(\d+)", line):
            doc["plan"] = int(line[3:].split()[0])
        elif re.match(r"^(not )?ok \d+", line):
            doc["results"] += 1
        if doc["plan"] is not None and doc["results"] >= doc["plan"]:
            stack.pop()
    return ["\n".join(d) for d in docs]


def evaluate_user(r: nl.RunResult) -> StageResult:
    """The user-space tests: init runs etc/test.manifest; every program's KTAP
    counts, and each must exit with 0."""
    res = StageResult("user")
    if r.timed_out or not r.stopped:
        res.problems.append("init did not report `manifest done` "
                            + (f"within {r.elapsed:.0f} s" if r.timed_out else
                               f"(QEMU status {r.qemu_status})"))
    for doc in split_ktap(r.output):
        rep = ktap.parse(doc)
        res.passed += rep.passed
        res.failed += rep.failed
        res.skipped += rep.skipped
        res.failures.extend(path for path, _ in rep.failed_tests())
        if rep.errors:
            res.problems.extend(rep.errors)
    for line in r.output.splitlines():
        m = USER_EXIT_RE.match(line)
        if (m and m.group(2) != "0") or USER_BAD_RE.match(line):
            res.problems.append(line.strip())
    res.tail = tail(r.output)
    return res


def stage_user(args) -> StageResult:
    if not os.path.exists(os.path.join(ROOT, nl.DEFAULT_INITRD)):
        return StageResult("user", problems=[f"{nl.DEFAULT_INITRD} is missing (run `make all`)"])
    t0 = time.monotonic()
    r = nl.boot(args.guest_timeout, until=USER_DONE_RE, machine="microvm", smp=1, memory="256M",
                accel="tcg", append="quiet panic=exit init.arg=etc/test.manifest")
    res = evaluate_user(r)
    res.log = write_log("user.log", f"$ {' '.join(r.cmd)}\n{r.output}")
    res.seconds = time.monotonic() - t0
    return res


def stage_user_smp(args) -> StageResult:
    """The SMP stress test (etc/smp.manifest: test/stress) on 4 vCPUs."""
    if not os.path.exists(os.path.join(ROOT, nl.DEFAULT_INITRD)):
        return StageResult("user-smp4", problems=[f"{nl.DEFAULT_INITRD} is missing"])
    t0 = time.monotonic()
    r = nl.boot(args.guest_timeout, until=USER_DONE_RE, machine="microvm", smp=4, memory="256M",
                accel="tcg", append="quiet panic=exit init.arg=etc/smp.manifest")
    res = evaluate_user(r)
    res.name = "user-smp4"
    if not (res.passed or res.failed or res.skipped):
        res.problems.append("no KTAP results from test/stress")
    res.log = write_log("user-smp4.log", f"$ {' '.join(r.cmd)}\n{r.output}")
    res.seconds = time.monotonic() - t0
    return res


# -- integration --------------------------------------------------------------------
def evaluate_junit(path: str) -> StageResult:
    """Counts pytest's JUnit XML: failures and errors fail, skips are skips."""
    res = StageResult("integration")
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            res.failed += 1
            msg = (bad.get("message") or "").strip().splitlines()
            res.failures.append(name + (f"\n      {msg[0][:300]}" if msg else ""))
        elif case.find("skipped") is not None:
            res.skipped += 1
        else:
            res.passed += 1
    return res


def stage_integration(args) -> StageResult:
    os.makedirs(LOGS, exist_ok=True)
    junit = os.path.join(LOGS, "integration-junit.xml")
    if os.path.exists(junit):
        os.unlink(junit)
    cmd = [PYTHON, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
           f"--junitxml={junit}", "tests/integration", *args.pytest_arg]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, text=True,
                            errors="replace")
    _children.append(proc)
    lines = []
    timer = _Watchdog(proc, args.integration_timeout)
    for line in proc.stdout:
        lines.append(line)
        print("  " + line, end="", flush=True)
    proc.wait()
    timer.cancel()
    out = "".join(lines)
    log = write_log("integration.log", out)
    if timer.fired:
        res = StageResult("integration", problems=[
            f"pytest timed out after {args.integration_timeout:g} s"])
    elif not os.path.exists(junit):
        res = StageResult("integration", problems=[f"pytest exited {proc.returncode} "
                                                   "without writing its JUnit report"])
    else:
        res = evaluate_junit(junit)
        if proc.returncode not in (0, 1):
            res.problems.append(f"pytest exited {proc.returncode} (usage error, "
                                "interrupted or no tests collected)")
        elif (proc.returncode == 1) != (res.failed > 0):
            res.problems.append(f"pytest exit status {proc.returncode} disagrees with its report")
    # pytest's own report was streamed above; repeat its output only if it broke.
    res.tail = tail(out) if res.problems else ""
    res.log = log
    return res


class _Watchdog:
    """Kills a process group once timeout seconds have passed."""

    def __init__(self, proc, timeout):
        self.fired = False
        self._timer = threading.Timer(timeout, self._fire, args=(proc,))
        self._timer.daemon = True
        self._timer.start()

    def _fire(self, proc):
        self.fired = True
        nl.kill_group(proc, grace=5)

    def cancel(self):
        self._timer.cancel()


# -- report -----------------------------------------------------------------------------
def print_stage(res: StageResult) -> None:
    for f in res.failures:
        print(f"  FAILED {f}")
    for p in res.problems:
        print(f"  ERROR  {p}")
    if not res.ok and res.tail:
        print(f"  --- last lines of output{' (full log: ' + res.log + ')' if res.log else ''} ---")
        for ln in res.tail.splitlines():
            print("  | " + ln)
    verdict = "ok" if res.ok else "FAILED"
    print(f"  {res.name}: {res.passed} passed, {res.total_failed} failed, {res.skipped} skipped "
          f"({res.seconds:.1f} s) {verdict}", flush=True)


def header(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="STAGE",
                    help="run only these stages (host, guest, integration; repeatable or "
                         "comma-separated)")
    ap.add_argument("--host-timeout", type=float, default=120, metavar="S")
    ap.add_argument("--guest-timeout", type=float, default=120, metavar="S")
    ap.add_argument("--integration-timeout", type=float, default=600, metavar="S")
    ap.add_argument("--pytest-arg", action="append", default=[], metavar="ARG",
                    help="extra pytest argument, e.g. --pytest-arg=-k --pytest-arg=boot")
    args = ap.parse_args(argv)
    stages = [s for item in args.only for s in item.split(",") if s] or list(STAGES)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        ap.error(f"unknown stage {bad[0]!r} (choose from {', '.join(STAGES)})")
    args.stages = [s for s in STAGES if s in stages]
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results: List[StageResult] = []
    runners = {
        "lint": ("lint: clang-format and cppcheck (make check)", lambda: [stage_lint(args)]),
        "host": ("host: build/host/ktest-host and user-host-tests (ASan, UBSan)",
                 lambda: [stage_host(args),
                          stage_host(args, USER_HOST_TEST, "host-user")]),
        "guest": ("guest: ktest on microvm (TCG, 1 vCPU) and q35 (TCG, 2 vCPUs)",
                  lambda: stage_guest(args)),
        "user": ("user: init runs etc/test.manifest (TCG, microvm), then etc/smp.manifest "
                 "with 4 vCPUs", lambda: [stage_user(args), stage_user_smp(args)]),
        "integration": ("integration: pytest tests/integration", lambda: [stage_integration(args)]),
    }
    for stage in args.stages:
        title, fn = runners[stage]
        header(title)
        t0 = time.monotonic()
        for res in fn():
            if not res.seconds:
                res.seconds = time.monotonic() - t0
            print_stage(res)
            results.append(res)
    header("summary")
    for res in results:
        print(f"  {res.name:<14} {res.passed:5} passed {res.total_failed:4} failed "
              f"{res.skipped:4} skipped {res.seconds:7.1f} s  {'ok' if res.ok else 'FAILED'}")
    passed = sum(r.passed for r in results)
    failed = sum(r.total_failed for r in results)
    skipped = sum(r.skipped for r in results)
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if failed == 0 else 1


def _kill_children():
    for proc in _children:
        nl.kill_group(proc)
    nl.kill_all()


def _terminate(signum, frame):
    """Kills QEMU and pytest first, so worker threads return at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_children()
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        _kill_children()
        print("testsuite: interrupted", file=sys.stderr)
        sys.exit(130)
