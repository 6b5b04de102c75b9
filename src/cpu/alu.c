/* SPDX-License-Identifier: MIT */
/*
 * Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT, and the
 * flag instructions CLC STC CMC CLD STD. Intel SDM Vol. 2 for each instruction; flag rules
 * from Vol. 1 Appendix A/B.
 *
 * Each mnemonic has its own handler, generated from one always-inline body with the operation
 * as a compile-time constant, so the hot path is: read source, read destination, compute,
 * write, set flags, with no operation switch at run time.
 *
 * LOCK (SDM Vol. 2 "LOCK"): allowed only on the read-modify-write forms with a memory
 * destination; otherwise #UD. Locked forms run as a compare-exchange loop on the host
 * pointer, so the flags come from the value actually replaced and other vCPU threads see one
 * atomic update.
 */
#include <stdbool.h>

#include "cpu.h"

enum alu_op { A_ADD, A_OR, A_ADC, A_SBB, A_AND, A_SUB, A_XOR, A_CMP, A_TEST };

/* Source operand value at the destination's size. Immediates are sign-extended by the decoder,
 * so they are masked here to the operation size (an imm8 of `add rax, -1` is all ones). */
static inline uint64_t src_read(struct vcpu *cpu, const struct insn *in, int i, unsigned size)
{
	const struct operand *o = &in->op[i];
	if (o->kind == OPK_IMM)
		return (uint64_t)o->disp & size_mask(size);
	if (likely(o->kind == OPK_GPR))
		return gpr_read(cpu, o);
	if (o->kind == OPK_MEM)
		return mem_read_sz(cpu, op_ea(cpu, in, o), size);
	cpu_ud(cpu);
}

/* Result of @op on a, b (cf = carry-in for ADC/SBB); flags into *f. */
static inline __attribute__((always_inline)) uint64_t alu_compute(enum alu_op op, uint64_t a,
								  uint64_t b, uint64_t cf,
								  unsigned size, uint64_t *f)
{
	uint64_t res;
	switch (op) {
	case A_ADD:
		res = a + b;
		*f = flags_add(a, b, res, size);
		break;
	case A_ADC:
		res = a + b + cf;
		*f = flags_add(a, b, res, size);
		break;
	case A_SUB:
	case A_CMP:
		res = a - b;
		*f = flags_sub(a, b, res, size);
		break;
	case A_SBB:
		res = a - b - cf;
		*f = flags_sub(a, b, res, size);
		break;
	case A_AND:
	case A_TEST:
		res = a & b;
		*f = flags_logic(res, size);
		break;
	case A_OR:
		res = a | b;
		*f = flags_logic(res, size);
		break;
	default: /* A_XOR */
		res = a ^ b;
		*f = flags_logic(res, size);
		break;
	}
	return res & size_mask(size);
}

/*
 * Atomic read-modify-write of @size bytes at host pointer @p: new = fn(old) computed by the
 * statement @COMPUTE (which reads `a` and assigns `res`) until the compare-exchange succeeds.
 * A fault (read-only page, unmapped) unwinds before anything is changed.
 */
#define ATOMIC_RMW(p, size, a, res, COMPUTE)                                                    \
	do {                                                                                    \
		switch (size) {                                                                 \
		case 1: ATOMIC_RMW_T(uint8_t, p, a, res, COMPUTE); break;                       \
		case 2: ATOMIC_RMW_T(uint16_t, p, a, res, COMPUTE); break;                      \
		case 4: ATOMIC_RMW_T(uint32_t, p, a, res, COMPUTE); break;                      \
		default: ATOMIC_RMW_T(uint64_t, p, a, res, COMPUTE); break;                     \
		}                                                                               \
	} while (0)
#define ATOMIC_RMW_T(T, p, a, res, COMPUTE)                                                     \
	do {                                                                                    \
		T *hp_ = (T *)(p);                                                              \
		T old_ = __atomic_load_n(hp_, __ATOMIC_RELAXED);                                \
		do {                                                                            \
			a = old_;                                                               \
			COMPUTE;                                                                \
		} while (!__atomic_compare_exchange_n(hp_, &old_, (T)(res), false,              \
						      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));     \
	} while (0)

static inline __attribute__((always_inline)) void alu_binop(struct vcpu *cpu,
							    const struct insn *in,
							    enum alu_op op)
{
	const struct operand *d = &in->op[0];
	const bool writes = op != A_CMP && op != A_TEST;
	unsigned size = d->size;
	uint64_t a, b, res, f, cf = cpu->rflags & FLAG_CF;

	if (likely(d->kind == OPK_GPR)) {
		if (unlikely(in->flags & INSN_LOCK))
			cpu_ud(cpu);
		b = src_read(cpu, in, 1, size);
		a = gpr_read(cpu, d);
		res = alu_compute(op, a, b, cf, size, &f);
		if (writes)
			gpr_write(cpu, d, res);
	} else if (d->kind == OPK_MEM) {
		uint64_t ea;
		if (unlikely(in->flags & INSN_LOCK)) {
			if (!writes || in->op[1].kind == OPK_MEM)
				cpu_ud(cpu);
			b = src_read(cpu, in, 1, size);
			ea = op_ea(cpu, in, d);
			void *p = gva_ptr(cpu, ea, size, 1);
			ATOMIC_RMW(p, size, a, res, res = alu_compute(op, a, b, cf, size, &f));
		} else {
			b = src_read(cpu, in, 1, size);
			ea = op_ea(cpu, in, d);
			a = mem_read_sz(cpu, ea, size);
			res = alu_compute(op, a, b, cf, size, &f);
			if (writes)
				mem_write_sz(cpu, ea, res, size);
		}
	} else {
		cpu_ud(cpu);
	}
	set_flags(cpu, FLAGS_ARITH, f);
}

