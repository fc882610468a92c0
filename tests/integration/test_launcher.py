"""Tests of the launcher (tools/nimbuslib.py, tools/nimbus-vm) against a fake
QEMU (fake_qemu.py): command lines, exit status mapping, timeouts that kill
the whole process group, stopping at the ready line, serial logs."""

import os
import shlex
import subprocess
import sys
import time

import nimbuslib as nl
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_qemu.py")
NIMBUS_VM = os.path.join(nl.ROOT, "tools", "nimbus-vm")


def fake_cmd(append, **kw):
    return nl.build_command(qemu=FAKE, append=append, accel="tcg", **kw)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def child_pid(output: str) -> int:
    return int(next(ln for ln in output.splitlines() if ln.startswith("child="))[6:])


def nimbus_vm(*args, env=None, timeout=30):
    e = dict(os.environ, NIMBUS_QEMU=FAKE)
    e.pop("ACCEL", None)
    e.pop("MACHINE", None)
    e.update(env or {})
    return subprocess.run([sys.executable, NIMBUS_VM, *args], capture_output=True, text=True,
                          env=e, timeout=timeout, cwd=nl.ROOT)


# -- command line -------------------------------------------------------------------
def test_command_defaults():
    cmd = nl.build_command(accel="tcg", qemu="qemu")
    s = shlex.join(cmd)
    assert cmd[:3] == ["qemu", "-M", "microvm"]
    for part in ("-accel tcg -cpu max", "-m 256M", "-smp 1", "-display none", "-no-reboot",
                 "-device isa-debug-exit,iobase=0xf4,iosize=4", "-kernel build/nimbus.elf",
                 "-serial stdio"):
        assert part in s
    assert "-initrd" in cmd and "-s" not in cmd and "-icount" not in cmd


def test_command_kvm_gdb_icount_extra():
    s = shlex.join(nl.build_command(accel="kvm", gdb=True, machine="q35", smp=4, memory="6G",
                                    append="ktest panic=exit", extra=["-foo", "bar"]))
    assert "-accel kvm -cpu host,-arch-capabilities" in s
    assert "-M q35" in s and "-smp 4" in s and "-m 6G" in s
    assert "-append 'ktest panic=exit'" in s and s.endswith("-s -S -foo bar")
    assert "-icount shift=0,sleep=off" in shlex.join(nl.build_command(accel="tcg", icount=True))
    with pytest.raises(ValueError):
        nl.build_command(accel="kvm", icount=True)
    with pytest.raises(ValueError):
        nl.build_command(machine="virt")


def test_command_interactive_muxes_monitor_and_logs():
    s = shlex.join(nl.build_command(accel="tcg", interactive=True, serial_log="/tmp/x.log"))
    assert "-chardev stdio,id=con0,mux=on,signal=off,logfile=/tmp/x.log" in s
    assert "-serial chardev:con0 -mon chardev=con0" in s


def test_auto_accel_needs_hardware_virtualization(monkeypatch):
    monkeypatch.setattr(nl, "kvm_usable", lambda: True)
    monkeypatch.setattr(nl, "host_has_hw_virt", lambda: False)
    assert nl.resolve_accel("auto") == "tcg"
    assert nl.resolve_accel("kvm") == "kvm"
    monkeypatch.setattr(nl, "host_has_hw_virt", lambda: True)
    assert nl.resolve_accel("auto") == "kvm"
    monkeypatch.setattr(nl, "kvm_usable", lambda: False)
    assert nl.resolve_accel(None) == "tcg"


def test_status_mapping():
    assert [nl.map_status(s) for s in (33, 35, 37, 0, 1, 3, -9)] == [0, 1, 2, 0, 1, 3, 137]


def test_parse_stages():
    out = "x\n[    0.1] boot: stages (us): entry=0 console=12 cpu=20 memory=345 ready=400\n"
    assert nl.parse_stages(out) == {"entry": 0, "console": 12, "cpu": 20, "memory": 345,
                                    "ready": 400}
    assert list(nl.parse_stages(out)) == ["entry", "console", "cpu", "memory", "ready"]
    assert nl.parse_stages("nothing") is None


