/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the PCI host bridge and type-0 header helper (src/hw/pci.c) against the PCI
 * Local Bus Specification 3.0 ("PCI 3.0"): configuration mechanism #1 (3.2.2.3.2) with Linux's
 * probe sequence, the 82441FX host bridge header, absent functions and buses (all ones),
 * byte/word/dword and misaligned CONFIG_DATA accesses, a fake device with 32-bit, I/O and
 * 64-bit prefetchable BARs sized the way Linux does it (6.2.5.1), the capability list (6.7),
 * command/status write masks, INTx routing with wired-OR PIRQs, the 0xCF9 reset register, and
 * hostile port accesses.
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
#include "omnivisor/hw/pci.h"

/* ---- a fake device using the header helper; records access shapes and changes ---- */

struct fake {
	struct pci_cfg cfg;
	unsigned nr_accesses, nr_misaligned;
	unsigned changed; /* OR of pci_cfg_write results */
};

static uint32_t fake_read(void *opaque, unsigned offset, unsigned len)
{
	struct fake *f = opaque;
	f->nr_accesses++;
	if (offset % len || offset / 4 != (offset + len - 1) / 4)
		f->nr_misaligned++;
	return pci_cfg_read(&f->cfg, offset, len);
}

static void fake_write(void *opaque, unsigned offset, unsigned len, uint32_t val)
{
	struct fake *f = opaque;
	f->nr_accesses++;
	if (offset % len || offset / 4 != (offset + len - 1) / 4)
		f->nr_misaligned++;
	f->changed |= pci_cfg_write(&f->cfg, offset, len, val);
}

static const struct pci_device_ops fake_ops = {
	.config_read = fake_read,
	.config_write = fake_write,
};

