/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of system-mode event delivery and IRET (src/cpu/exception.c) and of the system
 * instructions of src/cpu/seg.c that have their own mnemonics, with real guest code: a vCPU in
 * 64-bit mode on identity-mapped page tables runs machine code from guest RAM; every IDT
 * handler is a HLT, so vcpu_sys_run returns VCPU_EXIT_HLT inside the handler and the test
 * checks the frame, registers and segment state against the Intel SDM (Vol. 3A ch. 6; Vol. 2 INT
 * n, IRET, SYSCALL, SYSRET, LTR, LAR, LSL, VERR/VERW, SGDT, SWAPGS) section cited in each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omnivisor/bus.h"
#define SYS_ENV_GDT_LIMIT 0x3f /* test_sgdt_lidt reads it back */
#include "sys_env.h"


/* Kernel code entering user code at UCODE with IRETQ (SS 0x23, RSP USTACK, RFLAGS 0x202,
 * CS 0x2b). */
static const uint8_t to_user[] = {
	0x6a, 0x23,                               /* push 0x23 */
	0x68, 0x00, 0x00, 0x07, 0x00,             /* push 0x70000 */
	0x68, 0x02, 0x02, 0x00, 0x00,             /* push 0x202 */
	0x6a, 0x2b,                               /* push 0x2b */
	0x68, 0x00, 0x20, 0x01, 0x00,             /* push 0x12000 */
	0x48, 0xcf,                               /* iretq */
};

static void run_user_to_handler(struct env *e, const uint8_t *ucode, size_t len, unsigned vec)
{
	memcpy(e->ram + UCODE, ucode, len);
	run_to_handler(e, to_user, sizeof(to_user), vec);
}

/* SDM Vol. 3A 6.14.2 (Figure 6-9): INT n at the same privilege level: RSP aligned to 16, then
 * SS, RSP, RFLAGS, CS, RIP pushed (8 bytes each); an interrupt gate clears IF; RF is pushed 0. */
static void test_int_same_level(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0xcd, 0x40 }; /* int 0x40 */
	e->cpu.gpr[4] = KSTACK + 8;
	e->cpu.rflags = 0x202 | FLAG_RF_BIT;
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_int_equal(e->cpu.gpr[4], KSTACK - 40);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE + 2);
	assert_int_equal(get64(e->ram, KSTACK - 32), KCODE);
	assert_int_equal(get64(e->ram, KSTACK - 24), 0x202);
	assert_int_equal(get64(e->ram, KSTACK - 16), KSTACK + 8);
	assert_int_equal(get64(e->ram, KSTACK - 8), KDATA);
	assert_int_equal(e->cpu.rflags & (FLAG_IF | FLAG_RF_BIT), 0);
	assert_int_equal(e->sys->seg[SR_CS].sel, KCODE);
	assert_int_equal(e->sys->seg[SR_SS].sel, KDATA);
	assert_int_equal(e->sys->cpl, 0);
}

/* A trap gate (type 0xF) leaves IF set (SDM Vol. 3A 6.12.1.3). */
static void test_trap_gate_keeps_if(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0xcd, 0x40 };
	set_gate(e, 0x40, HANDLER(0x40), KCODE, 0xf, 0, 0, true);
	e->cpu.rflags = 0x202;
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_true(e->cpu.rflags & FLAG_IF);
}

/* SDM Vol. 2 INT n: a gate not present -> #NP(vector * 8 + 2), EXT = 0 for INT n; a fault:
 * RIP of the INT instruction, RF = 1 in the pushed RFLAGS (SDM Vol. 3A 17.3.1.1). */
static void test_gate_not_present(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x90, 0xcd, 0x50 }; /* nop; int 0x50 */
	set_gate(e, 0x50, HANDLER(0x50), KCODE, 0xe, 0, 0, false);
	run_to_handler(e, code, sizeof(code), EXC_NP);
	assert_int_equal(e->cpu.gpr[4], KSTACK - 48);
	assert_int_equal(get64(e->ram, KSTACK - 48), 0x50 * 8 + 2);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE + 1);
	assert_int_equal(get64(e->ram, KSTACK - 24), 0x2 | FLAG_RF_BIT);
	assert_int_equal(e->sys->nr_exceptions, 1);
}

/* #PF: CR2 = the linear address, error code P = 0 / supervisor read (SDM Vol. 3A 4.7, 6.15). */
static void test_page_fault_cr2(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00 };
	run_to_handler(e, code, sizeof(code), EXC_PF);
	assert_int_equal(e->sys->cr2, UNMAPPED);
	assert_int_equal(get64(e->ram, KSTACK - 48), 0);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE);
}

