/* SPDX-License-Identifier: MIT */
/*
 * PIO/MMIO bus: registration and dispatch (include/omnivisor/bus.h, docs/bus.md).
 *
 * Each address space publishes an immutable table: the registered ranges sorted by base, with
 * the range bounds copied next to the handle pointer so the binary search touches one array.
 * Writers (register/unregister) build a new table under bus->lock and publish it with a release
 * store; dispatchers load it with acquire and never lock. Replaced tables and unregistered
 * handles go on retired lists that bus_reclaim / bus_destroy free once the caller knows no
 * dispatch is in flight.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "omnivisor/bus.h"
#include "omnivisor/log.h"

struct bus_dev {
	uint64_t base, last; /* inclusive range */
	const struct bus_ops *ops;
	void *opaque;
	struct bus *bus;
	enum bus_space space;
	_Atomic uint64_t nr_reads, nr_writes;
	struct bus_dev *retired_next;
	char name[BUS_NAME_MAX];
};

struct bus_entry {
	uint64_t base, last;
	struct bus_dev *dev;
};

struct bus_table {
	size_t nr;
	struct bus_table *retired_next;
	struct bus_entry e[];
};

struct bus_as {
	_Atomic(struct bus_table *) table;
	_Atomic uint64_t nr_unassigned_reads, nr_unassigned_writes;
	uint64_t limit;	  /* last address of the space */
	unsigned max_len; /* longest access */
	const char *name;
};

struct bus {
	struct bus_as as[BUS_NR_SPACES];
	pthread_mutex_t lock; /* serializes writers and stats walks */
	struct bus_table *retired_tables;
	struct bus_dev *retired_devs;
};

static unsigned bus_trace_mask;

void bus_set_trace(unsigned mask)
{
	__atomic_store_n(&bus_trace_mask, mask, __ATOMIC_RELAXED);
}

static struct bus_table *table_alloc(size_t nr)
{
	struct bus_table *t = malloc(sizeof(*t) + nr * sizeof(t->e[0]));
	if (t) {
		t->nr = nr;
		t->retired_next = NULL;
	}
	return t;
}

struct bus *bus_create(void)
{
	static const struct {
		uint64_t limit;
		unsigned max_len;
		const char *name;
	} spaces[BUS_NR_SPACES] = {
		[BUS_PIO] = { BUS_PIO_LIMIT, 4, "pio" },
		[BUS_MMIO] = { UINT64_MAX, 8, "mmio" },
	};
	struct bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return NULL;
	pthread_mutex_init(&bus->lock, NULL);
	for (int s = 0; s < BUS_NR_SPACES; s++) {
		struct bus_table *t = table_alloc(0);
		if (!t) {
			bus_destroy(bus);
			errno = ENOMEM;
			return NULL;
		}
		atomic_init(&bus->as[s].table, t);
		bus->as[s].limit = spaces[s].limit;
		bus->as[s].max_len = spaces[s].max_len;
		bus->as[s].name = spaces[s].name;
	}
	return bus;
}

static void free_retired(struct bus *bus)
{
	while (bus->retired_tables) {
		struct bus_table *t = bus->retired_tables;
		bus->retired_tables = t->retired_next;
		free(t);
	}
	while (bus->retired_devs) {
		struct bus_dev *d = bus->retired_devs;
		bus->retired_devs = d->retired_next;
		free(d);
	}
}

void bus_destroy(struct bus *bus)
{
	if (!bus)
		return;
	for (int s = 0; s < BUS_NR_SPACES; s++) {
		struct bus_table *t = atomic_load_explicit(&bus->as[s].table, memory_order_relaxed);
		if (!t)
			continue;
		for (size_t i = 0; i < t->nr; i++)
			free(t->e[i].dev);
		free(t);
	}
	free_retired(bus);
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}

