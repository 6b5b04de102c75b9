/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the i8042 keyboard controller (src/hw/i8042.c): reset state, controller
 * commands with their documented results (IBM PC AT Technical Reference, 8042 commands; IBM
 * PS/2 keyboard commands), the sequence Linux's i8042 driver runs (flush, self test, command
 * byte, AUX loop and IRQ12 test) and atkbd's probe (identify, LEDs, enable), IRQ1/IRQ12 levels
 * and edges, the reset line, the A20 bit, and hostile accesses. Also port 0x80 (src/hw/port80.c),
 * the other legacy board port of this part (no file of its own yet).
 */
#include <errno.h>
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
#include "omnivisor/hw/i8042.h"
#include "omnivisor/hw/port80.h"

struct world {
	struct i8042 *k;
	int level[2];
	unsigned rises[2];
	unsigned nr_resets;
};

static void irq_cb(void *o, int n, int level)
{
	struct world *w = o;
	int i = n == 12;
	assert_true(n == 1 || n == 12);
	if (level && !w->level[i])
		w->rises[i]++;
	w->level[i] = level;
}

static void reset_cb(void *o)
{
	struct world *w = o;
	w->nr_resets++;
	i8042_reset(w->k); /* allowed: called without the controller's lock */
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	struct i8042_config cfg = {
		.kbd_irq = { .set = irq_cb, .opaque = w, .n = 1 },
		.aux_irq = { .set = irq_cb, .opaque = w, .n = 12 },
		.reset = reset_cb,
		.reset_opaque = w,
	};
	w->k = i8042_create(&cfg);
	assert_non_null(w->k);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	i8042_destroy(w->k);
	free(w);
	return 0;
}

/* Linux i8042_command: write the command, the parameter, read the result when OBF is set */
static int cmd(struct world *w, uint8_t c, int param)
{
	i8042_write_command(w->k, c);
	if (param >= 0)
		i8042_write_data(w->k, (uint8_t)param);
	if (!(i8042_read_status(w->k) & 0x01))
		return -1;
	return i8042_read_data(w->k);
}

/* read one byte, asserting it is there */
static uint8_t rd(struct world *w)
{
	assert_true(i8042_read_status(w->k) & 0x01);
	return i8042_read_data(w->k);
}

static void assert_empty(struct world *w)
{
	assert_false(i8042_read_status(w->k) & 0x01);
}

static void test_reset_state(void **state)
{
	struct world *w = *state;
	assert_int_equal(i8042_read_status(w->k), 0x1c); /* SYS, A2, not inhibited */
	assert_int_equal(i8042_read_data(w->k), 0x00);	  /* empty */
	assert_int_equal(cmd(w, 0x20, -1), 0x65);
	assert_int_equal(cmd(w, 0xd0, -1), 0xcf);
	assert_true(i8042_a20(w->k));
	assert_int_equal(w->level[0], 0);
	assert_int_equal(w->level[1], 0);
	/* A2 follows the port last written */
	i8042_write_data(w->k, 0xf4);
	assert_int_equal(i8042_read_status(w->k) & 0x08, 0);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(i8042_read_data(w->k), 0xfa); /* the latch keeps the last byte */
}

