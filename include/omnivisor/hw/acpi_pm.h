/* SPDX-License-Identifier: MIT */
/*
 * ACPI fixed-hardware power-management registers (ACPI 6.0 4.8 "ACPI Hardware Features":
 * 4.8.3.1 PM1 event registers, 4.8.3.2 PM1 control registers, 4.8.3.3 power management timer)
 * and the chipset's reset control register (Intel ICH9 datasheet 13.7.5 RST_CNT, port 0xcf9;
 * PIIX4 "RC" register), described to the guest by the FADT of src/boot/acpi.c.
 *
 * One 12-byte I/O block (at LAYOUT_ACPI_PM_BASE = 0x600 in the machine):
 *   +0  PM1_STS  16 bits, write 1 to clear. Implemented: TMR_STS (0), GBL_STS (5, never set:
 *                no BIOS), PWRBTN_STS (8), RTC_STS (10, never set: FADT FIX_RTC), WAK_STS (15,
 *                never set: no sleep state is entered). Other bits read 0.
 *   +2  PM1_EN   16 bits read/write: TMR_EN (0), GBL_EN (5), PWRBTN_EN (8), RTC_EN (10); other
 *                bits read 0.
 *   +4  PM1_CNT  16 bits: SCI_EN (0, 1 at reset: the machine starts in ACPI mode, FADT SMI_CMD
 *                is 0), BM_RLD (1) read/write, GBL_RLS (2) write-only (no BIOS: ignored),
 *                SLP_TYP (12:10) read/write, SLP_EN (13) write-only, reads 0. Writing SLP_EN = 1
 *                with SLP_TYP = ACPI_SLP_TYP_S5 (the DSDT's \_S5) calls cfg.poweroff; other
 *                sleep types are not supported (the DSDT declares none) and are ignored.
 *   +6  (2 bytes between PM1_CNT and PM_TMR) read 0xff, writes ignored, as unassigned ports.
 *   +8  PM_TMR   32 bits read-only (FADT TMR_VAL_EXT): ticks of a 3.579545 MHz clock since
 *                creation or acpi_pm_reset, modulo 2^32. TMR_STS is set whenever bit 31 of the
 *                counter changes (every 2^31 ticks, about 600 s).
 * SCI (cfg.sci, level, 1 = asserted) = SCI_EN && (PM1_STS & PM1_EN & {TMR, GBL, PWRBTN, RTC}).
 * Any access size at any offset works: a 1-byte read of PM_TMR gives one byte of the current
 * count, a write covering several registers updates each with the bytes it covers.
 *
 * RST_CNT (1 byte, own port, LAYOUT_RESET_CTL_PORT 0xcf9): bits 1 (SYS_RST) and 3 (FULL_RST)
 * read/write; writing bit 2 (RST_CPU) = 1 calls cfg.reset (the register reads bit 2 as 0, so
 * every write with it set is the 0 -> 1 transition the ICH acts on); other bits read 0.
 *
 * Time: the device never reads a clock. Bus callbacks take the time from cfg.clock_ns; the
 * plain functions take now_ns. When TMR_EN is set the device asks for a callback at the next
 * TMR_STS event through cfg.arm (UINT64_MAX cancels) and the machine calls acpi_pm_timer then.
 *
 * Thread-safety: every entry point takes the device's mutex. cfg.sci is called with it held;
 * cfg.poweroff and cfg.reset are called after it is released (they may call acpi_pm_reset).
 */
#ifndef OMNIVISOR_HW_ACPI_PM_H
#define OMNIVISOR_HW_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omnivisor/irq.h"

struct bus;
struct bus_dev;
struct acpi_pm;

#define ACPI_PM_LEN 12
#define ACPI_PM_TIMER_HZ 3579545ull

/* register offsets in the block */
#define ACPI_PM1_STS 0x0
#define ACPI_PM1_EN 0x2
#define ACPI_PM1_CNT 0x4
#define ACPI_PM_TMR 0x8

/* PM1_STS / PM1_EN bits (ACPI 6.0 Tables 4-16, 4-17) */
#define ACPI_PM1_TMR (1u << 0)
#define ACPI_PM1_BM_STS (1u << 4)
#define ACPI_PM1_GBL (1u << 5)
#define ACPI_PM1_PWRBTN (1u << 8)
#define ACPI_PM1_SLPBTN (1u << 9)
#define ACPI_PM1_RTC (1u << 10)
#define ACPI_PM1_WAK_STS (1u << 15)
/* PM1_CNT bits (Table 4-18) */
#define ACPI_PM1_SCI_EN (1u << 0)
#define ACPI_PM1_BM_RLD (1u << 1)
#define ACPI_PM1_GBL_RLS (1u << 2)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP (7u << 10)
#define ACPI_PM1_SLP_EN (1u << 13)
/* RST_CNT bits (ICH9 13.7.5) */
#define ACPI_RST_SYS_RST (1u << 1)
#define ACPI_RST_CPU (1u << 2)
#define ACPI_RST_FULL_RST (1u << 3)

