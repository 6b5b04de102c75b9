/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ACPI PM register block and RST_CNT (src/hw/acpi_pm.c): reset values
 * (ACPI 6.0 4.8.3), PM timer counts at given times (3.579545 MHz, 32 bits, 4.8.3.3), TMR_STS at
 * each change of bit 31 with the armed deadline, write-1-to-clear status bits (4.8.3.1.1), the
 * SCI level, S5 soft-off through SLP_TYP/SLP_EN (4.8.3.2.1), RST_CNT (ICH9 13.7.5), the hostile
 * guest (every offset and size through the bus), and counters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/layout.h"
#include "omnivisor/bus.h"
#include "omnivisor/hw/acpi_pm.h"

#define T0 1000000000ull /* creation time: the timer counts from here */

struct env {
	struct acpi_pm *pm;
	uint64_t now;
	int sci, nr_sci_calls;
	uint64_t armed;
	int nr_arm;
	int nr_poweroff, nr_reset;
};

static uint64_t clock_ns(void *opaque)
{
	return ((struct env *)opaque)->now;
}

static void sci_set(void *opaque, int n, int level)
{
	struct env *e = opaque;
	assert_int_equal(n, 9);
	e->sci = level;
	e->nr_sci_calls++;
}

static void arm(void *opaque, uint64_t deadline)
{
	struct env *e = opaque;
	e->armed = deadline;
	e->nr_arm++;
}

static void poweroff(void *opaque)
{
	struct env *e = opaque;
	e->nr_poweroff++;
	/* called without the device lock: may call back in */
	acpi_pm_read(e->pm, ACPI_PM1_CNT, 2, e->now);
}

static void reset(void *opaque)
{
	struct env *e = opaque;
	e->nr_reset++;
	acpi_pm_reset(e->pm, e->now);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	e->now = T0;
	e->armed = UINT64_MAX;
	struct acpi_pm_config cfg = {
		.sci = { .set = sci_set, .opaque = e, .n = 9 },
		.clock_ns = clock_ns,
		.clock_opaque = e,
		.arm = arm,
		.arm_opaque = e,
		.poweroff = poweroff,
		.poweroff_opaque = e,
		.reset = reset,
		.reset_opaque = e,
	};
	e->pm = acpi_pm_create(&cfg);
	assert_non_null(e->pm);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	acpi_pm_destroy(e->pm);
	free(e);
	return 0;
}

static void test_create_errors(void **state)
{
	(void)state;
	struct acpi_pm_config cfg = { 0 };
	errno = 0;
	assert_null(acpi_pm_create(&cfg));
	assert_int_equal(errno, EINVAL);
	assert_null(acpi_pm_create(NULL));
	acpi_pm_destroy(NULL);
}

static void test_reset_values(void **state)
{
	struct env *e = *state;
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_STS, 2, T0), 0);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_EN, 2, T0), 0);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_CNT, 2, T0), ACPI_PM1_SCI_EN);
	assert_int_equal(acpi_pm_read(e->pm, 6, 2, T0), 0xffff); /* gap */
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM_TMR, 4, T0), 0);
	assert_int_equal(acpi_pm_read(e->pm, 0, 4, T0), 0);	      /* STS + EN */
	assert_int_equal(acpi_pm_read(e->pm, 4, 4, T0), 0xffff0001); /* CNT + gap */
	assert_int_equal(acpi_pm_read(e->pm, 12, 1, T0), 0xff);      /* outside */
	assert_int_equal(acpi_pm_rst_cnt_read(e->pm), 0);
	assert_int_equal(e->sci, 0);
	assert_int_equal(e->nr_sci_calls, 0);
	assert_int_equal(e->nr_arm, 0); /* TMR_EN is off: no host timer needed */
}

