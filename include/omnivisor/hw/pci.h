/* SPDX-License-Identifier: MIT */
/*
 * PCI host bridge with configuration mechanism #1 (PCI Local Bus Specification 3.0, "PCI 3.0"
 * below, 3.2.2.3.2), a registry of the devices on bus 0, PCI INTx routing, and a helper that
 * implements a type-0 configuration header (PCI 3.0 6.1, 6.2) for the devices that plug in.
 *
 * Ports (registered as two 4-port ranges):
 *   0xCF8 CONFIG_ADDRESS  a 32-bit access reads/writes the address latch: bit 31 enable,
 *                         23:16 bus, 15:11 device, 10:8 function, 7:2 register; bits 30:24 and
 *                         1:0 are reserved and read 0 (Linux's pci_check_type1 writes
 *                         0x80000000 and expects it back). Byte and word accesses to
 *                         0xCF8-0xCFB are not config cycles: they go to whatever else decodes
 *                         them, here nothing (read all ones, writes dropped), except a byte at
 *                         0xCF9 when cfg.reset is given: the PIIX3/ICH Reset Control Register
 *                         (PIIX3 datasheet 4.1.13: bits 1 SRST, 2 RCPU; a 0 -> 1 transition of
 *                         bit 2 calls cfg.reset with bit 1 as "hard").
 *   0xCFC-0xCFF CONFIG_DATA  with the enable bit set, a 1, 2 or 4-byte access at 0xCFC + k is a
 *                         configuration access at register offset (reg + k) of the addressed
 *                         function; with it clear, ordinary (unassigned) I/O.
 * Configuration reads of a function nobody implements, and of any bus other than 0 (there are
 * no PCI-PCI bridges), return all ones (PCI 3.0 6.1: vendor ID 0xFFFF = no device); writes are
 * dropped. Accesses a device sees are naturally aligned (1, 2 or 4 bytes at a multiple of the
 * size, within one dword); a misaligned one (a word at 0xCFD, ...) is split into bytes.
 *
 * Device 0:0.0 is the host bridge, an Intel 82441FX PMC (440FX, PCI ID 8086:1237, revision 02,
 * class 06 00 00; 82441FX datasheet 3.2): PCICMD 0006h, PCISTS 0280h, header type 00h, no BARs.
 * Its chipset registers 0x50-0x7F (PMCCFG, DRAMC, PAM0-6, DRB0-7, SMRAM = 02h at reset ...)
 * are stored and read back but have no effect (no shadow RAM, no SMRAM in this machine).
 *
 * INTx routing: function f of slot s asserting INTx pin p (1 = INTA .. 4 = INTD) drives PIRQ
 * (s + p - 1) mod 4 (the usual swizzle; pci_intx_pirq), PIRQ A-D are wired-OR (a PIRQ is
 * asserted while any source on it is) and drive cfg.pirq[0..3], which the machine connects to
 * IOAPIC pins 16-19 (GSI 16 + PIRQ, as ICH chipsets do in APIC mode). The ACPI _PRT must
 * describe exactly this mapping (docs/interrupts.md).
 *
 * Thread-safety: all functions may be called from any thread. The host's lock protects the
 * address latch, the device table and the INTx state; device config callbacks are called
 * WITHOUT it (a device locks itself, and may register or move its BARs on the bus from inside
 * them). cfg.pirq lines are called with the INTx lock held (interrupts flow one way).
 * pci_register_device / pci_unregister_device are for machine setup and teardown, while no
 * vCPU runs.
 */
#ifndef OMNIVISOR_HW_PCI_H
#define OMNIVISOR_HW_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/irq.h"

struct bus;
struct pci_host;

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_RESET_CONTROL 0xcf9
#define PCI_DEVFN(slot, fn) ((uint8_t)(((slot) & 0x1f) << 3 | ((fn) & 7)))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn) & 7)
#define PCI_NR_PIRQS 4
#define PCI_CONFIG_SIZE 256 /* conventional configuration space */

/* A device's configuration space accessors (@offset naturally aligned to @len in 1, 2, 4). */
struct pci_device_ops {
	uint32_t (*config_read)(void *opaque, unsigned offset, unsigned len);
	void (*config_write)(void *opaque, unsigned offset, unsigned len, uint32_t val);
};

struct pci_host_config {
	struct irq_line pirq[PCI_NR_PIRQS]; /* PIRQA-D -> IOAPIC pins 16-19; zeroed: unconnected */
	/* 0xCF9 reset: NULL leaves 0xCF9 unassigned; @hard: SRST was set (else a CPU INIT) */
	void (*reset)(void *opaque, bool hard);
	void *reset_opaque;
};

/* pci_host_create - a host bridge with only device 0:0.0. Returns NULL (errno ENOMEM). */
struct pci_host *pci_host_create(const struct pci_host_config *cfg);

