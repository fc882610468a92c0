"""Boot smoke tests: Nimbus reaches `nimbus: ready` on every machine type
and memory size, reports its boot stages and memory, runs its KTAP suites on
q35, and reports each kind of deliberate crash with a register dump and a
symbolized backtrace. Boots run in parallel (see conftest.py)."""

import os
import re
import subprocess

import ktap
import nimbuslib as nl
import pytest

vm = pytest.mark.vm


def boot_param(id, **options):
    options.setdefault("until", "ready")
    return pytest.param(options, id=id, marks=vm(**options))


SMOKE = [
    boot_param("microvm-1cpu", machine="microvm", smp=1),
    boot_param("microvm-4cpu", machine="microvm", smp=4),
    boot_param("q35-1cpu", machine="q35", smp=1),
    boot_param("q35-4cpu", machine="q35", smp=4),
    boot_param("pc-1cpu", machine="pc", smp=1),
    boot_param("microvm-32M", machine="microvm", memory="32M"),
    boot_param("microvm-6G", machine="microvm", memory="6G"),
]


@pytest.mark.parametrize("options", SMOKE)
def test_boot_reaches_ready(vm, options):
    assert vm.stopped and vm.ready, "no `nimbus: ready` line\n" + vm.report()
    assert not nl.CRASH_RE.search(vm.output), "crash report during boot\n" + vm.report()


MM_RE = re.compile(r"^(?:\[\s*\d+\.\d+\]\s*)?mm: .*?\bhigh (\d+) MiB", re.M)


@vm(machine="microvm", memory="6G", until="ready")
def test_high_memory_reported_with_6G(vm):
    m = MM_RE.search(vm.output)
    assert m, "no `mm: ... high N MiB` line\n" + vm.report()
    assert int(m.group(1)) > 0, "no memory above 4 GiB reported with -m 6G\n" + vm.report()


@vm(machine="microvm", smp=1, until="ready")
def test_no_high_memory_with_256M(vm):
    m = MM_RE.search(vm.output)
    assert m, "no `mm: ... high N MiB` line\n" + vm.report()
    assert int(m.group(1)) == 0, "memory above 4 GiB reported with -m 256M\n" + vm.report()


@vm(machine="microvm", smp=1, until="ready")
def test_boot_stages_line(vm):
    stages = nl.parse_stages(vm.output)
    assert stages, "no `boot: stages (us): name=value ...` line\n" + vm.report()
    assert len(stages) >= 2, f"too few stages: {stages}"
    values = list(stages.values())
    assert values == sorted(values), f"stage times go backwards: {stages}"
    # Under TCG the guest TSC follows host time, so the kernel cannot have
    # spent longer than the host saw from launch to the ready line. (A sanity
    # check of the TSC calibration, not a timing requirement: the bound is 2x.)
    host_us = vm.until_time * 1e6
    assert values[-1] <= 2 * host_us + 100_000, \
        f"kernel says {values[-1]} us since entry, host saw {host_us:.0f} us: {stages}"


def check_ktest(r: nl.RunResult):
    """A ktest boot passed: exit status 33, complete KTAP, no failures."""
    rep = ktap.parse(r.output)
    assert rep.found, "no KTAP output\n" + r.report()
    assert rep.ok, rep.summary() + "\n" + r.report()
    assert rep.total > 0, "KTAP has no test cases\n" + r.report()
    assert r.qemu_status == nl.QEMU_PASSED, \
        f"KTAP passed but QEMU exit status is {r.qemu_status} (want 33)\n" + r.report()


KTEST_Q35 = dict(machine="q35", smp=4, append="ktest panic=exit", timeout=180, until=None)


@vm(**KTEST_Q35)
def test_ktest_q35_4cpu(vm):
    check_ktest(vm)


def suite_names(ktap_text: str):
    rep = ktap.parse(ktap_text)
    return [t.name for t in rep.root.children] if rep.root else []


# crash=KIND: (regex for the report's first line, page-fault error code bits
# that must be set, bits that must be clear). Error code bits: 0x1 protection
# violation (page present), 0x2 write, 0x10 instruction fetch.
CRASHES = {
    "pf": (r"EXCEPTION: #PF page fault", 0, 0x11),
    "ud": (r"EXCEPTION: #UD invalid opcode", None, None),
    "de": (r"EXCEPTION: #DE divide error", None, None),
    "gp": (r"EXCEPTION: #GP general protection", None, None),
    "nx": (r"EXCEPTION: #PF page fault", 0x11, 0x2),
    "rodata": (r"EXCEPTION: #PF page fault", 0x3, 0x10),
    "stack": (r"EXCEPTION: #DF double fault", None, None),
    "panic": (r"PANIC:", None, None),
}

def reg_re(name):
    """A register in the dump: `RSP ffffff0000013f30` (or rsp=..., RSP: ...)."""
    return re.compile(rf"\b{name}\b\s*[:=]?\s*(?:0x)?[0-9a-f]{{16}}\b", re.I)


