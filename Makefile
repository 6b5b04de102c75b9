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

# The main job until the VM boots: Debian's busybox on the virtual CPU (scripts/demo.sh).
run: $(BUILD)/omnivisor $(BUSYBOX_BIN)
	@sh scripts/demo.sh $(BUILD)/omnivisor $(BUSYBOX_BIN)

clean:
	rm -rf $(BUILD)/release $(BUILD)/debug $(BUILD)/asan $(BUILD)/omnivisor $(BUILD)/tests

format:
	clang-format -i $(SRCS) $(wildcard include/omnivisor/*.h src/*/*.h)
