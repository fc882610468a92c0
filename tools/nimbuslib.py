"""Shared code for launching Nimbus under QEMU.

Used by tools/nimbus-vm (the command-line launcher), tools/testsuite.py,
tools/bench.py and tests/integration. Standard library only.

The pieces:
  resolve_accel()   picks tcg or kvm ("auto" = kvm only with hardware
                    virtualization: vmx/svm in /proc/cpuinfo and a working
                    /dev/kvm; the nested software KVM is used only on request)
  build_command()   the QEMU command line for one boot
  VM                a running QEMU in its own process group, serial console
                    on a pipe, with expect()/send()/kill()
  run()             boot, optionally stop as soon as a pattern appears, enforce
                    a timeout, return a RunResult with the mapped exit status
"""

import atexit
import codecs
import fcntl
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# NIMBUS_KERNEL / NIMBUS_INITRD override the defaults (NIMBUS_INITRD="" boots
# without an initrd); relative paths are relative to the repository root.
DEFAULT_KERNEL = os.environ.get("NIMBUS_KERNEL") or os.path.join("build", "nimbus.elf")
DEFAULT_INITRD = os.environ.get("NIMBUS_INITRD", os.path.join("build", "initrd.cpio"))
MACHINES = ("microvm", "q35", "pc")
ACCELS = ("auto", "tcg", "kvm")

# isa-debug-exit: the guest writes v to port 0xf4, QEMU exits with (v << 1) | 1.
EXIT_DEVICE = "isa-debug-exit,iobase=0xf4,iosize=4"
QEMU_PASSED, QEMU_FAILED, QEMU_PANIC = 33, 35, 37
# Launcher exit statuses (what nimbus-vm returns).
STATUS_OK, STATUS_TESTS_FAILED, STATUS_PANIC, STATUS_TIMEOUT = 0, 1, 2, 124
STATUS_VM_ERROR = 125  # QEMU stopped the guest (e.g. KVM internal error) without exiting
STATUS_MAP = {QEMU_PASSED: STATUS_OK, QEMU_FAILED: STATUS_TESTS_FAILED,
              QEMU_PANIC: STATUS_PANIC}

# Kernel contract (what the kernel prints on COM1).
READY_RE = re.compile(r"nimbus: ready")
CRASH_RE = re.compile(r"^(?:\[\s*\d+\.\d+\]\s*)?(EXCEPTION|PANIC):", re.M)
LOG_PREFIX_RE = re.compile(r"^\[\s*\d+\.\d+\] ")
# QEMU stderr messages after which the guest is stopped but QEMU keeps running.
VM_ERROR_RE = re.compile(r"KVM internal error|emulation failure|KVM: entry failed")

KVM_GET_API_VERSION = 0xAE00  # _IO(KVMIO=0xAE, 0x00)
KVM_API_VERSION = 12


def qemu_binary() -> str:
    """The QEMU to run; NIMBUS_QEMU overrides it (the launcher tests use a fake)."""
    return os.environ.get("NIMBUS_QEMU", "qemu-system-x86_64")


def host_has_hw_virt() -> bool:
    """True if /proc/cpuinfo shows vmx or svm (real hardware virtualization)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return "vmx" in flags or "svm" in flags
    except OSError:
        pass
    return False


def kvm_usable() -> bool:
    """True if /dev/kvm opens read-write and answers KVM_GET_API_VERSION."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == KVM_API_VERSION
    except OSError:
        return False
    finally:
        os.close(fd)


def resolve_accel(accel: Optional[str]) -> str:
    """Maps auto/None to tcg or kvm; kvm only where the CPU has vmx/svm."""
    accel = accel or "auto"
    if accel not in ACCELS:
        raise ValueError(f"unknown accelerator {accel!r} (choose from {', '.join(ACCELS)})")
    if accel == "auto":
        return "kvm" if host_has_hw_virt() and kvm_usable() else "tcg"
    return accel


def accel_args(accel: str) -> List[str]:
    """Accelerator and CPU model. Under the nested software KVM `-cpu host`
    fails to set MSR 0x10a; dropping arch-capabilities makes it start."""
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    return ["-accel", "tcg", "-cpu", "max"]


