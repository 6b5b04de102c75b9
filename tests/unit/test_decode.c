/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the decoder's output form (src/cpu/decode.c: cpu_decode_one): length, mnemonic,
 * operand kinds/sizes/registers, prefixes, and the resolution of RIP-relative memory operands
 * and relative branch targets to absolute addresses (src/cpu/cpu.h documents the form).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpu/cpu.h"

#define DECODE(gva, ...)                                                              \
	({                                                                            \
		static const uint8_t b_[] = { __VA_ARGS__ };                          \
		memset(&in, 0xa5, sizeof(in));                                        \
		assert_int_equal(cpu_decode_one(b_, sizeof(b_), (gva), &in), 0);     \
		assert_int_equal(in.len, sizeof(b_));                                 \
	})

static void test_reg_reg(void **state)
{
	struct insn in;
	DECODE(0x1000, 0x48, 0x01, 0xd8); /* add rax, rbx */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_ADD);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.nops, 2);
	assert_int_equal(in.op[0].kind, OPK_GPR);
	assert_int_equal(in.op[0].reg, R_RAX);
	assert_int_equal(in.op[0].size, 8);
	assert_int_equal(in.op[1].kind, OPK_GPR);
	assert_int_equal(in.op[1].reg, R_RBX);
	assert_int_equal(in.flags & (INSN_LOCK | INSN_REP | INSN_REPNE | INSN_ASIZE32), 0);

	DECODE(0x1000, 0x66, 0x45, 0x01, 0xc8); /* add r8w, r9w */
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.op[0].reg, R_R8);
	assert_int_equal(in.op[0].size, 2);
	assert_int_equal(in.op[1].reg, R_R9);
	assert_int_equal(in.op[1].size, 2);
}

static void test_high_byte_regs(void **state)
{
	struct insn in;
	DECODE(0x1000, 0x88, 0xe3); /* mov bl, ah */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_MOV);
	assert_int_equal(in.op[0].kind, OPK_GPR);
	assert_int_equal(in.op[0].reg, R_RBX);
	assert_int_equal(in.op[0].size, 1);
	assert_false(in.op[0].hi8);
	assert_int_equal(in.op[1].reg, R_RAX);
	assert_int_equal(in.op[1].size, 1);
	assert_true(in.op[1].hi8);

	DECODE(0x1000, 0x40, 0x88, 0xe3); /* mov bl, spl (REX: no high-byte registers) */
	assert_int_equal(in.op[1].reg, R_RSP);
	assert_false(in.op[1].hi8);
}

static void test_immediates(void **state)
{
	struct insn in;
	DECODE(0x1000, 0x48, 0x83, 0xc0, 0xff); /* add rax, -1 (imm8 sign-extended) */
	assert_int_equal(in.op[1].kind, OPK_IMM);
	assert_int_equal(in.op[1].disp, -1);
	DECODE(0x1000, 0x48, 0x05, 0x00, 0x00, 0x00, 0x80); /* add rax, imm32 -> -2^31 */
	assert_int_equal(in.op[1].kind, OPK_IMM);
	assert_int_equal(in.op[1].disp, -0x80000000LL);
	DECODE(0x1000, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 0x88); /* mov rax, imm64 */
	assert_int_equal((uint64_t)in.op[1].disp, 0x8807060504030201ULL);
}

static void test_memory_operands(void **state)
{
	struct insn in;
	DECODE(0x1000, 0x48, 0x8d, 0x44, 0x8e, 0x10); /* lea rax, [rsi+rcx*4+0x10] */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_LEA);
	assert_int_equal(in.op[1].kind, OPK_MEM);
	assert_int_equal(in.op[1].base, R_RSI);
	assert_int_equal(in.op[1].index, R_RCX);
	assert_int_equal(in.op[1].scale, 4);
	assert_int_equal(in.op[1].disp, 0x10);
	assert_int_equal(in.op[1].seg, SEG_NONE);

	DECODE(0x1000, 0x8b, 0x47, 0xf8); /* mov eax, [rdi-8] */
	assert_int_equal(in.op[1].kind, OPK_MEM);
	assert_int_equal(in.op[1].size, 4);
	assert_int_equal(in.op[1].base, R_RDI);
	assert_int_equal(in.op[1].index, REG_NONE);
	assert_int_equal(in.op[1].disp, -8);

	DECODE(0x1000, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0); /* mov rax, fs:[0x28] */
	assert_int_equal(in.op[1].kind, OPK_MEM);
	assert_int_equal(in.op[1].seg, SEG_FS);
	assert_int_equal(in.op[1].base, REG_NONE);
	assert_int_equal(in.op[1].index, REG_NONE);
	assert_int_equal(in.op[1].disp, 0x28);

	DECODE(0x1000, 0x67, 0x8b, 0x06); /* mov eax, [esi] */
	assert_true(in.flags & INSN_ASIZE32);
	assert_int_equal(in.op[1].base, R_RSI);
}

