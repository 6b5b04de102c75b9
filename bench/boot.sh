#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench-boot`: Debian's stock kernel + busybox initramfs (scripts/build-guest.sh) booted by
# `omnivisor run` and by `qemu-system-x86_64 -accel tcg`, side by side, and the same busybox
# workloads natively on the host. A benchmark, not a test: no pass/fail.
#
# Per runner and run, two boots:
#   boot   the guest with a /test.sh that does nothing: wall time from the runner's process
#          start to the console line "omnivisor-guest: init reached" (the console is
#          timestamped on the host as it arrives);
#   work   the same guest with BENCH_MB MiB of pseudo-text (bench/gendata.c, the data of
#          bench/user.sh) appended to the initrd as an uncompressed archive (/bench.dat), so
#          loading it costs no decompression; /test.sh runs `sha256sum` and `gzip -c >/dev/null`
#          on it (sha256sum's checksum and gzip's exit status are compared with the native
#          run's). Each workload is timed twice: on the host, between the console lines the guest
#          prints before and after it (the "host clock" rows), and inside the guest with
#          /proc/uptime (the "guest clock" rows; 10 ms resolution).
# Best of BENCH_RUNS runs per cell. A run that fails shows "failed", "timeout" or "wrong" (a
# checksum different from the native run's).
#
# Environment (set by bench/boot.mk):
#   OMNIVISOR      omnivisor binary, a release build     (build/release/omnivisor)
#   QEMU           full-system QEMU                      (qemu-system-x86_64)
#   BUSYBOX        busybox for the native column         (/bin/busybox, Debian busybox-static)
#   GUEST_DIR      build-guest.sh's cache                (build/guest)
#   GENDATA        bench/gendata.c, built                (build/bench/gendata)
#   BENCH_DIR      where inputs are cached               (build/bench)
#   BENCH_MB       workload size in MiB                  (64)
#   BENCH_RUNS     runs per cell, the best is shown      (1)
#   BENCH_TIMEOUT  seconds before a guest run is abandoned (1800)
#   BENCH_MEMORY   guest RAM                             (512M)
#   BENCH_RUNNERS  which columns to measure              (native qemu omnivisor)
#   KEEP=1         keep the console logs (the directory is printed)
set -u
: "${OMNIVISOR:=build/release/omnivisor}"
: "${QEMU:=qemu-system-x86_64}"
: "${BUSYBOX:=/bin/busybox}"
: "${GUEST_DIR:=build/guest}"
: "${GENDATA:=build/bench/gendata}"
: "${BENCH_DIR:=build/bench}"
: "${BENCH_MB:=64}"
: "${BENCH_RUNS:=1}"
: "${BENCH_TIMEOUT:=1800}"
: "${BENCH_MEMORY:=512M}"
: "${BENCH_RUNNERS:=native qemu omnivisor}"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
APPEND="console=ttyS0 quiet panic=-1 omnivisor.test=1"

out=$(mktemp -d "${TMPDIR:-/tmp}/ov-bench-boot.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$out"' EXIT
mkdir -p "$BENCH_DIR"

# ---- inputs ----
data=$BENCH_DIR/data-${BENCH_MB}M.txt
if [ ! -s "$data" ]; then
	echo "bench: generating $data ($BENCH_MB MiB of pseudo-text, $GENDATA)" >&2
	"$GENDATA" $((BENCH_MB << 20)) 1 >"$data.tmp" && mv "$data.tmp" "$data" || exit 1
fi

# The guest's /test.sh, written only when it changes so build-guest.sh's cache holds.
script=$BENCH_DIR/boot-guest-test.sh
cat >"$out/test.sh" <<'EOF'
#!/bin/sh
# bench/boot.sh's /test.sh: times busybox workloads on /bench.dat (if present).
[ -f /bench.dat ] || exit 0
up() { cut -d' ' -f1 /proc/uptime; }
for w in sha256sum gzip; do
	echo "bench-guest: begin $w"
	t0=$(up)
	case $w in
	sha256sum) sha256sum /bench.dat >/tmp/out ;;
	gzip) gzip -c /bench.dat >/dev/null; echo "status=$?" >/tmp/out ;;
	esac
	t1=$(up)
	echo "bench-guest: end $w $t0 $t1 $(cut -c1-64 /tmp/out)"
