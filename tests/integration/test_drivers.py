"""Several drivers at once (docs/DEVICES.md, "Tests"): one machine with a
virtio-blk, a virtio-net (QEMU user networking), a virtio-rng and a virtio
console (a socket chardev whose host end is the test) at the same time,
on q35 (virtio-pci, modern-only functions, MSI-X) and on microvm with ACPI
on (virtio-mmio transports devmgr finds in the DSDT).

devmgr starts all four drivers; lsdev lists them running; `blk` reads what
the host wrote into the image before boot and writes and reads a sector of
its own; the rng feeds the entropy pool; a shell comes up on the virtio
console. Then the network driver is killed: while devmgr restarts it the
disk and the virtio console keep working, and the others are not restarted.
Last `poweroff` (ACPI on both machines) ends QEMU and the whole image is
compared with the bytes expected.

Both machines boot at once (a module fixture starts them); the KVM variant
runs where /dev/kvm works and skips, with the kernel's line as the reason,
where the kernel reports that this hypervisor cannot run user mode."""

import re
import time

import pytest

from nshlib import (PROMPT, HostPort, no_user_mode, run_line, socket_path, start_vm, wait_all,
                    wait_count)

SECTOR = 512
IMAGE_SECTORS = 2048  # 1 MiB
FILL = b"\x5a"
HOST_SECTOR = 17
HOST_TEXT = b"host-made-before-boot"
GUEST_SECTOR = 6
GUEST_TEXT = b"four-drivers-at-once"
DRIVERS = {"blk": "/bin/virtio-blk", "net": "/bin/virtio-net", "rng": "/bin/virtio-rng",
           "console": "/bin/virtio-console"}

MACHINES = {
    # Modern-only functions (1af4:1042, 1041, 1044, 1043).
    "q35": ("q35", ["-device", "virtio-blk-pci,drive=d0,disable-legacy=on",
                    "-device", "virtio-net-pci,netdev=n0,disable-legacy=on",
                    "-device", "virtio-rng-pci,disable-legacy=on",
                    "-device", "virtio-serial-pci,disable-legacy=on"], "virtio-pci"),
    # No acpi=off: the transports come from the DSDT only.
    "microvm": ("microvm", ["-device", "virtio-blk-device,drive=d0",
                            "-device", "virtio-net-device,netdev=n0",
                            "-device", "virtio-rng-device",
                            "-device", "virtio-serial-device"], "virtio-mmio"),
}


def started(program: str) -> str:
    """devmgr's line for starting a driver."""
    return rf"devmgr: started {program} for "


def hexdump_line(sector: int, text: bytes) -> str:
    """The regex of blk read's first line of a sector that starts with text
    (at least 16 bytes)."""
    row = text[:16]
    hexes = " ".join(f"{b:02x}" for b in row)
    hexes = hexes[:23] + " " + hexes[23:]  # two groups of eight
    ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
    return rf"^{sector * SECTOR:08x}  {re.escape(hexes)}  \|{re.escape(ascii_)}\|"


class Machine:
    """One booted machine: its QEMU, the virtio console's host end, the image."""

    def __init__(self, tmp_path, config: str, accel: str):
        machine, device_args, self.transport = MACHINES[config]
        self.config = config
        self.is_ready = False
        self.image = tmp_path / f"{config}-{accel}.img"
        self.original = bytearray(FILL * (IMAGE_SECTORS * SECTOR))
        at = HOST_SECTOR * SECTOR
        self.original[at:at + len(HOST_TEXT)] = HOST_TEXT
        self.image.write_bytes(bytes(self.original))
        self.port = HostPort(socket_path(f"drv-{config}-{accel}"))
        extra = ["-drive", f"file={self.image},format=raw,if=none,id=d0,cache=writethrough",
                 "-netdev", "user,id=n0", *device_args,
                 "-chardev", f"socket,id=vc0,path={self.port.path}",
                 "-device", "virtconsole,chardev=vc0"]
        self.vm = start_vm(machine=machine, extra=extra, accel=accel, prompt=False)
        self.port.step_timeout = self.vm.step_timeout
        try:
            self.port.accept(self.vm.step_timeout, self.vm)
        except BaseException:
            self.close()
            raise

    def ready(self) -> None:
        """Waits (once) until all four drivers run and both shells prompt."""
        if self.is_ready:
            return
        vm, port, step = self.vm, self.port, self.vm.step_timeout
        no_user_mode(vm)
        wait_all(vm, [*(started(p) for p in DRIVERS.values()),
                      rf"virtio-blk: 2048 sectors .*{self.transport}",
                      r"virtio-net: 52:54:00:12:34:56, ",
                      r"virtio-rng: first \d+ bytes fed to the entropy pool",
                      rf"virtio-console: serving port 0 \({self.transport}", PROMPT], 2 * step)
        assert port.expect(PROMPT, step), "no prompt on the virtio console\n" + \
            port.text[-2000:] + "\n--- serial ---\n" + vm.output[-4000:]
        self.is_ready = True

    def close(self) -> None:
        self.vm.kill()
        self.port.close()


