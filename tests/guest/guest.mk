# SPDX-License-Identifier: MIT
# Guest test kernels (tests/guest/README.md), included by tests/tests.mk.
#
#   make test-guest          every kernel on $(BUILD)/omnivisor run --kernel ... --debug-exit
#   make test-guest-qemu     the same comparisons on qemu-system-x86_64 -accel tcg (ground truth)
#   make guest-kernels       only build the kernels into $(BUILD)/tests/guest
#        GUEST_TESTS="pf irq"   only these kernels;  GUEST_TIMEOUT=60   seconds per kernel
#
# Each kernel is tests/guest/NAME.c + lib.c + boot.S, linked at 1 MiB by guest.ld and turned
# into a flat Multiboot image NAME.bin; run.sh compares its debugcon output with NAME.ref.

.PHONY: test-guest test-guest-qemu guest-kernels

GUEST_DIR := $(BUILD)/tests/guest
GUEST_ALL := $(filter-out lib,$(basename $(notdir $(wildcard tests/guest/*.c))))
GUEST_TESTS ?= $(GUEST_ALL)
GUEST_BINS := $(GUEST_TESTS:%=$(GUEST_DIR)/%.bin)
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables \
	-fno-jump-tables -Wall -Wextra -Werror -Wno-unused-parameter -Itests/guest -MMD -MP
GUEST_LIB_OBJS := $(GUEST_DIR)/boot.o $(GUEST_DIR)/lib.o

guest-kernels: $(GUEST_BINS)

test-guest: $(BUILD)/omnivisor $(GUEST_BINS)
	@OMNIVISOR=$(BUILD)/omnivisor sh tests/guest/run.sh $(GUEST_BINS)

test-guest-qemu: $(GUEST_BINS)
	@sh tests/guest/run.sh --qemu $(GUEST_BINS)

$(GUEST_DIR)/%.o: tests/guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.o: tests/guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.o $(GUEST_LIB_OBJS) tests/guest/guest.ld
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
		-Wl,--no-warn-rwx-segments -T tests/guest/guest.ld -o $@ $< $(GUEST_LIB_OBJS) -lgcc

$(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.elf
	objcopy -O binary $< $@

.PRECIOUS: $(GUEST_DIR)/%.o $(GUEST_DIR)/%.elf

-include $(wildcard $(GUEST_DIR)/*.d)
