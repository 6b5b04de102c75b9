/* SPDX-License-Identifier: MIT */
/*
 * Fixture of test_sys_ctl.c and test_sys_msr.c: a system-mode vCPU on 4 MiB of guest RAM,
 * in 64-bit mode on identity-mapped 4-level page tables (user-accessible, writable), with a
 * small PIO test device on the bus. Two ways to execute:
 *  - exec1(): decode one instruction (64-bit mode) and call its system-mode handler directly,
 *    as the run loop would (RIP past the instruction, cur set); returns the exception vector it
 *    raised or -1. Independent of the decoder wiring and of exception delivery;
 *  - run_code(): copy machine code to CODE and run it with vcpu_sys_run until HLT.
 */
#ifndef SYS_CTL_ENV_H
#define SYS_CTL_ENV_H

#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/sys.h"
#include "cpu/sysctl.h"
#include "omnivisor/bus.h"
#include "omnivisor/vcpu_sys.h"

#define RAM_SIZE (4u << 20)
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000 /* 0..2 MiB in 4 KiB pages */
#define GDT 0x5000
#define TSS 0x6000
#define CODE 0x10000
#define DATA 0x20000
#define STACK 0x80000
#define TEST_PORT 0x3f0 /* 8 ports */

struct env {
	uint8_t *ram;
	struct bus *bus;
	struct vm_phys phys;
	struct vcpu cpu;
	struct vcpu_sys *sys;
	/* PIO test device: a write log and a read pattern */
	unsigned nr_writes, nr_reads;
	uint16_t last_port;
	unsigned last_len;
	uint32_t last_val;
	uint8_t log[4096];
	unsigned log_len;
	uint8_t next_in;
};

static inline void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

static void pio_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct env *e = opaque;
	uint8_t *d = data;
	e->nr_reads++;
	e->last_port = (uint16_t)(TEST_PORT + off);
	e->last_len = len;
	for (unsigned i = 0; i < len; i++)
		d[i] = e->next_in++;
}

static void pio_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct env *e = opaque;
	e->nr_writes++;
	e->last_port = (uint16_t)(TEST_PORT + off);
	e->last_len = len;
	e->last_val = (uint32_t)bus_data_get(data, len);
	if (e->log_len + len <= sizeof(e->log)) {
		memcpy(e->log + e->log_len, data, len);
		e->log_len += len;
	}
}

static const struct bus_ops pio_ops = { .read = pio_read, .write = pio_write };

static inline int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(e->ram);
	memset(e->ram, 0, RAM_SIZE);
	e->bus = bus_create();
	assert_int_equal(bus_register_pio(e->bus, TEST_PORT, 8, &pio_ops, e, "test", NULL), 0);
	assert_int_equal(vm_phys_init(&e->phys, e->ram, RAM_SIZE, e->bus), 0);
	e->sys = aligned_alloc(64, (sizeof(*e->sys) + 63) & ~(size_t)63);
	assert_non_null(e->sys);
	assert_int_equal(vcpu_sys_init(&e->cpu, e->sys, &e->phys), 0);
	put64(e->ram, PML4, PDPT | 7);
	put64(e->ram, PDPT, PD | 7);
	put64(e->ram, PD, PT | 7);
	for (uint64_t i = 0; i < 512; i++)
		put64(e->ram, PT + 8 * i, (i << 12) | 7);
	/* GDT: null, 64-bit code 0x08, data 0x10, 32-bit code 0x18 */
	put64(e->ram, GDT + 8, 0x00af9b000000ffffULL);
	put64(e->ram, GDT + 16, 0x00cf93000000ffffULL);
	put64(e->ram, GDT + 24, 0x00cf9b000000ffffULL);
	*state = e;
	return 0;
}

/* 64-bit mode, CPL 0 */
static inline int env_setup64(void **state)
{
	struct env *e;
	env_setup(state);
	e = *state;
	assert_int_equal(vcpu_sys_set_long_mode(&e->cpu, PML4, GDT, 31, 0x08, 0x10, 0), 0);
	e->cpu.gpr[R_RSP] = STACK;
	return 0;
}

static inline int env_teardown(void **state)
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

static inline insn_fn table_lookup(const struct insn_entry *t, uint16_t mnemonic)
{
	for (; t->fn; t++)
		if (t->mnemonic == mnemonic)
			return t->fn;
	return NULL;
}

/* The system-mode handler of @in, as the decoder should choose it. */
static inline insn_fn sys_handler(const struct insn *in)
{
	static const struct insn_entry *const tables[] = { sysctl_insns, msr_insns, io_insns };
	if (in->mnemonic == ZYDIS_MNEMONIC_MOV) {
		for (unsigned i = 0; i < in->nops; i++) {
			if (in->op[i].kind == OPK_CR)
				return sysctl_mov_cr;
			if (in->op[i].kind == OPK_DR)
				return sysctl_mov_dr;
		}
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		insn_fn fn = table_lookup(tables[i], in->mnemonic);
		if (fn)
			return fn;
	}
	return NULL;
}

/* Execute one instruction (64-bit decoding) through its system-mode handler. Returns the
 * vector of the exception it raised (RIP back at the instruction), or -1 (RIP past it). */
static inline int exec1_at(struct env *e, const uint8_t *bytes, size_t len, uint64_t rip)
{
	static struct insn in;
	struct vcpu *cpu = &e->cpu;
	insn_fn fn;

	assert_int_equal(cpu_decode_one(bytes, len, rip, &in), 0);
	fn = sys_handler(&in);
	assert_non_null(fn);
	cpu->rip = rip + in.len;
	cpu->cur = &in;
	if (setjmp(cpu->unwind)) {
		cpu->cur = NULL;
		return cpu->exc_vector;
	}
	fn(cpu, &in);
	cpu->cur = NULL;
	return -1;
}

#define exec1(e, ...)                                                                        \
	({                                                                                   \
		static const uint8_t b_[] = { __VA_ARGS__ };                                 \
		exec1_at((e), b_, sizeof(b_), CODE);                                         \
	})

/* Expect #GP(0) with RIP at the instruction. */
#define expect_gp0(e, ...)                                                                   \
	do {                                                                                 \
		assert_int_equal(exec1((e), __VA_ARGS__), EXC_GP);                           \
		assert_int_equal((e)->cpu.exc_error, 0);                                     \
		assert_int_equal((e)->cpu.rip, CODE);                                        \
	} while (0)
#define expect_ok(e, ...) assert_int_equal(exec1((e), __VA_ARGS__), -1)

/* Run @code at CODE (followed by HLT) until the vCPU exits; returns the exit reason. */
static inline int run_code(struct env *e, const uint8_t *code, size_t len)
{
	memcpy(e->ram + CODE, code, len);
	e->ram[CODE + len] = 0xf4; /* hlt */
	vm_phys_written(&e->phys, CODE, len + 1);
	e->cpu.rip = CODE;
	return vcpu_sys_run(&e->cpu);
}

#define RUN(e, ...)                                                                          \
	({                                                                                   \
		static const uint8_t c_[] = { __VA_ARGS__ };                                 \
		run_code((e), c_, sizeof(c_));                                               \
	})

#endif