static void test_rip_relative(void **state)
{
	struct insn in;
	/* mov rax, [rip+0x10] at 0x401000: next RIP 0x401007, EA 0x401017 */
	DECODE(0x401000, 0x48, 0x8b, 0x05, 0x10, 0, 0, 0);
	assert_int_equal(in.op[1].kind, OPK_MEM);
	assert_int_equal(in.op[1].base, REG_NONE);
	assert_int_equal(in.op[1].index, REG_NONE);
	assert_int_equal(in.op[1].disp, 0x401017);
	assert_int_equal(in.op[1].size, 8);
	/* lea rdi, [rip-0x20] at 0x7fff0000: 0x7fff0007 - 0x20 */
	DECODE(0x7fff0000, 0x48, 0x8d, 0x3d, 0xe0, 0xff, 0xff, 0xff);
	assert_int_equal(in.op[1].disp, 0x7fff0007 - 0x20);
	/* RIP-relative with an immediate after the displacement: cmp byte [rip+0], 1 (len 7) */
	DECODE(0x5000, 0x80, 0x3d, 0, 0, 0, 0, 0x01);
	assert_int_equal(in.op[0].disp, 0x5007);
	assert_int_equal(in.op[1].kind, OPK_IMM);
	assert_int_equal(in.op[1].disp, 1);
}

static void test_relative_branches(void **state)
{
	struct insn in;
	DECODE(0x2000, 0xe8, 0x00, 0x01, 0x00, 0x00); /* call +0x100 */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_CALL);
	assert_int_equal(in.op[0].kind, OPK_IMM);
	assert_int_equal(in.op[0].disp, 0x2105);
	DECODE(0x3000, 0x74, 0xfe); /* jz $ */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_JZ);
	assert_int_equal(in.op[0].disp, 0x3000);
	DECODE(0x3000, 0x0f, 0x85, 0x00, 0xf0, 0xff, 0xff); /* jnz -0x1000 */
	assert_int_equal(in.op[0].disp, 0x3006 - 0x1000);
}

static void test_prefixes(void **state)
{
	struct insn in;
	DECODE(0x1000, 0xf0, 0x48, 0x0f, 0xc1, 0x17); /* lock xadd [rdi], rdx */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_XADD);
	assert_true(in.flags & INSN_LOCK);
	assert_int_equal(in.op[0].kind, OPK_MEM);
	assert_int_equal(in.op[0].base, R_RDI);
	assert_int_equal(in.op[0].size, 8);
	assert_int_equal(in.op[1].reg, R_RDX);

	DECODE(0x1000, 0xf3, 0xa4); /* rep movsb */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_MOVSB);
	assert_true(in.flags & INSN_REP);
	assert_false(in.flags & INSN_REPNE);
	DECODE(0x1000, 0xf2, 0xae); /* repne scasb */
	assert_true(in.flags & INSN_REPNE);
}

static void test_simd_and_x87(void **state)
{
	struct insn in;
	DECODE(0x1000, 0x66, 0x41, 0x0f, 0xfe, 0xc1); /* paddd xmm0, xmm9 */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_PADDD);
	assert_int_equal(in.op[0].kind, OPK_XMM);
	assert_int_equal(in.op[0].reg, 0);
	assert_int_equal(in.op[0].size, 16);
	assert_int_equal(in.op[1].kind, OPK_XMM);
	assert_int_equal(in.op[1].reg, 9);

	DECODE(0x1000, 0x0f, 0xfe, 0xca); /* paddd mm1, mm2 */
	assert_int_equal(in.op[0].kind, OPK_MMX);
	assert_int_equal(in.op[0].reg, 1);
	assert_int_equal(in.op[0].size, 8);

	DECODE(0x1000, 0x0f, 0x28, 0x46, 0x20); /* movaps xmm0, [rsi+0x20] */
	assert_int_equal(in.op[1].kind, OPK_MEM);
	assert_int_equal(in.op[1].size, 16);

	DECODE(0x1000, 0xd8, 0xc1); /* fadd st0, st1 */
	assert_int_equal(in.mnemonic, ZYDIS_MNEMONIC_FADD);
	assert_int_equal(in.op[0].kind, OPK_ST);
	assert_int_equal(in.op[0].reg, 0);
	assert_int_equal(in.op[1].kind, OPK_ST);
	assert_int_equal(in.op[1].reg, 1);
}

static void test_invalid(void **state)
{
	struct insn in;
	static const uint8_t push_es[] = { 0x06 };    /* invalid in 64-bit mode */
	static const uint8_t truncated[] = { 0x48, 0x8b }; /* mov without ModRM */
	static const uint8_t too_long[16] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					      0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90 };
	assert_true(cpu_decode_one(push_es, sizeof(push_es), 0x1000, &in) < 0);
	assert_true(cpu_decode_one(truncated, sizeof(truncated), 0x1000, &in) < 0);
	/* 14 prefixes + NOP = 15 bytes is the limit; 15 prefixes + NOP exceeds it (SDM Vol. 2 2.3.11) */
	assert_int_equal(cpu_decode_one(too_long + 1, 15, 0x1000, &in), 0);
	assert_int_equal(in.len, 15);
	assert_true(cpu_decode_one(too_long, 16, 0x1000, &in) < 0);
}

static void test_disasm(void **state)
{
	static const uint8_t b[] = { 0x48, 0x01, 0xd8 };
	char buf[64];
	cpu_disasm(b, sizeof(b), 0x1000, buf, sizeof(buf));
	assert_string_equal(buf, "add rax, rbx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reg_reg),
		cmocka_unit_test(test_high_byte_regs),
		cmocka_unit_test(test_immediates),
		cmocka_unit_test(test_memory_operands),
		cmocka_unit_test(test_rip_relative),
		cmocka_unit_test(test_relative_branches),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_simd_and_x87),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_disasm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
