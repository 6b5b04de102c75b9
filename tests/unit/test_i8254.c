/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the 8254 PIT and port 0x61 (src/hw/i8254.c), against the Intel 82C54 datasheet
 * ("82C54" below): counts and OUT at exact CLK pulses in all six modes (checked against a
 * pulse-by-pulse reference written from the datasheet's mode descriptions), binary and BCD,
 * latch and read-back commands, the status byte, GATE effects, new counts while counting,
 * IRQ0 delivery through the arm/timer hooks, Linux's TSC calibration sequences on channel 2 and
 * port 0x61, hostile accesses through the bus, and a real-time run with the host timer service
 * (src/core/timer.c) while another thread reads the counter.
 *
 * Time: P(k) is the first nanosecond of CLK pulse k (pulse k spans
 * [P(k), P(k+1)) with P(k) = ceil(k * 1e9 / 1193182)). A count written during pulse w is loaded
 * on pulse w + 1 (82C54 "Counter Loading": "on the next CLK pulse").
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/i8254.h"
#include "omnivisor/timer.h"

static uint64_t P(uint64_t k)
{
	return (uint64_t)(((unsigned __int128)k * 1000000000u + I8254_HZ - 1) / I8254_HZ);
}

/* ---- a recording IRQ line, an arm hook and a fake clock ---- */

struct rec {
	int level;
	unsigned nr_rises, nr_calls;
	uint64_t deadline;
	unsigned nr_arms;
	uint64_t now;
};

static void rec_set(void *opaque, int n, int level)
{
	struct rec *r = opaque;
	(void)n;
	if (level && !r->level)
		r->nr_rises++;
	r->level = level;
	r->nr_calls++;
}

static void rec_arm(void *opaque, uint64_t deadline)
{
	struct rec *r = opaque;
	r->deadline = deadline;
	r->nr_arms++;
}

static uint64_t rec_clock(void *opaque)
{
	return ((struct rec *)opaque)->now;
}

static struct i8254 *make(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->deadline = UINT64_MAX;
	struct i8254_config cfg = {
		.irq0 = { .set = rec_set, .opaque = r, .n = 0 },
		.clock_ns = rec_clock,
		.clock_opaque = r,
		.arm = rec_arm,
		.arm_opaque = r,
	};
	struct i8254 *pit = i8254_create(&cfg);
	assert_non_null(pit);
	return pit;
}

/* The host timer fires: it is idle again when the device's callback runs. */
static void fire(struct i8254 *pit, struct rec *r, uint64_t now)
{
	r->deadline = UINT64_MAX;
	i8254_timer(pit, now);
}

/* Program counter @ch: control word, then the count in the access mode of @cw. */
static void program(struct i8254 *pit, unsigned ch, uint8_t cw, uint16_t count, uint64_t now)
{
	i8254_io_write(pit, 3, (uint8_t)(ch << 6 | (cw & 0x3f)), now);
	switch (cw >> 4 & 3) {
	case 1:
		i8254_io_write(pit, ch, count & 0xff, now);
		break;
	case 2:
		i8254_io_write(pit, ch, count >> 8, now);
		break;
	default:
		i8254_io_write(pit, ch, count & 0xff, now);
		i8254_io_write(pit, ch, count >> 8, now);
		break;
	}
}

/* Latched 16-bit count (counter latch command, then LSB, MSB in mode 3 access). */
static uint16_t latched(struct i8254 *pit, unsigned ch, uint64_t now)
{
	i8254_io_write(pit, 3, (uint8_t)(ch << 6), now);
	uint16_t lo = i8254_io_read(pit, ch, now);
	uint16_t hi = i8254_io_read(pit, ch, now);
	return (uint16_t)(hi << 8 | lo);
}

/* ---- reference: the datasheet's modes, pulse by pulse ---- */

struct ref {
	int mode;
	uint32_t m;	/* modulus: 65536 binary, 10000 BCD */
	uint32_t n, ce; /* ce in 1..n range arithmetic; read as ce % m */
	bool out, done;
};

/* State on the load pulse. */
static void ref_load(struct ref *r, int mode, uint32_t n, uint32_t m)
{
	r->mode = mode;
	r->m = m;
	r->n = n;
	r->ce = n;
	r->out = mode != 0;
	r->done = false;
}

/* One CLK pulse later. */
static void ref_step(struct ref *r)
{
	switch (r->mode) {
	case 0: /* decrement; OUT high at terminal count and stays */
		r->ce = (r->ce + r->m - 1) % r->m;
		if (r->ce == 0)
			r->out = true;
		break;
	case 4: /* decrement; OUT low for one pulse at terminal count (once) */
		r->ce = (r->ce + r->m - 1) % r->m;
		r->out = !(r->ce == 0 && !r->done);
		if (r->ce == 0)
			r->done = true;
		break;
	case 2: /* N .. 1 (OUT low on 1), reload */
		r->ce = r->ce == 1 ? r->n : r->ce - 1;
		r->out = r->ce != 1;
		break;
	case 3: /* even: by 2; odd: loaded, -1 (high) or -3 (low), then by 2; toggle at 0 */
		if ((r->n & 1) && r->ce == r->n)
			r->ce -= r->out ? 1 : 3;
		else
			r->ce -= 2;
		if (r->ce == 0) {
			r->out = !r->out;
			r->ce = r->n;
		}
		break;
	}
}

static uint16_t to_bcd(uint32_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 |
			  (v % 10));
}

