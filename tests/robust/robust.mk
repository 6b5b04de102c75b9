# SPDX-License-Identifier: MIT
# Robustness tier, included by tests/tests.mk: hostile or broken input must never crash the
# runner. Everything runs under omnivisor built with MODE=asan (AddressSanitizer + UBSan,
# $(BUILD)/asan/omnivisor), through tests/robust/sanrun.sh, which turns any sanitizer report
# into a failed check.
#
#   make test-robust                      all of it; last line `N passed, N failed`
#        ROBUST_TESTS="tests/robust/test_hostile.sh"   only these scripts
#        KEEP=1 VERBOSE=1                 keep scratch directories, show commands
#
# Scripts: tests/user/test_badfiles.sh and tests/user/test_progs.sh (reused unchanged: files
# the runner must refuse, CPU-exception programs), tests/robust/test_badelf.sh (hostile ELF
# files from gen-badelf.py), tests/robust/test_hostile.sh (tests/robust/progs/*.S).

.PHONY: test-robust robust-progs

ROBUST_DIR := $(BUILD)/tests/robust
ROBUST_PROG_SRCS := $(sort $(wildcard tests/robust/progs/*.S))
ROBUST_PROGS := $(ROBUST_PROG_SRCS:tests/robust/progs/%.S=$(ROBUST_DIR)/progs/%)
ROBUST_BIN := $(BUILD)/asan/omnivisor
ROBUST_TESTS ?= tests/user/test_badfiles.sh tests/user/test_progs.sh \
	$(sort $(wildcard tests/robust/test_*.sh))

# The asan runner is built by a sub-make (its objects have rules only with MODE=asan). A build
# failure counts as one failed check.
test-robust: $(BUSYBOX_BIN) $(USER_PROGS) $(ROBUST_PROGS)
	+@$(MAKE) --no-print-directory MODE=asan $(ROBUST_BIN) || \
		{ echo "FAIL robust: building $(ROBUST_BIN) failed"; echo "0 passed, 1 failed"; exit 1; }
	@RUNNER='$(abspath tests/robust/sanrun.sh) $(abspath $(ROBUST_BIN))' ERR_PREFIX='omnivisor:' \
		BUSYBOX='$(BUSYBOX_BIN)' PROGS='$(USER_DIR)/progs' \
		ROBUST_PROGS='$(abspath $(ROBUST_DIR)/progs)' \
		sh tests/user/run.sh $(ROBUST_TESTS)

robust-progs: $(ROBUST_PROGS)

# Hostile programs: raw system calls, no libc (tests/robust/progs/lib.h).
$(ROBUST_DIR)/progs/%: tests/robust/progs/%.S tests/robust/progs/lib.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -nostdlib -o $@ $<
