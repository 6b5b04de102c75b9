/* SPDX-License-Identifier: MIT */
/*
 * 8254 programmable interval timer and PC port 0x61 (include/omnivisor/hw/i8254.h).
 *
 * Model. Nothing ticks: time is the CLK pulse number, tick(t_ns) = floor(t_ns * HZ / 1e9).
 * While a counter runs, its counting element (CE) follows a "segment": from pulse seg.base on
 * it counts down from seg.n, so its value and OUT at pulse t are closed-form functions of
 * t - seg.base and the mode (seg_value, seg_out). Anything that changes a counter (a count
 * written, GATE, a control word) ends the segment at the current pulse: the value and OUT it had
 * then are kept in pre_raw / pre_out (used until the next segment's base pulse, or while the
 * counter is stopped) and a new segment starts. A count written in mode 2 or 3 while counting
 * takes effect at the end of the current period / half-period: it waits as a pending segment
 * (pseg) that becomes the segment when its base pulse has passed (update).
 *
 * IRQ0: OUT0's rising edges are found in closed form too (ch_next_rise); sync_irq delivers the
 * edges since the previous call and mirrors OUT0's level, and rearm asks for a callback at the
 * next rising edge.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/i8254.h"

#define NONE UINT64_MAX /* no such pulse */

struct seg {
	uint64_t base;	   /* pulse at which the CE holds n */
	uint32_t n;	   /* initial count, 1..65536 (binary) or 1..10000 (BCD; more if not BCD) */
	uint64_t counted0; /* modes 0 and 4: pulses counted before base (GATE pauses) */
	bool counting;	   /* modes 0 and 4: GATE high (the other modes always count) */
	bool phase_low;	   /* mode 3: the segment starts with the low half-period */
};

struct counter {
	uint8_t mode;	   /* 0..5 (codes 6, 7 folded into 2, 3) */
	uint8_t mode_bits; /* M2..M0 as written, for the status byte */
	uint8_t rw;	   /* 1 LSB, 2 MSB, 3 LSB then MSB */
	bool bcd;
	uint16_t cr;	   /* count register as written */
	bool cr_valid;	   /* a whole count was written since the control word */
	bool write_msb;	   /* rw 3: the next byte written is the MSB */
	bool read_msb;	   /* rw 3: the next unlatched byte read is the MSB */
	bool count_latched, latch_msb;
	uint16_t latch;	   /* output latch, as read (BCD-encoded in BCD mode) */
	bool status_latched;
	uint8_t status;
	bool gate;
	bool run; /* the CE follows seg (else it holds pre_raw, OUT = pre_out) */
	struct seg seg;
	bool pend;
	struct seg pseg; /* mode 2/3 count waiting for the end of the (half-)period */
	uint16_t pre_raw; /* CE value (as read) before seg.base or while stopped */
	bool pre_out;
	uint64_t null_until; /* NULL COUNT is 1 at pulses < null_until */
};

struct i8254 {
	pthread_mutex_t lock;
	struct i8254_config cfg;
	struct counter ch[3];
	uint8_t port_b;		/* bits 0-3 as written */
	uint64_t last_tick;	/* latest pulse seen (time never goes back) */
	uint64_t sync_tick;	/* IRQ0 edges up to this pulse are delivered */
	int irq_level;		/* level last given to cfg.irq0 */
	uint64_t armed_ns;	/* deadline last given to cfg.arm */
	struct i8254_stats st;
};

/* ---- time ---- */

static uint64_t tick_of(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * I8254_HZ / 1000000000u);
}

/* The first nanosecond of pulse @k. */
static uint64_t ns_of_tick(uint64_t k)
{
	unsigned __int128 ns = ((unsigned __int128)k * 1000000000u + I8254_HZ - 1) / I8254_HZ;
	return ns >= UINT64_MAX ? UINT64_MAX - 1 : (uint64_t)ns;
}

/* ---- counting element ---- */

static uint32_t modulus(const struct counter *c)
{
	return c->bcd ? 10000u : 65536u;
}

static uint32_t bcd_to_bin(uint16_t v)
{
	/* digits above 9 (not BCD) count with their binary weight: never crash, stay finite */
	return (v >> 12 & 15) * 1000u + (v >> 8 & 15) * 100u + (v >> 4 & 15) * 10u + (v & 15);
}

static uint16_t bin_to_bcd(uint32_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 |
			  (v % 10));
}

