/* SPDX-License-Identifier: MIT */
/*
 * The PC's pair of 8259A programmable interrupt controllers (Intel 8259A datasheet, order no.
 * 231468; "8259A" below), cascaded as on every PC since the AT: the slave's INT drives the
 * master's IR2, ISA IRQ 0-7 are master IR0-7, IRQ 8-15 slave IR0-7. Plus the PIIX/ICH edge/level
 * control registers (ELCR) at 0x4D0/0x4D1.
 *
 * Ports: master 0x20 (A0 = 0), 0x21 (A0 = 1); slave 0xA0, 0xA1; ELCR 0x4D0 (IRQ 0-7), 0x4D1
 * (IRQ 8-15). Accesses of 2 or 4 bytes act as that many 1-byte accesses at consecutive ports.
 *
 * Implemented (8259A "Programming the 8259A"): the initialization sequence ICW1-ICW4 (ICW1 LTIM
 * level mode, SNGL, IC4; ICW2 vector base; ICW3 is stored; ICW4 AEOI, SFNM, µPM), OCW1 (IMR),
 * OCW2 (non-specific / specific EOI, rotate on non-specific / specific EOI, rotate in AEOI mode
 * set/clear, set priority), OCW3 (read IRR / ISR, poll command, special mask mode); fully
 * nested priority with rotation; edge and level triggering per input (level if ICW1 LTIM or the
 * input's ELCR bit is set); spurious IRQ7 / IRQ15 when the request went away before the INTA
 * cycle (the vector of IR7, no ISR bit set); special fully nested mode on the master.
 * The ELCR bits the chipset hard-wires to edge (IRQ 0, 1, 2, 8, 13; PIIX3 datasheet 4.1.11)
 * are read-only 0.
 *
 * Inputs: i8259_set_irq(pic, irq, level) (levels 1 asserted, 0 deasserted; the ISA lines are
 * active high). An edge-triggered input sets its IRR bit on a 0 -> 1 transition and keeps it
 * until the INTA cycle, even if the line falls before (so a device may pulse it; the real chip
 * would give a default IR7 then). A level-triggered input's IRR bit follows the line.
 *
 * Output: INTR, cfg.intr, level 1 while the master has a request of higher priority than what
 * it is servicing; called only when it changes. The CPU (the LAPIC's LINT0 in ExtINT mode, or
 * the vCPU directly without an APIC) runs the INTA cycle with i8259_ack, which returns the
 * vector. In 8080/8085 mode (ICW4 µPM = 0) the vector is formed as in 8086 mode (x86 has no
 * 8080 CALL sequence).
 *
 * Not implemented: buffered mode (ICW4 BUF/M-S are stored, no effect), a slave on another
 * master input than IR2 (ICW3 is stored but the cascade is always IR2), ADI/call address
 * interval (8080 only).
 *
 * Thread-safety: every function takes the pair's mutex. cfg.intr is called with it held, so
 * the receiver must not call back into the i8259 from that callback (it should kick the vCPU,
 * which calls i8259_ack later).
 */
#ifndef OMNIVISOR_HW_I8259_H
#define OMNIVISOR_HW_I8259_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/irq.h"

struct bus;
struct i8259;

#define I8259_MASTER_BASE 0x20
#define I8259_SLAVE_BASE 0xa0
#define I8259_ELCR_BASE 0x4d0
#define I8259_CASCADE_IRQ 2
#define I8259_NR_IRQS 16

struct i8259_config {
	struct irq_line intr; /* the master's INT output; zeroed: not connected */
};

/*
 * i8259_create - both PICs initialized as by ICW1 (with IC4) .. ICW4 8086 mode, vector bases
 * 0x00 (master) and 0x08 (slave): all masks clear, IRR/ISR clear, IR7 lowest priority, IRR
 * reads, ELCR 0. The guest is expected to initialize them (as firmware or Linux's init_8259A
 * does). @cfg is copied. Returns NULL (errno ENOMEM) on failure.
 */
struct i8259 *i8259_create(const struct i8259_config *cfg);

/* i8259_destroy - free (unregister from the bus first, see bus.h). NULL is a no-op. */
void i8259_destroy(struct i8259 *pic);

/*
 * i8259_register - claim 0x20-0x21 ("pic-master"), 0xA0-0xA1 ("pic-slave"), 0x4D0-0x4D1
 * ("elcr") on @bus. Returns 0 or bus_register's negative errno (nothing stays registered).
 */
int i8259_register(struct i8259 *pic, struct bus *bus);

/*
 * i8259_set_irq - drive ISA IRQ @irq (0..15) to @level (nonzero: asserted). Usable directly as
 * struct irq_line's set with opaque = the struct i8259 and n = the IRQ. IRQ 2 is the cascade
 * input (the slave drives it): a device on IRQ 2 is ignored, as on a PC, where IRQ 2 is IRQ 9.
 * Out-of-range @irq is ignored.
 */
void i8259_set_irq(void *pic, int irq, int level);

/*
 * i8259_ack - the INTA cycle: the vector of the highest-priority pending request (master, or
 * through the cascade the slave), setting its ISR bit (unless AEOI) and clearing an
 * edge-triggered request. With nothing pending it returns the vector of IR7 of the master (or,
 * if the master's IR2 was acknowledged but the slave has nothing, IR7 of the slave: spurious
 * IRQ 15), without setting that ISR bit (8259A "Interrupt Sequence").
 */
uint8_t i8259_ack(struct i8259 *pic);

/* i8259_intr - the level of INTR now (what cfg.intr was last given). */
bool i8259_intr(struct i8259 *pic);

/*
 * The register file as the bus callbacks use it: @port is 0x20, 0x21, 0xA0, 0xA1, 0x4D0 or
 * 0x4D1; other ports read 0xff / are ignored.
 */
uint8_t i8259_io_read(struct i8259 *pic, uint16_t port);
void i8259_io_write(struct i8259 *pic, uint16_t port, uint8_t val);

/* For tests and debugging: a chip's (0 master, 1 slave) registers without side effects. */
struct i8259_regs {
	uint8_t irr, isr, imr, elcr, vector_base, lowest_prio;
	bool aeoi, sfnm, special_mask, level_mode, initializing;
};
void i8259_get_regs(struct i8259 *pic, int chip, struct i8259_regs *r);

struct i8259_stats {
	uint64_t nr_reads, nr_writes;		/* port accesses (bytes) */
	uint64_t nr_acks, nr_spurious;		/* INTA cycles; of those, spurious (IR7 default) */
	uint64_t nr_irqs[I8259_NR_IRQS];	/* requests latched per IRQ (edges / level rises) */
	uint64_t nr_intr;			/* INTR 0 -> 1 transitions */
};
void i8259_get_stats(struct i8259 *pic, struct i8259_stats *st);
void i8259_print_stats(struct i8259 *pic, FILE *f);

#endif