/* Linux i8042_controller_check/selftest/init and i8042_check_aux, in order */
static void test_linux_probe(void **state)
{
	struct world *w = *state;
	/* i8042_flush: nothing there */
	assert_empty(w);
	assert_int_equal(cmd(w, 0xaa, -1), 0x55);
	assert_true(i8042_read_status(w->k) & 0x04);
	/* two identical CTR reads */
	uint8_t ctr = (uint8_t)cmd(w, 0x20, -1);
	assert_int_equal(cmd(w, 0x20, -1), ctr);
	assert_true(i8042_read_status(w->k) & 0x10); /* no keylock */
	ctr |= 0x10;			  /* KBDDIS */
	ctr &= (uint8_t)~0x01;		  /* no KBDINT */
	assert_int_equal(cmd(w, 0x60, ctr), -1);
	assert_int_equal(cmd(w, 0x20, -1), ctr);
	/* AUX loop: the byte comes back as AUX data even with the AUX port disabled */
	i8042_write_command(w->k, 0xd3);
	i8042_write_data(w->k, 0x5a);
	assert_int_equal(i8042_read_status(w->k) & 0x21, 0x21);
	assert_int_equal(i8042_read_data(w->k), 0x5a);
	assert_int_equal(i8042_read_status(w->k) & 0x21, 0x00);
	/* bit assignment test */
	assert_int_equal(cmd(w, 0xa7, -1), -1);
	assert_true(cmd(w, 0x20, -1) & 0x20);
	assert_int_equal(cmd(w, 0xa8, -1), -1);
	assert_false(cmd(w, 0x20, -1) & 0x20);
	/* IRQ12 test: AUX enabled with its interrupt, loop 0xa5 */
	ctr = (uint8_t)cmd(w, 0x20, -1);
	cmd(w, 0x60, (ctr & ~0x20) | 0x02);
	assert_int_equal(w->level[1], 0);
	i8042_write_command(w->k, 0xd3);
	i8042_write_data(w->k, 0xa5);
	assert_int_equal(w->level[1], 1);
	assert_int_equal(w->level[0], 0);
	assert_int_equal(i8042_read_data(w->k), 0xa5);
	assert_int_equal(w->level[1], 0);
	/* AUX interface test and keyboard interface test */
	assert_int_equal(cmd(w, 0xa9, -1), 0x00);
	assert_int_equal(cmd(w, 0xab, -1), 0x00);
	/* enable the keyboard port with its interrupt */
	ctr = (uint8_t)cmd(w, 0x20, -1);
	cmd(w, 0x60, (ctr & ~0x10) | 0x01);
	assert_int_equal(w->level[0], 0);
	assert_int_equal(cmd(w, 0xa4, -1), 0xf1);
	assert_int_equal(cmd(w, 0xe0, -1), 0x00);
	struct i8042_stats st;
	i8042_get_stats(w->k, &st);
	assert_int_equal(st.nr_aux_irqs, 1);
}

/* atkbd_probe/atkbd_select_set/atkbd_activate on an MF2 keyboard, translated and not */
static void test_keyboard_commands(void **state)
{
	struct world *w = *state;
	i8042_write_data(w->k, 0xf2);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0xab);
	assert_int_equal(rd(w), 0x41); /* XLATE on */
	assert_empty(w);
	i8042_write_data(w->k, 0xed); /* LEDs */
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0x07);
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0xf3); /* typematic */
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0x00);
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0xf4);
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0xf5);
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0xf6);
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0xee);
	assert_int_equal(rd(w), 0xee);
	i8042_write_data(w->k, 0xf0); /* get scan code set: 2, translated 0x41 */
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0x00);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0x41);
	i8042_write_data(w->k, 0xfe); /* resend */
	assert_int_equal(rd(w), 0x41);
	i8042_write_data(w->k, 0xff);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0xaa);
	i8042_write_data(w->k, 0x01); /* not a command */
	assert_int_equal(rd(w), 0xfe);
	i8042_write_data(w->k, 0xfb);
	assert_int_equal(rd(w), 0xfa);
	/* XLATE off: untranslated ID and set */
	cmd(w, 0x60, 0x25);
	i8042_write_data(w->k, 0xf2);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0xab);
	assert_int_equal(rd(w), 0x83);
	i8042_write_data(w->k, 0xf0);
	i8042_write_data(w->k, 0x03);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0xfa);
	i8042_write_data(w->k, 0xf0);
	i8042_write_data(w->k, 0x00);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0x03);
	i8042_write_data(w->k, 0xf0);
	i8042_write_data(w->k, 0x09); /* no such set */
	assert_int_equal(rd(w), 0xfa);
	assert_int_equal(rd(w), 0xfe);
	assert_empty(w);
}

/* IRQ1 is the output buffer full with keyboard data and command-byte bit 0; each further byte
 * gives a new edge; a disabled keyboard's bytes wait */
