#!/bin/sh
# `make bench` only: makes sure a Debian kernel for the Linux guest is in
# /boot (tools/bench_linux.py boots /boot/vmlinuz-*-amd64). When there is
# none: as root with apt-get, installs linux-image-amd64 (without
# recommends; a few minutes, most of it update-initramfs building an
# initrd.img the benchmark does not use); otherwise says how. Never fails:
# without a kernel the benchmark skips the Linux guest and says so.
set -u

have_kernel() {
    [ -n "${LINUXBENCH_KERNEL:-}" ] && [ -e "$LINUXBENCH_KERNEL" ] && return 0
    for k in /boot/vmlinuz-*-amd64; do
        [ -e "$k" ] && return 0
    done
    return 1
}

have_kernel && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "linuxbench: installing linux-image-amd64 (the Linux guest of make bench)" >&2
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update >&2 && apt-get install -y --no-install-recommends linux-image-amd64 >&2 &&
        have_kernel; then
        exit 0
    fi
    echo "linuxbench: could not install linux-image-amd64; make bench skips the Linux guest" >&2
    exit 0
fi

echo "linuxbench: no /boot/vmlinuz-*-amd64; make bench skips the Linux guest." >&2
echo "linuxbench: install it with: sudo apt-get install --no-install-recommends linux-image-amd64" >&2
exit 0
