/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of segmentation in system mode (src/cpu/seg.c) with real guest code, on the fixture
 * of test_sys_exc.c (64-bit mode, identity paging, every IDT handler a HLT): MOV Sreg and its
 * checks, PUSH/POP FS/GS, far JMP/CALL/RET to the same level and RETF to CPL 3 with the data
 * segment invalidation, the 32-bit protected-mode IDT, and the far jump from 32-bit code into
 * 64-bit mode that Multiboot kernels use. Expected values: Intel SDM Vol. 2 (MOV, PUSH, POP, JMP,
 * CALL, RET, INT n) and Vol. 3A 5.6, 6.12, 9.8.5, as cited in each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#include "sys_env.h"


/* SDM Vol. 2 MOV / Vol. 3A 5.6: DS may hold a DPL-3 segment at CPL 0; a DPL-0 data segment with
 * RPL 3 > DPL -> #GP(selector). */
static void test_mov_ds_privilege(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x66, 0xb8, 0x23, 0x00, 0x8e, 0xd8,  /* mov ds, 0x23 */
					0x66, 0xb8, 0x13, 0x00, 0x8e, 0xd8 }; /* mov ds, 0x13 */
	run_to_handler(e, code, sizeof(code), EXC_GP);
	assert_int_equal(get64(e->ram, KSTACK - 48), KDATA);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE + 10);
	assert_int_equal(e->sys->seg[SR_DS].sel, UDATA | 3);
	assert_int_equal(e->sys->seg[SR_DS].attr & 0xff, 0xf3);
}

/* SDM Vol. 3A 6.15 #GP: a null SS is allowed in 64-bit mode at CPL 0 with RPL = CPL; RPL 3 ->
 * #GP(0). */
static void test_mov_ss_null(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x31, 0xc0, 0x8e, 0xd0,                /* mov ss, 0 */
					0x66, 0xb8, 0x03, 0x00, 0x8e, 0xd0 };  /* mov ss, 3 */
	run_to_handler(e, code, sizeof(code), EXC_GP);
	assert_int_equal(get64(e->ram, KSTACK - 48), 0);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE + 8);
	assert_int_equal(get64(e->ram, KSTACK - 8), 0); /* the null SS was pushed */
}

/* A data segment not present: #NP(selector) (SDM Vol. 2 MOV). */
static void test_mov_es_not_present(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x66, 0xb8, 0x40, 0x00, 0x8e, 0xc0 };
	run_to_handler(e, code, sizeof(code), EXC_NP);
	assert_int_equal(get64(e->ram, KSTACK - 48), NP_DATA);
	assert_int_equal(e->sys->seg[SR_ES].sel, KDATA);
}

/* MOV FS sets FS.base from the descriptor; PUSH FS / POP GS move the selector through an
 * stack slot (RSP back where it was); the accessed bit is set in the GDT (SDM Vol. 3A 3.4.5.1). */
static void test_push_pop_fs_gs(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x66, 0xb8, 0x23, 0x00, 0x8e, 0xe0, /* mov fs, 0x23 */
					0x0f, 0xa0, 0x0f, 0xa9,             /* push fs; pop gs */
					0x48, 0x89, 0xe3, 0xcd, 0x40 };     /* mov rbx, rsp; int */
	e->cpu.fs_base = 0x1234;
	e->cpu.gs_base = 0x5678;
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_int_equal(e->cpu.gpr[3], KSTACK);
	assert_int_equal(e->sys->seg[SR_GS].sel, UDATA | 3);
	assert_int_equal(e->cpu.fs_base, 0);
	assert_int_equal(e->cpu.gs_base, 0);
	assert_int_equal(e->ram[GDT + UDATA + 5], 0xf3);
}

/* RETFQ to the same privilege level (SDM Vol. 2 RET): pops RIP, then CS. */
static void test_retf_same_level(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x6a, 0x08, 0x68, 0x00, 0x01, 0x01, 0x00, 0x48, 0xcb };
	e->ram[CODE + 0x100] = 0xf4;
	memcpy(e->ram + CODE, code, sizeof(code));
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, CODE + 0x101);
	assert_int_equal(e->cpu.gpr[4], KSTACK);
	assert_int_equal(e->sys->seg[SR_CS].sel, KCODE);
}

/* JMP m16:32 and CALL m16:32 in 64-bit mode (SDM Vol. 2 JMP/CALL): the far CALL pushes CS and
 * the return offset as 4-byte slots. */
