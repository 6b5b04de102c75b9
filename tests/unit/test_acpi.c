/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ACPI tables (src/boot/acpi.c), parsed back from guest RAM the way an OS
 * does: RSDP (ACPI 6.0 5.2.5.3) -> XSDT/RSDT (5.2.7, 5.2.8) -> FADT (5.2.9) -> FACS (5.2.10),
 * DSDT (5.2.11.1); MADT (5.2.12). Checks signatures, lengths, revisions, both RSDP checksums and
 * every table checksum, and the exact FADT and MADT field values; walks the DSDT's AML (20.2)
 * far enough to check every PkgLength and the \_S5 object Linux's poweroff reads.
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
#include "omnivisor/acpi.h"
#include "omnivisor/boot.h"

#define RAM_SIZE (2ull << 20)

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

struct tables {
	const uint8_t *m;
	uint64_t rsdp, rsdt, xsdt, fadt, madt, dsdt, facs;
};

/* A table at @gpa: inside the ACPI area, signature, length, checksum, header fields. */
static const uint8_t *table(const uint8_t *m, uint64_t gpa, const char *sig, uint8_t rev)
{
	assert_true(gpa >= LAYOUT_ACPI_START && gpa < LAYOUT_ACPI_END);
	const uint8_t *t = m + gpa;
	uint32_t len = rd32(t + 4);
	assert_memory_equal(t, sig, 4);
	assert_true(len >= 36 && gpa + len <= LAYOUT_ACPI_END);
	assert_int_equal(sum(t, len), 0);
	assert_int_equal(t[8], rev);
	assert_memory_equal(t + 10, ACPI_OEM_ID, 6);
	assert_memory_equal(t + 16, ACPI_OEM_TABLE_ID, 8);
	assert_memory_equal(t + 28, ACPI_CREATOR_ID, 4);
	return t;
}

static void build(uint8_t *m, unsigned nr_cpus, struct tables *t)
{
	struct guest_ram ram = { m, RAM_SIZE };
	struct acpi_config cfg = { .nr_cpus = nr_cpus };
	memset(m, 0xcc, RAM_SIZE); /* the builder must not rely on zeroed memory */
	memset(t, 0, sizeof(*t));
	assert_int_equal(acpi_build(&ram, &cfg, &t->rsdp), 0);
	t->m = m;

	/* RSDP: 16-byte aligned inside 0xe0000-0xfffff, found by the BIOS-area scan */
	uint64_t found = 0;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(m + a, "RSD PTR ", 8) && sum(m + a, 20) == 0) {
			found = a;
			break;
		}
	assert_int_equal(found, t->rsdp);
	const uint8_t *r = m + t->rsdp;
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);	    /* revision 2: ACPI 2.0+ with XSDT */
	assert_int_equal(rd32(r + 20), 36); /* length */
	assert_memory_equal(r + 9, ACPI_OEM_ID, 6);
	t->rsdt = rd32(r + 16);
	t->xsdt = rd64(r + 24);

	const uint8_t *x = table(m, t->xsdt, "XSDT", 1);
	const uint8_t *rs = table(m, t->rsdt, "RSDT", 1);
	assert_int_equal(rd32(x + 4), 36 + 2 * 8);
	assert_int_equal(rd32(rs + 4), 36 + 2 * 4);
	for (int i = 0; i < 2; i++) {
		uint64_t p = rd64(x + 36 + 8 * i);
		assert_int_equal(rd32(rs + 36 + 4 * i), p); /* RSDT lists the same tables */
		if (!memcmp(m + p, "FACP", 4))
			t->fadt = p;
		else if (!memcmp(m + p, "APIC", 4))
			t->madt = p;
	}
	assert_int_not_equal(t->fadt, 0);
	assert_int_not_equal(t->madt, 0);
	const uint8_t *f = table(m, t->fadt, "FACP", 6);
	t->dsdt = rd64(f + 140);
	t->facs = rd32(f + 36);
	table(m, t->dsdt, "DSDT", 2);
	table(m, t->madt, "APIC", 4);
}

