/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the PIO/MMIO bus (src/core/bus.c): registration rules (zero length, end of
 * space, wraparound, overlaps, adjacency), exact offsets and lengths seen by devices, all-ones
 * reads and dropped writes where no device is, byte splitting of straddling and odd-length
 * accesses, unregistering (also from inside a callback, as a PCI BAR move does), counters,
 * tracing, and a concurrency smoke test (two dispatching threads while a third reads counters
 * and registers/unregisters a device under them).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "omnivisor/bus.h"

/* ---- a test device: records accesses; byte at offset o reads as (tag + o) & 0xff ---- */

#define LOG_MAX 16

struct access {
	bool write;
	uint64_t offset;
	unsigned len;
	uint8_t data[8];
};

struct tdev {
	uint8_t tag;
	unsigned nr;
	struct access log[LOG_MAX];
	_Atomic uint64_t nr_reads, nr_writes; /* for the threaded test */
};

static void tdev_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct tdev *d = opaque;
	uint8_t *p = data;
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(d->tag + offset + i);
	if (d->nr < LOG_MAX) {
		d->log[d->nr] = (struct access){ .write = false, .offset = offset, .len = len };
		memcpy(d->log[d->nr].data, data, len);
	}
	d->nr++;
}

static void tdev_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct tdev *d = opaque;
	if (d->nr < LOG_MAX) {
		d->log[d->nr] = (struct access){ .write = true, .offset = offset, .len = len };
		memcpy(d->log[d->nr].data, data, len);
	}
	d->nr++;
}

static const struct bus_ops tdev_ops = {
	.read = tdev_read,
	.write = tdev_write,
};

static const struct bus_ops null_ops = { 0 };

static int setup(void **state)
{
	struct bus *bus = bus_create();
	*state = bus;
	return bus ? 0 : -1;
}

static int teardown(void **state)
{
	bus_destroy(*state);
	return 0;
}

static void check_access(const struct access *a, bool write, uint64_t offset, unsigned len)
{
	assert_int_equal(a->write, write);
	assert_int_equal(a->offset, offset);
	assert_int_equal(a->len, len);
}

/* ---- registration ---- */

static void test_register_rules(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { 0 };
	struct bus_dev *h = NULL;

	assert_int_equal(bus_register_pio(bus, 0x80, 0, &tdev_ops, &d, "zero", NULL), -EINVAL);
	assert_int_equal(bus_register_mmio(bus, 0x1000, 0, &tdev_ops, &d, "zero", NULL), -EINVAL);
	assert_int_equal(bus_register_pio(bus, 0x80, 1, NULL, &d, "noops", NULL), -EINVAL);
	assert_int_equal(bus_register(bus, BUS_NR_SPACES, 0x80, 1, &tdev_ops, &d, "x", NULL),
			 -EINVAL);
	/* past the last port */
	assert_int_equal(bus_register_pio(bus, 0xffff, 2, &tdev_ops, &d, "past", NULL), -EINVAL);
	assert_int_equal(bus_register(bus, BUS_PIO, 0x10000, 1, &tdev_ops, &d, "past", NULL),
			 -EINVAL);
	assert_int_equal(bus_register_pio(bus, 0xfff0, 0x20000, &tdev_ops, &d, "past", NULL),
			 -EINVAL);
	/* MMIO wraparound */
	assert_int_equal(bus_register_mmio(bus, UINT64_MAX, 2, &tdev_ops, &d, "wrap", NULL), -EINVAL);
	assert_int_equal(bus_register_mmio(bus, 0x1000, UINT64_MAX, &tdev_ops, &d, "wrap", NULL),
			 -EINVAL);
	/* the very ends are fine */
	assert_int_equal(bus_register_pio(bus, 0xffff, 1, &tdev_ops, &d, "lastport", &h), 0);
	assert_non_null(h);
	assert_int_equal(bus_register_pio(bus, 0, 1, &tdev_ops, &d, "port0", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, UINT64_MAX, 1, &tdev_ops, &d, "top", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, UINT64_MAX - 0xfff, 0xfff, &tdev_ops, &d, "below",
					   NULL),
			 0);
	/* a NULL name is allowed; a long one is truncated */
	assert_int_equal(bus_register_mmio(bus, 0, 1, &tdev_ops, &d, NULL, NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 1, 1, &tdev_ops, &d,
					   "a-very-long-device-name-that-goes-on-and-on", &h),
			 0);
	struct bus_dev_stats st;
	bus_dev_get_stats(h, &st);
	assert_int_equal(strlen(st.name), BUS_NAME_MAX - 1);
}

