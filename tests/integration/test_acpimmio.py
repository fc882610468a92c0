"""virtio-mmio transports from ACPI on QEMU microvm (docs/DEVICES.md,
"Discovery"): with ACPI on (microvm's default) QEMU 7.2 describes the
transports only in the DSDT (Device objects with _HID "LNRO0005"), not on
the kernel command line. devmgr reads the DSDT (NB_INFO_ACPI_DSDT), finds
them, and drives them: lsdev lists a virtio-blk and a virtio-rng device,
`blk` writes and reads the disk (interrupts on the second IOAPIC's GSIs),
and `poweroff` turns the machine off through the ACPI sleep register. A
window given both on the command line and in the DSDT is one device."""

import re

import nimbuslib as nl

from nshlib import PROMPT, STEP_TIMEOUT, run_line, start_vm, wait_all

TIMEOUT = STEP_TIMEOUT
SECTOR = 512
IMAGE_SECTORS = 2048  # 1 MiB
TEXT = b"acpi-mmio-disk"


def start(tmp_path, append: str = "") -> nl.VM:
    image = tmp_path / "disk.img"
    image.write_bytes(b"\xee" * (IMAGE_SECTORS * SECTOR))
    # No `-machine acpi=off`: microvm's default, ACPI on.
    extra = ["-drive", f"file={image},format=raw,if=none,id=d0,cache=writethrough",
             "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device"]
    vm = start_vm(machine="microvm", append=append, extra=extra, prompt=False)
    assert not any("acpi=off" in a for a in vm.cmd), vm.cmd
    return vm


def test_microvm_acpi_devices(tmp_path):
    vm = start(tmp_path)
    try:
        wait_all(vm, [r"devmgr: started /bin/virtio-blk for blk ",
                      r"devmgr: started /bin/virtio-rng for rng ",
                      r"virtio-blk: 2048 sectors .*virtio-mmio", PROMPT], 120)
        out = vm.output
        # QEMU's command line has no virtio_mmio.device= with ACPI on: both
        # came from the DSDT.
        assert not re.search(r"cmdline: .*virtio_mmio\.device=", out), out[-4000:]
        assert re.search(r"devmgr: ACPI DSDT: 2 virtio-mmio devices \(0 unusable", out), \
            out[-4000:]
        assert re.search(r"devmgr: 2 virtio-mmio windows, 0 empty \(0 from the command line, "
                         r"2 more from ACPI\)", out), out[-4000:]
        blk = re.search(r"devmgr: found virtio-mmio (0x[0-9a-f]+) virtio:2 blk \(irq (\d+)\): "
                        r"/bin/virtio-blk", out)
        rng = re.search(r"devmgr: found virtio-mmio (0x[0-9a-f]+) virtio:4 rng \(irq (\d+)\): "
                        r"/bin/virtio-rng", out)
        assert blk and rng, out[-4000:]
        assert blk.group(1) != rng.group(1)
        assert re.search(r"devmgr: ACPI:", out) is None, out[-4000:]  # nothing malformed

        table = run_line(vm, "lsdev", r"^BUS +LOCATION")
        assert re.search(rf"^virtio-mmio +{blk.group(1)} +virtio:2 +blk +/bin/virtio-blk +"
                         r"running", table, re.M), table
        assert re.search(rf"^virtio-mmio +{rng.group(1)} +virtio:4 +rng +/bin/virtio-rng ",
                         table, re.M), table

        out = run_line(vm, "blk info; echo status $?", r"^status \d+")
        assert re.search(r"^sectors 2048 \(1024 KiB\)", out, re.M), out
        assert "status 0" in out, out
        out = run_line(vm, f"blk write 3 {TEXT.decode()}; blk flush; echo status $?",
                       r"^status \d+")
        assert "status 0" in out, out
        out = run_line(vm, "blk read 3; echo status $?", r"^status \d+")
        assert "status 0" in out, out
        assert f"|{TEXT.decode()}." in out, out

        # ACPI also gives microvm its power-off (the FADT sleep control
        # register): QEMU ends.
        vm.send("poweroff\r")
        assert vm.wait(TIMEOUT) is not None, "no power-off\n" + vm.output[-4000:]
    finally:
        vm.kill()
    data = (tmp_path / "disk.img").read_bytes()
    assert data[3 * SECTOR:3 * SECTOR + len(TEXT)] == TEXT
    assert data[2 * SECTOR:3 * SECTOR] == b"\xee" * SECTOR


def test_microvm_acpi_and_cmdline_same_window(tmp_path):
    """The rng's window named on the command line as well (as QEMU does with
    acpi=off): still one rng device. QEMU 7.2 puts the first -device on the
    last transport (0xfeb02e00, GSI 47) and the second below it."""
    vm = start(tmp_path, append="virtio_mmio.device=512@0xfeb02c00:46:22")
    try:
        wait_all(vm, [r"devmgr: \d+ devices", PROMPT], 120)
        out = vm.output
        assert re.search(r"devmgr: 2 virtio-mmio windows, 0 empty \(1 from the command line, "
                         r"1 more from ACPI\)", out), out[-4000:]
        assert len(re.findall(r"devmgr: found virtio-mmio 0xfeb02c00 virtio:4 rng", out)) == 1, \
            out[-4000:]
        assert len(re.findall(r"devmgr: found virtio-mmio 0xfeb02e00 virtio:2 blk", out)) == 1, \
            out[-4000:]
        assert "clash" not in out, out[-4000:]
    finally:
        vm.kill()