CONFIGS = [(config, accel) for accel in ("tcg", "kvm") for config in sorted(MACHINES)]


@pytest.fixture(scope="module")
def machines(request, tmp_path_factory):
    """The machines the selected tests of the module use, booting at once
    (KVM ones only where /dev/kvm is usable): {(config, accel): Machine}."""
    from conftest import kvm_available
    wanted = {(item.callspec.params["config"], item.callspec.params["accel"])
              for item in request.session.items if item.module is request.module}
    made = {}
    try:
        for config, accel in CONFIGS:
            if (config, accel) in wanted and (accel == "tcg" or kvm_available()):
                made[config, accel] = Machine(tmp_path_factory.mktemp("drivers"), config, accel)
        yield made
    finally:
        for m in made.values():
            m.close()


def machine(machines, config: str, accel: str) -> "Machine":
    """The machine at its prompts (skips the test without it)."""
    if (config, accel) not in machines:
        pytest.skip("/dev/kvm is not usable here (or NIMBUS_SKIP_KVM is set)")
    m = machines[config, accel]
    m.ready()
    return m


def ids(configs):
    return [f"{config}-{accel}" for config, accel in configs]


TCG = [c for c in CONFIGS if c[1] == "tcg"]
KVM = [c for c in CONFIGS if c[1] == "kvm"]


# The KVM cases last: their machines (booting with the TCG ones) get the
# most time to come up.
@pytest.mark.parametrize("config,accel", TCG, ids=ids(TCG))
def test_arping_from_nsh(machines, config, accel):
    """The gateway of QEMU user networking answers arping typed into nsh."""
    check_arping(machine(machines, config, accel))


@pytest.mark.parametrize("config,accel", TCG, ids=ids(TCG))
def test_several_drivers(machines, config, accel):
    check_several_drivers(machine(machines, config, accel))


@pytest.mark.parametrize("config,accel", KVM, ids=ids(KVM))
def test_arping_from_nsh_kvm(machines, config, accel):
    check_arping(machine(machines, config, accel))


@pytest.mark.parametrize("config,accel", KVM, ids=ids(KVM))
def test_several_drivers_kvm(machines, config, accel):
    check_several_drivers(machine(machines, config, accel))


def check_arping(m: Machine) -> None:
    # arping opens network device 0 through devmgr (the `devices` handle);
    # the driver serves it as one more client beside its service channel.
    out = run_line(m.vm, "arping -c 1 10.0.2.2; echo status $?", r"^status \d+")
    assert re.search(r"^reply from 10\.0\.2\.2 at 52:55:0a:00:02:02 in \d+\.\d ms", out, re.M), \
        out
    assert "status 0" in out, out
    # Twice in a row (a second client after the first went away), and a
    # device that does not exist.
    out = run_line(m.vm, "arping -c 1 10.0.2.2; echo status $?", r"^status \d+")
    assert "status 0" in out, out
    out = run_line(m.vm, "arping -d 1 -c 1 10.0.2.2; echo status $?", r"^status \d+")
    assert re.search(r"^arping: cannot open network device 1: ERR_NOT_FOUND", out, re.M), out
    assert "status 1" in out, out


