/* SPDX-License-Identifier: MIT */
/*
 * PCI host bridge (configuration mechanism #1), device registry, INTx routing and the type-0
 * header helper (include/omnivisor/hw/pci.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "omnivisor/bus.h"
#include "omnivisor/hw/pci.h"

#define ADDR_ENABLE 0x80000000u
#define ADDR_MASK 0x80fffffcu /* 30:24 and 1:0 reserved, read 0 (PCI 3.0 3.2.2.3.2) */

struct pci_host {
	pthread_mutex_t lock;	   /* address latch, device table, host bridge header, RCR */
	pthread_mutex_t intx_lock; /* INTx sources and PIRQ levels */
	struct pci_host_config cfg;
	uint32_t config_address;
	uint8_t rcr;
	struct {
		const struct pci_device_ops *ops;
		void *opaque;
	} dev[256];
	struct pci_cfg hb; /* 0:0.0 */
	uint64_t intx[256 * 4 / 64];
	unsigned pirq_count[PCI_NR_PIRQS];
	uint64_t nr_intx_changes; /* under intx_lock */
	struct pci_host_stats st; /* under lock */
};

static uint32_t ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << 8 * len) - 1;
}

static bool valid_access(unsigned offset, unsigned len)
{
	return (len == 1 || len == 2 || len == 4) && offset < PCI_CONFIG_SIZE &&
	       offset + len <= PCI_CONFIG_SIZE;
}

/* ---- type-0 header helper ---- */

static void put8(struct pci_cfg *c, unsigned o, uint8_t v)
{
	c->data[o] = v;
}

