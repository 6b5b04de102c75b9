/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the MC146818A CMOS RTC (src/hw/rtc.c) against the Motorola MC146818A datasheet:
 * reset values of registers A-D, time and date bytes in BCD and binary, 24- and 12-hour mode,
 * the century byte, rollover at a leap day, UIP timing, setting the time with SET and directly,
 * the divider reset, register C flags (PF at the RS rates, UF, AF with don't-care bytes) cleared
 * on read, IRQ8 and the timer deadlines requested, the NMI mask bit, the memory-size bytes, the
 * read loop of Linux's mc146818_get_time, and hostile accesses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/rtc.h"

#define NS 1000000000ull
/* 2024-02-29 23:59:58.5 UTC, a Thursday */
#define T0_SEC 1709251198ll
#define T0_NS (T0_SEC * (int64_t)NS + 500000000)
#define MONO0 5000000000ull /* monotonic time at creation */

struct world {
	struct rtc *r;
	uint64_t now;
	uint64_t deadline;
	unsigned nr_arms;
	int level;
	unsigned nr_rises;
};

static uint64_t clock_cb(void *o)
{
	return ((struct world *)o)->now;
}

static int64_t host_time_cb(void *o)
{
	(void)o;
	return T0_NS;
}

static void arm_cb(void *o, uint64_t d)
{
	struct world *w = o;
	w->deadline = d;
	w->nr_arms++;
}

static void irq_cb(void *o, int n, int level)
{
	struct world *w = o;
	assert_int_equal(n, 8);
	if (level && !w->level)
		w->nr_rises++;
	w->level = level;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->now = MONO0;
	w->deadline = UINT64_MAX;
	struct rtc_config cfg = {
		.irq = { .set = irq_cb, .opaque = w, .n = 8 },
		.clock_ns = clock_cb,
		.clock_opaque = w,
		.host_time_ns = host_time_cb,
		.arm = arm_cb,
		.arm_opaque = w,
	};
	w->r = rtc_create(&cfg);
	assert_non_null(w->r);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	rtc_destroy(w->r);
	free(w);
	return 0;
}

/* guest access through the ports, at the world's time */
static uint8_t cmos_rd(struct world *w, uint8_t index)
{
	rtc_io_write(w->r, 0, index, w->now);
	return rtc_io_read(w->r, 1, w->now);
}

static void cmos_wr(struct world *w, uint8_t index, uint8_t val)
{
	rtc_io_write(w->r, 0, index, w->now);
	rtc_io_write(w->r, 1, val, w->now);
}

/* the host timer service: at @t the armed timer fires (and is idle), the device is called */
static void fire(struct world *w, uint64_t t)
{
	w->now = t;
	if (t >= w->deadline)
		w->deadline = UINT64_MAX;
	rtc_timer(w->r, t);
}

/* ---- tests ---- */

static void test_reset_values(void **state)
{
	struct world *w = *state;
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0x26); /* DV 010, RS 0110 (1024 Hz) */
	assert_int_equal(cmos_rd(w, RTC_REG_B), 0x02); /* 24-hour, BCD */
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	assert_int_equal(cmos_rd(w, RTC_REG_D), 0x80); /* VRT */
	assert_int_equal(rtc_io_read(w->r, 0, w->now), 0xff); /* index port is write-only */
	for (unsigned i = 0x0e; i < 128; i++)
		if (i != RTC_CENTURY)
			assert_int_equal(cmos_rd(w, (uint8_t)i), 0);
	assert_int_equal(rtc_irq_level(w->r), 0);
	assert_int_equal(w->deadline, UINT64_MAX); /* no interrupt enabled: no timer */
}