static void test_modes_vs_reference(void **state)
{
	(void)state;
	static const uint32_t counts[] = { 2, 3, 4, 5, 7, 10, 11, 100, 101, 9999, 65535, 0 };
	static const int modes[] = { 0, 2, 3, 4 };
	struct rec r;
	for (int bcd = 0; bcd < 2; bcd++)
	for (size_t mi = 0; mi < 4; mi++) {
		for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
			uint32_t m = bcd ? 10000 : 65536;
			if (bcd && counts[ci] >= 10000)
				continue;
			struct i8254 *pit = make(&r);
			int mode = modes[mi];
			uint32_t n = counts[ci] ? counts[ci] : m;
			uint64_t w = 5000 + ci * 7; /* write pulse */
			program(pit, 0, (uint8_t)(0x30 | mode << 1 | bcd),
				bcd ? to_bcd(counts[ci]) : (uint16_t)counts[ci], P(w) + 100);
			/* before the load pulse: OUT at its initial level (82C54 Figure "Mode x") */
			assert_int_equal(i8254_get_out(pit, 0, P(w + 1) - 1), mode != 0);
			struct ref ref;
			ref_load(&ref, mode, n, m);
			uint64_t span = n > 300 ? 300 : 3 * n + 5;
			uint64_t next_rise = UINT64_MAX;
			bool prev = ref.out;
			for (uint64_t k = 0; k <= span; k++) {
				uint64_t t = P(w + 1 + k);
				if (k)
					ref_step(&ref);
				if (ref.out && !prev && next_rise == UINT64_MAX)
					next_rise = t;
				prev = ref.out;
				uint16_t got = i8254_get_count(pit, 0, t);
				uint16_t want = bcd ? to_bcd(ref.ce % m) : (uint16_t)(ref.ce % m);
				if (got != want || i8254_get_out(pit, 0, t) != ref.out)
					fail_msg("mode %d %s N %u pulse +%" PRIu64 ": count %#x out %d, "
						 "expected %#x %d",
						 mode, bcd ? "BCD" : "binary", n, k, got,
						 i8254_get_out(pit, 0, t), want, ref.out);
				/* the pulse's last nanosecond gives the same */
				assert_int_equal(i8254_get_count(pit, 0, P(w + 2 + k) - 1), got);
			}
			/* the first rising edge is what the arm hook was given */
			if (next_rise != UINT64_MAX)
				assert_int_equal(r.deadline, next_rise);
			else if (mode == 0 && n > span)
				assert_int_equal(r.deadline, P(w + 1 + n));
			i8254_destroy(pit);
		}
	}
}

/* Property: after random operations, the deadline of the next IRQ0 edge equals the first rising
 * edge of OUT0 found by scanning it pulse by pulse (pending mode 2/3 counts included). */
