"""Very low memory: below the documented floor (docs/BOOT.md "Memory floor")
the kernel prints one clear line and, with panic=exit, ends QEMU with the
panic status instead of faulting; at the floor the default system comes up
to the nsh prompt. Boots run in parallel (see conftest.py)."""

import os
import re

import nimbuslib as nl
import pytest

vm = pytest.mark.vm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "kernel/include/init/memfloor.h")) as f:
    MIN_MIB = int(re.search(r"#define NIMBUS_MIN_MEMORY_MIB (\d+)", f.read()).group(1))

NOT_ENOUGH_RE = re.compile(r"nimbus: not enough memory: .*need at least %d MiB" % MIN_MIB)
PROMPT = r"nsh\$ "


def below(memory):
    options = dict(memory=memory, append="panic=exit", timeout=20)
    return pytest.param(options, id=memory, marks=vm(**options))


# 4M and 5M: QEMU's initrd lies on the kernel image (caught by the entry
# code; at 3M QEMU cannot load the initrd at all and exits by itself); just
# below the floor: the kernel's own check.
@pytest.mark.parametrize("options", [below("4M"), below("5M"), below("%dM" % (MIN_MIB - 1))])
def test_below_the_floor_fails_cleanly(vm, options):
    assert NOT_ENOUGH_RE.search(vm.output), "no `not enough memory` line\n" + vm.report()
    assert len(NOT_ENOUGH_RE.findall(vm.output)) == 1, vm.report()
    assert vm.status == 2, "expected the panic exit status (37)\n" + vm.report()
    assert not nl.CRASH_RE.search(vm.output), "a fault instead of a clean stop\n" + vm.report()


@vm(memory="%dM" % MIN_MIB, until=PROMPT, timeout=20)
def test_floor_reaches_the_prompt(vm):
    assert re.search(PROMPT, vm.output), "no nsh prompt at the floor\n" + vm.report()
    assert not nl.CRASH_RE.search(vm.output), "crash report\n" + vm.report()
    assert "not enough memory" not in vm.output, vm.report()