static void fake_init(struct fake *f, uint8_t pin)
{
	memset(f, 0, sizeof(*f));
	struct pci_id id = {
		.vendor_id = 0x1af4,
		.device_id = 0x1041,
		.subsystem_vendor_id = 0x1af4,
		.subsystem_id = 0x0001,
		.revision = 0x01,
		.class_code = 0x020000,
		.interrupt_pin = pin,
	};
	pci_cfg_init(&f->cfg, &id);
	assert_int_equal(pci_cfg_add_bar(&f->cfg, 0, 4096, PCI_BAR_MEM32), 0);
	assert_int_equal(pci_cfg_add_bar(&f->cfg, 1, 32, PCI_BAR_IO), 0);
	assert_int_equal(pci_cfg_add_bar(&f->cfg, 2, 1 << 20, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
}

/* ---- fixture: host on a bus, the fake at 0:3.0 ---- */

struct pirq_rec {
	int level[PCI_NR_PIRQS];
	unsigned nr_calls;
};

static void pirq_set(void *opaque, int n, int level)
{
	struct pirq_rec *r = opaque;
	r->level[n] = level;
	r->nr_calls++;
}

struct reset_rec {
	unsigned nr;
	bool hard;
};

static void reset_cb(void *opaque, bool hard)
{
	struct reset_rec *r = opaque;
	r->nr++;
	r->hard = hard;
}

struct fix {
	struct bus *bus;
	struct pci_host *host;
	struct fake dev;
	struct pirq_rec pirq;
	struct reset_rec reset;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct pci_host_config cfg = { .reset = reset_cb, .reset_opaque = &f->reset };
	for (int i = 0; i < PCI_NR_PIRQS; i++)
		cfg.pirq[i] = (struct irq_line){ .set = pirq_set, .opaque = &f->pirq, .n = i };
	f->bus = bus_create();
	f->host = pci_host_create(&cfg);
	if (!f->bus || !f->host || pci_host_register(f->host, f->bus))
		return -1;
	fake_init(&f->dev, 1);
	if (pci_register_device(f->host, PCI_DEVFN(3, 0), &fake_ops, &f->dev))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	bus_destroy(f->bus);
	pci_host_destroy(f->host);
	free(f);
	return 0;
}

static uint32_t in(struct bus *bus, uint16_t port, unsigned len)
{
	uint32_t v = 0;
	bus_pio_read(bus, port, &v, len);
	return v;
}

static void out(struct bus *bus, uint16_t port, unsigned len, uint32_t v)
{
	bus_pio_write(bus, port, &v, len);
}

static uint32_t addr(unsigned bus_nr, unsigned slot, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus_nr << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

/* Linux's pci_conf1_read: outl(address), then in[bwl](0xCFC + (reg & 3)). */
static uint32_t conf1_read(struct bus *bus, unsigned b, unsigned s, unsigned fn, unsigned reg,
			   unsigned len)
{
	out(bus, 0xcf8, 4, addr(b, s, fn, reg));
	return in(bus, (uint16_t)(0xcfc + (reg & 3)), len);
}

static void conf1_write(struct bus *bus, unsigned b, unsigned s, unsigned fn, unsigned reg,
			unsigned len, uint32_t v)
{
	out(bus, 0xcf8, 4, addr(b, s, fn, reg));
	out(bus, (uint16_t)(0xcfc + (reg & 3)), len, v);
}

static void test_linux_probe(void **state)
{
	struct fix *f = *state;
	/* arch/x86/pci/direct.c pci_check_type1 */
	out(f->bus, 0xcfb, 1, 0x01); /* a byte: not CONFIG_ADDRESS */
	uint32_t tmp = in(f->bus, 0xcf8, 4);
	assert_int_equal(tmp, 0);
	out(f->bus, 0xcf8, 4, 0x80000000);
	assert_int_equal(in(f->bus, 0xcf8, 4), 0x80000000);
	out(f->bus, 0xcf8, 4, tmp);
	/* pci_check_type2 must fail: byte reads of 0xCF8 / 0xCFA are not latched registers */
	out(f->bus, 0xcf8, 1, 0x00);
	out(f->bus, 0xcfa, 1, 0x00);
	assert_int_equal(in(f->bus, 0xcf8, 1), 0xff);
	assert_int_equal(in(f->bus, 0xcfa, 1), 0xff);
	assert_int_equal(in(f->bus, 0xcf8, 2), 0xffff);
	/* reserved bits of CONFIG_ADDRESS read 0 */
	out(f->bus, 0xcf8, 4, 0xffffffff);
	assert_int_equal(in(f->bus, 0xcf8, 4), 0x80fffffc);
	/* pci_sanity_check: a host bridge class on bus 0 */
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x0a, 2), 0x0600);
}

static void test_host_bridge(void **state)
{
	struct fix *f = *state;
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x00, 4), 0x12378086);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x04, 4), 0x02800006);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x08, 4), 0x06000002);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x0c, 4), 0x00000000);
	for (unsigned r = 0x10; r < 0x28; r += 4)
		assert_int_equal(conf1_read(f->bus, 0, 0, 0, r, 4), 0);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x3c, 4), 0);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x72, 1), 0x02); /* SMRAM */
	/* PCICMD: memory and bus master stay on */
	conf1_write(f->bus, 0, 0, 0, 0x04, 2, 0x0000);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x04, 2), 0x0006);
	conf1_write(f->bus, 0, 0, 0, 0x04, 2, 0xffff);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x04, 2), 0x0146);
	/* BARs read-only zero on the host bridge (sizing finds none) */
	conf1_write(f->bus, 0, 0, 0, 0x10, 4, 0xffffffff);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x10, 4), 0);
	/* PAM registers store */
	conf1_write(f->bus, 0, 0, 0, 0x59, 1, 0x30);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x59, 1), 0x30);
	/* IDs are read-only */
	conf1_write(f->bus, 0, 0, 0, 0x00, 4, 0);
	assert_int_equal(conf1_read(f->bus, 0, 0, 0, 0x00, 4), 0x12378086);
}

