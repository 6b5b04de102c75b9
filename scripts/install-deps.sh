#!/bin/sh
# Installs the Debian packages Omnivisor needs to build, test and benchmark.
# Called by `make`; says what it installs; does nothing when all are present.
set -eu
PKGS="gcc make binutils libzydis-dev libcmocka-dev bzip2 xz-utils python3 clang-14 libclang-rt-14-dev cpio liblzma-dev zlib1g-dev libzstd-dev"
[ "${1:-}" = "--bench" ] && PKGS="$PKGS qemu-user qemu-system-x86 busybox-static"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
