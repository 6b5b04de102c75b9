#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds Omnivisor's default guest from Debian packages, cached in OUTDIR:
#   OUTDIR/vmlinuz              Debian's stock kernel (bzImage) from linux-image-amd64
#   OUTDIR/config               its configuration (/boot/config-*)
#   OUTDIR/kernel-version       e.g. 6.1.0-56-amd64
#   OUTDIR/initramfs.cpio.gz    busybox-static + /init (scripts/guest-init) + /dev/console
# With --test-script FILE also:
#   OUTDIR/initramfs-test.cpio.gz   the same initramfs followed by a second archive holding FILE
#                                   as /test.sh; boot it with omnivisor.test=1 on the command
#                                   line and /init runs /test.sh instead of the shell.
#                                   Several test scripts: pass --test-name NAME to get
#                                   OUTDIR/initramfs-NAME.cpio.gz instead.
# Each output is rebuilt only when it is missing (the test initramfs also when FILE or the base
# initramfs is newer). Needs apt-get (Debian's package lists), dpkg-deb, cpio, gzip.
#
# usage: scripts/build-guest.sh [--test-script FILE [--test-name NAME]] OUTDIR
set -eu

usage() {
	echo "usage: $0 [--test-script FILE [--test-name NAME]] OUTDIR" >&2
	exit 2
}

test_script= test_name=test
while [ $# -gt 0 ]; do
	case $1 in
	--test-script) [ $# -ge 2 ] || usage; test_script=$2; shift 2 ;;
	--test-name) [ $# -ge 2 ] || usage; test_name=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
out=$1
here=$(cd "$(dirname "$0")" && pwd)
init_script=$here/guest-init

for tool in apt-get apt-cache dpkg-deb cpio gzip; do
	command -v $tool >/dev/null 2>&1 || {
		echo "build-guest: $tool is missing (Debian: apt-get install apt dpkg cpio gzip)" >&2
		exit 1
	}
done
if [ -n "$test_script" ] && [ ! -f "$test_script" ]; then
	echo "build-guest: test script $test_script does not exist" >&2
	exit 1
fi
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

# newc cpio entry for a character device (the kernel opens /dev/console before running /init,
# and devtmpfs is mounted only by /init): written by hand so no root or mknod is needed.
# Format: "070701", 13 fields of 8 hex digits, the name with its NUL, padded to 4 bytes
# (Documentation/driver-api/early-userspace/buffer-format.rst).
newc_hdr() { # ino mode nlink rdevmajor rdevminor name
	namesize=$((${#6} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$1" "$2" 0 0 "$3" 0 0 0 0 "$4" "$5" "$namesize" 0
	printf '%s\0' "$6"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	[ $pad -eq 0 ] || head -c $pad /dev/zero
}

# ---- download (cached) ----
fetch() { # package -> path of its .deb in $out/debs
	deb=$(ls "$out/debs/$1"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		echo "build-guest: downloading $1" >&2
		(cd "$out/debs" && apt-get download -o APT::Sandbox::User=root "$1" >&2) || {
			echo "build-guest: apt-get download $1 failed" \
				"(run apt-get update first?)" >&2
			exit 1
		}
		deb=$(ls "$out/debs/$1"_*.deb | head -n 1)
	fi
	echo "$deb"
}

resolve_kernel() {
	# linux-image-amd64 is a metapackage: its dependency names the versioned image
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >&2 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || {
		echo "build-guest: cannot resolve linux-image-amd64 (apt-get update?)" >&2
		exit 1
	}
	echo "$pkg"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ov-guest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- kernel ----
if [ ! -f "$out/vmlinuz" ] || [ ! -f "$out/config" ]; then
	kdeb=$(fetch "$(resolve_kernel)")
	mkdir -p "$tmp/k"
	dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$tmp/k" --wildcards './boot/vmlinuz-*' \
		'./boot/config-*'
	kimg=$(ls "$tmp"/k/boot/vmlinuz-* | head -n 1)
	kver=${kimg##*/vmlinuz-}
	cp "$tmp/k/boot/config-$kver" "$out/config.tmp"
	cp "$kimg" "$out/vmlinuz.tmp"
	echo "$kver" >"$out/kernel-version"
	mv "$out/config.tmp" "$out/config"
	mv "$out/vmlinuz.tmp" "$out/vmlinuz"
	echo "build-guest: kernel $kver -> $out/vmlinuz" >&2
fi

# ---- base initramfs ----
if [ ! -f "$out/initramfs.cpio.gz" ]; then
	bdeb=$(fetch busybox-static)
	mkdir -p "$tmp/bb" "$tmp/root"
	dpkg-deb -x "$bdeb" "$tmp/bb"
	r=$tmp/root
	mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/proc" "$r/sys" \
		"$r/dev" "$r/tmp" "$r/root" "$r/run" "$r/mnt"
	cp "$tmp/bb/bin/busybox" "$r/bin/busybox"
	chmod 755 "$r/bin/busybox"
	# applet links (busybox-static runs on the x86-64 host); /init makes them otherwise
	if "$r/bin/busybox" --list-full >"$tmp/applets" 2>/dev/null; then
		while read -r path; do
			[ "$path" = bin/busybox ] && continue
			[ -e "$r/$path" ] || ln -s /bin/busybox "$r/$path"
		done <"$tmp/applets"
	fi
	[ -e "$r/bin/sh" ] || ln -s busybox "$r/bin/sh"
	cp "$init_script" "$r/init"
	chmod 755 "$r/init"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	chmod 1777 "$r/tmp"
	(cd "$r" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$tmp/base.cpio"
	# the kernel reads concatenated archives (zero padding between them is skipped)
	{
		newc_hdr 900001 $((0020600)) 1 5 1 dev/console # crw------- 5,1
		newc_hdr 0 0 1 0 0 'TRAILER!!!'
	} >"$tmp/console.cpio"
	cat "$tmp/base.cpio" "$tmp/console.cpio" | gzip -9 -n >"$out/initramfs.cpio.gz.tmp"
	mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
	echo "build-guest: initramfs -> $out/initramfs.cpio.gz" >&2
fi

# ---- test initramfs: base + an archive with /test.sh ----
if [ -n "$test_script" ]; then
	t=$out/initramfs-$test_name.cpio.gz
	if [ ! -f "$t" ] || [ "$test_script" -nt "$t" ] || [ "$out/initramfs.cpio.gz" -nt "$t" ]
	then
		mkdir -p "$tmp/t"
		cp "$test_script" "$tmp/t/test.sh"
		chmod 755 "$tmp/t/test.sh"
		(cd "$tmp/t" && echo test.sh | cpio -o -H newc -R 0:0 --quiet) |
			gzip -9 -n >"$tmp/test.cpio.gz"
		cat "$out/initramfs.cpio.gz" "$tmp/test.cpio.gz" >"$t.tmp"
		mv "$t.tmp" "$t"
		echo "build-guest: test initramfs -> $t" >&2
	fi
fi