static void test_timer_counts(void **state)
{
	struct env *e = *state;
	/* 3.579545 MHz: ticks = floor(elapsed_ns * 3579545 / 10^9) */
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 - 5), 0); /* before creation: 0 */
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + 279), 0);
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + 280), 1); /* 1 tick = 279.37 ns */
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + 1000000), 3579);
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + 1000000000), 3579545);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM_TMR, 4, T0 + 1000000000), 3579545);
	/* byte reads give the bytes of the count (3579545 = 0x369e99) */
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM_TMR, 1, T0 + 1000000000), 0x99);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM_TMR + 1, 1, T0 + 1000000000), 0x9e);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM_TMR + 2, 2, T0 + 1000000000), 0x36);
	/* one hour: 12886362000 ticks, modulo 2^32 = 12886362000 - 3 * 2^32 = 1460112 */
	uint64_t hour = 3600ull * 1000000000ull;
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + hour), 12886362000ull % (1ull << 32));
	/* read-only: writes change nothing */
	acpi_pm_write(e->pm, ACPI_PM_TMR, 4, 0x12345678, T0 + 1000000000);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM_TMR, 4, T0 + 1000000000), 3579545);
	/* reset restarts the count */
	acpi_pm_reset(e->pm, T0 + hour);
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + hour + 1000000), 3579);
}

/* first ns (relative to creation) at which bit 31 of the count changes: ceil(2^31 * 10^9 /
 * 3579545) = 599932015941 ns */
#define MSB_NS 599932015941ull

static void test_timer_status_and_sci(void **state)
{
	struct env *e = *state;
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + MSB_NS - 1), 0x7fffffff);
	assert_int_equal(acpi_pm_timer_value(e->pm, T0 + MSB_NS), 0x80000000);
	/* TMR_STS is set by the MSB change whether or not TMR_EN is (4.8.3.3) */
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_STS, 2, T0 + MSB_NS - 1), 0);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_STS, 2, T0 + MSB_NS), ACPI_PM1_TMR);
	assert_int_equal(e->sci, 0);
	/* write 1 to clear */
	acpi_pm_write(e->pm, ACPI_PM1_STS, 2, ACPI_PM1_TMR, T0 + MSB_NS);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_STS, 2, T0 + MSB_NS), 0);
	/* TMR_EN: the device asks for a callback at the next change, 2^31 ticks later */
	acpi_pm_write(e->pm, ACPI_PM1_EN, 2, ACPI_PM1_TMR, T0 + MSB_NS + 5);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_EN, 2, T0 + MSB_NS + 5), ACPI_PM1_TMR);
	assert_int_equal(e->armed, T0 + 1199864031882ull); /* ceil(2^32 * 10^9 / 3579545) */
	assert_int_equal(e->sci, 0);
	acpi_pm_timer(e->pm, e->armed - 1); /* early: nothing */
	assert_int_equal(e->sci, 0);
	acpi_pm_timer(e->pm, e->armed);
	assert_int_equal(e->sci, 1);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_STS, 2, e->armed), ACPI_PM1_TMR);
	uint64_t t = e->armed;
	assert_int_equal(e->armed, t);
	/* clearing the status lowers the SCI and re-arms for the next change */
	acpi_pm_write(e->pm, ACPI_PM1_STS, 2, 0xffff, t);
	assert_int_equal(e->sci, 0);
	assert_int_equal(e->armed, T0 + 1799796047822ull); /* ceil(3 * 2^31 * 10^9 / 3579545) */
	/* TMR_EN off: the callback is cancelled */
	acpi_pm_write(e->pm, ACPI_PM1_EN, 2, 0, t);
	assert_int_equal(e->armed, UINT64_MAX);
}