static void test_next_edge_property(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	uint32_t x = 1;
	uint64_t t = 1000;
	for (int i = 0; i < 400; i++) {
		x = x * 1103515245u + 12345u;
		unsigned op = x >> 28;
		uint16_t n = (uint16_t)(2 + (x >> 8) % 40);
		if (op < 4) /* a new control word and count */
			program(pit, 0, (uint8_t)(0x30 | ((x >> 4) % 6) << 1), n, P(t));
		else if (op < 12) /* a new count in the current mode (mid-period for 2 and 3) */
			i8254_io_write(pit, 0, (uint8_t)n, P(t)), i8254_io_write(pit, 0, 0, P(t));
		else /* a read-back / latch, no change */
			(void)latched(pit, 0, P(t));
		uint64_t want = UINT64_MAX;
		bool prev = i8254_get_out(pit, 0, P(t));
		for (uint64_t k = t + 1; k < t + 200; k++) {
			bool o = i8254_get_out(pit, 0, P(k));
			if (o && !prev) {
				want = P(k);
				break;
			}
			prev = o;
		}
		uint64_t got = i8254_next_irq_ns(pit, P(t));
		if (want != UINT64_MAX || got < P(t + 200))
			assert_int_equal(got, want);
		t += 1 + (x >> 12) % 60;
	}
	i8254_destroy(pit);
}

static void test_mode0_terminal_count(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	/* 82C54 mode 0: OUT goes high N + 1 pulses after the count is written */
	program(pit, 0, 0x30, 100, P(1000));
	assert_int_equal(r.level, 0);
	assert_int_equal(r.deadline, P(1101));
	assert_int_equal(latched(pit, 0, P(1001)), 100);
	assert_int_equal(latched(pit, 0, P(1050) + 500), 51);
	assert_int_equal(i8254_get_out(pit, 0, P(1101) - 1), false);
	assert_int_equal(i8254_get_out(pit, 0, P(1101)), true);
	/* the timer at the deadline raises IRQ0 and nothing more is armed */
	fire(pit, &r, P(1101) + 500);
	assert_int_equal(r.level, 1);
	assert_int_equal(r.nr_rises, 1);
	assert_int_equal(r.deadline, UINT64_MAX);
	/* the counter wraps to 0xffff and keeps counting; OUT stays high */
	assert_int_equal(latched(pit, 0, P(1102)), 0xffff);
	assert_int_equal(latched(pit, 0, P(1101 + 65536)), 0);
	fire(pit, &r, P(1101 + 65537));
	assert_int_equal(r.nr_rises, 1);
	/* status: OUT 1, NULL COUNT 0, RW 3, mode 0, binary (82C54 Figure 11) */
	i8254_io_write(pit, 3, 0xe2, P(200000));
	assert_int_equal(i8254_io_read(pit, 0, P(200000)), 0xb0);
	/* a new control word sets OUT low at once: IRQ0 falls */
	i8254_io_write(pit, 3, 0x30, P(200001));
	assert_int_equal(r.level, 0);
	i8254_destroy(pit);
}

static void test_mode0_two_byte_write_stops(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	program(pit, 0, 0x30, 10, P(100));
	/* after terminal count (pulse 111) write a new LSB: counting stops, OUT low at once */
	fire(pit, &r, P(120));
	assert_int_equal(r.level, 1);
	uint16_t before = i8254_get_count(pit, 0, P(130));
	i8254_io_write(pit, 0, 50, P(130));
	assert_int_equal(r.level, 0);
	assert_false(i8254_get_out(pit, 0, P(130)));
	assert_int_equal(i8254_get_count(pit, 0, P(140)), before); /* stopped */
	assert_int_equal(r.deadline, UINT64_MAX);
	/* the MSB loads 50 on the next pulse */
	i8254_io_write(pit, 0, 0, P(150));
	assert_int_equal(i8254_get_count(pit, 0, P(151)), 50);
	assert_int_equal(r.deadline, P(201));
	i8254_destroy(pit);
}

