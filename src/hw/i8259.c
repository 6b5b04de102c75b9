/* SPDX-License-Identifier: MIT */
/*
 * The cascaded 8259A pair and the ELCR (include/omnivisor/hw/i8259.h).
 *
 * Each chip keeps its input levels (lines) and, for edge-triggered inputs, the latched requests
 * (edges); the IRR is computed: latched edges of edge inputs, current levels of level inputs
 * (8259A "Edge and Level Triggered Modes"). Priorities are relative to prio_add, the level
 * after the lowest-priority one (0 after ICW1: IR0 highest, IR7 lowest). After every change the
 * slave's INT is fed to the master's IR2 and the master's INT to cfg.intr (update).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/i8259.h"

struct chip {
	uint8_t lines;	     /* input levels */
	uint8_t edges;	     /* latched rising edges (edge-triggered inputs) */
	uint8_t isr, imr, elcr, elcr_mask;
	uint8_t vector_base; /* ICW2 T7-T3 */
	uint8_t icw3;
	uint8_t prio_add;    /* the highest-priority IR is prio_add (lowest is prio_add - 1) */
	uint8_t init_step;   /* 0 ready; 2, 3, 4: the ICW expected next */
	bool icw4_needed, single, ltim;
	bool aeoi, sfnm, upm, rotate_aeoi;
	uint8_t buf_ms;	     /* ICW4 BUF, M/S: stored */
	bool special_mask, read_isr, poll;
};

struct i8259 {
	pthread_mutex_t lock;
	struct i8259_config cfg;
	struct chip chip[2]; /* 0 master, 1 slave */
	bool intr;
	struct i8259_stats st;
};

static uint8_t level_mask(const struct chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

static uint8_t irr(const struct chip *c)
{
	uint8_t lvl = level_mask(c);
	return (uint8_t)((c->edges & ~lvl) | (c->lines & lvl));
}

/* Priority rank (0 highest) of the best bit in @mask, 8 if none. */
static int rank(const struct chip *c, uint8_t mask)
{
	for (int p = 0; p < 8; p++)
		if (mask & 1u << ((p + c->prio_add) & 7))
			return p;
	return 8;
}

/* The IR the chip would interrupt for now, or -1 (8259A "Fully Nested Mode", "Special Mask
 * Mode", "Special Fully Nested Mode"). */
static int pending(const struct chip *c, bool master)
{
	int req, cur;
	uint8_t in = c->isr;
	if (c->init_step)
		return -1;
	req = rank(c, irr(c) & ~c->imr);
	if (req == 8)
		return -1;
	if (c->special_mask)
		in &= ~c->imr; /* masked in-service levels do not block others */
	if (master && c->sfnm)
		in &= ~(1u << I8259_CASCADE_IRQ); /* the slave may nest above its own in-service */
	cur = rank(c, in);
	return req < cur ? (req + c->prio_add) & 7 : -1;
}

static void set_input(struct i8259 *pic, struct chip *c, int ir, bool level)
{
	uint8_t m = (uint8_t)(1u << ir);
	if (level && !(c->lines & m)) {
		if (!(level_mask(c) & m))
			c->edges |= m;
		pic->st.nr_irqs[(c == &pic->chip[1]) * 8 + ir]++;
	}
	c->lines = level ? c->lines | m : c->lines & ~m;
}

static void update(struct i8259 *pic)
{
	struct chip *m = &pic->chip[0], *s = &pic->chip[1];
	set_input(pic, m, I8259_CASCADE_IRQ, pending(s, false) >= 0);
	bool intr = pending(m, true) >= 0;
	if (intr != pic->intr) {
		pic->intr = intr;
		if (intr)
			pic->st.nr_intr++;
		irq_set(&pic->cfg.intr, intr);
	}
}

/* A request is acknowledged (INTA or poll): ISR bit set (or AEOI), edge request consumed. */
static void chip_ack(struct chip *c, int ir)
{
	uint8_t m = (uint8_t)(1u << ir);
	c->edges &= ~m;
	if (c->aeoi) {
		if (c->rotate_aeoi)
			c->prio_add = (uint8_t)((ir + 1) & 7);
	} else {
		c->isr |= m;
	}
}

static void chip_reset(struct chip *c)
{
	/* 8259A "Initialization Command Words": ICW1 clears the IMR and the edge sense latches,
	 * gives IR7 the lowest priority, clears special mask mode, selects IRR reads */
	c->edges = 0;
	c->isr = 0;
	c->imr = 0;
	c->prio_add = 0;
	c->special_mask = false;
	c->read_isr = false;
	c->poll = false;
	c->rotate_aeoi = false;
}

struct i8259 *i8259_create(const struct i8259_config *cfg)
{
	struct i8259 *pic = calloc(1, sizeof(*pic));
	if (!pic) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&pic->lock, NULL);
	pic->cfg = *cfg;
	for (int i = 0; i < 2; i++) {
		chip_reset(&pic->chip[i]);
		pic->chip[i].icw4_needed = true;
		pic->chip[i].upm = true;
	}
	/* PIIX3 4.1.11 ELCR: IRQ 0, 1, 2 and 8, 13 must be edge triggered (read-only 0) */
	pic->chip[0].elcr_mask = 0xf8;
	pic->chip[1].elcr_mask = 0xde;
	pic->chip[1].vector_base = 8; /* distinct vectors even before initialization */
	return pic;
}