def build_command(kernel: str = DEFAULT_KERNEL, initrd: Optional[str] = DEFAULT_INITRD,
                  machine: str = "microvm", memory: str = "256M", smp: int = 1,
                  append: str = "", accel: str = "auto", gdb: bool = False,
                  icount: bool = False, extra: Sequence[str] = (),
                  interactive: bool = False, serial_log: Optional[str] = None,
                  qemu: Optional[str] = None) -> List[str]:
    """The QEMU command line for one boot of the kernel.

    Batch mode (the default here) puts the serial console alone on stdio, no
    monitor: run() reads it from a pipe. Interactive mode multiplexes the
    monitor onto stdio (Ctrl-A X quits, Ctrl-A C toggles the monitor) and
    lets QEMU itself write `serial_log`.
    """
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r} (choose from {', '.join(MACHINES)})")
    accel = resolve_accel(accel)
    if icount and accel != "tcg":
        raise ValueError("--icount needs TCG (it is a TCG feature)")
    cmd = [qemu or qemu_binary(), "-M", machine, *accel_args(accel),
           "-m", str(memory), "-smp", str(int(smp)),
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-device", EXIT_DEVICE, "-kernel", kernel]
    if machine == "microvm":
        # Modern (version 2) virtio-mmio transports: Nimbus's drivers speak
        # virtio 1.x only, and QEMU makes legacy ones by default.
        cmd += ["-global", "virtio-mmio.force-legacy=false"]
    if initrd:
        cmd += ["-initrd", initrd]
    if append:
        cmd += ["-append", append]
    if interactive:
        chardev = "stdio,id=con0,mux=on,signal=off"
        if serial_log:
            chardev += ",logfile=" + serial_log
        cmd += ["-chardev", chardev, "-serial", "chardev:con0", "-mon", "chardev=con0"]
    else:
        cmd += ["-serial", "stdio"]
    if gdb:
        cmd += ["-s", "-S"]
    if icount:
        cmd += ["-icount", "shift=0,sleep=off"]
    cmd += list(extra)
    return cmd


def map_status(returncode: int) -> int:
    """QEMU's exit status -> launcher status: 33 -> 0, 35 -> 1, 37 -> 2,
    death by signal N -> 128 + N, anything else unchanged."""
    if returncode < 0:
        return 128 - returncode
    return STATUS_MAP.get(returncode, returncode)


def describe_status(status: int) -> str:
    """A few words for a launcher exit status."""
    return {STATUS_OK: "passed / clean exit", STATUS_TESTS_FAILED: "tests failed",
            STATUS_PANIC: "kernel panic", STATUS_TIMEOUT: "timeout",
            STATUS_VM_ERROR: "QEMU stopped the guest (see its stderr)"}.get(
                status, f"QEMU exit status {status}")


def kill_group(proc: subprocess.Popen, grace: float = 0.0) -> None:
    """Kills the process group led by proc (SIGTERM first if grace > 0)."""
    if proc.poll() is not None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    own = pgid == os.getpgrp()  # not a group of its own: signal only proc
    if grace > 0:
        _signal(proc, pgid, own, signal.SIGTERM)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
    _signal(proc, pgid, own, signal.SIGKILL)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


def _signal(proc, pgid, own, sig):
    try:
        if own:
            proc.send_signal(sig)
        else:
            os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


_live_lock = threading.Lock()
_live: "set[VM]" = set()


def kill_all() -> None:
    """Kills every VM still running (registered with atexit and signal handlers)."""
    with _live_lock:
        vms = list(_live)
    for vm in vms:
        vm.kill()


atexit.register(kill_all)


class VM:
    """One QEMU process in its own session (process group), serial console on
    a pipe. Output is collected by reader threads; expect() waits for a
    pattern, send() types into the serial port (with stdin=True)."""

    def __init__(self, cmd: Sequence[str], serial_log: Optional[str] = None,
                 echo=None, stdin: bool = False, cwd: str = ROOT):
        self.cmd = list(cmd)
        self.serial_log = serial_log
        self.echo = echo          # binary stream to copy serial output to, or None
        self.want_stdin = stdin
        self.cwd = cwd
        self.proc: Optional[subprocess.Popen] = None
        self.t0 = 0.0
        self._cond = threading.Condition()
        self._text: List[str] = []    # decoded serial output, in chunks
        self._textlen = 0
        self._partial = ""            # current incomplete line
        self.line_times: List[tuple] = []  # (seconds since launch, line)
        self._stderr: List[bytes] = []
        self._threads: List[threading.Thread] = []
        self._eof = 0
        self.vm_error: Optional[str] = None  # first VM_ERROR_RE line from stderr
        self._pos = 0                 # expect() cursor into the text
        self._log = None

    # -- lifecycle --------------------------------------------------------
    def start(self) -> "VM":
        if self.serial_log:
            self._log = open(self.serial_log, "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.cmd, cwd=self.cwd, start_new_session=True,
            stdin=subprocess.PIPE if self.want_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with _live_lock:
            _live.add(self)
        for stream, fn in ((self.proc.stdout, self._read_serial), (self.proc.stderr, self._read_err)):
            t = threading.Thread(target=fn, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.kill()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """QEMU's return code; None if it is still running after timeout or
        if it reported that it stopped the guest (vm_error)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._eof and not self.vm_error:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(1.0 if left is None else min(left, 1.0))
            if self.vm_error and not self._eof:
                return None
        try:
            rc = self.proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None
        self._drain()
        return rc

    def kill(self) -> None:
        """Kills QEMU's whole process group and collects the rest of its output."""
        if self.proc is None:
            return
        kill_group(self.proc)
        self._drain()

    def _drain(self) -> None:
        for t in self._threads:
            t.join(5)
        with _live_lock:
            _live.discard(self)
        if self._log and all(not t.is_alive() for t in self._threads):
            self._log.close()
            self._log = None

    # -- output -------------------------------------------------------------
    def _read_serial(self, stream) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        fd = stream.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            now = time.monotonic() - self.t0
            if self._log and data:
                self._log.write(data)
                self._log.flush()
            if self.echo is not None and data:
                try:
                    self.echo.write(data)
                    self.echo.flush()
                except (OSError, ValueError):
                    pass
            text = decoder.decode(data, final=not data).replace("\r", "")
            with self._cond:
                if text:
                    self._text.append(text)
                    self._textlen += len(text)
                    lines = (self._partial + text).split("\n")
                    self._partial = lines.pop()
                    self.line_times.extend((now, ln) for ln in lines)
                if not data:
                    if self._partial:
                        self.line_times.append((now, self._partial))
                        self._partial = ""
                    self._eof += 1
                self._cond.notify_all()
            if not data:
                return

    def _read_err(self, stream) -> None:
        fd = stream.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                return
            with self._cond:
                self._stderr.append(data)
                if self.vm_error is None:
                    m = VM_ERROR_RE.search(b"".join(self._stderr).decode("utf-8", "replace"))
                    if m:
                        self.vm_error = m.group(0)
                        self._cond.notify_all()
            if self.echo is not None:
                try:
                    sys.stderr.buffer.write(data)
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass

    @property
    def output(self) -> str:
        """Everything read from the serial console so far (\\r removed)."""
        with self._cond:
            if len(self._text) > 1:
                self._text[:] = ["".join(self._text)]
            return self._text[0] if self._text else ""

    @property
    def stderr(self) -> str:
        with self._cond:
            return b"".join(self._stderr).decode("utf-8", "replace")

    def first_line_time(self, pattern) -> Optional[float]:
        """Seconds from launch until the first complete line matching pattern."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._cond:
            for t, line in self.line_times:
                if rx.search(line):
                    return t
        return None

    def expect(self, pattern, timeout: float) -> Optional[re.Match]:
        """Waits until pattern appears in output after the previous match.
        Returns the match, or None on timeout, when QEMU has exited and its
        output is exhausted, or when QEMU reported that it stopped the guest
        (vm_error). The cursor moves past a match."""
        rx = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            text = self.output
            m = rx.search(text, self._pos)
            if m:
                self._pos = m.end()
                return m
            with self._cond:
                if self._textlen != len(text):
                    continue
                if self._eof >= 1 or self.vm_error:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 1.0))

    def send(self, data) -> None:
        """Types data (str or bytes) into the serial console (needs stdin=True)."""
        if isinstance(data, str):
            data = data.encode()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()


@dataclass
class RunResult:
    """The outcome of one boot."""
    cmd: List[str]
    status: int                 # launcher status: 0 ok/stopped, 1 tests failed, 2 panic, 124 timeout
    qemu_status: Optional[int]  # QEMU's own exit status; None if we stopped or killed it
    output: str                 # serial console text
    stderr: str                 # QEMU's stderr
    elapsed: float              # seconds from launch to exit/stop
    timed_out: bool = False
    stopped: bool = False       # we killed QEMU because `until` matched
    until_time: Optional[float] = None  # seconds from launch to the `until` match
    vm_error: Optional[str] = None      # QEMU stopped the guest: "KVM internal error" ...
    line_times: list = field(default_factory=list, repr=False)

    @property
    def lines(self) -> List[str]:
        return self.output.splitlines()

    @property
    def ready(self) -> bool:
        return READY_RE.search(self.output) is not None

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def report(self, n: int = 40) -> str:
        """A human-readable account for assertion messages."""
        what = ("timed out" if self.timed_out else "stopped after match" if self.stopped
                else f"QEMU reported: {self.vm_error}" if self.vm_error
                else f"QEMU exit {self.qemu_status} -> status {self.status}")
        s = f"$ {shlex.join(self.cmd)}\n{what} after {self.elapsed:.1f}s\n"
        s += f"--- serial (last {n} lines) ---\n{self.tail(n)}\n"
        if self.stderr.strip():
            s += f"--- qemu stderr ---\n{self.stderr.strip()[-2000:]}\n"
        return s


def run(cmd: Sequence[str], timeout: float, until=None, serial_log: Optional[str] = None,
        echo=None) -> RunResult:
    """Runs QEMU to completion or until `until` (regex) appears in the serial
    output, killing its process group at the match or after `timeout`
    seconds. A match gives status 0 with stopped=True, a timeout 124, a
    guest stopped by QEMU (KVM internal error) 125."""
    vm = VM(cmd, serial_log=serial_log, echo=echo)
    vm.start()
    stopped = False
    until_time = rc = None
    try:
        if until is not None and vm.expect(until, timeout):
            stopped = True
            until_time = time.monotonic() - vm.t0
        else:
            rc = vm.wait(max(0.0, timeout - (time.monotonic() - vm.t0)))
    finally:
        vm.kill()
    elapsed = time.monotonic() - vm.t0
    timed_out = not stopped and rc is None and not vm.vm_error
    if stopped:
        status = STATUS_OK
        rx = re.compile(until) if isinstance(until, str) else until
        until_time = vm.first_line_time(rx) or until_time
    elif rc is not None:
        status = map_status(rc)
    elif vm.vm_error:
        status = STATUS_VM_ERROR
    else:
        status = STATUS_TIMEOUT
    return RunResult(cmd=vm.cmd, status=status, qemu_status=rc, output=vm.output,
                     stderr=vm.stderr, elapsed=elapsed, timed_out=timed_out,
                     stopped=stopped, until_time=until_time, vm_error=vm.vm_error,
                     line_times=list(vm.line_times))


def boot(timeout: float, until=None, serial_log=None, echo=None, **config) -> RunResult:
    """build_command(**config) + run(): one call for tests and benchmarks."""
    return run(build_command(**config), timeout, until=until, serial_log=serial_log, echo=echo)


def parse_stages(output: str, unit: str = "us") -> Optional[dict]:
    """The `boot: stages (us): a=1 b=2` line as an ordered {name: int}, or
    None. unit selects another such line, e.g. "tsc" for raw TSC ticks."""
    m = re.search(rf"boot: stages \({re.escape(unit)}\):(.*)$", output, re.M)
    if not m:
        return None
    return {name: int(value)
            for name, value in re.findall(r"([A-Za-z_][\w.-]*)=(\d+)", m.group(1))}


def qemu_version(qemu: Optional[str] = None) -> str:
    """First line of `qemu --version`, e.g. 'QEMU emulator version 7.2.22 (...)'."""
    try:
        out = subprocess.run([qemu or qemu_binary(), "--version"], capture_output=True,
                             text=True, timeout=20).stdout
        return out.splitlines()[0].strip() if out else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def cpu_model() -> str:
    """The host CPU's model name from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
