/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC (include/omnivisor/hw/ioapic.h): 24 redirection entries, edge and level inputs,
 * Remote IRR and EOI, interrupt messages through cfg.deliver.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/ioapic.h"

/* Bits the guest can write: vector, mode, dest mode, polarity, trigger, mask; destination. */
#define RTE_WRITABLE_LO 0x1afffull
#define RTE_WRITABLE_HI 0xff00000000000000ull

struct ioapic {
	pthread_mutex_t lock;
	struct ioapic_config cfg;
	uint8_t regsel;
	uint8_t id, arb;
	uint32_t lines; /* input levels */
	uint64_t rte[IOAPIC_NR_PINS];
	struct ioapic_stats st;
};

static unsigned rte_mode(uint64_t e)
{
	return (unsigned)(e >> IOAPIC_RTE_MODE_SHIFT) & 7;
}

/* Level semantics apply to fixed and lowest-priority entries only (82093AA 3.2.4). */
static bool rte_level(uint64_t e)
{
	unsigned mode = rte_mode(e);
	return (e & IOAPIC_RTE_LEVEL) && (mode == IOAPIC_MODE_FIXED || mode == IOAPIC_MODE_LOWEST);
}

static void send(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	unsigned mode = rte_mode(e);
	if (mode == 3 || mode == 6) /* reserved delivery modes */
		return;
	io->st.nr_delivered[pin]++;
	if (io->cfg.deliver)
		io->cfg.deliver(io->cfg.deliver_opaque, (uint8_t)(e >> IOAPIC_RTE_DEST_SHIFT),
				e & IOAPIC_RTE_DEST_LOGICAL, (uint8_t)mode, (uint8_t)e,
				rte_level(e));
}

/* A level entry whose input is asserted: deliver unless masked or awaiting its EOI. */
static void service_level(struct ioapic *io, unsigned pin)
{
	uint64_t *e = &io->rte[pin];
	if (!rte_level(*e) || !(io->lines & 1u << pin) || (*e & IOAPIC_RTE_MASKED) ||
	    (*e & IOAPIC_RTE_REMOTE_IRR))
		return;
	*e |= IOAPIC_RTE_REMOTE_IRR;
	send(io, pin);
}

struct ioapic *ioapic_create(const struct ioapic_config *cfg)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	if (!io) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&io->lock, NULL);
	io->cfg = *cfg;
	io->id = io->arb = cfg->id & 0x0f;
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++)
		io->rte[i] = IOAPIC_RTE_MASKED;
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

