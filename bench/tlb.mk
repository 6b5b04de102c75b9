# SPDX-License-Identifier: MIT
# TLB benchmark (bench/tlb), included by bench/bench.mk.
#
#   make bench-tlb     the loop of bench/tlb/loop.h natively, under QEMU TCG (qemu-system-x86_64)
#                      and under Omnivisor (release build): ns per access and ratios
#        TLB_RUNNERS="native omnivisor"   only these columns;  TLB_TIMEOUT=300
#
# The guest kernel uses the boot stub and library of tests/guest (tests/guest/guest.mk).

.PHONY: bench-tlb

TLB_BENCH_DIR := $(BUILD)/bench/tlb

$(TLB_BENCH_DIR)/native: bench/tlb/native.c bench/tlb/loop.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $<

$(TLB_BENCH_DIR)/guest.o: bench/tlb/guest.c bench/tlb/loop.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -Ibench/tlb -c -o $@ $<

$(TLB_BENCH_DIR)/tlb.elf: $(TLB_BENCH_DIR)/guest.o $(GUEST_LIB_OBJS) tests/guest/guest.ld
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
		-Wl,--no-warn-rwx-segments -T tests/guest/guest.ld -o $@ $< $(GUEST_LIB_OBJS) -lgcc

$(TLB_BENCH_DIR)/tlb.bin: $(TLB_BENCH_DIR)/tlb.elf
	objcopy -O binary $< $@

# Without a working build the omnivisor column shows "missing".
bench-tlb: $(TLB_BENCH_DIR)/native $(TLB_BENCH_DIR)/tlb.bin
	+@ov=$(BENCH_OMNIVISOR); $(MAKE) --no-print-directory MODE=release $(BENCH_OMNIVISOR) || { \
		echo "bench-tlb: building $(BENCH_OMNIVISOR) failed; measuring without it" >&2; \
		ov=/nonexistent; }; \
	OMNIVISOR=$$ov sh bench/tlb/run.sh $(TLB_BENCH_DIR)/native $(TLB_BENCH_DIR)/tlb.bin