static void test_whole_mmio_space(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { .tag = 0 };
	uint8_t buf[8];

	assert_int_equal(bus_register_mmio(bus, 0, UINT64_MAX, &tdev_ops, &d, "all", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, UINT64_MAX, 1, &tdev_ops, &d, "last", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 5, 1, &tdev_ops, &d, "x", NULL), -EBUSY);
	assert_int_equal(bus_mmio_read(bus, UINT64_MAX - 7, buf, 4), 0);
	check_access(&d.log[0], false, UINT64_MAX - 7, 4);
}

static void test_overlap(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { 0 };
	static const struct {
		uint64_t base, len;
	} bad[] = {
		{ 0x100, 1 }, { 0xff, 2 }, { 0x107, 3 }, { 0xf0, 0x100 }, { 0x102, 1 }, { 0x100, 8 },
	};

	assert_int_equal(bus_register_pio(bus, 0x100, 8, &tdev_ops, &d, "a", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 0x101000, 0x80, &tdev_ops, &d, "m", NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bus_register_pio(bus, bad[i].base, bad[i].len, &tdev_ops, &d, "x",
						  NULL),
				 -EBUSY);
		assert_int_equal(bus_register_mmio(bus, 0x100000 + bad[i].base * 16, bad[i].len * 16,
						   &tdev_ops, &d, "x", NULL),
				 -EBUSY);
	}
	/* adjacent on both sides */
	assert_int_equal(bus_register_pio(bus, 0xf8, 8, &tdev_ops, &d, "below", NULL), 0);
	assert_int_equal(bus_register_pio(bus, 0x108, 8, &tdev_ops, &d, "above", NULL), 0);
	assert_int_equal(bus_register_pio(bus, 0xf0, 0x30, &tdev_ops, &d, "x", NULL), -EBUSY);
	/* the two spaces are independent */
	assert_int_equal(bus_register_mmio(bus, 0x100, 8, &tdev_ops, &d, "mmio-same-addr", NULL), 0);
	assert_int_equal(bus_register_pio(bus, 0x1000, 8, &tdev_ops, &d, "pio-same-addr", NULL), 0);
}

/* ---- dispatch ---- */

static void test_dispatch_offsets(void **state)
{
	struct bus *bus = *state;
	struct tdev uart = { .tag = 0x10 }, apic = { .tag = 0x80 };
	uint8_t buf[8];

	assert_int_equal(bus_register_pio(bus, 0x3f8, 8, &tdev_ops, &uart, "uart", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 0xfee00000, 0x1000, &tdev_ops, &apic, "lapic", NULL),
			 0);

	bus_data_put(buf, 2, 0xbeef);
	assert_int_equal(bus_pio_write(bus, 0x3fa, buf, 2), 0);
	assert_int_equal(uart.nr, 1);
	check_access(&uart.log[0], true, 2, 2);
	assert_int_equal(bus_data_get(uart.log[0].data, 2), 0xbeef);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_pio_read(bus, 0x3fc, buf, 4), 0);
	check_access(&uart.log[1], false, 4, 4);
	assert_int_equal(bus_data_get(buf, 4), 0x17161514);

	assert_int_equal(bus_pio_read(bus, 0x3ff, buf, 1), 0);
	check_access(&uart.log[2], false, 7, 1);
	assert_int_equal(buf[0], 0x17);

	assert_int_equal(bus_mmio_read(bus, 0xfee00300, buf, 8), 0);
	check_access(&apic.log[0], false, 0x300, 8);
	assert_int_equal(bus_data_get(buf, 8), 0x8786858483828180ull);

	bus_data_put(buf, 4, 0x000c4500);
	assert_int_equal(bus_mmio_write(bus, 0xfee00300, buf, 4), 0);
	check_access(&apic.log[1], true, 0x300, 4);
	assert_int_equal(bus_data_get(apic.log[1].data, 4), 0x000c4500);

	/* the last 8 bytes of the device */
	assert_int_equal(bus_mmio_read(bus, 0xfee00ff8, buf, 8), 0);
	check_access(&apic.log[2], false, 0xff8, 8);
	/* unaligned, but inside the device: passed as is */
	assert_int_equal(bus_mmio_read(bus, 0xfee00001, buf, 4), 0);
	check_access(&apic.log[3], false, 1, 4);
	assert_int_equal(uart.nr, 3);
	assert_int_equal(apic.nr, 4);
}