/* Initial count of the CR: 0 is the largest count, 2^16 binary or 10^4 BCD (82C54 "Modes"). */
static uint32_t effective_count(const struct counter *c)
{
	uint32_t n = c->bcd ? bcd_to_bin(c->cr) : c->cr;
	return n ? n : modulus(c);
}

static uint16_t encode(const struct counter *c, uint32_t v)
{
	v %= modulus(c);
	return c->bcd ? bin_to_bcd(v) : (uint16_t)v;
}

static uint64_t counted(const struct counter *c, const struct seg *s, uint64_t t)
{
	switch (c->mode) {
	case 0:
	case 4:
		return s->counted0 + (s->counting ? t - s->base : 0);
	default: /* 1, 5: the one-shot counts regardless of GATE */
		return t - s->base;
	}
}

/* Binary CE value at pulse @t >= s->base (before reduction modulo 2^16 / 10^4). */
static uint32_t seg_value(const struct counter *c, const struct seg *s, uint64_t t)
{
	uint64_t k = t - s->base, m = modulus(c), n = s->n;
	switch (c->mode) {
	case 2: /* N, N-1, ..., 1, N, ... (82C54 mode 2) */
		return (uint32_t)(n - k % n);
	case 3: { /* by twos; odd N: N, N-1, N-3, ..., 2 high; N, N-3, ..., 2 low (mode 3) */
		uint64_t hl = (n + 1) / 2, p = (k + (s->phase_low ? hl : 0)) % n, q;
		bool odd = n & 1;
		if (p < hl) {
			q = p;
			return (uint32_t)(!odd ? n - 2 * q : q == 0 ? n : n + 1 - 2 * q);
		}
		q = p - hl;
		return (uint32_t)(!odd ? n - 2 * q : q == 0 ? n : n - 1 - 2 * q);
	}
	default: /* 0, 1, 4, 5: down by one, wrapping after terminal count */
		return (uint32_t)((n % m + m - counted(c, s, t) % m) % m);
	}
}

static bool seg_out(const struct counter *c, const struct seg *s, uint64_t t)
{
	uint64_t k = t - s->base, n = s->n;
	switch (c->mode) {
	case 0: /* low until terminal count, then high (mode 0) */
	case 1: /* low from the trigger's load until terminal count (mode 1) */
		return counted(c, s, t) >= n;
	case 2: /* low for the one pulse when the count is 1 (mode 2) */
		return k % n != n - 1;
	case 3: /* high for ceil(N/2), low for floor(N/2) (mode 3) */
		return (k + (s->phase_low ? (n + 1) / 2 : 0)) % n < (n + 1) / 2;
	default: /* 4, 5: low for the one pulse at terminal count */
		return counted(c, s, t) != n;
	}
}

/* First pulse t > max(@after, s->base) with a rising edge inside segment @s, or NONE. */
static uint64_t seg_interior_rise(const struct counter *c, const struct seg *s, uint64_t after)
{
	uint64_t m = after > s->base ? after : s->base, km = m - s->base, n = s->n, t;
	switch (c->mode) {
	case 0:
		if (!s->counting || s->counted0 >= n)
			return NONE;
		t = s->base + (n - s->counted0);
		break;
	case 1:
		t = s->base + n;
		break;
	case 4:
		if (!s->counting || s->counted0 > n)
			return NONE;
		t = s->base + (n + 1 - s->counted0);
		break;
	case 5:
		t = s->base + n + 1;
		break;
	case 2:
		if (n < 2)
			return NONE;
		t = s->base + (km / n + 1) * n;
		break;
	default: /* 3: the low -> high boundaries */
		if (n < 2)
			return NONE;
		t = s->base + km + n - (km + (s->phase_low ? (n + 1) / 2 : 0)) % n;
		break;
	}
	return t > m ? t : NONE;
}

static uint16_t ch_raw(const struct counter *c, uint64_t t)
{
	if (c->run && c->pend && t >= c->pseg.base)
		return encode(c, seg_value(c, &c->pseg, t));
	if (!c->run || t < c->seg.base)
		return c->pre_raw;
	return encode(c, seg_value(c, &c->seg, t));
}

static bool ch_out(const struct counter *c, uint64_t t)
{
	if (c->run && c->pend && t >= c->pseg.base)
		return seg_out(c, &c->pseg, t);
	if (!c->run || t < c->seg.base)
		return c->pre_out;
	return seg_out(c, &c->seg, t);
}

