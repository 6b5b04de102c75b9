/* SPDX-License-Identifier: MIT */
/*
 * Port 0x80, the POST-code / I/O-delay port. Linux writes it as a short delay (outb_p,
 * io_delay); firmware writes progress codes to it.
 *
 * Writes are counted and the last byte is kept (port80_last_code, printed with the counters).
 * Reads return the last byte written (0x00 before any write): on the PC the port is a byte of
 * the DMA page register file (0x80-0x8f: the 74LS612 of the AT, the "reserved page" registers of
 * Intel's ICH/PCH LPC bridge), which reads back what was written. QEMU instead reads 0xff
 * there; nothing depends on either.
 *
 * One port; a wider access is split by the bus (0x81.. belong to the DMA page registers, not
 * emulated here). Thread-safety: every function takes the device's mutex.
 */
#ifndef OMNIVISOR_HW_PORT80_H
#define OMNIVISOR_HW_PORT80_H

#include <stdint.h>
#include <stdio.h>

struct bus;
struct bus_dev;
struct port80;

#define PORT80_PORT 0x80

/* port80_create - NULL (errno ENOMEM) on failure. port80_destroy(NULL) is a no-op. */
struct port80 *port80_create(void);
void port80_destroy(struct port80 *p);

/* port80_register - claim port 0x80. Returns 0 or bus_register's negative errno. */
int port80_register(struct port80 *p, struct bus *bus, struct bus_dev **devp);

uint8_t port80_read(struct port80 *p);
void port80_write(struct port80 *p, uint8_t val);

/* port80_last_code - the last byte written (0x00 if none). */
uint8_t port80_last_code(struct port80 *p);

struct port80_stats {
	uint64_t nr_reads, nr_writes;
	uint8_t last_code;
};
void port80_get_stats(struct port80 *p, struct port80_stats *st);
void port80_print_stats(struct port80 *p, FILE *f);

#endif
