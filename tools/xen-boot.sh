#!/bin/sh
# Boots Nimbus as the PVH dom0 of Xen, with Xen itself a guest of QEMU (TCG,
# q35, -cpu max: QEMU emulates AMD SVM with nested paging, and PVH dom0 needs
# an IOMMU, so an emulated AMD IOMMU is added). Xen's console and Nimbus's
# (through Xen's console_io hypercall) both come out on stdout.
#
# Usage: tools/xen-boot.sh [kernel arguments...]
#   e.g. tools/xen-boot.sh ktest=xen_live,hv_live
#
# Environment:
#   XEN        Xen image (default: the newest /boot/xen-*.gz; Debian package
#              xen-hypervisor-4.17-amd64). A gzip image is unpacked to
#              build/xen/ (QEMU's multiboot loader wants the ELF).
#   KERNEL     Nimbus ELF (default build/nimbus.elf)
#   INITRD     dom0 ramdisk (default build/initrd.cpio; empty: none)
#   XEN_ARGS   extra Xen command-line arguments
#   DOM0_MEM   dom0 memory (default 128M); QEMU gets MEM (default 512M)
#   TIMEOUT    seconds before QEMU is stopped (default 120; exit 124)
#
# Exit status: QEMU's. Nimbus's ktest verdict reaches QEMU's isa-debug-exit
# (dom0 may use port 0xf4): 33 passed, 35 failed. A reboot from Nimbus ends
# QEMU with 0 (-no-reboot). 2: something needed is missing.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KERNEL=${KERNEL:-$ROOT/build/nimbus.elf}
INITRD=${INITRD-$ROOT/build/initrd.cpio}
DOM0_MEM=${DOM0_MEM:-128M}
MEM=${MEM:-512M}
TIMEOUT=${TIMEOUT:-120}
XEN_ARGS=${XEN_ARGS:-}

die() {
    echo "xen-boot: $*" >&2
    exit 2
}

find_xen() {
    if [ -n "${XEN:-}" ]; then
        echo "$XEN"
        return
    fi
    # shellcheck disable=SC2012 # names are Debian's, no odd characters
    ls -1 /boot/xen-*.gz 2>/dev/null | sort -V | tail -n 1
}

# QEMU loads Multiboot (v1) ELF images only: unpack a gzip image once.
xen_elf() {
    src=$1
    case "$src" in
    *.gz)
        out=$ROOT/build/xen/$(basename "$src" .gz).elf
        if [ ! -s "$out" ] || [ -n "$(find "$src" -newer "$out")" ]; then
            mkdir -p "$(dirname "$out")"
            gzip -dc "$src" >"$out.tmp" && mv "$out.tmp" "$out"
        fi
        echo "$out"
        ;;
    *) echo "$src" ;;
    esac
}

xen=$(find_xen)
if [ -z "$xen" ] || [ ! -r "$xen" ]; then
    die "no Xen image (install xen-hypervisor-4.17-amd64, or set XEN=)"
fi
[ -r "$KERNEL" ] || die "no kernel at $KERNEL (make kernel)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
xen=$(xen_elf "$xen")

# QEMU splits -initrd at commas; ",," is a literal comma.
args=$(printf '%s' "$*" | sed 's/,/,,/g')
modules="$KERNEL${args:+ $args}"
if [ -n "$INITRD" ] && [ -r "$INITRD" ]; then
    modules="$modules,$INITRD"
fi

xen_cmdline="dom0=pvh dom0_mem=$DOM0_MEM,max:$DOM0_MEM console=com1 com1=115200,8n1"
xen_cmdline="$xen_cmdline iommu=1 noreboot loglvl=all guest_loglvl=all $XEN_ARGS"

exec timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 \
    -M q35 -accel tcg -cpu max -m "$MEM" -smp 1 \
    -display none -serial stdio -no-reboot -monitor none \
    -device amd-iommu \
    -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel "$xen" -append "$xen_cmdline" \
    -initrd "$modules"