/* First pulse > @after at which OUT goes from low to high, or NONE. */
static uint64_t ch_next_rise(const struct counter *c, uint64_t after)
{
	uint64_t r, limit;
	if (!c->run)
		return NONE;
	limit = c->pend ? c->pseg.base : NONE;
	if (after < c->seg.base && !c->pre_out && seg_out(c, &c->seg, c->seg.base))
		r = c->seg.base;
	else
		r = seg_interior_rise(c, &c->seg, after);
	if (r < limit)
		return r;
	if (!c->pend)
		return NONE;
	if (after < c->pseg.base && !seg_out(c, &c->seg, c->pseg.base - 1) &&
	    seg_out(c, &c->pseg, c->pseg.base))
		return c->pseg.base;
	return seg_interior_rise(c, &c->pseg, after);
}

/* Make a pending segment whose base pulse has come the current one. */
static void update(struct counter *c, uint64_t t)
{
	if (c->run && c->pend && t >= c->pseg.base) {
		c->pre_raw = encode(c, seg_value(c, &c->seg, c->pseg.base - 1));
		c->pre_out = seg_out(c, &c->seg, c->pseg.base - 1);
		c->seg = c->pseg;
		c->pend = false;
	}
}

/* Stop following the segment: the CE keeps its value and OUT of pulse @t. */
static void freeze(struct counter *c, uint64_t t)
{
	c->pre_raw = ch_raw(c, t);
	c->pre_out = ch_out(c, t);
	c->run = false;
	c->pend = false;
}

/* Start a segment of count @n whose first pulse is @base (the CE is loaded then). */
static void start(struct counter *c, uint64_t base, uint32_t n, bool phase_low)
{
	c->seg = (struct seg){ .base = base, .n = n, .counting = true, .phase_low = phase_low };
	if (c->mode == 0 || c->mode == 4)
		c->seg.counting = c->gate;
	c->run = true;
	c->pend = false;
}

static uint8_t status_byte(const struct counter *c, uint64_t t)
{
	/* 82C54 "Read-Back Command", status byte: OUT, NULL COUNT, RW1 RW0, M2 M1 M0, BCD */
	return (uint8_t)(ch_out(c, t) << 7 | (t < c->null_until) << 6 | c->rw << 4 |
			 c->mode_bits << 1 | c->bcd);
}

/* ---- counter operations at pulse @t ---- */

static void latch_count(struct counter *c, uint64_t t)
{
	/* a second latch before the first is read is ignored (82C54 "Counter Latch Command") */
	if (c->count_latched)
		return;
	c->latch = ch_raw(c, t);
	c->count_latched = true;
	c->latch_msb = false;
}

static void latch_status(struct counter *c, uint64_t t)
{
	if (c->status_latched)
		return;
	c->status = status_byte(c, t);
	c->status_latched = true;
}

static void control_word(struct counter *c, uint8_t val, uint64_t t)
{
	uint8_t rw = val >> 4 & 3;
	if (rw == 0) {
		latch_count(c, t);
		return;
	}
	/* 82C54 "Write Operations": a control word resets the counter's control logic; OUT goes
	 * to its initial state (low in mode 0, high otherwise) and the counter waits for a count */
	freeze(c, t);
	c->rw = rw;
	c->mode_bits = val >> 1 & 7;
	c->mode = c->mode_bits >= 6 ? c->mode_bits - 4 : c->mode_bits;
	c->bcd = val & 1;
	c->pre_out = c->mode != 0;
	c->cr_valid = false;
	c->write_msb = false;
	c->read_msb = false;
	c->count_latched = false;
	c->status_latched = false;
	c->null_until = NONE;
}

/* A whole count is in the CR: load it as the mode says (82C54 "Modes", "new count" rules). */
static void load_count(struct counter *c, uint64_t t)
{
	uint32_t n = effective_count(c);
	c->cr_valid = true;
	switch (c->mode) {
	case 0:
	case 4:
		/* loaded on the next CLK pulse; counting (re)starts from the new count */
		freeze(c, t);
		if (c->mode == 0)
			c->pre_out = false;
		start(c, t + 1, n, false);
		c->null_until = t + 1;
		break;
	case 1:
	case 5:
		/* waits for a GATE trigger; the running one-shot is not affected */
		c->null_until = NONE;
		break;
	default: /* 2, 3 */
		if (c->run && t >= c->seg.base) {
			/* the current period (mode 2) or half-period (mode 3) ends first */
			uint64_t n0 = c->seg.n, k = t - c->seg.base, end;
			bool low = false;
			if (c->pend) {
				c->pseg.n = n;
				break;
			}
			if (c->mode == 2) {
				end = c->seg.base + (k / n0 + 1) * n0;
			} else {
				uint64_t hl = (n0 + 1) / 2, p = (k + (c->seg.phase_low ? hl : 0)) % n0;
				low = p < hl;
				end = t + (p < hl ? hl - p : n0 - p);
			}
			c->pseg = (struct seg){ .base = end, .n = n, .counting = true, .phase_low = low };
			c->pend = true;
			c->null_until = end;
		} else if (c->run) {
			c->seg.n = n; /* a second count before the first was loaded */
		} else if (c->gate) {
			freeze(c, t);
			c->pre_out = true;
			start(c, t + 1, n, false);
			c->null_until = t + 1;
		} else {
			/* loaded on the next pulse but held: GATE low stops counting, OUT high */
			c->pre_raw = encode(c, n);
			c->pre_out = true;
			c->null_until = t + 1;
		}
		break;
	}
}

