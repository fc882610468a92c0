"""A disk from nsh (docs/VIRTIO.md, "Using the disk from nsh"): the default
manifest boots with a 1 MiB raw image, devmgr finds the virtio-blk device
(q35: virtio-blk-pci, virtio-pci modern with MSI-X; microvm acpi=off:
virtio-blk-device, virtio-mmio) and starts /bin/virtio-blk for it, and
`blk` typed into nsh reaches it through devmgr's `open` (the `devices`
handle). What blk writes is checked in the image on the host. Then the
driver is killed: devmgr restarts it, and `blk info` works again.

The KVM variant (q35 and microvm) runs where /dev/kvm is usable; it skips,
with the kernel's line as the reason, when the kernel reports that this
hypervisor cannot run user mode (this machine's nested KVM)."""

import os
import re
import time

import nimbuslib as nl
import pytest

from nshlib import PROMPT, run_line, start_vm, wait_all

SECTOR = 512
IMAGE_SECTORS = 2048  # 1 MiB
TEXT = b"nimbus-was-here"
HOST_TEXT = b"made-on-the-host"  # written into sector 9 before boot

MACHINES = {
    # disable-legacy=on: a modern-only function (1af4:1042).
    "q35": ("q35", ["-device", "virtio-blk-pci,drive=d0,disable-legacy=on"], "1042"),
    # QEMU's default on q35's root bus: transitional (1af4:1001), driven
    # through its modern capabilities all the same.
    "q35-transitional": ("q35", ["-device", "virtio-blk-pci,drive=d0"], "1001"),
    # acpi=off: QEMU lists the virtio-mmio transports on the command line.
    "microvm": ("microvm", ["-machine", "acpi=off", "-device", "virtio-blk-device,drive=d0"],
                None),
}


def free_pages(vm: nl.VM) -> int:
    out = run_line(vm, "mem", r"^user ")
    m = re.search(r"^free\s+(\d+) pages", out, re.M)
    assert m, out
    return int(m.group(1))


def wait_image(image, offset: int, want: bytes, seconds: float = 10.0) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        data = image.read_bytes()
        if data[offset:offset + len(want)] == want or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


KVM_CONFIGS = ["q35", "microvm"]


def launch(tmp_path, config: str, accel: str):
    """Starts QEMU on a fresh image: (vm, image, original bytes)."""
    machine, device_args, _ = MACHINES[config]
    image = tmp_path / "disk.img"
    original = bytearray(b"\xee" * (IMAGE_SECTORS * SECTOR))
    original[9 * SECTOR:9 * SECTOR + len(HOST_TEXT)] = HOST_TEXT
    image.write_bytes(bytes(original))
    extra = ["-drive", f"file={image},format=raw,if=none,id=d0,cache=writethrough",
             *device_args]
    return start_vm(machine=machine, extra=extra, accel=accel, prompt=False), image, original


@pytest.fixture(scope="module", autouse=True)
def kvm_launched(request, tmp_path_factory):
    """The KVM boots the session's selected tests need, started with the
    module: they come up (slowly) while the TCG cases run."""
    from conftest import kvm_available
    wanted = [item.callspec.params["config"] for item in request.session.items
              if item.module is request.module and item.originalname == "test_blk_from_nsh_kvm"]
    launched = {}
    try:
        if kvm_available():
            for config in wanted:
                launched[config] = launch(tmp_path_factory.mktemp("kvm"), config, "kvm")
        yield launched
    finally:
        for vm, _, _ in launched.values():
            vm.kill()


@pytest.mark.parametrize("config", sorted(MACHINES))
def test_blk_from_nsh(tmp_path, config):
    check_blk_from_nsh(config, *launch(tmp_path, config, "tcg"))


@pytest.mark.parametrize("config", KVM_CONFIGS)
def test_blk_from_nsh_kvm(kvm_launched, config, need_kvm):
    """The same under KVM; skipped (with the kernel's line) where the kernel
    reports that this hypervisor cannot run user mode."""
    check_blk_from_nsh(config, *kvm_launched[config])


