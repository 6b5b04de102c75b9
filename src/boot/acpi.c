/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for the PC machine: RSDP, RSDT, XSDT, FADT, FACS, MADT and a hand-assembled DSDT.
 * ACPI 6.0: 5.2.5 RSDP, 5.2.6 table header, 5.2.7 RSDT, 5.2.8 XSDT, 5.2.9 FADT, 5.2.10 FACS,
 * 5.2.11.1 DSDT, 5.2.12 MADT, 5.2.3.2 Generic Address Structure, 6.4 resource descriptors,
 * 20 AML encoding. What the tables say is summarised in include/omnivisor/acpi.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/util.h"
#include "omnivisor/acpi.h"
#include "omnivisor/log.h"

#define HDR_LEN 36 /* 5.2.6 System Description Table Header */

uint8_t acpi_checksum(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	for (uint64_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return (uint8_t)-sum;
}

/* Table header (5.2.6); Length and Checksum are completed by finish(). */
static void header(uint8_t *t, const char *sig, uint8_t revision)
{
	memcpy(t, sig, 4);
	t[8] = revision;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put_le32(t + 24, 1); /* OEM revision */
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put_le32(t + 32, 1); /* creator revision */
}

static void finish(uint8_t *t, uint32_t len)
{
	put_le32(t + 4, len);
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* Generic Address Structure (5.2.3.2): 12 bytes */
#define GAS_SYSTEM_IO 1
static void gas(uint8_t *p, uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t addr)
{
	p[0] = space;
	p[1] = bit_width;
	p[2] = 0; /* bit offset */
	p[3] = access_size; /* 0 undefined, 1 byte, 2 word, 3 dword, 4 qword */
	put_le64(p + 4, addr);
}

/* ---- AML (ACPI 6.0 ch. 20) ---- */

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_EXT 0x5b
#define AML_DEVICE 0x82 /* after AML_EXT */
#define AML_ROOT '\\'

#define AML_MAX 16384
#define AML_DEPTH 8

struct aml {
	uint8_t b[AML_MAX];
	size_t len;
	size_t open[AML_DEPTH]; /* start of the contents of each open PkgLength */
	unsigned depth;
	bool overflow;
};

static void emit(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > AML_MAX - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->b + a->len, p, n);
	a->len += n;
}

static void emit8(struct aml *a, uint8_t v)
{
	emit(a, &v, 1);
}

/* An integer in its shortest encoding (20.2.3 ComputationalData). */
static void aml_int(struct aml *a, uint64_t v)
{
	uint8_t buf[8];
	if (v == 0 || v == 1) {
		emit8(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		emit8(a, AML_BYTE);
		emit8(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		emit8(a, AML_WORD);
		put_le16(buf, (uint16_t)v);
		emit(a, buf, 2);
	} else if (v <= 0xffffffff) {
		emit8(a, AML_DWORD);
		put_le32(buf, (uint32_t)v);
		emit(a, buf, 4);
	} else {
		emit8(a, AML_QWORD);
		put_le64(buf, v);
		emit(a, buf, 8);
	}
}

/* A NameString (20.2.2): "\\_SB_" or "PCI0"; segments are exactly 4 characters. */
static void aml_namestring(struct aml *a, const char *name)
{
	if (*name == AML_ROOT)
		emit8(a, (uint8_t)*name++);
	emit(a, name, 4);
}

/* Open a PkgLength-prefixed object; close with pkg_end (the length is inserted then). */
static void pkg_begin(struct aml *a)
{
	if (a->depth >= AML_DEPTH) {
		a->overflow = true;
		return;
	}
	a->open[a->depth++] = a->len;
}

/* 20.2.4 PkgLength: the count includes the PkgLength bytes themselves; one byte holds up to
 * 63, otherwise bits 7:6 of the lead byte give the number of following bytes, its bits 3:0 the
 * low nibble, each following byte 8 more bits. */
static void pkg_end(struct aml *a)
{
	if (a->overflow || a->depth == 0) {
		a->overflow = true;
		return;
	}
	size_t start = a->open[--a->depth];
	size_t body = a->len - start;
	unsigned nbytes = body + 1 < 0x40 ? 1 : body + 2 < 0x1000 ? 2 : body + 3 < 0x100000 ? 3 : 4;
	if (nbytes > AML_MAX - a->len) {
		a->overflow = true;
		return;
	}
	size_t total = body + nbytes;
	uint8_t enc[4];
	if (nbytes == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((nbytes - 1) << 6) | (total & 0xf));
		for (unsigned i = 1; i < nbytes; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->b + start + nbytes, a->b + start, body);
	memcpy(a->b + start, enc, nbytes);
	a->len += nbytes;
}

/* EISA id compression (ACPI 6.0 19.6.35 EISAID): 3 letters of 5 bits, 4 hex digits, stored
 * as a big-endian dword. */
static uint32_t eisa_id(const char *id)
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
		     (uint32_t)(id[2] - 0x40) << 16;
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	return __builtin_bswap32(v);
}

/* Resource descriptors (6.4) of the PCI root bridge's _CRS */
static size_t res_word(uint8_t *p, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max)
{
	/* 6.4.3.5.3 Word Address Space Descriptor */
	p[0] = 0x88;
	put_le16(p + 1, 13);
	p[3] = type;	 /* 1 I/O, 2 bus number */
	p[4] = 0x0c;	 /* general flags: _MAF | _MIF fixed, positive decode, producer */
	p[5] = type_flags;
	put_le16(p + 6, 0); /* granularity */
	put_le16(p + 8, min);
	put_le16(p + 10, max);
	put_le16(p + 12, 0); /* translation offset */
	put_le16(p + 14, (uint16_t)(max - min + 1));
	return 16;
}

static size_t res_dword_mem(uint8_t *p, uint8_t mem_flags, uint32_t min, uint32_t max)
{
	/* 6.4.3.5.2 DWord Address Space Descriptor, memory */
	p[0] = 0x87;
	put_le16(p + 1, 23);
	p[3] = 0;	 /* memory range */
	p[4] = 0x0c;	 /* _MAF | _MIF */
	p[5] = mem_flags; /* bit 0 read/write, bits 2:1 _MEM (0 non-cacheable, 1 cacheable) */
	put_le32(p + 6, 0);
	put_le32(p + 10, min);
	put_le32(p + 14, max);
	put_le32(p + 18, 0);
	put_le32(p + 22, max - min + 1);
	return 26;
}

static size_t res_io(uint8_t *p, uint16_t base, uint8_t len)
{
	/* 6.4.2.5 I/O Port Descriptor: 16-bit decode, min = max = base */
	p[0] = 0x47;
	p[1] = 1;
	put_le16(p + 2, base);
	put_le16(p + 4, base);
	p[6] = 1;
	p[7] = len;
	return 8;
}

static void dsdt_aml(struct aml *a)
{
	/* Name (\_S5, Package (4) { 5, 5, 0, 0 }): SLP_TYPa, SLP_TYPb (7.4.2) */
	emit8(a, AML_NAME);
	aml_namestring(a, "\\_S5_");
	emit8(a, AML_PACKAGE);
	pkg_begin(a);
	emit8(a, 4);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, 0);
	aml_int(a, 0);
	pkg_end(a);

	/* Scope (\_SB) { Device (PCI0) { ... } } */
	emit8(a, AML_SCOPE);
	pkg_begin(a);
	aml_namestring(a, "\\_SB_");
	emit8(a, AML_EXT);
	emit8(a, AML_DEVICE);
	pkg_begin(a);
	aml_namestring(a, "PCI0");

	emit8(a, AML_NAME);
	aml_namestring(a, "_HID");
	aml_int(a, eisa_id("PNP0A03"));
	emit8(a, AML_NAME);
	aml_namestring(a, "_UID");
	aml_int(a, 0);
	emit8(a, AML_NAME);
	aml_namestring(a, "_BBN");
	aml_int(a, 0);

	uint8_t crs[160];
	size_t n = 0;
	n += res_word(crs + n, 2, 0, 0x00, 0xff);	       /* bus numbers 0-255 */
	n += res_io(crs + n, 0xcf8, 8);		       /* configuration mechanism #1 */
	n += res_word(crs + n, 1, 0x03, 0x0000, 0x0cf7);      /* I/O, _RNG entire range */
	n += res_word(crs + n, 1, 0x03, 0x0d00, 0xffff);
	n += res_dword_mem(crs + n, 0x03, 0xa0000, 0xbffff); /* VGA window, cacheable RW */
	n += res_dword_mem(crs + n, 0x01, (uint32_t)LAYOUT_PCI_MMIO_START,
			   (uint32_t)(LAYOUT_PCI_MMIO_END - 1));
	crs[n++] = 0x79; /* 6.4.2.9 End Tag, checksum 0 = "the sum is correct" */
	crs[n++] = 0;
	emit8(a, AML_NAME);
	aml_namestring(a, "_CRS");
	emit8(a, AML_BUFFER);
	pkg_begin(a);
	aml_int(a, n);
	emit(a, crs, n);
	pkg_end(a);

	/* _PRT (6.2.13): Package { Package { Address 0xDDDDFFFF, Pin, Source 0 (GSI), GSI } } */
	emit8(a, AML_NAME);
	aml_namestring(a, "_PRT");
	emit8(a, AML_PACKAGE);
	pkg_begin(a);
	emit8(a, 32 * 4);
	for (unsigned dev = 0; dev < 32; dev++)
		for (unsigned pin = 0; pin < 4; pin++) {
			emit8(a, AML_PACKAGE);
			pkg_begin(a);
			emit8(a, 4);
			aml_int(a, (uint64_t)dev << 16 | 0xffff);
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, LAYOUT_PCI_INTX_GSI_BASE + (dev + pin) % LAYOUT_PCI_INTX_NR_GSI);
			pkg_end(a);
		}
	pkg_end(a);

	pkg_end(a); /* Device (PCI0) */
	pkg_end(a); /* Scope (\_SB) */
}