static void test_mode0_gate(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	/* counter 2, mode 0: GATE 0 disables counting (82C54 mode 0) */
	i8254_port_b_write(pit, 0x01, P(10));
	program(pit, 2, 0x30, 100, P(100)); /* loaded on 101 */
	assert_int_equal(i8254_get_count(pit, 2, P(131)), 70);
	i8254_port_b_write(pit, 0x00, P(131) + 10); /* GATE low during pulse 131 */
	assert_int_equal(i8254_get_count(pit, 2, P(500)), 70);
	i8254_port_b_write(pit, 0x01, P(500) + 10); /* counts again from pulse 501 */
	assert_int_equal(i8254_get_count(pit, 2, P(501)), 69);
	assert_false(i8254_port_b_read(pit, P(570) - 1) & 0x20);
	assert_true(i8254_port_b_read(pit, P(570)) & 0x20);
	i8254_destroy(pit);
}

static void test_mode2_periodic_irq(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	/* Linux's periodic clockevent: 0x34, LATCH lsb, msb (HZ 250: 4773) */
	program(pit, 0, 0x34, 100, P(1000));
	assert_int_equal(r.level, 1); /* mode 2: OUT high after the control word */
	/* load on 1001; count 1 (OUT low) on 1100; reload (OUT high: the IRQ edge) on 1101 */
	assert_int_equal(r.deadline, P(1101));
	assert_false(i8254_get_out(pit, 0, P(1100)));
	assert_true(i8254_get_out(pit, 0, P(1101)));
	unsigned rises = r.nr_rises;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r.deadline, P(1101 + 100 * (uint64_t)i));
		fire(pit, &r, r.deadline + 30000); /* 30 us late: still within the period */
		assert_int_equal(r.nr_rises, rises + 1 + (unsigned)i);
		assert_int_equal(r.level, 1);
	}
	/* a timer much later than several periods delivers one edge and counts a late call */
	fire(pit, &r, P(1101 + 100 * 20) + 5);
	struct i8254_stats st;
	i8254_get_stats(pit, &st);
	assert_int_equal(st.nr_late, 1);
	assert_int_equal(r.nr_rises, rises + 6);
	assert_int_equal(r.deadline, P(1101 + 100 * 21));
	/* a call before the deadline changes nothing */
	fire(pit, &r, P(1101 + 100 * 21) - 1);
	assert_int_equal(r.nr_rises, rises + 6);
	i8254_destroy(pit);
}

static void test_mode2_new_count_at_period_end(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	program(pit, 0, 0x34, 100, P(1000)); /* periods start at 1001, 1101, 1201 ... */
	/* new count 40 during the second period: "the current period is not affected" */
	i8254_io_write(pit, 0, 40, P(1150));
	i8254_io_write(pit, 0, 0, P(1150));
	/* the edges: 1201 (end of the period the count was written in), then every 40 */
	assert_int_equal(i8254_next_irq_ns(pit, P(1150)), P(1201));
	i8254_io_write(pit, 3, 0xe2, P(1150));
	assert_int_equal(i8254_io_read(pit, 0, P(1150)) & 0x40, 0x40); /* NULL COUNT */
	i8254_io_read(pit, 0, P(1150));
	i8254_io_read(pit, 0, P(1150));
	assert_int_equal(i8254_get_count(pit, 0, P(1200)), 1);
	assert_int_equal(i8254_get_count(pit, 0, P(1201)), 40);
	assert_int_equal(i8254_get_count(pit, 0, P(1240)), 1);
	assert_int_equal(i8254_get_count(pit, 0, P(1241)), 40);
	fire(pit, &r, P(1201));
	assert_int_equal(r.deadline, P(1241));
	i8254_io_write(pit, 3, 0xe2, P(1202));
	assert_int_equal(i8254_io_read(pit, 0, P(1202)), 0xb4); /* OUT 1, loaded, lohi, mode 2 */
	assert_int_equal(i8254_next_irq_ns(pit, P(1202)), P(1241));
	i8254_destroy(pit);
}

static void test_mode2_gate(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	i8254_port_b_write(pit, 0x01, P(1));
	program(pit, 2, 0x34, 10, P(100)); /* load 101 */
	assert_false(i8254_get_out(pit, 2, P(110)));
	/* GATE low during the output pulse sets OUT high at once and stops counting */
	i8254_port_b_write(pit, 0x00, P(110) + 1);
	assert_true(i8254_get_out(pit, 2, P(110) + 1));
	assert_int_equal(i8254_get_count(pit, 2, P(300)), 1);
	/* a rising GATE reloads the count on the next pulse */
	i8254_port_b_write(pit, 0x01, P(300) + 1);
	assert_int_equal(i8254_get_count(pit, 2, P(301)), 10);
	assert_int_equal(i8254_get_count(pit, 2, P(305)), 6);
	assert_false(i8254_get_out(pit, 2, P(310)));
	assert_true(i8254_get_out(pit, 2, P(311)));
	i8254_destroy(pit);
}