struct acpi_pm_config {
	struct irq_line sci;		     /* the SCI (ISA IRQ 9 / GSI 9, level); zeroed: none */
	uint64_t (*clock_ns)(void *opaque);  /* CLOCK_MONOTONIC ns for bus accesses; required */
	void *clock_opaque;
	void (*arm)(void *opaque, uint64_t deadline_ns); /* NULL: TMR_STS only seen when read */
	void *arm_opaque;
	void (*poweroff)(void *opaque); /* guest entered S5 (soft off); NULL: ignored */
	void *poweroff_opaque;
	void (*reset)(void *opaque);	/* guest asked for a system reset; NULL: ignored */
	void *reset_opaque;
	/* @sleep_type for S5 in PM1_CNT.SLP_TYP; 0 means ACPI_SLP_TYP_S5 (5), as the DSDT says */
	unsigned s5_sleep_type;
};

/*
 * acpi_pm_create - the device in its power-on state at time cfg->clock_ns() (the PM timer
 * counts from 0 there). @cfg is copied. NULL with errno EINVAL (no clock_ns) or ENOMEM.
 */
struct acpi_pm *acpi_pm_create(const struct acpi_pm_config *cfg);
/* acpi_pm_destroy - free; the caller has stopped the timer that calls acpi_pm_timer. NULL ok. */
void acpi_pm_destroy(struct acpi_pm *pm);
/*
 * acpi_pm_reset - power-on state at @now_ns: PM1_STS 0, PM1_EN 0, PM1_CNT SCI_EN, RST_CNT 0,
 * the timer restarts from 0; the SCI is lowered and the armed callback cancelled.
 */
void acpi_pm_reset(struct acpi_pm *pm, uint64_t now_ns);

/*
 * acpi_pm_read / acpi_pm_write - an access of @len bytes (1..4) at @offset in the 12-byte block
 * at time @now_ns; bytes outside the block read 0xff and are not written. @value holds the bytes
 * in little-endian order (byte at @offset in bits 7:0).
 */
uint32_t acpi_pm_read(struct acpi_pm *pm, unsigned offset, unsigned len, uint64_t now_ns);
void acpi_pm_write(struct acpi_pm *pm, unsigned offset, unsigned len, uint32_t value,
		   uint64_t now_ns);

/* acpi_pm_timer_value - the PM_TMR count at @now_ns (what a 4-byte read at +8 returns). */
uint32_t acpi_pm_timer_value(struct acpi_pm *pm, uint64_t now_ns);

/* acpi_pm_timer - the armed deadline passed: latch TMR_STS events up to @now_ns, update the
 * SCI, arm the next one. Harmless at any time. */
void acpi_pm_timer(struct acpi_pm *pm, uint64_t now_ns);

/* acpi_pm_power_button - the power button was pressed (e.g. host asks for a clean shutdown):
 * sets PWRBTN_STS; the SCI follows PWRBTN_EN. */
void acpi_pm_power_button(struct acpi_pm *pm, uint64_t now_ns);

/* acpi_pm_rst_cnt_read / _write - the reset control register (see above). */
uint8_t acpi_pm_rst_cnt_read(struct acpi_pm *pm);
void acpi_pm_rst_cnt_write(struct acpi_pm *pm, uint8_t value);

/*
 * acpi_pm_register - claim the 12-byte PM block at I/O port @base on @bus. Returns
 * bus_register's result (0, -EBUSY, ...).
 */
int acpi_pm_register(struct acpi_pm *pm, struct bus *bus, uint16_t base, struct bus_dev **devp);
/*
 * acpi_pm_register_reset - claim the 1-byte RST_CNT port @port (0xcf9), for a machine without
 * the PCI host bridge. 0xcf9 lies inside CONFIG_ADDRESS (0xcf8-0xcfb), which the PCI host
 * bridge registers and whose byte at 0xcf9 it decodes itself as the reset control register
 * (include/omnivisor/hw/pci.h, cfg.reset): with it, this returns -EBUSY and is not needed.
 */
int acpi_pm_register_reset(struct acpi_pm *pm, struct bus *bus, uint16_t port,
			   struct bus_dev **devp);

/* Counters */
struct acpi_pm_stats {
	uint64_t nr_reads, nr_writes;
	uint64_t nr_sci;	/* SCI rising edges */
	uint64_t nr_poweroff;	/* S5 requests */
	uint64_t nr_reset;	/* RST_CPU writes */
	uint64_t nr_bad_sleep;	/* SLP_EN with an unsupported SLP_TYP */
};
void acpi_pm_get_stats(struct acpi_pm *pm, struct acpi_pm_stats *st);
void acpi_pm_print_stats(struct acpi_pm *pm, FILE *f);

#endif