static void test_fadt(void **state)
{
	uint8_t *m = *state;
	struct tables t;
	build(m, 1, &t);
	const uint8_t *f = m + t.fadt;
	assert_int_equal(rd32(f + 4), 276); /* ACPI 6.0 FADT length */
	assert_int_equal(f[131], 0);	    /* minor version */
	assert_int_equal(rd32(f + 40), t.dsdt);
	assert_int_equal(rd64(f + 132), 0); /* X_FIRMWARE_CTRL unused: FIRMWARE_CTRL is */
	assert_int_equal(rd16(f + 46), 9);  /* SCI_INT */
	assert_int_equal(rd32(f + 48), 0);  /* SMI_CMD: no SMI mode switch, ACPI mode */
	assert_int_equal(rd32(f + 56), 0x600);
	assert_int_equal(rd32(f + 60), 0);
	assert_int_equal(rd32(f + 64), 0x604);
	assert_int_equal(rd32(f + 68), 0);
	assert_int_equal(rd32(f + 72), 0);
	assert_int_equal(rd32(f + 76), 0x608);
	assert_int_equal(rd32(f + 80), 0); /* no GPE blocks */
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[90], 0);
	assert_int_equal(f[91], 4);
	assert_int_equal(f[92], 0);
	assert_int_equal(rd16(f + 96), 101);  /* C2 unsupported (> 100) */
	assert_int_equal(rd16(f + 98), 1001); /* C3 unsupported (> 1000) */
	assert_int_equal(f[108], 0x32);	      /* CENTURY */
	assert_int_equal(rd16(f + 109), 0x3); /* LEGACY_DEVICES | 8042 */
	/* WBINVD | PROC_C1 | SLP_BUTTON | FIX_RTC | TMR_VAL_EXT | RESET_REG_SUP; HW_REDUCED (20)
	 * clear */
	assert_int_equal(rd32(f + 112), 0x565);
	assert_int_equal(rd32(f + 112) & (1u << 20), 0);
	/* RESET_REG: SystemIO, 8 bits, port 0xcf9; value 6 */
	assert_int_equal(f[116], 1);
	assert_int_equal(f[117], 8);
	assert_int_equal(f[118], 0);
	assert_int_equal(rd64(f + 120), 0xcf9);
	assert_int_equal(f[128], 6);
	/* X_ blocks: SystemIO at the same ports, widths from the lengths */
	assert_int_equal(f[148], 1);
	assert_int_equal(f[149], 32);
	assert_int_equal(rd64(f + 152), 0x600);
	assert_int_equal(rd64(f + 164), 0); /* X_PM1b_EVT */
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(rd64(f + 176), 0x604);
	assert_int_equal(f[208], 1);
	assert_int_equal(f[209], 32);
	assert_int_equal(rd64(f + 212), 0x608);
	/* FACS: 64-byte aligned, 64 bytes, version 2, no checksum */
	assert_int_equal(t.facs & 63, 0);
	assert_memory_equal(m + t.facs, "FACS", 4);
	assert_int_equal(rd32(m + t.facs + 4), 64);
	assert_int_equal(m[t.facs + 32], 2);
	assert_int_equal(rd32(m + t.facs + 12), 0); /* no waking vector */
}