/* "Time, calendar and alarm locations": BCD, 24-hour; day of week Sunday = 1 */
static void test_time_bcd_and_rollover(void **state)
{
	struct world *w = *state;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x58);
	assert_int_equal(cmos_rd(w, RTC_MINUTES), 0x59);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x23);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_WEEK), 0x05);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_MONTH), 0x29);
	assert_int_equal(cmos_rd(w, RTC_MONTH), 0x02);
	assert_int_equal(cmos_rd(w, RTC_YEAR), 0x24);
	assert_int_equal(cmos_rd(w, RTC_CENTURY), 0x20);
	/* the update happens on the second boundary: 0.5 s after creation */
	w->now = MONO0 + NS / 2 - 1;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x58);
	w->now = MONO0 + NS / 2;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x59);
	w->now = MONO0 + NS / 2 + NS; /* 2024-03-01 00:00:00, Friday */
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x00);
	assert_int_equal(cmos_rd(w, RTC_MINUTES), 0x00);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x00);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_WEEK), 0x06);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_MONTH), 0x01);
	assert_int_equal(cmos_rd(w, RTC_MONTH), 0x03);
	assert_int_equal(cmos_rd(w, RTC_YEAR), 0x24);
}

/* Register B DM = 1: binary; 24/12 = 0: 12-hour with bit 7 = PM (hours 1-12) */
static void test_binary_and_12h(void **state)
{
	struct world *w = *state;
	cmos_wr(w, RTC_REG_B, 0x06);
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 58);
	assert_int_equal(cmos_rd(w, RTC_MINUTES), 59);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 23);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_MONTH), 29);
	assert_int_equal(cmos_rd(w, RTC_YEAR), 24);
	assert_int_equal(cmos_rd(w, RTC_CENTURY), 20);
	cmos_wr(w, RTC_REG_B, 0x04); /* binary, 12-hour: 11 PM */
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x80 | 11);
	cmos_wr(w, RTC_REG_B, 0x00); /* BCD, 12-hour */
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x91);
	w->now += 2 * NS; /* 00:00:00: 12 AM */
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x12);
	/* set 12:30 PM in 12-hour mode directly: noon is 12 with PM */
	cmos_wr(w, RTC_HOURS, 0x92);
	cmos_wr(w, RTC_REG_B, 0x02);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x12);
	cmos_wr(w, RTC_REG_B, 0x00);
	cmos_wr(w, RTC_HOURS, 0x12); /* 12 AM = 00 */
	cmos_wr(w, RTC_REG_B, 0x02);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x00);
}

/* "Update cycle": UIP is 1 during the 244.140625 us (8 ticks) before each update */
static void test_uip(void **state)
{
	struct world *w = *state;
	uint64_t boundary = MONO0 + NS / 2;
	w->now = boundary - 244141; /* frac 999755859 ns: just before the window */
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0x26);
	w->now = boundary - 244140; /* frac 999755860 ns */
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0xa6);
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x58);
	w->now = boundary - 1;
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0xa6);
	w->now = boundary;
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0x26);
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x59);
	/* bit 7 cannot be written; with SET the clock is halted and UIP stays 0 */
	cmos_wr(w, RTC_REG_A, 0xa6);
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0x26);
	cmos_wr(w, RTC_REG_B, 0x82);
	w->now = boundary + NS - 1000;
	assert_int_equal(cmos_rd(w, RTC_REG_A), 0x26);
}

/* Linux's mc146818_set_time: SET (and DV reset), write the bytes, restore B, restore A.
 * SET clears UIE; the halted time bytes are storage; the clock restarts from them. */