/* ---- the tables ---- */

/* FADT flags (5.2.9 Table 5-35) */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_FIX_RTC (1u << 6)
#define FADT_TMR_VAL_EXT (1u << 8)
#define FADT_RESET_REG_SUP (1u << 10)
/* IA-PC boot architecture flags (5.2.9.3) */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define FADT_LEN 276

static uint32_t build_fadt(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
	header(t, "FACP", 6);
	t[131] = 0;			   /* FADT minor version: ACPI 6.0 */
	put_le32(t + 36, (uint32_t)facs); /* FIRMWARE_CTRL (X_FIRMWARE_CTRL left 0) */
	put_le32(t + 40, (uint32_t)dsdt);
	t[45] = 0;			   /* Preferred_PM_Profile: unspecified */
	put_le16(t + 46, LAYOUT_ACPI_SCI_IRQ);
	put_le32(t + 48, 0);		   /* SMI_CMD 0: no SMI mode, always ACPI mode */
	put_le32(t + 56, LAYOUT_ACPI_PM1A_EVT);
	put_le32(t + 64, LAYOUT_ACPI_PM1A_CNT);
	put_le32(t + 76, LAYOUT_ACPI_PM_TMR);
	t[88] = 4; /* PM1_EVT_LEN */
	t[89] = 2; /* PM1_CNT_LEN */
	t[91] = 4; /* PM_TMR_LEN */
	put_le16(t + 96, 101);  /* P_LVL2_LAT > 100: C2 not supported */
	put_le16(t + 98, 1001); /* P_LVL3_LAT > 1000: C3 not supported */
	t[108] = 0x32;		/* CENTURY: CMOS RAM index of the century byte */
	put_le16(t + 109, IAPC_LEGACY_DEVICES | IAPC_8042);
	put_le32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
				  FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
	gas(t + 116, GAS_SYSTEM_IO, 8, 1, LAYOUT_RESET_CTL_PORT); /* RESET_REG */
	t[128] = LAYOUT_RESET_VALUE;
	put_le64(t + 140, dsdt); /* X_DSDT */
	gas(t + 148, GAS_SYSTEM_IO, 32, 0, LAYOUT_ACPI_PM1A_EVT); /* X_PM1a_EVT_BLK */
	gas(t + 172, GAS_SYSTEM_IO, 16, 0, LAYOUT_ACPI_PM1A_CNT); /* X_PM1a_CNT_BLK */
	gas(t + 208, GAS_SYSTEM_IO, 32, 0, LAYOUT_ACPI_PM_TMR);   /* X_PM_TMR_BLK */
	finish(t, FADT_LEN);
	return FADT_LEN;
}

