#!/usr/bin/env python3
"""Builds the Nimbus initrd: a cpio "newc" archive (as Linux initramfs).

    mkinitrd.py -o build/initrd.cpio --root initrd --file init=build/user/bin/init ...

Takes every file under --root (at its path relative to it) and each --file
DEST=SRC (at DEST). Reproducible: entries sorted by path, parent directories
added, owner 0:0, mtime 0, inode numbers in order, modes 0755 for
directories and programs (--file, or executable under --root) and 0644 for
other files; the archive is padded to 512 bytes. Python standard library only.
"""
import argparse
import os
import stat
import sys

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
S_IFDIR, S_IFREG = 0o040000, 0o100000


def header(ino, mode, nlink, size, name):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return MAGIC + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return b"\0" * (-n % 4)


def entry(ino, mode, nlink, name, data=b""):
    encoded = name.encode()
    head = header(ino, mode, nlink, len(data), encoded) + encoded + b"\0"
    return head + pad4(len(head)) + data + pad4(len(data))


def clean(dest):
    parts = [p for p in dest.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise SystemExit(f"mkinitrd: bad destination path {dest!r}")
    return "/".join(parts)


def collect(root, extra):
    """{path: (source, executable)} from the tree and the --file pairs."""
    files = {}
    if root:
        for d, dirs, names in os.walk(root):
            dirs.sort()
            for n in names:
                src = os.path.join(d, n)
                st = os.lstat(src)
                if not stat.S_ISREG(st.st_mode):
                    raise SystemExit(f"mkinitrd: {src}: only regular files are supported")
                files[os.path.relpath(src, root).replace(os.sep, "/")] = (
                    src, bool(st.st_mode & stat.S_IXUSR))
    for pair in extra:
        dest, sep, src = pair.partition("=")
        if not sep or not src:
            raise SystemExit(f"mkinitrd: --file wants DEST=SRC, got {pair!r}")
        files[clean(dest)] = (src, True)
    return files


def build(files):
    dirs = set()
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    out, ino = [], 1
    for path in sorted(dirs | set(files)):
        if path in dirs:
            out.append(entry(ino, S_IFDIR | 0o755, 2, path))
        else:
            src, exe = files[path]
            with open(src, "rb") as f:
                data = f.read()
            out.append(entry(ino, S_IFREG | (0o755 if exe else 0o644), 1, path, data))
        ino += 1
    out.append(entry(0, 0, 1, TRAILER))
    blob = b"".join(out)
    return blob + b"\0" * (-len(blob) % 512)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--root", help="directory whose files go in at their relative paths")
    ap.add_argument("--file", action="append", default=[], metavar="DEST=SRC")
    a = ap.parse_args()
    blob = build(collect(a.root, a.file))
    tmp = a.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, a.output)


if __name__ == "__main__":
    sys.exit(main())