static void test_set_time_linux(void **state)
{
	struct world *w = *state;
	cmos_wr(w, RTC_REG_B, 0x12); /* UIE */
	uint8_t save_control = cmos_rd(w, RTC_REG_B);
	cmos_wr(w, RTC_REG_B, save_control | 0x80);
	assert_int_equal(cmos_rd(w, RTC_REG_B), 0x82); /* UIE cleared by SET */
	uint8_t save_freq = cmos_rd(w, RTC_REG_A);
	cmos_wr(w, RTC_REG_A, save_freq | 0x70);
	/* halted: the bytes hold the time of the halt and do not move */
	w->now += 10 * NS;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x58);
	/* 2031-12-31 12:34:56 */
	cmos_wr(w, RTC_YEAR, 0x31);
	cmos_wr(w, RTC_MONTH, 0x12);
	cmos_wr(w, RTC_DAY_OF_MONTH, 0x31);
	cmos_wr(w, RTC_HOURS, 0x12);
	cmos_wr(w, RTC_MINUTES, 0x34);
	cmos_wr(w, RTC_SECONDS, 0x56);
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x56);
	cmos_wr(w, RTC_REG_B, 0x02); /* still halted: DV in reset */
	w->now += NS;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x56);
	cmos_wr(w, RTC_REG_A, save_freq); /* divider out of reset: first update 0.5 s later */
	uint64_t t = w->now;
	w->now = t + NS / 2 - 1;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x56);
	w->now = t + NS / 2;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x57);
	assert_int_equal(cmos_rd(w, RTC_MINUTES), 0x34);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x12);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_MONTH), 0x31);
	assert_int_equal(cmos_rd(w, RTC_MONTH), 0x12);
	assert_int_equal(cmos_rd(w, RTC_YEAR), 0x31);
	assert_int_equal(cmos_rd(w, RTC_CENTURY), 0x20);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_WEEK), 0x04); /* Wednesday */
	w->now = t + NS / 2 + (11 * 3600 + 25 * 60 + 3) * NS; /* 2032-01-01 00:00:00 */
	assert_int_equal(cmos_rd(w, RTC_YEAR), 0x32);
	assert_int_equal(cmos_rd(w, RTC_MONTH), 0x01);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_MONTH), 0x01);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x00);
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x00);

	/* SET alone: the update comes a full second after SET is cleared */
	cmos_wr(w, RTC_REG_B, 0x82);
	cmos_wr(w, RTC_SECONDS, 0x10);
	cmos_wr(w, RTC_CENTURY, 0x21); /* 2132 */
	cmos_wr(w, RTC_REG_B, 0x02);
	t = w->now;
	w->now = t + NS - 1;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x10);
	w->now = t + NS;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x11);
	assert_int_equal(cmos_rd(w, RTC_CENTURY), 0x21);
	assert_int_equal(cmos_rd(w, RTC_YEAR), 0x32);

	/* a leap day set field by field while halted is not normalised early */
	cmos_wr(w, RTC_REG_B, 0x82);
	cmos_wr(w, RTC_CENTURY, 0x20);
	cmos_wr(w, RTC_DAY_OF_MONTH, 0x29);
	cmos_wr(w, RTC_MONTH, 0x02);
	cmos_wr(w, RTC_YEAR, 0x28);
	cmos_wr(w, RTC_REG_B, 0x02);
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_MONTH), 0x29);
	assert_int_equal(cmos_rd(w, RTC_MONTH), 0x02);
	assert_int_equal(cmos_rd(w, RTC_YEAR), 0x28);
	struct rtc_stats st;
	rtc_get_stats(w->r, &st);
	assert_int_equal(st.nr_time_sets, 3);
}

/* A write to a time byte while the clock runs moves the time and keeps the phase */
static void test_set_time_running(void **state)
{
	struct world *w = *state;
	cmos_wr(w, RTC_MINUTES, 0x15); /* 23:15:58.5 */
	assert_int_equal(cmos_rd(w, RTC_MINUTES), 0x15);
	assert_int_equal(cmos_rd(w, RTC_HOURS), 0x23);
	w->now = MONO0 + NS / 2;
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0x59);
	cmos_wr(w, RTC_DAY_OF_WEEK, 0x01); /* ignored: derived from the date */
	assert_int_equal(cmos_rd(w, RTC_DAY_OF_WEEK), 0x05);
	cmos_wr(w, RTC_REG_C, 0xff); /* read-only */
	cmos_wr(w, RTC_REG_D, 0x00);
	assert_int_equal(cmos_rd(w, RTC_REG_D), 0x80);
}

/* Register C: PF at the RS rate (set whether or not PIE is), UF at each update, IRQF when an
 * enabled flag is set; all cleared by reading C; IRQ8 follows IRQF. */