void ioapic_set_irq(void *opaque, int pin, int level)
{
	struct ioapic *io = opaque;
	if (pin < 0 || pin >= IOAPIC_NR_PINS)
		return;
	uint32_t m = 1u << pin;
	pthread_mutex_lock(&io->lock);
	bool was = io->lines & m;
	io->lines = level ? io->lines | m : io->lines & ~m;
	if (rte_level(io->rte[pin])) {
		service_level(io, (unsigned)pin);
	} else if (level && !was) {
		if (io->rte[pin] & IOAPIC_RTE_MASKED)
			io->st.nr_masked_edges++;
		else
			send(io, (unsigned)pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static void eoi_locked(struct ioapic *io, uint8_t vector)
{
	io->st.nr_eois++;
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++) {
		uint64_t *e = &io->rte[i];
		if ((uint8_t)*e != vector || !(*e & IOAPIC_RTE_REMOTE_IRR))
			continue;
		*e &= ~IOAPIC_RTE_REMOTE_IRR;
		service_level(io, i);
	}
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector);
	pthread_mutex_unlock(&io->lock);
}

static uint32_t read_reg(struct ioapic *io, uint8_t index)
{
	switch (index) {
	case IOAPIC_REG_ID:
		return (uint32_t)io->id << 24;
	case IOAPIC_REG_VER:
		return (uint32_t)(IOAPIC_NR_PINS - 1) << 16 | IOAPIC_VERSION;
	case IOAPIC_REG_ARB:
		return (uint32_t)io->arb << 24;
	default:
		if (index >= IOAPIC_REG_REDTBL && index < IOAPIC_REG_REDTBL + 2 * IOAPIC_NR_PINS) {
			uint64_t e = io->rte[(index - IOAPIC_REG_REDTBL) / 2];
			return (uint32_t)(index & 1 ? e >> 32 : e);
		}
		return 0;
	}
}

static void write_reg(struct ioapic *io, uint8_t index, uint32_t val)
{
	if (index == IOAPIC_REG_ID) {
		io->id = val >> 24 & 0x0f;
		io->arb = io->id; /* 82093AA 3.2.3: ARB ID is loaded from the APIC ID */
		return;
	}
	if (index < IOAPIC_REG_REDTBL || index >= IOAPIC_REG_REDTBL + 2 * IOAPIC_NR_PINS)
		return; /* VER, ARB and unimplemented registers are read-only */
	unsigned pin = (index - IOAPIC_REG_REDTBL) / 2;
	uint64_t *e = &io->rte[pin];
	if (index & 1) {
		*e = (*e & ~RTE_WRITABLE_HI) | ((uint64_t)val << 32 & RTE_WRITABLE_HI);
		return;
	}
	*e = (*e & ~RTE_WRITABLE_LO) | (val & RTE_WRITABLE_LO);
	if (!rte_level(*e))
		*e &= ~IOAPIC_RTE_REMOTE_IRR;
	service_level(io, pin); /* unmasked or made level with the input asserted */
}

uint32_t ioapic_read_reg(struct ioapic *io, uint8_t index)
{
	pthread_mutex_lock(&io->lock);
	uint32_t v = read_reg(io, index);
	pthread_mutex_unlock(&io->lock);
	return v;
}

void ioapic_write_reg(struct ioapic *io, uint8_t index, uint32_t val)
{
	pthread_mutex_lock(&io->lock);
	write_reg(io, index, val);
	pthread_mutex_unlock(&io->lock);
}

uint64_t ioapic_get_entry(struct ioapic *io, unsigned pin)
{
	if (pin >= IOAPIC_NR_PINS)
		return 0;
	pthread_mutex_lock(&io->lock);
	uint64_t e = io->rte[pin];
	pthread_mutex_unlock(&io->lock);
	return e;
}

/* The dword at @off (aligned) as a read sees it. */
static uint32_t dword_view(struct ioapic *io, uint64_t off)
{
	switch (off) {
	case IOAPIC_IOREGSEL:
		return io->regsel;
	case IOAPIC_IOWIN:
		return read_reg(io, io->regsel);
	default:
		return 0;
	}
}

static void dword_write(struct ioapic *io, uint64_t off, uint32_t val)
{
	switch (off) {
	case IOAPIC_IOREGSEL:
		io->regsel = (uint8_t)val;
		break;
	case IOAPIC_IOWIN:
		write_reg(io, io->regsel, val);
		break;
	case IOAPIC_EOI:
		eoi_locked(io, (uint8_t)val);
		break;
	}
}

uint64_t ioapic_mmio_read(struct ioapic *io, uint64_t offset, unsigned len)
{
	uint64_t v = 0;
	if (len > 8)
		len = 8;
	pthread_mutex_lock(&io->lock);
	io->st.nr_reads++;
	for (unsigned i = 0; i < len; i++) {
		uint64_t a = offset + i;
		v |= (uint64_t)(uint8_t)(dword_view(io, a & ~3ull) >> 8 * (a & 3)) << 8 * i;
	}
	pthread_mutex_unlock(&io->lock);
	return v;
}

void ioapic_mmio_write(struct ioapic *io, uint64_t offset, unsigned len, uint64_t val)
{
	pthread_mutex_lock(&io->lock);
	io->st.nr_writes++;
	if ((len == 4 || len == 8) && !(offset & 3)) {
		dword_write(io, offset, (uint32_t)val);
		if (len == 8)
			dword_write(io, offset + 4, (uint32_t)(val >> 32));
	} else if (offset == IOAPIC_IOREGSEL) {
		io->regsel = (uint8_t)val; /* the index register is a byte register */
	}
	pthread_mutex_unlock(&io->lock);
}

static void ioapic_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	bus_data_put(data, len, ioapic_mmio_read(opaque, offset, len));
}

static void ioapic_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	ioapic_mmio_write(opaque, offset, len, bus_data_get(data, len));
}

static const struct bus_ops ioapic_ops = {
	.read = ioapic_bus_read,
	.write = ioapic_bus_write,
};

int ioapic_register(struct ioapic *io, struct bus *bus, uint64_t gpa)
{
	return bus_register_mmio(bus, gpa, IOAPIC_MMIO_SIZE, &ioapic_ops, io, "ioapic", NULL);
}

void ioapic_get_stats(struct ioapic *io, struct ioapic_stats *st)
{
	pthread_mutex_lock(&io->lock);
	*st = io->st;
	pthread_mutex_unlock(&io->lock);
}

void ioapic_print_stats(struct ioapic *io, FILE *f)
{
	struct ioapic_stats st;
	ioapic_get_stats(io, &st);
	fprintf(f,
		"ioapic: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " EOIs, %" PRIu64
		" edges lost on masked pins; messages per pin:",
		st.nr_reads, st.nr_writes, st.nr_eois, st.nr_masked_edges);
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++)
		if (st.nr_delivered[i])
			fprintf(f, " %u:%" PRIu64, i, st.nr_delivered[i]);
	fputc('\n', f);
}
