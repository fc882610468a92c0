"""The device manager (docs/DEVICES.md, "Device manager"): devmgr started by
init with provides=devices, its log lines for what it finds, and `lsdev`
typed into nsh (which gets a devices channel through handles=devices?)."""

import os
import re

import pytest

from conftest import KERNEL
from nshlib import run_line, start_vm, wait_for

BUILD_BIN = os.path.join(os.path.dirname(KERNEL), "user", "bin")


def driver_line(program: str) -> str:
    """What devmgr logs for a device whose driver is `program`: started when
    the initrd has it, else why not."""
    if os.path.exists(os.path.join(BUILD_BIN, os.path.basename(program))):
        return rf"devmgr: started {program} for "
    return rf"devmgr: {program} \(.*\) could not start: ERR_NOT_FOUND \(not in the initrd\)"


@pytest.fixture(scope="module")
def plain():
    vm = start_vm()
    try:
        yield vm
    finally:
        vm.kill()


def test_devmgr_started_by_init(plain):
    assert re.search(r"init: started devmgr \(/bin/devmgr\)", plain.output), plain.output[-3000:]
    assert re.search(r"devmgr: \d+ devices", plain.output), plain.output[-3000:]


def test_lsdev_help_and_usage(plain):
    run_line(plain, "lsdev --help; echo status $?", r"usage: lsdev", r"^status 0$")
    run_line(plain, "lsdev --bogus; echo status $?", r"^lsdev: unexpected argument", r"^status 2$")


def test_lsdev_lists(plain):
    out = run_line(plain, "lsdev; echo status $?", r"^status 0$")
    assert re.search(r"^BUS +LOCATION +ID +CLASS +DRIVER +STATE", out, re.M) or \
        re.search(r"^lsdev: no devices", out, re.M), out


def test_microvm_virtio_mmio_rng():
    # QEMU (7.2) appends virtio_mmio.device= only without ACPI (with ACPI
    # the DSDT describes the transports).
    vm = start_vm("microvm", ["-machine", "acpi=off", "-device", "virtio-rng-device"])
    try:
        out = vm.output
        m = re.search(r"devmgr: found virtio-mmio (0x[0-9a-f]+) virtio:4 rng \(irq (\d+)\): "
                      r"/bin/virtio-rng", out)
        assert m, out[-3000:]
        assert re.search(r"devmgr: \d+ virtio-mmio windows, \d+ empty", out), out[-3000:]
        # It may have come before the prompt start_vm waited for: search it all.
        assert wait_for(vm, driver_line("/bin/virtio-rng")), vm.output[-3000:]
        table = run_line(vm, "lsdev", r"^BUS +LOCATION")
        assert re.search(rf"^virtio-mmio +{m.group(1)} +virtio:4 +rng +/bin/virtio-rng ", table,
                         re.M), table
    finally:
        vm.kill()


@pytest.mark.parametrize("machine,access", [("q35", "ECAM from ACPI MCFG"),
                                             ("pc", "configuration ports 0xcf8/0xcfc")])
def test_pci_rng(machine, access):
    """q35 has ECAM (ACPI MCFG); pc (i440FX) has no MCFG: the legacy
    configuration ports."""
    vm = start_vm(machine, ["-device", "virtio-rng-pci"])
    try:
        out = vm.output
        assert re.search(rf"devmgr: \d+ PCI functions \({re.escape(access)}\)", out), \
            out[-3000:]
        m = re.search(r"devmgr: found pci ([0-9a-f]{2}:[0-9a-f]{2}\.\d) 1af4:(1005|1044) rng: "
                      r"/bin/virtio-rng", out)
        assert m, out[-3000:]
        # It may have come before the prompt start_vm waited for: search it all.
        assert wait_for(vm, driver_line("/bin/virtio-rng")), vm.output[-3000:]
        table = run_line(vm, "lsdev", r"^BUS +LOCATION")
        # The host bridge (q35's MCH, pc's i440FX) and the rng, with its driver.
        bridge = "8086:29c0" if machine == "q35" else "8086:1237"
        assert re.search(rf"^pci +00:00\.0 +{bridge} +bridge +- +-", table, re.M), table
        assert re.search(rf"^pci +{re.escape(m.group(1))} +1af4:{m.group(2)} +rng +"
                         r"/bin/virtio-rng +(running|restarting|failed)", table, re.M), table
    finally:
        vm.kill()