def check_blk_from_nsh(config: str, vm: nl.VM, image, original: bytearray):
    machine, _, pci_id = MACHINES[config]
    accel = vm.accel
    step = vm.step_timeout
    try:
        # In any order: the driver may log before devmgr does.
        wait_all(vm, [r"devmgr: started /bin/virtio-blk for blk ", r"virtio-blk: 2048 sectors",
                      PROMPT], 2 * step)
        if pci_id:
            assert re.search(rf"devmgr: found pci \S+ 1af4:{pci_id} blk: /bin/virtio-blk",
                             vm.output), vm.output[-4000:]
            assert re.search(r"virtio-blk: 2048 sectors .*virtio-pci", vm.output), \
                vm.output[-4000:]
        else:
            assert re.search(r"virtio-blk: 2048 sectors .*virtio-mmio", vm.output), \
                vm.output[-4000:]

        out = run_line(vm, "lsdev", r"^BUS +LOCATION")
        assert re.search(r"^\S+ +\S+ +\S+ +blk +/bin/virtio-blk +running", out, re.M), out
        out = run_line(vm, "blk info; echo status $?", r"^status \d+")
        assert re.search(r"^sectors 2048 \(1024 KiB\)", out, re.M), out
        assert "status 0" in out, out
        out = run_line(vm, f"blk write 5 {TEXT.decode()}; echo status $?", r"^status \d+")
        assert "status 0" in out, out
        out = run_line(vm, "blk read 5; echo status $?", r"^status \d+")
        assert "status 0" in out, out
        assert re.search(r"^00000a00  6e 69 6d 62 75 73 2d 77  61 73 2d 68 65 72 65 00  "
                         r"\|nimbus-was-here\.\|", out, re.M), out
        # What the host wrote before boot reads back.
        out = run_line(vm, "blk read 9; echo status $?", r"^status \d+")
        assert "status 0" in out, out
        assert re.search(r"^00001200  6d 61 64 65 2d 6f 6e 2d  74 68 65 2d 68 6f 73 74  "
                         r"\|made-on-the-host\|", out, re.M), out
        out = run_line(vm, "blk -d 1 info; echo status $?", r"^status \d+")
        assert re.search(r"blk: cannot open block device 1: ERR_NOT_FOUND", out), out
        assert "status 1" in out, out
        out = run_line(vm, "blk flush; echo status $?", r"^status \d+")
        assert "status 0" in out, out
        data = wait_image(image, 5 * SECTOR, TEXT)
        assert data[5 * SECTOR:6 * SECTOR] == TEXT + bytes(SECTOR - len(TEXT)), \
            "sector 5 lacks blk's text"
        assert data[4 * SECTOR:5 * SECTOR] == b"\xee" * SECTOR, "sector 4 changed"

        # Kill the driver: devmgr starts it again, and blk works again.
        free_before = free_pages(vm)
        out = run_line(vm, "ps", r"virtio-blk")
        m = re.search(r"^\s*(\d+)\s.*virtio-blk", out, re.M)
        assert m, out
        restarts_before = vm.output.count("devmgr: started /bin/virtio-blk for blk ")
        # blk right after the kill: devmgr may not have seen the exit yet
        # (open's connect finds the driver gone), may be restarting it
        # (ERR_BAD_STATE), or may have restarted it; an error, never a hang.
        out = run_line(vm, f"kill {m.group(1)}; blk info; echo status $?", r"^status \d+")
        assert re.search(r"^sectors 2048 ", out, re.M) or \
            re.search(r"^blk: .*ERR_(BAD_STATE|PEER_CLOSED)", out, re.M), out
        deadline = time.monotonic() + step
        while vm.output.count("devmgr: started /bin/virtio-blk for blk ") <= restarts_before:
            assert time.monotonic() < deadline, "devmgr did not restart the driver\n" + \
                vm.output[-4000:]
            vm.expect(r"devmgr: started /bin/virtio-blk", 5)
        assert re.search(r"devmgr: /bin/virtio-blk \([^)]*\): restart \d+ of", vm.output), \
            vm.output[-4000:]
        out = ""
        for _ in range(10):  # the driver sets the device up before it serves
            out = run_line(vm, "blk info; echo status $?", r"^status \d+")
            if "status 0" in out:
                break
            time.sleep(1)
        assert re.search(r"^sectors 2048 ", out, re.M), out
        out = run_line(vm, "blk read 5", r"\|nimbus-was-here\.\|")
        # The dead driver's DMA memory (rings, bounce buffers: hundreds of
        # pages) came back once devmgr stopped the device (docs/DEVICES.md,
        # "DMA after a driver dies"); the new driver holds as much as the
        # old one did.
        free_after = free_pages(vm)
        assert free_after + 32 >= free_before, \
            f"{free_before - free_after} pages fewer after the restart: the dead driver's " \
            "DMA memory was not freed\n" + vm.output[-4000:]

        if machine == "q35":
            vm.send("poweroff\r")
            assert vm.wait(step) is not None, "no power-off\n" + vm.output[-4000:]
            # The whole image after power-off: only sector 5 changed (cmp).
            want = bytearray(original)
            want[5 * SECTOR:6 * SECTOR] = TEXT + bytes(SECTOR - len(TEXT))
            assert image.read_bytes() == bytes(want), "the image differs beyond sector 5"
    finally:
        vm.kill()
        if os.environ.get("BLKDEV_LOG"):
            with open(os.environ["BLKDEV_LOG"] + "." + config +
                      ("" if accel == "tcg" else "." + accel), "w") as f:
                f.write(vm.output)
    data = image.read_bytes()
    assert len(data) == IMAGE_SECTORS * SECTOR, "the image changed size"
    assert data[5 * SECTOR:5 * SECTOR + len(TEXT)] == TEXT