static void test_unassigned_reads(void **state)
{
	struct bus *bus = *state;
	static const unsigned pio_lens[] = { 1, 2, 4 }, mmio_lens[] = { 1, 2, 4, 8 };
	uint8_t buf[16];
	uint64_t r, w;

	for (size_t i = 0; i < 3; i++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(bus_pio_read(bus, 0x80, buf, pio_lens[i]), BUS_UNASSIGNED);
		for (unsigned b = 0; b < sizeof(buf); b++)
			assert_int_equal(buf[b], b < pio_lens[i] ? 0xff : 0x5a);
	}
	for (size_t i = 0; i < 4; i++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(bus_mmio_read(bus, 0xd0000000, buf, mmio_lens[i]), BUS_UNASSIGNED);
		for (unsigned b = 0; b < sizeof(buf); b++)
			assert_int_equal(buf[b], b < mmio_lens[i] ? 0xff : 0x5a);
	}
	/* odd MMIO fragment lengths too */
	for (unsigned len = 1; len <= 8; len++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_true(bus_mmio_read(bus, 0x1234567, buf, len) & BUS_UNASSIGNED);
		for (unsigned b = 0; b < sizeof(buf); b++)
			assert_int_equal(buf[b], b < len ? 0xff : 0x5a);
	}
	bus_unassigned_stats(bus, BUS_PIO, &r, &w);
	assert_int_equal(r, 3);
	assert_int_equal(w, 0);
	bus_unassigned_stats(bus, BUS_MMIO, &r, &w);
	assert_int_equal(r, 4 + 8);
	assert_int_equal(w, 0);
}

static void test_unassigned_writes(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { 0 };
	uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t r, w;

	assert_int_equal(bus_register_pio(bus, 0x60, 1, &tdev_ops, &d, "kbd", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 0x1000, 0x10, &tdev_ops, &d, "m", NULL), 0);
	assert_int_equal(bus_pio_write(bus, 0x61, buf, 1), BUS_UNASSIGNED);
	assert_int_equal(bus_pio_write(bus, 0x5c, buf, 4), BUS_UNASSIGNED); /* ends just below */
	assert_int_equal(bus_mmio_write(bus, 0x1010, buf, 8), BUS_UNASSIGNED);
	assert_int_equal(bus_mmio_write(bus, 0xff8, buf, 8), BUS_UNASSIGNED);
	assert_int_equal(d.nr, 0);
	/* the written data is not modified */
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(buf[i], i + 1);
	bus_unassigned_stats(bus, BUS_PIO, &r, &w);
	assert_int_equal(r, 0);
	assert_int_equal(w, 2);
	bus_unassigned_stats(bus, BUS_MMIO, &r, &w);
	assert_int_equal(w, 2);
}