static void test_absent(void **state)
{
	struct fix *f = *state;
	/* every other function of bus 0, and any function of other buses */
	for (unsigned s = 0; s < 32; s++)
		for (unsigned fn = 0; fn < 8; fn++) {
			if ((s == 0 || s == 3) && fn == 0)
				continue;
			assert_int_equal(conf1_read(f->bus, 0, s, fn, 0, 4), 0xffffffff);
		}
	assert_int_equal(conf1_read(f->bus, 1, 0, 0, 0, 4), 0xffffffff);
	assert_int_equal(conf1_read(f->bus, 255, 3, 0, 0, 2), 0xffff);
	assert_int_equal(conf1_read(f->bus, 0, 5, 0, 0x0e, 1), 0xff);
	conf1_write(f->bus, 0, 5, 0, 0x04, 4, 0x7); /* dropped */
	/* enable bit clear: CONFIG_DATA is ordinary, unassigned I/O */
	out(f->bus, 0xcf8, 4, 0x00000000);
	assert_int_equal(in(f->bus, 0xcfc, 4), 0xffffffff);
	struct pci_host_stats st;
	pci_host_get_stats(f->host, &st);
	assert_int_equal(st.nr_absent, 256 - 2 + 4);
}

static void test_access_sizes(void **state)
{
	struct fix *f = *state;
	/* byte and word reads at each offset of the vendor/device dword */
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x00, 1), 0xf4);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x01, 1), 0x1a);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x02, 1), 0x41);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x03, 1), 0x10);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x02, 2), 0x1041);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x3d, 1), 0x01); /* INTA */
	assert_int_equal(f->dev.nr_misaligned, 0);
	/* misaligned word at 0xCFD: split into bytes before the device sees it */
	out(f->bus, 0xcf8, 4, addr(0, 3, 0, 0));
	assert_int_equal(in(f->bus, 0xcfd, 2), 0x411a);
	/* a dword at 0xCFE straddles the end of CONFIG_DATA: 2 bytes, then unassigned */
	assert_int_equal(in(f->bus, 0xcfe, 4), 0xffff1041);
	assert_int_equal(f->dev.nr_misaligned, 0);
	/* subsystem IDs, class */
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x2c, 4), 0x00011af4);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x08, 4), 0x02000001);
}

static void test_bar_sizing(void **state)
{
	struct fix *f = *state;
	struct bus *b = f->bus;
	/* BAR types at reset (PCI 3.0 6.2.5.1) */
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x10, 4), 0x00000000);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x14, 4), 0x00000001);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x18, 4), 0x0000000c);
	/* Linux's __pci_read_base: write all ones, read the mask, restore */
	static const struct {
		unsigned reg;
		uint32_t mask;
	} sz[] = {
		{ 0x10, 0xfffff000 }, { 0x14, 0xffffffe1 }, { 0x18, 0xfff0000c },
		{ 0x1c, 0xffffffff }, { 0x20, 0x00000000 }, { 0x24, 0x00000000 },
		{ 0x30, 0x00000000 }, /* no expansion ROM */
	};
	for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		uint32_t old = conf1_read(b, 0, 3, 0, sz[i].reg, 4);
		conf1_write(b, 0, 3, 0, sz[i].reg, 4, sz[i].reg == 0x30 ? 0xfffff800 : 0xffffffff);
		assert_int_equal(conf1_read(b, 0, 3, 0, sz[i].reg, 4), sz[i].mask);
		conf1_write(b, 0, 3, 0, sz[i].reg, 4, old);
		assert_int_equal(conf1_read(b, 0, 3, 0, sz[i].reg, 4), old);
	}
	/* program addresses; the helper reports the changes */
	f->dev.changed = 0;
	conf1_write(b, 0, 3, 0, 0x10, 4, 0xfebf1234); /* low bits below the size ignored */
	conf1_write(b, 0, 3, 0, 0x14, 4, 0x0000c041);
	conf1_write(b, 0, 3, 0, 0x18, 4, 0x00000000);
	conf1_write(b, 0, 3, 0, 0x1c, 4, 0x00000008); /* 0x8_0000_0000 */
	assert_int_equal(f->dev.changed, PCI_CFG_CHANGED_BAR(0) | PCI_CFG_CHANGED_BAR(1) |
						 PCI_CFG_CHANGED_BAR(2));
	assert_int_equal(pci_cfg_bar_addr(&f->dev.cfg, 0), 0xfebf1000);
	assert_int_equal(pci_cfg_bar_addr(&f->dev.cfg, 1), 0xc040);
	assert_int_equal(pci_cfg_bar_addr(&f->dev.cfg, 2), 0x800000000ull);
	assert_int_equal(pci_cfg_bar_addr(&f->dev.cfg, 3), PCI_BAR_UNMAPPED);
	assert_int_equal(pci_cfg_bar_addr(&f->dev.cfg, 4), PCI_BAR_UNMAPPED);
	/* decoding follows the command register */
	assert_int_equal(pci_cfg_bar_mapping(&f->dev.cfg, 0), PCI_BAR_UNMAPPED);
	f->dev.changed = 0;
	conf1_write(b, 0, 3, 0, 0x04, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(f->dev.changed, PCI_CFG_CHANGED_COMMAND);
	assert_int_equal(pci_cfg_bar_mapping(&f->dev.cfg, 0), 0xfebf1000);
	assert_int_equal(pci_cfg_bar_mapping(&f->dev.cfg, 1), PCI_BAR_UNMAPPED);
	assert_int_equal(pci_cfg_bar_mapping(&f->dev.cfg, 2), 0x800000000ull);
	conf1_write(b, 0, 3, 0, 0x04, 2, PCI_COMMAND_IO);
	assert_int_equal(pci_cfg_bar_mapping(&f->dev.cfg, 1), 0xc040);
	/* byte writes into a BAR */
	conf1_write(b, 0, 3, 0, 0x13, 1, 0xe0);
	assert_int_equal(pci_cfg_bar_addr(&f->dev.cfg, 0), 0xe0bf1000);
}