static void test_irq1_and_disable(void **state)
{
	struct world *w = *state;
	i8042_write_data(w->k, 0xf2);
	assert_int_equal(w->level[0], 1);
	assert_int_equal(w->rises[0], 1);
	assert_int_equal(i8042_read_data(w->k), 0xfa);
	assert_int_equal(w->level[0], 1);
	assert_int_equal(w->rises[0], 2);
	(void)i8042_read_data(w->k);
	(void)i8042_read_data(w->k);
	assert_int_equal(w->level[0], 0);
	assert_int_equal(w->rises[0], 3);
	/* disabled keyboard: the response waits */
	assert_int_equal(cmd(w, 0xad, -1), -1);
	i8042_write_data(w->k, 0xee);
	assert_empty(w);
	assert_int_equal(w->level[0], 0);
	/* controller responses still pass */
	assert_int_equal(cmd(w, 0x20, -1), 0x75);
	i8042_write_command(w->k, 0xae);
	assert_int_equal(w->level[0], 1);
	assert_int_equal(rd(w), 0xee);
	/* interrupt disabled in the command byte: no line, data still readable */
	cmd(w, 0x60, 0x64);
	i8042_write_data(w->k, 0xee);
	assert_int_equal(w->level[0], 0);
	assert_int_equal(rd(w), 0xee);
	/* controller responses raise IRQ1 too (KBDINT) */
	cmd(w, 0x60, 0x65);
	i8042_write_command(w->k, 0x20);
	assert_int_equal(w->level[0], 1);
	assert_int_equal(rd(w), 0x65);
	assert_int_equal(w->level[0], 0);
}

/* Output port bit 0 is the CPU reset line (pulse 0xfe, or 0xd1 with bit 0 clear); bit 1 A20 */
static void test_reset_line_and_a20(void **state)
{
	struct world *w = *state;
	for (unsigned c = 0xf0; c <= 0xff; c++) {
		unsigned before = w->nr_resets;
		i8042_write_command(w->k, (uint8_t)c);
		assert_int_equal(w->nr_resets, before + ((c & 1) ? 0 : 1));
	}
	assert_int_equal(w->nr_resets, 8);
	i8042_write_command(w->k, 0xd1);
	i8042_write_data(w->k, 0xcd); /* A20 off, reset high */
	assert_int_equal(w->nr_resets, 8);
	assert_false(i8042_a20(w->k));
	assert_int_equal(cmd(w, 0xd0, -1), 0xcd);
	i8042_write_command(w->k, 0xdf);
	assert_true(i8042_a20(w->k));
	i8042_write_command(w->k, 0xdd);
	assert_false(i8042_a20(w->k));
	/* D0 reports the IRQ1 output in bit 4 */
	i8042_write_command(w->k, 0xd2);
	i8042_write_data(w->k, 0x12); /* as if from the keyboard: IRQ1 */
	assert_int_equal(w->level[0], 1);
	assert_int_equal(i8042_read_status(w->k) & 0x21, 0x01);
	i8042_write_command(w->k, 0xd0); /* queued behind 0x12, taken while IRQ1 is high */
	assert_int_equal(rd(w), 0x12);
	assert_int_equal(rd(w) & 0x30, 0x10);
	/* taken with the buffer empty: IRQ1 low (its own byte raises it only afterwards) */
	assert_int_equal(cmd(w, 0xd0, -1) & 0x30, 0x00);
	i8042_write_command(w->k, 0xd1);
	i8042_write_data(w->k, 0xce); /* reset line low */
	assert_int_equal(w->nr_resets, 9);
	/* the callback reset the controller */
	assert_int_equal(cmd(w, 0xd0, -1), 0xcf);
	struct i8042_stats st;
	i8042_get_stats(w->k, &st);
	assert_int_equal(st.nr_resets, 9);
}

/* Nothing on the AUX port: a byte sent to it times out (0xfe, AUXDATA | TIMEOUT) */
static void test_aux_absent_and_ram(void **state)
{
	struct world *w = *state;
	cmd(w, 0x60, 0x47); /* AUX enabled with its interrupt */
	i8042_write_command(w->k, 0xd4);
	i8042_write_data(w->k, 0xf2);
	assert_int_equal(i8042_read_status(w->k), 0x14 | 0x01 | 0x20 | 0x40);
	assert_int_equal(w->level[1], 1);
	assert_int_equal(i8042_read_data(w->k), 0xfe);
	assert_int_equal(i8042_read_status(w->k), 0x14);
	assert_int_equal(w->level[1], 0);
	/* internal RAM 0x01-0x1f: 0x61-0x7f write, 0x21-0x3f read */
	for (unsigned i = 1; i < 32; i++)
		cmd(w, (uint8_t)(0x60 + i), (int)(i * 5));
	for (unsigned i = 1; i < 32; i++)
		assert_int_equal(cmd(w, (uint8_t)(0x20 + i), -1), i * 5);
	assert_int_equal(cmd(w, 0x20, -1), 0x47);
	/* the command byte's SYS bit shows in the status */
	cmd(w, 0x60, 0x43);
	assert_int_equal(i8042_read_status(w->k) & 0x04, 0);
	/* a new command cancels one that waits for data */
	i8042_write_command(w->k, 0x60);
	i8042_write_command(w->k, 0xd3);
	i8042_write_data(w->k, 0x77);
	assert_int_equal(rd(w), 0x77);
	assert_int_equal(cmd(w, 0x20, -1), 0x43);
}

