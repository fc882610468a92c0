"""Driving nsh from a test: over the serial console (an nl.VM started with
stdin=True) and over another chardev (HostPort: the host end of a unix
socket QEMU connects to, e.g. a virtconsole's).

    vm = start_vm(machine="q35", extra=[...])        # at the nsh prompt
    out = run_line(vm, "blk info; echo status $?", r"^status \\d+")
    wait_all(vm, [r"devmgr: started /bin/virtio-blk", PROMPT], 120)

run_line types a line, expects each pattern in order and then a new prompt,
and returns what came after the typing; a missing pattern fails the test
with the tail of that console. Each step waits at most the console's
`step_timeout` (start_vm sets it: STEP_TIMEOUT under TCG, KVM_STEP_TIMEOUT
under KVM) unless timeout= says otherwise.

KVM: where the kernel reports that this hypervisor cannot run user mode
(`nimbus: not starting init: ...`), start_vm and wait_all skip the test
under KVM with that line as the reason (no_user_mode); under TCG that line
fails the test."""

import os
import re
import socket
import threading
import time
from typing import Iterable, Optional

import nimbuslib as nl
import pytest

from conftest import KERNEL

PROMPT = r"nsh\$ "
STEP_TIMEOUT = 60  # seconds for each step under TCG
KVM_STEP_TIMEOUT = 240  # nested software KVM is slower than TCG at ring 0
BOOT_TIMEOUT = 120  # seconds from QEMU's start to the first prompt under TCG
TAIL = 4000  # characters of a console shown when a step fails
NO_USER_MODE = "nimbus: not starting init: this hypervisor cannot run user mode"


def need_kernel() -> None:
    if not os.path.exists(KERNEL):
        pytest.fail(f"{KERNEL} is missing: run `make all` first")


def start_vm(machine: str = "microvm", extra: Iterable[str] = (), accel: str = "tcg",
             append: str = "", prompt: bool = True, prompt_timeout: float = 60,
             **options) -> nl.VM:
    """Boots with build_command() options and serial input; with prompt,
    waits for the first nsh prompt (fails the test without one)."""
    need_kernel()
    vm = nl.VM(nl.build_command(accel=accel, machine=machine, append=append, extra=list(extra),
                                **options), stdin=True).start()
    vm.accel = accel
    vm.step_timeout = KVM_STEP_TIMEOUT if accel == "kvm" else STEP_TIMEOUT
    vm.console_name = "serial"
    if prompt and not vm.expect(f"{PROMPT}|{re.escape(NO_USER_MODE)}", prompt_timeout):
        vm.kill()
        pytest.fail("no nsh prompt\n" + vm.output[-TAIL:])
    no_user_mode(vm)
    return vm


def no_user_mode(vm) -> None:
    """When the kernel said it cannot run user mode (no init, no shell):
    under KVM skips the test with that line as the reason (a nested KVM that
    cannot enter ring 3); under TCG fails it (a kernel bug). Otherwise
    nothing."""
    if NO_USER_MODE not in vm.output:
        return
    vm.kill()
    if getattr(vm, "accel", "tcg") == "kvm":
        pytest.skip(f"KVM here: the kernel logged `{NO_USER_MODE}`")
    pytest.fail(f"`{NO_USER_MODE}` under {getattr(vm, 'accel', 'tcg')}\n" + vm.output[-TAIL:])


def _step_timeout(con, timeout: Optional[float]) -> float:
    return timeout if timeout is not None else getattr(con, "step_timeout", STEP_TIMEOUT)


def run_line(con, line: str, *expected: str, timeout: Optional[float] = None) -> str:
    """Types line into con (an nl.VM or a HostPort), then expects each
    pattern in order and a new prompt; returns the console's text from the
    typing on."""
    start = len(con.output)
    con.send(line + "\r")  # a terminal's Enter
    for pattern in (*expected, PROMPT):
        assert con.expect(pattern, _step_timeout(con, timeout)), \
            f"{getattr(con, 'console_name', 'serial')}, after typing {line!r}: no " \
            f"{pattern!r}\n--- tail ---\n{con.output[-TAIL:]}"
    return con.output[start:]


def wait_for(con, pattern: str, timeout: Optional[float] = None) -> bool:
    """True once pattern is anywhere in the output (already, or within the
    timeout); the expect cursor does not move."""
    deadline = time.monotonic() + _step_timeout(con, timeout)
    while not re.search(pattern, con.output, re.M):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def wait_all(vm: nl.VM, patterns, timeout: float) -> None:
    """Waits until every pattern is somewhere in the output (in any order:
    a driver may log before devmgr does), then moves the expect cursor to
    the end."""
    deadline = time.monotonic() + timeout
    while not all(re.search(p, vm.output, re.M) for p in patterns):
        no_user_mode(vm)
        missing = [p for p in patterns if not re.search(p, vm.output, re.M)]
        assert time.monotonic() < deadline, f"no {missing}\n" + vm.output[-TAIL:]
        vm.expect(r"\n", 1)
    vm.expect(r"\Z", 0)


def wait_count(vm: nl.VM, pattern: str, count: int, timeout: float) -> None:
    """Waits until pattern occurs count times in the whole output."""
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, vm.output, re.M)) < count:
        assert time.monotonic() < deadline, \
            f"no {count}x {pattern!r}\n--- serial (tail) ---\n{vm.output[-TAIL:]}"
        vm.expect(r"\n", 1)


class HostPort:
    """The host end of a socket chardev (`-chardev socket,id=X,path=PATH`):
    a unix socket QEMU connects to at its start, so nothing the guest writes
    is lost before the test reads. send/expect/output as nl.VM's, so
    run_line works on it."""

    def __init__(self, path: str, name: str = "virtio console"):
        if os.path.exists(path):
            os.unlink(path)
        self.path = path
        self.console_name = name
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.conn = None
        self.data = b""
        self.pos = 0  # expect() cursor
        self.cond = threading.Condition()

    def accept(self, timeout: float, vm: Optional[nl.VM] = None) -> None:
        """Waits for QEMU's connection (QEMU connects as it starts); gives
        up early when vm's QEMU has ended."""
        deadline = time.monotonic() + timeout
        self.listener.settimeout(1.0)
        while self.conn is None:
            try:
                self.conn, _ = self.listener.accept()
            except socket.timeout:
                gone = vm is not None and not vm.running
                if gone or time.monotonic() > deadline:
                    raise AssertionError(
                        f"QEMU did not connect to {self.path}" +
                        (f" (it ended)\n{vm.stderr[-2000:]}" if gone else "")) from None
        self.listener.close()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.conn.recv(4096)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.data += chunk
                self.cond.notify_all()

    @property
    def output(self) -> str:
        with self.cond:
            return self.data.decode("utf-8", "replace")

    text = output

    def expect(self, pattern: str, timeout: float):
        """The first match of pattern after the cursor (moved past it)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.M)
        with self.cond:
            while True:
                m = rx.search(self.data.decode("utf-8", "replace"), self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def send(self, text: str) -> None:
        self.conn.sendall(text.encode())

    def close(self) -> None:
        if self.conn:
            self.conn.close()
        else:
            self.listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def socket_path(tag: str) -> str:
    """A short path for a unix socket (their paths are limited to about 100
    bytes), unique per process and tag."""
    return f"/tmp/nimbus-{tag}-{os.getpid()}.sock"
