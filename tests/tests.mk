# SPDX-License-Identifier: MIT
# Test tiers, included by the top Makefile.
#
#   make test                      every tier (unit, cpu, user); last line `N passed, N failed`
#   make test-unit                 tests/unit/test_*.c: cmocka programs under ASan+UBSan
#   make test-cpu                  differential CPU tests (tests/cpu/cases/*.txt vs the host CPU)
#        CASES="alu shift"         only these case files
#        FILTER="adc"              only forms whose text contains this (case-insensitive)
#        ITERS=N SEED=S ITER=I     iterations per form, random seed, a single iteration
#        DIFFTEST_FLAGS=...        any other difftest option (see tests/cpu/cases/README.md)
#   make test-user                 user-mode program tests (tests/user/user.mk)
#   make test-robust               hostile input under ASan+UBSan (tests/robust/robust.mk)
#   make test-fuzz                 libFuzzer targets, briefly (tests/fuzz/fuzz.mk)
#   make test-guest                bare-metal test kernels on `omnivisor run` (tests/guest/README.md)
#   make test-boot                 Debian's kernel on `omnivisor run` + bad input (tests/boot/README.md)
#
# Outputs go under $(BUILD)/tests (unit) and $(ODIR)/tests/cpu (difftest, per MODE).

.PHONY: test test-unit test-cpu unit-build difftest

# ------------------------------------------------------------------------------------------
# All tiers. run-all.sh runs each tier's target and sums their `N passed, N failed` lines.
test:
	+@MAKE='$(MAKE)' sh tests/run-all.sh

# ------------------------------------------------------------------------------------------
# Unit tests: every tests/unit/test_*.c is one cmocka program, linked against the project's
# objects built with MODE=asan (the sub-make builds them), run under ASan + UBSan.
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_DIR := $(BUILD)/tests/unit
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(UNIT_DIR)/%)
ASAN_LIB_OBJS := $(filter-out $(BUILD)/asan/src/core/main.o,$(SRCS:%.c=$(BUILD)/asan/%.o))
UNIT_CFLAGS := $(CFLAGS_COMMON) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -Itests/unit

# -k: one test that does not compile must not keep the others from running; run.sh counts a
# missing program as a failure.
test-unit:
	+@$(MAKE) --no-print-directory -k MODE=asan unit-build || true
	@sh tests/unit/run.sh $(UNIT_BINS)

# Only meaningful with MODE=asan (test-unit calls it so): the asan objects have rules then.
unit-build: $(UNIT_BINS)

$(UNIT_DIR)/%: tests/unit/%.c $(ASAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(CC) $(UNIT_CFLAGS) -MF $@.d -o $@ $< $(ASAN_LIB_OBJS) $(LDLIBS) -lcmocka

-include $(UNIT_BINS:%=%.d)

# ------------------------------------------------------------------------------------------
# Differential CPU tests. Each case file becomes one object: gen-cases.awk writes GNU as source
# (with line markers, so assembler errors name the case file and line), whose entries land in
# the `difftest_cases` section that difftest walks.
CPU_TEST_DIR := $(ODIR)/tests/cpu
CASE_TXTS := $(sort $(wildcard tests/cpu/cases/*.txt))
CASE_OBJS := $(CASE_TXTS:tests/cpu/cases/%.txt=$(CPU_TEST_DIR)/cases/%.o)
DIFFTEST := $(CPU_TEST_DIR)/difftest
DIFFTEST_ARGS := $(foreach c,$(CASES),--file $(c)) $(if $(FILTER),--filter '$(FILTER)') \
	$(if $(ITERS),--iters $(ITERS)) $(if $(SEED),--seed $(SEED)) \
	$(if $(ITER),--iter $(ITER)) $(DIFFTEST_FLAGS)

test-cpu: $(DIFFTEST)
	@$(DIFFTEST) $(DIFFTEST_ARGS)

difftest: $(DIFFTEST)

$(CPU_TEST_DIR)/cases/%.o: tests/cpu/cases/%.txt tests/cpu/gen-cases.awk
	@mkdir -p $(dir $@)
	@awk -v src=$< -f tests/cpu/gen-cases.awk $< > $(@:.o=.S) || { rm -f $(@:.o=.S); exit 1; }
	@$(CC) -c -o $@ $(@:.o=.S) || { rm -f $@; exit 1; }
	@bad=$$(nm -u $@ | awk '{ print $$2 }'); if [ -n "$$bad" ]; then \
		for s in $$bad; do \
			grep -nw -- "$$s" $< | sed "s|^|$<:|; s|$$|   <- \`$$s' is no register or mnemonic: assembled as a memory reference to a symbol|" >&2; \
		done; rm -f $@; exit 1; fi

$(CPU_TEST_DIR)/difftest.o: tests/cpu/difftest.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(DIFFTEST): $(CPU_TEST_DIR)/difftest.o $(CASE_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(CPU_TEST_DIR)/difftest.o $(CASE_OBJS) $(LIB_OBJS) $(LDLIBS)

-include $(CPU_TEST_DIR)/difftest.d

# ------------------------------------------------------------------------------------------
# User-mode program tests (their own helper's file; defines test-user).
-include tests/user/user.mk
# Robustness (sanitizers on hostile input) and fuzzing tiers: test-robust, test-fuzz, fuzz.
-include tests/robust/robust.mk
-include tests/fuzz/fuzz.mk
-include tests/guest/guest.mk
-include tests/boot/boot.mk