static void test_bad_len(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { 0 };
	uint8_t buf[16];

	assert_int_equal(bus_register_pio(bus, 0x70, 16, &tdev_ops, &d, "rtc", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 0x70, 16, &tdev_ops, &d, "m", NULL), 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(bus_pio_read(bus, 0x70, buf, 0), -EINVAL);
	assert_int_equal(bus_pio_read(bus, 0x70, buf, 3), -EINVAL);
	assert_int_equal(bus_pio_read(bus, 0x70, buf, 8), -EINVAL);
	assert_int_equal(bus_pio_write(bus, 0x70, buf, 3), -EINVAL);
	assert_int_equal(bus_mmio_read(bus, 0x70, buf, 0), -EINVAL);
	assert_int_equal(bus_mmio_read(bus, 0x70, buf, 9), -EINVAL);
	assert_int_equal(bus_mmio_write(bus, 0x70, buf, 16), -EINVAL);
	assert_int_equal(bus_read(bus, BUS_NR_SPACES, 0x70, buf, 1), -EINVAL);
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x5a);
	assert_int_equal(d.nr, 0);
}

static void test_adjacent(void **state)
{
	struct bus *bus = *state;
	struct tdev a = { .tag = 0x10 }, b = { .tag = 0x20 }, c = { .tag = 0x30 };
	uint8_t buf[8];

	assert_int_equal(bus_register_pio(bus, 0x60, 1, &tdev_ops, &a, "a", NULL), 0);
	assert_int_equal(bus_register_pio(bus, 0x61, 1, &tdev_ops, &b, "b", NULL), 0);
	assert_int_equal(bus_register_pio(bus, 0x62, 2, &tdev_ops, &c, "c", NULL), 0);
	assert_int_equal(bus_pio_read(bus, 0x60, buf, 1), 0);
	assert_int_equal(buf[0], 0x10);
	assert_int_equal(bus_pio_read(bus, 0x61, buf, 1), 0);
	assert_int_equal(buf[0], 0x20);
	assert_int_equal(bus_pio_read(bus, 0x62, buf, 2), 0);
	assert_int_equal(bus_data_get(buf, 2), 0x3130);
	assert_int_equal(a.nr, 1);
	assert_int_equal(b.nr, 1);
	assert_int_equal(c.nr, 1);

	/* a dword over all three: one byte to a, one to b, two single bytes to c */
	assert_int_equal(bus_pio_read(bus, 0x60, buf, 4), BUS_SPLIT);
	assert_int_equal(bus_data_get(buf, 4), 0x31302010);
	check_access(&a.log[1], false, 0, 1);
	check_access(&b.log[1], false, 0, 1);
	check_access(&c.log[1], false, 0, 1);
	check_access(&c.log[2], false, 1, 1);

	bus_data_put(buf, 2, 0xaabb);
	assert_int_equal(bus_pio_write(bus, 0x61, buf, 2), BUS_SPLIT);
	check_access(&b.log[2], true, 0, 1);
	assert_int_equal(b.log[2].data[0], 0xbb);
	check_access(&c.log[3], true, 0, 1);
	assert_int_equal(c.log[3].data[0], 0xaa);
}