done
EOF
cmp -s "$out/test.sh" "$script" || cp "$out/test.sh" "$script"
echo "bench: building the guest (scripts/build-guest.sh, cached in $GUEST_DIR)" >&2
sh "$top/scripts/build-guest.sh" --test-script "$script" --test-name bench "$GUEST_DIR" >&2 || exit 1
kernel=$GUEST_DIR/vmlinuz
initrd=$GUEST_DIR/initramfs-bench.cpio.gz
# initrd + data: the kernel reads concatenated archives; an uncompressed one must start at a
# multiple of 4 bytes (init/initramfs.c), hence the zero padding.
winitrd=$BENCH_DIR/initramfs-bench-${BENCH_MB}M.cpio
if [ ! -s "$winitrd" ] || [ "$initrd" -nt "$winitrd" ] || [ "$data" -nt "$winitrd" ]; then
	echo "bench: $winitrd (the initrd + $BENCH_MB MiB as /bench.dat)" >&2
	mkdir -p "$out/d"
	ln "$data" "$out/d/bench.dat" 2>/dev/null || cp "$data" "$out/d/bench.dat"
	{
		cat "$initrd"
		pad=$(((4 - $(stat -c %s "$initrd") % 4) % 4))
		[ $pad -eq 0 ] || head -c $pad /dev/zero
		(cd "$out/d" && echo bench.dat | cpio -o -H newc -R 0:0 --quiet)
	} >"$winitrd.tmp" && mv "$winitrd.tmp" "$winitrd" || exit 1
	rm -rf "$out/d"
fi

# ---- runners ----
# run_guest RUNNER INITRD LOG: runs the VM with its console timestamped line by line
# ("SECONDS-SINCE-START LINE"); returns the runner's exit status (124: timeout).
run_guest() {
	local runner=$1 rd=$2 log=$3 start st=0
	local -a cmd
	case $runner in
	omnivisor) cmd=("$OMNIVISOR" run --kernel "$kernel" --initrd "$rd" --memory "$BENCH_MEMORY"
		--append "$APPEND") ;;
	qemu) cmd=("$QEMU" -accel tcg -m "${BENCH_MEMORY%M}" -nographic -no-reboot -kernel "$kernel"
		-initrd "$rd" -append "$APPEND") ;;
	esac
	start=$EPOCHREALTIME
	timeout "$BENCH_TIMEOUT" "${cmd[@]}" </dev/null 2>"$log.err" | {
		while IFS= read -r line; do
			printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
		done
	} | awk -v s="$start" '{ t = $1; $1 = ""; printf "%.3f%s\n", t - s, $0 }' >"$log"
	st=${PIPESTATUS[0]}
	return "$st"
}

# stamp LOG PATTERN: the host time of the first console line matching PATTERN
stamp() { awk -v p="$2" 'index($0, p) { print $1; exit }' "$1"; }

# best of two values, either may be a word (failed...): numbers win
best() { awk -v a="$1" -v b="$2" 'BEGIN {
	na = (a ~ /^[0-9.]+$/); nb = (b ~ /^[0-9.]+$/)
	if (na && nb) print (b + 0 < a + 0) ? b : a; else if (na) print a; else if (nb) print b
	else print (a == "" ? b : a) }'; }

declare -A res # res[runner,measure]
sums=()        # native checksums, by workload
wls=(sha256sum gzip)

native_run() {
	local w t
	for w in "${wls[@]}"; do
		t=$({ TIMEFORMAT=%R; time case $w in
		sha256sum) "$BUSYBOX" sha256sum "$data" >"$out/native.$w" ;;
		gzip) "$BUSYBOX" gzip -c "$data" >/dev/null; echo "status=$?" >"$out/native.$w" ;;
		esac; } 2>&1)
		res[native,$w-host]=$(best "${res[native,$w-host]:-}" "$t")
	done
}