static void test_mode3_square_wave(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	/* odd count 5: OUT high 3 pulses, low 2 (82C54 mode 3) */
	program(pit, 0, 0x36, 5, P(10)); /* load 11 */
	static const uint16_t cnt[] = { 5, 4, 2, 5, 2, 5, 4, 2, 5, 2 };
	static const bool out[] = { 1, 1, 1, 0, 0, 1, 1, 1, 0, 0 };
	for (int k = 0; k < 10; k++) {
		assert_int_equal(i8254_get_count(pit, 0, P(11 + (uint64_t)k)), cnt[k]);
		assert_int_equal(i8254_get_out(pit, 0, P(11 + (uint64_t)k)), out[k]);
	}
	assert_int_equal(r.deadline, P(16));
	/* a new count during the high half takes effect at its end, starting a low half */
	i8254_io_write(pit, 0, 8, P(17));
	i8254_io_write(pit, 0, 0, P(17));
	/* pulses 16..18 high (5 4 2) with the old count; 19: new count 8, low half of 4 pulses,
	 * then high 4 */
	assert_int_equal(i8254_get_count(pit, 0, P(18)), 2);
	assert_int_equal(i8254_get_count(pit, 0, P(19)), 8);
	assert_false(i8254_get_out(pit, 0, P(19)));
	assert_int_equal(i8254_get_count(pit, 0, P(20)), 6);
	assert_false(i8254_get_out(pit, 0, P(22)));
	assert_true(i8254_get_out(pit, 0, P(23)));
	assert_int_equal(i8254_get_count(pit, 0, P(23)), 8);
	assert_int_equal(i8254_next_irq_ns(pit, P(17)), P(23));
	i8254_destroy(pit);
}

static void test_mode1_one_shot(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	program(pit, 2, 0x32, 5, P(10)); /* counter 2, mode 1, GATE low */
	assert_true(i8254_get_out(pit, 2, P(100)));
	i8254_io_write(pit, 3, 0xe8, P(100)); /* read-back status of counter 2 */
	assert_int_equal(i8254_io_read(pit, 2, P(100)), 0xf2); /* OUT 1, NULL COUNT (no trigger) */
	/* the trigger: OUT low on the next pulse, high N pulses later */
	i8254_port_b_write(pit, 0x01, P(200) + 3);
	assert_true(i8254_get_out(pit, 2, P(200) + 3));
	assert_false(i8254_get_out(pit, 2, P(201)));
	assert_int_equal(i8254_get_count(pit, 2, P(201)), 5);
	assert_false(i8254_get_out(pit, 2, P(205)));
	assert_true(i8254_get_out(pit, 2, P(206)));
	assert_int_equal(i8254_get_count(pit, 2, P(206)), 0);
	assert_int_equal(i8254_get_count(pit, 2, P(207)), 0xffff);
	/* retrigger during a one-shot restarts it */
	i8254_port_b_write(pit, 0x00, P(300));
	i8254_port_b_write(pit, 0x01, P(300));
	i8254_port_b_write(pit, 0x00, P(303));
	i8254_port_b_write(pit, 0x01, P(303));
	assert_false(i8254_get_out(pit, 2, P(307)));
	assert_true(i8254_get_out(pit, 2, P(309)));
	i8254_destroy(pit);
}

static void test_mode4_mode5_strobe(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	program(pit, 1, 0x18, 3, P(10)); /* counter 1, mode 4, LSB only */
	assert_true(i8254_get_out(pit, 1, P(13)));
	assert_false(i8254_get_out(pit, 1, P(14))); /* N + 1 pulses after the write */
	assert_true(i8254_get_out(pit, 1, P(15)));
	assert_true(i8254_get_out(pit, 1, P(14 + 65536)));
	/* mode 5 on counter 2: strobe N + 1 pulses after the trigger */
	program(pit, 2, 0x1a, 3, P(20));
	i8254_port_b_write(pit, 0x01, P(40));
	assert_true(i8254_get_out(pit, 2, P(43)));
	assert_false(i8254_get_out(pit, 2, P(44)));
	assert_true(i8254_get_out(pit, 2, P(45)));
	i8254_destroy(pit);
}

