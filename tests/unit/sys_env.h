/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the system-mode instruction tests (test_sys_exc.c, test_sys_seg.c): 4 MiB of guest
 * RAM with identity-mapped user-accessible 4 KiB pages for 0..2 MiB, a GDT with kernel and user
 * code/data, 32-bit code, a not-present data segment and a 64-bit TSS, an IDT whose every gate is
 * a DPL-0 interrupt gate to a HLT at HANDLER(vector), and a vCPU in 64-bit mode at CPL 0.
 */
#ifndef OMNIVISOR_TESTS_SYS_ENV_H
#define OMNIVISOR_TESTS_SYS_ENV_H

#include "omnivisor/bus.h"
#include "omnivisor/vcpu_sys.h"
#include "cpu/sys.h"

/* GDTR.limit: an includer may define it lower to hide the last descriptors (0x3f: up to the TSS) */
#ifndef SYS_ENV_GDT_LIMIT
#define SYS_ENV_GDT_LIMIT 0x4f
#endif

#define RAM_SIZE (4u << 20)
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000 /* 0..2 MiB, 4 KiB pages, user-accessible */
#define GDT 0x5000
#define IDT 0x6000
#define TSS 0x7000
#define CODE 0x10000
#define HANDLERS 0x11000
#define HANDLER(v) (HANDLERS + (v) * 16)
#define UCODE 0x12000
#define DATA 0x20000
#define KSTACK 0x80000
#define RSP0 0x90000
#define IST1 0xa0000
#define USTACK 0x70000
#define UNMAPPED 0x300000 /* PD[1] not present */

/* GDT selectors */
#define KCODE 0x08
#define KDATA 0x10
#define UCODE32 0x18
#define UDATA 0x20
#define UCODE64 0x28
#define TSS_SEL 0x30
#define NP_DATA 0x40 /* data segment, not present */
#define KCODE32 0x48

#define FLAG_RF_BIT (1u << 16)

struct env {
	uint8_t *ram;
	struct bus *bus;
	struct vm_phys phys;
	struct vcpu cpu;
	struct vcpu_sys *sys;
};

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

static uint64_t get64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, ram + gpa, 8);
	return v;
}

/* A 16-byte IA-32e interrupt (0xE) or trap (0xF) gate (SDM Vol. 3A Figure 6-8). */
static void set_gate(struct env *e, unsigned vec, uint64_t off, uint16_t sel, unsigned type,
		     unsigned dpl, unsigned ist, bool present)
{
	uint64_t lo = (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)ist << 32) |
		      ((uint64_t)type << 40) | ((uint64_t)dpl << 45) |
		      ((uint64_t)present << 47) | ((off & 0xffff0000) << 32);
	put64(e->ram, IDT + vec * 16, lo);
	put64(e->ram, IDT + vec * 16 + 8, off >> 32);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->ram = aligned_alloc(4096, RAM_SIZE);
	memset(e->ram, 0, RAM_SIZE);
	e->bus = bus_create();
	assert_int_equal(vm_phys_init(&e->phys, e->ram, RAM_SIZE, e->bus), 0);
	e->sys = aligned_alloc(64, (sizeof(*e->sys) + 63) & ~(size_t)63);
	vcpu_sys_init(&e->cpu, e->sys, &e->phys);
	put64(e->ram, PML4, PDPT | 7);
	put64(e->ram, PDPT, PD | 7);
	put64(e->ram, PD, PT | 7);
	for (uint64_t i = 0; i < 512; i++)
		put64(e->ram, PT + 8 * i, (i << 12) | 7);
	put64(e->ram, GDT + KCODE, 0x00af9b000000ffffULL);
	put64(e->ram, GDT + KDATA, 0x00cf93000000ffffULL);
	put64(e->ram, GDT + UCODE32, 0x00cffb000000ffffULL);
	put64(e->ram, GDT + UDATA, 0x00cff3000000ffffULL);
	put64(e->ram, GDT + UCODE64, 0x00affb000000ffffULL);
	/* 64-bit TSS descriptor (SDM Vol. 3A 7.2.3): base TSS, limit 0x67, type 9, present */
	put64(e->ram, GDT + TSS_SEL, 0x67 | ((uint64_t)TSS << 16) | (0x89ULL << 40));
	put64(e->ram, GDT + TSS_SEL + 8, 0);
	put64(e->ram, GDT + NP_DATA, 0x00cf13000000ffffULL);
	put64(e->ram, GDT + KCODE32, 0x00cf9b000000ffffULL);
	assert_int_equal(vcpu_sys_set_long_mode(&e->cpu, PML4, GDT, SYS_ENV_GDT_LIMIT, KCODE, KDATA, 0), 0);
	put64(e->ram, TSS + 4, RSP0);
	put64(e->ram, TSS + 0x24, IST1);
	e->sys->tr.sel = TSS_SEL;
	e->sys->tr.base = TSS;
	e->sys->tr.limit = 0x67;
	e->sys->tr.attr = 0x8b;
	e->sys->idtr.base = IDT;
	e->sys->idtr.limit = 0xfff;
	memset(e->ram + HANDLERS, 0xf4, 0x1000); /* every handler: HLT */
	for (unsigned v = 0; v < 256; v++)
		set_gate(e, v, HANDLER(v), KCODE, 0xe, 0, 0, true);
	e->cpu.gpr[4] = KSTACK;
	e->cpu.rflags = 0x2;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	vcpu_sys_destroy(&e->cpu);
	vm_phys_destroy(&e->phys);
	bus_destroy(e->bus);
	free(e->sys);
	free(e->ram);
	free(e);
	return 0;
}

/* Run @code at CODE (CPL 0) until HLT in handler @vec. */
static void run_to_handler(struct env *e, const uint8_t *code, size_t len, unsigned vec)
{
	memcpy(e->ram + CODE, code, len);
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, HANDLER(vec) + 1);
	assert_int_equal(e->sys->delivering, -1);
}

#endif
