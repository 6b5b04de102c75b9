/* SPDX-License-Identifier: MIT */
/*
 * ACPI PM1 event/control registers, PM timer and the RST_CNT reset register.
 * Behaviour and spec references: include/omnivisor/hw/acpi_pm.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "omnivisor/acpi.h"
#include "omnivisor/bus.h"
#include "omnivisor/hw/acpi_pm.h"
#include "omnivisor/log.h"

#define STS_MASK (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_RTC | ACPI_PM1_WAK_STS)
#define EN_MASK (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_RTC)
#define CNT_RW (ACPI_PM1_SCI_EN | ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP)
#define RST_RW (ACPI_RST_SYS_RST | ACPI_RST_FULL_RST)
/* TMR_VAL_EXT: TMR_STS follows bit 31 of the 32-bit counter (ACPI 6.0 4.8.3.3) */
#define TMR_MSB_SHIFT 31

struct acpi_pm {
	pthread_mutex_t lock;
	struct acpi_pm_config cfg;
	unsigned s5;

	uint16_t sts, en, cnt;
	uint8_t rst_cnt;
	uint64_t origin_ns; /* PM timer = 0 here */
	uint64_t tmr_epoch; /* ticks >> 31 when TMR_STS was last latched */
	uint64_t armed_ns;  /* deadline given to cfg.arm, UINT64_MAX = none */
	bool sci_level;

	struct acpi_pm_stats st;
};

static uint64_t ticks_at(const struct acpi_pm *pm, uint64_t now_ns)
{
	if (now_ns <= pm->origin_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(now_ns - pm->origin_ns) * ACPI_PM_TIMER_HZ /
			  1000000000u);
}

/* the first time at which ticks_at() >= @ticks */
static uint64_t time_of_tick(const struct acpi_pm *pm, uint64_t ticks)
{
	unsigned __int128 ns = ((unsigned __int128)ticks * 1000000000u + ACPI_PM_TIMER_HZ - 1) /
			       ACPI_PM_TIMER_HZ;
	ns += pm->origin_ns;
	return ns >= UINT64_MAX ? UINT64_MAX - 1 : (uint64_t)ns;
}

/* Latch TMR_STS for MSB changes up to @now_ns, recompute the SCI, (re)arm. Lock held. */
static void update(struct acpi_pm *pm, uint64_t now_ns)
{
	uint64_t epoch = ticks_at(pm, now_ns) >> TMR_MSB_SHIFT;
	if (epoch != pm->tmr_epoch) {
		pm->tmr_epoch = epoch;
		pm->sts |= ACPI_PM1_TMR;
	}
	bool level = (pm->cnt & ACPI_PM1_SCI_EN) && (pm->sts & pm->en & EN_MASK);
	if (level != pm->sci_level) {
		pm->sci_level = level;
		if (level)
			pm->st.nr_sci++;
		irq_set(&pm->cfg.sci, level);
	}
	uint64_t want = UINT64_MAX;
	if ((pm->en & ACPI_PM1_TMR) && !(pm->sts & ACPI_PM1_TMR))
		want = time_of_tick(pm, (epoch + 1) << TMR_MSB_SHIFT);
	if (want != pm->armed_ns && pm->cfg.arm) {
		pm->armed_ns = want;
		pm->cfg.arm(pm->cfg.arm_opaque, want);
	}
}

static void reset_locked(struct acpi_pm *pm, uint64_t now_ns)
{
	pm->sts = 0;
	pm->en = 0;
	pm->cnt = ACPI_PM1_SCI_EN;
	pm->rst_cnt = 0;
	pm->origin_ns = now_ns;
	pm->tmr_epoch = 0;
	update(pm, now_ns);
}

struct acpi_pm *acpi_pm_create(const struct acpi_pm_config *cfg)
{
	if (!cfg || !cfg->clock_ns) {
		errno = EINVAL;
		return NULL;
	}
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&pm->lock, NULL);
	pm->cfg = *cfg;
	pm->s5 = cfg->s5_sleep_type ? cfg->s5_sleep_type : ACPI_SLP_TYP_S5;
	pm->armed_ns = UINT64_MAX;
	pm->sci_level = false;
	reset_locked(pm, cfg->clock_ns(cfg->clock_opaque));
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