static void test_straddle(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { .tag = 0x40 }, top = { .tag = 0x90 }, zero = { .tag = 0x00 };
	uint8_t buf[8];

	assert_int_equal(bus_register_pio(bus, 0x100, 4, &tdev_ops, &d, "d", NULL), 0);
	/* runs off the end: bytes 2, 3 of the device, then two unassigned bytes */
	assert_int_equal(bus_pio_read(bus, 0x102, buf, 4), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 4), 0xffff4342);
	assert_int_equal(d.nr, 2);
	check_access(&d.log[0], false, 2, 1);
	check_access(&d.log[1], false, 3, 1);
	/* starts in the hole below */
	assert_int_equal(bus_pio_read(bus, 0xfe, buf, 4), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 4), 0x4140ffff);
	check_access(&d.log[2], false, 0, 1);
	check_access(&d.log[3], false, 1, 1);
	/* covers the whole device and more */
	assert_int_equal(bus_pio_read(bus, 0xff, buf, 2), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 2), 0x40ff);
	/* writes: only the device's bytes arrive, each at its own offset */
	d.nr = 0;
	bus_data_put(buf, 4, 0x44332211);
	assert_int_equal(bus_pio_write(bus, 0x102, buf, 4), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(d.nr, 2);
	check_access(&d.log[0], true, 2, 1);
	assert_int_equal(d.log[0].data[0], 0x11);
	check_access(&d.log[1], true, 3, 1);
	assert_int_equal(d.log[1].data[0], 0x22);

	/* port 0xffff: the second byte is past the I/O space and does not wrap to port 0 */
	assert_int_equal(bus_register_pio(bus, 0xffff, 1, &tdev_ops, &top, "top", NULL), 0);
	assert_int_equal(bus_register_pio(bus, 0, 4, &tdev_ops, &zero, "zero", NULL), 0);
	assert_int_equal(bus_pio_read(bus, 0xffff, buf, 2), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 2), 0xff90);
	assert_int_equal(bus_pio_read(bus, 0xfffe, buf, 4), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 4), 0xffff90ff);
	assert_int_equal(zero.nr, 0);
	/* a hole that runs past the end of the space is still just unassigned */
	assert_int_equal(bus_pio_read(bus, 0xfffe, buf, 1), BUS_UNASSIGNED);

	/* the same at the top of MMIO */
	top.nr = zero.nr = 0;
	assert_int_equal(bus_register_mmio(bus, UINT64_MAX, 1, &tdev_ops, &top, "top", NULL), 0);
	assert_int_equal(bus_register_mmio(bus, 0, 8, &tdev_ops, &zero, "zero", NULL), 0);
	assert_int_equal(bus_mmio_read(bus, UINT64_MAX, buf, 8), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 8), 0xffffffffffffff90ull);
	assert_int_equal(top.nr, 1);
	assert_int_equal(zero.nr, 0);
	assert_int_equal(bus_mmio_read(bus, UINT64_MAX - 3, buf, 8), BUS_SPLIT | BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 8), 0xffffffff90ffffffull);
	assert_int_equal(zero.nr, 0);
}

/* an MMIO fragment of 3, 5, 6 or 7 bytes (KVM splits accesses at page boundaries) */
static void test_odd_mmio_len(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { .tag = 0x50 };
	uint8_t buf[8];

	assert_int_equal(bus_register_mmio(bus, 0xc0000000, 0x1000, &tdev_ops, &d, "d", NULL), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_mmio_read(bus, 0xc0000ffd, buf, 3), BUS_SPLIT);
	assert_int_equal(bus_data_get(buf, 8), 0x4f4e4dull); /* (0x50 + 0xffd..0xfff) & 0xff */
	assert_int_equal(d.nr, 3);
	for (unsigned i = 0; i < 3; i++)
		check_access(&d.log[i], false, 0xffd + i, 1);
	d.nr = 0;
	bus_data_put(buf, 8, 0x0706050403020100ull);
	assert_int_equal(bus_mmio_write(bus, 0xc0000010, buf, 7), BUS_SPLIT);
	assert_int_equal(d.nr, 7);
	for (unsigned i = 0; i < 7; i++) {
		check_access(&d.log[i], true, 0x10 + i, 1);
		assert_int_equal(d.log[i].data[0], i);
	}
}

static void test_null_ops(void **state)
{
	struct bus *bus = *state;
	struct bus_dev *h;
	struct bus_dev_stats st;
	uint8_t buf[4] = { 0 };

	assert_int_equal(bus_register_pio(bus, 0x80, 1, &null_ops, NULL, "post", &h), 0);
	assert_int_equal(bus_pio_read(bus, 0x80, buf, 1), 0);
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(bus_pio_write(bus, 0x80, buf, 1), 0); /* claimed, dropped by the device */
	bus_dev_get_stats(h, &st);
	assert_int_equal(st.nr_reads, 1);
	assert_int_equal(st.nr_writes, 1);
}

