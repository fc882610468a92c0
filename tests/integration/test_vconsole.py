"""A second console (docs/CONSOLE.md, "A second console"): with a virtio
console device, devmgr starts /bin/virtio-console, and init's `vnsh` line
(stdio=device:console) runs a second nsh on a terminal of it. The test is
the host end of the device's chardev: it listens on a unix socket that QEMU
connects to at start-up (so nothing the guest writes is lost before the
test reads), waits for `nsh$ ` there, runs commands (Ctrl-C ending a job,
Ctrl-D ending the shell, which init restarts), checks that the serial
shell still works, then kills the driver from the serial shell: devmgr
restarts it and init starts a new shell on it. Without the device, vnsh is
not started and nothing is logged as an error."""

import re
import time

import pytest

from nshlib import PROMPT, STEP_TIMEOUT, HostPort, run_line, socket_path, start_vm, wait_count

TIMEOUT = STEP_TIMEOUT
STARTED = r"devmgr: started /bin/virtio-console for console "
VNSH_UP = r"init: vnsh: stdio on a terminal of device console 0"

MACHINES = {
    # disable-legacy=on: a modern-only function (1af4:1043).
    "q35": ("q35", ["-device", "virtio-serial-pci,disable-legacy=on"], "1043"),
    # QEMU's default: transitional (1af4:1003), mapped through 1043's line.
    "q35-transitional": ("q35", ["-device", "virtio-serial-pci"], "1003"),
    # acpi=off: QEMU lists the virtio-mmio transports on the command line.
    "microvm": ("microvm", ["-machine", "acpi=off", "-device", "virtio-serial-device"], None),
}


@pytest.mark.parametrize("config", sorted(MACHINES))
def test_second_shell(tmp_path, config):
    machine, device_args, pci_id = MACHINES[config]
    port = HostPort(socket_path(f"vc-{config}"))
    extra = ["-chardev", f"socket,id=vc0,path={port.path}", *device_args,
             "-device", "virtconsole,chardev=vc0"]
    vm = start_vm(machine=machine, extra=extra, prompt=False)
    try:
        port.accept(TIMEOUT, vm)
        # The shell on the virtio console, and the serial one.
        assert port.expect(PROMPT, 120), "no prompt on the virtio console\n" + \
            port.text[-2000:] + "\n--- serial ---\n" + vm.output[-4000:]
        assert vm.expect(PROMPT, TIMEOUT), vm.output[-4000:]
        assert re.search(VNSH_UP, vm.output, re.M), vm.output[-4000:]
        assert re.search(r"virtio-console: serving port 0 \(virtio-(pci|mmio), 24x80",
                         vm.output), vm.output[-4000:]
        if pci_id:
            assert re.search(rf"devmgr: found pci \S+ 1af4:{pci_id} console: "
                             r"/bin/virtio-console", vm.output), vm.output[-4000:]

        out = run_line(port, "echo hi", r"^hi\r?$")
        assert "echo hi" in out, out  # echoed by the terminal
        out = run_line(port, "lsdev", r"^BUS +LOCATION")
        assert re.search(r"^\S+ +\S+ +\S+ +console +/bin/virtio-console +running", out, re.M), out
        # Ctrl-C reaches the shell through the driver's terminal: the
        # foreground job ends long before its 100 s.
        port.send("sleep 100\r")
        time.sleep(1)
        t0 = time.monotonic()
        port.send("\x03")
        assert port.expect(r"\^C", TIMEOUT) and port.expect(PROMPT, TIMEOUT), port.text[-2000:]
        assert time.monotonic() - t0 < 30, "Ctrl-C did not end sleep"
        run_line(port, "echo after-ctrl-c", r"^after-ctrl-c\r?$")
        # Ctrl-D at the prompt ends vnsh; init starts it again on a new terminal.
        shells = len(re.findall(VNSH_UP, vm.output, re.M))
        port.send("\x04")
        wait_count(vm, VNSH_UP, shells + 1, TIMEOUT)
        assert port.expect(PROMPT, TIMEOUT), port.text[-2000:]
        assert re.search(r"init: vnsh exited with 0", vm.output), vm.output[-4000:]
        # Typing on one console goes to its own shell only.
        run_line(vm, "echo serial-still-works", r"^serial-still-works\r?$")
        assert "serial-still-works" not in port.text

        # Kill the driver from the serial shell: devmgr restarts it, the old
        # vnsh reads end of input and init starts a new one on the new driver.
        out = run_line(vm, "ps", r"virtio-console")
        m = re.search(r"^\s*(\d+)\s.*virtio-console", out, re.M)
        assert m, out
        started = len(re.findall(STARTED, vm.output))
        shells = len(re.findall(VNSH_UP, vm.output, re.M))
        run_line(vm, f"kill {m.group(1)}")
        wait_count(vm, STARTED, started + 1, TIMEOUT)
        wait_count(vm, VNSH_UP, shells + 1, TIMEOUT)
        assert port.expect(PROMPT, TIMEOUT), \
            "no new prompt on the virtio console\n" + port.text[-2000:]
        run_line(port, "echo again", r"^again\r?$")
        run_line(vm, "echo serial-after", r"^serial-after\r?$")
    finally:
        vm.kill()
        port.close()


@pytest.mark.vm(machine="q35", timeout=60, until=r"init: manifest done")
def test_without_the_device(vm):
    """No virtio console: vnsh is not started, with one plain line."""
    assert re.search(r"init: manifest done", vm.output), vm.tail()
    assert re.search(r"^.*init: vnsh not started: no console device$", vm.output, re.M), \
        vm.tail()
    assert not re.search(r"vnsh.*(could not start|ERR_)", vm.output), vm.tail()
    assert "virtio-console" not in vm.output, vm.tail()