static void write_count(struct counter *c, uint8_t val, uint64_t t)
{
	switch (c->rw) {
	case 1: /* LSB only: MSB is 0 */
		c->cr = val;
		break;
	case 2:
		c->cr = (uint16_t)(val << 8);
		break;
	default:
		if (!c->write_msb) {
			c->cr = (uint16_t)((c->cr & 0xff00) | val);
			c->write_msb = true;
			/* mode 0: writing the first byte stops counting and sets OUT low at once */
			if (c->mode == 0) {
				freeze(c, t);
				c->pre_out = false;
			}
			return;
		}
		c->cr = (uint16_t)((c->cr & 0x00ff) | val << 8);
		c->write_msb = false;
		break;
	}
	load_count(c, t);
}

static uint8_t read_count(struct counter *c, uint64_t t)
{
	uint16_t v;
	bool msb;
	if (c->status_latched) { /* the status comes first if both are latched */
		c->status_latched = false;
		return c->status;
	}
	if (c->count_latched) {
		v = c->latch;
		if (c->rw == 3 && !c->latch_msb) {
			c->latch_msb = true;
			return v & 0xff;
		}
		c->count_latched = false;
		c->latch_msb = false;
		return c->rw == 2 || c->rw == 3 ? v >> 8 : v & 0xff;
	}
	v = ch_raw(c, t);
	if (c->rw == 3) {
		msb = c->read_msb;
		c->read_msb = !msb;
	} else {
		msb = c->rw == 2;
	}
	return msb ? v >> 8 : v & 0xff;
}

static void set_gate(struct counter *c, bool level, uint64_t t)
{
	if (level == c->gate)
		return;
	c->gate = level;
	switch (c->mode) {
	case 0:
	case 4: /* GATE 1 enables counting, 0 disables it; OUT is not affected */
		if (!c->run) {
			break;
		} else if (t < c->seg.base) {
			c->seg.counting = level;
		} else {
			bool out = seg_out(c, &c->seg, t);
			c->seg.counted0 = counted(c, &c->seg, t);
			c->seg.base = t;
			c->seg.counting = level;
			c->pre_out = out;
			c->pre_raw = encode(c, seg_value(c, &c->seg, t));
		}
		break;
	case 1:
	case 5: /* a rising edge (re)triggers: the CR is loaded on the next pulse */
		if (level && c->cr_valid) {
			freeze(c, t);
			start(c, t + 1, effective_count(c), false);
			if (c->null_until > t + 1)
				c->null_until = t + 1;
		}
		break;
	default: /* 2, 3: low stops counting and sets OUT high; a rising edge reloads */
		if (!level) {
			if (c->run) {
				freeze(c, t);
				c->pre_out = true;
			}
		} else if (c->cr_valid) {
			freeze(c, t);
			c->pre_out = true;
			start(c, t + 1, effective_count(c), false);
			if (c->null_until > t + 1)
				c->null_until = t + 1;
		}
		break;
	}
}

/* ---- device entry points: begin / end around every state change ---- */

static void sync_irq(struct i8254 *pit, uint64_t t)
{
	const struct counter *c = &pit->ch[0];
	bool edge = false, level;
	if (t > pit->sync_tick) {
		uint64_t r = ch_next_rise(c, pit->sync_tick);
		if (r <= t) {
			edge = true;
			if (ch_next_rise(c, r) <= t)
				pit->st.nr_late++;
		}
	}
	level = ch_out(c, t);
	if (edge) {
		if (pit->irq_level)
			irq_lower(&pit->cfg.irq0);
		irq_raise(&pit->cfg.irq0);
		pit->irq_level = 1;
		pit->st.nr_irqs++;
	}
	if (level != pit->irq_level) {
		irq_set(&pit->cfg.irq0, level);
		pit->irq_level = level;
		if (level)
			pit->st.nr_irqs++;
	}
	pit->sync_tick = t;
}

