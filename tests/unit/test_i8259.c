/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the 8259A pair and ELCR (src/hw/i8259.c) against the Intel 8259A datasheet
 * ("8259A" below) and the PIIX3 ELCR: Linux's initialization sequence, fully nested priority,
 * non-specific and specific EOI, the cascade (slave through master IR2), edge and level
 * triggering, spurious IRQ 7 and 15, automatic EOI, rotation, special mask mode, special fully
 * nested mode, poll command, IRR/ISR/IMR reads, ELCR read-only bits, and hostile port accesses.
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
#include "omnivisor/hw/i8259.h"

struct intr_rec {
	int level;
	unsigned nr_rises;
};

static void intr_set(void *opaque, int n, int level)
{
	struct intr_rec *r = opaque;
	(void)n;
	if (level && !r->level)
		r->nr_rises++;
	r->level = level;
}

struct fix {
	struct i8259 *pic;
	struct intr_rec intr;
};

/* Linux arch/x86/kernel/i8259.c init_8259A(auto_eoi): vectors 0x30 and 0x38. */
static void linux_init(struct i8259 *pic, bool auto_eoi)
{
	i8259_io_write(pic, 0x21, 0xff);
	i8259_io_write(pic, 0xa1, 0xff);
	i8259_io_write(pic, 0x20, 0x11); /* ICW1: edge, cascade, ICW4 */
	i8259_io_write(pic, 0x21, 0x30); /* ICW2 */
	i8259_io_write(pic, 0x21, 0x04); /* ICW3: slave on IR2 */
	i8259_io_write(pic, 0x21, auto_eoi ? 0x03 : 0x01);
	i8259_io_write(pic, 0xa0, 0x11);
	i8259_io_write(pic, 0xa1, 0x38);
	i8259_io_write(pic, 0xa1, 0x02); /* slave ID 2 */
	i8259_io_write(pic, 0xa1, 0x01); /* slave: never AEOI in Linux */
	i8259_io_write(pic, 0x21, 0x00); /* unmask all (Linux unmasks per IRQ; same effect) */
	i8259_io_write(pic, 0xa1, 0x00);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct i8259_config cfg = { .intr = { .set = intr_set, .opaque = &f->intr } };
	f->pic = i8259_create(&cfg);
	if (!f->pic)
		return -1;
	linux_init(f->pic, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	i8259_destroy(f->pic);
	free(f);
	return 0;
}

static void pulse(struct i8259 *pic, int irq)
{
	i8259_set_irq(pic, irq, 1);
	i8259_set_irq(pic, irq, 0);
}

static void eoi_master(struct i8259 *pic)
{
	i8259_io_write(pic, 0x20, 0x20);
}

static void test_init_state(void **state)
{
	struct fix *f = *state;
	struct i8259_regs r;
	i8259_get_regs(f->pic, 0, &r);
	assert_int_equal(r.vector_base, 0x30);
	assert_int_equal(r.lowest_prio, 7);
	assert_false(r.initializing);
	i8259_get_regs(f->pic, 1, &r);
	assert_int_equal(r.vector_base, 0x38);
	/* IRR read selected after ICW1; IMR on A0 = 1 */
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00);
	assert_int_equal(i8259_io_read(f->pic, 0x21), 0x00);
	i8259_io_write(f->pic, 0x21, 0xa5);
	assert_int_equal(i8259_io_read(f->pic, 0x21), 0xa5);
	assert_false(f->intr.level);
}

static void test_edge_ack_eoi(void **state)
{
	struct fix *f = *state;
	pulse(f->pic, 0);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x01); /* IRR */
	assert_int_equal(i8259_ack(f->pic), 0x30);
	assert_int_equal(f->intr.level, 0);
	i8259_io_write(f->pic, 0x20, 0x0b); /* OCW3: read ISR */
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x01);
	/* a lower priority request waits for the EOI (fully nested mode) */
	pulse(f->pic, 1);
	assert_int_equal(f->intr.level, 0);
	eoi_master(f->pic);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00); /* ISR, still selected */
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x31);
	eoi_master(f->pic);
	assert_int_equal(f->intr.level, 0);
	/* a held-high edge input does not interrupt again */
	i8259_set_irq(f->pic, 3, 1);
	assert_int_equal(i8259_ack(f->pic), 0x33);
	eoi_master(f->pic);
	i8259_set_irq(f->pic, 3, 1);
	assert_int_equal(f->intr.level, 0);
	i8259_set_irq(f->pic, 3, 0);
}

