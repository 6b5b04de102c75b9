/* SPDX-License-Identifier: MIT */
/*
 * The PIO/MMIO bus: one registration API and one dispatcher for every device access
 * (convention 6). The software vCPU (IN/OUT/INS/OUTS, and memory accesses that do not hit RAM)
 * and the KVM exit handler (KVM_EXIT_IO, KVM_EXIT_MMIO) both call bus_pio_* / bus_mmio_*.
 * Design and callers: docs/bus.md.
 *
 * Two address spaces:
 *   BUS_PIO   16-bit I/O ports, accesses of 1, 2 or 4 bytes;
 *   BUS_MMIO  64-bit guest-physical addresses, accesses of 1 to 8 bytes.
 * A device claims [base, base + len) with a static const struct bus_ops, an opaque pointer and a
 * name (traces, counters). Ranges never overlap.
 *
 * Data is a byte buffer in guest (little-endian) order: data[0] is the byte at the lowest
 * address. bus_data_get / bus_data_put convert to and from an integer.
 *
 * Device callbacks see offset = address - base and len in {1, 2, 4, 8} ({1, 2, 4} for PIO),
 * never a range outside the device: an access that straddles the end of a device, touches
 * addresses where no device is, or has a length that is not a power of two (an MMIO fragment
 * split at a page boundary) is dispatched one byte at a time, each byte to the device that owns
 * it. Bytes that no device owns read as 0xff and their writes are dropped, as on a PC whose bus
 * floats high. Accesses are not required to be aligned; a device that cares checks offset.
 *
 * Concurrency: dispatch takes no lock. Each address space is an immutable sorted array swapped
 * atomically on registration (copy-on-write, RCU-like), so vCPU threads dispatch concurrently
 * with each other and with bus_register/bus_unregister, which serialize on an internal mutex
 * (a device may even register/unregister from inside its own callback: PCI BAR moves). Arrays
 * and handles replaced while a dispatch may still use them are kept until bus_reclaim or
 * bus_destroy, whose caller guarantees that no dispatch is running (all vCPUs paused or gone).
 * Consequently a device's ops and opaque must stay valid until then, even after unregister.
 */
#ifndef OMNIVISOR_BUS_H
#define OMNIVISOR_BUS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bus data buffers are guest (little-endian) order; bus_data_get/put assume a little-endian host"
#endif

enum bus_space { BUS_PIO, BUS_MMIO, BUS_NR_SPACES };

#define BUS_PIO_LIMIT 0xffffull /* last I/O port */
#define BUS_NAME_MAX 32		/* names longer than this - 1 are truncated */

/*
 * Device access callbacks. @offset is relative to the registered base; @data holds @len bytes
 * in guest order. read must fill all @len bytes. Either may be NULL: a NULL read returns all
 * ones, a NULL write drops the data (a write-only or read-only register block). Callbacks may
 * run on several vCPU threads at once: a device with state locks it (or is only reachable from
 * one vCPU).
 */
struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
};

struct bus;
struct bus_dev; /* registration handle */

/* Dispatch status (>= 0); combined with |. 0: the whole access went to one device. */
#define BUS_UNASSIGNED 1u /* some byte hit no device: read as 0xff, write dropped */
#define BUS_SPLIT 2u	  /* dispatched byte by byte (straddle, hole or odd MMIO length) */

/* bus_create - an empty bus. NULL (errno ENOMEM) on failure. */
struct bus *bus_create(void);
/* bus_destroy - free the bus and all handles. No dispatch may be running. NULL is a no-op. */
void bus_destroy(struct bus *bus);

/*
 * bus_register - claim [@base, @base + @len) in @space for @ops/@opaque.
 * @name is copied (for traces and counters). On success stores the handle in *@devp if @devp is
 * not NULL and returns 0. Errors: -EINVAL (zero length, range past the end of the space, bad
 * space, NULL ops), -EBUSY (overlaps a registered range), -ENOMEM.
 */
int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name, struct bus_dev **devp);

static inline int bus_register_pio(struct bus *bus, uint16_t port, uint32_t len,
				   const struct bus_ops *ops, void *opaque, const char *name,
				   struct bus_dev **devp)
{
	return bus_register(bus, BUS_PIO, port, len, ops, opaque, name, devp);
}

