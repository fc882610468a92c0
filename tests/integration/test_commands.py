"""The system information commands (ps, mem, uptime, boottime, hvinfo, date,
dmesg, handles, kill), each started by init from etc/cmdtest.manifest and
run to its end (`wait`, so one after the other); a command's output is on
the serial console after the previous command's `exited with` line and
before its own."""

import os
import re

import nimbuslib as nl
import pytest

from conftest import ROOT

DONE = r"init: manifest done"
BOOT = dict(machine="microvm", smp=1, append="init.arg=etc/cmdtest.manifest", until=DONE,
            timeout=120)
vm = pytest.mark.vm(**BOOT)

ENDED_RE = r"\binit: {} (exited with (-?\d+)|faulted.*|killed.*|could not start.*)$"


def manifest_names():
    with open(os.path.join(ROOT, "initrd", "etc", "cmdtest.manifest")) as f:
        return [ln.split()[0] for ln in f if ln.strip() and not ln.lstrip().startswith("#")]


def ended(lines, name, start):
    """Index of `name`'s end line at or after start, and the regex match."""
    rx = re.compile(ENDED_RE.format(re.escape(name)))
    for i in range(start, len(lines)):
        m = rx.search(lines[i])
        if m:
            return i, m
    return None, None


def section(r: nl.RunResult, name: str, raw: bool = False):
    """The console lines of command `name` (without kernel log records unless
    raw) and its exit code."""
    names = manifest_names()
    assert name in names, f"{name} is not in cmdtest.manifest"
    lines = r.output.splitlines()
    start = next((i for i, ln in enumerate(lines) if "init: starting (manifest" in ln), None)
    assert start is not None, "init did not start\n" + r.report()
    for prev in names[:names.index(name)]:
        start, m = ended(lines, prev, start)
        assert start is not None, f"{prev} did not end\n" + r.report()
    end, m = ended(lines, name, start + 1)
    assert end is not None, f"{name} did not end\n" + r.report()
    assert m.group(2) is not None, f"{name} {m.group(1)}\n" + r.report()
    out = lines[start + 1:end]
    if not raw:
        out = [ln for ln in out if not nl.LOG_PREFIX_RE.match(ln)]
    return out, int(m.group(2))


@vm
def test_all_commands_ran(vm):
    assert vm.stopped, "init did not finish the manifest\n" + vm.report()
    assert not nl.CRASH_RE.search(vm.output), "crash report\n" + vm.report()


@vm
def test_ps_lists_init_and_itself(vm):
    out, code = section(vm, "ps")
    assert code == 0
    assert re.match(r"^\s*PID\s+NAME\s+STATE\s+THREADS\s+CPU\s+MEM\s*$", out[0]), out
    rows = {ln.split()[1]: ln.split() for ln in out[1:] if ln.strip()}
    assert "init" in rows and rows["init"][2] == "running", out
    # init is the first process: the boot-time user-mode probe takes no pid.
    assert rows["init"][0] == "1", out
    assert "ps" in rows and rows["ps"][2] == "running", out
    assert int(rows["ps"][3]) >= 1  # threads
    assert re.match(r"^\d+\.\d{3}$", rows["ps"][4])  # CPU seconds


@vm
def test_mem_totals_and_slabs(vm):
    out, code = section(vm, "mem")
    assert code == 0
    vals = {}
    for ln in out:
        m = re.match(r"^(total|free|used)\s+(\d+) pages\s+([\d.]+) MiB$", ln)
        if m:
            vals[m.group(1)] = int(m.group(2))
    assert set(vals) == {"total", "free", "used"}, out
    assert vals["total"] == vals["free"] + vals["used"]
    assert 0 < vals["free"] < vals["total"]
    assert any(re.match(r"^CACHE\s+OBJSIZE\s+INUSE\s+TOTAL\s+PAGES$", ln) for ln in out), out
    assert any(re.match(r"^kmalloc-64\s+64\s+\d+\s+\d+\s+\d+$", ln) for ln in out), out


@vm
def test_uptime_boottime_hvinfo(vm):
    out, code = section(vm, "uptime")
    assert code == 0
    assert re.match(r"^up \d+:\d\d:\d\d, 1 cpu, \d+ process(es)?$", out[0]), out

    out, code = section(vm, "boottime")
    assert code == 0
    stages = {ln.split()[0]: float(ln.split()[1]) for ln in out[1:]}
    assert stages.get("entry") == 0.0, out
    assert "ready" in stages and "user" in stages, out
    assert stages["entry"] <= stages["ready"] <= stages["user"]

    out, code = section(vm, "hvinfo")
    assert code == 0
    assert any(ln.startswith("hypervisor: ") for ln in out), out
    assert any(re.match(r"^clock: \S+", ln) for ln in out), out


@vm
def test_date_is_recent(vm):
    out, code = section(vm, "date")
    assert code == 0
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$", out[0])
    assert m, out
    assert int(m.group(1)) >= 2024


@vm
def test_dmesg_shows_the_boot(vm):
    # dmesg's lines look like the console's own, so look at all of its section.
    lines, code = section(vm, "dmesg", raw=True)
    assert code == 0
    text = "\n".join(lines)
    assert any(re.match(r"^\[\s*\d+\.\d{6}\] Nimbus booting", ln) for ln in lines), text[-3000:]
    # What init logged before dmesg started, tagged with its name.
    assert any(re.match(r"^\[\s*\d+\.\d{6}\] \[init\] init: date exited with 0$", ln)
               for ln in lines), text[-3000:]


@vm
def test_handles_of_itself(vm):
    out, code = section(vm, "handles")
    assert code == 0
    assert re.match(r"^HANDLE\s+TYPE\s+RIGHTS\s+OBJECT$", out[0]), out
    rows = [ln.split() for ln in out[1:]]
    types = [r[1] for r in rows]
    assert types.count("resource") == 2, out  # info and processes
    assert "log" in types and "channel" in types, out
    for r in rows:
        assert re.match(r"^0x[0-9a-f]{8}$", r[0]) and re.match(r"^[rwdtmxspWIM-]{11}$", r[2]), r


@vm
def test_kill_errors(vm):
    out, code = section(vm, "kill-bogus")
    assert code == 1
    assert "kill: 999999: no such process" in out, out
    out, code = section(vm, "kill-usage")
    assert code == 2
    assert "kill: notapid: not a process id" in out, out


@vm
def test_missing_handle_is_reported(vm):
    out, code = section(vm, "ps-nohandle")
    assert code == 1
    assert out == ["ps: no info handle (start me with handles=info)"], out