static void check_madt(const uint8_t *m, uint64_t madt, unsigned nr_cpus)
{
	const uint8_t *a = m + madt;
	uint32_t len = rd32(a + 4);
	assert_int_equal(len, 44 + 8 * nr_cpus + 12 + 2 * 10 + 6);
	assert_int_equal(rd32(a + 36), 0xfee00000);
	assert_int_equal(rd32(a + 40), 1); /* PCAT_COMPAT */
	const uint8_t *e = a + 44;
	for (unsigned i = 0; i < nr_cpus; i++, e += 8) {
		assert_int_equal(e[0], 0);
		assert_int_equal(e[1], 8);
		assert_int_equal(e[2], i);
		assert_int_equal(e[3], i);
		assert_int_equal(rd32(e + 4), 1);
	}
	assert_int_equal(e[0], 1); /* IOAPIC */
	assert_int_equal(e[1], 12);
	assert_int_equal(e[2], LAYOUT_IOAPIC_ID);
	assert_int_equal(rd32(e + 4), 0xfec00000);
	assert_int_equal(rd32(e + 8), 0);
	e += 12;
	/* IRQ0 -> GSI 2, edge high; IRQ9 -> GSI 9, level high */
	static const uint8_t iso[2][10] = {
		{ 2, 10, 0, 0, 2, 0, 0, 0, 0x05, 0 },
		{ 2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0 },
	};
	assert_memory_equal(e, iso[0], 10);
	assert_memory_equal(e + 10, iso[1], 10);
	e += 20;
	static const uint8_t nmi[6] = { 4, 6, 0xff, 0x05, 0, 1 }; /* all CPUs, LINT1 */
	assert_memory_equal(e, nmi, 6);
	assert_int_equal(e + 6 - a, len);
}

static void test_madt(void **state)
{
	uint8_t *m = *state;
	struct tables t;
	static const unsigned counts[] = { 1, 2, 4, 64, ACPI_MAX_CPUS };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		build(m, counts[i], &t);
		check_madt(m, t.madt, counts[i]);
		/* the DSDT follows the MADT without overlap */
		assert_true(t.dsdt >= t.madt + rd32(m + t.madt + 4));
	}
}

/* ---- a small AML reader ---- */

/* 20.2.4 PkgLength at @p: returns the length, stores the encoding's size in *@n */
static uint32_t pkglen(const uint8_t *p, unsigned *n)
{
	unsigned follow = p[0] >> 6;
	*n = 1 + follow;
	if (!follow)
		return p[0] & 0x3f;
	uint32_t v = p[0] & 0xf;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(hay + i, needle, k))
			return hay + i;
	return NULL;
}

