/* SPDX-License-Identifier: MIT */
/* Debug console port 0xE9 and the debug-exit port 0xF4 (include/omnivisor/hw/debugcon.h). */
#include "omnivisor/hw/debugcon.h"
#include "omnivisor/bus.h"

#define DEBUGCON_PORT 0xe9
#define DEBUGEXIT_PORT 0xf4

static void con_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0, len);
	*(uint8_t *)data = DEBUGCON_PORT; /* presence check of the Bochs port E9 hack */
}

static void con_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct debugcon *d = opaque;
	d->nr_bytes++;
	if (d->write)
		d->write(d->write_opaque, data, 1); /* an OUT of 2 or 4 bytes outputs the low byte */
}

static const struct bus_ops debugcon_ops = {
	.read = con_read,
	.write = con_write,
};

static void exit_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0xff, len);
}

static void exit_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct debugcon *d = opaque;
	uint32_t v = (uint32_t)bus_data_get(data, len);
	if (d->exit)
		d->exit(d->exit_opaque, (int)((v << 1) | 1));
}

static const struct bus_ops debugexit_ops = {
	.read = exit_read,
	.write = exit_write,
};

int debugcon_register(struct debugcon *d, struct bus *bus)
{
	return bus_register_pio(bus, DEBUGCON_PORT, 1, &debugcon_ops, d, "debugcon", NULL);
}

int debugexit_register(struct debugcon *d, struct bus *bus)
{
	return bus_register_pio(bus, DEBUGEXIT_PORT, 4, &debugexit_ops, d, "debugexit", NULL);
}
