/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical memory map of the PC machine (convention 11): every guest-physical
 * constant the boot code, the ACPI tables and the machine file share lives here.
 *
 *   0x00000000  real-mode IVT / BDA (left zero; Linux reserves the first 1 MiB anyway)
 *   0x00000500  boot GDT (4 descriptors: null, null, __BOOT_CS 0x10, __BOOT_DS 0x18)
 *   0x00007000  boot_params, the "zero page" (4 KiB)
 *   0x00008000  boot stack (grows down from 0x8ff0)
 *   0x00009000  boot page tables: PML4, one PDPT, four PDs of 2 MiB pages = identity map 0-4 GiB
 *   0x00020000  kernel command line (up to 64 KiB; the kernel's cmdline_size limits it further)
 *   0x0009fc00  EBDA (1 KiB) \
 *   0x000a0000  VGA hole      } reserved in the e820 map
 *   0x000e0000  ACPI tables   } (RSDP first, 16-byte aligned: found by the BIOS-area scan too)
 *   0x000fffff               /
 *   0x00100000  high memory: the protected-mode kernel at its pref_address (Debian: 16 MiB),
 *               the initrd as high as it fits below min(initrd_addr_max, RAM end)
 *   0xc0000000  PCI hole (32-bit MMIO: PCI BARs, IOAPIC, LAPIC, ...) up to 4 GiB. RAM is at
 *               most PCI_HOLE_START bytes: memory above 4 GiB is not supported yet.
 *   0xfec00000  IOAPIC
 *   0xfee00000  local APICs
 *
 * The same layout as Firecracker's arch/x86_64/layout.rs and kvmtool's x86 boot code where
 * they agree (zero page at 0x7000, command line at 0x20000, EBDA at 0x9fc00, PCI hole at
 * 3 GiB), so their well-trodden choices carry over.
 */
#ifndef OMNIVISOR_BOOT_LAYOUT_H
#define OMNIVISOR_BOOT_LAYOUT_H

/* RAM starts at guest-physical 0 and is one contiguous block below the PCI hole. */
#define LAYOUT_RAM_START 0x0ULL

/* Boot GDT: Documentation/arch/x86/boot.rst "64-bit BOOT PROTOCOL" wants __BOOT_CS (0x10) and
 * __BOOT_DS (0x18): entries 2 and 3. */
#define LAYOUT_BOOT_GDT 0x500ULL
#define LAYOUT_BOOT_GDT_ENTRIES 4
/* struct boot_params (arch/x86/include/uapi/asm/bootparam.h), 4 KiB */
#define LAYOUT_BOOT_PARAMS 0x7000ULL
#define LAYOUT_BOOT_PARAMS_SIZE 0x1000ULL
/* Initial RSP (16-byte aligned, inside [0x8000, 0x9000)) */
#define LAYOUT_BOOT_STACK_TOP 0x8ff0ULL
/* Identity-mapping page tables: PML4, PDPT, then 4 PDs (2 MiB pages) mapping 0 - 4 GiB */
#define LAYOUT_BOOT_PML4 0x9000ULL
#define LAYOUT_BOOT_PDPT 0xa000ULL
#define LAYOUT_BOOT_PD 0xb000ULL /* 4 pages: 0xb000 - 0xefff */
#define LAYOUT_BOOT_PD_COUNT 4
#define LAYOUT_BOOT_PGTABLE_END 0xf000ULL
/* Kernel command line, NUL-terminated */
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL /* bytes including the NUL */

/* Extended BIOS data area and the legacy BIOS/VGA region up to 1 MiB: reserved in e820 */
#define LAYOUT_EBDA 0x9fc00ULL
#define LAYOUT_LOW_RAM_END LAYOUT_EBDA /* usable low memory: [0, 0x9fc00) */
#define LAYOUT_BIOS_END 0x100000ULL
/* ACPI tables (RSDP first): ACPI 6.x 5.2.5.1 has the OS search 0xe0000-0xfffff for the RSDP */
#define LAYOUT_ACPI_START 0xe0000ULL
#define LAYOUT_ACPI_END 0x100000ULL

/* Start of high memory: where boot protocol < 2.10 kernels are loaded */
#define LAYOUT_HIMEM_START 0x100000ULL

/* 32-bit MMIO hole: RAM never reaches it (memory above 4 GiB is not supported yet) */
#define LAYOUT_PCI_HOLE_START 0xc0000000ULL
#define LAYOUT_PCI_HOLE_END 0x100000000ULL
/* Where the PCI host bridge may place 32-bit memory BARs (the DSDT's _CRS window): the hole
 * below the IOAPIC */
#define LAYOUT_PCI_MMIO_START LAYOUT_PCI_HOLE_START
#define LAYOUT_PCI_MMIO_END 0xfec00000ULL /* exclusive */

/* Interrupt controllers (Intel 82093AA IOAPIC datasheet; SDM Vol. 3A 10.4.1) */
#define LAYOUT_IOAPIC_BASE 0xfec00000ULL
#define LAYOUT_IOAPIC_SIZE 0x1000ULL
/* IOAPIC ids only need to be unique among IOAPICs on xAPIC systems (LAPIC version >= 0x14,
 * Linux io_apic_unique_id): 0, as QEMU uses, next to LAPIC ids 0..n-1 */
#define LAYOUT_IOAPIC_ID 0
#define LAYOUT_IOAPIC_NR_PINS 24
#define LAYOUT_LAPIC_BASE 0xfee00000ULL
#define LAYOUT_LAPIC_SIZE 0x1000ULL

/* ACPI PM register block (PIIX4-style, as QEMU's PIIX4/ICH9 put it at 0x600) */
#define LAYOUT_ACPI_PM_BASE 0x600
#define LAYOUT_ACPI_PM1A_EVT (LAYOUT_ACPI_PM_BASE + 0x0) /* PM1_STS (2) + PM1_EN (2) */
#define LAYOUT_ACPI_PM1A_CNT (LAYOUT_ACPI_PM_BASE + 0x4) /* PM1_CNT (2) */
#define LAYOUT_ACPI_PM_TMR (LAYOUT_ACPI_PM_BASE + 0x8)   /* PM_TMR (4) */
#define LAYOUT_ACPI_PM_LEN 0xc
/* Reset Control Register (PIIX4 / ICH "RST_CNT"), the FADT's RESET_REG; value 0x06 = hard
 * reset. It is inside the PCI CONFIG_ADDRESS dword 0xcf8-0xcfb: the PCI host bridge decodes
 * byte accesses to it (include/omnivisor/hw/pci.h); see docs/boot.md. */
#define LAYOUT_RESET_CTL_PORT 0xcf9
#define LAYOUT_RESET_VALUE 0x06
/* The SCI: ISA IRQ 9, identity-mapped to GSI 9, level-triggered active-high (MADT override) */
#define LAYOUT_ACPI_SCI_IRQ 9

/* PCI INTx routing the DSDT's _PRT describes (bus 0): device D, pin P (0 = INTA) goes to
 * GSI LAYOUT_PCI_INTX_GSI_BASE + (D + P) % LAYOUT_PCI_INTX_NR_GSI, level-triggered active-low:
 * the swizzle of the PCI host bridge (include/omnivisor/hw/pci.h: PIRQ (s + p - 1) mod 4 with
 * p = 1..4, PIRQ A-D on IOAPIC pins 16-19). Both must change together. */
#define LAYOUT_PCI_INTX_GSI_BASE 16
#define LAYOUT_PCI_INTX_NR_GSI 4

#endif
