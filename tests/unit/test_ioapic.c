/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the I/O APIC (src/hw/ioapic.c) against the Intel 82093AA datasheet ("82093AA"):
 * reset values, ID/VER/ARB, redirection entry read/write masks, edge delivery (and edges lost on
 * masked pins), level delivery with Remote IRR and EOI (the LAPIC broadcast and the version 0x20
 * EOI register), redelivery, the edge-switch trick Linux uses to clear Remote IRR, the fields
 * passed to deliver, and hostile MMIO accesses through the bus.
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
#include "omnivisor/hw/ioapic.h"

struct msg {
	uint8_t dest, mode, vector;
	bool logical, level;
};

struct fix {
	struct ioapic *io;
	unsigned nr;
	struct msg last;
};

static void deliver(void *opaque, uint8_t dest, bool logical, uint8_t mode, uint8_t vector,
		    bool level)
{
	struct fix *f = opaque;
	f->nr++;
	f->last = (struct msg){ dest, mode, vector, logical, level };
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct ioapic_config cfg = { .id = 1, .deliver = deliver, .deliver_opaque = f };
	f->io = ioapic_create(&cfg);
	*state = f;
	return f->io ? 0 : -1;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	ioapic_destroy(f->io);
	free(f);
	return 0;
}

/* Through IOREGSEL / IOWIN, as Linux's io_apic_read/io_apic_write do. */
static uint32_t rd(struct ioapic *io, uint8_t index)
{
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, index);
	return (uint32_t)ioapic_mmio_read(io, IOAPIC_IOWIN, 4);
}

static void wr(struct ioapic *io, uint8_t index, uint32_t v)
{
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, index);
	ioapic_mmio_write(io, IOAPIC_IOWIN, 4, v);
}

static void set_entry(struct ioapic *io, unsigned pin, uint64_t e)
{
	wr(io, (uint8_t)(0x11 + 2 * pin), (uint32_t)(e >> 32));
	wr(io, (uint8_t)(0x10 + 2 * pin), (uint32_t)e);
}

static void test_reset_values(void **state)
{
	struct fix *f = *state;
	assert_int_equal(rd(f->io, 0), 0x01000000);  /* ID 1 */
	assert_int_equal(rd(f->io, 1), 0x00170020);  /* 24 entries, version 0x20 */
	assert_int_equal(rd(f->io, 2), 0x01000000);  /* ARB = ID */
	for (unsigned i = 0; i < IOAPIC_NR_PINS; i++) {
		assert_int_equal(rd(f->io, (uint8_t)(0x10 + 2 * i)), 0x00010000); /* masked */
		assert_int_equal(rd(f->io, (uint8_t)(0x11 + 2 * i)), 0);
	}
	assert_int_equal(rd(f->io, 0x40), 0);	/* past the table */
	assert_int_equal(rd(f->io, 0xff), 0);
	assert_int_equal(ioapic_mmio_read(f->io, IOAPIC_IOREGSEL, 4), 0xff);
}

static void test_id_ver_arb(void **state)
{
	struct fix *f = *state;
	wr(f->io, 0, 0xffffffff);
	assert_int_equal(rd(f->io, 0), 0x0f000000);
	assert_int_equal(rd(f->io, 2), 0x0f000000);
	wr(f->io, 1, 0);
	wr(f->io, 2, 0);
	assert_int_equal(rd(f->io, 1), 0x00170020);
	assert_int_equal(rd(f->io, 2), 0x0f000000);
}

static void test_entry_masks(void **state)
{
	struct fix *f = *state;
	wr(f->io, 0x10, 0xffffffff);
	/* read-only delivery status (12) and Remote IRR (14), reserved 31:17 read 0 */
	assert_int_equal(rd(f->io, 0x10), 0x0001afff);
	wr(f->io, 0x11, 0xffffffff);
	assert_int_equal(rd(f->io, 0x11), 0xff000000);
	assert_int_equal(ioapic_get_entry(f->io, 0), 0xff0000000001afffull);
	assert_int_equal(ioapic_get_entry(f->io, 24), 0);
}