vm_run() { # runner index
	local r=$1 i=$2 log st t w line
	log=$out/$r.boot.$i
	run_guest "$r" "$initrd" "$log"
	st=$?
	t=$(stamp "$log" "omnivisor-guest: init reached")
	if [ -z "$t" ]; then
		[ "$st" = 124 ] && t=timeout || t=failed
		echo "bench: $r boot: no 'init reached' (status $st; $log)" >&2
	fi
	res[$r,boot]=$(best "${res[$r,boot]:-}" "$t")

	log=$out/$r.work.$i
	run_guest "$r" "$winitrd" "$log"
	st=$?
	for w in "${wls[@]}"; do
		line=$(grep -m1 " bench-guest: end $w " "$log")
		local b e h g sum
		b=$(stamp "$log" "bench-guest: begin $w")
		e=$(stamp "$log" "bench-guest: end $w ")
		if [ -z "$line" ] || [ -z "$b" ]; then
			[ "$st" = 124 ] && h=timeout || h=failed
			g=$h
			echo "bench: $r $w: no result (status $st; $log)" >&2
		else
			read -r _ _ _ _ t0 t1 sum <<<"$line"
			if [ "$sum" != "$(cut -c1-64 "$out/native.$w")" ]; then
				h=wrong g=wrong
				echo "bench: $r $w: result '$sum' differs from the native run's" >&2
			else
				h=$(awk -v b="$b" -v e="$e" 'BEGIN { printf "%.2f", e - b }')
				g=$(awk -v b="$t0" -v e="$t1" 'BEGIN { printf "%.2f", e - b }')
			fi
		fi
		res[$r,$w-host]=$(best "${res[$r,$w-host]:-}" "$h")
		res[$r,$w-guest]=$(best "${res[$r,$w-guest]:-}" "$g")
	done
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "bench-boot: Linux $(cat "$GUEST_DIR/kernel-version"), $BENCH_MB MiB, best of $BENCH_RUNS, wall seconds, $cpu x $(nproc), load $(cut -d' ' -f1 /proc/loadavg)"
runners=()
for r in native qemu omnivisor; do
	[[ " $BENCH_RUNNERS " == *" $r "* ]] || continue
	if [ "$r" = qemu ] && ! command -v "$QEMU" >/dev/null; then
		echo "bench: $QEMU is missing" >&2
		continue
	fi
	if [ "$r" = omnivisor ] && [ ! -x "$OMNIVISOR" ]; then
		echo "bench: $OMNIVISOR is missing" >&2
		continue
	fi
	runners+=("$r")
done
# the native run always happens: it gives the reference checksums
for ((i = 0; i < BENCH_RUNS; i++)); do
	echo "bench: native run $((i + 1)) ..." >&2
	native_run
	for r in "${runners[@]}"; do
		[ "$r" = native ] && continue
		echo "bench: $r run $((i + 1)) ..." >&2
		vm_run "$r" "$i"
	done
done
[[ " ${runners[*]} " == *" native "* ]] || { for w in "${wls[@]}"; do res[native,$w-host]=-; done; }

ratio() { # NUM DEN
	awk -v n="$1" -v d="$2" 'BEGIN {
		if (n !~ /^[0-9.]+$/ || d !~ /^[0-9.]+$/ || d + 0 == 0) print "-"
		else printf "%.1fx\n", n / d }'
}
row() { # label native qemu omnivisor
	printf '%-26s %9s %9s %12s %10s %12s %17s\n' "$1" "$2" "$3" "$4" "$(ratio "$4" "$3")" \
		"$(ratio "$3" "$2")" "$(ratio "$4" "$2")"
}
printf '%-26s %9s %9s %12s %10s %12s %17s\n' measure "native s" "qemu s" "omnivisor s" "ov/qemu" \
	"qemu/native" "omnivisor/native"
row "boot to /init" - "${res[qemu,boot]:--}" "${res[omnivisor,boot]:--}"
for w in "${wls[@]}"; do
	name="$w ${BENCH_MB}M"
	[ "$w" = gzip ] && name="gzip -c ${BENCH_MB}M"
	row "$name (host clock)" "${res[native,$w-host]:--}" "${res[qemu,$w-host]:--}" \
		"${res[omnivisor,$w-host]:--}"
	row "$name (guest clock)" "${res[native,$w-host]:--}" "${res[qemu,$w-guest]:--}" \
		"${res[omnivisor,$w-guest]:--}"
done
[ "${KEEP:-0}" = 1 ] && echo "bench: console logs kept in $out"
exit 0