static void test_periodic(void **state)
{
	struct world *w = *state;
	/* RS = 6: 1024 Hz, 32 ticks = 976562.5 ns; the chain is in phase with the second,
	 * which began at MONO0 - 0.5 s */
	uint64_t sec0 = MONO0 - NS / 2;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	/* creation was at period 512 (0.5 s); period 513 begins at ceil(513 * 976562.5) ns */
	w->now = sec0 + 500976562;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	w->now = sec0 + 500976563;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x40); /* PF without PIE: no IRQF */
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	cmos_wr(w, RTC_REG_B, 0x42); /* PIE */
	/* next period: 514 * 976562.5 = 501953125 ns */
	assert_int_equal(w->deadline, sec0 + 501953125);
	assert_int_equal(w->level, 0);
	fire(w, w->deadline);
	assert_int_equal(w->level, 1);
	assert_int_equal(w->deadline, UINT64_MAX); /* PF pending: nothing more to wait for */
	w->now = sec0 + NS + 100;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0xc0 | 0x10); /* IRQF PF, and UF (new second) */
	assert_int_equal(w->level, 0);
	assert_int_equal(w->deadline, sec0 + NS + 976563); /* the first period of the next second */
	/* RS = 15: 2 Hz; RS = 3: 8192 Hz (4 ticks = 122070.3125 ns); RS = 1: as RS 8 (256 Hz) */
	cmos_wr(w, RTC_REG_A, 0x2f);
	assert_int_equal(w->deadline, sec0 + NS + NS / 2);
	cmos_wr(w, RTC_REG_A, 0x23);
	assert_int_equal(w->deadline, sec0 + NS + 122071);
	cmos_wr(w, RTC_REG_A, 0x21);
	assert_int_equal(w->deadline, sec0 + NS + 3906250);
	cmos_wr(w, RTC_REG_A, 0x20); /* RS = 0: no periodic interrupt */
	assert_int_equal(w->deadline, UINT64_MAX);
	w->now += NS / 4;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	/* enabling PIE while PF is already set raises IRQF at once */
	cmos_wr(w, RTC_REG_B, 0x02);
	cmos_wr(w, RTC_REG_A, 0x26);
	w->now += NS / 100;
	cmos_wr(w, RTC_REG_B, 0x42);
	assert_int_equal(w->level, 1);
	assert_int_equal(cmos_rd(w, RTC_REG_C) & 0xc0, 0xc0);
	/* divider in reset: no periodic flag */
	cmos_wr(w, RTC_REG_A, 0x66);
	w->now += NS / 100;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	assert_int_equal(w->deadline, UINT64_MAX);
}

/* UF and the update-ended interrupt; AF with exact and don't-care alarm bytes */
static void test_update_and_alarm(void **state)
{
	struct world *w = *state;
	uint64_t next = MONO0 + NS / 2; /* 23:59:59 */
	cmos_wr(w, RTC_REG_A, 0x20); /* RS = 0: no PF to mask the other flags */
	cmos_wr(w, RTC_REG_B, 0x12); /* UIE */
	assert_int_equal(w->deadline, next);
	fire(w, next);
	assert_int_equal(w->level, 1);
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x90);
	assert_int_equal(w->level, 0);
	assert_int_equal(w->deadline, next + NS);
	/* alarm at 00:00:01 (BCD), AIE only */
	cmos_wr(w, RTC_SECONDS_ALARM, 0x01);
	cmos_wr(w, RTC_MINUTES_ALARM, 0x00);
	cmos_wr(w, RTC_HOURS_ALARM, 0x00);
	cmos_wr(w, RTC_REG_B, 0x22);
	fire(w, next + NS); /* 00:00:00 */
	assert_int_equal(w->level, 0);
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x10); /* UF only */
	fire(w, next + 2 * NS); /* 00:00:01 */
	assert_int_equal(w->level, 1);
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0xb0);
	/* don't care hours and minutes (0xc0-0xff): every minute at second 30 */
	cmos_wr(w, RTC_SECONDS_ALARM, 0x30);
	cmos_wr(w, RTC_MINUTES_ALARM, 0xc0);
	cmos_wr(w, RTC_HOURS_ALARM, 0xff);
	w->now = next + 30 * NS; /* 00:00:29 */
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x10);
	w->now = next + 31 * NS; /* 00:00:30 */
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0xb0);
	/* a long gap without accesses still finds the alarm: 00:05:00 .. 01:10:00 */
	w->now = next + 3600 * NS + 10 * 60 * NS;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0xb0);
	/* all don't care: every second */
	cmos_wr(w, RTC_SECONDS_ALARM, 0xc0);
	w->now += NS;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0xb0);
	/* halted: no updates, no alarm */
	cmos_wr(w, RTC_REG_B, 0xa2);
	w->now += 5 * NS;
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	assert_int_equal(w->deadline, UINT64_MAX);
	struct rtc_stats st;
	rtc_get_stats(w->r, &st);
	assert_int_equal(st.nr_irqs, 2);
}

