#!/usr/bin/env python3
"""Builds the Linux guest's initramfs for `make bench` (a cpio "newc" archive).

    mkinitramfs.py -o build/linuxbench/initramfs.cpio \\
        --file init=build/linuxbench/init --file lbench=build/linuxbench/lbench

The files as tools/mkinitrd.py lays them out (sorted, owner 0:0, mtime 0,
mode 0755), plus /dev/console (character device 5:1): Linux opens it as
init's stdin, stdout and stderr, and an initramfs without it leaves init
with no console. Standard library only.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mkinitrd  # noqa: E402

S_IFCHR = 0o020000
DEVICES = {"dev/console": (5, 1)}  # path: (major, minor)


def device_entry(ino, name, major, minor):
    """A newc entry for a character device node, mode 0600."""
    encoded = name.encode()
    fields = [ino, S_IFCHR | 0o600, 0, 0, 1, 0, 0, 0, 0, major, minor, len(encoded) + 1, 0]
    head = mkinitrd.MAGIC + b"".join(b"%08X" % f for f in fields) + encoded + b"\0"
    return head + mkinitrd.pad4(len(head))


def build(files):
    """The archive: mkinitrd's layout of files (and their directories), then
    /dev and the device nodes, then the trailer."""
    blob = mkinitrd.build(files)
    trailer = mkinitrd.entry(0, 0, 1, mkinitrd.TRAILER)
    end = blob.rindex(trailer)
    parents = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
    ino = 1 + len(set(files) | parents)  # mkinitrd numbers its entries from 1
    out = [blob[:end]]
    if not any(p == "dev" or p.startswith("dev/") for p in files):
        out.append(mkinitrd.entry(ino, mkinitrd.S_IFDIR | 0o755, 2, "dev"))
        ino += 1
    for name, (major, minor) in sorted(DEVICES.items()):
        out.append(device_entry(ino, name, major, minor))
        ino += 1
    out.append(trailer)
    data = b"".join(out)
    return data + b"\0" * (-len(data) % 512)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--file", action="append", default=[], metavar="DEST=SRC", required=True)
    a = ap.parse_args(argv)
    blob = build(mkinitrd.collect(None, a.file))
    tmp = a.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
