"""blkbench end to end (docs/PERFORMANCE.md, "Block I/O"): q35 with a
virtio-blk-pci disk (modern only), devmgr starts the driver, test/blkbench
(initrd/etc/blkbench-quick.manifest: 40 requests per case) opens the disk
through devmgr and runs every case. Not a timing test: each case must
print sane figures, and the 1 MiB writes must have left their stamps in
the image."""

import struct
import subprocess

import pytest

from conftest import boot_kernel
import bench
import bench_linux as bl
import nimbuslib as nl

LIMIT = 120  # seconds under TCG
IMAGE_BYTES = 4 << 20
PIECE = 64 << 10
CASES = ("randread_4k_qd1", "randread_4k_qd32", "seqread_1m_qd1", "seqread_1m_qd32",
         "seqwrite_1m_qd1", "seqwrite_1m_qd32")


# QEMU's default queue (256: the driver keeps 64 requests at the device),
# and a small one (16: room for 5 requests of 3 descriptors).
@pytest.mark.parametrize("queue_size,slots", [(256, 64), (16, 5)])
def test_blkbench_runs(tmp_path, queue_size, slots):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\xee" * IMAGE_BYTES)
    extra = ["-drive", f"file={image},format=raw,if=none,id=d0,cache=writethrough",
             "-device", f"virtio-blk-pci,drive=d0,disable-legacy=on,queue-size={queue_size}"]
    r = boot_kernel(machine="q35", append="quiet init.arg=etc/blkbench-quick.manifest",
                    extra=extra, timeout=LIMIT, until=r"init: blkbench exited with -?\d+")
    out = r.output
    assert r.stopped, "blkbench did not end\n" + r.report()
    assert "init: blkbench exited with 0" in out, "blkbench failed\n" + r.report()
    assert f"{slots} requests in flight" in out, r.report()
    assert f"max_requests={slots} " in out, r.report()
    cases, failed, done = bench.parse_blkbench(out, "blkbench")
    assert done and not failed, r.report()
    assert set(cases) == set(CASES), r.report()
    for name, c in cases.items():
        size = 4096 if "4k" in name else 1 << 20
        assert c["ops"] == 40, name
        assert c["bytes"] == 40 * size, name
        assert c["qd"] == (32 if name.endswith("qd32") else 1), name
        assert c["ns"] > 0 and c["iops"] > 0 and c["mbps"] > 0, name
        assert c["cpu_driver_ns"] > 0 and c["cpu_bench_ns"] > 0, name  # the `info` handle
    assert "blkbench: verify ok" in out, r.report()

    # Every 64 KiB piece of the 4 MiB disk was written (40 sequential 1 MiB
    # writes wrap it): "NBBLKBEN" and the piece's byte offset.
    data = image.read_bytes()
    assert len(data) == IMAGE_BYTES
    for off in range(0, IMAGE_BYTES, PIECE):
        assert data[off:off + 16] == b"NBBLKBEN" + struct.pack("<Q", off), f"piece at {off:#x}"


def test_parse_blkbench():
    text = ("blkbench: disk bytes=4194304 max_requests=32 read_only=no\n"
            "blkbench: randread_4k_qd1 qd=1 ops=40 bytes=163840 ns=1000 iops=4 mbps=0.5"
            " cpu_driver_ns=10 cpu_bench_ns=20\n"
            "blkbench: seqwrite_1m_qd32 failed: a write failed: ERR_IO\n"
            "blkbench: done\n")
    cases, failed, done = bench.parse_blkbench(text, "blkbench")
    assert done
    assert cases == {"randread_4k_qd1": {"qd": 1, "ops": 40, "bytes": 163840, "ns": 1000,
                                         "iops": 4, "mbps": 0.5, "cpu_driver_ns": 10,
                                         "cpu_bench_ns": 20}}
    assert failed == {"seqwrite_1m_qd32": "a write failed: ERR_IO"}
    assert bench.parse_blkbench("", "lblk") == ({}, {}, False)


# -- the Linux side (tools/linuxbench/blkbench.c, tools/bench_linux.py), on the host --
def test_lblk_on_a_file(tmp_path):
    r = subprocess.run(["make", "--no-print-directory", "build/linuxbench/lblk"], cwd=nl.ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    image = tmp_path / "disk.img"
    image.write_bytes(b"\xee" * IMAGE_BYTES)
    r = subprocess.run([bl.LBLK, "--count", "40", str(image)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    cases, failed, done = bench.parse_blkbench(r.stdout)
    assert done and not failed and set(cases) == set(CASES), r.stdout
    assert all(c["ops"] == 40 for c in cases.values()), r.stdout
    data = image.read_bytes()
    for off in range(0, IMAGE_BYTES, PIECE):
        assert data[off:off + 16] == b"NBBLKBEN" + struct.pack("<Q", off), f"piece at {off:#x}"
    # Bad input: a clear error and a status.
    r = subprocess.run([bl.LBLK, "--only", "nope", str(image)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2 and "no case nope" in r.stderr
    r = subprocess.run([bl.LBLK], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([bl.LBLK, str(tmp_path / "missing")], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1 and "No such file" in r.stdout


def test_module_order():
    dep = ("kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
           "kernel/drivers/virtio/virtio_ring.ko\n"
           "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
           "kernel/drivers/virtio/virtio_ring.ko:\n"
           "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko "
           "kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
           "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n")
    names = [p.rsplit("/", 1)[1] for p in bl.module_order(dep, ("virtio_pci", "virtio_blk"))]
    assert names == ["virtio_pci_modern_dev.ko", "virtio_ring.ko", "virtio.ko", "virtio_pci.ko",
                     "virtio_blk.ko"]
    with pytest.raises(ValueError):
        bl.module_order(dep, ("nvme",))