void acpi_pm_reset(struct acpi_pm *pm, uint64_t now_ns)
{
	pthread_mutex_lock(&pm->lock);
	reset_locked(pm, now_ns);
	pthread_mutex_unlock(&pm->lock);
}

/* The byte at @off of the block. Lock held, update() done. */
static uint8_t read_byte(struct acpi_pm *pm, unsigned off, uint32_t tmr)
{
	switch (off) {
	case 0:
	case 1:
		return (uint8_t)((pm->sts & STS_MASK) >> (8 * off));
	case 2:
	case 3:
		return (uint8_t)((pm->en & EN_MASK) >> (8 * (off - 2)));
	case 4:
	case 5:
		return (uint8_t)((pm->cnt & CNT_RW) >> (8 * (off - 4)));
	case 8:
	case 9:
	case 10:
	case 11:
		return (uint8_t)(tmr >> (8 * (off - 8)));
	default:
		return 0xff;
	}
}

uint32_t acpi_pm_read(struct acpi_pm *pm, unsigned offset, unsigned len, uint64_t now_ns)
{
	uint32_t v = 0;
	if (len > 4)
		len = 4;
	pthread_mutex_lock(&pm->lock);
	pm->st.nr_reads++;
	update(pm, now_ns);
	uint32_t tmr = (uint32_t)ticks_at(pm, now_ns);
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)read_byte(pm, offset + i, tmr) << (8 * i);
	pthread_mutex_unlock(&pm->lock);
	return v;
}

/* The bits of the 16-bit register at @reg that a write of @len bytes at @offset covers, and
 * their values: *@mask, return value. */
static uint16_t reg_part(unsigned reg, unsigned offset, unsigned len, uint32_t value,
			 uint16_t *mask)
{
	uint16_t v = 0;
	*mask = 0;
	for (unsigned i = 0; i < len; i++) {
		unsigned off = offset + i;
		if (off >= reg && off < reg + 2) {
			unsigned sh = 8 * (off - reg);
			v |= (uint16_t)(((value >> (8 * i)) & 0xff) << sh);
			*mask |= (uint16_t)(0xff << sh);
		}
	}
	return v;
}

void acpi_pm_write(struct acpi_pm *pm, unsigned offset, unsigned len, uint32_t value,
		   uint64_t now_ns)
{
	uint16_t m, v;
	bool poweroff = false;

	if (len > 4)
		len = 4;
	pthread_mutex_lock(&pm->lock);
	pm->st.nr_writes++;
	update(pm, now_ns); /* latch TMR_STS first: a clear then sticks for this event */

	v = reg_part(ACPI_PM1_STS, offset, len, value, &m);
	pm->sts &= (uint16_t)~(v & m & STS_MASK); /* write 1 to clear (4.8.3.1.1) */

	v = reg_part(ACPI_PM1_EN, offset, len, value, &m);
	pm->en = (uint16_t)((pm->en & ~m) | (v & m & EN_MASK));

	v = reg_part(ACPI_PM1_CNT, offset, len, value, &m);
	if (m) {
		pm->cnt = (uint16_t)((pm->cnt & ~(m & CNT_RW)) | (v & m & CNT_RW));
		if (v & m & ACPI_PM1_SLP_EN) {
			/* 4.8.3.2.1: SLP_EN = 1 enters the state SLP_TYP selects */
			unsigned typ = (pm->cnt & ACPI_PM1_SLP_TYP) >> ACPI_PM1_SLP_TYP_SHIFT;
			if (typ == pm->s5) {
				pm->st.nr_poweroff++;
				poweroff = true;
			} else {
				pm->st.nr_bad_sleep++;
				pr_debug("acpi_pm: sleep type %u requested: not supported, ignored",
					 typ);
			}
		}
	}
	/* PM_TMR is read-only; the bytes at +6/+7 are unassigned */
	update(pm, now_ns);
	pthread_mutex_unlock(&pm->lock);
	if (poweroff && pm->cfg.poweroff)
		pm->cfg.poweroff(pm->cfg.poweroff_opaque);
}

