"""The console service (docs/CONSOLE.md) in the default manifest: init starts
/bin/console first (provides=console), then nsh with stdio=console.

The service drives COM1 through an `ioport` resource and an interrupt
object; nsh's stdin, stdout and stderr are the terminal's data channel,
bound to fds 0-2 by libnimbus; Ctrl-C raises SIGNAL_USER0 on nsh's stdin."""

import re

import pytest

from nshlib import PROMPT, STEP_TIMEOUT, run_line, start_vm

TIMEOUT = STEP_TIMEOUT
SERVICE_UP = r"console: serving the serial line at 0x3f8"
STDIO_TERMINAL = r"init: nsh: stdio on a console terminal"
STDIO_FALLBACK = r"init: nsh: no console (service|terminal) \(.*\); stdio stays on the kernel console"



@pytest.fixture(scope="module")
def shell():
    """One boot for the module: the tests run in file order on it, each
    starting at a prompt (the last one ends nsh with Ctrl-D)."""
    machine = start_vm()
    try:
        yield machine
    finally:
        machine.kill()


def test_console_service_up(shell):
    assert re.search(SERVICE_UP, shell.output, re.M), shell.output[-3000:]
    assert re.search(r"console: terminal 1 opened", shell.output, re.M), shell.output[-3000:]
    assert re.search(STDIO_TERMINAL, shell.output, re.M), shell.output[-3000:]


def test_line_through_the_service(shell):
    """Typed lines reach nsh through the terminal (the service's line
    discipline, or the shell's own editing in raw mode) and its output comes
    back on the serial line."""
    assert re.search(STDIO_TERMINAL, shell.output, re.M), shell.output[-3000:]
    run_line(shell, "echo through the service", r"^through the service$")
    run_line(shell, "echo abx\x7fc", r"^abc$")
    run_line(shell, "garbage\x15echo kept", r"^kept$")


def test_ctrl_c_gives_a_new_prompt(shell):
    assert re.search(STDIO_TERMINAL, shell.output, re.M), shell.output[-3000:]
    shell.send("half a line\x03")
    assert shell.expect(r"\^C", TIMEOUT), shell.output[-3000:]
    assert shell.expect(PROMPT, TIMEOUT), shell.output[-3000:]
    # The discarded text does not come back with the next line.
    run_line(shell, "echo fresh", r"^fresh$")
    assert "half a linefresh" not in shell.output


def test_init_places_nsh_stdio(shell):
    """Either nsh got a console terminal or init said why not; the shell
    works in both cases, and Ctrl-D ends it and init starts it again
    (restart=1000). Last: it ends the first shell."""
    out = shell.output
    terminal = re.search(STDIO_TERMINAL, out, re.M)
    fallback = re.search(STDIO_FALLBACK, out, re.M)
    assert bool(terminal) != bool(fallback), \
        f"init must say where nsh's stdio went (terminal or fallback, not both)\n{out[-3000:]}"
    if fallback:
        # Not up: it must not hold the serial port either.
        assert not re.search(SERVICE_UP, out, re.M), out[-3000:]
    run_line(shell, "echo console check", r"^console check$")
    shell.send("\x04")  # Ctrl-D on an empty line: end of input, nsh exits
    assert shell.expect(r"init: nsh exited with 0", TIMEOUT), shell.output[-3000:]
    assert shell.expect(r"init: nsh: restart 1 of 1000 in \d+ ms", TIMEOUT), shell.output[-3000:]
    assert shell.expect(r"init: nsh: (stdio on a console terminal|no console)", TIMEOUT), \
        shell.output[-3000:]
    assert shell.expect(PROMPT, TIMEOUT), shell.output[-3000:]
    run_line(shell, "echo again", r"^again$")