static uint64_t begin(struct i8254 *pit, uint64_t now_ns)
{
	uint64_t t = tick_of(now_ns);
	if (t < pit->last_tick)
		t = pit->last_tick;
	pit->last_tick = t;
	sync_irq(pit, t);
	for (int i = 0; i < 3; i++)
		update(&pit->ch[i], t);
	return t;
}

static void end(struct i8254 *pit, uint64_t t)
{
	uint64_t r, deadline;
	sync_irq(pit, t);
	r = ch_next_rise(&pit->ch[0], t);
	deadline = r == NONE ? UINT64_MAX : ns_of_tick(r);
	if (deadline != pit->armed_ns && pit->cfg.arm) {
		pit->armed_ns = deadline;
		pit->cfg.arm(pit->cfg.arm_opaque, deadline);
	}
}

struct i8254 *i8254_create(const struct i8254_config *cfg)
{
	struct i8254 *pit = calloc(1, sizeof(*pit));
	if (!pit) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&pit->lock, NULL);
	pit->cfg = *cfg;
	for (int i = 0; i < 3; i++) {
		struct counter *c = &pit->ch[i];
		c->rw = 3;
		c->gate = i != 2; /* GATE0/1 tied high; GATE2 from port 0x61 bit 0 (0 at reset) */
		c->null_until = NONE;
	}
	pit->armed_ns = UINT64_MAX;
	return pit;
}

void i8254_destroy(struct i8254 *pit)
{
	if (!pit)
		return;
	pthread_mutex_destroy(&pit->lock);
	free(pit);
}

uint8_t i8254_io_read(struct i8254 *pit, unsigned offset, uint64_t now_ns)
{
	uint8_t v = 0xff;
	pthread_mutex_lock(&pit->lock);
	uint64_t t = begin(pit, now_ns);
	pit->st.nr_reads++;
	if (offset < 3)
		v = read_count(&pit->ch[offset], t);
	/* offset 3: the control word register cannot be read (82C54 Table 1: "no operation") */
	end(pit, t);
	pthread_mutex_unlock(&pit->lock);
	return v;
}

void i8254_io_write(struct i8254 *pit, unsigned offset, uint8_t val, uint64_t now_ns)
{
	pthread_mutex_lock(&pit->lock);
	uint64_t t = begin(pit, now_ns);
	pit->st.nr_writes++;
	if (offset < 3) {
		write_count(&pit->ch[offset], val, t);
	} else if (offset == 3) {
		if ((val >> 6) == 3) {
			/* read-back: D5 = 0 latch count, D4 = 0 latch status, D3..D1 counters 2..0 */
			for (int i = 0; i < 3; i++) {
				if (!(val & 2 << i))
					continue;
				if (!(val & 0x20))
					latch_count(&pit->ch[i], t);
				if (!(val & 0x10))
					latch_status(&pit->ch[i], t);
			}
		} else {
			control_word(&pit->ch[val >> 6], val, t);
		}
	}
	end(pit, t);
	pthread_mutex_unlock(&pit->lock);
}

uint8_t i8254_port_b_read(struct i8254 *pit, uint64_t now_ns)
{
	pthread_mutex_lock(&pit->lock);
	uint64_t t = begin(pit, now_ns);
	pit->st.nr_reads++;
	uint8_t v = (uint8_t)((pit->port_b & 0x0f) | ((now_ns / I8254_REFRESH_NS) & 1) << 4 |
			      ch_out(&pit->ch[2], t) << 5);
	end(pit, t);
	pthread_mutex_unlock(&pit->lock);
	return v;
}

void i8254_port_b_write(struct i8254 *pit, uint8_t val, uint64_t now_ns)
{
	pthread_mutex_lock(&pit->lock);
	uint64_t t = begin(pit, now_ns);
	pit->st.nr_writes++;
	pit->port_b = val & 0x0f;
	set_gate(&pit->ch[2], val & 1, t);
	end(pit, t);
	pthread_mutex_unlock(&pit->lock);
}

int i8254_set_gate(struct i8254 *pit, unsigned ch, bool level, uint64_t now_ns)
{
	if (ch > 2)
		return -EINVAL;
	pthread_mutex_lock(&pit->lock);
	uint64_t t = begin(pit, now_ns);
	set_gate(&pit->ch[ch], level, t);
	if (ch == 2)
		pit->port_b = (uint8_t)((pit->port_b & ~1u) | level);
	end(pit, t);
	pthread_mutex_unlock(&pit->lock);
	return 0;
}

