"""virtio-net end to end (docs/VIRTIO.md, "virtio-net"): QEMU microvm
(acpi=off) with QEMU user networking and a virtio-net-device; init runs
test/nettest (initrd/etc/nettest.manifest), which starts /bin/virtio-net
with the device's resources, checks the MAC and the link, sends an ARP
request for the gateway 10.0.2.2 and waits for slirp's reply, then runs
/bin/arping. QEMU is stopped once nettest has exited."""

import os
import re

from conftest import boot_kernel

LIMIT = 120  # seconds under TCG


def test_virtio_net_arp():
    # The first -device is at 0xfeb00e00 with GSI 12 (etc/nettest.manifest).
    extra = ["-machine", "acpi=off",
             "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]
    r = boot_kernel(append="quiet panic=exit init.arg=etc/nettest.manifest",
                    extra=extra, timeout=LIMIT, until=r"init: nettest exited with -?\d+")
    out = r.output
    assert r.stopped and not r.timed_out, "nettest did not end\n" + r.report()
    assert re.search(r"virtio-net: 52:54:00:12:34:56", out), "the driver did not start\n" + r.report()
    assert re.search(r"^\s*ok \d+ net_arp_gateway", out, re.M), "no ARP reply\n" + r.report()
    assert re.search(r"^# 10\.0\.2\.2 is at 52:55:0a:00:02:02", out, re.M), r.report()
    assert re.search(r"# arping: reply from 10\.0\.2\.2 at 52:55:0a:00:02:02 in \d+\.\d ms", out), \
        "no arping reply line\n" + r.report()
    assert not re.search(r"^\s*not ok", out, re.M), "a nettest case failed\n" + r.report()
    assert re.search(r"init: nettest exited with 0", out), "nettest failed\n" + r.report()


def test_nettest_manifest_names_the_device():
    """The manifest's location is where QEMU microvm (acpi=off) puts the
    first virtio-mmio device."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "initrd", "etc", "nettest.manifest")) as f:
        text = f.read()
    assert "--mmio 0xfeb00e00 --irq 12" in text