/* pci_host_destroy - free (unregister from the bus first). Registered devices are not freed. */
void pci_host_destroy(struct pci_host *host);

/* pci_host_register - claim 0xCF8-0xCFB ("pci-addr") and 0xCFC-0xCFF ("pci-data").
 * 0 or bus_register's negative errno (nothing stays registered). */
int pci_host_register(struct pci_host *host, struct bus *bus);

/*
 * pci_register_device - put a function at @devfn (PCI_DEVFN(slot, fn)) of bus 0. @ops and
 * @opaque must stay valid until pci_unregister_device / pci_host_destroy. Linux only scans
 * functions 1-7 of a slot whose function 0 has the multi-function bit in its header type.
 * Errors: -EINVAL (devfn 0 is the host bridge, NULL ops or callbacks), -EBUSY (taken).
 */
int pci_register_device(struct pci_host *host, uint8_t devfn, const struct pci_device_ops *ops,
			void *opaque);
/* pci_unregister_device - 0 or -ENOENT. */
int pci_unregister_device(struct pci_host *host, uint8_t devfn);

/*
 * pci_config_read / pci_config_write - a configuration access as CONFIG_DATA performs it
 * (@bus_nr, @devfn, @offset 0..255, @len 1, 2 or 4 with @offset + @len <= 256; otherwise reads
 * give all ones and writes are dropped). For tests and for a future MMCONFIG window.
 */
uint32_t pci_config_read(struct pci_host *host, uint8_t bus_nr, uint8_t devfn, unsigned offset,
			 unsigned len);
void pci_config_write(struct pci_host *host, uint8_t bus_nr, uint8_t devfn, unsigned offset,
		      unsigned len, uint32_t val);

/* pci_host_io_read / pci_host_io_write - port @port (0xCF8..0xCFF), @len 1, 2 or 4 bytes not
 * crossing 0xCFC, as the bus callbacks do it. */
uint32_t pci_host_io_read(struct pci_host *host, uint16_t port, unsigned len);
void pci_host_io_write(struct pci_host *host, uint16_t port, unsigned len, uint32_t val);

/* pci_intx_pirq - the PIRQ (0..3 = A..D) that INTx @pin (1..4) of @devfn drives. */
static inline unsigned pci_intx_pirq(uint8_t devfn, unsigned pin)
{
	return (PCI_SLOT(devfn) + pin - 1) & 3;
}

/*
 * pci_set_intx - the function at @devfn drives its INTx @pin (1..4) to @level (nonzero:
 * asserted). Level-triggered, shared: the PIRQ follows the OR of its sources. Bad @pin is
 * ignored.
 */
void pci_set_intx(struct pci_host *host, uint8_t devfn, unsigned pin, int level);

struct pci_host_stats {
	uint64_t nr_config_reads, nr_config_writes; /* config cycles (also to absent functions) */
	uint64_t nr_absent;			    /* of those, to no function */
	uint64_t nr_intx_changes;		    /* PIRQ level changes */
};
void pci_host_get_stats(struct pci_host *host, struct pci_host_stats *st);
void pci_host_print_stats(struct pci_host *host, FILE *f);

/* ---- type-0 configuration header helper (PCI 3.0 6.1, 6.2) ---- */

/* Standard header offsets */
enum {
	PCI_VENDOR_ID = 0x00,
	PCI_DEVICE_ID = 0x02,
	PCI_COMMAND = 0x04,
	PCI_STATUS = 0x06,
	PCI_REVISION_ID = 0x08,
	PCI_CLASS_PROG = 0x09,
	PCI_CACHE_LINE_SIZE = 0x0c,
	PCI_LATENCY_TIMER = 0x0d,
	PCI_HEADER_TYPE = 0x0e,
	PCI_BAR0 = 0x10,
	PCI_SUBSYSTEM_VENDOR_ID = 0x2c,
	PCI_SUBSYSTEM_ID = 0x2e,
	PCI_ROM_ADDRESS = 0x30,
	PCI_CAPABILITY_LIST = 0x34,
	PCI_INTERRUPT_LINE = 0x3c,
	PCI_INTERRUPT_PIN = 0x3d,
};

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_NR_BARS 6

/* BAR kinds for pci_cfg_add_bar */
#define PCI_BAR_MEM32 0x0	 /* 32-bit memory */
#define PCI_BAR_IO 0x1		 /* I/O space */
#define PCI_BAR_MEM64 0x4	 /* 64-bit memory: uses this BAR and the next */
#define PCI_BAR_PREFETCH 0x8	 /* with a memory kind: prefetchable */
#define PCI_BAR_UNMAPPED UINT64_MAX

