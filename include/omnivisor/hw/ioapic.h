/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt Controller datasheet, order no.
 * 290566; "82093AA" below), in the flavour of the ICH/PIIX4-era chipset APIC: 24 input pins,
 * version 0x20 (which has the EOI register at offset 0x40, ICH datasheets "APIC Direct
 * Registers").
 *
 * Memory map (relative to the base, normally 0xFEC00000; 4 KiB claimed):
 *   0x00 IOREGSEL  index of the register IOWIN shows (bits 7:0; read/write)
 *   0x10 IOWIN     the selected 32-bit register
 *   0x40 EOI       write a vector: clears Remote IRR of the level entries with that vector
 *   other offsets read 0, writes ignored.
 * IOWIN and EOI act on 32-bit writes only (the 82093AA requires dword accesses); smaller writes
 * to them are ignored. Reads of any size return the bytes of the dword. An 8-byte access is
 * two dword accesses. IOREGSEL takes the low byte of a write of any size.
 *
 * Registers (82093AA 3.2): 0x00 ID (bits 27:24 read/write), 0x01 VER (0x00170020: 24 entries,
 * version 0x20), 0x02 ARB (bits 27:24, loaded from the ID when the ID is written), 0x10-0x3F
 * redirection table: entry n low dword at 0x10 + 2n, high at 0x11 + 2n. Entry bits: vector 7:0,
 * delivery mode 10:8 (0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT; 3 and 6 are
 * reserved: never delivered), destination mode 11 (1 logical), delivery status 12 (read-only,
 * always 0: delivery is synchronous), polarity 13 (stored), Remote IRR 14 (read-only), trigger
 * mode 15 (1 level), mask 16, destination 63:56. Other bits read 0. Unimplemented registers
 * read 0. Reset: every entry masked, everything else 0, ID = cfg.id.
 *
 * Inputs: ioapic_set_irq(ioapic, pin, level) with level 1 = asserted, whatever the programmed
 * polarity (the polarity bit says how the wire is driven; our lines carry the logical state).
 * Edge entries deliver on each 0 -> 1 transition while unmasked; an edge on a masked pin is
 * lost (82093AA 3.2.4, "Interrupt Mask"). Level entries deliver while the input is asserted,
 * unmasked and Remote IRR is 0, and set Remote IRR; the local APIC's EOI (ioapic_eoi, or the
 * EOI register) clears it, and the entry is delivered again if the input is still asserted.
 * SMI, NMI, INIT and ExtINT are always edge (82093AA 3.2.4, "Delivery Mode"). Switching an
 * entry to edge trigger clears its Remote IRR (the way Linux clears a stuck Remote IRR on
 * IOAPICs without an EOI register). Unmasking or switching an entry to level with the input
 * asserted delivers it.
 *
 * Delivery: cfg.deliver(opaque, dest, dest_logical, mode, vector, level), where dest is bits
 * 63:56, mode bits 10:8, level the trigger mode (true only for fixed / lowest priority level
 * entries: the LAPIC sets TMR and broadcasts its EOI for those). It is called with the IOAPIC's
 * mutex held, so it must not call back into the IOAPIC (the LAPIC calls ioapic_eoi after
 * dropping its own lock, outside deliver).
 *
 * Thread-safety: every function takes the device's mutex.
 */
#ifndef OMNIVISOR_HW_IOAPIC_H
#define OMNIVISOR_HW_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct bus;
struct ioapic;

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_NR_PINS 24
#define IOAPIC_VERSION 0x20

/* Register offsets and indexes */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_EOI 0x40
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDTBL 0x10

/* Redirection entry fields */
#define IOAPIC_RTE_VECTOR 0xffull
#define IOAPIC_RTE_MODE_SHIFT 8
#define IOAPIC_RTE_DEST_LOGICAL (1ull << 11)
#define IOAPIC_RTE_DELIVS (1ull << 12)
#define IOAPIC_RTE_POLARITY_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56

enum ioapic_delivery_mode {
	IOAPIC_MODE_FIXED = 0,
	IOAPIC_MODE_LOWEST = 1,
	IOAPIC_MODE_SMI = 2,
	IOAPIC_MODE_NMI = 4,
	IOAPIC_MODE_INIT = 5,
	IOAPIC_MODE_EXTINT = 7,
};

struct ioapic_config {
	uint8_t id; /* APIC ID at reset (4 bits used) */
	/* an interrupt message to the local APICs; NULL: messages are dropped */
	void (*deliver)(void *opaque, uint8_t dest, bool dest_logical, uint8_t mode,
			uint8_t vector, bool level);
	void *deliver_opaque;
};

/* ioapic_create - an IOAPIC in its reset state. @cfg is copied. NULL (errno ENOMEM) on error. */
struct ioapic *ioapic_create(const struct ioapic_config *cfg);

/* ioapic_destroy - free (unregister from the bus first, see bus.h). NULL is a no-op. */
void ioapic_destroy(struct ioapic *ioapic);

/* ioapic_register - claim [@gpa, @gpa + IOAPIC_MMIO_SIZE) as "ioapic". 0 or bus_register's
 * negative errno. */
int ioapic_register(struct ioapic *ioapic, struct bus *bus, uint64_t gpa);

/*
 * ioapic_set_irq - drive input @pin (0..23) to @level (nonzero: asserted). Usable directly as
 * struct irq_line's set with opaque = the struct ioapic, n = the pin. Other pins are ignored.
 */
void ioapic_set_irq(void *ioapic, int pin, int level);

/*
 * ioapic_eoi - the local APIC's EOI broadcast for @vector: every level entry with that vector
 * and Remote IRR set gets it cleared, and is delivered again if its input is still asserted
 * and it is unmasked. Must not be called from inside cfg.deliver.
 */
void ioapic_eoi(struct ioapic *ioapic, uint8_t vector);

/* MMIO as the bus callbacks do it: @offset within the 4 KiB window, @len 1..8 bytes. */
uint64_t ioapic_mmio_read(struct ioapic *ioapic, uint64_t offset, unsigned len);
void ioapic_mmio_write(struct ioapic *ioapic, uint64_t offset, unsigned len, uint64_t val);

/* Indirect registers without IOREGSEL (tests, debugging): as IOWIN reads/writes them. */
uint32_t ioapic_read_reg(struct ioapic *ioapic, uint8_t index);
void ioapic_write_reg(struct ioapic *ioapic, uint8_t index, uint32_t val);

/* ioapic_get_entry - redirection entry @pin (0..23) as the guest would read it; 0 if bad pin. */
uint64_t ioapic_get_entry(struct ioapic *ioapic, unsigned pin);

struct ioapic_stats {
	uint64_t nr_reads, nr_writes;		 /* MMIO accesses */
	uint64_t nr_delivered[IOAPIC_NR_PINS]; /* messages sent per pin */
	uint64_t nr_masked_edges;		 /* edges lost on masked pins */
	uint64_t nr_eois;			 /* ioapic_eoi calls and EOI register writes */
};
void ioapic_get_stats(struct ioapic *ioapic, struct ioapic_stats *st);
void ioapic_print_stats(struct ioapic *ioapic, FILE *f);

#endif
