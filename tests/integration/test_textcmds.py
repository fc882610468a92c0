"""The text commands grep, head, tail, wc, sort and uniq (docs/SHELL.md,
"Text commands") in nsh pipelines on the serial console: one boot for the
module, the tests run in file order on it, each starting and ending at a
prompt. Expected values come from the files the initrd is made of
(initrd/etc/commands, the stripped /bin/nsh) so other changes to them do not
break these tests."""

import os
import re

import nimbuslib as nl
import pytest

from conftest import ROOT
from nshlib import PROMPT, STEP_TIMEOUT, run_line, start_vm

TIMEOUT = STEP_TIMEOUT
COMMANDS = os.path.join(ROOT, "initrd", "etc", "commands")
NSH = os.path.join(ROOT, "build", "user", "stripped", "nsh")


@pytest.fixture(scope="module")
def shell():
    """One boot for the module."""
    machine = start_vm()
    try:
        yield machine
    finally:
        machine.kill()


def output_of(vm: nl.VM, line: str, keep_log: bool = False) -> list:
    """Types a line and returns the lines it printed before the next prompt
    (kernel log lines left out unless keep_log)."""
    vm.send(line + "\r")
    echo = vm.expect(r"\n", TIMEOUT)  # the end of the echoed command line
    assert echo, f"after typing {line!r}: no echo\n{vm.output[-3000:]}"
    prompt = vm.expect(PROMPT, TIMEOUT)
    assert prompt, f"after typing {line!r}: no prompt\n{vm.output[-3000:]}"
    lines = vm.output[echo.end():prompt.start()].split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not keep_log:
        lines = [ln for ln in lines if not nl.LOG_PREFIX_RE.match(ln)]
    return lines


