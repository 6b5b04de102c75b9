/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables describing the PC machine to the guest (src/boot/acpi.c). Specification: ACPI 6.0
 * (tables: 5.2; AML: 19-20; resource descriptors: 6.4).
 *
 * acpi_build writes, inside [LAYOUT_ACPI_START, LAYOUT_ACPI_END) of guest RAM:
 *   RSDP (revision 2, at LAYOUT_ACPI_START, 16-byte aligned: the OS finds it by the BIOS-area
 *         scan of 5.2.5.1 as well as through boot_params.acpi_rsdp_addr)
 *   RSDT and XSDT, each listing FACP and APIC
 *   FACS (64-byte aligned; required because the FADT is not HW_REDUCED)
 *   FADT "FACP" revision 6 (276 bytes): PM1a event/control and PM timer blocks at
 *         LAYOUT_ACPI_PM_*, SCI_INT 9, SMI_CMD 0 (the machine starts in ACPI mode), RESET_REG =
 *         I/O port 0xcf9 value 6, flags WBINVD | PROC_C1 | SLP_BUTTON | FIX_RTC | TMR_VAL_EXT |
 *         RESET_REG_SUP, IAPC_BOOT_ARCH LEGACY_DEVICES | 8042, C2/C3 declared unsupported,
 *         CENTURY = CMOS 0x32, X_DSDT and the X_ GAS blocks filled.
 *   MADT "APIC" revision 4: LAPIC address LAYOUT_LAPIC_BASE, PCAT_COMPAT; one Processor Local
 *         APIC entry per vCPU (UID = APIC id = index, enabled); the IOAPIC (id LAYOUT_IOAPIC_ID,
 *         LAYOUT_IOAPIC_BASE, GSI base 0); interrupt source overrides ISA IRQ 0 -> GSI 2 (edge,
 *         active high) and IRQ 9 -> GSI 9 (the SCI: level, active high); Local APIC NMI on LINT1
 *         of all processors (UID 0xff, edge, active high).
 *   DSDT revision 2 (64-bit integers), AML: \_S5 = Package {5, 5, 0, 0} (SLP_TYP for soft off,
 *         ACPI_PM_SLP_TYP_S5), \_SB.PCI0 (PNP0A03 host bridge, _UID 0, _BBN 0, _CRS with bus
 *         0-255, config ports 0xcf8-0xcff, I/O 0-0xcf7 and 0xd00-0xffff, memory 0xa0000-0xbffff
 *         and the PCI hole below the IOAPIC, and _PRT routing device D pin P to GSI
 *         LAYOUT_PCI_INTX_GSI_BASE + (D + P) % LAYOUT_PCI_INTX_NR_GSI = 16 + (D + P) % 4, the
 *         PCI host bridge's PIRQ swizzle).
 * Every table's checksum makes its bytes sum to 0 (the RSDP has two: first 20 bytes, all 36).
 */
#ifndef OMNIVISOR_ACPI_H
#define OMNIVISOR_ACPI_H

#include <stdint.h>

#include "omnivisor/boot.h"

#define ACPI_MAX_CPUS 255 /* xAPIC ids 0..254 in Processor Local APIC entries (5.2.12.2) */

/* The value the DSDT's \_S5 gives as SLP_TYPa (PM1_CNT bits 12:10) for soft off. */
#define ACPI_SLP_TYP_S5 5

/* OEM fields of every table header */
#define ACPI_OEM_ID "OMNIVR"
#define ACPI_OEM_TABLE_ID "OMNIVISR"
#define ACPI_CREATOR_ID "OMNV"

struct acpi_config {
	unsigned nr_cpus; /* 1..ACPI_MAX_CPUS: LAPIC ids and processor UIDs 0..nr_cpus - 1 */
};

/*
 * acpi_build - write all tables into @ram's ACPI area (which must be inside RAM: RAM >= 1 MiB)
 * and store the RSDP's guest-physical address in *@rsdp_gpa.
 * Returns 0, -EINVAL (nr_cpus out of range, RAM too small), -ENOSPC (tables do not fit the
 * area: cannot happen for <= ACPI_MAX_CPUS).
 */
int acpi_build(const struct guest_ram *ram, const struct acpi_config *cfg, uint64_t *rsdp_gpa);

/* acpi_checksum - the byte that makes @len bytes at @p sum to 0 mod 256 (with it in place, 0). */
uint8_t acpi_checksum(const void *p, uint64_t len);

#endif