uint32_t acpi_pm_timer_value(struct acpi_pm *pm, uint64_t now_ns)
{
	pthread_mutex_lock(&pm->lock);
	uint32_t v = (uint32_t)ticks_at(pm, now_ns);
	pthread_mutex_unlock(&pm->lock);
	return v;
}

void acpi_pm_timer(struct acpi_pm *pm, uint64_t now_ns)
{
	pthread_mutex_lock(&pm->lock);
	pm->armed_ns = UINT64_MAX; /* the deadline fired: re-arm if still wanted */
	update(pm, now_ns);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_power_button(struct acpi_pm *pm, uint64_t now_ns)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= ACPI_PM1_PWRBTN;
	update(pm, now_ns);
	pthread_mutex_unlock(&pm->lock);
}

uint8_t acpi_pm_rst_cnt_read(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->st.nr_reads++;
	uint8_t v = pm->rst_cnt & RST_RW;
	pthread_mutex_unlock(&pm->lock);
	return v;
}

void acpi_pm_rst_cnt_write(struct acpi_pm *pm, uint8_t value)
{
	pthread_mutex_lock(&pm->lock);
	pm->st.nr_writes++;
	pm->rst_cnt = value & RST_RW;
	bool reset = value & ACPI_RST_CPU;
	if (reset)
		pm->st.nr_reset++;
	pthread_mutex_unlock(&pm->lock);
	if (reset && pm->cfg.reset)
		pm->cfg.reset(pm->cfg.reset_opaque);
}

/* ---- bus glue ---- */

static uint64_t now(struct acpi_pm *pm)
{
	return pm->cfg.clock_ns(pm->cfg.clock_opaque);
}

static void pm_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	bus_data_put(data, len, acpi_pm_read(pm, (unsigned)offset, len, now(pm)));
}

static void pm_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	acpi_pm_write(pm, (unsigned)offset, len, (uint32_t)bus_data_get(data, len), now(pm));
}

static const struct bus_ops acpi_pm_ops = {
	.read = pm_bus_read,
	.write = pm_bus_write,
};

static void rst_bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0xff, len);
	if (offset == 0)
		((uint8_t *)data)[0] = acpi_pm_rst_cnt_read(opaque);
}

static void rst_bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	if (offset == 0 && len >= 1)
		acpi_pm_rst_cnt_write(opaque, ((const uint8_t *)data)[0]);
}

static const struct bus_ops acpi_pm_rst_ops = {
	.read = rst_bus_read,
	.write = rst_bus_write,
};

int acpi_pm_register(struct acpi_pm *pm, struct bus *bus, uint16_t base, struct bus_dev **devp)
{
	return bus_register_pio(bus, base, ACPI_PM_LEN, &acpi_pm_ops, pm, "acpi-pm", devp);
}

int acpi_pm_register_reset(struct acpi_pm *pm, struct bus *bus, uint16_t port,
			   struct bus_dev **devp)
{
	return bus_register_pio(bus, port, 1, &acpi_pm_rst_ops, pm, "acpi-rst-cnt", devp);
}

void acpi_pm_get_stats(struct acpi_pm *pm, struct acpi_pm_stats *st)
{
	pthread_mutex_lock(&pm->lock);
	*st = pm->st;
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_print_stats(struct acpi_pm *pm, FILE *f)
{
	struct acpi_pm_stats st;
	acpi_pm_get_stats(pm, &st);
	fprintf(f,
		"acpi-pm: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " SCIs, %" PRIu64
		" poweroffs, %" PRIu64 " resets, %" PRIu64 " unsupported sleeps\n",
		st.nr_reads, st.nr_writes, st.nr_sci, st.nr_poweroff, st.nr_reset,
		st.nr_bad_sleep);
}