static void test_unregister(void **state)
{
	struct bus *bus = *state;
	struct bus *other = bus_create();
	struct tdev a = { .tag = 1 }, b = { .tag = 2 };
	struct bus_dev *ha, *hb, *hx;
	struct bus_dev_stats st;
	uint8_t buf[4];

	assert_non_null(other);
	assert_int_equal(bus_register_mmio(bus, 0x2000, 0x100, &tdev_ops, &a, "a", &ha), 0);
	assert_int_equal(bus_register_mmio(bus, 0x2100, 0x100, &tdev_ops, &b, "b", &hb), 0);
	assert_int_equal(bus_register_mmio(other, 0x2000, 0x100, &tdev_ops, &a, "x", &hx), 0);
	assert_int_equal(bus_mmio_read(bus, 0x2000, buf, 4), 0);
	assert_int_equal(a.nr, 1);

	assert_int_equal(bus_unregister(bus, hx), -ENOENT); /* another bus's handle */
	assert_int_equal(bus_unregister(bus, NULL), -ENOENT);
	assert_int_equal(bus_unregister(bus, ha), 0);
	assert_int_equal(bus_unregister(bus, ha), -ENOENT);
	assert_int_equal(bus_mmio_read(bus, 0x2000, buf, 4), BUS_UNASSIGNED);
	assert_int_equal(bus_data_get(buf, 4), 0xffffffff);
	assert_int_equal(a.nr, 1);
	/* the neighbour is untouched */
	assert_int_equal(bus_mmio_read(bus, 0x2100, buf, 1), 0);
	assert_int_equal(buf[0], 2);
	/* the retired handle still reports its counters until reclaim */
	bus_dev_get_stats(ha, &st);
	assert_int_equal(st.nr_reads, 1);
	assert_int_equal(st.base, 0x2000);
	assert_int_equal(st.len, 0x100);
	assert_string_equal(st.name, "a");
	/* the range is free again */
	assert_int_equal(bus_register_mmio(bus, 0x2080, 0x80, &tdev_ops, &b, "b2", &ha), 0);
	assert_int_equal(bus_mmio_read(bus, 0x2088, buf, 2), 0);
	check_access(&b.log[1], false, 8, 2);
	bus_reclaim(bus);
	assert_int_equal(bus_unregister(bus, hb), 0);
	assert_int_equal(bus_unregister(bus, ha), 0);
	assert_int_equal(bus_for_each_dev(bus, BUS_MMIO, NULL, NULL), 0);
	bus_destroy(other);
}

/* A device that moves itself when written, as a PCI BAR write does (from inside dispatch). */
struct mover {
	struct bus *bus;
	struct bus_dev *h;
	int err;
};

static void mover_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	memset(data, 0x77, len);
}

static void mover_write(void *opaque, uint64_t offset, const void *data, unsigned len);

static const struct bus_ops mover_ops = { .read = mover_read, .write = mover_write };

static void mover_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct mover *m = opaque;
	uint16_t base = (uint16_t)bus_data_get(data, len);
	m->err = bus_unregister(m->bus, m->h);
	if (!m->err)
		m->err = bus_register_pio(m->bus, base, 4, &mover_ops, m, "mover", &m->h);
}

static void test_move_from_callback(void **state)
{
	struct bus *bus = *state;
	struct mover m = { .bus = bus };
	struct tdev other = { 0 };
	uint8_t buf[2];

	assert_int_equal(bus_register_pio(bus, 0xc000, 4, &mover_ops, &m, "mover", &m.h), 0);
	assert_int_equal(bus_register_pio(bus, 0xd000, 4, &tdev_ops, &other, "other", NULL), 0);
	bus_data_put(buf, 2, 0xc100);
	assert_int_equal(bus_pio_write(bus, 0xc000, buf, 2), 0);
	assert_int_equal(m.err, 0);
	assert_int_equal(bus_pio_read(bus, 0xc000, buf, 1), BUS_UNASSIGNED);
	assert_int_equal(bus_pio_read(bus, 0xc102, buf, 2), 0);
	assert_int_equal(bus_data_get(buf, 2), 0x7777);
	/* a move onto another device fails and leaves the mover unmapped (like a BAR conflict) */
	bus_data_put(buf, 2, 0xd002);
	assert_int_equal(bus_pio_write(bus, 0xc100, buf, 2), 0);
	assert_int_equal(m.err, -EBUSY);
	assert_int_equal(bus_pio_read(bus, 0xc100, buf, 1), BUS_UNASSIGNED);
	assert_int_equal(bus_for_each_dev(bus, BUS_PIO, NULL, NULL), 1);
}

