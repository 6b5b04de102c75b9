/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the system-mode memory path (src/cpu/sysmem.c) with real guest code: a vCPU in
 * 64-bit mode on identity-mapped 4-level page tables runs machine code from guest RAM.
 *  - an access that crosses into a page mapped to a non-adjacent physical page lands in both
 *    (read and write), SDM Vol. 3A 4.1: the linear address space is paged per 4 KiB;
 *  - MMIO: loads and stores outside RAM reach the bus device with the exact address, length and
 *    data; unassigned physical addresses read all-ones (a PC's floating bus);
 *  - self-modifying code: a store into the current block's next instruction takes effect
 *    (SDM Vol. 3A 11.6: "a write to a memory location in a code segment that is currently cached
 *    in the processor causes the associated cache line (or lines) to be invalidated");
 *  - a store to a read-only page leaves memory untouched and faults.
 * Each program ends with UD2; with no IDT that ends in a triple fault (VCPU_EXIT_SHUTDOWN), so
 * the checks look at registers and memory, not at how the program stopped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#include "omnivisor/vcpu_sys.h"

#define RAM_SIZE (4u << 20)
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000    /* maps 0..2 MiB with 4 KiB pages */
#define GDT 0x5000
#define CODE 0x10000
#define DATA 0x20000
#define MMIO_BASE 0xd0000000ULL

struct env {
	uint8_t *ram;
	struct bus *bus;
	struct vm_phys phys;
	struct vcpu cpu;
	struct vcpu_sys *sys;
	/* MMIO test device */
	unsigned nr_writes, nr_reads;
	uint64_t last_off, last_val;
	unsigned last_len;
};

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

static void dev_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct env *e = opaque;
	e->nr_reads++;
	e->last_off = off;
	e->last_len = len;
	bus_data_put(data, len, 0x1122334455667788ULL);
}

static void dev_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct env *e = opaque;
	e->nr_writes++;
	e->last_off = off;
	e->last_len = len;
	e->last_val = bus_data_get(data, len);
}

static const struct bus_ops dev_ops = { .read = dev_read, .write = dev_write };

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->ram = aligned_alloc(4096, RAM_SIZE);
	memset(e->ram, 0, RAM_SIZE);
	e->bus = bus_create();
	assert_int_equal(bus_register_mmio(e->bus, MMIO_BASE, 0x1000, &dev_ops, e, "test", NULL), 0);
	assert_int_equal(vm_phys_init(&e->phys, e->ram, RAM_SIZE, e->bus), 0);
	e->sys = aligned_alloc(64, (sizeof(*e->sys) + 63) & ~(size_t)63);
	vcpu_sys_init(&e->cpu, e->sys, &e->phys);
	/* page tables: PML4[0] -> PDPT; PDPT[0] -> PD (0..1 GiB), PDPT[3] -> a 1 GiB page at 3 GiB
	 * (MMIO_BASE lives there); PD[0] -> PT (4 KiB pages for 0..2 MiB), PD[1] 2 MiB page */
	put64(e->ram, PML4, PDPT | 7);
	put64(e->ram, PDPT, PD | 7);
	put64(e->ram, PDPT + 8 * 3, 0xc0000000ULL | 0x83);
	put64(e->ram, PD, PT | 7);
	put64(e->ram, PD + 8, 0x200000 | 0x83);
	for (uint64_t i = 0; i < 512; i++)
		put64(e->ram, PT + 8 * i, (i << 12) | 3);
	/* GDT: null, 64-bit code 0x08, data 0x10 */
	put64(e->ram, GDT + 8, 0x00af9b000000ffffULL);
	put64(e->ram, GDT + 16, 0x00cf93000000ffffULL);
	assert_int_equal(vcpu_sys_set_long_mode(&e->cpu, PML4, GDT, 23, 0x08, 0x10, 0), 0);
	e->cpu.gpr[4] = 0x80000;
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

static void run_code(struct env *e, const uint8_t *code, size_t len)
{
	memcpy(e->ram + CODE, code, len);
	e->ram[CODE + len] = 0x0f; /* ud2 */
	e->ram[CODE + len + 1] = 0x0b;
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_SHUTDOWN);
}