static void put16(uint8_t *a, unsigned o, uint16_t v)
{
	a[o] = (uint8_t)v;
	a[o + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *a, unsigned o, uint32_t v)
{
	put16(a, o, (uint16_t)v);
	put16(a, o + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *a, unsigned o)
{
	return (uint32_t)a[o] | (uint32_t)a[o + 1] << 8 | (uint32_t)a[o + 2] << 16 |
	       (uint32_t)a[o + 3] << 24;
}

static uint16_t get16(const uint8_t *a, unsigned o)
{
	return (uint16_t)(a[o] | a[o + 1] << 8);
}

void pci_cfg_init(struct pci_cfg *cfg, const struct pci_id *id)
{
	memset(cfg, 0, sizeof(*cfg));
	put16(cfg->data, PCI_VENDOR_ID, id->vendor_id);
	put16(cfg->data, PCI_DEVICE_ID, id->device_id);
	put8(cfg, PCI_REVISION_ID, id->revision);
	put8(cfg, PCI_CLASS_PROG, (uint8_t)id->class_code);
	put16(cfg->data, PCI_CLASS_PROG + 1, (uint16_t)(id->class_code >> 8));
	put8(cfg, PCI_HEADER_TYPE, id->multifunction ? PCI_HEADER_MULTIFUNCTION : 0);
	put16(cfg->data, PCI_SUBSYSTEM_VENDOR_ID, id->subsystem_vendor_id);
	put16(cfg->data, PCI_SUBSYSTEM_ID, id->subsystem_id);
	put8(cfg, PCI_INTERRUPT_PIN, id->interrupt_pin <= 4 ? id->interrupt_pin : 0);
	put16(cfg->wmask, PCI_COMMAND,
	      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
		      PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	put16(cfg->w1cmask, PCI_STATUS, 0xf900); /* error bits 15:11 and 8 (PCI 3.0 6.2.3) */
	cfg->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	cfg->wmask[PCI_LATENCY_TIMER] = 0xff;
	cfg->wmask[PCI_INTERRUPT_LINE] = 0xff;
	cfg->cap_next_free = 0x40;
}

int pci_cfg_add_bar(struct pci_cfg *cfg, unsigned bar, uint64_t size, unsigned kind)
{
	bool io = kind & PCI_BAR_IO, mem64 = kind & PCI_BAR_MEM64;
	uint64_t max, mask;
	if (bar >= PCI_NR_BARS || (kind & ~0xdu) || (io && (kind & 0xc)))
		return -EINVAL;
	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	max = io ? 0x10000 : mem64 ? 1ull << 63 : 1ull << 31;
	if (size < (io ? 4u : 16u) || size > max)
		return -EINVAL;
	if (cfg->bar_size[bar] || (mem64 && (bar == PCI_NR_BARS - 1 || cfg->bar_size[bar + 1])))
		return -EINVAL;
	if (bar > 0 && cfg->bar_size[bar - 1] && (cfg->bar_kind[bar - 1] & PCI_BAR_MEM64))
		return -EINVAL; /* the upper half of a 64-bit BAR */
	cfg->bar_size[bar] = size;
	cfg->bar_kind[bar] = (uint8_t)kind;
	/* PCI 3.0 6.2.5.1: the low bits are the (read-only) type; the address bits below the
	 * size are hardwired to 0, so all ones written reads back as the size mask */
	mask = ~(size - 1) & (io ? ~3ull : ~15ull);
	put32(cfg->data, PCI_BAR0 + 4 * bar, (uint32_t)kind & (io ? 1u : 0xcu));
	put32(cfg->wmask, PCI_BAR0 + 4 * bar, (uint32_t)mask);
	if (mem64) {
		put32(cfg->data, PCI_BAR0 + 4 * (bar + 1), 0);
		put32(cfg->wmask, PCI_BAR0 + 4 * (bar + 1), (uint32_t)(mask >> 32));
	}
	return 0;
}

int pci_cfg_add_cap(struct pci_cfg *cfg, uint8_t cap_id, unsigned len)
{
	unsigned off = (cfg->cap_next_free + 3u) & ~3u;
	if (len < 2)
		return -EINVAL;
	if (off < 0x40 || len > PCI_CONFIG_SIZE || off + len > PCI_CONFIG_SIZE)
		return -ENOSPC;
	cfg->data[off] = cap_id;
	cfg->data[off + 1] = 0;
	if (cfg->cap_last)
		cfg->data[cfg->cap_last + 1] = (uint8_t)off;
	else
		cfg->data[PCI_CAPABILITY_LIST] = (uint8_t)off;
	cfg->cap_last = (uint8_t)off;
	cfg->cap_next_free = (uint16_t)(off + len);
	cfg->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	return (int)off;
}

uint32_t pci_cfg_read(const struct pci_cfg *cfg, unsigned offset, unsigned len)
{
	uint32_t v = 0;
	if (!valid_access(offset, len))
		return ones(len > 4 ? 4 : len);
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)cfg->data[offset + i] << 8 * i;
	return v;
}

/* Which PCI_CFG_CHANGED_* bit a byte of the header belongs to. */
static unsigned region(const struct pci_cfg *cfg, unsigned o)
{
	if (o == PCI_COMMAND || o == PCI_COMMAND + 1)
		return PCI_CFG_CHANGED_COMMAND;
	if (o >= PCI_BAR0 && o < PCI_BAR0 + 4 * PCI_NR_BARS) {
		unsigned n = (o - PCI_BAR0) / 4;
		if (n > 0 && !cfg->bar_size[n] && (cfg->bar_kind[n - 1] & PCI_BAR_MEM64))
			n--;
		return PCI_CFG_CHANGED_BAR(n);
	}
	return PCI_CFG_CHANGED_OTHER;
}

unsigned pci_cfg_write(struct pci_cfg *cfg, unsigned offset, unsigned len, uint32_t val)
{
	unsigned changed = 0;
	if (!valid_access(offset, len))
		return 0;
	for (unsigned i = 0; i < len; i++) {
		unsigned o = offset + i;
		uint8_t b = (uint8_t)(val >> 8 * i), old = cfg->data[o];
		uint8_t nv = (uint8_t)((old & ~cfg->wmask[o]) | (b & cfg->wmask[o]));
		nv &= (uint8_t)~(b & cfg->w1cmask[o]);
		if (nv != old) {
			cfg->data[o] = nv;
			changed |= region(cfg, o);
		}
	}
	return changed;
}

uint64_t pci_cfg_bar_addr(const struct pci_cfg *cfg, unsigned bar)
{
	if (bar >= PCI_NR_BARS || !cfg->bar_size[bar])
		return PCI_BAR_UNMAPPED;
	uint64_t lo = get32(cfg->data, PCI_BAR0 + 4 * bar);
	if (cfg->bar_kind[bar] & PCI_BAR_IO)
		return lo & ~3ull;
	if (cfg->bar_kind[bar] & PCI_BAR_MEM64)
		lo |= (uint64_t)get32(cfg->data, PCI_BAR0 + 4 * (bar + 1)) << 32;
	return lo & ~15ull;
}

uint64_t pci_cfg_bar_mapping(const struct pci_cfg *cfg, unsigned bar)
{
	uint64_t addr = pci_cfg_bar_addr(cfg, bar);
	uint16_t cmd = get16(cfg->data, PCI_COMMAND);
	if (addr == PCI_BAR_UNMAPPED)
		return addr;
	if (cfg->bar_kind[bar] & PCI_BAR_IO)
		return cmd & PCI_COMMAND_IO ? addr : PCI_BAR_UNMAPPED;
	return cmd & PCI_COMMAND_MEMORY ? addr : PCI_BAR_UNMAPPED;
}

bool pci_cfg_intx(struct pci_cfg *cfg, bool pending)
{
	if (pending)
		cfg->data[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		cfg->data[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	return pending && !(get16(cfg->data, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
}

/* ---- the host bridge, 0:0.0: Intel 82441FX (82441FX datasheet 3.2) ---- */

static uint32_t hb_read(void *opaque, unsigned offset, unsigned len)
{
	struct pci_host *host = opaque;
	pthread_mutex_lock(&host->lock);
	uint32_t v = pci_cfg_read(&host->hb, offset, len);
	pthread_mutex_unlock(&host->lock);
	return v;
}

static void hb_write(void *opaque, unsigned offset, unsigned len, uint32_t val)
{
	struct pci_host *host = opaque;
	pthread_mutex_lock(&host->lock);
	pci_cfg_write(&host->hb, offset, len, val);
	pthread_mutex_unlock(&host->lock);
}

static const struct pci_device_ops hb_ops = {
	.config_read = hb_read,
	.config_write = hb_write,
};

static void hb_init(struct pci_cfg *c)
{
	static const struct pci_id id = {
		.vendor_id = 0x8086,
		.device_id = 0x1237,
		.revision = 0x02,
		.class_code = 0x060000,
	};
	pci_cfg_init(c, &id);
	/* PCICMD 0006h: memory and bus master always on; parity and SERR enables writable */
	put16(c->data, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	put16(c->wmask, PCI_COMMAND, PCI_COMMAND_PARITY | PCI_COMMAND_SERR);
	/* PCISTS 0280h: fast back-to-back capable, DEVSEL medium */
	put16(c->data, PCI_STATUS, 0x0280);
	c->wmask[PCI_INTERRUPT_LINE] = 0; /* no interrupt */
	/* chipset registers 0x50-0x7F: stored, no effect (see pci.h) */
	memset(c->wmask + 0x50, 0xff, 0x30);
	for (unsigned o = 0x60; o < 0x68; o++)
		c->data[o] = 0x01; /* DRB0-7 */
	c->data[0x72] = 0x02;	   /* SMRAM */
}

/* ---- host ---- */

struct pci_host *pci_host_create(const struct pci_host_config *cfg)
{
	struct pci_host *host = calloc(1, sizeof(*host));
	if (!host) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&host->lock, NULL);
	pthread_mutex_init(&host->intx_lock, NULL);
	host->cfg = *cfg;
	hb_init(&host->hb);
	host->dev[0].ops = &hb_ops;
	host->dev[0].opaque = host;
	return host;
}

void pci_host_destroy(struct pci_host *host)
{
	if (!host)
		return;
	pthread_mutex_destroy(&host->intx_lock);
	pthread_mutex_destroy(&host->lock);
	free(host);
}

int pci_register_device(struct pci_host *host, uint8_t devfn, const struct pci_device_ops *ops,
			void *opaque)
{
	int ret = 0;
	if (devfn == 0 || !ops || !ops->config_read || !ops->config_write)
		return -EINVAL;
	pthread_mutex_lock(&host->lock);
	if (host->dev[devfn].ops) {
		ret = -EBUSY;
	} else {
		host->dev[devfn].ops = ops;
		host->dev[devfn].opaque = opaque;
	}
	pthread_mutex_unlock(&host->lock);
	return ret;
}

int pci_unregister_device(struct pci_host *host, uint8_t devfn)
{
	int ret = 0;
	if (devfn == 0)
		return -ENOENT;
	pthread_mutex_lock(&host->lock);
	if (!host->dev[devfn].ops)
		ret = -ENOENT;
	host->dev[devfn].ops = NULL;
	host->dev[devfn].opaque = NULL;
	pthread_mutex_unlock(&host->lock);
	return ret;
}

/* The function at (@bus_nr, @devfn), counted as a config cycle; false if absent. */
static bool lookup(struct pci_host *host, uint8_t bus_nr, uint8_t devfn, bool write,
		   const struct pci_device_ops **ops, void **opaque)
{
	pthread_mutex_lock(&host->lock);
	if (write)
		host->st.nr_config_writes++;
	else
		host->st.nr_config_reads++;
	*ops = bus_nr == 0 ? host->dev[devfn].ops : NULL;
	*opaque = host->dev[devfn].opaque;
	if (!*ops)
		host->st.nr_absent++;
	pthread_mutex_unlock(&host->lock);
	return *ops != NULL;
}

uint32_t pci_config_read(struct pci_host *host, uint8_t bus_nr, uint8_t devfn, unsigned offset,
			 unsigned len)
{
	const struct pci_device_ops *ops;
	void *opaque;
	uint32_t v = 0;
	if (!valid_access(offset, len))
		return ones(len > 4 ? 4 : len);
	if (!lookup(host, bus_nr, devfn, false, &ops, &opaque))
		return ones(len);
	if (offset % len == 0)
		return ops->config_read(opaque, offset, len) & ones(len);
	for (unsigned i = 0; i < len; i++)
		v |= (ops->config_read(opaque, offset + i, 1) & 0xff) << 8 * i;
	return v;
}

void pci_config_write(struct pci_host *host, uint8_t bus_nr, uint8_t devfn, unsigned offset,
		      unsigned len, uint32_t val)
{
	const struct pci_device_ops *ops;
	void *opaque;
	if (!valid_access(offset, len))
		return;
	if (!lookup(host, bus_nr, devfn, true, &ops, &opaque))
		return;
	if (offset % len == 0) {
		ops->config_write(opaque, offset, len, val & ones(len));
		return;
	}
	for (unsigned i = 0; i < len; i++)
		ops->config_write(opaque, offset + i, 1, val >> 8 * i & 0xff);
}

/* Decode CONFIG_ADDRESS for a CONFIG_DATA access at @port; false if not a config cycle. */
static bool data_target(struct pci_host *host, uint16_t port, uint8_t *bus_nr, uint8_t *devfn,
			unsigned *offset)
{
	pthread_mutex_lock(&host->lock);
	uint32_t a = host->config_address;
	pthread_mutex_unlock(&host->lock);
	if (!(a & ADDR_ENABLE))
		return false;
	*bus_nr = (uint8_t)(a >> 16);
	*devfn = (uint8_t)(a >> 8);
	*offset = (a & 0xfc) + (port - PCI_CONFIG_DATA);
	return true;
}

uint32_t pci_host_io_read(struct pci_host *host, uint16_t port, unsigned len)
{
	uint8_t bus_nr, devfn;
	unsigned offset;
	uint32_t v = ones(len > 4 ? 4 : len);
	if (port == PCI_CONFIG_ADDRESS && len == 4) {
		pthread_mutex_lock(&host->lock);
		v = host->config_address;
		pthread_mutex_unlock(&host->lock);
	} else if (port == PCI_RESET_CONTROL && len == 1 && host->cfg.reset) {
		pthread_mutex_lock(&host->lock);
		v = host->rcr;
		pthread_mutex_unlock(&host->lock);
	} else if (port >= PCI_CONFIG_DATA && port + len <= PCI_CONFIG_DATA + 4 &&
		   data_target(host, port, &bus_nr, &devfn, &offset)) {
		v = pci_config_read(host, bus_nr, devfn, offset, len);
	}
	return v;
}

void pci_host_io_write(struct pci_host *host, uint16_t port, unsigned len, uint32_t val)
{
	uint8_t bus_nr, devfn;
	unsigned offset;
	if (port == PCI_CONFIG_ADDRESS && len == 4) {
		pthread_mutex_lock(&host->lock);
		host->config_address = val & ADDR_MASK;
		pthread_mutex_unlock(&host->lock);
	} else if (port == PCI_RESET_CONTROL && len == 1 && host->cfg.reset) {
		/* PIIX3 4.1.13 RC: bit 1 SRST (hard reset), bit 2 RCPU (0 -> 1: reset) */
		pthread_mutex_lock(&host->lock);
		bool fire = !(host->rcr & 4) && (val & 4);
		host->rcr = fire ? val & 0x02 : val & 0x06;
		pthread_mutex_unlock(&host->lock);
		if (fire)
			host->cfg.reset(host->cfg.reset_opaque, val & 2);
	} else if (port >= PCI_CONFIG_DATA && port + len <= PCI_CONFIG_DATA + 4 &&
		   data_target(host, port, &bus_nr, &devfn, &offset)) {
		pci_config_write(host, bus_nr, devfn, offset, len, val);
	}
}

void pci_set_intx(struct pci_host *host, uint8_t devfn, unsigned pin, int level)
{
	if (pin < 1 || pin > 4)
		return;
	unsigned idx = devfn * 4u + pin - 1, pirq = pci_intx_pirq(devfn, pin);
	uint64_t bit = 1ull << (idx & 63);
	pthread_mutex_lock(&host->intx_lock);
	bool was = host->intx[idx >> 6] & bit;
	if (was != (level != 0)) {
		if (level) {
			host->intx[idx >> 6] |= bit;
			if (host->pirq_count[pirq]++ == 0) {
				host->nr_intx_changes++;
				irq_raise(&host->cfg.pirq[pirq]);
			}
		} else {
			host->intx[idx >> 6] &= ~bit;
			if (--host->pirq_count[pirq] == 0) {
				host->nr_intx_changes++;
				irq_lower(&host->cfg.pirq[pirq]);
			}
		}
	}
	pthread_mutex_unlock(&host->intx_lock);
}

/* ---- bus ---- */

static void addr_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	bus_data_put(data, len,
		     pci_host_io_read(opaque, (uint16_t)(PCI_CONFIG_ADDRESS + offset), len));
}

static void addr_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	pci_host_io_write(opaque, (uint16_t)(PCI_CONFIG_ADDRESS + offset), len,
			  (uint32_t)bus_data_get(data, len));
}

static void data_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	bus_data_put(data, len, pci_host_io_read(opaque, (uint16_t)(PCI_CONFIG_DATA + offset), len));
}

static void data_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	pci_host_io_write(opaque, (uint16_t)(PCI_CONFIG_DATA + offset), len,
			  (uint32_t)bus_data_get(data, len));
}

static const struct bus_ops addr_ops = {
	.read = addr_read,
	.write = addr_write,
};

static const struct bus_ops data_ops = {
	.read = data_read,
	.write = data_write,
};

int pci_host_register(struct pci_host *host, struct bus *bus)
{
	struct bus_dev *a;
	int ret = bus_register_pio(bus, PCI_CONFIG_ADDRESS, 4, &addr_ops, host, "pci-addr", &a);
	if (ret)
		return ret;
	ret = bus_register_pio(bus, PCI_CONFIG_DATA, 4, &data_ops, host, "pci-data", NULL);
	if (ret)
		bus_unregister(bus, a);
	return ret;
}

void pci_host_get_stats(struct pci_host *host, struct pci_host_stats *st)
{
	pthread_mutex_lock(&host->lock);
	*st = host->st;
	pthread_mutex_unlock(&host->lock);
	pthread_mutex_lock(&host->intx_lock);
	st->nr_intx_changes = host->nr_intx_changes;
	pthread_mutex_unlock(&host->intx_lock);
}

void pci_host_print_stats(struct pci_host *host, FILE *f)
{
	struct pci_host_stats st;
	pci_host_get_stats(host, &st);
	fprintf(f,
		"pci: %" PRIu64 " config reads, %" PRIu64 " config writes (%" PRIu64
		" to absent functions), %" PRIu64 " PIRQ level changes\n",
		st.nr_config_reads, st.nr_config_writes, st.nr_absent, st.nr_intx_changes);
}
