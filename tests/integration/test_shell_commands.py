"""Every command of the shell, typed into nsh on its console terminal as a
person would (docs/SHELL.md, "Commands"): what it prints, `--help`, bad
usage (exit 2), failures (exit 1), and poweroff / reboot ending QEMU."""

import re

import pytest

from nshlib import STEP_TIMEOUT, run_line, start_vm

TIMEOUT = STEP_TIMEOUT
COMMANDS = ["ls", "cat", "echo", "ps", "kill", "hvinfo", "mem", "uptime", "boottime", "dmesg",
            "handles", "date", "sleep", "poweroff", "reboot"]


@pytest.fixture(scope="module")
def shell():
    vm = start_vm()
    try:
        yield vm
    finally:
        vm.kill()


def test_each_command_has_help(shell):
    for cmd in COMMANDS:
        run_line(shell, f"{cmd} --help; echo status $?", rf"(?i)usage: {cmd}\b", r"^status 0$")


def test_bad_usage_exits_2(shell):
    for cmd in ["ps", "mem", "uptime", "boottime", "dmesg", "date", "hvinfo", "kill", "sleep"]:
        run_line(shell, f"{cmd} --bogus-option; echo status $?", rf"^{cmd}: ", r"^status 2$")


def test_system_information(shell):
    out = run_line(shell, "ps", r"^ +PID +NAME +STATE +THREADS +CPU +MEM")
    for name in ("init", "console", "nsh", "ps"):
        assert re.search(rf"^ +\d+ {name} +running +\d+ ", out, re.M), out
    assert re.search(r"^ +1 init +running ", out, re.M), out  # the probe takes no pid
    out = run_line(shell, "mem", r"^total +(\d+) pages", r"^free +(\d+) pages")
    total = int(re.search(r"^total +(\d+)", out, re.M).group(1))
    free = int(re.search(r"^free +(\d+)", out, re.M).group(1))
    assert 0 < free < total, out
    run_line(shell, "mem -s", r"(?i)slab|cache")
    run_line(shell, "uptime", r"^up \d+:\d\d:\d\d, 1 cpu, \d+ processes$")
    run_line(shell, "boottime", r"^entry +0\.000", r"^ready +\d+\.\d+", r"^user +\d+\.\d+")
    run_line(shell, "hvinfo", r"^hypervisor: TCG", r"^clock: ")
    run_line(shell, "date", r"^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
    run_line(shell, "dmesg", r"nimbus: ready", r"\[init\] init: started nsh")


def test_handles_of_itself_and_of_init(shell):
    out = run_line(shell, "handles", r"^HANDLE +TYPE +RIGHTS +OBJECT")
    assert re.search(r"^0x[0-9a-f]+ +channel ", out, re.M), out  # its terminal
    out = run_line(shell, "handles 1", r"^HANDLE +TYPE +RIGHTS +OBJECT")
    assert re.search(r"^0x[0-9a-f]+ +resource ", out, re.M), out  # init holds resources
    assert re.search(r"^0x[0-9a-f]+ +log ", out, re.M), out
    run_line(shell, "handles 99999; echo status $?", r"^handles: .*99999", r"^status 1$")


def test_sleep_and_kill(shell):
    out = run_line(shell, "sleep 30 &", r"^\[\d+\] (\d+)$")
    pid = re.search(r"^\[\d+\] (\d+)$", out, re.M).group(1)
    # The job's end is reported before the next prompt.
    run_line(shell, f"kill {pid}; echo status $?", r"^status 0$", r"^\[\d+\] killed +sleep 30$")
    run_line(shell, "kill 99999; echo status $?", r"^kill: 99999: no such process$", r"^status 1$")
    run_line(shell, "sleep 0.2; echo status $?", r"^status 0$")
    run_line(shell, "sleep soon; echo status $?", r"^sleep: ", r"^status 2$")


def test_text_commands(shell):
    run_line(shell, "echo -n no newline; echo", r"^no newline$")
    run_line(shell, "ls /etc", r"^commands$", r"^init.manifest$")
    run_line(shell, "cat /etc/hello.nsh | cat", r"hello from a script")
    run_line(shell, "cat /etc/none; echo status $?", r"^cat: /etc/none: ", r"^status 1$")


@pytest.mark.parametrize("cmd,log", [("poweroff", r"power: off requested by poweroff\[\d+\]"),
                                     ("reboot", r"power: reboot requested by reboot\[\d+\]")])
def test_power_commands_end_qemu(cmd, log):
    vm = start_vm()  # -no-reboot: a reboot ends QEMU too
    try:
        vm.send(cmd + "\r")
        assert vm.expect(log, TIMEOUT), vm.output[-2000:]
        rc = vm.wait(TIMEOUT)
        assert rc == 0, f"QEMU status {rc} after {cmd}\n" + vm.output[-2000:]
    finally:
        vm.kill()
