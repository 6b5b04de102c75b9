/* SPDX-License-Identifier: MIT */
/*
 * Constants shared by the boot stub (boot.S) and the C side of the guest test kernels.
 * Architectural values cite the Intel SDM (Vol. 3A unless said otherwise).
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* Multiboot v1 header (spec 0.6.96 3.1.1): magic, flags bit 16 = address fields valid. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010000

/* GDT selectors (boot.S). SYSCALL/SYSRET need KDATA = KCODE + 8 and, from the SYSRET base
 * 0x20: SS = 0x28 | 3, CS = 0x30 | 3 (SDM Vol. 2B SYSRET; Vol. 3A 5.8.8). */
#define SEL_CODE32 0x08
#define SEL_KCODE 0x10
#define SEL_KDATA 0x18
#define SEL_UCODE32 0x23
#define SEL_UDATA 0x2b
#define SEL_UCODE 0x33
#define SEL_FSDATA 0x38
#define SEL_TSS 0x40

/* Paging-structure entry bits (4.5, Tables 4-14 to 4-20) */
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_A 0x20
#define PTE_D 0x40
#define PTE_PS 0x80
#define PTE_G 0x100

/* Control registers (2.5) and EFER (2.2.1) */
#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_EM 0x4
#define CR0_TS 0x8
#define CR0_ET 0x10
#define CR0_NE 0x20
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define CR4_PGE 0x80
#define CR4_OSFXSR 0x200
#define CR4_OSXMMEXCPT 0x400
#define MSR_EFER 0xC0000080
#define EFER_SCE 0x1
#define EFER_LME 0x100
#define EFER_LMA 0x400
#define EFER_NXE 0x800

/* Ports: debugcon output and isa-debug-exit (QEMU and omnivisor --debug-exit) */
#define PORT_DEBUGCON 0xE9
#define PORT_EXIT 0xF4

/* Values written to PORT_EXIT (the VMM exits with status (V << 1) | 1) */
#define EXIT_OK 0
#define EXIT_UNEXPECTED 0x20
#define EXIT_RETURNED 0x21

#endif