static void test_stats(void **state)
{
	struct bus *bus = *state;
	struct tdev a = { 0 }, b = { 0 };
	struct bus_dev *ha;
	struct bus_dev_stats st;
	uint8_t buf[4] = { 0 };
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	assert_int_equal(bus_register_pio(bus, 0x3f8, 8, &tdev_ops, &a, "serial0", &ha), 0);
	assert_int_equal(bus_register_pio(bus, 0x2f8, 8, &tdev_ops, &b, "serial1", NULL), 0);
	for (int i = 0; i < 5; i++)
		bus_pio_write(bus, 0x3f8, buf, 1);
	for (int i = 0; i < 3; i++)
		bus_pio_read(bus, 0x3fd, buf, 1);
	bus_pio_read(bus, 0x3fe, buf, 4); /* 2 bytes in, 2 unassigned: 2 device reads */
	bus_pio_read(bus, 0x80, buf, 1);
	bus_dev_get_stats(ha, &st);
	assert_int_equal(st.nr_writes, 5);
	assert_int_equal(st.nr_reads, 5);
	assert_int_equal(st.space, BUS_PIO);

	f = open_memstream(&text, &size);
	assert_non_null(f);
	bus_print_stats(bus, f);
	fclose(f);
	assert_non_null(strstr(text, "serial0"));
	assert_non_null(strstr(text, "reads 5 writes 5"));
	assert_null(strstr(text, "serial1")); /* idle devices are not listed */
	assert_non_null(strstr(text, "pio  unassigned reads 2 writes 0"));
	free(text);
}

static void collect(const struct bus_dev_stats *st, void *arg)
{
	uint64_t *bases = arg;
	bases[bases[0]++ + 1] = st->base;
}

static void test_for_each_order(void **state)
{
	struct bus *bus = *state;
	static const uint64_t bases[] = { 0x500, 0x100, 0x300, 0x200, 0x400, 0x0, 0x600 };
	uint64_t got[16] = { 0 };
	struct tdev d = { 0 };

	for (size_t i = 0; i < 7; i++)
		assert_int_equal(bus_register_mmio(bus, bases[i], 0x100, &tdev_ops, &d, "x", NULL), 0);
	assert_int_equal(bus_for_each_dev(bus, BUS_MMIO, collect, got), 7);
	assert_int_equal(got[0], 7);
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(got[i + 1], i * 0x100);
	/* and every one of them is found by dispatch */
	for (uint64_t a = 0; a < 0x700; a += 0x40) {
		uint8_t buf[8];
		assert_int_equal(bus_mmio_read(bus, a, buf, 8), 0);
	}
	assert_int_equal(d.nr, 0x700 / 0x40);
}

static void test_trace(void **state)
{
	struct bus *bus = *state;
	struct tdev d = { .tag = 0x41 };
	uint8_t buf[4];
	char out[512] = { 0 };
	int fds[2], saved;
	ssize_t n;

	assert_int_equal(bus_register_pio(bus, 0x3f8, 8, &tdev_ops, &d, "serial0", NULL), 0);
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fds[1], 2);
	bus_set_trace(BUS_TRACE_PIO);
	bus_pio_read(bus, 0x3f8, buf, 1);
	bus_pio_read(bus, 0x81, buf, 2);
	bus_mmio_read(bus, 0x1000, buf, 4); /* MMIO not traced */
	bus_set_trace(0);
	bus_pio_read(bus, 0x3f9, buf, 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_non_null(strstr(out, "pio: read 0x3f8/1 -> 0x41 serial0"));
	assert_non_null(strstr(out, "pio: read 0x81/2 -> 0xffff unassigned"));
	assert_null(strstr(out, "mmio"));
	assert_null(strstr(out, "0x3f9"));
}

/* ---- concurrency smoke test ---- */

#define ITERS 200000

struct cdev {
	uint8_t tag;
	_Atomic uint64_t nr_reads, nr_writes;
};

