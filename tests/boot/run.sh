#!/bin/sh
# SPDX-License-Identifier: MIT
# The boot tier (tests/boot/README.md): Debian's stock kernel and a busybox initramfs on
# `omnivisor run`, then hostile and bad input. One line per check, `PASS NAME` or
# `FAIL NAME: why` (the guest log tail or the runner's stderr follows a failure), and last
# `N passed, N failed`. Exit status 1 if anything failed. Every run has a timeout.
#
#   run.sh
#
# Environment (set by tests/boot/boot.mk):
#   OMNIVISOR      the runner                              (build/omnivisor)
#   GUEST_DIR      build-guest.sh's cache                  (build/guest)
#   TRIPLE         a kernel that triple-faults             (build/tests/guest/triple.bin)
#   BOOT_TIMEOUT   seconds for the whole guest run         (600)
#   BAD_TIMEOUT    seconds for each bad-input run          (120)
#   BOOT_MEMORY    guest RAM for the boot                  (512M)
#   KEEP=1         keep the outputs (the directory is printed)
set -u
: "${OMNIVISOR:=build/omnivisor}"
: "${GUEST_DIR:=build/guest}"
: "${TRIPLE:=build/tests/guest/triple.bin}"
: "${BOOT_TIMEOUT:=600}"
: "${BAD_TIMEOUT:=120}"
: "${BOOT_MEMORY:=512M}"
srcdir=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$srcdir/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ov-boot.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
passed=0
failed=0

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}
fail() { # name why
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}
indent() { sed 's/^/    /'; }

if [ ! -x "$OMNIVISOR" ]; then
	fail all "$OMNIVISOR is not built"
	echo "$passed passed, $failed failed"
	exit 1
fi

# ------------------------------------------------------------------------------------------
# 1. Boot the default guest with tests/boot/guest-test.sh as /test.sh.
out=$work/boot.out
err=$work/boot.err
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initramfs-boot.cpio.gz
booted=
if ! sh "$top/scripts/build-guest.sh" --test-script "$srcdir/guest-test.sh" --test-name boot \
	"$GUEST_DIR" >"$work/build.log" 2>&1; then
	fail guest-build "scripts/build-guest.sh failed"
	tail -n 20 "$work/build.log" | indent
else
	start=$(date +%s)
	timeout "$BOOT_TIMEOUT" "$OMNIVISOR" run --kernel "$kernel" --initrd "$initrd" \
		--memory "$BOOT_MEMORY" --append "console=ttyS0 quiet panic=-1 omnivisor.test=1" \
		</dev/null >"$out" 2>"$err"
	boot_rc=$?
	boot_s=$(($(date +%s) - start))
	booted=1
	# the console's line discipline ends lines with CR LF
	tr -d '\r' <"$out" >"$out.txt"
fi

log_shown=
boot_fail() { # name why: the first failure shows the guest log tail
	fail "$1" "$2"
	if [ -z "$log_shown" ] && [ -n "$booted" ]; then
		log_shown=1
		echo "    --- guest console (last 30 lines; exit status $boot_rc after ${boot_s}s):"
		if [ -s "$out.txt" ]; then
			tail -n 30 "$out.txt" | indent
		else
			echo "    (empty: with 'quiet' the kernel prints only errors)"
		fi
		if [ -s "$err" ]; then
			echo "    --- stderr:"
			tail -n 25 "$err" | indent
		fi
	fi
}
val() { sed -n "s/^boot-test: $1=//p" "$out.txt" | tail -n 1; }
has() { grep -qxF "$1" "$out.txt"; }