static void test_header_masks(void **state)
{
	struct fix *f = *state;
	struct bus *b = f->bus;
	conf1_write(b, 0, 3, 0, 0x04, 4, 0xffffffff);
	/* command: I/O, memory, master, parity, SERR, INTx disable; status: nothing to set */
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x04, 4), 0x00000547);
	/* status error bits are write-1-to-clear */
	f->dev.cfg.data[PCI_STATUS + 1] = 0xf9;
	conf1_write(b, 0, 3, 0, 0x06, 2, 0x2000);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x06, 2), 0xd900);
	conf1_write(b, 0, 3, 0, 0x06, 2, 0xffff);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x06, 2), 0x0000);
	/* cache line, latency timer, interrupt line writable; header type, pin read-only */
	conf1_write(b, 0, 3, 0, 0x0c, 4, 0xffffffff);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x0c, 4), 0x0000ffff);
	conf1_write(b, 0, 3, 0, 0x3c, 4, 0xffffffff);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x3c, 4), 0x000001ff);
	/* capability list */
	assert_int_equal(pci_cfg_add_cap(&f->dev.cfg, 0x11, 12), 0x40);
	assert_int_equal(pci_cfg_add_cap(&f->dev.cfg, 0x09, 5), 0x4c);
	assert_int_equal(pci_cfg_add_cap(&f->dev.cfg, 0x05, 2), 0x54);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x06, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x34, 1), 0x40);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x40, 2), 0x4c11);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x4c, 2), 0x5409);
	assert_int_equal(conf1_read(b, 0, 3, 0, 0x54, 2), 0x0005);
	assert_int_equal(pci_cfg_add_cap(&f->dev.cfg, 0x09, 200), -ENOSPC);
	assert_int_equal(pci_cfg_add_cap(&f->dev.cfg, 0x09, 1), -EINVAL);
	/* the helper's bounds */
	assert_int_equal(pci_cfg_read(&f->dev.cfg, 255, 2), 0xffff);
	assert_int_equal(pci_cfg_read(&f->dev.cfg, 256, 1), 0xff);
	assert_int_equal(pci_cfg_write(&f->dev.cfg, 254, 4, 0), 0);
	assert_int_equal(pci_cfg_read(&f->dev.cfg, 0, 3), 0xffffff);
}

