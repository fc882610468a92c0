"""The shell on the serial console: the default manifest ends at the nsh
prompt; lines typed into COM1 go through the kernel's line discipline to
nsh, which runs builtins and programs from the initrd and keeps $?."""

import os

import nimbuslib as nl
import pytest

from conftest import KERNEL

PROMPT = r"nsh\$ "
TIMEOUT = 30  # seconds for each step under TCG


def run_line(vm: nl.VM, line: str, *expected: str) -> None:
    """Types a line, then expects each pattern in order and a new prompt."""
    vm.send(line + "\r")  # a terminal's Enter: the line discipline maps CR to LF
    for pattern in (*expected, PROMPT):
        assert vm.expect(pattern, TIMEOUT), \
            f"after typing {line!r}: no {pattern!r}\n--- serial (tail) ---\n{vm.output[-3000:]}"


def test_shell_session():
    if not os.path.exists(KERNEL):
        pytest.fail(f"{KERNEL} is missing: run `make all` first")
    vm = nl.VM(nl.build_command(accel="tcg"), stdin=True).start()
    try:
        assert vm.expect(PROMPT, 60), "no nsh prompt\n" + vm.output[-3000:]
        run_line(vm, "echo hello world", r"^hello world$")
        run_line(vm, "hello", r"^ok 1 hello$")
        run_line(vm, "echo $?", r"^0$")
        run_line(vm, "nosuchcmd", r"^nsh: nosuchcmd: not found$")
        run_line(vm, "echo $?", r"^127$")
        run_line(vm, "/test/crash null-read",
                 r"^nsh: /test/crash: terminated by fault \(exit code 139: .*fault\)$")
        run_line(vm, "echo $?", r"^139$")
        # Line editing: DEL erases a character, Ctrl-U the whole line.
        run_line(vm, "echo abx\x7fc; echo $?", r"^abc$", r"^0$")
        run_line(vm, "garbage\x15echo kept", r"^kept$")
    finally:
        vm.kill()