void i8259_destroy(struct i8259 *pic)
{
	if (!pic)
		return;
	pthread_mutex_destroy(&pic->lock);
	free(pic);
}

void i8259_set_irq(void *opaque, int irq, int level)
{
	struct i8259 *pic = opaque;
	if (irq < 0 || irq >= I8259_NR_IRQS || irq == I8259_CASCADE_IRQ)
		return;
	pthread_mutex_lock(&pic->lock);
	set_input(pic, &pic->chip[irq >> 3], irq & 7, level != 0);
	update(pic);
	pthread_mutex_unlock(&pic->lock);
}

uint8_t i8259_ack(struct i8259 *pic)
{
	struct chip *m = &pic->chip[0], *s = &pic->chip[1];
	uint8_t vector;
	pthread_mutex_lock(&pic->lock);
	pic->st.nr_acks++;
	int ir = pending(m, true);
	if (ir < 0) {
		/* no request (it went away): the 8259A answers with IR7, ISR untouched */
		vector = (uint8_t)(m->vector_base + 7);
		pic->st.nr_spurious++;
	} else {
		chip_ack(m, ir);
		if (ir == I8259_CASCADE_IRQ && !m->single) {
			int sir = pending(s, false);
			if (sir < 0) {
				vector = (uint8_t)(s->vector_base + 7); /* spurious IRQ 15 */
				pic->st.nr_spurious++;
			} else {
				chip_ack(s, sir);
				vector = (uint8_t)(s->vector_base + sir);
			}
			/* the slave's INT goes inactive during INTA; update raises it again if the
			 * slave still has a request, which the master latches as a new edge */
			set_input(pic, m, I8259_CASCADE_IRQ, false);
		} else {
			vector = (uint8_t)(m->vector_base + ir);
		}
	}
	update(pic);
	pthread_mutex_unlock(&pic->lock);
	return vector;
}

bool i8259_intr(struct i8259 *pic)
{
	pthread_mutex_lock(&pic->lock);
	bool v = pic->intr;
	pthread_mutex_unlock(&pic->lock);
	return v;
}

/* ---- registers ---- */

static uint8_t poll_read(struct i8259 *pic, struct chip *c)
{
	/* 8259A "The Poll Command": I (bit 7) and the highest-priority level W2-W0, acknowledged
	 * as by INTA */
	int ir = pending(c, c == &pic->chip[0]);
	c->poll = false;
	if (ir < 0)
		return 0;
	chip_ack(c, ir);
	if (c == &pic->chip[1])
		set_input(pic, &pic->chip[0], I8259_CASCADE_IRQ, false);
	return (uint8_t)(0x80 | ir);
}