static void test_add_bar_errors(void **state)
{
	(void)state;
	struct pci_cfg c;
	struct pci_id id = { .vendor_id = 1 };
	pci_cfg_init(&c, &id);
	assert_int_equal(pci_cfg_add_bar(&c, 6, 4096, PCI_BAR_MEM32), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 3000, PCI_BAR_MEM32), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 8, PCI_BAR_MEM32), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 2, PCI_BAR_IO), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 1 << 17, PCI_BAR_IO), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 1ull << 32, PCI_BAR_MEM32), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 16, PCI_BAR_IO | PCI_BAR_PREFETCH), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 0, 16, 0x2), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 5, 16, PCI_BAR_MEM64), -EINVAL);
	assert_int_equal(pci_cfg_add_bar(&c, 4, 1ull << 40, PCI_BAR_MEM64), 0);
	assert_int_equal(pci_cfg_add_bar(&c, 5, 16, PCI_BAR_MEM32), -EINVAL); /* upper half */
	assert_int_equal(pci_cfg_add_bar(&c, 4, 16, PCI_BAR_MEM32), -EINVAL); /* taken */
	assert_int_equal(pci_cfg_add_bar(&c, 3, 16, PCI_BAR_MEM64), -EINVAL); /* over BAR4 */
	assert_int_equal(pci_cfg_add_bar(&c, 0, 4, PCI_BAR_IO), 0);
	/* a 1 TiB 64-bit BAR sizes as 0xFFFFFF00_0000000C (PCI 3.0 6.2.5.1) */
	pci_cfg_write(&c, 0x20, 4, 0xffffffff);
	pci_cfg_write(&c, 0x24, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(&c, 0x20, 4), 0x00000004);
	assert_int_equal(pci_cfg_read(&c, 0x24, 4), 0xffffff00);
	assert_int_equal(pci_cfg_write(&c, 0x24, 4, 0), PCI_CFG_CHANGED_BAR(4));
}

static void test_registration(void **state)
{
	struct fix *f = *state;
	struct fake other;
	fake_init(&other, 2);
	assert_int_equal(pci_register_device(f->host, 0, &fake_ops, &other), -EINVAL);
	assert_int_equal(pci_register_device(f->host, PCI_DEVFN(3, 0), &fake_ops, &other), -EBUSY);
	assert_int_equal(pci_register_device(f->host, PCI_DEVFN(4, 0), NULL, &other), -EINVAL);
	assert_int_equal(pci_register_device(f->host, PCI_DEVFN(31, 7), &fake_ops, &other), 0);
	assert_int_equal(conf1_read(f->bus, 0, 31, 7, 0, 4), 0x10411af4);
	assert_int_equal(pci_unregister_device(f->host, PCI_DEVFN(31, 7)), 0);
	assert_int_equal(pci_unregister_device(f->host, PCI_DEVFN(31, 7)), -ENOENT);
	assert_int_equal(pci_unregister_device(f->host, 0), -ENOENT);
	assert_int_equal(conf1_read(f->bus, 0, 31, 7, 0, 4), 0xffffffff);
	assert_int_equal(pci_host_register(f->host, f->bus), -EBUSY);
}

static void test_intx(void **state)
{
	struct fix *f = *state;
	/* the swizzle: slot + pin - 1 mod 4 */
	assert_int_equal(pci_intx_pirq(PCI_DEVFN(3, 0), 1), 3);
	assert_int_equal(pci_intx_pirq(PCI_DEVFN(4, 0), 1), 0);
	assert_int_equal(pci_intx_pirq(PCI_DEVFN(4, 2), 3), 2);
	assert_int_equal(pci_intx_pirq(PCI_DEVFN(1, 0), 4), 0);
	/* the device raises INTA: status bit 3 and PIRQD */
	bool lvl = pci_cfg_intx(&f->dev.cfg, true);
	assert_true(lvl);
	pci_set_intx(f->host, PCI_DEVFN(3, 0), 1, lvl);
	assert_int_equal(f->pirq.level[3], 1);
	assert_int_equal(conf1_read(f->bus, 0, 3, 0, 0x06, 2) & PCI_STATUS_INTERRUPT,
			 PCI_STATUS_INTERRUPT);
	/* another source on PIRQD (slot 7 INTA = 7 mod 4 = 3... slot 4 INTD): wired-OR */
	unsigned calls = f->pirq.nr_calls;
	pci_set_intx(f->host, PCI_DEVFN(4, 0), 4, 1);
	assert_int_equal(f->pirq.nr_calls, calls); /* already asserted */
	pci_set_intx(f->host, PCI_DEVFN(3, 0), 1, 0);
	assert_int_equal(f->pirq.level[3], 1);
	pci_set_intx(f->host, PCI_DEVFN(4, 0), 4, 0);
	assert_int_equal(f->pirq.level[3], 0);
	/* repeated levels are idempotent */
	pci_set_intx(f->host, PCI_DEVFN(4, 0), 4, 0);
	pci_set_intx(f->host, PCI_DEVFN(8, 0), 1, 1);
	pci_set_intx(f->host, PCI_DEVFN(8, 0), 1, 1);
	assert_int_equal(f->pirq.level[0], 1);
	pci_set_intx(f->host, PCI_DEVFN(8, 0), 1, 0);
	assert_int_equal(f->pirq.level[0], 0);
	/* INTx disable in the command register */
	conf1_write(f->bus, 0, 3, 0, 0x04, 2, PCI_COMMAND_INTX_DISABLE);
	assert_false(pci_cfg_intx(&f->dev.cfg, true));
	/* bad pins */
	pci_set_intx(f->host, PCI_DEVFN(3, 0), 0, 1);
	pci_set_intx(f->host, PCI_DEVFN(3, 0), 5, 1);
	struct pci_host_stats st;
	pci_host_get_stats(f->host, &st);
	assert_int_equal(st.nr_intx_changes, 4);
}