/* The hostile guest, through the bus: every command and data byte; invariants hold */
static void test_hostile(void **state)
{
	struct world *w = *state;
	struct bus *bus = bus_create();
	assert_non_null(bus);
	assert_int_equal(i8042_register(w->k, bus, NULL, NULL), 0);
	assert_int_equal(i8042_register(w->k, bus, NULL, NULL), -EBUSY);
	uint8_t d[4];
	/* a word read at 0x60 reads 0x60 and the unassigned 0x61 */
	assert_int_equal(bus_pio_read(bus, 0x60, d, 2), BUS_UNASSIGNED | BUS_SPLIT);
	assert_int_equal(d[1], 0xff);
	uint32_t x = 7;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		bus_data_put(d, 4, x * 2654435761u);
		uint16_t port = (x >> 10) & 1 ? 0x64 : 0x60;
		unsigned len = 1u << ((x >> 12) % 3);
		if ((x >> 16) % 3 == 0)
			bus_pio_write(bus, port, d, len);
		else
			bus_pio_read(bus, port, d, len);
		if ((i & 255) == 0) {
			uint8_t s = i8042_read_status(w->k);
			assert_int_equal(s & 0x82, 0); /* IBF and parity never */
			if (!(s & 0x01)) {
				assert_int_equal(w->level[0], 0);
				assert_int_equal(w->level[1], 0);
			}
		}
	}
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	i8042_print_stats(w->k, f);
	fclose(f);
	assert_non_null(strstr(text, "i8042: "));
	free(text);
	bus_destroy(bus);
}

/* Port 0x80: writes kept and counted, reads give the last byte written (DMA page register file),
 * wider accesses split by the bus */
static void test_port80(void **state)
{
	(void)state;
	struct port80 *p = port80_create();
	assert_non_null(p);
	struct bus *bus = bus_create();
	assert_non_null(bus);
	struct bus_dev *h = NULL;
	assert_int_equal(port80_register(p, bus, &h), 0);
	uint8_t d[4] = { 0 };
	assert_int_equal(bus_pio_read(bus, 0x80, d, 1), 0);
	assert_int_equal(d[0], 0x00);
	for (unsigned v = 0; v < 256; v++) {
		d[0] = (uint8_t)v;
		assert_int_equal(bus_pio_write(bus, 0x80, d, 1), 0);
		assert_int_equal(bus_pio_read(bus, 0x80, d, 1), 0);
		assert_int_equal(d[0], v);
	}
	bus_data_put(d, 4, 0x44332211);
	assert_int_equal(bus_pio_write(bus, 0x80, d, 4), BUS_UNASSIGNED | BUS_SPLIT);
	assert_int_equal(port80_last_code(p), 0x11);
	assert_int_equal(bus_pio_read(bus, 0x7f, d, 2), BUS_UNASSIGNED | BUS_SPLIT);
	assert_int_equal(bus_data_get(d, 2), 0x11ff);
	struct port80_stats st;
	port80_get_stats(p, &st);
	assert_int_equal(st.nr_writes, 257);
	assert_int_equal(st.nr_reads, 258);
	assert_int_equal(st.last_code, 0x11);
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	port80_print_stats(p, f);
	fclose(f);
	assert_string_equal(text, "port80: 258 reads, 257 writes, last code 0x11\n");
	free(text);
	bus_destroy(bus);
	port80_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq1_and_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_line_and_a20, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aux_absent_and_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test(test_port80),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
