# SPDX-License-Identifier: MIT
# Benchmarks, included by the top Makefile.
#
#   make bench        bench/user.sh, bench/tlb (the soft TLB: make bench-tlb, bench/tlb.mk) and
#                     bench/boot.sh (make bench-boot: Debian's kernel on omnivisor vs
#                     qemu-system-x86_64 TCG vs native, bench/boot.mk)
#                     bench/user.sh: busybox sha256sum and gzip of a 64 MiB file, natively, under
#                     QEMU user mode and under `omnivisor exec` (release build), best of 3 each
#        BENCH_MB=16 BENCH_RUNS=1 BENCH_CLOCK=cpu BENCH_RUNNERS="native omnivisor"   see user.sh
#
# Installs qemu-user and busybox-static first (scripts/install-deps.sh --bench). Not a test.

.PHONY: bench bench-user

BENCH_DIR := $(BUILD)/bench
BENCH_DEPS_STAMP := $(BUILD)/.deps-bench-installed
BENCH_OMNIVISOR := $(BUILD)/release/omnivisor

$(BENCH_DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/install-deps.sh --bench
	@touch $@

$(BENCH_DIR)/gendata: bench/gendata.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $<

bench: bench-user bench-tlb bench-boot

# Without a working build (the tree is mid-change) the omnivisor column shows "missing".
bench-user: $(BENCH_DEPS_STAMP) $(BENCH_DIR)/gendata
	+@ov=$(BENCH_OMNIVISOR); $(MAKE) --no-print-directory MODE=release $(BENCH_OMNIVISOR) || { \
		echo "bench: building $(BENCH_OMNIVISOR) failed; measuring without it" >&2; ov=/nonexistent; }; \
	BUSYBOX=/bin/busybox QEMU=qemu-x86_64 OMNIVISOR=$$ov GENDATA=$(BENCH_DIR)/gendata \
		BENCH_DIR=$(BENCH_DIR) bash bench/user.sh

-include bench/tlb.mk
-include bench/boot.mk