/* A qword store/load across the boundary of two linear pages mapped to scattered frames. */
static void test_crossing_scattered(void **state)
{
	struct env *e = *state;
	/* linear 0x30000 -> frame 0x50000, linear 0x31000 -> frame 0x40000 */
	put64(e->ram, PT + 8 * 0x30, 0x50000 | 3);
	put64(e->ram, PT + 8 * 0x31, 0x40000 | 3);
	static const uint8_t code[] = {
		0x48, 0xb8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* mov rax, imm64 */
		0x48, 0xa3, 0xfc, 0x0f, 0x03, 0, 0, 0, 0, 0,                /* mov [0x30ffc], rax */
		0x48, 0x8b, 0x1c, 0x25, 0xfd, 0x0f, 0x03, 0x00,             /* mov rbx, [0x30ffd] */
	};
	e->ram[0x40004] = 0xaa;
	run_code(e, code, sizeof(code));
	assert_memory_equal(e->ram + 0x50ffc, "\x01\x02\x03\x04", 4);
	assert_memory_equal(e->ram + 0x40000, "\x05\x06\x07\x08\xaa", 5);
	assert_int_equal(e->cpu.gpr[3], 0xaa08070605040302ULL);
}

/* MMIO load/store of each size; unassigned physical addresses read all-ones. */
static void test_mmio(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {
		0x48, 0xbf, 0x10, 0x00, 0x00, 0xd0, 0, 0, 0, 0,       /* mov rdi, 0xd0000010 */
		0xc7, 0x07, 0x78, 0x56, 0x34, 0x12,                   /* mov dword [rdi], 0x12345678 */
		0x8b, 0x4f, 0x08,                                     /* mov ecx, [rdi+8] */
		0x48, 0xbe, 0x00, 0x00, 0x00, 0xe0, 0, 0, 0, 0,       /* mov rsi, 0xe0000000 */
		0x48, 0x8b, 0x16,                                     /* mov rdx, [rsi] */
		0x48, 0x89, 0x16,                                     /* mov [rsi], rdx */
	};
	run_code(e, code, sizeof(code));
	assert_int_equal(e->nr_writes, 1);
	assert_int_equal(e->last_val, 0x12345678);
	assert_int_equal(e->nr_reads, 1);
	assert_int_equal(e->last_off, 0x18);
	assert_int_equal(e->last_len, 4);
	assert_int_equal(e->cpu.gpr[1], 0x55667788);
	assert_int_equal(e->cpu.gpr[2], ~0ULL);
}

/* A store rewrites the immediate of an instruction later in the same block. */
static void test_self_modifying(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {
		0xc6, 0x05, 0x04, 0x00, 0x00, 0x00, 0x42, /* mov byte [rip+4], 0x42: CODE + 11 */
		0x90,                                     /* nop */
		0x48, 0xc7, 0xc0, 0x11, 0x00, 0x00, 0x00, /* mov rax, 0x11 (imm32 at CODE + 11) */
	};
	uint8_t c[sizeof(code)];
	memcpy(c, code, sizeof(c));
	run_code(e, c, sizeof(c));
	assert_int_equal(e->cpu.gpr[0], 0x42);
	/* run again: the first run's decoded blocks must not hide the new bytes */
	e->cpu.gpr[0] = 0;
	e->ram[CODE + 11] = 0x33;
	c[6] = 0x55;
	run_code(e, c, sizeof(c));
	assert_int_equal(e->cpu.gpr[0], 0x55);
}

/* A device writing guest RAM (DMA) invalidates code decoded from it. */
static void test_dma_invalidates(void **state)
{
	struct env *e = *state;
	static const uint8_t one[] = { 0xb8, 0x01, 0, 0, 0 }; /* mov eax, 1 */
	run_code(e, one, sizeof(one));
	assert_int_equal(e->cpu.gpr[0], 1);
	uint8_t two[] = { 0xb8, 0x02, 0, 0, 0 };
	memcpy(e->ram + CODE, two, sizeof(two));
	vm_phys_written(&e->phys, CODE, sizeof(two));
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_SHUTDOWN);
	assert_int_equal(e->cpu.gpr[0], 2);
}

/* A supervisor store to a read-only page with CR0.WP = 1 faults without writing (SDM Vol. 3A
 * 4.6.1); CR2 holds the faulting address (SDM Vol. 3A 6.15 "Interrupt 14"). */
static void test_readonly_store(void **state)
{
	struct env *e = *state;
	put64(e->ram, PT + 8 * 0x60, 0x60000 | 1); /* present, read-only */
	e->sys->cr0 |= CR0_WP;
	e->sys->mmu.cr0 = e->sys->cr0;
	static const uint8_t code[] = {
		0xc7, 0x04, 0x25, 0x00, 0x00, 0x06, 0x00, 0xef, 0xbe, 0xad, 0xde, /* mov [0x60000] */
	};
	run_code(e, code, sizeof(code));
	assert_int_equal(e->ram[0x60000], 0);
	/* #PF delivery loads CR2 before the (absent) IDT turns it into a triple fault */
	assert_int_equal(e->sys->cr2, 0x60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crossing_scattered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_modifying, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_invalidates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