# -- running --------------------------------------------------------------------------
def test_run_maps_exit_status():
    for qemu_status, status in ((33, 0), (35, 1), (37, 2), (7, 7)):
        r = nl.run(fake_cmd(f"exit={qemu_status}"), timeout=20)
        assert (r.qemu_status, r.status, r.timed_out) == (qemu_status, status, False)
        assert "fake: booting" in r.output and "argv: " in r.output


def test_run_timeout_kills_process_group():
    t0 = time.monotonic()
    r = nl.run(fake_cmd("hang"), timeout=1.5)
    assert r.timed_out and r.status == nl.STATUS_TIMEOUT and r.qemu_status is None
    assert time.monotonic() - t0 < 10
    pid = child_pid(r.output)
    for _ in range(50):
        if not alive(pid):
            break
        time.sleep(0.1)
    assert not alive(pid), "a child of QEMU survived the timeout"


def test_run_stops_at_ready_line():
    r = nl.run(fake_cmd("ready"), timeout=30, until=nl.READY_RE)
    assert r.stopped and r.status == 0 and r.ready and not r.timed_out
    assert r.elapsed < 20 and 0 < r.until_time <= r.elapsed
    assert nl.parse_stages(r.output)["ready"] == 9


def test_run_reports_kvm_internal_error_at_once():
    r = nl.run(fake_cmd("kvm-error"), timeout=30, until=nl.READY_RE)
    assert r.status == nl.STATUS_VM_ERROR and r.vm_error == "KVM internal error"
    assert r.elapsed < 20 and "KVM internal error" in r.report()


def test_vm_send_and_expect():
    with nl.VM(fake_cmd("echo"), stdin=True) as vm:
        vm.send("hello nimbus\n")
        assert vm.expect(r"echo: hello (\w+)", 10).group(1) == "nimbus"
        assert vm.expect("never printed", 0.5) is None


def test_serial_log_tee(tmp_path):
    log = tmp_path / "serial.log"
    r = nl.run(fake_cmd("exit=33"), timeout=20, serial_log=str(log))
    assert log.read_text() == r.output


# -- the nimbus-vm command ----------------------------------------------------------------
def test_cli_dry_run_env_defaults():
    r = nimbus_vm("--dry-run", "--append", "ktest", env={"ACCEL": "tcg", "MACHINE": "q35"})
    assert r.returncode == 0
    cmd = shlex.split(r.stdout)
    assert cmd[0] == FAKE and cmd[cmd.index("-M") + 1] == "q35"
    assert "-accel" in cmd and cmd[cmd.index("-accel") + 1] == "tcg"
    assert "-chardev" in cmd  # interactive by default: monitor muxed on stdio


def test_cli_passes_extra_qemu_args():
    r = nimbus_vm("--dry-run", "--batch", "--accel", "tcg", "--qemu-arg=-device",
                  "--qemu-arg", "virtio-rng-device", "--", "-d", "int")
    assert r.stdout.strip().endswith("-device virtio-rng-device -d int")


@pytest.mark.parametrize("qemu_status,status", [(33, 0), (35, 1), (37, 2), (3, 3)])
def test_cli_batch_exit_status(qemu_status, status):
    r = nimbus_vm("--batch", "--accel", "tcg", "--kernel", FAKE, "--initrd", "",
                  "--append", f"exit={qemu_status}", "--timeout", "20")
    assert r.returncode == status, r.stderr
    assert "fake: booting" in r.stdout


def test_cli_batch_timeout(tmp_path):
    log = tmp_path / "serial.log"
    t0 = time.monotonic()
    r = nimbus_vm("--batch", "--accel", "tcg", "--kernel", FAKE, "--initrd", "",
                  "--append", "hang", "--timeout", "1", "--serial-log", str(log))
    assert r.returncode == 124 and "timeout" in r.stderr
    assert time.monotonic() - t0 < 15
    assert not alive(child_pid(r.stdout))
    assert "fake: booting" in log.read_text()


def test_cli_usage_errors():
    assert nimbus_vm("--machine", "virt").returncode == 64
    assert nimbus_vm("--accel", "tcg", "--kernel", "/nonexistent.elf").returncode == 64
    r = nimbus_vm("--accel", "kvm", "--icount", "--dry-run")
    assert r.returncode == 64 and "icount" in r.stderr
    assert nimbus_vm("--dry-run", env={"ACCEL": "fast"}).returncode == 64