static void test_power_button_sci(void **state)
{
	struct env *e = *state;
	uint64_t t = T0 + 100;
	acpi_pm_power_button(e->pm, t);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_STS, 2, t), ACPI_PM1_PWRBTN);
	assert_int_equal(e->sci, 0); /* not enabled */
	acpi_pm_write(e->pm, ACPI_PM1_EN + 1, 1, ACPI_PM1_PWRBTN >> 8, t); /* byte write */
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_EN, 2, t), ACPI_PM1_PWRBTN);
	assert_int_equal(e->sci, 1);
	/* SCI_EN = 0 masks the SCI (events would be SMIs), status stays */
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, 0, t);
	assert_int_equal(e->sci, 0);
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, ACPI_PM1_SCI_EN, t);
	assert_int_equal(e->sci, 1);
	/* writing 0s to the status clears nothing; the wrong bit clears nothing */
	acpi_pm_write(e->pm, ACPI_PM1_STS, 2, 0, t);
	acpi_pm_write(e->pm, ACPI_PM1_STS, 2, ACPI_PM1_TMR, t);
	assert_int_equal(e->sci, 1);
	/* a 4-byte write at 0 covers STS and EN: clears PWRBTN_STS, keeps PWRBTN_EN */
	acpi_pm_write(e->pm, 0, 4, (uint32_t)ACPI_PM1_PWRBTN << 16 | ACPI_PM1_PWRBTN, t);
	assert_int_equal(e->sci, 0);
	assert_int_equal(acpi_pm_read(e->pm, 0, 4, t), (uint32_t)ACPI_PM1_PWRBTN << 16);
	/* unimplemented enable bits read 0 */
	acpi_pm_write(e->pm, ACPI_PM1_EN, 2, 0xffff, t);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_EN, 2, t), 0x0521);
	struct acpi_pm_stats st;
	acpi_pm_get_stats(e->pm, &st);
	assert_int_equal(st.nr_sci, 2);
}

static void test_s5_poweroff(void **state)
{
	struct env *e = *state;
	uint64_t t = T0 + 1;
	/* Linux (ACPICA acpi_hw_legacy_sleep) writes SLP_TYP first, then SLP_TYP | SLP_EN */
	uint16_t typ = 5 << ACPI_PM1_SLP_TYP_SHIFT;
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, typ | ACPI_PM1_SCI_EN, t);
	assert_int_equal(e->nr_poweroff, 0);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_CNT, 2, t), typ | ACPI_PM1_SCI_EN);
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, typ | ACPI_PM1_SLP_EN | ACPI_PM1_SCI_EN, t);
	assert_int_equal(e->nr_poweroff, 1);
	/* SLP_EN and GBL_RLS are write-only: read 0 */
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, ACPI_PM1_GBL_RLS | ACPI_PM1_SCI_EN, t);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_CNT, 2, t), ACPI_PM1_SCI_EN);
	/* a byte write of the high byte alone: SLP_TYP 5 (bits 4:2) + SLP_EN (bit 5) */
	acpi_pm_write(e->pm, ACPI_PM1_CNT + 1, 1, 0x34, t);
	assert_int_equal(e->nr_poweroff, 2);
	assert_int_equal(acpi_pm_read(e->pm, ACPI_PM1_CNT, 2, t), typ | ACPI_PM1_SCI_EN);
	/* other sleep types (S1, S3: no \_S1/\_S3 in the DSDT) do nothing */
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, 3 << 10 | ACPI_PM1_SLP_EN, t);
	acpi_pm_write(e->pm, ACPI_PM1_CNT, 2, 0 << 10 | ACPI_PM1_SLP_EN, t);
	assert_int_equal(e->nr_poweroff, 2);
	struct acpi_pm_stats st;
	acpi_pm_get_stats(e->pm, &st);
	assert_int_equal(st.nr_poweroff, 2);
	assert_int_equal(st.nr_bad_sleep, 2);
}