/* SDM Vol. 3A 6.14.4: from CPL 3 through a DPL-3 gate to a DPL-0 handler: RSP = TSS.RSP0,
 * SS = null selector (RPL = new CPL), the old SS:RSP pushed. Also IRETQ to CPL 3 on the way. */
static void test_user_int_stack_switch(void **state)
{
	struct env *e = *state;
	static const uint8_t ucode[] = { 0xcd, 0x40 };
	set_gate(e, 0x40, HANDLER(0x40), KCODE, 0xe, 3, 0, true);
	run_user_to_handler(e, ucode, sizeof(ucode), 0x40);
	assert_int_equal(e->cpu.gpr[4], RSP0 - 40);
	assert_int_equal(get64(e->ram, RSP0 - 40), UCODE + 2);
	assert_int_equal(get64(e->ram, RSP0 - 32), UCODE64 | 3);
	assert_int_equal(get64(e->ram, RSP0 - 24), 0x202);
	assert_int_equal(get64(e->ram, RSP0 - 16), USTACK);
	assert_int_equal(get64(e->ram, RSP0 - 8), UDATA | 3);
	assert_int_equal(e->sys->seg[SR_SS].sel, 0);
	assert_int_equal(e->sys->seg[SR_CS].sel, KCODE);
	assert_int_equal(e->sys->cpl, 0);
	assert_int_equal(e->sys->mode, VCPU_MODE_LONG64);
}

/* SDM Vol. 2 INT n: a software interrupt through a gate with DPL < CPL -> #GP(vector * 8 + 2),
 * reported at the INT instruction. */
static void test_user_int_dpl(void **state)
{
	struct env *e = *state;
	static const uint8_t ucode[] = { 0xcd, 0x41 };
	run_user_to_handler(e, ucode, sizeof(ucode), EXC_GP);
	assert_int_equal(get64(e->ram, RSP0 - 48), 0x41 * 8 + 2);
	assert_int_equal(get64(e->ram, RSP0 - 40), UCODE);
	assert_int_equal(get64(e->ram, RSP0 - 32), UCODE64 | 3);
}

/* SDM Vol. 3A 6.14.5: IST != 0 always switches to TSS.ISTn, even without a privilege change;
 * SS is not changed then. */
static void test_ist(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0xcd, 0x40 };
	set_gate(e, 0x40, HANDLER(0x40), KCODE, 0xe, 0, 1, true);
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_int_equal(e->cpu.gpr[4], IST1 - 40);
	assert_int_equal(get64(e->ram, IST1 - 16), KSTACK);
	assert_int_equal(e->sys->seg[SR_SS].sel, KDATA);
}

/* SDM Vol. 3A Table 6-5: a contributory exception (#NP of the #NP gate) while delivering a
 * contributory one (#NP) -> #DF with error code 0. */
static void test_double_fault(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0xcd, 0x50 };
	set_gate(e, 0x50, HANDLER(0x50), KCODE, 0xe, 0, 0, false);
	set_gate(e, EXC_NP, HANDLER(EXC_NP), KCODE, 0xe, 0, 0, false);
	run_to_handler(e, code, sizeof(code), EXC_DF);
	assert_int_equal(get64(e->ram, KSTACK - 48), 0);
}

/* A #PF while delivering a #PF -> #DF (Table 6-5); the #DF gate uses IST1, a good stack. The
 * first #PF is the #UD frame's push onto an unmapped stack; CR2 = the last faulting address. */
static void test_pf_pf_double_fault(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x0f, 0x0b }; /* ud2 */
	set_gate(e, EXC_DF, HANDLER(EXC_DF), KCODE, 0xe, 0, 1, true);
	e->cpu.gpr[4] = UNMAPPED + 0x100;
	run_to_handler(e, code, sizeof(code), EXC_DF);
	assert_int_equal(e->cpu.gpr[4], IST1 - 48);
	assert_int_equal(get64(e->ram, IST1 - 48), 0);
	assert_int_equal(e->sys->cr2 & ~0xfffULL, UNMAPPED);
}

/* Any fault while delivering #DF: shutdown (triple fault; SDM Vol. 3A 6.15 "Interrupt 8"). */
static void test_triple_fault(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x0f, 0x0b };
	e->sys->idtr.limit = 0;
	memcpy(e->ram + CODE, code, sizeof(code));
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_SHUTDOWN);
}

/* An external interrupt whose gate is not present: #NP(vector * 8 + 2 + EXT), EXT = 1
 * (SDM Vol. 3A 6.13). */