static void cdev_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct cdev *d = opaque;
	memset(data, d->tag, len);
	atomic_fetch_add(&d->nr_reads, 1);
}

static void cdev_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct cdev *d = opaque;
	atomic_fetch_add(&d->nr_writes, 1);
}

static const struct bus_ops cdev_ops = { .read = cdev_read, .write = cdev_write };

struct worker {
	struct bus *bus;
	enum bus_space space;
	uint64_t stable, flapping;
	uint8_t stable_tag, flapping_tag;
	unsigned bad;
	_Atomic bool *go;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[4];
	while (!atomic_load(w->go))
		;
	for (unsigned i = 0; i < ITERS; i++) {
		int st = bus_read(w->bus, w->space, w->stable + (i & 3), buf, 1);
		if (st != 0 || buf[0] != w->stable_tag)
			w->bad++;
		if (bus_write(w->bus, w->space, w->stable, buf, 4) != 0)
			w->bad++;
		/* the flapping device is either there or not: never anything else */
		st = bus_read(w->bus, w->space, w->flapping, buf, 2);
		if (!(st == 0 && buf[0] == w->flapping_tag && buf[1] == w->flapping_tag) &&
		    !(st == BUS_UNASSIGNED && buf[0] == 0xff && buf[1] == 0xff))
			w->bad++;
	}
	return NULL;
}

static void test_concurrency(void **state)
{
	struct bus *bus = *state;
	struct cdev s0 = { .tag = 0x11 }, s1 = { .tag = 0x22 }, fl = { .tag = 0x33 };
	struct bus_dev *h0, *h1, *hf;
	_Atomic bool go = false;
	struct worker w[2] = {
		{ bus, BUS_PIO, 0x3f8, 0x2f8, 0x11, 0x33, 0, &go },
		{ bus, BUS_MMIO, 0xfed00000, 0xfec00000, 0x22, 0x33, 0, &go },
	};
	pthread_t th[2];
	uint64_t last_r0 = 0, last_w1 = 0, flaps = 0;
	struct bus_dev_stats st;

	assert_int_equal(bus_register_pio(bus, 0x3f8, 8, &cdev_ops, &s0, "s0", &h0), 0);
	assert_int_equal(bus_register_mmio(bus, 0xfed00000, 0x400, &cdev_ops, &s1, "s1", &h1), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	atomic_store(&go, true);
	/* meanwhile: read counters (monotonic) and register/unregister the flapping device */
	for (;;) {
		bus_dev_get_stats(h0, &st);
		assert_true(st.nr_reads >= last_r0);
		last_r0 = st.nr_reads;
		bus_dev_get_stats(h1, &st);
		assert_true(st.nr_writes >= last_w1);
		last_w1 = st.nr_writes;
		if (last_r0 >= ITERS && last_w1 >= ITERS)
			break;
		assert_int_equal(bus_register(bus, flaps & 1 ? BUS_MMIO : BUS_PIO,
					      flaps & 1 ? 0xfec00000 : 0x2f8, 8, &cdev_ops, &fl, "fl",
					      &hf),
				 0);
		sched_yield();
		assert_int_equal(bus_unregister(bus, hf), 0);
		flaps++;
		if (flaps % 256 == 0)
			sched_yield();
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(w[0].bad, 0);
	assert_int_equal(w[1].bad, 0);
	/* exact totals */
	bus_dev_get_stats(h0, &st);
	assert_int_equal(st.nr_reads, ITERS);
	assert_int_equal(st.nr_writes, ITERS);
	assert_int_equal(atomic_load(&s0.nr_reads), ITERS);
	bus_dev_get_stats(h1, &st);
	assert_int_equal(st.nr_reads, ITERS);
	assert_int_equal(st.nr_writes, ITERS);
	assert_int_equal(atomic_load(&s1.nr_writes), ITERS);
	/* no dispatch is running now */
	bus_reclaim(bus);
	print_message("%" PRIu64 " register/unregister pairs during dispatch\n", flaps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_mmio_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unassigned_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unassigned_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_len, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adjacent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_straddle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_mmio_len, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
