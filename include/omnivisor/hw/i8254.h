/* SPDX-License-Identifier: MIT */
/*
 * 8254 programmable interval timer (Intel 82C54 CHMOS Programmable Interval Timer datasheet,
 * order no. 231244; "82C54" below) as wired on a PC, plus the PC's "system control port B"
 * (port 0x61), which gates channel 2 and reads its output.
 *
 * Ports: 0x40, 0x41, 0x42 counters 0-2, 0x43 control word (write-only; reads 0xff); 0x61 port B.
 * Accesses of 2 or 4 bytes act as that many 1-byte accesses at consecutive ports (the ISA bus
 * splits them for an 8-bit device).
 *
 * Implemented (82C54 "Operation" and "Modes"): the six modes (0 interrupt on terminal count,
 * 1 hardware retriggerable one-shot, 2 rate generator, 3 square wave, 4 software triggered
 * strobe, 5 hardware triggered strobe; mode codes 6 and 7 are 2 and 3), binary and BCD
 * counting, LSB / MSB / LSB-then-MSB access with separate read and write byte pointers, the
 * counter latch command, the read-back command (count and/or status of any set of counters),
 * the status byte (OUT, NULL COUNT, RW, mode, BCD), the GATE inputs with their per-mode effect
 * (level gating in modes 0, 2, 3, 4; rising-edge trigger in modes 1, 2, 3, 5), new counts
 * written while counting (mode 0: first byte of a 2-byte count stops counting; modes 2 and 3:
 * taken at the end of the current period / half-period), and the counters' wrap-around after
 * terminal count.
 *
 * Time: the counters are never ticked. The input clock is PIT_HZ (1193182 Hz, the value Linux
 * uses; the real crystal gives 14.31818 MHz / 12). CLK pulse number k happens at the first
 * nanosecond t with floor(t * PIT_HZ / 1e9) = k, t in CLOCK_MONOTONIC ns, so every counter value
 * and OUT level is a pure function of the time. A count written between pulses k-1 and k is
 * loaded into the counting element on pulse k ("on the next CLK pulse", 82C54 "Counter
 * Loading"), so in mode 0 OUT goes high N + 1 pulses after the write, as the datasheet says.
 *
 * Outputs: channel 0's OUT is ISA IRQ0 (cfg.irq0). The line is given OUT's level; a rising edge
 * that happened between two calls (mode 2's OUT is low for a single 838 ns pulse) is delivered
 * as a 0 -> 1 transition, so an edge-triggered receiver never misses one; several edges between
 * two calls (the host timer was late) coalesce into one, as an 8259 IRR would. To be called at
 * each rising edge of OUT0 the device asks for cfg.arm(deadline of the next rising edge) and the
 * machine calls i8254_timer then; periodic modes re-arm every period. Channel 1 (DRAM refresh
 * on old PCs) has no output here. Channel 2's OUT is read on port 0x61 bit 5 (the PC speaker is
 * not emulated). GATE0 and GATE1 are tied high, GATE2 is port 0x61 bit 0.
 *
 * Port 0x61 (system control port B, as on the PIIX/ICH ISA bridge, "NMI status and control"):
 *   write: bit 0 timer 2 gate, bit 1 speaker data enable, bits 2-3 (parity / channel check
 *          enables) are stored; bits 4-7 are read-only.
 *   read:  bits 0-3 as written, bit 4 refresh toggle (flips every 15.085 us = 18 PIT pulses,
 *          the period BIOSes program into channel 1), bit 5 OUT2, bits 6-7 (IOCHK, SERR) 0.
 *
 * Thread-safety: every function takes the device's mutex. cfg.irq0 and cfg.arm are called with
 * it held (they must not call back into the i8254).
 */
#ifndef OMNIVISOR_HW_I8254_H
#define OMNIVISOR_HW_I8254_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/irq.h"

struct bus;
struct bus_dev;
struct i8254;

#define I8254_HZ 1193182u	    /* input clock (Linux's PIT_TICK_RATE) */
#define I8254_BASE 0x40		    /* ports 0x40-0x43 */
#define I8254_PORT_B 0x61	    /* system control port B */
#define I8254_REFRESH_NS 15085u    /* port 0x61 bit 4 half-period */
#define I8254_IRQ 0		    /* ISA IRQ of channel 0 */