REGS = [reg_re(r) for r in ("RAX", "RSP", "RBP", "CR3")]
RIP_RE = reg_re("RIP")
FRAME_RE = re.compile(r"\[<ffffffff[0-9a-f]+>\] \w+\+0x")
ERRCODE_RE = re.compile(r"\berr(?:or)?(?:[ _-]?code)?\s*[:=]?\s*(?:0x)?([0-9a-f]+)\b", re.I)


def crash_param(kind):
    # The report takes well under a second; a kernel that does not exit is
    # already broken, so do not wait long for it.
    options = dict(append=f"crash={kind} panic=exit", timeout=30)
    return pytest.param(kind, id=kind, marks=vm(**options))


@pytest.mark.parametrize("kind", [crash_param(k) for k in CRASHES])
def test_crash_report(vm, kind):
    first, must_set, must_clear = CRASHES[kind]
    lines = vm.lines
    at = next((i for i, ln in enumerate(lines) if re.search(first, ln)), None)
    assert at is not None, f"no `{first}` line\n" + vm.report()
    report = "\n".join(lines[at:])
    missing = [r.pattern for r in REGS if not r.search(report)]
    assert not missing, f"register dump lacks {missing}\n" + vm.report()
    if first.startswith("EXCEPTION"):
        assert RIP_RE.search(report), "no RIP in the exception report\n" + vm.report()
    assert FRAME_RE.search(report), "no symbolized backtrace frame\n" + vm.report()
    if must_set is not None:
        m = ERRCODE_RE.search(report)
        assert m, "no page-fault error code in the report\n" + vm.report()
        code = int(m.group(1), 16)
        assert code & must_set == must_set and not code & must_clear, \
            f"error code {code:#x}: want bits {must_set:#x} set, {must_clear:#x} clear\n" + vm.report()
    assert vm.qemu_status == nl.QEMU_PANIC and vm.status == nl.STATUS_PANIC, \
        "panic=exit should end QEMU with status 37\n" + vm.report()


@vm(accel="kvm", machine="microvm", until="ready")
def test_kvm_boot_reaches_ready(vm):
    assert vm.stopped and vm.ready, "no `nimbus: ready` line under KVM\n" + vm.report()


def kvm_ktest_selection(boots, repo_root) -> str:
    """The `ktest=...` argument for the KVM run.

    Under the nested software KVM of the project's machines, ring 0 is
    emulated at about 0.5 us per instruction: the whole ktest run took about
    10 minutes there, nearly all of it in pure-logic stress suites. Those
    suites also run in ktest-host (the portable kernel code) and under TCG,
    and KVM adds nothing to them; so, without hardware virtualization, the
    KVM run takes the suites that only the kernel has (hardware, hypervisor,
    scheduler). NIMBUS_KVM_KTEST=all runs everything, NIMBUS_KVM_KTEST=a,b
    those suites."""
    chosen = os.environ.get("NIMBUS_KVM_KTEST", "")
    if chosen == "all" or (not chosen and nl.host_has_hw_virt()):
        return "ktest"
    if chosen:
        return f"ktest={chosen}"
    kernel = suite_names(boots(**KTEST_Q35).output)
    assert kernel, "no suites in the TCG ktest run to choose from"
    host_exe = os.path.join(repo_root, "build", "host", "ktest-host")
    out = subprocess.run([host_exe], capture_output=True, text=True, timeout=120).stdout
    host = set(suite_names(out))
    assert host, "ktest-host listed no suites"
    kernel_only = [name for name in kernel if name not in host]
    assert kernel_only, f"every kernel suite also runs on the host: {kernel}"
    return "ktest=" + ",".join(kernel_only)


def test_kvm_ktest(need_kvm, boots, repo_root):
    selection = kvm_ktest_selection(boots, repo_root)
    check_ktest(boots(accel="kvm", machine="microvm", append=f"{selection} panic=exit",
                      until=None))


# init is not supposed to end: when it ends or cannot start, the kernel says
# so and stops the machine as after a fatal error (panic=exit: QEMU exits
# with status 37) instead of idling forever.
@vm(append="panic=exit init.arg=etc/no-such.manifest", timeout=60)
def test_init_ending_stops_the_machine(vm):
    out = vm.output
    assert re.search(r"init: no manifest etc/no-such\.manifest", out), vm.report()
    assert re.search(r"nimbus: init ended \(exit code -?\d+", out), vm.report()
    assert vm.qemu_status == nl.QEMU_PANIC and vm.status == nl.STATUS_PANIC, \
        "init's end should end QEMU with status 37\n" + vm.report()


@vm(append="panic=exit allocfail=1", timeout=60)
def test_init_that_cannot_start_stops_the_machine(vm):
    assert re.search(r"nimbus: cannot start init: ERR_NO_MEMORY", vm.output), vm.report()
    assert vm.qemu_status == nl.QEMU_PANIC and vm.status == nl.STATUS_PANIC, \
        "a failed init start should end QEMU with status 37\n" + vm.report()