static void test_edge(void **state)
{
	struct fix *f = *state;
	/* pin 2 (ISA IRQ 0 via the MADT override): vector 0x30, fixed, physical, dest 0 */
	set_entry(f->io, 2, 0x30);
	ioapic_set_irq(f->io, 2, 1);
	assert_int_equal(f->nr, 1);
	assert_int_equal(f->last.vector, 0x30);
	assert_int_equal(f->last.mode, 0);
	assert_false(f->last.level);
	assert_false(f->last.logical);
	/* held high: no new edge */
	ioapic_set_irq(f->io, 2, 1);
	assert_int_equal(f->nr, 1);
	ioapic_set_irq(f->io, 2, 0);
	ioapic_set_irq(f->io, 2, 1);
	assert_int_equal(f->nr, 2);
	assert_int_equal(ioapic_get_entry(f->io, 2) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* masked: the edge is lost, and unmasking does not bring it back */
	ioapic_set_irq(f->io, 2, 0);
	set_entry(f->io, 2, 0x30 | IOAPIC_RTE_MASKED);
	ioapic_set_irq(f->io, 2, 1);
	set_entry(f->io, 2, 0x30);
	assert_int_equal(f->nr, 2);
	struct ioapic_stats st;
	ioapic_get_stats(f->io, &st);
	assert_int_equal(st.nr_masked_edges, 1);
	assert_int_equal(st.nr_delivered[2], 2);
}

static void test_fields(void **state)
{
	struct fix *f = *state;
	/* logical destination 0x0f, lowest priority, level, active low */
	set_entry(f->io, 17, 0x0f00000000000000ull | IOAPIC_RTE_LEVEL | IOAPIC_RTE_POLARITY_LOW |
				     IOAPIC_RTE_DEST_LOGICAL | 1u << 8 | 0x41);
	ioapic_set_irq(f->io, 17, 1);
	assert_int_equal(f->nr, 1);
	assert_int_equal(f->last.dest, 0x0f);
	assert_true(f->last.logical);
	assert_int_equal(f->last.mode, 1);
	assert_int_equal(f->last.vector, 0x41);
	assert_true(f->last.level);
	/* NMI is edge whatever the trigger bit says; no Remote IRR */
	set_entry(f->io, 3, IOAPIC_RTE_LEVEL | 4u << 8);
	ioapic_set_irq(f->io, 3, 1);
	assert_int_equal(f->last.mode, 4);
	assert_false(f->last.level);
	assert_int_equal(ioapic_get_entry(f->io, 3) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* ExtINT (pin 0, virtual wire mode) */
	set_entry(f->io, 0, 7u << 8);
	ioapic_set_irq(f->io, 0, 1);
	assert_int_equal(f->last.mode, 7);
	/* reserved modes are not delivered */
	unsigned n = f->nr;
	set_entry(f->io, 5, 3u << 8);
	ioapic_set_irq(f->io, 5, 1);
	set_entry(f->io, 6, 6u << 8);
	ioapic_set_irq(f->io, 6, 1);
	assert_int_equal(f->nr, n);
}

static void test_level_remote_irr(void **state)
{
	struct fix *f = *state;
	set_entry(f->io, 16, IOAPIC_RTE_LEVEL | 0x51);
	ioapic_set_irq(f->io, 16, 1);
	assert_int_equal(f->nr, 1);
	assert_true(f->last.level);
	assert_int_equal(ioapic_get_entry(f->io, 16) & IOAPIC_RTE_REMOTE_IRR,
			 IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(rd(f->io, 0x30) & 0x4000, 0x4000);
	/* no redelivery while Remote IRR is set */
	ioapic_set_irq(f->io, 16, 0);
	ioapic_set_irq(f->io, 16, 1);
	assert_int_equal(f->nr, 1);
	/* EOI of another vector changes nothing */
	ioapic_eoi(f->io, 0x52);
	assert_int_equal(f->nr, 1);
	/* EOI with the input still asserted: delivered again */
	ioapic_eoi(f->io, 0x51);
	assert_int_equal(f->nr, 2);
	assert_int_equal(ioapic_get_entry(f->io, 16) & IOAPIC_RTE_REMOTE_IRR,
			 IOAPIC_RTE_REMOTE_IRR);
	/* the device deasserts, then EOI: Remote IRR clear, nothing delivered */
	ioapic_set_irq(f->io, 16, 0);
	ioapic_eoi(f->io, 0x51);
	assert_int_equal(f->nr, 2);
	assert_int_equal(ioapic_get_entry(f->io, 16) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* masked level input: held until unmasked */
	set_entry(f->io, 16, IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED | 0x51);
	ioapic_set_irq(f->io, 16, 1);
	assert_int_equal(f->nr, 2);
	set_entry(f->io, 16, IOAPIC_RTE_LEVEL | 0x51);
	assert_int_equal(f->nr, 3);
	/* the EOI register (version 0x20) */
	ioapic_set_irq(f->io, 16, 0);
	ioapic_mmio_write(f->io, IOAPIC_EOI, 4, 0x51);
	assert_int_equal(ioapic_get_entry(f->io, 16) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* Linux's clear of a stuck Remote IRR on old IOAPICs: mask, set edge, set level */
	ioapic_set_irq(f->io, 16, 1);
	assert_int_equal(f->nr, 4);
	set_entry(f->io, 16, IOAPIC_RTE_MASKED | 0x51);
	assert_int_equal(ioapic_get_entry(f->io, 16) & IOAPIC_RTE_REMOTE_IRR, 0);
	set_entry(f->io, 16, IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED | 0x51);
	set_entry(f->io, 16, IOAPIC_RTE_LEVEL | 0x51);
	assert_int_equal(f->nr, 5); /* still asserted: delivered on unmask */
	/* two pins sharing a vector: one EOI clears both */
	set_entry(f->io, 17, IOAPIC_RTE_LEVEL | 0x51);
	ioapic_set_irq(f->io, 17, 1);
	assert_int_equal(f->nr, 6);
	ioapic_set_irq(f->io, 16, 0);
	ioapic_set_irq(f->io, 17, 0);
	ioapic_eoi(f->io, 0x51);
	assert_int_equal(ioapic_get_entry(f->io, 16) & IOAPIC_RTE_REMOTE_IRR, 0);
	assert_int_equal(ioapic_get_entry(f->io, 17) & IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_mmio_sizes(void **state)
{
	struct fix *f = *state;
	/* IOREGSEL as a byte register */
	ioapic_mmio_write(f->io, 0, 1, 0x01);
	assert_int_equal(ioapic_mmio_read(f->io, 0x10, 4), 0x00170020);
	assert_int_equal(ioapic_mmio_read(f->io, 0x12, 1), 0x17);
	assert_int_equal(ioapic_mmio_read(f->io, 0x10, 2), 0x0020);
	/* byte writes to IOWIN are ignored */
	ioapic_mmio_write(f->io, 0, 4, 0x10);
	ioapic_mmio_write(f->io, 0x10, 1, 0x00);
	assert_int_equal(ioapic_mmio_read(f->io, 0x10, 4), 0x00010000);
	/* an 8-byte write at 0x00 sets IOREGSEL (and nothing at 0x04) */
	ioapic_mmio_write(f->io, 0, 8, 0xdeadbeef00000002ull);
	assert_int_equal(ioapic_mmio_read(f->io, 0, 8), 0x02);
	/* reserved offsets */
	assert_int_equal(ioapic_mmio_read(f->io, 0x20, 4), 0);
	assert_int_equal(ioapic_mmio_read(f->io, 0xffc, 4), 0);
}

static void test_bus_hostile(void **state)
{
	struct fix *f = *state;
	struct bus *bus = bus_create();
	assert_int_equal(ioapic_register(f->io, bus, IOAPIC_BASE), 0);
	assert_int_equal(ioapic_register(f->io, bus, IOAPIC_BASE), -EBUSY);
	uint32_t v = 1;
	bus_mmio_write(bus, IOAPIC_BASE, &v, 4);
	bus_mmio_read(bus, IOAPIC_BASE + 0x10, &v, 4);
	assert_int_equal(v, 0x00170020);
	/* every index, offset and size; values that unmask entries with random vectors */
	for (unsigned idx = 0; idx < 256; idx++) {
		uint32_t d = idx;
		bus_mmio_write(bus, IOAPIC_BASE, &d, 4);
		d = idx * 0x01010101u & ~(uint32_t)IOAPIC_RTE_MASKED;
		bus_mmio_write(bus, IOAPIC_BASE + 0x10, &d, 4);
		for (unsigned len = 1; len <= 8; len <<= 1) {
			uint64_t q = 0;
			bus_mmio_read(bus, IOAPIC_BASE + (idx & 0x7f), &q, len);
			bus_mmio_write(bus, IOAPIC_BASE + 0x40 + (idx & 0x3f), &q, len);
		}
		ioapic_set_irq(f->io, (int)(idx % 24), (int)(idx / 24 & 1));
		ioapic_eoi(f->io, (uint8_t)idx);
	}
	/* an odd-length access (split by the bus) */
	uint8_t b3[3] = { 0 };
	bus_mmio_read(bus, IOAPIC_BASE + 0x0f, b3, 3);
	ioapic_set_irq(f->io, -1, 1);
	ioapic_set_irq(f->io, 24, 1);
	ioapic_print_stats(f->io, stderr);
	bus_destroy(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_id_ver_arb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_masks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_remote_irr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