struct i8254_config {
	struct irq_line irq0; /* channel 0 OUT; zeroed: not connected */
	/* CLOCK_MONOTONIC in ns, for the bus callbacks; NULL: time is always 0 */
	uint64_t (*clock_ns)(void *opaque);
	void *clock_opaque;
	/* request i8254_timer at @deadline_ns (UINT64_MAX: cancel); NULL: never called back */
	void (*arm)(void *opaque, uint64_t deadline_ns);
	void *arm_opaque;
};

/*
 * i8254_create - a PIT as after power-on: no counter programmed (each counter is in mode 0
 * state with OUT low, count 0, NULL COUNT set, as BIOS-less hardware leaves it undefined),
 * port 0x61 = 0. @cfg is copied. Returns NULL (errno ENOMEM) on failure.
 */
struct i8254 *i8254_create(const struct i8254_config *cfg);

/* i8254_destroy - free; unregistering from the bus and stopping the timer are the caller's
 * job. NULL is a no-op. */
void i8254_destroy(struct i8254 *pit);

/*
 * i8254_register - claim ports 0x40-0x43 ("i8254") and 0x61 ("port61") on @bus. Returns 0 or
 * bus_register's negative errno (on failure nothing stays registered).
 */
int i8254_register(struct i8254 *pit, struct bus *bus);

/*
 * i8254_io_read / i8254_io_write - one byte at port 0x40 + @offset (@offset 0..3), as the bus
 * callbacks do it, at time @now_ns. Other offsets read 0xff / are ignored.
 */
uint8_t i8254_io_read(struct i8254 *pit, unsigned offset, uint64_t now_ns);
void i8254_io_write(struct i8254 *pit, unsigned offset, uint8_t val, uint64_t now_ns);

/* i8254_port_b_read / i8254_port_b_write - port 0x61 at time @now_ns (layout above). */
uint8_t i8254_port_b_read(struct i8254 *pit, uint64_t now_ns);
void i8254_port_b_write(struct i8254 *pit, uint8_t val, uint64_t now_ns);

/*
 * i8254_set_gate - drive GATE of counter @ch (0..2) to @level at @now_ns (GATE2 is normally
 * driven through port 0x61). Returns 0 or -EINVAL (bad @ch).
 */
int i8254_set_gate(struct i8254 *pit, unsigned ch, bool level, uint64_t now_ns);

/*
 * For tests and the machine: the current count of counter @ch as the counting element holds it
 * (binary value 0..65535; in BCD mode the BCD-encoded value), and the level of its OUT pin, at
 * @now_ns; neither changes any state (no latch, no byte pointer). @ch > 2 gives 0 / false.
 */
uint16_t i8254_get_count(struct i8254 *pit, unsigned ch, uint64_t now_ns);
bool i8254_get_out(struct i8254 *pit, unsigned ch, uint64_t now_ns);

/*
 * i8254_next_irq_ns - CLOCK_MONOTONIC time of the next rising edge of OUT0 after @now_ns
 * (what cfg.arm is given), UINT64_MAX if none is coming.
 */
uint64_t i8254_next_irq_ns(struct i8254 *pit, uint64_t now_ns);

/*
 * i8254_timer - the deadline given to cfg.arm has passed (@now_ns >= it): delivers the IRQ0
 * edge(s) up to @now_ns and arms the next one. A call at any other time is harmless.
 */
void i8254_timer(struct i8254 *pit, uint64_t now_ns);

struct i8254_stats {
	uint64_t nr_reads, nr_writes;	/* port accesses (bytes), ports 0x40-0x43 and 0x61 */
	uint64_t nr_irqs;		/* IRQ0 0 -> 1 transitions delivered */
	uint64_t nr_late;		/* deliveries that merged 2+ OUT0 rising edges (late timer) */
	uint64_t nr_timer_calls;	/* i8254_timer calls */
};
void i8254_get_stats(struct i8254 *pit, struct i8254_stats *st);
void i8254_print_stats(struct i8254 *pit, FILE *f);

#endif