if [ -n "$booted" ]; then
	if [ "$boot_rc" -eq 124 ]; then
		why="timed out after ${BOOT_TIMEOUT}s"
	else
		why="exit status $boot_rc"
	fi

	if has "omnivisor-guest: init reached"; then
		pass boot-init
	else
		boot_fail boot-init "no 'omnivisor-guest: init reached' ($why)"
	fi

	want=$(cat "$GUEST_DIR/kernel-version" 2>/dev/null)
	got=$(val uname-r)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		pass kernel-version
	else
		boot_fail kernel-version "uname -r in the guest '$got', build-guest.sh recorded '$want'"
	fi
	got=$(val proc-version)
	case $got in
	"Linux version $want "*) pass proc-version ;;
	*) boot_fail proc-version "/proc/version '$got' does not start with 'Linux version $want '" ;;
	esac

	n=$(val cpuinfo-flags-lines)
	h=$(val hypervisor-flag)
	if [ "${n:-0}" -ge 1 ] 2>/dev/null && [ "$h" = no ]; then
		pass no-hypervisor-flag
	else
		boot_fail no-hypervisor-flag "/proc/cpuinfo: '${n:-?}' flags lines, hypervisor flag '${h:-?}'"
	fi

	want=$(yes omnivisor | head -c 16777216 | sha256sum | cut -d' ' -f1)
	got=$(val sha256-16M)
	if [ "$got" = "$want" ]; then
		pass sha256-16M
	else
		boot_fail sha256-16M "guest '$got', host '$want'"
	fi

	d1=$(val date-before)
	d2=$(val date-after)
	if [ -n "$d1" ] && [ -n "$d2" ] && [ "$d2" -gt "$d1" ] 2>/dev/null; then
		pass clock-advances
	else
		boot_fail clock-advances "date +%s around sleep 1: '$d1' then '$d2'"
	fi

	i1=$(val irq-before)
	i2=$(val irq-after)
	# "TIMER LOC" before and after: some line nonzero, and the sum grew across the sleep
	if echo "$i1 $i2" | awk 'NF == 4 && ($3 > 0 || $4 > 0) && $3 + $4 > $1 + $2 { ok = 1 }
		END { exit !ok }'; then
		pass interrupts-counted
	else
		boot_fail interrupts-counted "/proc/interrupts timer, LOC: '$i1' then '$i2'"
	fi

	if has "boot-test: done=1" && has "omnivisor-guest: test exit status 0" &&
		has "omnivisor-guest: powering off" && [ "$boot_rc" -eq 0 ]; then
		pass poweroff
	else
		boot_fail poweroff "expected the test to finish, the guest to power off and status 0 ($why)"
	fi
	echo "    (guest run: ${boot_s}s wall)"
else
	for c in boot-init kernel-version proc-version no-hypervisor-flag sha256-16M \
		clock-advances interrupts-counted poweroff; do
		fail $c "no guest to boot"
	done
fi

# ------------------------------------------------------------------------------------------
# 2. Hostile and bad input: a clear message on stderr, the expected status, no signal, no hang.
#    bad NAME STATUS PATTERN MAXLINES -- omnivisor-run-arguments...
#    STATUS is a number or `nonzero`; PATTERN an extended regex stderr must match; MAXLINES
#    the most lines stderr may have (0: any).
bad() {
	name=$1 want=$2 pat=$3 maxl=$4
	shift 5
	o=$work/$name.out
	e=$work/$name.err
	timeout "$BAD_TIMEOUT" "$OMNIVISOR" run "$@" </dev/null >"$o" 2>"$e"
	rc=$?
	why=
	if [ "$rc" -eq 124 ]; then
		why="hung: timed out after ${BAD_TIMEOUT}s"
	elif [ "$rc" -ge 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$want" = nonzero ] && [ "$rc" -eq 0 ]; then
		why="exit status 0, expected nonzero"
	elif [ "$want" != nonzero ] && [ "$rc" -ne "$want" ]; then
		why="exit status $rc, expected $want"
	fi
	lines=$(wc -l <"$e")
	if [ ! -s "$e" ]; then
		why="${why:+$why; }nothing on stderr"
	elif ! grep -Eq -- "$pat" "$e"; then
		why="${why:+$why; }stderr does not match /$pat/"
	elif [ "$maxl" -gt 0 ] && [ "$lines" -gt "$maxl" ]; then
		why="${why:+$why; }$lines lines on stderr, expected at most $maxl"
	fi
	if [ -z "$why" ]; then
		pass "$name"
	else
		fail "$name" "$why"
		echo "    --- stderr:"
		head -n 25 "$e" | indent
		if [ -s "$o" ]; then
			echo "    --- console (last 15 lines):"
			tr -d '\r' <"$o" | tail -n 15 | indent
		fi
	fi
}

if [ -f "$TRIPLE" ]; then
	bad triple-fault 3 'RIP=[0-9a-f]{16}' 0 -- --kernel "$TRIPLE" --memory 128M
else
	fail triple-fault "$TRIPLE is not built (make guest-kernels)"
fi

if [ -f "$kernel" ]; then
	head -c 102400 "$kernel" >"$work/vmlinuz-100K"
	bad truncated-kernel 2 'truncated' 3 -- --kernel "$work/vmlinuz-100K" \
		--initrd "$initrd" --append console=ttyS0
	bad missing-initrd 2 'initrd.*(No such file|missing|not found|cannot)' 3 -- \
		--kernel "$kernel" --initrd "$work/no-such-initrd" --append console=ttyS0
	bad memory-16M nonzero '[Mm]emory|RAM|MiB' 3 -- --kernel "$kernel" --initrd "$initrd" \
		--memory 16M --append "console=ttyS0 panic=-1 omnivisor.test=1"
	bad unknown-option 2 'unknown option' 3 -- --kernel "$kernel" --no-such-option
else
	for c in truncated-kernel missing-initrd memory-16M unknown-option; do
		fail $c "no kernel $kernel"
	done
fi
bad empty-kernel 2 '.' 3 -- --kernel /dev/null
bad missing-kernel-option 2 'kernel' 3 -- --memory 128M

[ "${KEEP:-0}" = 1 ] && echo "outputs kept in $work"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
