/* SPDX-License-Identifier: MIT */
/*
 * Two debugging ports of the Bochs/QEMU tradition, used by the bare-metal test kernels
 * (tests/guest) exactly as QEMU's `-debugcon` and `-device isa-debug-exit` behave:
 *   debugcon  port 0xE9: a byte written is output; reading returns 0xE9 (the Bochs "port E9
 *             hack" presence check).
 *   debugexit port 0xF4 (4 ports): writing value V ends the VM with exit status (V << 1) | 1.
 * Neither is present on a real PC; the machine adds debugexit only on request (--debug-exit).
 */
#ifndef OMNIVISOR_HW_DEBUGCON_H
#define OMNIVISOR_HW_DEBUGCON_H

#include <stdint.h>

struct bus;

struct debugcon {
	/* output of written bytes; called on the vCPU thread */
	void (*write)(void *opaque, const uint8_t *buf, unsigned len);
	void *write_opaque;
	/* debugexit: the guest asked to end with @status; called on the vCPU thread */
	void (*exit)(void *opaque, int status);
	void *exit_opaque;
	uint64_t nr_bytes;
};

/* debugcon_register - claim port 0xE9 for @d on @bus. 0 or a negative errno from bus_register. */
int debugcon_register(struct debugcon *d, struct bus *bus);
/* debugexit_register - claim ports 0xF4-0xF7 for @d on @bus. 0 or a negative errno. */
int debugexit_register(struct debugcon *d, struct bus *bus);

#endif