struct pci_id {
	uint16_t vendor_id, device_id;
	uint16_t subsystem_vendor_id, subsystem_id;
	uint8_t revision;
	uint32_t class_code;	/* base class << 16 | subclass << 8 | programming interface */
	uint8_t interrupt_pin;	/* 0 none, 1..4 INTA..INTD */
	bool multifunction;	/* header type bit 7 (set on function 0 of a multi-function device) */
};

/*
 * The header: bytes, writable bits, write-1-to-clear bits, BAR sizes. A device embeds one and
 * serves its config_read / config_write with pci_cfg_read / pci_cfg_write under its own lock.
 * Device-specific registers: pci_cfg_add_cap, then set bytes in data[] and bits in wmask[].
 */
struct pci_cfg {
	uint8_t data[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];
	uint8_t w1cmask[PCI_CONFIG_SIZE];
	uint64_t bar_size[PCI_NR_BARS]; /* 0: not implemented (or the upper half of a 64-bit) */
	uint8_t bar_kind[PCI_NR_BARS];
	uint16_t cap_next_free;		 /* first free byte for capabilities */
	uint8_t cap_last;		 /* offset of the last capability, 0 if none */
};

/*
 * pci_cfg_init - a header with @id, everything else at reset values (PCI 3.0 6.2): command 0
 * (writable: I/O, memory, bus master, parity, SERR, INTx disable), status 0 (bits 15:11 and 8
 * write-1-to-clear), cache line size and latency timer and interrupt line writable, no BARs,
 * no expansion ROM (reads 0), no capabilities.
 */
void pci_cfg_init(struct pci_cfg *cfg, const struct pci_id *id);

/*
 * pci_cfg_add_bar - implement BAR @bar (0..5) of @size bytes (a power of two: at least 16 for
 * memory, 4 for I/O; at most 2 GiB for 32-bit memory, 64 KiB for I/O, 2^63 for 64-bit) and @kind
 * (PCI_BAR_*). The BAR's low bits read as the size mask's zeros (PCI 3.0 6.2.5.1: writing all
 * ones reads back ~(size - 1) | type bits). A 64-bit BAR takes @bar and @bar + 1.
 * Returns 0 or -EINVAL (bad index, size, kind, or a 64-bit BAR at index 5 / over another BAR).
 */
int pci_cfg_add_bar(struct pci_cfg *cfg, unsigned bar, uint64_t size, unsigned kind);

/*
 * pci_cfg_add_cap - append a capability with ID @cap_id and @len bytes (>= 2: ID and next
 * pointer) to the list at 0x34 (PCI 3.0 6.7), dword-aligned, in 0x40..0xFF; sets the status
 * capability bit. Its body is read-only zeros until the device fills data[] / wmask[].
 * Returns the capability's offset, or -ENOSPC / -EINVAL (len < 2).
 */
int pci_cfg_add_cap(struct pci_cfg *cfg, uint8_t cap_id, unsigned len);

/* pci_cfg_read - @len (1, 2, 4) bytes at @offset, little-endian; all ones if out of range. */
uint32_t pci_cfg_read(const struct pci_cfg *cfg, unsigned offset, unsigned len);

/* What a pci_cfg_write changed (so the device can re-map BARs, update INTx, ...). */
#define PCI_CFG_CHANGED_COMMAND 0x1u
#define PCI_CFG_CHANGED_BAR(n) (0x2u << (n)) /* n = the BAR's index (low half for 64-bit) */
#define PCI_CFG_CHANGED_OTHER 0x100u
/*
 * pci_cfg_write - write @len bytes at @offset: only writable bits change, write-1-to-clear bits
 * are cleared where @val has ones. Returns the PCI_CFG_CHANGED_* bits of what changed value.
 */
unsigned pci_cfg_write(struct pci_cfg *cfg, unsigned offset, unsigned len, uint32_t val);

/* pci_cfg_bar_addr - the base address BAR @bar holds (flag bits cleared; both halves of a
 * 64-bit BAR), PCI_BAR_UNMAPPED if not implemented. */
uint64_t pci_cfg_bar_addr(const struct pci_cfg *cfg, unsigned bar);

/* pci_cfg_bar_mapping - pci_cfg_bar_addr if the command register enables decoding for the
 * BAR's space (I/O or memory), else PCI_BAR_UNMAPPED. */
uint64_t pci_cfg_bar_mapping(const struct pci_cfg *cfg, unsigned bar);

/*
 * pci_cfg_intx - record whether the function has an interrupt pending (status bit 3, PCI 3.0
 * 6.2.3) and return the level its INTx pin must have: pending and not disabled by command
 * bit 10. The device passes it to pci_set_intx (also after PCI_CFG_CHANGED_COMMAND).
 */
bool pci_cfg_intx(struct pci_cfg *cfg, bool pending);

#endif
