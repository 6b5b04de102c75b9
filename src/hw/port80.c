/* SPDX-License-Identifier: MIT */
/* Port 0x80 (POST code / I/O delay). Interface and behaviour: include/omnivisor/hw/port80.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/port80.h"

struct port80 {
	pthread_mutex_t lock;
	uint8_t code;
	uint64_t nr_reads, nr_writes;
};

struct port80 *port80_create(void)
{
	struct port80 *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL)) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void port80_destroy(struct port80 *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

uint8_t port80_read(struct port80 *p)
{
	pthread_mutex_lock(&p->lock);
	p->nr_reads++;
	uint8_t v = p->code;
	pthread_mutex_unlock(&p->lock);
	return v;
}

void port80_write(struct port80 *p, uint8_t val)
{
	pthread_mutex_lock(&p->lock);
	p->nr_writes++;
	p->code = val;
	pthread_mutex_unlock(&p->lock);
}

uint8_t port80_last_code(struct port80 *p)
{
	pthread_mutex_lock(&p->lock);
	uint8_t v = p->code;
	pthread_mutex_unlock(&p->lock);
	return v;
}

void port80_get_stats(struct port80 *p, struct port80_stats *st)
{
	pthread_mutex_lock(&p->lock);
	*st = (struct port80_stats){ p->nr_reads, p->nr_writes, p->code };
	pthread_mutex_unlock(&p->lock);
}

void port80_print_stats(struct port80 *p, FILE *f)
{
	struct port80_stats st;
	port80_get_stats(p, &st);
	fprintf(f, "port80: %" PRIu64 " reads, %" PRIu64 " writes, last code 0x%02x\n",
		st.nr_reads, st.nr_writes, st.last_code);
}

static void read_cb(void *opaque, uint64_t offset, void *data, unsigned len)
{
	(void)offset;
	uint8_t *b = data;
	for (unsigned i = 0; i < len; i++)
		b[i] = port80_read(opaque);
}

static void write_cb(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	(void)offset;
	const uint8_t *b = data;
	for (unsigned i = 0; i < len; i++)
		port80_write(opaque, b[i]);
}

static const struct bus_ops port80_bus_ops = {
	.read = read_cb,
	.write = write_cb,
};

int port80_register(struct port80 *p, struct bus *bus, struct bus_dev **devp)
{
	return bus_register_pio(bus, PORT80_PORT, 1, &port80_bus_ops, p, "port80", devp);
}