static inline int bus_register_mmio(struct bus *bus, uint64_t gpa, uint64_t len,
				    const struct bus_ops *ops, void *opaque, const char *name,
				    struct bus_dev **devp)
{
	return bus_register(bus, BUS_MMIO, gpa, len, ops, opaque, name, devp);
}

/*
 * bus_unregister - remove a registration. Returns 0, or -ENOENT if @dev is not registered on
 * @bus (already unregistered). Dispatches that started before the call may still reach the
 * device's callbacks until it returns to them (see bus_reclaim). The handle stays readable
 * (bus_dev_get_stats) until bus_reclaim / bus_destroy.
 */
int bus_unregister(struct bus *bus, struct bus_dev *dev);

/*
 * bus_reclaim - free the arrays and handles retired by earlier register/unregister calls.
 * The caller guarantees that no thread is inside a dispatch call on @bus (e.g. all vCPUs are
 * paused outside the bus). Handles of unregistered devices become invalid.
 */
void bus_reclaim(struct bus *bus);

/*
 * Dispatch. @addr is the port or guest-physical address, @data @len bytes in guest order.
 * Returns a BUS_* status (>= 0; the caller may count or trace BUS_UNASSIGNED), or -EINVAL for a
 * length the space does not have (PIO: 1, 2, 4; MMIO: 1..8), in which case nothing is done.
 * Lock-free; safe from any number of threads.
 */
int bus_read(struct bus *bus, enum bus_space space, uint64_t addr, void *data, unsigned len);
int bus_write(struct bus *bus, enum bus_space space, uint64_t addr, const void *data,
	      unsigned len);

static inline int bus_pio_read(struct bus *bus, uint16_t port, void *data, unsigned len)
{
	return bus_read(bus, BUS_PIO, port, data, len);
}

static inline int bus_pio_write(struct bus *bus, uint16_t port, const void *data, unsigned len)
{
	return bus_write(bus, BUS_PIO, port, data, len);
}

static inline int bus_mmio_read(struct bus *bus, uint64_t gpa, void *data, unsigned len)
{
	return bus_read(bus, BUS_MMIO, gpa, data, len);
}

static inline int bus_mmio_write(struct bus *bus, uint64_t gpa, const void *data, unsigned len)
{
	return bus_write(bus, BUS_MMIO, gpa, data, len);
}

/* Guest-order byte buffer <-> integer (the low @len bytes; @len <= 8). */
static inline uint64_t bus_data_get(const void *data, unsigned len)
{
	uint64_t v = 0;
	memcpy(&v, data, len);
	return v;
}

static inline void bus_data_put(void *data, unsigned len, uint64_t v)
{
	memcpy(data, &v, len);
}

/* Counters (convention 12). Exact; updated with relaxed atomics, readable at any time. */
struct bus_dev_stats {
	const char *name; /* valid as long as the handle */
	enum bus_space space;
	uint64_t base, len;
	uint64_t nr_reads, nr_writes; /* device callback invocations (a split access counts per byte) */
};

void bus_dev_get_stats(const struct bus_dev *dev, struct bus_dev_stats *st);
/* Accesses to @space that had at least one unassigned byte. */
void bus_unassigned_stats(struct bus *bus, enum bus_space space, uint64_t *nr_reads,
			  uint64_t *nr_writes);
/*
 * bus_for_each_dev - call @fn for every registered device of @space in address order, under
 * the registration lock (@fn must not register or unregister; NULL only counts). Returns the
 * number of devices.
 */
size_t bus_for_each_dev(struct bus *bus, enum bus_space space,
			void (*fn)(const struct bus_dev_stats *st, void *arg), void *arg);
/* bus_print_stats - one line per device with nonzero counters, then the unassigned counts. */
void bus_print_stats(struct bus *bus, FILE *f);

/*
 * Tracing: every access of a traced space is printed with pr_trace (space, direction, address,
 * length, value, device name or "unassigned"). Process-wide, off by default. To be driven by
 * `--trace pio,mmio` once log.h has TRACE_PIO/TRACE_MMIO bits.
 */
#define BUS_TRACE_PIO (1u << BUS_PIO)
#define BUS_TRACE_MMIO (1u << BUS_MMIO)
void bus_set_trace(unsigned mask);

#endif
