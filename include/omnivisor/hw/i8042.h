/* SPDX-License-Identifier: MIT */
/*
 * i8042 keyboard controller with a PS/2 keyboard on which no key is ever pressed, and an AUX
 * (mouse) port with nothing attached. Enough for Linux's i8042 and atkbd drivers to probe
 * quietly, and the PC's reset line. Behaviour from the IBM PC AT Technical Reference (8042
 * "Keyboard controller" commands, status and command byte) and the IBM PS/2 Keyboard and
 * Auxiliary Device Controller reference; keyboard commands from the IBM PS/2 keyboard
 * reference ("Commands to the keyboard").
 *
 *   0x60 read   output buffer (stale value when empty, as the latch keeps it)
 *   0x60 write  data: the parameter of a pending controller command, else a keyboard command
 *   0x64 read   status: OBF(0) IBF(1, always 0: commands complete at once) SYS(2, command byte
 *               bit 2) A2(3: last write was to 0x64) INH(4, 1: not inhibited) AUXB(5: the
 *               output buffer holds AUX data) TIMEOUT(6) PARITY(7, always 0)
 *   0x64 write  controller command
 *
 * Controller commands: 0x20-0x3f read RAM (0x20: command byte), 0x60-0x7f write RAM (0x60:
 * command byte), 0xa4 (no password: 0xf1), 0xa7/0xa8 disable/enable AUX, 0xa9 AUX interface test
 * (0x00), 0xaa self test (0x55), 0xab keyboard interface test (0x00), 0xad/0xae disable/enable
 * keyboard, 0xd0/0xd1 read/write output port, 0xd2/0xd3 write keyboard/AUX output buffer (the
 * byte comes back as if from that device: Linux's AUX loop test), 0xd4 write to the AUX device
 * (nothing attached: 0xfe comes back with TIMEOUT, as a controller whose device does not
 * answer), 0xdd/0xdf A20 off/on, 0xe0 read test inputs (0x00), 0xf0-0xff pulse output port
 * bits 3..0 low for each 0 bit: bit 0 is the CPU reset line. Other commands are ignored.
 *
 * Keyboard commands: 0xff reset (0xfa, 0xaa), 0xfe resend, 0xf6 defaults, 0xf5 disable, 0xf4
 * enable, 0xf3 typematic + parameter, 0xf2 identify (0xfa 0xab 0x83, or 0xab 0x41 when the
 * command byte's XLATE bit is set, as QEMU), 0xf0 scan code set + parameter (0: report),
 * 0xee echo, 0xed LEDs + parameter, 0xf7-0xfd (set 3 key types) acknowledged, others 0xfe.
 * Responses wait in the keyboard's buffer while the keyboard interface is disabled.
 *
 * Interrupts: kbd_irq (IRQ1) is 1 while the output buffer holds keyboard or controller data and
 * command-byte bit 0 is set; aux_irq (IRQ12) while it holds AUX data and bit 1 is set. When a
 * read empties the buffer and another byte is waiting, the line drops before the next byte is
 * loaded, so an edge-triggered PIC sees a new edge.
 *
 * Reset: a 0 written to output port bit 0 (0xd1) or pulsed on it (0xf0-0xfe with bit 0 clear)
 * calls cfg.reset(cfg.reset_opaque), after the controller's lock is released (the callback may
 * call i8042_reset). The A20 gate (output port bit 1) is recorded, not applied (i8042_a20).
 *
 * Not emulated: key presses (there is no input backend), a mouse, scan-code translation
 * (nothing is ever scanned), the input port (0xc0), passwords, the keyboard's typematic repeat.
 *
 * Thread-safety: every function takes the controller's mutex; IRQ lines are called with it held.
 */
#ifndef OMNIVISOR_HW_I8042_H
#define OMNIVISOR_HW_I8042_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/irq.h"

struct bus;
struct bus_dev;
struct i8042;

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

struct i8042_config {
	struct irq_line kbd_irq; /* IRQ1; zeroed: not connected */
	struct irq_line aux_irq; /* IRQ12 */
	void (*reset)(void *opaque); /* CPU reset request; NULL: ignored */
	void *reset_opaque;
};

/*
 * i8042_create - a controller as a BIOS leaves it: command byte 0x65 (XLATE, AUX disabled, SYS,
 * keyboard interrupt), status 0x1c (SYS, A2, not inhibited), output port 0xcf (reset line high,
 * A20 on), keyboard enabled with scan code set 2, output buffer empty. @cfg is copied.
 * Returns NULL (errno ENOMEM) on failure.
 */
struct i8042 *i8042_create(const struct i8042_config *cfg);
void i8042_destroy(struct i8042 *kbc); /* NULL is a no-op */

/* i8042_reset - back to the state of i8042_create (machine reset); lowers both lines. */
void i8042_reset(struct i8042 *kbc);

/* i8042_register - claim ports 0x60 and 0x64 (one byte each; a wider access is split by the
 * bus). Returns 0 or bus_register's negative errno (then nothing stays registered). */
int i8042_register(struct i8042 *kbc, struct bus *bus, struct bus_dev **data_devp,
		   struct bus_dev **cmd_devp);

/* The two ports, as the bus callbacks use them. */
uint8_t i8042_read_data(struct i8042 *kbc);
uint8_t i8042_read_status(struct i8042 *kbc);
void i8042_write_data(struct i8042 *kbc, uint8_t val);
void i8042_write_command(struct i8042 *kbc, uint8_t val);

/* i8042_a20 - the A20 gate as output port bit 1 last set it. */
bool i8042_a20(struct i8042 *kbc);

struct i8042_stats {
	uint64_t nr_reads, nr_writes;	  /* port accesses (bytes) */
	uint64_t nr_kbd_irqs, nr_aux_irqs; /* 0 -> 1 transitions */
	uint64_t nr_resets;		  /* reset requests */
};
void i8042_get_stats(struct i8042 *kbc, struct i8042_stats *st);
void i8042_print_stats(struct i8042 *kbc, FILE *f);

#endif
