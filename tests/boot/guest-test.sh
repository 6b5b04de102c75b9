#!/bin/sh
# SPDX-License-Identifier: MIT
# /test.sh of the boot tier's initramfs (scripts/build-guest.sh --test-script ... --test-name
# boot): runs inside the guest under busybox sh when the command line has omnivisor.test=1.
# Prints one `boot-test: KEY=VALUE` line per fact; tests/boot/run.sh checks them against the
# host. Keep every value on one line, and keep the keys in step with run.sh.
m() { echo "boot-test: $1=$2"; }

m uname-r "$(uname -r)"
m proc-version "$(cat /proc/version)"

# The CPU must not tell the guest it is virtualised: no `hypervisor` flag (CPUID.1:ECX[31]).
m cpuinfo-flags-lines "$(grep -c '^flags' /proc/cpuinfo)"
if grep '^flags' /proc/cpuinfo | grep -qw hypervisor; then
	m hypervisor-flag yes
else
	m hypervisor-flag no
fi

# 16 MiB of a known pattern through sha256 (the host runs the same pipeline).
m sha256-16M "$(yes omnivisor | head -c 16777216 | sha256sum | cut -d' ' -f1)"

# Interrupt counts (IRQ 0 "timer" and the local APIC timer "LOC", whichever the kernel uses)
# and the wall clock around a one-second sleep.
irqs() {
	awk '$1 == "0:" { t = $2 } $1 == "LOC:" { l = $2 } END { printf "%d %d\n", t, l }' \
		/proc/interrupts
}
m irq-before "$(irqs)"
m date-before "$(date +%s)"
sleep 1
m date-after "$(date +%s)"
m irq-after "$(irqs)"
m done 1