static uint32_t build_madt(uint8_t *t, unsigned nr_cpus)
{
	uint32_t n = HDR_LEN;
	header(t, "APIC", 4);
	put_le32(t + n, (uint32_t)LAYOUT_LAPIC_BASE); /* Local Interrupt Controller Address */
	put_le32(t + n + 4, 1);			       /* PCAT_COMPAT: dual 8259s present */
	n += 8;
	for (unsigned i = 0; i < nr_cpus; i++) {
		/* 5.2.12.2 Processor Local APIC: type 0, length 8 */
		t[n] = 0;
		t[n + 1] = 8;
		t[n + 2] = (uint8_t)i; /* ACPI processor UID */
		t[n + 3] = (uint8_t)i; /* APIC id */
		put_le32(t + n + 4, 1); /* enabled */
		n += 8;
	}
	/* 5.2.12.3 I/O APIC: type 1, length 12 */
	t[n] = 1;
	t[n + 1] = 12;
	t[n + 2] = LAYOUT_IOAPIC_ID;
	t[n + 3] = 0;
	put_le32(t + n + 4, (uint32_t)LAYOUT_IOAPIC_BASE);
	put_le32(t + n + 8, 0); /* global system interrupt base */
	n += 12;
	/* 5.2.12.5 Interrupt Source Override: type 2, length 10; flags (Table 5-50): polarity
	 * bits 1:0 (01 active high), trigger bits 3:2 (01 edge, 11 level) */
	static const struct {
		uint8_t irq;
		uint32_t gsi;
		uint16_t flags;
	} iso[] = {
		{ 0, 2, 0x0005 },			/* the PIT: IRQ 0 is IOAPIC pin 2 */
		{ LAYOUT_ACPI_SCI_IRQ, LAYOUT_ACPI_SCI_IRQ, 0x000d }, /* SCI, level high */
	};
	for (size_t i = 0; i < sizeof(iso) / sizeof(iso[0]); i++) {
		t[n] = 2;
		t[n + 1] = 10;
		t[n + 2] = 0; /* bus: ISA */
		t[n + 3] = iso[i].irq;
		put_le32(t + n + 4, iso[i].gsi);
		put_le16(t + n + 8, iso[i].flags);
		n += 10;
	}
	/* 5.2.12.7 Local APIC NMI: type 4, length 6, all processors, edge high, LINT1 */
	t[n] = 4;
	t[n + 1] = 6;
	t[n + 2] = 0xff;
	put_le16(t + n + 3, 0x0005);
	t[n + 5] = 1;
	n += 6;
	finish(t, n);
	return n;
}

