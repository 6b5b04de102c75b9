#!/bin/sh
# Fetches Debian's busybox-static package and unpacks it for the user-mode tests and the benchmark.
#   usage: scripts/fetch-busybox.sh [DEST]      (DEST defaults to build/guest/busybox-static)
# Result: DEST/bin/busybox (a static x86-64 ELF). Nothing is fetched when that file already exists.
# The .deb is kept in DEST/../cache/ so an unpack can be redone without the network.
set -eu
DEST=${1:-build/guest/busybox-static}
PKG=busybox-static
say() { echo "fetch-busybox: $*" >&2; }

if [ -x "$DEST/bin/busybox" ]; then
	say "$DEST/bin/busybox present, nothing to do"
	exit 0
fi

CACHE=$(dirname "$DEST")/cache
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
deb=$(ls "$CACHE"/${PKG}_*_amd64.deb 2>/dev/null | tail -n 1 || true)
if [ -z "$deb" ]; then
	# apt drops privileges to _apt for downloads; as root into a directory _apt cannot write
	# that only causes a warning, so say explicitly that root may download.
	opt=""
	[ "$(id -u)" -eq 0 ] && opt="-o APT::Sandbox::User=root"
	say "downloading Debian package $PKG into $CACHE"
	if ! (cd "$CACHE" && apt-get download $opt -q "$PKG" >&2); then
		say "apt-get download failed; running apt-get update and retrying"
		SUDO=""
		[ "$(id -u)" -ne 0 ] && SUDO=sudo
		$SUDO apt-get update -qq >&2
		(cd "$CACHE" && apt-get download $opt -q "$PKG" >&2)
	fi
	deb=$(ls "$CACHE"/${PKG}_*_amd64.deb | tail -n 1)
fi

say "extracting $(basename "$deb") into $DEST"
rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
dpkg-deb -x "$deb" "$DEST.tmp"
if [ ! -x "$DEST.tmp/bin/busybox" ]; then
	say "error: $deb has no bin/busybox"
	rm -rf "$DEST.tmp"
	exit 1
fi
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
say "ready: $DEST/bin/busybox ($(dpkg-deb -f "$deb" Version))"
