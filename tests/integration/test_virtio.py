"""The virtio drivers in the guest (docs/VIRTIO.md): QEMU microvm with a
virtio-blk-device backed by a raw image made here (and a
virtio-rng-device); init runs test/blktest
(initrd/etc/blktest.manifest), which starts /bin/virtio-blk with the
device's resources, writes and reads patterns through the block protocol
and flushes, then kills the driver with reads in flight and starts it
again (and virtio-rng likewise). QEMU is stopped once blktest has exited (microvm without ACPI
has no way to power off; the image is opened cache=writethrough and the
test flushed), and the image's bytes are checked on the host."""

import os
import re

import pytest

from conftest import boot_kernel

LIMIT = 120  # seconds under TCG
SECTOR = 512
MARK = b"NIMBUS BLKTEST MARK"
IMAGE_SECTORS = 2048  # 1 MiB


def pattern_byte(sector: int, i: int) -> int:
    """blktest.c's pattern_byte()."""
    return (sector * 7 + i * 13 + (i >> 9)) & 0xFF


def blk_boot(image: str):
    # acpi=off: QEMU then lists the transports on the kernel command line,
    # blk (the first -device) at 0xfeb00e00 with GSI 12, rng at 0xfeb00c00
    # with GSI 11 (etc/blktest.manifest passes those to the drivers).
    extra = ["-machine", "acpi=off",
             "-drive", f"file={image},format=raw,if=none,id=d0,cache=writethrough",
             "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device"]
    return boot_kernel(append="quiet panic=exit init.arg=etc/blktest.manifest",
                       extra=extra, timeout=LIMIT, until=r"init: blktest exited with -?\d+")


def test_virtio_blk_roundtrip(tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\xee" * (IMAGE_SECTORS * SECTOR))
    r = blk_boot(str(image))
    out = r.output
    assert r.stopped and not r.timed_out, "blktest did not end\n" + r.report()
    assert re.search(r"init: blktest exited with 0", out), "blktest failed\n" + r.report()
    assert re.search(r"virtio-blk: 2048 sectors", out), "the driver did not start\n" + r.report()
    assert re.search(r"^ok \d+ blk", out, re.M), "blktest failed\n" + r.report()
    assert not re.search(r"^\s*not ok", out, re.M), "a blktest case failed\n" + r.report()
    assert re.search(r"virtio-rng: first \d+ bytes fed", out), "virtio-rng fed nothing\n" + r.report()
    # Killed with reads in flight: each round ended with ERR_PEER_CLOSED
    # (no hang), and the restarted driver (4 more starts) read the mark back.
    kills = re.findall(r"^# killed \d+ us after 16 reads of 64 KiB: (\d+) answered, then (\S+)",
                       out, re.M)
    assert len(kills) == 4 and all(st == "ERR_PEER_CLOSED" for _, st in kills), r.report()
    assert any(int(n) < 16 for n, _ in kills), "no kill came with reads in flight\n" + r.report()
    assert len(re.findall(r"virtio-blk: 2048 sectors", out)) == 5, r.report()
    assert re.search(r"^\s*ok \d+ blk_kill_in_flight", out, re.M), r.report()
    assert re.search(r"# virtio-rng killed mid-run; --once after it on the same device exited 0",
                     out), r.report()

    data = image.read_bytes()
    assert len(data) == IMAGE_SECTORS * SECTOR, "the image changed size"
    assert data[:len(MARK)] == MARK, "sector 0 lacks the mark"
    for sector in range(1, 9):
        got = data[sector * SECTOR:(sector + 1) * SECTOR]
        want = bytes(pattern_byte(sector, i) for i in range(SECTOR))
        assert got == want, f"sector {sector} differs"
    # The pipelined writes: sector 32 + r filled with 0xc0 + r.
    for r_ in range(12):
        s = 32 + r_
        assert data[s * SECTOR:(s + 1) * SECTOR] == bytes([0xC0 + r_]) * SECTOR, f"sector {s}"
    # What /bin/blk wrote.
    assert data[60 * SECTOR:60 * SECTOR + 14] == b"hello from blk", "sector 60 (blk write)"
    # The last 128 sectors: i ^ 0x5a.
    tail = data[(IMAGE_SECTORS - 128) * SECTOR:]
    assert tail == bytes((i ^ 0x5A) & 0xFF for i in range(128 * SECTOR)), "the tail differs"
    # Untouched sectors stay as they were.
    assert data[20 * SECTOR:21 * SECTOR] == b"\xee" * SECTOR


def test_blktest_manifest_names_the_device():
    """The manifest's locations are where QEMU microvm (acpi=off) puts the
    first two virtio-mmio devices."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "initrd", "etc", "blktest.manifest")) as f:
        text = f.read()
    assert "--mmio 0xfeb00e00 --irq 12 --rng-mmio 0xfeb00c00 --rng-irq 11" in text