static void test_external_ext_bit(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0xfb, 0x90, 0x90, 0xf4 }; /* sti; nop; nop; hlt */
	set_gate(e, 0x51, HANDLER(0x51), KCODE, 0xe, 0, 0, false);
	vcpu_sys_interrupt(&e->cpu, 0x51);
	run_to_handler(e, code, sizeof(code), EXC_NP);
	assert_int_equal(get64(e->ram, KSTACK - 48), 0x51 * 8 + 3);
}

/* NMI: delivered through vector 2, blocks NMIs until IRET (SDM Vol. 3A 6.7.1). */
static void test_nmi_blocking(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x90, 0x90, 0xf4 };
	static const uint8_t handler[] = { 0xc6, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x01, /* mov
									byte [DATA], 1 */
					   0xf4, 0x48, 0xcf }; /* hlt; iretq */
	memcpy(e->ram + HANDLER(2), handler, sizeof(handler));
	vcpu_sys_nmi(&e->cpu);
	memcpy(e->ram + CODE, code, sizeof(code));
	e->cpu.rip = CODE;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, HANDLER(2) + 9);
	assert_int_equal(e->ram[DATA], 1);
	assert_true(e->sys->nmi_blocked);
	e->sys->halted = false;
	assert_int_equal(vcpu_sys_run(&e->cpu), VCPU_EXIT_HLT);
	assert_int_equal(e->cpu.rip, CODE + 3);
	assert_false(e->sys->nmi_blocked);
	assert_int_equal(e->cpu.gpr[4], KSTACK);
}

/* SDM Vol. 2 IRET: a return code segment with RPL < CPL -> #GP(selector). */
static void test_iret_rpl_below_cpl(void **state)
{
	struct env *e = *state;
	static const uint8_t ucode[] = {
		0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, 0x68, 0x02, 0x02, 0x00, 0x00,
		0x6a, 0x08, 0x68, 0x00, 0x20, 0x01, 0x00, 0x48, 0xcf, /* iretq to CS 0x08 */
	};
	run_user_to_handler(e, ucode, sizeof(ucode), EXC_GP);
	assert_int_equal(get64(e->ram, RSP0 - 48), KCODE);
	assert_int_equal(get64(e->ram, RSP0 - 40), UCODE + 19);
}

/* SYSRET to CPL 3 then SYSCALL back (SDM Vol. 2 SYSCALL/SYSRET): fixed CS/SS from STAR, RCX and
 * R11, RFLAGS masked with SFMASK. */
static void test_syscall_sysret(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {
		0x48, 0xc7, 0xc1, 0x00, 0x20, 0x01, 0x00, /* mov rcx, 0x12000 */
		0x49, 0xc7, 0xc3, 0x02, 0x02, 0x00, 0x00, /* mov r11, 0x202 */
		0x48, 0x0f, 0x07,                         /* sysretq */
	};
	static const uint8_t ucode[] = { 0x0f, 0x05 }; /* syscall */
	e->sys->efer |= EFER_SCE;
	e->sys->star = (0x18ULL << 48) | (0x08ULL << 32);
	e->sys->lstar = HANDLER(0x60);
	e->sys->sfmask = FLAG_IF;
	memcpy(e->ram + UCODE, ucode, sizeof(ucode));
	run_to_handler(e, code, sizeof(code), 0x60);
	assert_int_equal(e->cpu.gpr[1], UCODE + 2);
	assert_int_equal(e->cpu.gpr[11], 0x202);
	assert_int_equal(e->cpu.rflags & FLAG_IF, 0);
	assert_int_equal(e->sys->seg[SR_CS].sel, KCODE);
	assert_int_equal(e->sys->seg[SR_SS].sel, KDATA);
	assert_int_equal(e->sys->cpl, 0);
}

/* SYSRET with a non-canonical RCX: #GP(0) at CPL 0 (SDM Vol. 2 SYSRET). */
static void test_sysret_noncanonical(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x48, 0xb9, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x48, 0x0f, 0x07 };
	e->sys->efer |= EFER_SCE;
	run_to_handler(e, code, sizeof(code), EXC_GP);
	assert_int_equal(get64(e->ram, KSTACK - 48), 0);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE + 10);
	assert_int_equal(get64(e->ram, KSTACK - 32), KCODE);
}

