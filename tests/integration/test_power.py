"""Power-off and reboot from user space (docs/DEVICES.md): init starts
/bin/poweroff or /bin/reboot with the `power` handle; the kernel logs who
asked and QEMU exits cleanly (tests boot with -no-reboot, so a reboot ends
QEMU too). Without the handle or with bad arguments the commands refuse."""

import re

import pytest

vm = pytest.mark.vm

LIMIT = 30  # seconds: both take well under that under TCG


@vm(append="init.arg=etc/poweroff.manifest", timeout=LIMIT)
def test_poweroff_command(vm):
    out = vm.output
    assert not vm.timed_out, "QEMU did not exit: power-off failed\n" + vm.report()
    assert vm.status == 0 and vm.qemu_status == 0, "QEMU did not exit cleanly\n" + vm.report()
    assert re.search(r"poweroff: no power handle", out), "no error without the handle\n" + vm.report()
    assert "init: nohandle exited with 1" in out, vm.report()
    assert re.search(r"usage: poweroff", out), "no usage message\n" + vm.report()
    assert "init: badusage exited with 2" in out, vm.report()
    assert re.search(r"power: off requested by poweroff\[\d+\]", out), vm.report()
    assert "power: rebooting" not in out, "rebooted instead\n" + vm.report()
    assert len(re.findall(r"nimbus: ready", out)) == 1, "booted twice\n" + vm.report()


@vm(append="init.arg=etc/reboot.manifest", timeout=LIMIT)
def test_reboot_command(vm):
    out = vm.output
    assert not vm.timed_out, "QEMU did not exit: reboot failed\n" + vm.report()
    assert vm.status == 0 and vm.qemu_status == 0, "QEMU did not exit cleanly\n" + vm.report()
    assert re.search(r"power: reboot requested by reboot\[\d+\]", out), vm.report()
    assert "power: rebooting" in out, vm.report()
    assert "power: powering off" not in out, vm.report()
