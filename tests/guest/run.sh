#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs guest test kernels (NAME.bin, built by tests/guest/guest.mk) on Omnivisor or QEMU and
# compares each one's debugcon output byte for byte with tests/guest/NAME.ref and its exit
# status with the expected one. One line per kernel, `PASS NAME` or `FAIL NAME: why` (with a
# diff), and last `N passed, N failed`. Exit status 1 if anything failed.
#
#   run.sh [--qemu] KERNEL.bin...
#
# Expected exit status: isa-debug-exit turns a write of V to port 0xF4 into status (V << 1) | 1,
# and every kernel writes 0 when it is done, so 1 by default. NAME.status may say otherwise:
# a number, or `reset` for a kernel that ends in a triple fault (any status but 1, not a
# timeout or a signal: QEMU -no-reboot exits with 0). In QEMU mode NAME.qemu.ref, if present,
# replaces NAME.ref (for outputs that differ by design, e.g. the CPUID identity; README.md).
# Environment: OMNIVISOR (default build/omnivisor), QEMU (default qemu-system-x86_64),
# GUEST_TIMEOUT (seconds per kernel, default 60; a hang is a failure), KEEP=1 keeps outputs.
set -u
mode=omnivisor
if [ "${1:-}" = "--qemu" ]; then
	mode=qemu
	shift
fi
: "${OMNIVISOR:=build/omnivisor}"
: "${QEMU:=qemu-system-x86_64}"
: "${GUEST_TIMEOUT:=60}"
srcdir=$(dirname "$0")
work=$(mktemp -d "${TMPDIR:-/tmp}/ov-guest.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
passed=0
failed=0

if [ "$mode" = omnivisor ] && [ ! -x "$OMNIVISOR" ]; then
	echo "FAIL all: $OMNIVISOR is not built"
	echo "0 passed, $# failed"
	exit 1
fi

run_one() { # kernel stdout stderr
	if [ "$mode" = qemu ]; then
		timeout "$GUEST_TIMEOUT" "$QEMU" -accel tcg -m 128 -nographic -no-reboot \
			-display none -serial none -monitor none -kernel "$1" -debugcon stdio \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -cpu max </dev/null >"$2" 2>"$3"
	else
		timeout "$GUEST_TIMEOUT" "$OMNIVISOR" run --kernel "$1" --memory 128M \
			--debug-exit </dev/null >"$2" 2>"$3"
	fi
}

for bin in "$@"; do
	name=$(basename "$bin" .bin)
	ref=$srcdir/$name.ref
	[ "$mode" = qemu ] && [ -f "$srcdir/$name.qemu.ref" ] && ref=$srcdir/$name.qemu.ref
	want=1
	[ -f "$srcdir/$name.status" ] && want=$(cat "$srcdir/$name.status")
	out=$work/$name.out
	err=$work/$name.err
	if [ ! -f "$bin" ]; then
		echo "FAIL $name: $bin not built"
		failed=$((failed + 1))
		continue
	fi
	run_one "$bin" "$out" "$err"
	rc=$?
	why=""
	if [ "$rc" -eq 124 ]; then
		why="timed out after ${GUEST_TIMEOUT}s"
	elif [ "$want" = reset ]; then
		if [ "$rc" -eq 1 ] || [ "$rc" -ge 128 ]; then
			why="exit status $rc, expected a reset (not 1, not a signal)"
		fi
	elif [ "$rc" -ne "$want" ]; then
		why="exit status $rc, expected $want"
	fi
	if [ ! -f "$ref" ]; then
		why="${why:+$why; }no $ref (output: $out)"
	elif ! cmp -s "$ref" "$out"; then
		why="${why:+$why; }output differs from $ref"
	fi
	if [ -z "$why" ]; then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: $why"
		if [ -f "$ref" ]; then
			diff -u "$ref" "$out" | sed 's/^/    /' | head -n 60
		else
			sed 's/^/    /' "$out" | head -n 60
		fi
		if [ -s "$err" ]; then
			echo "    --- stderr:"
			head -n 20 "$err" | sed 's/^/    /'
		fi
		failed=$((failed + 1))
	fi
done
[ "${KEEP:-0}" = 1 ] && echo "outputs kept in $work"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