void bus_reclaim(struct bus *bus)
{
	pthread_mutex_lock(&bus->lock);
	free_retired(bus);
	pthread_mutex_unlock(&bus->lock);
}

/* Index of the first entry whose base is > @addr (so the candidate owner is the one before). */
static inline size_t upper_bound(const struct bus_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->e[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry containing @addr, or NULL. */
static inline const struct bus_entry *lookup(const struct bus_table *t, uint64_t addr)
{
	size_t idx = upper_bound(t, addr);
	return idx > 0 && t->e[idx - 1].last >= addr ? &t->e[idx - 1] : NULL;
}

/* Publish @nt for @as, retiring the old table. Called with bus->lock held. */
static void publish(struct bus *bus, struct bus_as *as, struct bus_table *nt)
{
	struct bus_table *old = atomic_load_explicit(&as->table, memory_order_relaxed);
	atomic_store_explicit(&as->table, nt, memory_order_release);
	old->retired_next = bus->retired_tables;
	bus->retired_tables = old;
}

int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name, struct bus_dev **devp)
{
	struct bus_as *as;
	struct bus_table *t, *nt;
	struct bus_dev *dev;
	uint64_t last;
	size_t idx;

	if ((unsigned)space >= BUS_NR_SPACES || !ops || len == 0)
		return -EINVAL;
	as = &bus->as[space];
	if (base > as->limit || len - 1 > as->limit - base)
		return -EINVAL; /* past the end of the space, or wraps around */
	last = base + (len - 1);

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->base = base;
	dev->last = last;
	dev->ops = ops;
	dev->opaque = opaque;
	dev->bus = bus;
	dev->space = space;
	snprintf(dev->name, sizeof(dev->name), "%s", name ? name : "?");

	pthread_mutex_lock(&bus->lock);
	t = atomic_load_explicit(&as->table, memory_order_relaxed);
	idx = upper_bound(t, base);
	if ((idx > 0 && t->e[idx - 1].last >= base) || (idx < t->nr && t->e[idx].base <= last)) {
		pthread_mutex_unlock(&bus->lock);
		free(dev);
		return -EBUSY;
	}
	nt = table_alloc(t->nr + 1);
	if (!nt) {
		pthread_mutex_unlock(&bus->lock);
		free(dev);
		return -ENOMEM;
	}
	memcpy(nt->e, t->e, idx * sizeof(t->e[0]));
	nt->e[idx] = (struct bus_entry){ .base = base, .last = last, .dev = dev };
	memcpy(nt->e + idx + 1, t->e + idx, (t->nr - idx) * sizeof(t->e[0]));
	publish(bus, as, nt);
	pthread_mutex_unlock(&bus->lock);
	if (devp)
		*devp = dev;
	return 0;
}

int bus_unregister(struct bus *bus, struct bus_dev *dev)
{
	struct bus_as *as;
	struct bus_table *t, *nt;
	size_t idx;

	if (!dev || dev->bus != bus)
		return -ENOENT;
	as = &bus->as[dev->space];
	pthread_mutex_lock(&bus->lock);
	t = atomic_load_explicit(&as->table, memory_order_relaxed);
	idx = upper_bound(t, dev->base);
	if (idx == 0 || t->e[idx - 1].dev != dev) {
		pthread_mutex_unlock(&bus->lock);
		return -ENOENT;
	}
	idx--;
	nt = table_alloc(t->nr - 1);
	if (!nt) {
		/* cannot publish a smaller table: leave the device registered */
		pthread_mutex_unlock(&bus->lock);
		return -ENOMEM;
	}
	memcpy(nt->e, t->e, idx * sizeof(t->e[0]));
	memcpy(nt->e + idx, t->e + idx + 1, (t->nr - idx - 1) * sizeof(t->e[0]));
	publish(bus, as, nt);
	dev->retired_next = bus->retired_devs;
	bus->retired_devs = dev;
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

static void trace_access(const struct bus_as *as, bool write, uint64_t addr, const void *data,
			 unsigned len, const struct bus_dev *dev, int status)
{
	pr_trace("%s: %s %#" PRIx64 "/%u %s %#" PRIx64 " %s%s", as->name, write ? "write" : "read",
		 addr, len, write ? "<-" : "->", bus_data_get(data, len),
		 dev ? dev->name : "unassigned", status & BUS_SPLIT ? " (split)" : "");
}

static inline void dev_read(struct bus_dev *dev, uint64_t offset, uint8_t *data, unsigned len)
{
	atomic_fetch_add_explicit(&dev->nr_reads, 1, memory_order_relaxed);
	if (dev->ops->read)
		dev->ops->read(dev->opaque, offset, data, len);
	else
		memset(data, 0xff, len);
}

static inline void dev_write(struct bus_dev *dev, uint64_t offset, const uint8_t *data,
			     unsigned len)
{
	atomic_fetch_add_explicit(&dev->nr_writes, 1, memory_order_relaxed);
	if (dev->ops->write)
		dev->ops->write(dev->opaque, offset, data, len);
}

/*
 * The slow path: byte by byte, each byte to its owner (or unassigned). Bytes past the end of
 * the space (port 0xffff + 1, or a wrap past 2^64) are unassigned.
 */
static int split_access(struct bus_as *as, const struct bus_table *t, uint64_t addr, uint8_t *data,
			unsigned len, bool write)
{
	int status = BUS_SPLIT;
	for (unsigned i = 0; i < len; i++) {
		const struct bus_entry *e = NULL;
		/* addr + i neither past the limit nor wrapped */
		if (addr <= as->limit && i <= as->limit - addr)
			e = lookup(t, addr + i);
		if (!e) {
			status |= BUS_UNASSIGNED;
			if (!write)
				data[i] = 0xff;
		} else if (write) {
			dev_write(e->dev, addr + i - e->base, data + i, 1);
		} else {
			dev_read(e->dev, addr + i - e->base, data + i, 1);
		}
	}
	if (status & BUS_UNASSIGNED)
		atomic_fetch_add_explicit(write ? &as->nr_unassigned_writes : &as->nr_unassigned_reads,
					  1, memory_order_relaxed);
	return status;
}

/*
 * True if no byte of [@addr, @addr + @len) belongs to a device and all are inside the space.
 * @idx: upper_bound(t, addr), and no device holds @addr, so only the device at @idx (the first
 * above @addr) can start inside the access.
 */
static bool hole_covers(const struct bus_as *as, const struct bus_table *t, size_t idx,
			uint64_t addr, unsigned len)
{
	if (addr > as->limit || len - 1 > as->limit - addr)
		return false;
	return idx == t->nr || t->e[idx].base > addr + (len - 1);
}

static inline int dispatch(struct bus *bus, enum bus_space space, uint64_t addr, uint8_t *data,
			   unsigned len, bool write)
{
	struct bus_as *as;
	const struct bus_table *t;
	const struct bus_entry *e;
	struct bus_dev *dev = NULL;
	int status = 0;
	size_t idx;

	if ((unsigned)space >= BUS_NR_SPACES)
		return -EINVAL;
	as = &bus->as[space];
	if (len == 0 || len > as->max_len || (space == BUS_PIO && len == 3))
		return -EINVAL;
	t = atomic_load_explicit(&as->table, memory_order_acquire);
	idx = upper_bound(t, addr); /* one binary search serves both outcomes */
	e = idx > 0 && t->e[idx - 1].last >= addr ? &t->e[idx - 1] : NULL;
	/* fast path: one device holds the whole access and the length is a power of two */
	if (e && len - 1 <= e->last - addr && !(len & (len - 1))) {
		dev = e->dev;
		if (write)
			dev_write(dev, addr - e->base, data, len);
		else
			dev_read(dev, addr - e->base, data, len);
	} else if (!e && hole_covers(as, t, idx, addr, len)) {
		status = BUS_UNASSIGNED;
		if (!write)
			memset(data, 0xff, len);
		atomic_fetch_add_explicit(write ? &as->nr_unassigned_writes : &as->nr_unassigned_reads,
					  1, memory_order_relaxed);
	} else {
		if (e)
			dev = e->dev;
		status = split_access(as, t, addr, data, len, write);
	}
	if (__builtin_expect(__atomic_load_n(&bus_trace_mask, __ATOMIC_RELAXED) & (1u << space), 0))
		trace_access(as, write, addr, data, len, dev, status);
	return status;
}

int bus_read(struct bus *bus, enum bus_space space, uint64_t addr, void *data, unsigned len)
{
	return dispatch(bus, space, addr, data, len, false);
}

int bus_write(struct bus *bus, enum bus_space space, uint64_t addr, const void *data,
	      unsigned len)
{
	/* dispatch never writes through @data on a write */
	return dispatch(bus, space, addr, (uint8_t *)data, len, true);
}

static void fill_stats(const struct bus_dev *dev, struct bus_dev_stats *st)
{
	st->name = dev->name;
	st->space = dev->space;
	st->base = dev->base;
	st->len = dev->last - dev->base + 1; /* 0 for a device covering all of MMIO */
	st->nr_reads = atomic_load_explicit(&dev->nr_reads, memory_order_relaxed);
	st->nr_writes = atomic_load_explicit(&dev->nr_writes, memory_order_relaxed);
}

void bus_dev_get_stats(const struct bus_dev *dev, struct bus_dev_stats *st)
{
	fill_stats(dev, st);
}

void bus_unassigned_stats(struct bus *bus, enum bus_space space, uint64_t *nr_reads,
			  uint64_t *nr_writes)
{
	if ((unsigned)space >= BUS_NR_SPACES) {
		*nr_reads = *nr_writes = 0;
		return;
	}
	*nr_reads = atomic_load_explicit(&bus->as[space].nr_unassigned_reads, memory_order_relaxed);
	*nr_writes = atomic_load_explicit(&bus->as[space].nr_unassigned_writes, memory_order_relaxed);
}

size_t bus_for_each_dev(struct bus *bus, enum bus_space space,
			void (*fn)(const struct bus_dev_stats *st, void *arg), void *arg)
{
	const struct bus_table *t;
	size_t nr;

	if ((unsigned)space >= BUS_NR_SPACES)
		return 0;
	pthread_mutex_lock(&bus->lock);
	t = atomic_load_explicit(&bus->as[space].table, memory_order_relaxed);
	nr = t->nr;
	for (size_t i = 0; fn && i < nr; i++) {
		struct bus_dev_stats st;
		fill_stats(t->e[i].dev, &st);
		fn(&st, arg);
	}
	pthread_mutex_unlock(&bus->lock);
	return nr;
}

static void print_dev(const struct bus_dev_stats *st, void *arg)
{
	FILE *f = arg;
	if (!st->nr_reads && !st->nr_writes)
		return;
	fprintf(f, "%-4s %#10" PRIx64 "-%#-10" PRIx64 " %-*s reads %" PRIu64 " writes %" PRIu64 "\n",
		st->space == BUS_PIO ? "pio" : "mmio", st->base, st->base + (st->len - 1),
		BUS_NAME_MAX - 1, st->name, st->nr_reads, st->nr_writes);
}

void bus_print_stats(struct bus *bus, FILE *f)
{
	for (int s = 0; s < BUS_NR_SPACES; s++) {
		uint64_t r, w;
		bus_for_each_dev(bus, s, print_dev, f);
		bus_unassigned_stats(bus, s, &r, &w);
		if (r || w)
			fprintf(f, "%-4s unassigned reads %" PRIu64 " writes %" PRIu64 "\n",
				bus->as[s].name, r, w);
	}
}