static void test_priority_order(void **state)
{
	struct fix *f = *state;
	pulse(f->pic, 7);
	pulse(f->pic, 5);
	pulse(f->pic, 3);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0xa8);
	assert_int_equal(i8259_ack(f->pic), 0x33);
	/* a higher level interrupts a lower one in service */
	pulse(f->pic, 1);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x31);
	/* non-specific EOI clears the highest ISR bit (1), then 3 */
	i8259_io_write(f->pic, 0x20, 0x0b);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x0a);
	eoi_master(f->pic);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x08);
	assert_int_equal(f->intr.level, 0); /* 5 and 7 are below 3 */
	eoi_master(f->pic);
	assert_int_equal(i8259_ack(f->pic), 0x35);
	/* specific EOI of 5 */
	i8259_io_write(f->pic, 0x20, 0x65);
	assert_int_equal(i8259_ack(f->pic), 0x37);
	i8259_io_write(f->pic, 0x20, 0x67);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00);
	assert_false(f->intr.level);
}

static void test_mask(void **state)
{
	struct fix *f = *state;
	i8259_io_write(f->pic, 0x21, 0x10);
	pulse(f->pic, 4);
	assert_int_equal(f->intr.level, 0);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x10); /* IRR is set regardless of IMR */
	i8259_io_write(f->pic, 0x21, 0x00);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x34);
}

static void test_cascade(void **state)
{
	struct fix *f = *state;
	pulse(f->pic, 12);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x3c);
	struct i8259_regs m, s;
	i8259_get_regs(f->pic, 0, &m);
	i8259_get_regs(f->pic, 1, &s);
	assert_int_equal(m.isr, 0x04);
	assert_int_equal(s.isr, 0x10);
	/* IRQ 8 (higher on the slave) is blocked by master ISR2 without SFNM */
	pulse(f->pic, 8);
	assert_int_equal(f->intr.level, 0);
	/* Linux: EOI to the slave then the master */
	i8259_io_write(f->pic, 0xa0, 0x20);
	assert_int_equal(f->intr.level, 0); /* master's IR2 still in service */
	eoi_master(f->pic);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x38);
	i8259_io_write(f->pic, 0xa0, 0x20);
	eoi_master(f->pic);
	/* two slave requests: the second comes after the first's EOI, through a new IR2 edge */
	pulse(f->pic, 9);
	pulse(f->pic, 15);
	assert_int_equal(i8259_ack(f->pic), 0x39);
	i8259_io_write(f->pic, 0xa0, 0x20);
	eoi_master(f->pic);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x3f);
	i8259_io_write(f->pic, 0xa0, 0x20);
	eoi_master(f->pic);
	assert_false(f->intr.level);
	/* master IRQ 1 beats slave IRQs (IR2), IRQ 0 too; IRQ 3 does not */
	pulse(f->pic, 10);
	pulse(f->pic, 3);
	pulse(f->pic, 1);
	assert_int_equal(i8259_ack(f->pic), 0x31);
	eoi_master(f->pic);
	assert_int_equal(i8259_ack(f->pic), 0x3a);
	i8259_io_write(f->pic, 0xa0, 0x20);
	eoi_master(f->pic);
	assert_int_equal(i8259_ack(f->pic), 0x33);
	eoi_master(f->pic);
	/* a device on IRQ 2 is ignored (the cascade input) */
	pulse(f->pic, 2);
	assert_false(f->intr.level);
}

static void test_sfnm(void **state)
{
	struct fix *f = *state;
	/* master in special fully nested mode (ICW4 0x11) */
	i8259_io_write(f->pic, 0x20, 0x11);
	i8259_io_write(f->pic, 0x21, 0x30);
	i8259_io_write(f->pic, 0x21, 0x04);
	i8259_io_write(f->pic, 0x21, 0x11);
	i8259_io_write(f->pic, 0x21, 0x00);
	pulse(f->pic, 12);
	assert_int_equal(i8259_ack(f->pic), 0x3c);
	pulse(f->pic, 8);
	assert_int_equal(f->intr.level, 1); /* higher slave level nests */
	assert_int_equal(i8259_ack(f->pic), 0x38);
}

