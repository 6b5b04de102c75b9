/* SPDX-License-Identifier: MIT */
/*
 * CMOS real-time clock: Motorola MC146818A (datasheet sections below are its "Address map",
 * "Time, calendar and alarm locations", "Registers A-D", "Interrupts", "Update cycle").
 * Two ports at a base (0x70 index, 0x71 data), 128 bytes of CMOS (14 clock bytes + 114 of RAM).
 *
 *   0x70 write  bit 7: NMI disable (the PC's NMI mask, remembered: rtc_nmi_disabled);
 *               bits 6..0: the index. Reads 0xff (write-only on a PC; QEMU reads 0xff too).
 *   0x71        the byte at the index.
 *
 * Time: the clock counts from the host's date and time, read once at creation with
 * cfg.host_time_ns (Unix time, ns; UTC, as QEMU's default base=utc), and then advances with
 * CLOCK_MONOTONIC (cfg.clock_ns), so a host clock step does not move the guest's clock.
 * Registers 0-9 and the century byte 0x32 are the guest time in BCD or binary (register B DM)
 * and 12- or 24-hour format (register B 24/12; in 12-hour mode bit 7 of the hours is PM).
 * A guest write to a time byte while the clock runs moves the guest time (an offset from the
 * host); with register B SET = 1 (or the divider in reset, register A DV = 11x) the clock is
 * halted, the time bytes are plain storage, and clearing SET starts the clock from them with the
 * next update one second later (half a second after leaving divider reset).
 *
 * Register A: UIP (bit 7, read-only) is 1 during the 244 us before each update (the update is
 * instantaneous here, so reads never see a half-updated time); DV and RS are read/write. The
 * clock runs only with DV = 010 (32.768 kHz time base). Register B: read/write; setting SET
 * clears UIE (datasheet, register B). Register C: IRQF, PF, AF, UF, cleared by reading.
 * Register D: 0x80 (VRT; valid RAM and time), read-only.
 *
 * Interrupts on cfg.irq (IRQ8): level 1 while IRQF = PF.PIE + AF.AIE + UF.UIE, until register C
 * is read. PF is set at the rate RS selects (RS 1-2 as 8-9; 3-15: 2^(RS-1) / 32768 s), UF at
 * each update, AF at an update where seconds, minutes and hours match the alarm bytes (a byte
 * with bits 7..6 = 11 matches anything). The flags are computed from time whenever the device
 * is accessed; the device requests a callback (cfg.arm) only for the next event whose interrupt
 * is enabled, and the machine calls rtc_timer then.
 *
 * Not emulated: daylight-saving (DSE is stored), the square-wave pin (SQWE), day of week as an
 * independent counter (it is derived from the date; writes are ignored), invalid BCD digits
 * (they are decoded as tens * 10 + units and the date normalised, where the chip would count
 * on from the bad value), and the second 128-byte bank (ports 0x72/0x73).
 *
 * Thread-safety: every function takes the RTC's mutex. The IRQ line is called with it held.
 */
#ifndef OMNIVISOR_HW_RTC_H
#define OMNIVISOR_HW_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/irq.h"

struct bus;
struct bus_dev;
struct rtc;

#define RTC_BASE 0x70
#define RTC_IRQ 8
#define RTC_CMOS_SIZE 128

/* CMOS indexes */
enum {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32, /* PC convention (ACPI FADT CENTURY points here) */
};

struct rtc_config {
	struct irq_line irq;			/* IRQ8; zeroed: not connected */
	uint64_t (*clock_ns)(void *opaque);	/* CLOCK_MONOTONIC ns; NULL: always 0 */
	void *clock_opaque;
	int64_t (*host_time_ns)(void *opaque);	/* Unix time ns at creation; NULL: 2000-01-01 */
	void *host_time_opaque;
	void (*arm)(void *opaque, uint64_t deadline_ns); /* UINT64_MAX: cancel; NULL: no timer */
	void *arm_opaque;
};

/*
 * rtc_create - an RTC with register A = 0x26 (DV 010, 1024 Hz), B = 0x02 (24-hour, BCD, no
 * interrupts), C = 0, D = 0x80, RAM zeroed, the time from cfg.host_time_ns. @cfg is copied.
 * Returns NULL (errno ENOMEM) on failure.
 */
struct rtc *rtc_create(const struct rtc_config *cfg);
void rtc_destroy(struct rtc *rtc); /* NULL is a no-op */

/* rtc_reset - the RESET pin (a machine reset; the clock and RAM are battery-backed and kept):
 * clears PIE, AIE, UIE and SQWE in register B and IRQF, PF, AF, UF in register C, IRQ8 low. */
void rtc_reset(struct rtc *rtc);

/* rtc_register - claim ports [@base, @base + 2) (normally RTC_BASE). Returns 0 or
 * bus_register's negative errno. 2- and 4-byte accesses act as byte accesses. */
int rtc_register(struct rtc *rtc, struct bus *bus, uint16_t base, struct bus_dev **devp);

/* The ports (@offset 0 = index, 1 = data; others read 0xff, writes ignored). @now_ns is
 * CLOCK_MONOTONIC. */
uint8_t rtc_io_read(struct rtc *rtc, unsigned offset, uint64_t now_ns);
void rtc_io_write(struct rtc *rtc, unsigned offset, uint8_t val, uint64_t now_ns);

/* The CMOS byte at @index (0..127; bit 7 ignored), with the side effects of a guest access. */
uint8_t rtc_cmos_read(struct rtc *rtc, uint8_t index, uint64_t now_ns);
void rtc_cmos_write(struct rtc *rtc, uint8_t index, uint8_t val, uint64_t now_ns);

/*
 * rtc_set_mem_size - the BIOS memory-size bytes (as SeaBIOS/QEMU expect them):
 *   0x15-0x16  base memory in KiB (min(below, 640 KiB))
 *   0x17-0x18 and 0x30-0x31  KiB above 1 MiB (below 4 GiB), at most 0xffff
 *   0x34-0x35  64 KiB blocks above 16 MiB (below 4 GiB), at most 0xffff
 *   0x5b-0x5d  64 KiB blocks above 4 GiB
 * @below_4g_bytes, @above_4g_bytes: guest RAM below and above 4 GiB, in bytes.
 */
void rtc_set_mem_size(struct rtc *rtc, uint64_t below_4g_bytes, uint64_t above_4g_bytes);

/* rtc_timer - the deadline requested through cfg.arm has passed. Harmless at any time. */
void rtc_timer(struct rtc *rtc, uint64_t now_ns);

/* rtc_nmi_disabled - bit 7 of the last index write (the PC's NMI mask). */
bool rtc_nmi_disabled(struct rtc *rtc);

/* rtc_irq_level - the IRQ8 output (0 or 1), for tests. */
int rtc_irq_level(struct rtc *rtc);

struct rtc_stats {
	uint64_t nr_reads, nr_writes; /* port accesses (bytes) */
	uint64_t nr_irqs;	      /* 0 -> 1 transitions of IRQ8 */
	uint64_t nr_time_sets;	      /* guest changes of the time */
};
void rtc_get_stats(struct rtc *rtc, struct rtc_stats *st);
void rtc_print_stats(struct rtc *rtc, FILE *f);

#endif
