# SPDX-License-Identifier: MIT
# `make bench-boot` (bench/boot.sh), included by bench/bench.mk: Debian's stock kernel + busybox
# initramfs booted by `omnivisor run` (release build) and `qemu-system-x86_64 -accel tcg`, side
# by side: wall time to /init, then busybox sha256sum and gzip of BENCH_MB MiB in the guest,
# and natively. Best of BENCH_RUNS (default 1).
#        BENCH_MB=16 BENCH_RUNS=3 BENCH_RUNNERS="native omnivisor" KEEP=1   see bench/boot.sh
#
# Not a test. Needs bench/bench.mk's BENCH_DIR, BENCH_DEPS_STAMP and BENCH_OMNIVISOR, and
# qemu-system-x86_64 for the QEMU column (Debian: qemu-system-x86; "missing" without it).

.PHONY: bench-boot

bench-boot: $(BENCH_DEPS_STAMP) $(BENCH_DIR)/gendata
	+@ov=$(BENCH_OMNIVISOR); $(MAKE) --no-print-directory MODE=release $(BENCH_OMNIVISOR) || { \
		echo "bench-boot: building $(BENCH_OMNIVISOR) failed; measuring without it" >&2; \
		ov=/nonexistent; }; \
	OMNIVISOR=$$ov QEMU=qemu-system-x86_64 BUSYBOX=/bin/busybox GUEST_DIR=$(BUILD)/guest \
		GENDATA=$(BENCH_DIR)/gendata BENCH_DIR=$(BENCH_DIR) bash bench/boot.sh