static void test_level_and_spurious(void **state)
{
	struct fix *f = *state;
	/* ELCR: IRQ 0, 1, 2, 8, 13 are read-only edge */
	i8259_io_write(f->pic, 0x4d0, 0xff);
	i8259_io_write(f->pic, 0x4d1, 0xff);
	assert_int_equal(i8259_io_read(f->pic, 0x4d0), 0xf8);
	assert_int_equal(i8259_io_read(f->pic, 0x4d1), 0xde);
	i8259_io_write(f->pic, 0x4d0, 0x20); /* IRQ 5 level */
	i8259_io_write(f->pic, 0x4d1, 0x08); /* IRQ 11 level */
	assert_int_equal(i8259_io_read(f->pic, 0x4d0), 0x20);
	/* level: re-requested after EOI while the line stays high */
	i8259_set_irq(f->pic, 5, 1);
	assert_int_equal(i8259_ack(f->pic), 0x35);
	eoi_master(f->pic);
	assert_int_equal(f->intr.level, 1);
	assert_int_equal(i8259_ack(f->pic), 0x35);
	eoi_master(f->pic);
	i8259_set_irq(f->pic, 5, 0);
	assert_false(f->intr.level);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00); /* IRR follows the line */
	/* the request goes away before INTA: default IR7, no ISR bit (8259A "Interrupt
	 * Sequence", "Edge and Level Triggered Modes") */
	i8259_set_irq(f->pic, 5, 1);
	assert_true(f->intr.level);
	i8259_set_irq(f->pic, 5, 0);
	assert_int_equal(i8259_ack(f->pic), 0x37);
	i8259_io_write(f->pic, 0x20, 0x0b);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00);
	/* spurious IRQ 15: the master latched IR2, the slave's level request went away */
	i8259_io_write(f->pic, 0x21, 0x04); /* mask IR2 so INTR stays low meanwhile */
	i8259_set_irq(f->pic, 11, 1);
	i8259_set_irq(f->pic, 11, 0);
	i8259_io_write(f->pic, 0x21, 0x00);
	assert_true(f->intr.level);
	assert_int_equal(i8259_ack(f->pic), 0x3f);
	struct i8259_regs m, s;
	i8259_get_regs(f->pic, 0, &m);
	i8259_get_regs(f->pic, 1, &s);
	assert_int_equal(m.isr, 0x04); /* the OS must EOI the master (Linux does) */
	assert_int_equal(s.isr, 0x00);
	struct i8259_stats st;
	i8259_get_stats(f->pic, &st);
	assert_int_equal(st.nr_spurious, 2);
	/* ICW1 LTIM: all inputs level */
	i8259_io_write(f->pic, 0xa0, 0x19);
	i8259_io_write(f->pic, 0xa1, 0x38);
	i8259_io_write(f->pic, 0xa1, 0x02);
	i8259_io_write(f->pic, 0xa1, 0x01);
	i8259_get_regs(f->pic, 1, &s);
	assert_true(s.level_mode);
}

static void test_aeoi_and_rotation(void **state)
{
	struct fix *f = *state;
	linux_init(f->pic, true);
	pulse(f->pic, 4);
	assert_int_equal(i8259_ack(f->pic), 0x34);
	i8259_io_write(f->pic, 0x20, 0x0b);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00); /* AEOI: no ISR bit */
	/* rotate in AEOI mode: the serviced level becomes the lowest */
	i8259_io_write(f->pic, 0x20, 0x80);
	pulse(f->pic, 4);
	assert_int_equal(i8259_ack(f->pic), 0x34);
	pulse(f->pic, 4);
	pulse(f->pic, 6);
	assert_int_equal(i8259_ack(f->pic), 0x36); /* 5 is highest now: 6 before 4 */
	assert_int_equal(i8259_ack(f->pic), 0x34);
	i8259_io_write(f->pic, 0x20, 0x00); /* clear rotate in AEOI */
	/* normal EOI mode: set priority (OCW2 0xc0 | L: L lowest) */
	linux_init(f->pic, false);
	i8259_io_write(f->pic, 0x20, 0xc4);
	struct i8259_regs r;
	i8259_get_regs(f->pic, 0, &r);
	assert_int_equal(r.lowest_prio, 4);
	pulse(f->pic, 3);
	pulse(f->pic, 6);
	assert_int_equal(i8259_ack(f->pic), 0x36);
	/* rotate on non-specific EOI: 6 becomes lowest, 7 highest; 3 pending is next */
	i8259_io_write(f->pic, 0x20, 0xa0);
	i8259_get_regs(f->pic, 0, &r);
	assert_int_equal(r.lowest_prio, 6);
	assert_int_equal(i8259_ack(f->pic), 0x33);
	/* rotate on specific EOI (0xe0 | 3): 3 lowest */
	i8259_io_write(f->pic, 0x20, 0xe3);
	i8259_get_regs(f->pic, 0, &r);
	assert_int_equal(r.lowest_prio, 3);
	assert_int_equal(r.isr, 0x00);
}

