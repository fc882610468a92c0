"""User-space drivers' view of devices (docs/DEVICES.md): after utest's
device cases took COM1's interrupt line from the kernel console with an
interrupt object and closed it again, the console hears the serial port
again: a line typed into nsh comes back."""

import os

import nimbuslib as nl
import pytest

from conftest import KERNEL

PROMPT = r"nsh\$ "
TIMEOUT = 60  # seconds for each step under TCG


def test_console_input_after_interrupt_object():
    if not os.path.exists(KERNEL):
        pytest.fail(f"{KERNEL} is missing: run `make all` first")
    vm = nl.VM(nl.build_command(accel="tcg", append="init.arg=etc/devices.manifest"),
               stdin=True).start()
    try:
        assert vm.expect(r"irq: GSI \d+ back to console", TIMEOUT), \
            "the console did not get its line back\n" + vm.output[-3000:]
        assert vm.expect(r"^ok 1 devices$", TIMEOUT), \
            "utest's device cases did not pass\n" + vm.output[-3000:]
        assert vm.expect(PROMPT, TIMEOUT), "no nsh prompt\n" + vm.output[-3000:]
        vm.send("echo heard after the claim\r")
        assert vm.expect(r"^heard after the claim$", TIMEOUT), \
            "typed line not echoed: console input lost\n" + vm.output[-3000:]
    finally:
        vm.kill()


def test_microvm_without_acpi_uses_the_default_ioapic():
    """microvm with acpi=off has no MADT: the kernel finds the IOAPIC at its
    architectural address, so the console service still gets COM1's
    interrupt and a typed line reaches nsh."""
    if not os.path.exists(KERNEL):
        pytest.fail(f"{KERNEL} is missing: run `make all` first")
    vm = nl.VM(nl.build_command(accel="tcg", machine="microvm", extra=["-machine", "acpi=off"]),
               stdin=True).start()
    try:
        assert vm.expect(r"irq: no MADT; IOAPIC at the default 0xfec00000, GSI 0-23", TIMEOUT), \
            vm.output[-3000:]
        assert vm.expect(r"console: serving the serial line at 0x3f8 \(GSI 4", TIMEOUT), \
            vm.output[-3000:]
        assert vm.expect(PROMPT, TIMEOUT), "no nsh prompt\n" + vm.output[-3000:]
        vm.send("echo typed without acpi\r")
        assert vm.expect(r"^typed without acpi$", TIMEOUT), vm.output[-3000:]
    finally:
        vm.kill()