def check_several_drivers(m: Machine) -> None:
    vm, port = m.vm, m.port
    step = vm.step_timeout
    out = vm.output
    if m.config == "microvm":
        assert not re.search(r"cmdline: .*virtio_mmio\.device=", out), out[-4000:]
        assert re.search(r"devmgr: ACPI DSDT: 4 virtio-mmio devices \(0 unusable", out), \
            out[-4000:]
    else:
        for cls, dev in (("blk", "1042"), ("net", "1041"), ("rng", "1044"), ("console", "1043")):
            assert re.search(rf"devmgr: found pci \S+ 1af4:{dev} {cls}: {DRIVERS[cls]}", out), \
                out[-4000:]
    for program in DRIVERS.values():
        assert len(re.findall(started(program), out)) == 1, f"{program} started twice\n" + \
            out[-4000:]

    table = run_line(vm, "lsdev", r"^BUS +LOCATION")
    for cls, program in DRIVERS.items():
        assert re.search(rf"^\S+ +\S+ +\S+ +{cls} +{program} +running", table, re.M), table

    # The disk: the host's bytes, then a sector of the guest's own.
    out = run_line(vm, f"blk read {HOST_SECTOR}; echo status $?", r"^status \d+")
    assert "status 0" in out and re.search(hexdump_line(HOST_SECTOR, HOST_TEXT), out, re.M), out
    out = run_line(vm, f"blk write {GUEST_SECTOR} {GUEST_TEXT.decode()}; blk flush; "
                   "echo status $?", r"^status \d+")
    assert "status 0" in out, out
    guest_row = hexdump_line(GUEST_SECTOR, GUEST_TEXT)
    out = run_line(vm, f"blk read {GUEST_SECTOR}; echo status $?", r"^status \d+")
    assert "status 0" in out and re.search(guest_row, out, re.M), out

    # The virtio console's shell.
    run_line(port, "echo on-the-virtio-console", r"^on-the-virtio-console\r?$")

    # Kill the network driver: the others keep working meanwhile, devmgr
    # restarts it, and only it.
    out = run_line(vm, "ps", r"virtio-net")
    pid = re.search(r"^\s*(\d+)\s.*virtio-net", out, re.M)
    assert pid, out
    before = {p: len(re.findall(started(p), vm.output)) for p in DRIVERS.values()}
    run_line(vm, f"kill {pid.group(1)}; blk read {HOST_SECTOR}", hexdump_line(HOST_SECTOR,
                                                                             HOST_TEXT))
    run_line(port, "echo while-net-restarts", r"^while-net-restarts\r?$")
    wait_count(vm, started(DRIVERS["net"]), before[DRIVERS["net"]] + 1, step)
    assert re.search(r"devmgr: /bin/virtio-net \([^)]*\): restart \d+ of", vm.output), \
        vm.output[-4000:]
    wait_count(vm, r"virtio-net: 52:54:00:12:34:56, ", 2, step)
    deadline = time.monotonic() + step
    while True:  # the new driver sets the device up before lsdev says running
        table = run_line(vm, "lsdev", r"^BUS +LOCATION")
        if re.search(r"^\S+ +\S+ +\S+ +net +/bin/virtio-net +running", table, re.M):
            break
        assert time.monotonic() < deadline, table
        time.sleep(1)
    for cls, program in DRIVERS.items():
        assert re.search(rf"^\S+ +\S+ +\S+ +{cls} +{program} +running", table, re.M), table
    for program in DRIVERS.values():
        if program != DRIVERS["net"]:
            assert len(re.findall(started(program), vm.output)) == before[program], \
                f"{program} was restarted too\n" + vm.output[-4000:]
    run_line(vm, f"blk read {GUEST_SECTOR}", guest_row)
    run_line(port, "echo after-net-restart", r"^after-net-restart\r?$")

    # Power off (ACPI on both): QEMU ends, and the whole image is what the
    # host wrote plus the guest's one sector.
    vm.send("poweroff\r")
    assert vm.wait(step) is not None, "no power-off\n" + vm.output[-4000:]
    want = bytearray(m.original)
    at = GUEST_SECTOR * SECTOR
    want[at:at + SECTOR] = GUEST_TEXT + bytes(SECTOR - len(GUEST_TEXT))
    data = m.image.read_bytes()
    assert len(data) == len(want), "the image changed size"
    diff = [i // SECTOR for i in range(0, len(want), SECTOR)
            if data[i:i + SECTOR] != want[i:i + SECTOR]]
    assert not diff, f"sectors {diff[:16]} differ from the expected image"
