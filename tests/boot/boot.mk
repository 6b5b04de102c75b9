# SPDX-License-Identifier: MIT
# Boot tier (tests/boot/README.md), included by tests/tests.mk after tests/guest/guest.mk.
#
#   make test-boot        Debian's stock kernel + busybox initramfs (scripts/build-guest.sh,
#                         cached in $(BUILD)/guest) on $(BUILD)/omnivisor run with
#                         tests/boot/guest-test.sh as /test.sh, then hostile and bad input
#        BOOT_TIMEOUT=600   seconds for the guest run;  BAD_TIMEOUT=120   per bad-input run
#        KEEP=1             keep the console logs
#
# Needs Debian's package lists for the first build of the guest (apt-get download).

.PHONY: test-boot

BOOT_GUEST_DIR := $(BUILD)/guest
BOOT_TRIPLE := $(BUILD)/tests/guest/triple.bin

# The triple-fault kernel comes from tests/guest/guest.mk; if it does not build, run.sh counts
# that check as failed and runs the others.
test-boot: $(BUILD)/omnivisor
	+@$(MAKE) --no-print-directory $(BOOT_TRIPLE) >/dev/null || true
	@OMNIVISOR=$(BUILD)/omnivisor GUEST_DIR=$(BOOT_GUEST_DIR) TRIPLE=$(BOOT_TRIPLE) \
		sh tests/boot/run.sh
