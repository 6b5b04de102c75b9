# SPDX-License-Identifier: MIT
# libFuzzer targets, included by tests/tests.mk. Each tests/fuzz/fuzz_NAME.c is linked with the
# project's objects (all of src/ but main.c) rebuilt by clang with coverage instrumentation and
# AddressSanitizer + UBSan under $(BUILD)/fuzz/.
#
#   make test-fuzz              each target briefly (FUZZ_RUNS inputs or FUZZ_BRIEF seconds,
#                               whichever ends first) from its seed corpus tests/fuzz/corpus/NAME/;
#                               a crash, leak, timeout or sanitizer report fails the target.
#                               Last line `N passed, N failed` (one per target).
#   make fuzz FUZZ_TIME=600     each target for FUZZ_TIME seconds (default 300)
#        FUZZ_TARGETS="fuzz_elf" only these targets; FUZZ_FLAGS=... more libFuzzer options
#   make fuzz-build             only build them ($(BUILD)/fuzz/fuzz_NAME)
#
# New inputs go to $(BUILD)/fuzz/corpus/NAME/ (the committed seeds stay as they are); crashing
# inputs to $(BUILD)/fuzz/artifacts/. Reproduce one with `$(BUILD)/fuzz/fuzz_NAME FILE`.

.PHONY: test-fuzz fuzz fuzz-build

FUZZ_CC ?= $(shell command -v clang-14 || command -v clang || echo clang)
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# -Werror stays with the gcc builds: clang may warn differently about code it does not own.
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -Wall -Wno-unused-parameter \
	-Wno-missing-field-initializers -g -O1 -fno-omit-frame-pointer -pthread -MMD -MP $(FUZZ_SAN)
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter-out src/core/main.c,$(SRCS)))
FUZZ_ALL := $(basename $(notdir $(sort $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_RUNS ?= 20000
FUZZ_BRIEF ?= 20
FUZZ_TIME ?= 300

# A build failure counts as one failed check.
test-fuzz:
	+@$(MAKE) --no-print-directory fuzz-build || \
		{ echo "FAIL fuzz: building the fuzz targets failed"; echo "0 passed, 1 failed"; exit 1; }
	@sh tests/fuzz/run.sh '$(FUZZ_DIR)' "-runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_BRIEF) $(FUZZ_FLAGS)" $(FUZZ_TARGETS)

fuzz:
	+@$(MAKE) --no-print-directory fuzz-build
	@sh tests/fuzz/run.sh '$(FUZZ_DIR)' "-max_total_time=$(FUZZ_TIME) $(FUZZ_FLAGS)" $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MF $@.d -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

# keep the instrumented objects between runs (make would delete them as intermediates)
.SECONDARY: $(FUZZ_OBJS)

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:%=%.d)