static void test_dsdt(void **state)
{
	uint8_t *m = *state;
	struct tables t;
	build(m, 1, &t);
	const uint8_t *d = m + t.dsdt;
	uint32_t len = rd32(d + 4);
	const uint8_t *aml = d + 36, *end = d + len;

	/* Name (\_S5_, Package (4) { 5, 5, 0, 0 }) first */
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	assert_memory_equal(aml, s5, sizeof(s5));
	assert_int_equal(ACPI_SLP_TYP_S5, 5);

	/* Scope (\_SB_): its PkgLength runs exactly to the end of the table */
	const uint8_t *p = aml + sizeof(s5);
	assert_int_equal(p[0], 0x10);
	unsigned n;
	uint32_t scope_len = pkglen(p + 1, &n);
	assert_int_equal(p + 1 + scope_len, end);
	assert_memory_equal(p + 1 + n, "\\_SB_", 5);
	/* Device (PCI0): ExtOp 0x5b 0x82, also to the end */
	p += 1 + n + 5;
	assert_int_equal(p[0], 0x5b);
	assert_int_equal(p[1], 0x82);
	uint32_t dev_len = pkglen(p + 2, &n);
	assert_int_equal(p + 2 + dev_len, end);
	assert_memory_equal(p + 2 + n, "PCI0", 4);
	p += 2 + n + 4;
	/* Name (_HID, EisaId ("PNP0A03")) = DWord 0x030ad041; _UID 0; _BBN 0 */
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,
				       0x08, '_', 'U', 'I', 'D', 0x00,
				       0x08, '_', 'B', 'B', 'N', 0x00 };
	assert_memory_equal(p, hid, sizeof(hid));
	p += sizeof(hid);
	/* Name (_CRS, Buffer): the resource template ends with the End Tag */
	assert_memory_equal(p, "\x08_CRS\x11", 6);
	uint32_t buf_len = pkglen(p + 6, &n);
	const uint8_t *buf_end = p + 6 + buf_len;
	const uint8_t *q = p + 6 + n;
	assert_int_equal(q[0], 0x0a); /* BufferSize as a byte */
	unsigned size = q[1];
	q += 2;
	assert_int_equal(q + size, buf_end);
	assert_int_equal(buf_end[-2], 0x79);
	/* the bus range, config ports and the PCI hole are there */
	static const uint8_t bus[] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00,
				       0xff, 0x00, 0, 0, 0x00, 0x01 };
	assert_non_null(find(q, size, bus, sizeof(bus)));
	static const uint8_t cf8[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	assert_non_null(find(q, size, cf8, sizeof(cf8)));
	static const uint8_t hole[] = { 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe };
	assert_non_null(find(q, size, hole, sizeof(hole)));
	/* walk the descriptors: small and large items chain exactly to the End Tag (6.4) */
	const uint8_t *r = q;
	while (r[0] != 0x79) {
		if (r[0] & 0x80)
			r += 3 + rd16(r + 1);
		else
			r += 1 + (r[0] & 7);
		assert_true(r < buf_end);
	}
	assert_int_equal(r + 2, buf_end);

	/* Name (_PRT, Package (128) { Package (4) { 0xDDDDFFFF, pin, 0, GSI } ... }) */
	p = buf_end;
	assert_memory_equal(p, "\x08_PRT\x12", 6);
	uint32_t prt_len = pkglen(p + 6, &n);
	assert_int_equal(p + 6 + prt_len, end); /* the last object of the device */
	q = p + 6 + n;
	assert_int_equal(q[0], 128);
	q++;
	for (unsigned dev = 0; dev < 32; dev++)
		for (unsigned pin = 0; pin < 4; pin++) {
			assert_int_equal(q[0], 0x12);
			uint32_t l = pkglen(q + 1, &n);
			const uint8_t *e = q + 1 + n, *next = q + 1 + l;
			assert_int_equal(e[0], 4);
			e++;
			/* address: DWord prefix unless dev 0 (0xffff fits a Word) */
			uint32_t addr;
			if (e[0] == 0x0c) {
				addr = rd32(e + 1);
				e += 5;
			} else {
				assert_int_equal(e[0], 0x0b);
				addr = rd16(e + 1);
				e += 3;
			}
			assert_int_equal(addr, dev << 16 | 0xffff);
			if (pin <= 1) {
				assert_int_equal(e[0], pin);
				e++;
			} else {
				assert_int_equal(e[0], 0x0a);
				assert_int_equal(e[1], pin);
				e += 2;
			}
			assert_int_equal(e[0], 0x00); /* source: Zero = GSI */
			assert_int_equal(e[1], 0x0a);
			assert_int_equal(e[2], 16 + (dev + pin) % 4); /* = pci.h's PIRQ swizzle */
			assert_int_equal(e + 3, next);
			q = next;
		}
	assert_int_equal(q, end);
}

static void test_errors(void **state)
{
	uint8_t *m = *state;
	struct guest_ram ram = { m, RAM_SIZE };
	struct acpi_config cfg = { .nr_cpus = 0 };
	uint64_t rsdp;
	assert_int_equal(acpi_build(&ram, &cfg, &rsdp), -EINVAL);
	cfg.nr_cpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(&ram, &cfg, &rsdp), -EINVAL);
	cfg.nr_cpus = 1;
	ram.size = LAYOUT_ACPI_END - 1; /* does not cover the table area */
	assert_int_equal(acpi_build(&ram, &cfg, &rsdp), -EINVAL);
	ram.size = LAYOUT_ACPI_END;
	assert_int_equal(acpi_build(&ram, &cfg, &rsdp), 0);
}

static void test_checksum(void **state)
{
	(void)state;
	uint8_t b[4] = { 1, 2, 3, 0 };
	assert_int_equal(acpi_checksum(b, 3), 250);
	b[3] = 250;
	assert_int_equal(acpi_checksum(b, 4), 0);
	assert_int_equal(acpi_checksum(b, 0), 0);
}

static int setup(void **state)
{
	*state = calloc(1, RAM_SIZE);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fadt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsdt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
