# SPDX-License-Identifier: MIT
# User-mode program tests, included by tests/tests.mk.
#
#   make test-user                         every tests/user/test_*.sh, native vs `omnivisor exec`
#        USER_TESTS="tests/user/test_shell.sh"   only these scripts
#        USER_RUNNER="qemu-x86_64"         another runner for the second run (to check the tests)
#        USER_ERR_PREFIX="qemu-x86_64:"    how that runner's error messages start
#        KEEP=1 VERBOSE=1                  keep the scratch directories; show commands and sizes
#   make busybox                           only fetch Debian's busybox-static (scripts/fetch-busybox.sh)
#
# The runner is $(BUILD)/omnivisor (whatever MODE built it). Each check prints PASS/FAIL and the
# last line is `N passed, N failed`; see tests/user/common.sh.

.PHONY: test-user busybox user-progs

USER_DIR := $(BUILD)/tests/user
BUSYBOX_DIR := $(BUILD)/guest/busybox-static
BUSYBOX_BIN := $(BUSYBOX_DIR)/bin/busybox
USER_PROG_SRCS := $(sort $(wildcard tests/user/progs/*.S tests/user/progs/*.c))
USER_PROGS := $(basename $(USER_PROG_SRCS:tests/user/progs/%=$(USER_DIR)/progs/%))
USER_TESTS ?= $(sort $(wildcard tests/user/test_*.sh))
USER_RUNNER ?= $(BUILD)/omnivisor exec --
USER_ERR_PREFIX ?= omnivisor:
# Build omnivisor only when it is the runner.
USER_RUNNER_DEP := $(if $(filter $(BUILD)/omnivisor,$(firstword $(USER_RUNNER))),$(BUILD)/omnivisor)

test-user: $(USER_RUNNER_DEP) $(BUSYBOX_BIN) $(USER_PROGS)
	@RUNNER='$(USER_RUNNER)' ERR_PREFIX='$(USER_ERR_PREFIX)' BUSYBOX='$(BUSYBOX_BIN)' \
		PROGS='$(USER_DIR)/progs' sh tests/user/run.sh $(USER_TESTS)

busybox: $(BUSYBOX_BIN)
user-progs: $(USER_PROGS)

# Re-extracted (from the cached .deb, no download) when the script changes.
$(BUSYBOX_BIN): scripts/fetch-busybox.sh
	@rm -rf $(BUSYBOX_DIR)
	@sh scripts/fetch-busybox.sh $(BUSYBOX_DIR)

# Tiny static programs without libc: raw system calls and CPU exceptions.
$(USER_DIR)/progs/%: tests/user/progs/%.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -nostdlib -o $@ $<

# Small static C programs (glibc): signal handlers, threads.
$(USER_DIR)/progs/%: tests/user/progs/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -static -pthread -o $@ $<