static void test_bcd(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	program(pit, 0, 0x31, 0x0100, P(10)); /* mode 0, BCD, count 100 */
	assert_int_equal(r.deadline, P(111));
	assert_int_equal(latched(pit, 0, P(11)), 0x0100);
	assert_int_equal(latched(pit, 0, P(12)), 0x0099);
	assert_int_equal(latched(pit, 0, P(111)), 0x0000);
	assert_int_equal(latched(pit, 0, P(112)), 0x9999);
	/* the access at pulse 111 delivered the edge: nothing is armed */
	assert_int_equal(r.deadline, UINT64_MAX);
	assert_int_equal(r.nr_rises, 1);
	/* count 0 in BCD is 10^4 */
	program(pit, 0, 0x35, 0, P(1000)); /* mode 2, BCD */
	assert_int_equal(latched(pit, 0, P(1002)), 0x9999);
	assert_int_equal(r.deadline, P(1001 + 10000));
	/* status shows BCD */
	i8254_io_write(pit, 3, 0xe2, P(1003));
	assert_int_equal(i8254_io_read(pit, 0, P(1003)), 0xb5);
	/* not BCD digits do not crash */
	program(pit, 0, 0x31, 0xffff, P(2000));
	(void)latched(pit, 0, P(2100));
	i8254_destroy(pit);
}

static void test_latch_and_readback(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	program(pit, 0, 0x34, 1000, P(10)); /* load 11 */
	/* counter latch: holds until read; a second latch is ignored */
	i8254_io_write(pit, 3, 0x00, P(111));
	i8254_io_write(pit, 3, 0x00, P(211));
	assert_int_equal(i8254_io_read(pit, 0, P(300)), 900 & 0xff);
	assert_int_equal(i8254_io_read(pit, 0, P(300)), 900 >> 8);
	/* unlatched lo/hi reads follow the count */
	assert_int_equal(i8254_io_read(pit, 0, P(311)), 700 & 0xff);
	assert_int_equal(i8254_io_read(pit, 0, P(311)), 700 >> 8);
	/* read-back of count and status: status first, then LSB, MSB (82C54 "Read-Back") */
	i8254_io_write(pit, 3, 0xc2, P(411));
	assert_int_equal(i8254_io_read(pit, 0, P(500)), 0x34 | 0x80);
	assert_int_equal(i8254_io_read(pit, 0, P(500)), 600 & 0xff);
	assert_int_equal(i8254_io_read(pit, 0, P(500)), 600 >> 8);
	/* read-back count only, of all three counters; status only */
	i8254_io_write(pit, 3, 0xde, P(511));
	assert_int_equal(i8254_io_read(pit, 0, P(600)), 500 & 0xff);
	i8254_io_write(pit, 3, 0xe2, P(600));
	assert_int_equal(i8254_io_read(pit, 0, P(600)), 0xb4);
	assert_int_equal(i8254_io_read(pit, 0, P(600)), 500 >> 8); /* rest of the latched count */
	/* LSB-only and MSB-only access modes */
	program(pit, 1, 0x14, 0x80, P(700)); /* mode 2, LSB: count 0x0080 */
	assert_int_equal(i8254_io_read(pit, 1, P(701)), 0x80);
	assert_int_equal(i8254_io_read(pit, 1, P(702)), 0x7f);
	program(pit, 1, 0x24, 0x1200, P(800)); /* mode 2, MSB: count 0x1200 */
	assert_int_equal(i8254_io_read(pit, 1, P(801) + 5), 0x12);
	assert_int_equal(i8254_io_read(pit, 1, P(802)), 0x11);
	i8254_io_write(pit, 3, 0xe4, P(803));
	assert_int_equal(i8254_io_read(pit, 1, P(803)), 0xa4);
	/* control word register reads as all ones */
	assert_int_equal(i8254_io_read(pit, 3, P(900)), 0xff);
	i8254_destroy(pit);
}

