"""virtio-net end to end (docs/VIRTIO.md, "virtio-net"): QEMU microvm
(acpi=off) with a virtio-net-device; init runs test/nettest
(initrd/etc/nettest.manifest), which starts /bin/virtio-net with the
device's resources, checks the MAC and the link, sends an ARP request for
the gateway 10.0.2.2 and waits for the reply, pings it (a wrong checksum
gets no answer), runs /bin/arping, and kills the driver with sends in
flight and starts it again. QEMU is stopped once nettest has exited.

Two networks:
* QEMU user networking (slirp): it offers no checksum offload (QEMU takes
  CSUM and GUEST_CSUM away from a peer without virtio-net headers), so the
  offload cases skip and a checksum request is ERR_NOT_SUPPORTED.
* A tap device with virtio-net headers in a network namespace of its own
  (`unshare -n`, root and /dev/net/tun, else skipped): QEMU offers both
  offloads. This file, run as `test_net.py --peer -- QEMU...`, is the other
  end: it bridges QEMU's tap0 with a tap1 it reads itself, without
  virtio-net headers, so Linux completes a partial checksum before it hands
  the frame over; it answers ARP and ICMP echo for 10.0.2.2 only when every
  checksum is right (as slirp does), and Linux's own stack at 10.0.2.3
  answers UDP echo (port 7), whose checksum reaches the guest partial.
"""

import fcntl
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

LIMIT = 120  # seconds under TCG
GUEST_MAC = bytes.fromhex("525400123456")
GW_MAC = bytes.fromhex("52550a000202")
GW_IP = socket.inet_aton("10.0.2.2")
GUEST_IP = "10.0.2.15"
NOISE_TRIGGER = socket.inet_aton("10.0.2.98")  # nettest asks for it just before its kill


def check_net_output(out: str) -> None:
    assert re.search(r"virtio-net: 52:54:00:12:34:56", out), "the driver did not start"
    assert re.search(r"^\s*ok \d+ net_arp_gateway", out, re.M), "no ARP reply"
    assert re.search(r"^# 10\.0\.2\.2 is at 52:55:0a:00:02:02", out, re.M)
    assert re.search(r"^\s*ok \d+ net_ping_gateway", out, re.M), "no ping reply"
    assert re.search(r"^\s*ok \d+ net_ping_bad_checksum", out, re.M), \
        "a wrong checksum was answered (or the right one after it was not)"
    assert re.search(r"# arping: reply from 10\.0\.2\.2 at 52:55:0a:00:02:02 in \d+\.\d ms", out), \
        "no arping reply line"
    # Killed mid-I/O: the client's wait ended with ERR_PEER_CLOSED within
    # the limit, arping ended, the driver restarted on the same device.
    assert re.search(r"# killed with 24 sends in flight: \d+ answered before, then "
                     r"ERR_PEER_CLOSED after \d+ ms", out), "no kill line"
    assert re.search(r"# arping ended with 1 after \d+ ms", out)
    assert re.search(r"# the driver was killed \(exit code 137\)", out)
    assert len(re.findall(r"virtio-net: 52:54:00:12:34:56", out)) == 2, "no second driver"
    assert re.search(r"^\s*ok \d+ net_kill_in_flight", out, re.M)
    assert not re.search(r"^\s*not ok", out, re.M), "a nettest case failed"
    assert re.search(r"init: nettest exited with 0", out), "nettest failed"


