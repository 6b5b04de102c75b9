/* SPDX-License-Identifier: MIT */
/*
 * CMOS real-time clock, Motorola MC146818A. Interface, model and limits:
 * include/omnivisor/hw/rtc.h.
 *
 * The running clock is kept as an epoch: at CLOCK_MONOTONIC time epoch_mono the guest time was
 * epoch_sec seconds (Unix) plus epoch_frac ns into that second. The divider chain (32768 Hz
 * ticks, which drive the periodic flag and the one-second update) is in phase with it. Flags in
 * register C are brought up to date ("catch up") at every entry from the time that passed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/rtc.h"

#define NS_PER_SEC 1000000000ull
#define TICK_HZ 32768 /* the time base with DV = 010 */

/* Register A (MC146818A "Register A") */
#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_DV_NORMAL 0x20 /* 010: 32.768 kHz time base, divider running */
#define A_DV_RESET 0x60	 /* 11x: divider chain held in reset */
#define A_RS_MASK 0x0f

/* Register B */
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define B_DSE 0x01

/* Register C */
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

/* Register D */
#define D_VRT 0x80

/* "Update cycle": UIP rises 244 us (8 ticks) before the update. frac >= 1 s - 1 s / 4096. */
#define UIP_WINDOW_NUM 4095ull
#define UIP_WINDOW_DEN 4096ull

struct rtc {
	pthread_mutex_t lock;
	struct rtc_config cfg;

	uint8_t cmos[RTC_CMOS_SIZE]; /* RAM, A, B, alarms; the time bytes only while halted */
	uint8_t index;
	bool nmi_disabled;
	uint8_t flags; /* register C PF | AF | UF */

	int64_t epoch_sec;
	uint64_t epoch_frac, epoch_mono;
	int64_t last_sec;   /* the last second whose update has been accounted for */
	uint64_t last_pidx; /* the last periodic-interrupt period accounted for */

	uint64_t deadline;
	int irq_level;
	struct rtc_stats st;
};

/* ---- clock state, with the lock held ---- */