static void test_linux_pit_calibrate_tsc(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	/* arch/x86/kernel/tsc.c pit_calibrate_tsc(latch = 1193182 / (1000 / 10), ms = 10) */
	uint64_t w = 123456789;
	uint8_t b = i8254_port_b_read(pit, P(w));
	i8254_port_b_write(pit, (uint8_t)((b & ~0x02) | 0x01), P(w));
	i8254_io_write(pit, 3, 0xb0, P(w));
	i8254_io_write(pit, 2, 11931 & 0xff, P(w));
	i8254_io_write(pit, 2, 11931 >> 8, P(w) + 500);
	/* OUT2 (port 0x61 bit 5) rises 11931 pulses after the load pulse */
	assert_int_equal(i8254_port_b_read(pit, P(w + 1 + 11931) - 1) & 0x21, 0x01);
	assert_int_equal(i8254_port_b_read(pit, P(w + 1 + 11931)) & 0x21, 0x21);
	/* quick_pit_calibrate: count 0xffff, MSB read back while it decrements */
	w += 100000;
	i8254_io_write(pit, 3, 0xb0, P(w));
	i8254_io_write(pit, 2, 0xff, P(w));
	i8254_io_write(pit, 2, 0xff, P(w));
	for (uint64_t k = 1; k < 5000; k += 97) {
		uint16_t v = 0xffff - (uint16_t)k;
		assert_int_equal(i8254_io_read(pit, 2, P(w + 1 + k)), v & 0xff);
		assert_int_equal(i8254_io_read(pit, 2, P(w + 1 + k)), v >> 8);
	}
	i8254_destroy(pit);
}

static void test_port_b(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	assert_int_equal(i8254_port_b_read(pit, 0), 0x00);
	i8254_port_b_write(pit, 0xff, 10); /* bits 4-7 read-only */
	assert_int_equal(i8254_port_b_read(pit, 10) & 0xcf, 0x0f);
	/* refresh toggle: bit 4 flips every 15.085 us */
	assert_int_equal(i8254_port_b_read(pit, I8254_REFRESH_NS - 1) & 0x10, 0x00);
	assert_int_equal(i8254_port_b_read(pit, I8254_REFRESH_NS) & 0x10, 0x10);
	assert_int_equal(i8254_port_b_read(pit, 2 * I8254_REFRESH_NS) & 0x10, 0x00);
	i8254_destroy(pit);
}

static void test_bus_hostile(void **state)
{
	(void)state;
	struct rec r;
	struct i8254 *pit = make(&r);
	struct bus *bus = bus_create();
	assert_non_null(bus);
	assert_int_equal(i8254_register(pit, bus), 0);
	assert_int_equal(i8254_register(pit, bus), -EBUSY);
	/* 0x43 via the bus (control word 0x34), then a 16-bit write of the count to 0x40: two
	 * bytes to consecutive ports, i.e. LSB to counter 0 and the next byte to counter 1 */
	r.now = P(1000);
	uint8_t cw = 0x34;
	assert_int_equal(bus_pio_write(bus, 0x43, &cw, 1), 0);
	uint8_t w2[2] = { 100, 0 };
	assert_int_equal(bus_pio_write(bus, 0x40, w2, 1), 0);
	assert_int_equal(bus_pio_write(bus, 0x40, w2 + 1, 1), 0);
	r.now = P(1011);
	uint8_t v = 0;
	bus_pio_read(bus, 0x40, &v, 1);
	assert_int_equal(v, 90);
	/* every port, every size, every value: no crash; 0x43 reads 0xff */
	for (unsigned port = 0x40; port <= 0x43; port++) {
		for (unsigned len = 1; len <= 4; len <<= 1) {
			for (unsigned val = 0; val < 256; val += 17) {
				uint32_t d = val * 0x01010101u, rd = 0;
				r.now += 997;
				bus_pio_write(bus, (uint16_t)port, &d, len);
				bus_pio_read(bus, (uint16_t)port, &rd, len);
			}
		}
	}
	r.now += 1000;
	uint32_t d = 0;
	bus_pio_read(bus, 0x43, &d, 1);
	assert_int_equal(d, 0xff);
	/* port 0x61 by the bus */
	uint8_t pb = 0x03;
	bus_pio_write(bus, 0x61, &pb, 1);
	pb = 0;
	bus_pio_read(bus, 0x61, &pb, 1);
	assert_int_equal(pb & 0x0f, 0x03);
	/* hostile time: a clock that goes back must not break anything */
	r.now = 5;
	bus_pio_read(bus, 0x40, &d, 1);
	i8254_timer(pit, 0);
	i8254_timer(pit, UINT64_MAX - 1);
	assert_int_equal(i8254_set_gate(pit, 3, true, 0), -EINVAL);
	assert_int_equal(i8254_get_count(pit, 7, 0), 0);
	i8254_print_stats(pit, stderr);
	bus_destroy(bus);
	i8254_destroy(pit);
}