static void test_rst_cnt(void **state)
{
	struct env *e = *state;
	acpi_pm_rst_cnt_write(e->pm, ACPI_RST_SYS_RST); /* Linux's CF9 method: 0x02 first */
	assert_int_equal(e->nr_reset, 0);
	assert_int_equal(acpi_pm_rst_cnt_read(e->pm), 0x02);
	acpi_pm_rst_cnt_write(e->pm, 0x06); /* then 0x06 (the FADT's RESET_VALUE) */
	assert_int_equal(e->nr_reset, 1);
	/* the reset callback reset the device: RST_CNT 0 */
	assert_int_equal(acpi_pm_rst_cnt_read(e->pm), 0);
	acpi_pm_rst_cnt_write(e->pm, 0x0a); /* FULL_RST | SYS_RST, no RST_CPU */
	assert_int_equal(acpi_pm_rst_cnt_read(e->pm), 0x0a);
	assert_int_equal(e->nr_reset, 1);
	acpi_pm_rst_cnt_write(e->pm, 0xf1); /* reserved bits only */
	assert_int_equal(acpi_pm_rst_cnt_read(e->pm), 0);
	assert_int_equal(e->nr_reset, 1);
	acpi_pm_rst_cnt_write(e->pm, 0xff);
	assert_int_equal(e->nr_reset, 2);
}

static void test_bus_hostile(void **state)
{
	struct env *e = *state;
	struct bus *bus = bus_create();
	assert_non_null(bus);
	assert_int_equal(acpi_pm_register(e->pm, bus, LAYOUT_ACPI_PM_BASE, NULL), 0);
	assert_int_equal(acpi_pm_register_reset(e->pm, bus, LAYOUT_RESET_CTL_PORT, NULL), 0);
	/* a PCI host bridge owning CONFIG_ADDRESS 0xcf8-0xcfb conflicts with 0xcf9 */
	static const struct bus_ops none = { 0 };
	assert_int_equal(bus_register_pio(bus, 0xcf8, 4, &none, NULL, "pci", NULL), -EBUSY);

	e->now = T0 + 1000000000;
	uint8_t d[4];
	assert_int_equal(bus_pio_read(bus, LAYOUT_ACPI_PM_TMR, d, 4), 0);
	assert_int_equal(bus_data_get(d, 4), 3579545);
	assert_int_equal(bus_pio_read(bus, LAYOUT_ACPI_PM1A_CNT, d, 2), 0);
	assert_int_equal(bus_data_get(d, 2), ACPI_PM1_SCI_EN);
	/* every offset, every size, reads and writes of junk that avoids SLP_EN/RST_CPU: no crash,
	 * and the timer is never written */
	for (unsigned port = LAYOUT_ACPI_PM_BASE - 2; port < LAYOUT_ACPI_PM_BASE + 14; port++)
		for (unsigned len = 1; len <= 4; len <<= 1) {
			assert_true(bus_pio_read(bus, (uint16_t)port, d, len) >= 0);
			bus_data_put(d, len, 0xdfdfdfdf); /* 0xdf: bit 13 of PM1_CNT clear */
			assert_true(bus_pio_write(bus, (uint16_t)port, d, len) >= 0);
		}
	assert_int_equal(e->nr_poweroff, 0);
	assert_int_equal(bus_pio_read(bus, LAYOUT_ACPI_PM_TMR, d, 4), 0);
	assert_int_equal(bus_data_get(d, 4), 3579545);
	assert_int_equal(bus_pio_read(bus, LAYOUT_RESET_CTL_PORT, d, 1), 0);
	assert_int_equal(d[0], 0);
	bus_data_put(d, 1, 0x06);
	assert_int_equal(bus_pio_write(bus, LAYOUT_RESET_CTL_PORT, d, 1), 0);
	assert_int_equal(e->nr_reset, 1);
	/* a 2-byte read at 0xcf9 reaches the register and the unassigned port after it */
	assert_int_equal(bus_pio_read(bus, LAYOUT_RESET_CTL_PORT, d, 2), BUS_UNASSIGNED | BUS_SPLIT);
	assert_int_equal(bus_data_get(d, 2), 0xff00);
	struct acpi_pm_stats st;
	acpi_pm_get_stats(e->pm, &st);
	assert_true(st.nr_reads > 0 && st.nr_writes > 0);
	char *buf = NULL;
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);
	acpi_pm_print_stats(e->pm, f);
	fclose(f);
	assert_non_null(strstr(buf, "acpi-pm: "));
	free(buf);
	bus_destroy(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_status_and_sci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_button_sci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s5_poweroff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_cnt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
