"""Nimbus as the PVH dom0 of a real Xen (Debian's xen-hypervisor-4.17-amd64)
running inside QEMU (TCG, q35, -cpu max with its emulated SVM and nested
paging, an emulated AMD IOMMU), booted by tools/xen-boot.sh.

Checks that the kernel finds Xen, moves its clock to Xen's time, prints
through Xen's console (everything below is read from Xen's serial line, so
Nimbus's own lines there prove the console_io path), passes the in-kernel
`xen_live` suite (whose verdict reaches QEMU's isa-debug-exit port: dom0 may
use it) and reboots through SCHEDOP_shutdown.

Skipped, with the reason, when Xen is not installed or the kernel is not
built. Each boot takes a few seconds."""

import glob
import os
import re

import ktap
import nimbuslib as nl
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tools", "xen-boot.sh")
KERNEL = os.path.join(ROOT, nl.DEFAULT_KERNEL)
TIMEOUT = 180

HV_LINE_RE = re.compile(r"hv: Xen at 0x40000[0-9a-f]00\b")
CLOCK_RE = re.compile(r"clock: monotonic clock now on xen\b")
XEN_LINE_RE = re.compile(r"xen: Xen (\d+)\.(\d+), domid 0, .*shared info mapped, "
                         r"TSC [1-9]\d* kHz, console yes")
DOM0_BUILT_RE = re.compile(r"\(XEN\) \*\*\* Building a PVH Dom0 \*\*\*")
REBOOT_RE = re.compile(r"\(XEN\) Hardware Dom0 shutdown: rebooting machine")


def xen_image():
    if os.environ.get("XEN"):
        return os.environ["XEN"]
    images = sorted(glob.glob("/boot/xen-*.gz"))
    return images[-1] if images else None


def skip_reason():
    image = xen_image()
    if not image or not os.path.exists(image):
        return ("no Xen hypervisor image in /boot "
                "(apt-get install --no-install-recommends xen-hypervisor-4.17-amd64)")
    if not os.path.exists(KERNEL):
        return f"kernel not built ({KERNEL}; run make kernel)"
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def xen_boot(*kernel_args) -> nl.RunResult:
    env_timeout = str(TIMEOUT - 10)
    cmd = ["env", f"TIMEOUT={env_timeout}", "sh", SCRIPT, *kernel_args]
    return nl.run(cmd, TIMEOUT)


@pytest.fixture(scope="module")
def ktest_run():
    return xen_boot("ktest=xen_live,hv_live")


def test_xen_builds_pvh_dom0(ktest_run):
    assert DOM0_BUILT_RE.search(ktest_run.output), \
        "Xen did not build the PVH dom0\n" + ktest_run.report()


def test_hv_boot_line_says_xen(ktest_run):
    assert HV_LINE_RE.search(ktest_run.output), \
        "no `hv: Xen at ...` boot line on Xen's console\n" + ktest_run.report()


def test_clock_source_is_xen(ktest_run):
    assert CLOCK_RE.search(ktest_run.output), \
        "the monotonic clock did not move to `xen`\n" + ktest_run.report()
    m = XEN_LINE_RE.search(ktest_run.output)
    assert m, "no `xen: Xen X.Y, domid 0, ... shared info mapped ...` line\n" + ktest_run.report()
    assert (int(m.group(1)), int(m.group(2))) >= (4, 0)


def test_xen_live_suite_passes(ktest_run):
    rep = ktap.parse(ktest_run.output)
    assert rep.found, "no KTAP output\n" + ktest_run.report()
    assert rep.ok, rep.summary() + "\n" + ktest_run.report()
    assert rep.passed > 0, "no test case passed\n" + ktest_run.report()
    skipped = [ln for ln in ktest_run.lines if "# SKIP" in ln and "xen_live" in ln]
    assert not skipped, "xen_live cases skipped under Xen:\n" + "\n".join(skipped)
    assert ktest_run.qemu_status == nl.QEMU_PASSED, \
        f"QEMU exit status {ktest_run.qemu_status}, want 33\n" + ktest_run.report()


def test_reboot_through_xen():
    r = xen_boot("reboot", "quiet")
    assert REBOOT_RE.search(r.output), \
        "Xen did not reboot on Nimbus's SCHEDOP_shutdown(reboot)\n" + r.report()
    assert r.qemu_status == 0, f"QEMU exit status {r.qemu_status} (-no-reboot: want 0)\n" + r.report()