/* ---- real time: the host timer service drives IRQ0 while this thread reads the PIT ---- */

struct rt {
	struct i8254 *pit;
	_Atomic unsigned nr_rises;
	_Atomic int level;
};

static void rt_irq(void *opaque, int n, int level)
{
	struct rt *rt = opaque;
	(void)n;
	if (level && !atomic_exchange(&rt->level, level))
		atomic_fetch_add(&rt->nr_rises, 1);
	else
		atomic_store(&rt->level, level);
}

static void rt_timer(void *opaque, uint64_t now_ns)
{
	i8254_timer(((struct rt *)opaque)->pit, now_ns);
}

static uint64_t rt_clock(void *opaque)
{
	(void)opaque;
	return clock_monotonic_ns();
}

static void test_real_time_periodic(void **state)
{
	(void)state;
	static struct rt rt;
	struct timer_service *svc = timer_service_create();
	assert_non_null(svc);
	struct timer *t = timer_new(svc, rt_timer, &rt);
	assert_non_null(t);
	struct i8254_config cfg = {
		.irq0 = { .set = rt_irq, .opaque = &rt },
		.clock_ns = rt_clock,
		.arm = timer_arm_hook,
		.arm_opaque = t,
	};
	rt.pit = i8254_create(&cfg);
	assert_non_null(rt.pit);
	/* mode 2, 1193 pulses = 0.99983 ms; run for 100 ms of reads */
	uint64_t start = clock_monotonic_ns();
	program(rt.pit, 0, 0x34, 1193, start);
	unsigned base = atomic_load(&rt.nr_rises);
	uint64_t end = start + 100000000;
	unsigned nr_reads = 0;
	while (clock_monotonic_ns() < end) {
		uint16_t v = latched(rt.pit, 0, clock_monotonic_ns());
		assert_true(v >= 1 && v <= 1193);
		nr_reads++;
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	uint64_t elapsed = clock_monotonic_ns() - start;
	unsigned rises = atomic_load(&rt.nr_rises) - base;
	unsigned periods = (unsigned)(elapsed / 999830) + 1;
	struct i8254_stats st;
	i8254_get_stats(rt.pit, &st);
	fprintf(stderr, "real time: %u edges in %u periods (%" PRIu64 " late), %u reads\n", rises,
		periods, st.nr_late, nr_reads);
	/* never more edges than periods; most of them even on a loaded host */
	assert_true(rises <= periods);
	assert_true(rises >= periods / 4);
	timer_free(t);
	timer_service_destroy(svc);
	i8254_destroy(rt.pit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes_vs_reference),
		cmocka_unit_test(test_next_edge_property),
		cmocka_unit_test(test_mode0_terminal_count),
		cmocka_unit_test(test_mode0_two_byte_write_stops),
		cmocka_unit_test(test_mode0_gate),
		cmocka_unit_test(test_mode2_periodic_irq),
		cmocka_unit_test(test_mode2_new_count_at_period_end),
		cmocka_unit_test(test_mode2_gate),
		cmocka_unit_test(test_mode3_square_wave),
		cmocka_unit_test(test_mode1_one_shot),
		cmocka_unit_test(test_mode4_mode5_strobe),
		cmocka_unit_test(test_bcd),
		cmocka_unit_test(test_latch_and_readback),
		cmocka_unit_test(test_linux_pit_calibrate_tsc),
		cmocka_unit_test(test_port_b),
		cmocka_unit_test(test_bus_hostile),
		cmocka_unit_test(test_real_time_periodic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
