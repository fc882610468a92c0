"""The hypervisor layer on real hypervisors: what the boot line and the
`hvinfo:` report say under TCG and under KVM with various -cpu flags, which
clock source the kernel settles on, and `clockcheck=SECONDS`: the kernel's
monotonic clock against host time over a sleep, and against itself across
CPUs. KVM cases skip when /dev/kvm is not usable."""

import re

import nimbuslib as nl
import pytest

vm = pytest.mark.vm

KVM_CPU = "host,-arch-capabilities"
HV_LINE_RE = re.compile(r"\] hv: (.*)$", re.M)
CLOCK_SWITCH_RE = re.compile(r"clock: monotonic clock now on (\S+)")
HVINFO_CLOCK_RE = re.compile(r"hvinfo: clock: (\S+)")
START_RE = re.compile(r"clockcheck: start mono_ns=(\d+)")
END_RE = re.compile(r"clockcheck: end mono_ns=(\d+) elapsed_ns=(\d+)")
CROSS_RE = re.compile(r"clockcheck: cross-cpu cpus=(\d+) readings=(\d+) backwards=(\d+)")
CHECK_SECONDS = 3


def kvm_boot(cpu=KVM_CPU, **options):
    options.setdefault("until", "ready")
    return dict(accel="kvm", extra=["-cpu", cpu], append="noinit", **options)


def hv_line(r: nl.RunResult) -> str:
    m = HV_LINE_RE.search(r.output)
    assert m, "no `hv:` boot line\n" + r.report()
    return m.group(1)


def hvinfo_clock(r: nl.RunResult) -> str:
    m = HVINFO_CLOCK_RE.search(r.output)
    assert m, "no `hvinfo: clock:` line\n" + r.report()
    return m.group(1)


def assert_ready(r: nl.RunResult):
    assert r.ready, "no `nimbus: ready` line\n" + r.report()
    assert not nl.CRASH_RE.search(r.output), "crash report during boot\n" + r.report()


@vm(machine="microvm", smp=1, append="noinit", until="ready")
def test_tcg_boot_line_and_tsc_clock(vm):
    assert_ready(vm)
    assert hv_line(vm).startswith("TCG at 0x40000000"), vm.report()
    assert "hvinfo: hypervisor: TCG" in vm.output, vm.report()
    assert not CLOCK_SWITCH_RE.search(vm.output), "clock source changed under TCG\n" + vm.report()
    assert hvinfo_clock(vm) == "tsc", vm.report()


@vm(**kvm_boot())
def test_kvm_boot_line_and_kvmclock(vm):
    assert_ready(vm)
    line = hv_line(vm)
    assert line.startswith("KVM at 0x40000000"), vm.report()
    assert "clock: monotonic clock now on kvmclock" in vm.output, vm.report()
    assert hvinfo_clock(vm) == "kvmclock", vm.report()
    # The report is printed after hv_init_late: what KVM turned on shows as used.
    assert re.search(r"hvinfo:\s+clocksource2?\s+KVM\s+used", vm.output), vm.report()
    if "steal-time" in line:
        assert re.search(r"hvinfo: steal time: cpu0 \d+ ns", vm.output), vm.report()


@vm(**kvm_boot(cpu=KVM_CPU + ",kvm=off"))
def test_kvm_hidden_hypervisor(vm):
    assert_ready(vm)
    assert hv_line(vm).startswith("unknown/hidden hypervisor"), vm.report()
    assert not CLOCK_SWITCH_RE.search(vm.output), "clock source changed\n" + vm.report()
    assert hvinfo_clock(vm) == "tsc", vm.report()


@vm(**kvm_boot(cpu=KVM_CPU + ",vmware-cpuid-freq=on,+invtsc"))
def test_kvm_timing_leaf_tsc_khz(vm):
    assert_ready(vm)
    line = hv_line(vm)
    m = re.search(r", tsc (\d+) kHz", line)
    assert m, "no TSC kHz from the timing leaf in the boot line\n" + vm.report()
    assert "tsc-freq-leaf" in line, vm.report()
    khz = int(m.group(1))
    assert 100_000 < khz < 10_000_000, f"implausible TSC rate {khz} kHz\n" + vm.report()
    assert re.search(rf"hvinfo: tsc: {khz} kHz \(timing leaf\)", vm.output), vm.report()


def line_time(r: nl.RunResult, rx) -> float:
    """Host seconds from launch to the first serial line matching rx."""
    for t, line in r.line_times:
        if rx.search(line):
            return t
    raise AssertionError(f"no line matching {rx.pattern!r}\n" + r.report())


def check_clock_agreement(r: nl.RunResult, cpus: int):
    """The guest's elapsed time over the sleep agrees with the host's within
    5%, and no CPU saw the clock go backwards in the hand-off."""
    start, end = START_RE.search(r.output), END_RE.search(r.output)
    assert start and end, "no clockcheck start/end lines\n" + r.report()
    guest = int(end.group(2)) / 1e9
    assert int(end.group(1)) - int(start.group(1)) == int(end.group(2)), r.report()
    t0, t1 = line_time(r, START_RE), line_time(r, END_RE)
    host = t1 - t0
    assert guest >= CHECK_SECONDS, f"slept {guest:.3f} s of {CHECK_SECONDS}\n" + r.report()
    assert abs(guest - host) <= 0.05 * host, \
        f"guest says {guest:.3f} s, host saw {host:.3f} s\n" + r.report()
    cross = CROSS_RE.search(r.output)
    assert cross, "no `clockcheck: cross-cpu` result\n" + r.report()
    assert int(cross.group(1)) == cpus, r.report()
    assert int(cross.group(2)) > 0, r.report()
    assert int(cross.group(3)) == 0, "the clock went backwards across CPUs\n" + r.report()


CLOCKCHECK = dict(machine="microvm", smp=2, until=r"clockcheck: cross-cpu[^\n]*\n",
                  append=f"clockcheck={CHECK_SECONDS} noinit")


@vm(**CLOCKCHECK)
def test_clockcheck_tcg(vm):
    check_clock_agreement(vm, 2)


@vm(accel="kvm", **CLOCKCHECK)
def test_clockcheck_kvm(vm):
    check_clock_agreement(vm, 2)
