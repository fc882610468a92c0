"""Host-side checks of `make bench`'s Linux guest and floor (tools/linuxbench,
tools/floor, tools/bench_linux.py). No Linux boot here: the probes run on the
host in --quick mode, the initramfs and floor ELF are read back, and the
parsing, bzImage and bisection code is fed made-up input. One floor boot
(well under a second) checks that QEMU takes the PVH note."""

import gzip
import lzma
import os
import struct
import subprocess

import bench_linux as bl
import nimbuslib as nl
import pytest

PROBES = ("getpid", "page_fault", "futex_ping_pong", "pipe_round_trip",
          "unix_socket_round_trip", "fork_exit_wait", "spawn_exec_wait")


@pytest.fixture(scope="module")
def built():
    """make linuxbench: the probes, /init, the initramfs and the floor ELF."""
    r = subprocess.run(["make", "--no-print-directory", "linuxbench"], cwd=nl.ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return bl


# -- the programs, on the host ----------------------------------------------------
def test_probes_print_every_probe_in_the_bench_format(built):
    r = subprocess.run([bl.LBENCH, "--quick"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    cases, failed, done = bl.parse_lbench(r.stdout)
    assert done and not failed, r.stdout
    assert tuple(cases) == PROBES
    for name, v in cases.items():
        assert v["rounds"] == 3 and v["iters"] >= 1, name
        assert 0 < v["min_ns"] <= v["median_ns"] <= v["max_ns"], (name, v)
        assert v["median_cycles"] > 0, name
    # every line is either a probe line or the end
    assert all(bl.LBENCH_RE.match(ln) or ln == "lbench: done" for ln in r.stdout.splitlines())


def test_probe_modes_and_usage(built):
    r = subprocess.run([bl.LBENCH, "exit"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout == ""
    r = subprocess.run([bl.LBENCH, "tsc-khz"], capture_output=True, text=True, timeout=10)
    m = bl.TSC_KHZ_RE.search(r.stdout)
    assert r.returncode == 0 and m and int(m.group(1)) > 100000, r.stdout
    r = subprocess.run([bl.LBENCH, "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr


def test_init_prints_its_line_first(built):
    # Not PID 1 here: it prints its first line and returns, without mounting
    # /proc, exec'ing the probes or touching the exit port.
    init = os.path.join(bl.LB_DIR, "init")
    for args in ([], ["probes"]):
        r = subprocess.run([init, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.count("\n") == 1, r.stdout + r.stderr
        got = bl.parse_init(r.stdout)
        assert got and got["uptime_ns"] > 0 and got["tsc"] > 0, r.stdout


def read_cpio(path):
    """{name: (mode, rdevmajor, rdevminor, data)} of a newc archive."""
    data = open(path, "rb").read()
    out, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701", pos
        f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (f[1], f[9], f[10], data[pos:pos + filesize])
        pos = (pos + filesize + 3) & ~3


def test_initramfs_holds_static_programs_and_the_console(built):
    files = read_cpio(bl.INITRAMFS)
    assert set(files) == {"init", "lbench", "dev", "dev/console"}
    mode, major, minor, _ = files["dev/console"]
    assert mode & 0o170000 == 0o020000 and (major, minor) == (5, 1)
    for prog in ("init", "lbench"):
        mode, _, _, elf = files[prog]
        assert mode & 0o111 and elf[:4] == b"\x7fELF"
        # static: no PT_INTERP program header
        phoff = struct.unpack_from("<Q", elf, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
        types = [struct.unpack_from("<I", elf, phoff + i * phentsize)[0] for i in range(phnum)]
        assert 3 not in types, prog


# -- the floor ----------------------------------------------------------------------
def test_floor_has_a_pvh_note_at_its_entry(built):
    assert bl.has_pvh_note(bl.FLOOR)
    elf = open(bl.FLOOR, "rb").read()
    entry = struct.unpack_from("<Q", elf, 0x18)[0]
    assert struct.pack("<I", entry) in elf  # the note's descriptor names the entry
    assert os.path.getsize(bl.FLOOR) < 16384
    assert 0x100000 < bl.elf_load_end(bl.FLOOR) < 0x101000  # one small segment at 1 MiB
    assert not bl.has_pvh_note(bl.LBENCH)  # an ELF without the note


def test_floor_boots_prints_its_tsc_and_exits(built):
    r = nl.boot(30, kernel=bl.FLOOR, initrd=None, accel="tcg", icount=True)
    assert r.status == nl.STATUS_OK, r.report()
    tsc = bl.parse_floor(r.output)
    assert tsc is not None and 0 < tsc < 10**9, r.output


# -- parsing and helpers, on made-up input ---------------------------------------
def test_parsers():
    assert bl.parse_init("x\nlinuxbench: init uptime_ns=123 tsc=456\n") == {
        "uptime_ns": 123, "tsc": 456, "idle_ms": None}
    assert bl.parse_init("linuxbench: init uptime_ns=1 tsc=2\nlinuxbench: idle_ms=30\n")[
        "idle_ms"] == 30
    assert bl.parse_init("linuxbench: init uptime_ns=x") is None
    assert bl.parse_floor("floor: tsc=00000000000039d3\n") == 0x39d3
    assert bl.parse_floor("floor: tsc=39d3") is None
    text = ("lbench: getpid median_ns=5 min_ns=4 max_ns=9 median_cycles=300 rounds=11 "
            "iters=10000\nlbench: pipe_round_trip failed: Broken pipe\nlbench: done\n")
    cases, failed, done = bl.parse_lbench(text)
    assert cases == {"getpid": {"median_ns": 5, "min_ns": 4, "max_ns": 9,
                                "median_cycles": 300, "rounds": 11, "iters": 10000}}
    assert failed == {"pipe_round_trip": "Broken pipe"} and done
    assert bl.parse_lbench("lbench: x failed\n")[1] == {"x": ""}
    assert not bl.parse_lbench("")[2]
    u = bl.parse_nimbus_user("[ 0.2] boot: first user instruction (init) at 212 us, tsc=99\n")
    assert u == {"program": "init", "us": 212, "tsc": 99}


def test_linux_command_line():
    assert bl.linux_append("tcg", True, ["probes"]).endswith(
        "tsc_early_khz=1000000 -- probes")
    assert "tsc_early_khz" not in bl.linux_append("kvm", False, [])
    assert bl.linux_append("kvm", False, []) == bl.LINUX_APPEND


def test_smallest_memory_bisects():
    calls = []

    def ok(mib):
        calls.append(mib)
        return mib >= 37

    assert bl.smallest_memory(ok) == 37
    assert len(calls) <= 10 and calls[0] == 256
    assert bl.smallest_memory(lambda mib: False) is None
    assert bl.smallest_memory(lambda mib: True) == 2  # (lo, hi]: lo=1 is taken as failing


def test_kernel_choice_sorts_versions():
    paths = ["/boot/vmlinuz-6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-10-amd64",
             "/boot/vmlinuz-6.1.0-2-amd64"]
    assert sorted(paths, key=bl.version_key)[-1] == "/boot/vmlinuz-6.1.0-10-amd64"


def fake_bzimage(payload, version=0x20f, setup_sects=3):
    """A bzImage shape: setup sectors with the HdrS header, then the
    protected-mode part whose payload fields point at the compressed kernel."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1f1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    pm = b"\x90" * 100  # the decompressor's code
    struct.pack_into("<II", setup, 0x248, len(pm), len(payload))
    return bytes(setup) + pm + payload + b"\0" * 8


@pytest.mark.parametrize("compress", ["xz", "gzip"])
def test_vmlinux_comes_out_of_a_bzimage(tmp_path, compress):
    elf = b"\x7fELF" + bytes(range(256)) * 40
    packed = lzma.compress(elf, format=lzma.FORMAT_XZ) if compress == "xz" else gzip.compress(elf)
    bz = tmp_path / "vmlinuz-test"
    bz.write_bytes(fake_bzimage(packed + struct.pack("<I", len(elf))))
    assert bl.bzimage_payload(bz.read_bytes())[1] == compress
    out = str(tmp_path / "vmlinux")
    assert bl.extract_vmlinux(str(bz), out) == out
    assert open(out, "rb").read() == elf
    mtime = os.path.getmtime(out)
    bl.extract_vmlinux(str(bz), out)  # reused, not rewritten
    assert os.path.getmtime(out) == mtime


def test_bzimage_errors(tmp_path):
    with pytest.raises(ValueError, match="not a bzImage"):
        bl.bzimage_payload(b"\0" * 4096)
    with pytest.raises(ValueError, match="2.08"):
        bl.bzimage_payload(fake_bzimage(b"\xfd7zXZ\0", version=0x206))
    with pytest.raises(ValueError, match="compression"):
        bl.bzimage_payload(fake_bzimage(b"ABCDEFGH"))
    bad = fake_bzimage(b"\xfd7zXZ\0")
    with pytest.raises(ValueError, match="past the end"):
        bl.bzimage_payload(bad[:len(bad) - 14])
    bz = tmp_path / "vmlinuz-bad"
    bz.write_bytes(fake_bzimage(gzip.compress(b"not an ELF")))
    with pytest.raises(ValueError, match="not an ELF"):
        bl.extract_vmlinux(str(bz), str(tmp_path / "vmlinux"))


def test_comparison_rows_and_ratios():
    res = {"series": [
        {"accel": "tcg", "icount": False, "probes": {"getpid": {"median_ns": 400},
                                                     "pipe_round_trip": {"median_ns": 1000}}},
        {"accel": "tcg", "icount": True, "probes": {"getpid": {"median_cycles": 200}},
         "init_tsc": {"median": 5000}},
    ]}
    ubench = [{"accel": "tcg", "icount": False, "smp": 1,
               "cases": {"null_syscall": {"median_ns": 100},
                         "channel_call_cross_process": {"median_ns": 3000}}},
              {"accel": "tcg", "icount": False, "smp": 2,
               "cases": {"null_syscall": {"median_ns": 999999}}},
              {"accel": "tcg", "icount": True, "smp": 1,
               "cases": {"null_syscall": {"median_cycles": 100}}}]
    rows = {(r["series"], r["nimbus_probe"], r["linux_probe"]): r
            for r in bl.comparison(res, ubench)}
    assert rows[("tcg", "null_syscall", "getpid")]["ratio"] == 0.25
    assert rows[("tcg", "channel_call_cross_process", "pipe_round_trip")]["ratio"] == 3.0
    assert rows[("tcg-icount", "null_syscall", "getpid")]["ratio"] == 0.5
    assert rows[("tcg", "page_fault", "page_fault")]["ratio"] is None  # not measured
    nimbus = [{"accel": "tcg", "icount": True, "user_tsc": {"median": 1000}}]
    floors = [{"accel": "tcg", "icount": True, "entry_tsc": {"median": 250}}]
    (row,) = [r for r in bl.boot_rows(res, nimbus, floors) if r["series"] == "tcg-icount"]
    assert row["nimbus"] == 1250 and row["linux"] == 5000 and row["ratio"] == 0.25
    assert (row["nimbus_over_floor"], row["linux_over_floor"]) == (1000, 4750)