def test_virtio_net_slirp():
    from conftest import boot_kernel
    # The first -device is at 0xfeb00e00 with GSI 12 (etc/nettest.manifest).
    extra = ["-machine", "acpi=off",
             "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]
    r = boot_kernel(append="quiet panic=exit init.arg=etc/nettest.manifest",
                    extra=extra, timeout=LIMIT, until=r"init: nettest exited with -?\d+")
    out = r.output
    assert r.stopped and not r.timed_out, "nettest did not end\n" + r.report()
    try:
        check_net_output(out)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{r.report()}") from None
    assert re.search(r"virtio-net: .*checksum offload: tx no, rx no", out), r.report()
    assert re.search(r"ok \d+ net_ping_offload # SKIP", out), r.report()
    # Without GUEST_CSUM the frames carry no checksum flags.
    assert re.search(r"^# ping 10\.0\.2\.2 seq \d+: reply in \d+ us, flags 0$", out, re.M), \
        r.report()
    assert re.search(r"^# mac .* offloads$", out, re.M), r.report()


def test_nettest_manifest_names_the_device():
    """The manifest's location is where QEMU microvm (acpi=off) puts the
    first virtio-mmio device."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "initrd", "etc", "nettest.manifest")) as f:
        text = f.read()
    assert "--mmio 0xfeb00e00 --irq 12" in text


def tap_usable() -> bool:
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("unshare") \
            or not shutil.which("ip"):
        return False
    r = subprocess.run(["unshare", "-n", "ip", "tuntap", "add", "dev", "probe0", "mode", "tap"],
                       capture_output=True, timeout=20)
    return r.returncode == 0


_tap_run = None


def tap_run():
    """The tap boot, once for the tests that read it (about 5 s)."""
    global _tap_run
    import pytest
    from conftest import nl
    if not tap_usable():
        pytest.skip("needs root, /dev/net/tun, unshare and ip (a tap in a network namespace)")
    if _tap_run is None:
        extra = ["-machine", "acpi=off",
                 "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on",
                 "-device", "virtio-net-device,netdev=n0"]
        qemu = nl.build_command(accel="tcg",
                                append="quiet panic=exit init.arg=etc/nettest.manifest",
                                extra=extra)
        cmd = ["unshare", "-n", sys.executable, os.path.abspath(__file__), "--peer", "--", *qemu]
        _tap_run = nl.run(cmd, LIMIT, until=r"init: nettest exited with -?\d+")
    r = _tap_run
    return r, r.report() + "\n--- peer ---\n" + r.stderr[-3000:]


def test_virtio_net_tap_checksum_offload():
    r, report = tap_run()
    out, peer = r.output, r.stderr
    assert r.stopped and not r.timed_out, "nettest did not end\n" + report
    try:
        check_net_output(out)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{report}") from None
    assert re.search(r"virtio-net: .*checksum offload: tx yes, rx yes", out), report
    assert re.search(r"^# mac .* offloads tx-csum rx-csum", out, re.M), report
    # The device's checksum was right when Linux completed it: the peer
    # answered (and said so), and it saw the deliberately wrong one.
    assert re.search(r"^\s*ok \d+ net_ping_offload$", out, re.M), report
    assert re.search(r"peer: echo seq 200 checksum right", peer), report
    assert re.search(r"peer: echo seq 100 checksum WRONG", peer), report
    assert re.search(r"^\s*ok \d+ net_udp_echo_offload$", out, re.M), report
    # Linux's UDP echo left its checksum to the (virtual) hardware: the
    # guest got it partial, completed and checked it.
    assert re.search(r"# udp echo from 10\.0\.2\.3: OK, flags 0x\d+ .*csum-(partial|valid)", out), \
        report


def test_no_dma_into_a_dead_drivers_memory():
    """The peer sends a frame every 5 ms around the kill; nettest fills new
    contiguous memory and looks whether the device, not reset yet, wrote
    into it. It did while the kernel freed a dead driver's DMA pages at
    once (900-2100 bytes in 3 of 4 runs); now they wait in the DMA
    resource's quarantine until the resource dies (docs/DEVICES.md, "DMA
    after a driver dies")."""
    r, report = tap_run()
    m = re.search(r"^# DMA after the driver's death: (\d+) bytes of (\d+) new", r.output, re.M)
    assert m and int(m.group(2)) > 0, "no DMA check line\n" + report
    assert int(m.group(1)) == 0, \
        f"the device wrote {m.group(1)} bytes into freed memory after the kill\n" + report


# ------------------------------------------------------------ the tap peer

def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def say(text: str) -> None:
    sys.stderr.write(f"peer: {text}\n")
    sys.stderr.flush()


def noise(fd: int) -> None:
    """40 frames over 200 ms (broadcast, a local experimental ethertype,
    which nettest ignores): what arrives around nettest's kill."""
    say("noise: 40 frames over 200 ms")
    for _ in range(40):
        os.write(fd, b"\xff" * 6 + GW_MAC + b"\x88\xb5" + b"nimbus-noise".ljust(50, b"."))
        time.sleep(0.005)


def handle_frame(fd: int, f: bytes) -> None:
    if len(f) < 42:
        return
    etype = f[12:14]
    if etype == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[38:42] == NOISE_TRIGGER:
        threading.Thread(target=noise, args=(fd,), daemon=True).start()
        return
    if etype == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[38:42] == GW_IP:
        # ARP request for the gateway: answer from GW_MAC.
        sha, spa = f[22:28], f[28:32]
        arp = b"\x00\x01\x08\x00\x06\x04\x00\x02" + GW_MAC + GW_IP + sha + spa
        os.write(fd, sha + GW_MAC + b"\x08\x06" + arp + bytes(18))
        return
    if etype != b"\x08\x00" or f[14] != 0x45 or f[23] != 1 or f[30:34] != GW_IP:
        return
    ip = f[14:34]
    total = struct.unpack("!H", ip[2:4])[0]
    icmp = f[34:14 + total]
    if len(icmp) < 8 or icmp[0] != 8:
        return
    seq = struct.unpack("!H", icmp[6:8])[0]
    ok = csum(ip) == 0xFFFF and csum(icmp) == 0xFFFF
    say(f"echo seq {seq} checksum {'right' if ok else 'WRONG'}")
    if not ok:
        return
    rip = bytearray(ip[:10] + b"\0\0" + ip[16:20] + ip[12:16])
    rip[8] = 64
    rip[10:12] = struct.pack("!H", 0xFFFF - csum(bytes(rip)))
    ricmp = bytearray(b"\0\0\0\0" + icmp[4:])
    ricmp[2:4] = struct.pack("!H", 0xFFFF - csum(bytes(ricmp)))
    os.write(fd, f[6:12] + GW_MAC + b"\x08\x00" + bytes(rip) + bytes(ricmp))


def peer_main(qemu: list) -> int:
    def sh(*args):
        subprocess.run(args, check=True, capture_output=True)
    for path in ("/proc/sys/net/ipv6/conf/all/disable_ipv6",
                 "/proc/sys/net/ipv6/conf/default/disable_ipv6"):
        try:
            with open(path, "w") as fh:
                fh.write("1")
        except OSError:
            pass
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "tuntap", "add", "dev", "tap0", "mode", "tap", "vnet_hdr")
    fd = os.open("/dev/net/tun", os.O_RDWR)
    TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tap1", IFF_TAP | IFF_NO_PI))
    sh("ip", "link", "add", "br0", "type", "bridge", "forward_delay", "0")
    for dev in ("tap0", "tap1"):
        sh("ip", "link", "set", dev, "master", "br0")
        sh("ip", "link", "set", dev, "up")
    sh("ip", "addr", "add", "10.0.2.3/24", "dev", "br0")
    sh("ip", "link", "set", "br0", "up")
    # The guest answers no ARP: tell Linux where 10.0.2.15 is.
    sh("ip", "neigh", "replace", GUEST_IP, "lladdr", "52:54:00:12:34:56", "dev", "br0")

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("10.0.2.3", 7))

    def echo():
        while True:
            data, addr = udp.recvfrom(2048)
            say(f"udp echo to {addr[0]}:{addr[1]}, {len(data)} bytes")
            udp.sendto(data, addr)

    def frames():
        while True:
            handle_frame(fd, os.read(fd, 2048))

    for fn in (echo, frames):
        threading.Thread(target=fn, daemon=True).start()
    say("bridge br0 (tap0 for QEMU, tap1 here), 10.0.2.3 on br0")
    return subprocess.run(qemu, stdin=subprocess.DEVNULL).returncode


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1:3] == ["--peer", "--"]:
        sys.exit(peer_main(sys.argv[3:]))
    sys.exit("usage: test_net.py --peer -- QEMU-COMMAND... (inside unshare -n)")
