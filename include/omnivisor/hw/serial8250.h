/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (National Semiconductor PC16550D datasheet, June 1995; section numbers below are
 * that datasheet's "8.0 Registers" and tables), as a PC's COM port: 8 I/O ports at a base
 * (COM1 0x3f8, IRQ 4), 16-byte receive and transmit FIFOs, the five interrupt sources with the
 * datasheet's priorities (Table IV), loopback, modem status with delta bits, scratch register.
 * Linux's 8250 driver identifies it as a 16550A.
 *
 * Data path: a byte written to THR goes to the char backend at once (there is no baud-rate
 * delay: the transmitter is always idle again, LSR THRE and TEMT stay set and the THRE
 * interrupt becomes pending again). Host input enters with serial8250_receive, which accepts
 * only what fits in the receive FIFO (1 byte in 16450 mode); when the guest makes room the UART
 * calls the backend's accept_input. In loopback mode (MCR bit 4) transmitted bytes go to the
 * receive FIFO instead, and the modem inputs follow the modem outputs.
 *
 * Interrupt output: the level of @irq is 1 while an interrupt enabled in IER is pending and
 * MCR OUT2 is set (on a PC, OUT2 gates the UART's INTR onto the ISA IRQ line; Linux sets it),
 * and never in loopback mode (the OUT2 pin is forced inactive there, 16550D 8.6). The line is
 * only called when the level changes.
 *
 * Time: the character timeout indication (16550D 8.4, "FIFO interrupt mode operation") needs a
 * clock: 4 character times (at the programmed divisor and frame format) after the last byte
 * entered or left a non-empty receive FIFO. The UART reads the time with cfg.clock_ns and asks
 * for a callback with cfg.arm; the machine calls serial8250_timer at the deadline. Without an
 * arm hook, the timeout indication is given as soon as the FIFO holds data below the trigger
 * level (deadline "now").
 *
 * Not emulated: parity, framing and break errors and break input (never happen: there is no
 * wire), the DMA mode pins (FCR bit 3 is stored), the baud rate as a delay, RI input.
 *
 * Thread-safety: every function takes the UART's mutex; any thread may call them. The IRQ line
 * and the backend's write/accept_input are called with the mutex held.
 */
#ifndef OMNIVISOR_HW_SERIAL8250_H
#define OMNIVISOR_HW_SERIAL8250_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/char.h"
#include "omnivisor/irq.h"

struct bus;
struct bus_dev;
struct serial8250;

#define SERIAL8250_NR_PORTS 8
#define SERIAL8250_FIFO_SIZE 16
#define SERIAL8250_COM1_BASE 0x3f8
#define SERIAL8250_COM1_IRQ 4
#define SERIAL8250_CLOCK_HZ 1843200 /* the PC's UART crystal: divisor 1 = 115200 baud */

/* Register offsets (16550D Table II); DLL/DLM when LCR bit 7 (DLAB) is set. */
enum {
	SERIAL8250_RBR = 0, /* read: receiver buffer; write: THR */
	SERIAL8250_IER = 1,
	SERIAL8250_IIR = 2, /* read: interrupt identification; write: FCR */
	SERIAL8250_LCR = 3,
	SERIAL8250_MCR = 4,
	SERIAL8250_LSR = 5,
	SERIAL8250_MSR = 6,
	SERIAL8250_SCR = 7,
};

struct serial8250_config {
	struct irq_line irq;		/* zeroed: not connected */
	struct char_backend backend;	/* zeroed: output discarded */
	/* CLOCK_MONOTONIC in ns; NULL: time is always 0 */
	uint64_t (*clock_ns)(void *opaque);
	void *clock_opaque;
	/* request serial8250_timer at @deadline_ns (UINT64_MAX: cancel); NULL: see above */
	void (*arm)(void *opaque, uint64_t deadline_ns);
	void *arm_opaque;
};

/*
 * serial8250_create - a UART in its reset state (16550D Table III: IER 0, IIR 0x01, LCR 0,
 * MCR 0, LSR 0x60, FIFOs off; divisor 1 is also set, unlike the datasheet's "undefined").
 * @cfg is copied. Returns NULL (errno ENOMEM) on failure.
 */
struct serial8250 *serial8250_create(const struct serial8250_config *cfg);

/* serial8250_reset - the MR (master reset) pin: registers back to Table III (SCR and the divisor
 * latch, which MR does not reset, are kept), FIFOs emptied and off, timer cancelled, IRQ low.
 * For a machine reset. */
void serial8250_reset(struct serial8250 *s);

/* serial8250_destroy - unregistering from the bus is the caller's job (bus lifetime rules in
 * bus.h). NULL is a no-op. */
void serial8250_destroy(struct serial8250 *s);

/*
 * serial8250_register - claim the 8 ports [@base, @base + 8) on @bus under @name. Accesses of
 * 2 or 4 bytes act as that many 1-byte accesses at consecutive ports, as the ISA bus splits them
 * for an 8-bit device. Returns 0 or bus_register's negative errno. @devp as in bus_register.
 */
int serial8250_register(struct serial8250 *s, struct bus *bus, uint16_t base, const char *name,
			struct bus_dev **devp);

/* The register file, as the bus callbacks use it (@offset 0..7; others read 0xff / are
 * ignored). @now_ns is CLOCK_MONOTONIC. */
uint8_t serial8250_io_read(struct serial8250 *s, unsigned offset, uint64_t now_ns);
void serial8250_io_write(struct serial8250 *s, unsigned offset, uint8_t val, uint64_t now_ns);

/*
 * serial8250_receive - host input: put up to @len bytes of @buf into the receive FIFO. Returns
 * the number accepted (may be 0: FIFO full, or the UART is in loopback mode, where the wire is
 * disconnected). Never drops a byte it did not accept. Uses cfg.clock_ns for the timeout.
 */
size_t serial8250_receive(struct serial8250 *s, const uint8_t *buf, size_t len);

/* serial8250_can_receive - how many bytes serial8250_receive would accept now. */
size_t serial8250_can_receive(struct serial8250 *s);

/* serial8250_frontend - the struct char_frontend a backend delivers input to (receive). */
struct char_frontend serial8250_frontend(struct serial8250 *s);

/* serial8250_timer - the deadline requested through cfg.arm has passed (@now_ns >= it). A call
 * at another time is harmless. */
void serial8250_timer(struct serial8250 *s, uint64_t now_ns);

/* serial8250_irq_level - the current level of the IRQ output (0 or 1), for tests. */
int serial8250_irq_level(struct serial8250 *s);

struct serial8250_stats {
	uint64_t nr_reads, nr_writes;	/* register accesses (bytes) */
	uint64_t nr_irqs;		/* 0 -> 1 transitions of the IRQ output */
	uint64_t nr_tx, nr_rx;		/* bytes sent to the backend / accepted from it */
	uint64_t nr_loopback, nr_overruns; /* bytes looped back; bytes lost (loopback overrun) */
};
void serial8250_get_stats(struct serial8250 *s, struct serial8250_stats *st);
void serial8250_print_stats(struct serial8250 *s, FILE *f);

#endif