int acpi_build(const struct guest_ram *ram, const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS) {
		pr_err("acpi: %u vCPUs: between 1 and %d are supported", cfg->nr_cpus,
		       ACPI_MAX_CPUS);
		return -EINVAL;
	}
	if (!ram_range_ok(ram, LAYOUT_ACPI_START, LAYOUT_ACPI_END - LAYOUT_ACPI_START)) {
		pr_err("acpi: guest RAM (0x%" PRIx64 " bytes) does not cover the ACPI area",
		       ram->size);
		return -EINVAL;
	}
	uint8_t *base = ram->hva;
	memset(base + LAYOUT_ACPI_START, 0, LAYOUT_ACPI_END - LAYOUT_ACPI_START);

	/* Placement: RSDP, RSDT, XSDT, FACS, FADT, MADT, DSDT, each aligned */
	const uint64_t rsdp = LAYOUT_ACPI_START;
	const uint64_t rsdt = rsdp + 0x40;
	const uint64_t xsdt = rsdt + 0x40;
	const uint64_t facs = xsdt + 0x40; /* 64-byte aligned (5.2.10) */
	const uint64_t fadt = facs + 0x40;
	const uint64_t madt = fadt + 0x200;
	uint32_t madt_len = build_madt(base + madt, cfg->nr_cpus);
	const uint64_t dsdt = (madt + madt_len + 15) & ~15ull;

	struct aml *a = calloc(1, sizeof(*a)); /* 16 KiB: not on the stack */
	if (!a)
		return -ENOMEM;
	dsdt_aml(a);
	if (a->overflow || a->depth || dsdt + HDR_LEN + a->len > LAYOUT_ACPI_END) {
		free(a);
		pr_err("acpi: the tables do not fit in [0x%llx, 0x%llx)", LAYOUT_ACPI_START,
		       LAYOUT_ACPI_END);
		return -ENOSPC;
	}
	header(base + dsdt, "DSDT", 2);
	memcpy(base + dsdt + HDR_LEN, a->b, a->len);
	finish(base + dsdt, (uint32_t)(HDR_LEN + a->len));
	free(a);

	build_fadt(base + fadt, facs, dsdt);

	/* FACS (5.2.10): no checksum; version 2 */
	memcpy(base + facs, "FACS", 4);
	put_le32(base + facs + 4, 64);
	base[facs + 32] = 2;

	/* RSDT (32-bit pointers) and XSDT (64-bit) list FADT and MADT */
	const uint64_t entries[] = { fadt, madt };
	const unsigned nr = sizeof(entries) / sizeof(entries[0]);
	header(base + rsdt, "RSDT", 1);
	header(base + xsdt, "XSDT", 1);
	for (unsigned i = 0; i < nr; i++) {
		put_le32(base + rsdt + HDR_LEN + 4 * i, (uint32_t)entries[i]);
		put_le64(base + xsdt + HDR_LEN + 8 * i, entries[i]);
	}
	finish(base + rsdt, HDR_LEN + 4 * nr);
	finish(base + xsdt, HDR_LEN + 8 * nr);

	/* RSDP (5.2.5.3), revision 2: checksum over the first 20 bytes, extended over 36 */
	uint8_t *r = base + rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2;
	put_le32(r + 16, (uint32_t)rsdt);
	put_le32(r + 20, 36);
	put_le64(r + 24, xsdt);
	r[8] = acpi_checksum(r, 20);
	r[32] = acpi_checksum(r, 36);
	*rsdp_gpa = rsdp;
	return 0;
}
