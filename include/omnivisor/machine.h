/* SPDX-License-Identifier: MIT */
/* The PC machine of `omnivisor run` (src/core/machine.c). */
#ifndef OMNIVISOR_MACHINE_H
#define OMNIVISOR_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

struct machine_options {
	const char *kernel, *initrd, *append;
	uint64_t memory;  /* bytes of guest RAM */
	unsigned cpus;
	bool debug_exit;  /* QEMU isa-debug-exit at port 0xF4 */
	bool no_reboot;
	bool host_decompress; /* bzImage: decompress on the host and enter vmlinux directly */
	bool help;
};

/*
 * machine_parse_options - parse `omnivisor run` options (argv[0] is the command name).
 * Returns 0, or -EINVAL after printing one message naming the bad option.
 */
int machine_parse_options(int argc, char **argv, struct machine_options *o);

/* machine_main - `omnivisor run`: build the machine, boot, run; returns the exit status. */
int machine_main(int argc, char **argv);

#endif
