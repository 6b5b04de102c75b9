/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines (conventions 4 and 8).
 *
 * A device is handed a `struct irq_line` by the machine file and drives it with irq_raise /
 * irq_lower / irq_set; it never knows what is at the other end (an i8259 input, an IOAPIC pin,
 * a test that records levels). The receiver supplies @set and its own @opaque; @n tells it which
 * of its inputs the line is, so one callback can serve all of an interrupt controller's pins.
 *
 * The level is 1 (asserted) or 0 (deasserted). An edge-triggered source pulses: irq_raise then
 * irq_lower (irq_pulse). The receiver decides what a repeated level means (a level-triggered
 * input ignores it, an edge-triggered one latches on the 0 -> 1 transition).
 *
 * An unconnected line (set == NULL) is legal and silently drops the signal, as a pin wired to
 * nothing does; a device test can pass a zeroed struct irq_line.
 */
#ifndef OMNIVISOR_IRQ_H
#define OMNIVISOR_IRQ_H

struct irq_line {
	void (*set)(void *opaque, int n, int level);
	void *opaque;
	int n;
};

static inline void irq_set(const struct irq_line *irq, int level)
{
	if (irq->set)
		irq->set(irq->opaque, irq->n, level);
}

static inline void irq_raise(const struct irq_line *irq)
{
	irq_set(irq, 1);
}

static inline void irq_lower(const struct irq_line *irq)
{
	irq_set(irq, 0);
}

/* irq_pulse - an edge: raise then lower (ISA edge-triggered devices, MSI-like one-shots). */
static inline void irq_pulse(const struct irq_line *irq)
{
	irq_set(irq, 1);
	irq_set(irq, 0);
}

#endif
