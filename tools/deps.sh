#!/bin/sh
# Checks that the tools Nimbus builds and tests with are installed. When some
# are missing: as root with apt-get, installs them (Debian packages);
# otherwise prints the packages to install and exits 1. Quiet when all is there.
set -u

missing=""

need() { # need PACKAGE COMMAND...: the package provides every command
    pkg=$1
    shift
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1; then
            add "$pkg"
            return
        fi
    done
}

need_py() { # need_py PACKAGE MODULE: Debian's python3 imports the module
    if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c "import $2" >/dev/null 2>&1; then
        add "$1"
    fi
}

add() {
    case " $missing " in
    *" $1 "*) ;;
    *) missing="${missing:+$missing }$1" ;;
    esac
}

check() {
    missing=""
    need gcc gcc
    need make make
    need binutils ld nm objcopy
    need qemu-system-x86 qemu-system-x86_64
    need cpio cpio
    need musl-tools musl-gcc
    need e2fsprogs mke2fs
    need clang-format clang-format
    need cppcheck cppcheck
    [ -x /usr/bin/python3 ] || add python3
    need_py python3-pytest pytest
    need_py python3-pexpect pexpect
    # Xen 4.17 runs Nimbus as its PVH dom0 in the Xen integration tests.
    [ -e /boot/xen-4.17-amd64.gz ] || add xen-hypervisor-4.17-amd64
}

check
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # one word per package
    # No recommends: Xen's would pull in systemd and grub.
    if apt-get update && apt-get install -y --no-install-recommends $missing; then
        check
        [ -z "$missing" ] && exit 0
    fi
    echo "deps: still missing after apt-get: $missing" >&2
    exit 1
fi

echo "deps: missing packages: $missing" >&2
echo "deps: install them with: sudo apt-get install $missing" >&2
exit 1