/* LTR marks the TSS descriptor busy; LTR of a busy TSS -> #GP(selector) (SDM Vol. 2 LTR). */
static void test_ltr_busy(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x66, 0xb8, 0x30, 0x00, 0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xd8 };
	memset(&e->sys->tr, 0, sizeof(e->sys->tr));
	run_to_handler(e, code, sizeof(code), EXC_GP);
	assert_int_equal(e->sys->tr.sel, TSS_SEL);
	assert_int_equal(e->sys->tr.base, TSS);
	assert_int_equal(e->sys->tr.limit, 0x67);
	assert_int_equal(e->ram[GDT + TSS_SEL + 5], 0x8b);
	assert_int_equal(get64(e->ram, KSTACK - 48), TSS_SEL);
	assert_int_equal(get64(e->ram, KSTACK - 40), CODE + 7);
}

/* LSL/LAR/VERR/VERW at CPL 3 (SDM Vol. 2): descriptor reads are implicit supervisor accesses;
 * LAR = bits 23:8 of the high dword masked with 00F0FF00H; LSL of a DPL-0 TSS fails (ZF = 0,
 * destination unchanged). */
static void test_lar_lsl_user(void **state)
{
	struct env *e = *state;
	static const uint8_t ucode[] = {
		0xb8, 0x23, 0x00, 0x00, 0x00,       /* mov eax, 0x23 */
		0x0f, 0x03, 0xd8,                   /* lsl ebx, eax */
		0x0f, 0x02, 0xc8,                   /* lar ecx, eax */
		0xba, 0x30, 0x00, 0x00, 0x00,       /* mov edx, 0x30 */
		0x0f, 0x03, 0xf2,                   /* lsl esi, edx */
		0xbf, 0x28, 0x00, 0x00, 0x00,       /* mov edi, 0x28 */
		0x0f, 0x00, 0xe7, 0x0f, 0x94, 0xc0, /* verr di; setz al */
		0x0f, 0x00, 0xef, 0x0f, 0x94, 0xc4, /* verw di; setz ah */
		0xcd, 0x40,                         /* int 0x40 */
	};
	set_gate(e, 0x40, HANDLER(0x40), KCODE, 0xe, 3, 0, true);
	e->cpu.gpr[6] = 0x1234;
	run_user_to_handler(e, ucode, sizeof(ucode), 0x40);
	assert_int_equal(e->cpu.gpr[3], 0xffffffff);
	assert_int_equal(e->cpu.gpr[1], 0x00c0f300);
	assert_int_equal(e->cpu.gpr[6], 0x1234);
	assert_int_equal(e->cpu.gpr[0] & 0xffff, 0x0001);
}

/* SGDT/SIDT store limit and 64-bit base; LIDT loads them (SDM Vol. 2 LGDT/SGDT). */
static void test_sgdt_lidt(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = {
		0x0f, 0x01, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, /* sgdt [0x20000] */
		0x0f, 0x01, 0x0c, 0x25, 0x10, 0x00, 0x02, 0x00, /* sidt [0x20010] */
		0x0f, 0x01, 0x1c, 0x25, 0x20, 0x00, 0x02, 0x00, /* lidt [0x20020] */
		0xcd, 0x40,                                     /* int 0x40 (new IDT) */
	};
	static const uint8_t newidt[10] = { 0xff, 0x0f, 0x00, 0x60, 0, 0, 0, 0, 0, 0 };
	memcpy(e->ram + DATA + 0x20, newidt, sizeof(newidt));
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_memory_equal(e->ram + DATA, "\x3f\x00\x00\x50\x00\x00\x00\x00\x00\x00", 10);
	assert_memory_equal(e->ram + DATA + 0x10, "\xff\x0f\x00\x60\x00\x00\x00\x00\x00\x00", 10);
	assert_int_equal(e->sys->idtr.base, 0x6000);
	assert_int_equal(e->sys->idtr.limit, 0xfff);
}

/* SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE (SDM Vol. 2 SWAPGS). */
static void test_swapgs(void **state)
{
	struct env *e = *state;
	static const uint8_t code[] = { 0x0f, 0x01, 0xf8, 0xcd, 0x40 };
	e->cpu.gs_base = 0x2222;
	e->sys->kernel_gs_base = 0x1111;
	run_to_handler(e, code, sizeof(code), 0x40);
	assert_int_equal(e->cpu.gs_base, 0x1111);
	assert_int_equal(e->sys->kernel_gs_base, 0x2222);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_int_same_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trap_gate_keeps_if, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate_not_present, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_fault_cr2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_int_stack_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_int_dpl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pf_pf_double_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triple_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_ext_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nmi_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iret_rpl_below_cpl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syscall_sysret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysret_noncanonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ltr_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lar_lsl_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sgdt_lidt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapgs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
