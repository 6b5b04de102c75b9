#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: busybox workloads natively, under QEMU user mode and under `omnivisor exec`,
# best of BENCH_RUNS runs each, printed as a table with the slowdowns against native.
# A benchmark, not a test: no pass/fail. A runner that fails or gives output different from the
# native run is shown as "failed"/"wrong" instead of a time.
#
# Environment (set by bench/bench.mk):
#   BUSYBOX        static busybox                        (/bin/busybox, Debian busybox-static)
#   QEMU           QEMU user-mode emulator               (qemu-x86_64, Debian qemu-user)
#   OMNIVISOR      omnivisor binary, a release build     (build/release/omnivisor)
#   GENDATA        bench/gendata.c, built                (build/bench/gendata)
#   BENCH_DIR      where the input file is cached        (build/bench)
#   BENCH_MB       input size in MiB                     (64)
#   BENCH_RUNS     runs per cell, the best is shown      (3)
#   BENCH_TIMEOUT  seconds before a run is abandoned     (1800)
#   BENCH_CLOCK    wall (elapsed) or cpu (user+system)   (wall)
#   BENCH_RUNNERS  which columns to measure              (native qemu omnivisor)
set -u
: "${BUSYBOX:=/bin/busybox}"
: "${QEMU:=qemu-x86_64}"
: "${OMNIVISOR:=build/release/omnivisor}"
: "${GENDATA:=build/bench/gendata}"
: "${BENCH_DIR:=build/bench}"
: "${BENCH_MB:=64}"
: "${BENCH_RUNS:=3}"
: "${BENCH_TIMEOUT:=1800}"
: "${BENCH_CLOCK:=wall}"
: "${BENCH_RUNNERS:=native qemu omnivisor}"

mkdir -p "$BENCH_DIR"
data=$BENCH_DIR/data-${BENCH_MB}M.txt
if [ ! -s "$data" ]; then
	echo "bench: generating $data ($BENCH_MB MiB of pseudo-text, $GENDATA)" >&2
	"$GENDATA" $((BENCH_MB << 20)) 1 >"$data.tmp" && mv "$data.tmp" "$data" || exit 1
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/ov-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT

# Workloads: name and busybox arguments; stdout is compared with the native run's.
workloads=("sha256sum ${BENCH_MB}M" "gzip -c ${BENCH_MB}M")
wl_args=("sha256sum $data" "gzip -c $data")

runner_prefix() {
	case $1 in
	native) echo "" ;;
	qemu) echo "$QEMU" ;;
	omnivisor) echo "$OMNIVISOR exec --" ;;
	esac
}

# measure RUNNER ARGS: prints the best time of BENCH_RUNS runs, or "failed"/"wrong"/"timeout".
measure() {
	local runner=$1 args=$2 best="" i t st
	local -a prefix
	read -r -a prefix <<<"$(runner_prefix "$runner")"
	for ((i = 0; i < BENCH_RUNS; i++)); do
		# the gzip workload writes its output to /dev/null; other outputs are kept to compare
		local dest=$out/$runner.out
		case $args in gzip*) dest=/dev/null ;; esac
		st=0
		t=$({ TIMEFORMAT='%R %U %S'; time timeout "$BENCH_TIMEOUT" "${prefix[@]}" "$BUSYBOX" $args \
			>"$dest" 2>"$out/$runner.err"; } 2>&1) || st=$?
		if [ "$st" = 124 ]; then echo timeout; return; fi
		if [ "$st" != 0 ]; then
			echo "bench: $runner $args: exit status $st: $(head -c 200 "$out/$runner.err")" >&2
			echo failed
			return
		fi
		if [ "$runner" != native ] && [ "$dest" != /dev/null ] && ! cmp -s "$out/native.out" "$dest"; then
			echo "bench: $runner $args: output differs from the native run" >&2
			echo wrong
			return
		fi
		t=${t##*$'\n'} # the last line: bash's time report
		read -r real user sys <<<"$t"
		[ "$BENCH_CLOCK" = cpu ] && real=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
		best=$(awk -v a="$best" -v b="$real" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
	done
	echo "$best"
}

ratio() { # NUM DEN
	awk -v n="$1" -v d="$2" 'BEGIN {
		if (n !~ /^[0-9.]+$/ || d !~ /^[0-9.]+$/ || d + 0 == 0) print "-"
		else printf "%.1fx\n", n / d }'
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
load=$(cut -d' ' -f1 /proc/loadavg)
echo "bench: busybox $("$BUSYBOX" 2>&1 | head -n 1 | cut -d' ' -f2), best of $BENCH_RUNS, $BENCH_CLOCK-clock seconds, $cpu x $(nproc), load $load"
if [ "$BENCH_CLOCK" = wall ] && awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	echo "bench: the machine is busy: wall-clock times are inflated; BENCH_CLOCK=cpu measures user+system time"
fi
results=()
for w in "${!workloads[@]}"; do
	row=("${workloads[$w]}")
	for r in native qemu omnivisor; do
		if [[ " $BENCH_RUNNERS " != *" $r "* ]]; then
			row+=("-")
			continue
		fi
		if [ "$r" = qemu ] && ! command -v "$QEMU" >/dev/null; then
			row+=("missing")
			continue
		fi
		if [ "$r" = omnivisor ] && [ ! -x "$OMNIVISOR" ]; then
			row+=("missing")
			continue
		fi
		echo "bench: ${workloads[$w]} $r ..." >&2
		row+=("$(measure "$r" "${wl_args[$w]}")")
	done
	results+=("$(printf '%s|' "${row[@]}")")
done

printf '%-16s %10s %10s %12s %12s %17s\n' workload "native s" "qemu s" "omnivisor s" qemu/native omnivisor/native
for line in "${results[@]}"; do
	IFS='|' read -r name n q o <<<"$line"
	printf '%-16s %10s %10s %12s %12s %17s\n' "$name" "$n" "$q" "$o" "$(ratio "$q" "$n")" "$(ratio "$o" "$n")"
done
