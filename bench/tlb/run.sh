#!/bin/sh
# SPDX-License-Identifier: MIT
# TLB benchmark: the loop of loop.h natively, in a guest kernel under QEMU TCG and under
# Omnivisor; prints ns per access and the ratios side by side.
#
#   run.sh NATIVE_BIN GUEST_KERNEL
# Environment: OMNIVISOR (path; missing = column "missing"), QEMU (qemu-system-x86_64),
# TLB_RUNNERS (default "native qemu omnivisor"), TLB_TIMEOUT (seconds per run, default 300).
#
# The guest measures each loop in TSC cycles. To turn cycles into time it reports the TSC
# frequency from CPUID.15H (Omnivisor advertises it: 2.0 GHz of host CLOCK_MONOTONIC) and from
# three 50 ms calibrations against the emulated PIT. QEMU TCG advertises no leaf 15H; its RDTSC
# is the host's TSC plus an offset, so for QEMU the script uses the host TSC rate that the
# native twin measures against CLOCK_MONOTONIC (200 ms), and the guest's PIT calibration as a
# cross-check (without a native run, the PIT value). Every frequency seen is printed.
set -u
native=$1
kernel=$2
: "${OMNIVISOR:=build/omnivisor}"
: "${QEMU:=qemu-system-x86_64}"
: "${TLB_RUNNERS:=native qemu omnivisor}"
: "${TLB_TIMEOUT:=300}"
host_tsc=0
work=$(mktemp -d "${TMPDIR:-/tmp}/ov-tlb.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() { # runner -> $work/runner.out (RESULT lines converted to "name ns_per_access")
	r=$1
	case $r in
	native) "$native" >"$work/raw.$r" 2>"$work/err.$r" ;;
	qemu) timeout "$TLB_TIMEOUT" "$QEMU" -accel tcg -m 128 -nographic -no-reboot \
		-display none -serial none -monitor none -kernel "$kernel" -debugcon stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -cpu max </dev/null \
		>"$work/raw.$r" 2>"$work/err.$r" ;;
	omnivisor) if [ ! -x "$OMNIVISOR" ]; then return 1; fi
		timeout "$TLB_TIMEOUT" "$OMNIVISOR" run --kernel "$kernel" --memory 128M \
			--debug-exit </dev/null >"$work/raw.$r" 2>"$work/err.$r" ;;
	esac
	rc=$?
	# a guest ends with debug-exit status 1
	if [ "$r" != native ] && [ "$rc" -ne 1 ]; then
		echo "tlb: $r exited with status $rc" >&2
		head -n 5 "$work/err.$r" >&2
		return 1
	fi
	[ "$r" = native ] && [ "$rc" -ne 0 ] && return 1
	[ "$r" = native ] && host_tsc=$(sed -n 's/^TSC host=//p' "$work/raw.$r")
	awk -v r="$r" -v host_tsc="$host_tsc" '
		/^TSC / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		/^RESULT / { name[++n] = $2; acc[n] = $4; val[n] = $5 }
		END {
			hz = 0; src = "";
			if (r != "native") {
				if (f["cpuid15"] > 0) { hz = f["cpuid15"]; src = "cpuid15" }
				else if (r == "qemu" && host_tsc > 0) { hz = host_tsc; src = "host TSC" }
				else if (f["pit"] > 1e7) { hz = f["pit"]; src = "pit" }
				if (hz == 0) { print "no TSC frequency" > "/dev/stderr"; exit 1 }
				printf "# %s: TSC %.3f GHz from %s (cpuid15=%s, pit calibrations %s, host TSC %s)\n", r, hz / 1e9, src, f["cpuid15"], f["pit_runs"], host_tsc > "/dev/stderr"
			}
			for (i = 1; i <= n; i++) {
				ns = (r == "native") ? val[i] / acc[i] : val[i] / acc[i] * 1e9 / hz;
				cyc = (r == "native") ? "-" : sprintf("%.1f", val[i] / acc[i]);
				printf "%s %.3f %s\n", name[i], ns, cyc;
			}
		}' "$work/raw.$r" >"$work/$r.out" 2>"$work/note.$r" || return 1
	cat "$work/note.$r"
}

cols=""
for r in $TLB_RUNNERS; do
	if run "$r"; then
		cols="$cols $r"
	else
		echo "# $r: missing (did not run or no result)"
		: >"$work/$r.out"
		cols="$cols $r"
	fi
done

# one table: set, ns/access per runner, cycles/access per guest, ratios to native
awk -v cols="$cols" -v dir="$work" '
	BEGIN {
		nc = split(cols, c, " ");
		for (j = 1; j <= nc; j++) {
			f = dir "/" c[j] ".out";
			while ((getline line < f) > 0) {
				split(line, a, " ");
				if (!(a[1] in seen)) { seen[a[1]] = 1; order[++ns] = a[1] }
				v[a[1], c[j]] = a[2]; cy[a[1], c[j]] = a[3];
			}
		}
		printf "%-12s", "set";
		for (j = 1; j <= nc; j++) printf " %12s", c[j] " ns";
		for (j = 1; j <= nc; j++) if (c[j] != "native") printf " %10s", c[j] " cyc";
		for (j = 1; j <= nc; j++) if (c[j] != "native") printf " %16s", c[j] "/native";
		printf "\n";
		for (i = 1; i <= ns; i++) {
			s = order[i];
			printf "%-12s", s;
			for (j = 1; j <= nc; j++)
				printf " %12s", ((s, c[j]) in v) ? sprintf("%.2f", v[s, c[j]]) : "missing";
			for (j = 1; j <= nc; j++) if (c[j] != "native")
				printf " %10s", ((s, c[j]) in cy) ? cy[s, c[j]] : "-";
			for (j = 1; j <= nc; j++) if (c[j] != "native") {
				if (((s, c[j]) in v) && ((s, "native") in v) && v[s, "native"] > 0)
					printf " %15.1fx", v[s, c[j]] / v[s, "native"];
				else
					printf " %16s", "-";
			}
			printf "\n";
		}
	}'