static void write_ocw2(struct chip *c, uint8_t val)
{
	int level = val & 7, ir;
	switch (val >> 5) {
	case 0: /* rotate in automatic EOI mode (clear) */
		c->rotate_aeoi = false;
		break;
	case 4: /* rotate in automatic EOI mode (set) */
		c->rotate_aeoi = true;
		break;
	case 1: /* non-specific EOI: the highest-priority ISR bit */
	case 5: /* rotate on non-specific EOI */
		ir = rank(c, c->isr);
		if (ir == 8)
			break;
		ir = (ir + c->prio_add) & 7;
		c->isr &= (uint8_t)~(1u << ir);
		if (val >> 5 == 5)
			c->prio_add = (uint8_t)((ir + 1) & 7);
		break;
	case 3: /* specific EOI */
		c->isr &= (uint8_t)~(1u << level);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= (uint8_t)~(1u << level);
		c->prio_add = (uint8_t)((level + 1) & 7);
		break;
	case 6: /* set priority: @level becomes the lowest */
		c->prio_add = (uint8_t)((level + 1) & 7);
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_write(struct chip *c, bool a0, uint8_t val)
{
	if (!a0) {
		if (val & 0x10) { /* ICW1 */
			chip_reset(c);
			c->ltim = val & 0x08;
			c->single = val & 0x02;
			c->icw4_needed = val & 0x01;
			if (!c->icw4_needed) { /* "no ICW4 needed": ICW4 functions are all 0 */
				c->aeoi = false;
				c->sfnm = false;
				c->upm = false;
				c->buf_ms = 0;
			}
			c->init_step = 2;
		} else if (val & 0x08) { /* OCW3 */
			if (val & 0x04)
				c->poll = true;
			if (val & 0x02)
				c->read_isr = val & 0x01;
			if (val & 0x40)
				c->special_mask = val & 0x20;
		} else { /* OCW2 */
			write_ocw2(c, val);
		}
		return;
	}
	switch (c->init_step) {
	case 2: /* ICW2: T7-T3 of the vector (8086 mode) */
		c->vector_base = val & 0xf8;
		c->init_step = c->single ? (c->icw4_needed ? 4 : 0) : 3;
		break;
	case 3: /* ICW3: slave bitmap (master) or slave ID (slave); the cascade is fixed at IR2 */
		c->icw3 = val;
		c->init_step = c->icw4_needed ? 4 : 0;
		break;
	case 4: /* ICW4: SFNM, BUF, M/S, AEOI, µPM */
		c->upm = val & 0x01;
		c->aeoi = val & 0x02;
		c->buf_ms = val >> 2 & 3;
		c->sfnm = val & 0x10;
		c->init_step = 0;
		break;
	default: /* OCW1 */
		c->imr = val;
		break;
	}
}

uint8_t i8259_io_read(struct i8259 *pic, uint16_t port)
{
	uint8_t v = 0xff;
	pthread_mutex_lock(&pic->lock);
	pic->st.nr_reads++;
	switch (port) {
	case I8259_MASTER_BASE:
	case I8259_MASTER_BASE + 1:
	case I8259_SLAVE_BASE:
	case I8259_SLAVE_BASE + 1: {
		struct chip *c = &pic->chip[port >= I8259_SLAVE_BASE];
		if (c->poll)
			v = poll_read(pic, c);
		else if (port & 1)
			v = c->imr;
		else
			v = c->read_isr ? c->isr : irr(c);
		update(pic);
		break;
	}
	case I8259_ELCR_BASE:
	case I8259_ELCR_BASE + 1:
		v = pic->chip[port - I8259_ELCR_BASE].elcr;
		break;
	}
	pthread_mutex_unlock(&pic->lock);
	return v;
}

void i8259_io_write(struct i8259 *pic, uint16_t port, uint8_t val)
{
	pthread_mutex_lock(&pic->lock);
	pic->st.nr_writes++;
	switch (port) {
	case I8259_MASTER_BASE:
	case I8259_MASTER_BASE + 1:
	case I8259_SLAVE_BASE:
	case I8259_SLAVE_BASE + 1:
		chip_write(&pic->chip[port >= I8259_SLAVE_BASE], port & 1, val);
		update(pic);
		break;
	case I8259_ELCR_BASE:
	case I8259_ELCR_BASE + 1: {
		struct chip *c = &pic->chip[port - I8259_ELCR_BASE];
		c->elcr = val & c->elcr_mask;
		c->edges &= (uint8_t)~c->elcr;
		update(pic);
		break;
	}
	}
	pthread_mutex_unlock(&pic->lock);
}

void i8259_get_regs(struct i8259 *pic, int chip, struct i8259_regs *r)
{
	pthread_mutex_lock(&pic->lock);
	const struct chip *c = &pic->chip[chip ? 1 : 0];
	*r = (struct i8259_regs){
		.irr = irr(c),
		.isr = c->isr,
		.imr = c->imr,
		.elcr = c->elcr,
		.vector_base = c->vector_base,
		.lowest_prio = (uint8_t)((c->prio_add + 7) & 7),
		.aeoi = c->aeoi,
		.sfnm = c->sfnm,
		.special_mask = c->special_mask,
		.level_mode = c->ltim,
		.initializing = c->init_step != 0,
	};
	pthread_mutex_unlock(&pic->lock);
}

/* ---- bus ---- */

static void pic_bus_read(struct i8259 *pic, uint16_t base, uint64_t offset, void *data,
			 unsigned len)
{
	uint8_t *p = data;
	for (unsigned i = 0; i < len; i++)
		p[i] = offset + i < 2 ? i8259_io_read(pic, (uint16_t)(base + offset + i)) : 0xff;
}

static void pic_bus_write(struct i8259 *pic, uint16_t base, uint64_t offset, const void *data,
			  unsigned len)
{
	const uint8_t *p = data;
	for (unsigned i = 0; i < len; i++)
		if (offset + i < 2)
			i8259_io_write(pic, (uint16_t)(base + offset + i), p[i]);
}

#define PORT_OPS(name, base)                                                                    \
	static void name##_read(void *o, uint64_t off, void *d, unsigned len)                   \
	{                                                                                       \
		pic_bus_read(o, base, off, d, len);                                             \
	}                                                                                       \
	static void name##_write(void *o, uint64_t off, const void *d, unsigned len)            \
	{                                                                                       \
		pic_bus_write(o, base, off, d, len);                                            \
	}                                                                                       \
	static const struct bus_ops name##_ops = { .read = name##_read, .write = name##_write };

PORT_OPS(master, I8259_MASTER_BASE)
PORT_OPS(slave, I8259_SLAVE_BASE)
PORT_OPS(elcr, I8259_ELCR_BASE)

int i8259_register(struct i8259 *pic, struct bus *bus)
{
	struct bus_dev *m, *s;
	int ret = bus_register_pio(bus, I8259_MASTER_BASE, 2, &master_ops, pic, "pic-master", &m);
	if (ret)
		return ret;
	ret = bus_register_pio(bus, I8259_SLAVE_BASE, 2, &slave_ops, pic, "pic-slave", &s);
	if (ret)
		goto err_m;
	ret = bus_register_pio(bus, I8259_ELCR_BASE, 2, &elcr_ops, pic, "elcr", NULL);
	if (ret)
		goto err_s;
	return 0;
err_s:
	bus_unregister(bus, s);
err_m:
	bus_unregister(bus, m);
	return ret;
}

void i8259_get_stats(struct i8259 *pic, struct i8259_stats *st)
{
	pthread_mutex_lock(&pic->lock);
	*st = pic->st;
	pthread_mutex_unlock(&pic->lock);
}

void i8259_print_stats(struct i8259 *pic, FILE *f)
{
	struct i8259_stats st;
	i8259_get_stats(pic, &st);
	fprintf(f,
		"i8259: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " INTR raised, %" PRIu64
		" INTA (%" PRIu64 " spurious); requests per IRQ:",
		st.nr_reads, st.nr_writes, st.nr_intr, st.nr_acks, st.nr_spurious);
	for (int i = 0; i < I8259_NR_IRQS; i++)
		if (st.nr_irqs[i])
			fprintf(f, " %d:%" PRIu64, i, st.nr_irqs[i]);
	fputc('\n', f);
}