/* Linux's mc146818_get_time: read seconds, check UIP (retry while set), read the rest, check
 * UIP and seconds again. Here the read begins inside the UIP window. */
static void test_linux_read_loop(void **state)
{
	struct world *w = *state;
	w->now = MONO0 + NS / 2 - 100000; /* 100 us before the update: UIP */
	unsigned tries = 0;
	uint8_t sec, min, hour, day, mon, year, century;
	for (;;) {
		tries++;
		assert_true(tries < 10);
		assert_int_equal(cmos_rd(w, RTC_REG_D) & 0x40, 0);
		sec = cmos_rd(w, RTC_SECONDS);
		if (cmos_rd(w, RTC_REG_A) & 0x80) {
			w->now += 1000000; /* mdelay(1) */
			continue;
		}
		min = cmos_rd(w, RTC_MINUTES);
		hour = cmos_rd(w, RTC_HOURS);
		day = cmos_rd(w, RTC_DAY_OF_MONTH);
		mon = cmos_rd(w, RTC_MONTH);
		year = cmos_rd(w, RTC_YEAR);
		century = cmos_rd(w, RTC_CENTURY);
		bool retry = cmos_rd(w, RTC_REG_A) & 0x80;
		retry |= sec != cmos_rd(w, RTC_SECONDS);
		if (!retry)
			break;
	}
	assert_int_equal(tries, 2);
	assert_int_equal(sec, 0x59);
	assert_int_equal(min, 0x59);
	assert_int_equal(hour, 0x23);
	assert_int_equal(day, 0x29);
	assert_int_equal(mon, 0x02);
	assert_int_equal(year, 0x24);
	assert_int_equal(century, 0x20);
}

static void test_nmi_and_ram(void **state)
{
	struct world *w = *state;
	assert_false(rtc_nmi_disabled(w->r));
	rtc_io_write(w->r, 0, 0x80 | 0x40, w->now);
	assert_true(rtc_nmi_disabled(w->r));
	rtc_io_write(w->r, 1, 0xab, w->now); /* index 0x40 */
	rtc_io_write(w->r, 0, 0x40, w->now);
	assert_false(rtc_nmi_disabled(w->r));
	assert_int_equal(rtc_io_read(w->r, 1, w->now), 0xab);
	/* every RAM byte keeps every value */
	for (unsigned i = 0x0e; i < 128; i++) {
		if (i == RTC_CENTURY)
			continue;
		cmos_wr(w, (uint8_t)i, (uint8_t)(i * 7 + 1));
	}
	for (unsigned i = 0x0e; i < 128; i++) {
		if (i == RTC_CENTURY)
			continue;
		assert_int_equal(cmos_rd(w, (uint8_t)i), (uint8_t)(i * 7 + 1));
		assert_int_equal(rtc_cmos_read(w->r, (uint8_t)(i | 0x80), w->now),
				 (uint8_t)(i * 7 + 1));
	}
}

static void test_mem_size(void **state)
{
	struct world *w = *state;
	rtc_set_mem_size(w->r, 512ull << 20, 2ull << 30);
	assert_int_equal(cmos_rd(w, 0x15), 0x80); /* 640 KiB */
	assert_int_equal(cmos_rd(w, 0x16), 0x02);
	assert_int_equal(cmos_rd(w, 0x17), 0xff); /* 511 MiB in KiB, capped at 0xffff */
	assert_int_equal(cmos_rd(w, 0x18), 0xff);
	assert_int_equal(cmos_rd(w, 0x30), 0xff);
	assert_int_equal(cmos_rd(w, 0x31), 0xff);
	assert_int_equal(cmos_rd(w, 0x34), 0x00); /* (512 - 16) MiB / 64 KiB = 0x1f00 */
	assert_int_equal(cmos_rd(w, 0x35), 0x1f);
	assert_int_equal(cmos_rd(w, 0x5b), 0x00); /* 2 GiB / 64 KiB = 0x8000 */
	assert_int_equal(cmos_rd(w, 0x5c), 0x80);
	assert_int_equal(cmos_rd(w, 0x5d), 0x00);
	rtc_set_mem_size(w->r, 8ull << 20, 0);
	assert_int_equal(cmos_rd(w, 0x17), 0x00); /* 7 MiB = 7168 KiB = 0x1c00 */
	assert_int_equal(cmos_rd(w, 0x18), 0x1c);
	assert_int_equal(cmos_rd(w, 0x34), 0x00);
	assert_int_equal(cmos_rd(w, 0x35), 0x00);
	assert_int_equal(cmos_rd(w, 0x5c), 0x00);
	rtc_set_mem_size(w->r, 3ull << 30, 1ull << 40);
	assert_int_equal(cmos_rd(w, 0x34), 0x00); /* (3 GiB - 16 MiB) / 64 KiB = 0xbf00 */
	assert_int_equal(cmos_rd(w, 0x35), 0xbf);
	assert_int_equal(cmos_rd(w, 0x5b), 0xff); /* 1 TiB / 64 KiB = 0x1000000: capped */
	assert_int_equal(cmos_rd(w, 0x5c), 0xff);
	assert_int_equal(cmos_rd(w, 0x5d), 0xff);
}