static void test_special_mask_mode(void **state)
{
	struct fix *f = *state;
	pulse(f->pic, 3);
	assert_int_equal(i8259_ack(f->pic), 0x33);
	pulse(f->pic, 5);
	assert_false(f->intr.level); /* below 3 in service */
	/* SMM on and IR3 masked: lower levels are enabled (8259A "Special Mask Mode") */
	i8259_io_write(f->pic, 0x20, 0x68);
	i8259_io_write(f->pic, 0x21, 0x08);
	assert_true(f->intr.level);
	assert_int_equal(i8259_ack(f->pic), 0x35);
	i8259_io_write(f->pic, 0x20, 0x65);
	i8259_io_write(f->pic, 0x20, 0x48); /* SMM off */
	assert_false(f->intr.level);
	i8259_io_write(f->pic, 0x20, 0x63);
}

static void test_poll(void **state)
{
	struct fix *f = *state;
	i8259_io_write(f->pic, 0x20, 0x0c); /* OCW3 poll */
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00); /* nothing pending */
	pulse(f->pic, 6);
	i8259_io_write(f->pic, 0x20, 0x0c);
	assert_int_equal(i8259_io_read(f->pic, 0x21), 0x86); /* either port */
	i8259_io_write(f->pic, 0x20, 0x0b);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x40); /* acknowledged: ISR */
	assert_false(f->intr.level);
	eoi_master(f->pic);
	/* through the cascade: master reports 2, then the slave its level */
	pulse(f->pic, 14);
	i8259_io_write(f->pic, 0x20, 0x0c);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x82);
	i8259_io_write(f->pic, 0xa0, 0x0c);
	assert_int_equal(i8259_io_read(f->pic, 0xa0), 0x86);
}

static void test_edge_sense_reset(void **state)
{
	struct fix *f = *state;
	i8259_set_irq(f->pic, 4, 1);
	assert_true(f->intr.level);
	/* ICW1 resets the edge sense latch: a held line needs a new rising edge */
	linux_init(f->pic, false);
	assert_false(f->intr.level);
	i8259_set_irq(f->pic, 4, 0);
	i8259_set_irq(f->pic, 4, 1);
	assert_true(f->intr.level);
	/* no INTR while initializing */
	i8259_io_write(f->pic, 0x20, 0x11);
	assert_false(f->intr.level);
	i8259_io_write(f->pic, 0x21, 0x50);
	i8259_io_write(f->pic, 0x21, 0x04);
	i8259_io_write(f->pic, 0x21, 0x01);
	i8259_set_irq(f->pic, 4, 0);
	i8259_set_irq(f->pic, 4, 1);
	assert_int_equal(i8259_ack(f->pic), 0x54);
}

static void test_spurious_no_request(void **state)
{
	struct fix *f = *state;
	assert_int_equal(i8259_ack(f->pic), 0x37);
	i8259_io_write(f->pic, 0x20, 0x0b);
	assert_int_equal(i8259_io_read(f->pic, 0x20), 0x00);
}

static void test_bus_hostile(void **state)
{
	struct fix *f = *state;
	struct bus *bus = bus_create();
	assert_int_equal(i8259_register(f->pic, bus), 0);
	assert_int_equal(i8259_register(f->pic, bus), -EBUSY);
	uint32_t v = 0;
	/* a 16-bit read of 0x20: IRR then IMR */
	i8259_io_write(f->pic, 0x21, 0x5a);
	pulse(f->pic, 7);
	assert_int_equal(bus_pio_read(bus, 0x20, &v, 2), 0);
	assert_int_equal(v, 0x5a80);
	/* a 32-bit read of 0x21: IMR, then two unassigned bytes, then 0x24 unassigned */
	v = 0;
	bus_pio_read(bus, 0x21, &v, 4);
	assert_int_equal(v, 0xffffff5a);
	/* every port, size and value (including ICW sequences at random) must not crash */
	static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	for (size_t p = 0; p < 6; p++)
		for (unsigned len = 1; len <= 4; len <<= 1)
			for (unsigned val = 0; val < 256; val += 3) {
				uint32_t d = val * 0x01010101u;
				bus_pio_write(bus, ports[p], &d, len);
				bus_pio_read(bus, ports[p], &d, len);
				i8259_set_irq(f->pic, (int)(val & 15), (int)(val & 1));
				(void)i8259_ack(f->pic);
			}
	i8259_set_irq(f->pic, -1, 1);
	i8259_set_irq(f->pic, 16, 1);
	assert_int_equal(i8259_io_read(f->pic, 0x22), 0xff);
	i8259_print_stats(f->pic, stderr);
	bus_destroy(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_ack_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sfnm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_and_spurious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aeoi_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_mask_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_sense_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spurious_no_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