def split_lines(data: bytes) -> list:
    """The lines of data as the commands see them (a last one may lack its newline)."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def commands_lines() -> list:
    with open(COMMANDS) as f:
        return f.read().split("\n")[:-1]


def test_grep(shell):
    bins = output_of(shell, "ls /bin")
    assert "grep" in bins and "wc" in bins, bins
    assert output_of(shell, "ls /bin | grep -c .") == [str(len(bins))]
    lines = commands_lines()
    want = [f"{i + 1}:{ln}" for i, ln in enumerate(lines) if "ps" in ln]
    assert output_of(shell, "cat /etc/commands | grep -n ps") == want
    # -i, -v, -F, -E, and several files with their names.
    want = [ln for ln in lines if not ln.startswith("#")]
    assert output_of(shell, "grep -v '^#' /etc/commands") == want
    n = sum(1 for ln in lines if ln.lower().startswith("ls "))
    assert output_of(shell, "grep -c -i '^LS ' /etc/commands") == [str(n)]
    assert output_of(shell, "grep -F 'ls ' /etc/commands") == [ln for ln in lines if "ls " in ln]
    want = [ln for ln in lines if re.search(r"^(ps|mem) ", ln)]
    assert output_of(shell, "grep -E '^(ps|mem) ' /etc/commands") == want
    n = sum(1 for ln in lines if ln.startswith("ls "))
    assert output_of(shell, "echo ls x | grep -c '^ls ' /etc/commands - /etc/commands") == \
        [f"/etc/commands:{n}", "(standard input):1", f"/etc/commands:{n}"]
    # Exit status: 1 for no line, 2 for an error (with a message), 0 for -q
    # with a match even after an error.
    run_line(shell, "grep nomatch /etc/commands; echo $?", r"^1$")
    run_line(shell, "grep -q x /nope; echo $?", r"^grep: /nope: no such file$", r"^2$")
    run_line(shell, "grep -q ls /nope /etc/commands; echo $?", r"^grep: /nope: no such file$",
             r"^0$")
    run_line(shell, "grep ls /etc; echo $?", r"^grep: /etc: is a directory$", r"^2$")
    run_line(shell, "grep '[' /etc/commands; echo $?", r"^grep: bad pattern '\[': .+$", r"^2$")
    run_line(shell, "grep; echo $?", r"^grep: no pattern$", r"^usage: grep ", r"^2$")
    run_line(shell, "grep -Z x; echo $?", r"^grep: unknown option '-Z'$", r"^2$")
    # Binary input from the initrd: counted, no trouble.
    with open(NSH, "rb") as f:
        nsh = f.read()
    count = sum(1 for ln in split_lines(nsh) if b"ELF" in ln)
    assert output_of(shell, "grep -c ELF /bin/nsh") == [str(count)]


def test_head_tail(shell):
    bins = output_of(shell, "ls /bin")
    assert output_of(shell, "ls /bin | head -n 3") == bins[:3]
    assert output_of(shell, "ls /bin | tail -n 2") == bins[-2:]
    assert output_of(shell, "ls /bin | head -2") == bins[:2]
    assert output_of(shell, "ls /bin | tail -1") == bins[-1:]
    assert output_of(shell, "ls /bin | tail -n +3") == bins[2:]
    assert output_of(shell, "ls /bin | head -n 0") == []
    assert output_of(shell, "ls /bin | tail -n 100000") == bins
    lines = commands_lines()
    assert output_of(shell, "head -n 1 /etc/commands /etc/commands") == \
        ["==> /etc/commands <==", lines[0], "", "==> /etc/commands <==", lines[0]]
    assert output_of(shell, "tail -n 1 /nope /etc/commands; echo $?") == \
        ["tail: /nope: no such file", "==> /etc/commands <==", lines[-1], "1"]
    run_line(shell, "head -n x; echo $?", r"^head: invalid number of lines 'x'$", r"^2$")
    # The kernel log through two filters; head ends the pipeline early.
    out = output_of(shell, "dmesg | grep nimbus | head -n 1", keep_log=True)
    assert len(out) == 1 and re.match(r"^\[ *\d+\.\d+\] .*nimbus", out[0]), out
    # A last line without a newline stays without one.
    run_line(shell, "echo -n last | tail -n 1; echo .", r"^last\.$")
    # Binary lines, the pipe carrying /bin/nsh in 64 KiB messages.
    with open(NSH, "rb") as f:
        nsh = f.read()
    first = nsh.index(b"\n") + 1
    last = len(nsh) - (nsh.rindex(b"\n", 0, len(nsh) - 1) + 1)
    assert output_of(shell, "head -n 1 /bin/nsh | wc -c") == [str(first)]
    assert output_of(shell, "cat /bin/nsh | tail -n 1 | wc -c") == [str(last)]
    # grep's output goes nowhere once head ends: grep stops, quietly.
    assert output_of(shell, "grep -n . /bin/nsh | head -n 1 | wc -l") == ["1"]


def test_wc(shell):
    run_line(shell, "echo a b c | wc -w", r"^3$")
    run_line(shell, "echo a b c | wc", r"^      1       3       6$")
    run_line(shell, "echo -n abc | wc -lc", r"^      0       3$")
    lines = commands_lines()
    data = "\n".join(lines) + "\n"
    n_lines, n_words, n_bytes = len(lines), len(data.split()), len(data.encode())
    want = [ln for ln in lines if not ln.startswith("#")]
    assert output_of(shell, "grep -v '^#' /etc/commands | wc -l") == [str(len(want))]
    assert output_of(shell, "wc -l /etc/commands") == [f"{n_lines} /etc/commands"]
    assert output_of(shell, "wc /etc/commands /nope /etc/commands; echo $?") == [
        f"{n_lines:7} {n_words:7} {n_bytes:7} /etc/commands",
        "wc: /nope: no such file",
        f"{n_lines:7} {n_words:7} {n_bytes:7} /etc/commands",
        f"{2 * n_lines:7} {2 * n_words:7} {2 * n_bytes:7} total",
        "1"]
    size = os.path.getsize(NSH)
    assert output_of(shell, "cat /bin/nsh | wc -c") == [str(size)]
    assert output_of(shell, "wc -c /bin/nsh") == [f"{size} /bin/nsh"]
    run_line(shell, "wc -x; echo $?", r"^wc: unknown option '-x'$", r"^usage: wc ", r"^2$")


def test_sort_uniq(shell):
    numbers = "nsh -c 'echo 10; echo 9; echo 10; echo -1; echo 9; echo 10'"
    assert output_of(shell, numbers + " | sort") == ["-1", "10", "10", "10", "9", "9"]
    assert output_of(shell, numbers + " | sort -n") == ["-1", "9", "9", "10", "10", "10"]
    assert output_of(shell, numbers + " | sort -nr") == ["10", "10", "10", "9", "9", "-1"]
    assert output_of(shell, numbers + " | sort -nu") == ["-1", "9", "10"]
    assert output_of(shell, numbers + " | sort -n | uniq -c") == \
        ["      1 -1", "      2 9", "      3 10"]
    assert output_of(shell, numbers + " | uniq") == ["10", "9", "10", "-1", "9", "10"]
    assert output_of(shell, numbers + " | sort | uniq -d") == ["10", "9"]
    bins = output_of(shell, "ls /bin")
    assert output_of(shell, "ls /bin | sort -r") == sorted(bins, reverse=True)
    lines = commands_lines()
    assert output_of(shell, "sort /etc/commands") == \
        [b.decode() for b in sorted(ln.encode() for ln in lines)]
    assert output_of(shell, "sort /nope; echo $?") == ["sort: /nope: no such file", "1"]
    # A last line without a newline gets one.
    run_line(shell, "echo -n zzz | sort - /etc/commands | tail -n 1", r"^zzz$")