uint16_t i8254_get_count(struct i8254 *pit, unsigned ch, uint64_t now_ns)
{
	uint16_t v = 0;
	if (ch > 2)
		return 0;
	pthread_mutex_lock(&pit->lock);
	uint64_t t = tick_of(now_ns);
	if (t < pit->last_tick)
		t = pit->last_tick;
	v = ch_raw(&pit->ch[ch], t);
	pthread_mutex_unlock(&pit->lock);
	return v;
}

bool i8254_get_out(struct i8254 *pit, unsigned ch, uint64_t now_ns)
{
	bool out;
	if (ch > 2)
		return false;
	pthread_mutex_lock(&pit->lock);
	uint64_t t = tick_of(now_ns);
	if (t < pit->last_tick)
		t = pit->last_tick;
	out = ch_out(&pit->ch[ch], t);
	pthread_mutex_unlock(&pit->lock);
	return out;
}

uint64_t i8254_next_irq_ns(struct i8254 *pit, uint64_t now_ns)
{
	pthread_mutex_lock(&pit->lock);
	uint64_t t = tick_of(now_ns);
	if (t < pit->last_tick)
		t = pit->last_tick;
	uint64_t r = ch_next_rise(&pit->ch[0], t);
	pthread_mutex_unlock(&pit->lock);
	return r == NONE ? UINT64_MAX : ns_of_tick(r);
}

void i8254_timer(struct i8254 *pit, uint64_t now_ns)
{
	pthread_mutex_lock(&pit->lock);
	pit->st.nr_timer_calls++;
	pit->armed_ns = UINT64_MAX; /* the host timer is idle once it has fired */
	uint64_t t = begin(pit, now_ns);
	end(pit, t);
	pthread_mutex_unlock(&pit->lock);
}

/* ---- bus ---- */

static uint64_t bus_now(struct i8254 *pit)
{
	return pit->cfg.clock_ns ? pit->cfg.clock_ns(pit->cfg.clock_opaque) : 0;
}

static void pit_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct i8254 *pit = opaque;
	uint8_t *p = data;
	uint64_t now = bus_now(pit);
	for (unsigned i = 0; i < len; i++)
		p[i] = i8254_io_read(pit, (unsigned)offset + i, now);
}

static void pit_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct i8254 *pit = opaque;
	const uint8_t *p = data;
	uint64_t now = bus_now(pit);
	for (unsigned i = 0; i < len; i++)
		i8254_io_write(pit, (unsigned)offset + i, p[i], now);
}

static void port_b_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct i8254 *pit = opaque;
	(void)offset;
	memset(data, i8254_port_b_read(pit, bus_now(pit)), len);
}

static void port_b_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct i8254 *pit = opaque;
	(void)offset;
	/* registered as one port: len is 1 (the bus splits longer accesses byte by byte) */
	i8254_port_b_write(pit, ((const uint8_t *)data)[len - 1], bus_now(pit));
}

static const struct bus_ops i8254_ops = {
	.read = pit_bus_read,
	.write = pit_bus_write,
};

static const struct bus_ops port_b_ops = {
	.read = port_b_bus_read,
	.write = port_b_bus_write,
};

int i8254_register(struct i8254 *pit, struct bus *bus)
{
	struct bus_dev *dev;
	int ret = bus_register_pio(bus, I8254_BASE, 4, &i8254_ops, pit, "i8254", &dev);
	if (ret)
		return ret;
	ret = bus_register_pio(bus, I8254_PORT_B, 1, &port_b_ops, pit, "port61", NULL);
	if (ret)
		bus_unregister(bus, dev);
	return ret;
}

void i8254_get_stats(struct i8254 *pit, struct i8254_stats *st)
{
	pthread_mutex_lock(&pit->lock);
	*st = pit->st;
	pthread_mutex_unlock(&pit->lock);
}

void i8254_print_stats(struct i8254 *pit, FILE *f)
{
	struct i8254_stats st;
	i8254_get_stats(pit, &st);
	fprintf(f,
		"i8254: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " IRQ0 edges (%" PRIu64
		" late, coalesced), %" PRIu64 " timer calls\n",
		st.nr_reads, st.nr_writes, st.nr_irqs, st.nr_late, st.nr_timer_calls);
}
