# Omnivisor build. `make` builds build/omnivisor; `make run`, `make test`, `make bench`.
# MODE=release (default) | debug | asan
MODE ?= release
CC ?= gcc
BUILD := build
DEPS_STAMP := $(BUILD)/.deps-installed

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS_COMMON := -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) -MMD -MP -pthread
ifeq ($(MODE),debug)
  OPT := -O0 -g
  ODIR := $(BUILD)/debug
else ifeq ($(MODE),asan)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  ODIR := $(BUILD)/asan
else
  OPT := -O2 -g
  ODIR := $(BUILD)/release
endif
CFLAGS += $(CFLAGS_COMMON) $(OPT)
LDFLAGS += $(OPT) -pthread
LDLIBS += -lZydis -lm -lz -llzma -lzstd

SRCS := $(sort $(wildcard src/core/*.c src/cpu/*.c src/user/*.c src/hw/*.c src/boot/*.c src/backend/*.c))
OBJS := $(SRCS:%.c=$(ODIR)/%.o)
# Everything but main.c, for linking tests against the CPU and runner.
LIB_OBJS := $(filter-out $(ODIR)/src/core/main.o,$(OBJS))
BIN := $(ODIR)/omnivisor

.PHONY: all run test bench deps clean format
all: $(BUILD)/omnivisor

$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/install-deps.sh
	@touch $@

$(BUILD)/omnivisor: $(BIN)
	@ln -sf $(patsubst $(BUILD)/%,%,$(BIN)) $@

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ODIR)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

-include $(OBJS:.o=.d)
-include tests/tests.mk
-include bench/bench.mk

# `make run`: boot Debian's stock kernel with a busybox initramfs (built from Debian packages by
# scripts/build-guest.sh, cached in $(BUILD)/guest) to a shell on this terminal. Ctrl-A X quits;
# `poweroff` in the guest ends the VM. RUN_MEMORY, RUN_APPEND override the defaults.
GUEST_OUT := $(BUILD)/guest
RUN_MEMORY ?= 512M
RUN_APPEND ?= console=ttyS0 quiet
.PHONY: guest run-exec

guest:
	@sh scripts/build-guest.sh $(GUEST_OUT)

run: $(BUILD)/omnivisor guest
	$(BUILD)/omnivisor run --kernel $(GUEST_OUT)/vmlinuz --initrd $(GUEST_OUT)/initramfs.cpio.gz \
		--memory $(RUN_MEMORY) --append "$(RUN_APPEND)"

# Partial virtualization demo: Debian's busybox on the virtual CPU (scripts/demo.sh).
run-exec: $(BUILD)/omnivisor $(BUSYBOX_BIN)
	@sh scripts/demo.sh $(BUILD)/omnivisor $(BUSYBOX_BIN)

clean:
	rm -rf $(BUILD)/release $(BUILD)/debug $(BUILD)/asan $(BUILD)/omnivisor $(BUILD)/tests

format:
	clang-format -i $(SRCS) $(wildcard include/omnivisor/*.h src/*/*.h)
