"""nshlib without QEMU: run_line over a HostPort against a fake shell at the
other end of the socket, what a missing pattern reports, and no_user_mode's
skip under KVM and failure under TCG."""

import re
import socket
import threading

import pytest

import nshlib


def fake_shell(path: str, replies: dict) -> threading.Thread:
    """Connects to path like QEMU, prints a prompt, and answers each line
    (ended by \\r) with replies.get(line, "") and a new prompt."""
    def run():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(b"nsh$ ")
        buf = b""
        while True:
            data = s.recv(1024)
            if not data:
                return
            buf += data
            while b"\r" in buf:
                line, buf = buf.split(b"\r", 1)
                text = line.decode()
                s.sendall(f"{text}\r\n{replies.get(text, '')}nsh$ ".encode())
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.fixture
def port():
    p = nshlib.HostPort(nshlib.socket_path("nshlib-test"), name="fake console")
    p.step_timeout = 2
    yield p
    p.close()


def test_run_line_over_a_host_port(port):
    fake_shell(port.path, {"echo hi": "hi\r\n", "lsdev": "BUS  LOCATION\r\nx\r\n"})
    port.accept(5)
    assert port.expect(nshlib.PROMPT, 2)
    out = nshlib.run_line(port, "echo hi", r"^hi\r?$")
    assert out.startswith("echo hi") and "hi\r\nnsh$ " in out, out
    out = nshlib.run_line(port, "lsdev", r"^BUS +LOCATION")
    assert "echo hi" not in out and re.search(r"^x\r?$", out, re.M), out


def test_run_line_reports_what_is_missing(port):
    fake_shell(port.path, {"echo hi": "hello\r\n"})
    port.accept(5)
    with pytest.raises(AssertionError) as e:
        nshlib.run_line(port, "echo hi", r"^hi\r?$", timeout=0.5)
    assert "fake console, after typing 'echo hi': no '^hi\\\\r?$'" in str(e.value)
    assert "hello" in str(e.value)  # the console's tail


class FakeVM:
    def __init__(self, output: str, accel: str):
        self.output, self.accel, self.killed = output, accel, False

    def kill(self):
        self.killed = True


def test_no_user_mode():
    line = "[    3.3] " + nshlib.NO_USER_MODE + "\n"
    nshlib.no_user_mode(FakeVM("nimbus: ready\n", "kvm"))  # nothing
    vm = FakeVM(line, "kvm")
    with pytest.raises(pytest.skip.Exception) as e:
        nshlib.no_user_mode(vm)
    assert nshlib.NO_USER_MODE in str(e.value) and vm.killed
    vm = FakeVM(line, "tcg")
    with pytest.raises(pytest.fail.Exception) as e:
        nshlib.no_user_mode(vm)
    assert "under tcg" in str(e.value) and vm.killed