static bool div_running(const struct rtc *r)
{
	return (r->cmos[RTC_REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

/* the clock counts (updates happen) */
static bool running(const struct rtc *r)
{
	return div_running(r) && !(r->cmos[RTC_REG_B] & B_SET);
}

/* ns since the start of second epoch_sec */
static uint64_t total_ns(const struct rtc *r, uint64_t now)
{
	return r->epoch_frac + (now >= r->epoch_mono ? now - r->epoch_mono : 0);
}

static int64_t guest_sec(const struct rtc *r, uint64_t now)
{
	return r->epoch_sec + (int64_t)(total_ns(r, now) / NS_PER_SEC);
}

/* Periodic interrupt rate ("Table 5" in the datasheet, 32.768 kHz time base): the period in
 * ticks is 1 << shift. RS 1 and 2 give the rates of RS 8 and 9. 0: none. */
static unsigned pf_shift(const struct rtc *r)
{
	unsigned rs = r->cmos[RTC_REG_A] & A_RS_MASK;
	if (rs == 0)
		return 0;
	return rs < 3 ? rs + 6 : rs - 1;
}

static uint64_t pidx_of(const struct rtc *r, uint64_t now)
{
	unsigned shift = pf_shift(r);
	if (!shift)
		return 0;
	unsigned __int128 ticks = (unsigned __int128)total_ns(r, now) * TICK_HZ / NS_PER_SEC;
	return (uint64_t)(ticks >> shift);
}

static bool binary(const struct rtc *r)
{
	return r->cmos[RTC_REG_B] & B_DM_BINARY;
}

static uint8_t enc(const struct rtc *r, unsigned v)
{
	if (binary(r))
		return (uint8_t)v;
	v %= 100;
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static unsigned dec(const struct rtc *r, uint8_t b)
{
	if (binary(r))
		return b;
	return (b >> 4) * 10u + (b & 0xfu);
}

/* "Time, calendar and alarm locations": 12-hour mode is 1-12 with bit 7 = PM */
static uint8_t enc_hours(const struct rtc *r, unsigned h)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return enc(r, h);
	unsigned h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hours(const struct rtc *r, uint8_t b)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return dec(r, b);
	return dec(r, b & 0x7f) % 12 + ((b & 0x80) ? 12 : 0);
}

static void to_tm(int64_t sec, struct tm *tm)
{
	time_t t = (time_t)sec;
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

static bool is_time_byte(unsigned index)
{
	return index == RTC_SECONDS || index == RTC_MINUTES || index == RTC_HOURS ||
	       (index >= RTC_DAY_OF_WEEK && index <= RTC_YEAR) || index == RTC_CENTURY;
}

/* The time byte @index for the broken-down time @tm, in the current format. */
static uint8_t time_byte(const struct rtc *r, unsigned index, const struct tm *tm)
{
	long year = tm->tm_year + 1900L;
	switch (index) {
	case RTC_SECONDS:
		return enc(r, (unsigned)tm->tm_sec);
	case RTC_MINUTES:
		return enc(r, (unsigned)tm->tm_min);
	case RTC_HOURS:
		return enc_hours(r, (unsigned)tm->tm_hour);
	case RTC_DAY_OF_WEEK:
		return enc(r, (unsigned)tm->tm_wday + 1); /* Sunday = 1 */
	case RTC_DAY_OF_MONTH:
		return enc(r, (unsigned)tm->tm_mday);
	case RTC_MONTH:
		return enc(r, (unsigned)tm->tm_mon + 1);
	case RTC_YEAR:
		return enc(r, (unsigned)(year % 100));
	case RTC_CENTURY:
		return enc(r, (unsigned)(year / 100));
	}
	return 0;
}

/* Put the time byte @val at @index into @tm (not normalised). */
static void set_tm_field(const struct rtc *r, struct tm *tm, unsigned index, uint8_t val)
{
	long year = tm->tm_year + 1900L;
	switch (index) {
	case RTC_SECONDS:
		tm->tm_sec = (int)dec(r, val);
		break;
	case RTC_MINUTES:
		tm->tm_min = (int)dec(r, val);
		break;
	case RTC_HOURS:
		tm->tm_hour = (int)dec_hours(r, val);
		break;
	case RTC_DAY_OF_MONTH:
		tm->tm_mday = (int)dec(r, val);
		break;
	case RTC_MONTH:
		tm->tm_mon = (int)dec(r, val) - 1;
		break;
	case RTC_YEAR:
		tm->tm_year = (int)(year / 100 * 100 + dec(r, val) % 100 - 1900);
		break;
	case RTC_CENTURY:
		tm->tm_year = (int)(dec(r, val) * 100L + year % 100 - 1900);
		break;
	}
	/* RTC_DAY_OF_WEEK: derived from the date; nothing to set */
}

/* (Re)start the clock at guest time @sec + @frac_ns, at monotonic time @now. */
static void set_epoch(struct rtc *r, int64_t sec, uint64_t frac_ns, uint64_t now)
{
	r->epoch_sec = sec;
	r->epoch_frac = frac_ns;
	r->epoch_mono = now;
	r->last_sec = sec;
	r->last_pidx = pidx_of(r, now);
}

/* Halting: the time bytes become storage holding the time of now. */
static void capture_time(struct rtc *r, uint64_t now)
{
	struct tm tm;
	to_tm(guest_sec(r, now), &tm);
	static const uint8_t idx[] = { RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK,
				       RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY };
	for (size_t i = 0; i < sizeof(idx); i++)
		r->cmos[idx[i]] = time_byte(r, idx[i], &tm);
}

/* Restarting: the clock starts from the time bytes. */
static void resume_time(struct rtc *r, uint64_t frac_ns, uint64_t now)
{
	struct tm tm = { .tm_mday = 1 };
	to_tm(0, &tm);
	set_tm_field(r, &tm, RTC_CENTURY, r->cmos[RTC_CENTURY]);
	set_tm_field(r, &tm, RTC_YEAR, r->cmos[RTC_YEAR]);
	set_tm_field(r, &tm, RTC_MONTH, r->cmos[RTC_MONTH]);
	set_tm_field(r, &tm, RTC_DAY_OF_MONTH, r->cmos[RTC_DAY_OF_MONTH]);
	set_tm_field(r, &tm, RTC_HOURS, r->cmos[RTC_HOURS]);
	set_tm_field(r, &tm, RTC_MINUTES, r->cmos[RTC_MINUTES]);
	set_tm_field(r, &tm, RTC_SECONDS, r->cmos[RTC_SECONDS]);
	tm.tm_isdst = 0;
	set_epoch(r, (int64_t)timegm(&tm), frac_ns, now);
	r->st.nr_time_sets++;
}

/* "Interrupts": AF when seconds, minutes and hours equal the alarm bytes; a byte 11xxxxxx is
 * "don't care". Compared in the current format, as the chip compares bytes. */
static bool alarm_match(const struct rtc *r, int64_t sec)
{
	struct tm tm;
	to_tm(sec, &tm);
	static const uint8_t pairs[3][2] = { { RTC_SECONDS, RTC_SECONDS_ALARM },
					     { RTC_MINUTES, RTC_MINUTES_ALARM },
					     { RTC_HOURS, RTC_HOURS_ALARM } };
	for (int i = 0; i < 3; i++) {
		uint8_t alarm = r->cmos[pairs[i][1]];
		if ((alarm & 0xc0) == 0xc0)
			continue;
		if (alarm != time_byte(r, pairs[i][0], &tm))
			return false;
	}
	return true;
}

/* Bring register C up to date with the time that passed. */
static void catch_up(struct rtc *r, uint64_t now)
{
	if (div_running(r)) {
		uint64_t p = pidx_of(r, now);
		if (pf_shift(r) && p != r->last_pidx)
			r->flags |= C_PF; /* set whether or not PIE is */
		r->last_pidx = p;
	}
	if (running(r)) {
		int64_t s = guest_sec(r, now);
		if (s > r->last_sec) {
			r->flags |= C_UF;
			/* one day covers every alarm pattern */
			int64_t t = s - r->last_sec > 86400 ? s - 86399 : r->last_sec + 1;
			for (; t <= s && !(r->flags & C_AF); t++)
				if (alarm_match(r, t))
					r->flags |= C_AF;
			r->last_sec = s;
		}
	}
}

static uint8_t irqf(const struct rtc *r)
{
	return r->flags & r->cmos[RTC_REG_B] & (C_PF | C_AF | C_UF);
}

/* Update the IRQ line and ask for a callback at the next event that would raise it. */
static void sync_out(struct rtc *r, uint64_t now)
{
	int level = irqf(r) != 0;
	if (level != r->irq_level) {
		r->irq_level = level;
		if (level)
			r->st.nr_irqs++;
		irq_set(&r->cfg.irq, level);
	}

	uint64_t d = UINT64_MAX;
	uint8_t b = r->cmos[RTC_REG_B];
	unsigned shift = pf_shift(r);
	if (div_running(r) && shift && (b & B_PIE) && !(r->flags & C_PF)) {
		unsigned __int128 next = (unsigned __int128)(r->last_pidx + 1) << shift;
		unsigned __int128 ns = (next * NS_PER_SEC + TICK_HZ - 1) / TICK_HZ;
		unsigned __int128 at = ns - r->epoch_frac + r->epoch_mono;
		if (at < UINT64_MAX)
			d = (uint64_t)at;
	}
	if (running(r) && (((b & B_UIE) && !(r->flags & C_UF)) || ((b & B_AIE) && !(r->flags & C_AF)))) {
		unsigned __int128 at = ((unsigned __int128)(total_ns(r, now) / NS_PER_SEC) + 1) *
					       NS_PER_SEC -
				       r->epoch_frac + r->epoch_mono;
		if (at < d)
			d = (uint64_t)at;
	}
	if (d != r->deadline) {
		r->deadline = d;
		if (r->cfg.arm)
			r->cfg.arm(r->cfg.arm_opaque, d);
	}
}

/* New register A and B values, with the clock's transitions between running and halted. */
static void set_ab(struct rtc *r, uint8_t a, uint8_t b, uint64_t now)
{
	bool was_run = running(r), was_div = div_running(r);
	uint8_t old_a = r->cmos[RTC_REG_A];
	bool will_div = (a & A_DV_MASK) == A_DV_NORMAL;
	bool will_run = will_div && !(b & B_SET);
	if (was_run && !will_run)
		capture_time(r, now); /* in the format in force until now */
	r->cmos[RTC_REG_A] = a;
	r->cmos[RTC_REG_B] = b;
	/* "Divider chain": the first update comes half a second after leaving reset */
	uint64_t frac = !was_div && will_div ? NS_PER_SEC / 2 : 0;
	if (!was_run && will_run) {
		resume_time(r, frac, now);
	} else if (!was_div && will_div) {
		r->epoch_frac = frac;
		r->epoch_mono = now;
		r->last_pidx = pidx_of(r, now);
	} else if ((old_a ^ a) & A_RS_MASK) {
		r->last_pidx = pidx_of(r, now);
	}
}

static uint8_t reg_read(struct rtc *r, unsigned index, uint64_t now)
{
	uint8_t v;
	struct tm tm;

	switch (index) {
	case RTC_REG_A:
		v = r->cmos[RTC_REG_A];
		if (running(r) && (total_ns(r, now) % NS_PER_SEC) * UIP_WINDOW_DEN >=
					  UIP_WINDOW_NUM * NS_PER_SEC)
			v |= A_UIP;
		return v;
	case RTC_REG_C:
		v = r->flags | (irqf(r) ? C_IRQF : 0);
		r->flags = 0; /* "Register C": all flags are cleared by reading */
		return v;
	case RTC_REG_D:
		return D_VRT;
	}
	if (is_time_byte(index) && running(r)) {
		to_tm(guest_sec(r, now), &tm);
		return time_byte(r, index, &tm);
	}
	return r->cmos[index];
}

static void reg_write(struct rtc *r, unsigned index, uint8_t val, uint64_t now)
{
	uint8_t b;
	struct tm tm;

	switch (index) {
	case RTC_REG_A:
		set_ab(r, val & (uint8_t)~A_UIP, r->cmos[RTC_REG_B], now);
		return;
	case RTC_REG_B:
		b = val;
		/* "Register B": UIE is cleared when SET goes to 1 */
		if ((b & B_SET) && !(r->cmos[RTC_REG_B] & B_SET))
			b &= (uint8_t)~B_UIE;
		set_ab(r, r->cmos[RTC_REG_A], b, now);
		return;
	case RTC_REG_C:
	case RTC_REG_D:
		return; /* read-only */
	}
	if (is_time_byte(index) && running(r)) {
		if (index == RTC_DAY_OF_WEEK)
			return; /* derived from the date */
		uint64_t frac = total_ns(r, now) % NS_PER_SEC;
		to_tm(guest_sec(r, now), &tm);
		set_tm_field(r, &tm, index, val);
		tm.tm_isdst = 0;
		set_epoch(r, (int64_t)timegm(&tm), frac, now);
		r->st.nr_time_sets++;
		return;
	}
	r->cmos[index] = val;
}

/* ---- public interface ---- */

static uint64_t now_of(const struct rtc *r)
{
	return r->cfg.clock_ns ? r->cfg.clock_ns(r->cfg.clock_opaque) : 0;
}

struct rtc *rtc_create(const struct rtc_config *cfg)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL)) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	r->cfg = *cfg;
	r->cmos[RTC_REG_A] = A_DV_NORMAL | 0x06;
	r->cmos[RTC_REG_B] = B_24H;
	r->deadline = UINT64_MAX;
	int64_t t = cfg->host_time_ns ? cfg->host_time_ns(cfg->host_time_opaque)
				      : 946684800ll * (int64_t)NS_PER_SEC;
	int64_t sec = t / (int64_t)NS_PER_SEC, frac = t % (int64_t)NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	set_epoch(r, sec, (uint64_t)frac, now_of(r));
	return r;
}

void rtc_reset(struct rtc *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t now = now_of(r);
	catch_up(r, now);
	r->cmos[RTC_REG_B] &= (uint8_t)~(B_PIE | B_AIE | B_UIE | B_SQWE);
	r->flags = 0;
	sync_out(r, now);
	pthread_mutex_unlock(&r->lock);
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

uint8_t rtc_cmos_read(struct rtc *r, uint8_t index, uint64_t now_ns)
{
	pthread_mutex_lock(&r->lock);
	catch_up(r, now_ns);
	uint8_t v = reg_read(r, index & 0x7f, now_ns);
	sync_out(r, now_ns);
	pthread_mutex_unlock(&r->lock);
	return v;
}

void rtc_cmos_write(struct rtc *r, uint8_t index, uint8_t val, uint64_t now_ns)
{
	pthread_mutex_lock(&r->lock);
	catch_up(r, now_ns);
	reg_write(r, index & 0x7f, val, now_ns);
	sync_out(r, now_ns);
	pthread_mutex_unlock(&r->lock);
}

uint8_t rtc_io_read(struct rtc *r, unsigned offset, uint64_t now_ns)
{
	uint8_t index;

	pthread_mutex_lock(&r->lock);
	r->st.nr_reads++;
	index = r->index;
	pthread_mutex_unlock(&r->lock);
	if (offset != 1)
		return 0xff; /* the index port is write-only */
	return rtc_cmos_read(r, index, now_ns);
}

void rtc_io_write(struct rtc *r, unsigned offset, uint8_t val, uint64_t now_ns)
{
	pthread_mutex_lock(&r->lock);
	r->st.nr_writes++;
	if (offset == 0) {
		r->index = val & 0x7f;
		r->nmi_disabled = val & 0x80;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	uint8_t index = r->index;
	pthread_mutex_unlock(&r->lock);
	if (offset == 1)
		rtc_cmos_write(r, index, val, now_ns);
}

static void put16(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void rtc_set_mem_size(struct rtc *r, uint64_t below_4g_bytes, uint64_t above_4g_bytes)
{
	const uint64_t kib = 1024, mib = 1024 * 1024;
	uint64_t v;

	pthread_mutex_lock(&r->lock);
	v = below_4g_bytes / kib < 640 ? below_4g_bytes / kib : 640;
	put16(&r->cmos[0x15], v);
	v = below_4g_bytes > mib ? (below_4g_bytes - mib) / kib : 0;
	if (v > 0xffff)
		v = 0xffff;
	put16(&r->cmos[0x17], v);
	put16(&r->cmos[0x30], v);
	v = below_4g_bytes > 16 * mib ? (below_4g_bytes - 16 * mib) / (64 * kib) : 0;
	if (v > 0xffff)
		v = 0xffff;
	put16(&r->cmos[0x34], v);
	v = above_4g_bytes / (64 * kib);
	if (v > 0xffffff)
		v = 0xffffff;
	put16(&r->cmos[0x5b], v);
	r->cmos[0x5d] = (uint8_t)(v >> 16);
	pthread_mutex_unlock(&r->lock);
}

void rtc_timer(struct rtc *r, uint64_t now_ns)
{
	pthread_mutex_lock(&r->lock);
	catch_up(r, now_ns);
	if (now_ns >= r->deadline)
		r->deadline = UINT64_MAX; /* the timer fired: it is idle now */
	sync_out(r, now_ns);
	pthread_mutex_unlock(&r->lock);
}

bool rtc_nmi_disabled(struct rtc *r)
{
	pthread_mutex_lock(&r->lock);
	bool v = r->nmi_disabled;
	pthread_mutex_unlock(&r->lock);
	return v;
}

int rtc_irq_level(struct rtc *r)
{
	pthread_mutex_lock(&r->lock);
	int v = r->irq_level;
	pthread_mutex_unlock(&r->lock);
	return v;
}

void rtc_get_stats(struct rtc *r, struct rtc_stats *st)
{
	pthread_mutex_lock(&r->lock);
	*st = r->st;
	pthread_mutex_unlock(&r->lock);
}

void rtc_print_stats(struct rtc *r, FILE *f)
{
	struct rtc_stats st;
	rtc_get_stats(r, &st);
	fprintf(f,
		"rtc: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " irqs, %" PRIu64
		" time sets\n",
		st.nr_reads, st.nr_writes, st.nr_irqs, st.nr_time_sets);
}

/* ---- bus glue ---- */

static void bus_read_cb(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct rtc *r = opaque;
	uint8_t *p = data;
	uint64_t now = now_of(r);
	for (unsigned i = 0; i < len; i++)
		p[i] = rtc_io_read(r, (unsigned)offset + i, now);
}

static void bus_write_cb(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct rtc *r = opaque;
	const uint8_t *p = data;
	uint64_t now = now_of(r);
	for (unsigned i = 0; i < len; i++)
		rtc_io_write(r, (unsigned)offset + i, p[i], now);
}

static const struct bus_ops rtc_bus_ops = {
	.read = bus_read_cb,
	.write = bus_write_cb,
};

int rtc_register(struct rtc *r, struct bus *bus, uint16_t base, struct bus_dev **devp)
{
	return bus_register_pio(bus, base, 2, &rtc_bus_ops, r, "rtc", devp);
}