static void test_far_jmp_call_mem(void **state)
{
	struct env *e = *state;
	static const uint8_t jmp[] = { 0xff, 0x2c, 0x25, 0x00, 0x00, 0x02, 0x00 };  /* [DATA] */
	static const uint8_t call[] = { 0xff, 0x1c, 0x25, 0x10, 0x00, 0x02, 0x00 }; /* [DATA+16] */
	memcpy(e->ram + DATA, "\x00\x01\x01\x00\x08\x00", 6);      /* 0x08:CODE+0x100 */
	memcpy(e->ram + DATA + 0x10, "\x00\x02\x01\x00\x08\x00", 6); /* 0x08:CODE+0x200 */
	memcpy(e->ram + CODE, jmp, sizeof(jmp));
	memcpy(e->ram + CODE + 0x100, call, sizeof(call));
	e->ram[CODE + 0x200] = 0xf4;
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, CODE + 0x201);
	assert_int_equal(e->sys->seg[SR_CS].sel, KCODE);
	assert_int_equal(e->cpu.gpr[4], KSTACK - 8);
	/* return offset CODE + 0x107, then CS (4-byte slots) */
	assert_memory_equal(e->ram + KSTACK - 8, "\x07\x01\x01\x00\x08\x00\x00\x00", 8);
}

/* RETFQ to CPL 3 (SDM Vol. 2 RET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"): SS:RSP popped after
 * CS:RIP; DS holding a DPL-0 data segment becomes null. */
static void test_retf_to_user(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {
		0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8,       /* mov ds, 0x10 */
		0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, /* push 0x23; push 0x70000 */
		0x6a, 0x2b, 0x68, 0x00, 0x20, 0x01, 0x00, /* push 0x2b; push 0x12000 */
		0x48, 0xcb,                               /* retfq */
	};
	static const uint8_t ucode[] = { 0xcd, 0x40 };
	set_gate(e, 0x40, HANDLER(0x40), KCODE, 0xe, 3, 0, true);
	memcpy(e->ram + UCODE, ucode, sizeof(ucode));
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_int_equal(get64(e->ram, RSP0 - 40), UCODE + 2);
	assert_int_equal(get64(e->ram, RSP0 - 32), UCODE64 | 3);
	assert_int_equal(get64(e->ram, RSP0 - 16), USTACK);
	assert_int_equal(get64(e->ram, RSP0 - 8), UDATA | 3);
	assert_int_equal(e->sys->seg[SR_DS].sel, 0);
}

/* Legacy protected mode (the Multiboot state of vcpu_sys_init): INT n through an 8-byte 32-bit
 * interrupt gate pushes EFLAGS, CS, EIP as 4-byte slots, no stack alignment (SDM Vol. 3A 6.12.1,
 * Figure 6-4). */
static void test_protected_mode_int(void **state)
{
	struct env *e = *state;
	struct vcpu_sys *s = e->sys;
	static const uint8_t code[] = { 0xcd, 0x40 };
	uint32_t frame[3];

	vcpu_sys_destroy(&e->cpu);
	vcpu_sys_init(&e->cpu, s, &e->phys); /* the Multiboot state: 32-bit, paging off */
	put64(e->ram, GDT + KCODE, 0x00cf9b000000ffffULL); /* 32-bit code at 0x08 */
	s->gdtr.base = GDT;
	s->gdtr.limit = 0x4f;
	s->idtr.base = IDT;
	s->idtr.limit = 0x7ff;
	put64(e->ram, IDT + 0x40 * 8, (HANDLER(0x40) & 0xffff) | ((uint64_t)KCODE << 16) |
					   (0x8eULL << 40) | ((uint64_t)(HANDLER(0x40) >> 16) << 48));
	memcpy(e->ram + CODE, code, sizeof(code));
	e->cpu.rip = CODE;
	e->cpu.gpr[4] = KSTACK + 4;
	e->cpu.rflags = 0x202;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, HANDLER(0x40) + 1);
	assert_int_equal(e->cpu.gpr[4], KSTACK + 4 - 12);
	memcpy(frame, e->ram + KSTACK + 4 - 12, 12);
	assert_int_equal(frame[0], CODE + 2);
	assert_int_equal(frame[1], KCODE);
	assert_int_equal(frame[2], 0x202);
	assert_int_equal(e->cpu.rflags & FLAG_IF, 0);
	assert_int_equal(s->mode, VCPU_MODE_PROT32);
}

/* From compatibility mode (EFER.LMA = 1, 32-bit CS) a far jump to a 64-bit code segment enters
 * 64-bit mode (SDM Vol. 3A 9.8.5): `ljmp $0x08, $target`, the Multiboot kernels' way in. */
static void test_ljmp_into_64bit(void **state)
{
	struct env *e = *state;
	struct vcpu_sys *s = e->sys;
	static const uint8_t code[] = { 0xea, 0x00, 0x01, 0x01, 0x00, 0x08, 0x00 };

	s->seg[SR_CS].sel = KCODE32;
	s->seg[SR_CS].attr = 0xc9b;
	sys_update_mode(&e->cpu);
	assert_int_equal(s->mode, VCPU_MODE_PROT32);
	e->ram[CODE + 0x100] = 0xf4;
	memcpy(e->ram + CODE, code, sizeof(code));
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, CODE + 0x101);
	assert_int_equal(s->seg[SR_CS].sel, KCODE);
	assert_int_equal(s->mode, VCPU_MODE_LONG64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mov_ds_privilege, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mov_ss_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mov_es_not_present, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_pop_fs_gs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retf_same_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_far_jmp_call_mem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retf_to_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protected_mode_int, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ljmp_into_64bit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