/* Through the bus, every port, size and value; invariants hold and nothing crashes */
static void test_hostile(void **state)
{
	struct world *w = *state;
	struct bus *bus = bus_create();
	assert_non_null(bus);
	assert_int_equal(rtc_register(w->r, bus, RTC_BASE, NULL), 0);
	uint8_t d[4];
	/* outw 0x70: index 0x0d, then the data byte 0x55 (ignored: D is read-only) */
	bus_data_put(d, 2, 0x550d);
	assert_int_equal(bus_pio_write(bus, 0x70, d, 2), 0);
	assert_int_equal(bus_pio_read(bus, 0x70, d, 2), 0);
	assert_int_equal(bus_data_get(d, 2), 0x80ff);
	assert_int_equal(bus_pio_read(bus, 0x71, d, 4), BUS_UNASSIGNED | BUS_SPLIT);
	uint32_t x = 99;
	for (int i = 0; i < 100000; i++) {
		x = x * 1103515245u + 12345u;
		bus_data_put(d, 4, x * 2654435761u);
		unsigned len = 1u << ((x >> 9) % 3);
		uint16_t port = (uint16_t)(0x70 + ((x >> 13) & 1));
		if (x & 0x80000000u)
			bus_pio_write(bus, port, d, len);
		else
			bus_pio_read(bus, port, d, len);
		if ((x & 0xff) < 8) {
			w->now += (x >> 4) & 0xfffffff;
			if (w->now >= w->deadline)
				w->deadline = UINT64_MAX; /* the host timer fired */
			rtc_timer(w->r, w->now);
		}
		if ((i & 511) == 0) {
			assert_int_equal(cmos_rd(w, RTC_REG_D), 0x80);
			uint8_t c = cmos_rd(w, RTC_REG_C);
			assert_int_equal(c & 0x0f, 0);
			assert_int_equal(rtc_irq_level(w->r), 0);
			if (w->deadline != UINT64_MAX)
				assert_true(w->deadline >= w->now);
		}
	}
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	rtc_print_stats(w->r, f);
	fclose(f);
	assert_non_null(strstr(text, "rtc: "));
	free(text);
	bus_destroy(bus);
}

/* RESET pin: interrupt enables and flags cleared, time and RAM kept */
static void test_reset_pin(void **state)
{
	struct world *w = *state;
	cmos_wr(w, 0x40, 0x99);
	cmos_wr(w, RTC_REG_B, 0x7e); /* PIE AIE UIE SQWE DM 24h */
	fire(w, w->now + 2 * NS);
	assert_int_equal(w->level, 1);
	rtc_reset(w->r);
	assert_int_equal(w->level, 0);
	assert_int_equal(w->deadline, UINT64_MAX);
	assert_int_equal(cmos_rd(w, RTC_REG_B), 0x06);
	assert_int_equal(cmos_rd(w, RTC_REG_C), 0x00);
	assert_int_equal(cmos_rd(w, 0x40), 0x99);
	assert_int_equal(cmos_rd(w, RTC_MINUTES), 0); /* 00:00:00.5 in binary */
	assert_int_equal(cmos_rd(w, RTC_SECONDS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_bcd_and_rollover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time_linux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_alarm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_read_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nmi_and_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