#define ALU_HANDLER(name, op)                                                                   \
	static void name(struct vcpu *cpu, const struct insn *in)                                \
	{                                                                                        \
		alu_binop(cpu, in, op);                                                          \
	}
ALU_HANDLER(op_add, A_ADD)
ALU_HANDLER(op_or, A_OR)
ALU_HANDLER(op_adc, A_ADC)
ALU_HANDLER(op_sbb, A_SBB)
ALU_HANDLER(op_and, A_AND)
ALU_HANDLER(op_sub, A_SUB)
ALU_HANDLER(op_xor, A_XOR)
ALU_HANDLER(op_cmp, A_CMP)
ALU_HANDLER(op_test, A_TEST)

/* Unary operations. SDM Vol. 2: INC/DEC leave CF; NEG sets CF = (src != 0); NOT sets no flag. */
enum un_op { U_INC, U_DEC, U_NEG, U_NOT };

static inline __attribute__((always_inline)) uint64_t un_compute(enum un_op op, uint64_t a,
								 unsigned size, uint64_t *f)
{
	uint64_t res;
	switch (op) {
	case U_INC:
		res = a + 1;
		*f = flags_add(a, 1, res, size);
		break;
	case U_DEC:
		res = a - 1;
		*f = flags_sub(a, 1, res, size);
		break;
	case U_NEG:
		res = 0 - a;
		*f = flags_sub(0, a, res, size);
		break;
	default:
		res = ~a;
		*f = 0;
		break;
	}
	return res & size_mask(size);
}

static inline __attribute__((always_inline)) void alu_unop(struct vcpu *cpu,
							   const struct insn *in, enum un_op op)
{
	const struct operand *d = &in->op[0];
	unsigned size = d->size;
	uint64_t a, res, f;

	if (likely(d->kind == OPK_GPR)) {
		if (unlikely(in->flags & INSN_LOCK))
			cpu_ud(cpu);
		a = gpr_read(cpu, d);
		res = un_compute(op, a, size, &f);
		gpr_write(cpu, d, res);
	} else if (d->kind == OPK_MEM) {
		uint64_t ea = op_ea(cpu, in, d);
		if (unlikely(in->flags & INSN_LOCK)) {
			void *p = gva_ptr(cpu, ea, size, 1);
			ATOMIC_RMW(p, size, a, res, res = un_compute(op, a, size, &f));
		} else {
			a = mem_read_sz(cpu, ea, size);
			res = un_compute(op, a, size, &f);
			mem_write_sz(cpu, ea, res, size);
		}
	} else {
		cpu_ud(cpu);
	}
	switch (op) {
	case U_INC:
	case U_DEC:
		set_flags(cpu, FLAGS_ARITH & ~FLAG_CF, f);
		break;
	case U_NEG:
		set_flags(cpu, FLAGS_ARITH, f);
		break;
	default:
		break;
	}
}

static void op_inc(struct vcpu *cpu, const struct insn *in)
{
	alu_unop(cpu, in, U_INC);
}
static void op_dec(struct vcpu *cpu, const struct insn *in)
{
	alu_unop(cpu, in, U_DEC);
}
static void op_neg(struct vcpu *cpu, const struct insn *in)
{
	alu_unop(cpu, in, U_NEG);
}
static void op_not(struct vcpu *cpu, const struct insn *in)
{
	alu_unop(cpu, in, U_NOT);
}

/* Flag instructions. LOCK is #UD on them (not a read-modify-write of memory). */
static void op_clc(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	cpu->rflags &= ~(uint64_t)FLAG_CF;
}
static void op_stc(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	cpu->rflags |= FLAG_CF;
}
static void op_cmc(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	cpu->rflags ^= FLAG_CF;
}
static void op_cld(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	cpu->rflags &= ~(uint64_t)FLAG_DF;
}
static void op_std(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	cpu->rflags |= FLAG_DF;
}

const struct insn_entry alu_insns[] = {
	{ ZYDIS_MNEMONIC_ADD, op_add },
	{ ZYDIS_MNEMONIC_OR, op_or },
	{ ZYDIS_MNEMONIC_ADC, op_adc },
	{ ZYDIS_MNEMONIC_SBB, op_sbb },
	{ ZYDIS_MNEMONIC_AND, op_and },
	{ ZYDIS_MNEMONIC_SUB, op_sub },
	{ ZYDIS_MNEMONIC_XOR, op_xor },
	{ ZYDIS_MNEMONIC_CMP, op_cmp },
	{ ZYDIS_MNEMONIC_TEST, op_test },
	{ ZYDIS_MNEMONIC_INC, op_inc },
	{ ZYDIS_MNEMONIC_DEC, op_dec },
	{ ZYDIS_MNEMONIC_NEG, op_neg },
	{ ZYDIS_MNEMONIC_NOT, op_not },
	{ ZYDIS_MNEMONIC_CLC, op_clc },
	{ ZYDIS_MNEMONIC_STC, op_stc },
	{ ZYDIS_MNEMONIC_CMC, op_cmc },
	{ ZYDIS_MNEMONIC_CLD, op_cld },
	{ ZYDIS_MNEMONIC_STD, op_std },
	{ 0, NULL },
};