static void test_reset_register(void **state)
{
	struct fix *f = *state;
	assert_int_equal(in(f->bus, 0xcf9, 1), 0x00);
	out(f->bus, 0xcf9, 1, 0x02); /* SRST alone: nothing */
	assert_int_equal(f->reset.nr, 0);
	assert_int_equal(in(f->bus, 0xcf9, 1), 0x02);
	out(f->bus, 0xcf9, 1, 0x06); /* RCPU 0 -> 1: hard reset */
	assert_int_equal(f->reset.nr, 1);
	assert_true(f->reset.hard);
	out(f->bus, 0xcf9, 1, 0x04); /* RCPU had self-cleared: soft reset */
	assert_int_equal(f->reset.nr, 2);
	assert_false(f->reset.hard);
	/* a word at 0xCF8 does not touch it; CONFIG_ADDRESS unchanged by byte writes */
	out(f->bus, 0xcf8, 4, 0x80001800);
	out(f->bus, 0xcf8, 2, 0x0400);
	assert_int_equal(f->reset.nr, 2);
	assert_int_equal(in(f->bus, 0xcf8, 4), 0x80001800);
	/* without a reset hook 0xCF9 is unassigned */
	struct pci_host_config cfg = { 0 };
	struct pci_host *h = pci_host_create(&cfg);
	assert_int_equal(pci_host_io_read(h, 0xcf9, 1), 0xff);
	pci_host_io_write(h, 0xcf9, 1, 0x06);
	pci_host_destroy(h);
}

static void test_hostile(void **state)
{
	struct fix *f = *state;
	/* random CONFIG_ADDRESS values and every data port / size, to both present and absent
	 * functions: no crash, and the fake device never sees a misaligned access */
	uint32_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		uint32_t a = i & 1 ? (x & 0x800000fc) | 0x1800 : x;
		out(f->bus, 0xcf8, 4, a);
		unsigned port = 0xcf8 + (x >> 3) % 8, len = 1u << ((x >> 6) % 3);
		if (x & 0x40000000)
			out(f->bus, (uint16_t)port, len, x * 7);
		else
			(void)in(f->bus, (uint16_t)port, len);
	}
	assert_int_equal(f->dev.nr_misaligned, 0);
	assert_true(f->dev.nr_accesses > 1000);
	/* direct calls with bad arguments */
	assert_int_equal(pci_config_read(f->host, 0, 0, 256, 4), 0xffffffff);
	assert_int_equal(pci_config_read(f->host, 0, 0, 0, 3), 0xffffff);
	pci_config_write(f->host, 0, 0, 253, 4, 0);
	assert_int_equal(pci_host_io_read(f->host, 0xcf0, 4), 0xffffffff);
	pci_host_print_stats(f->host, stderr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_masks, setup, teardown),
		cmocka_unit_test(test_add_bar_errors),
		cmocka_unit_test_setup_teardown(test_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
