/* SPDX-License-Identifier: MIT */
/*
 * Multiply and divide: MUL, IMUL (one, two and three operands), DIV, IDIV (Intel SDM Vol. 2).
 *
 * MUL/IMUL: CF = OF = "the upper half is significant"; SF ZF AF PF are undefined by the SDM.
 * We write what the host Intel core does (see flags_mul). DIV/IDIV: every arithmetic flag is
 * undefined; Intel cores leave them unchanged, and so do we. #DE (SDM Vol. 3A 6.15, vector 0) on a zero divisor
 * or a quotient that does not fit the destination, raised before anything is written.
 */
#include <stdbool.h>

#include "cpu.h"

/* Source operand (op[0] for the one-operand forms, op[1]/op[2] otherwise) at @size. */
static inline uint64_t src_read(struct vcpu *cpu, const struct insn *in, int i, unsigned size)
{
	const struct operand *o = &in->op[i];
	if (likely(o->kind == OPK_GPR))
		return gpr_read(cpu, o);
	if (o->kind == OPK_MEM)
		return mem_read_sz(cpu, op_ea(cpu, in, o), size);
	if (o->kind == OPK_IMM)
		return (uint64_t)o->disp & size_mask(size);
	cpu_ud(cpu);
}

/*
 * Flags after MUL/IMUL. CF = OF = @ovf. The SDM leaves SF ZF AF PF undefined; Intel cores
 * (measured on the host) set SF from the sign of the low half of the product, PF from its low
 * byte, and clear ZF and AF.
 */
static inline void flags_mul(struct vcpu *cpu, uint64_t lo, unsigned size, bool ovf)
{
	uint64_t f = flags_szp(lo, size) & ~(uint64_t)FLAG_ZF;
	if (ovf)
		f |= FLAG_CF | FLAG_OF;
	set_flags(cpu, FLAGS_ARITH, f);
}

static void op_mul(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->op[0].size;
	uint64_t b = src_read(cpu, in, 0, size);
	uint64_t a = cpu->gpr[R_RAX] & size_mask(size);
	uint64_t lo, hi;
	switch (size) {
	case 1: {
		uint64_t p = a * b;
		gpr_set(cpu, R_RAX, 2, p); /* AX = AL * r/m8 */
		lo = p & 0xff;
		hi = p >> 8;
		break;
	}
	case 2:
	case 4: {
		uint64_t p = a * b;
		lo = p & size_mask(size);
		hi = p >> (size * 8);
		gpr_set(cpu, R_RAX, size, lo);
		gpr_set(cpu, R_RDX, size, hi);
		break;
	}
	default: {
		unsigned __int128 p = (unsigned __int128)a * b;
		lo = (uint64_t)p;
		hi = (uint64_t)(p >> 64);
		cpu->gpr[R_RAX] = lo;
		cpu->gpr[R_RDX] = hi;
		break;
	}
	}
	flags_mul(cpu, lo, size, hi != 0);
}

/* One-operand IMUL: signed RDX:RAX-style widening multiply. */
static void imul1(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->op[0].size;
	int64_t b = sext(src_read(cpu, in, 0, size), size);
	int64_t a = sext(cpu->gpr[R_RAX], size);
	uint64_t lo;
	bool ovf;
	switch (size) {
	case 1: {
		int64_t p = a * b;
		gpr_set(cpu, R_RAX, 2, (uint64_t)p);
		lo = (uint64_t)p & 0xff;
		ovf = p != (int8_t)p;
		break;
	}
	case 2:
	case 4: {
		int64_t p = a * b;
		lo = (uint64_t)p & size_mask(size);
		gpr_set(cpu, R_RAX, size, lo);
		gpr_set(cpu, R_RDX, size, (uint64_t)(p >> (size * 8)));
		ovf = p != sext((uint64_t)p, size);
		break;
	}
	default: {
		__int128 p = (__int128)a * b;
		lo = (uint64_t)p;
		cpu->gpr[R_RAX] = lo;
		cpu->gpr[R_RDX] = (uint64_t)((unsigned __int128)p >> 64);
		ovf = p != (int64_t)lo;
		break;
	}
	}
	flags_mul(cpu, lo, size, ovf);
}

/* IMUL r, r/m (dst *= src) and IMUL r, r/m, imm (dst = src * imm): truncated signed product. */
static void op_imul(struct vcpu *cpu, const struct insn *in)
{
	if (in->nops == 1)
		return imul1(cpu, in);
	const struct operand *d = &in->op[0];
	unsigned size = d->size;
	int64_t a, b, p;
	bool ovf;
	if (in->nops >= 3) {
		a = sext(src_read(cpu, in, 1, size), size);
		b = sext((uint64_t)in->op[2].disp, size);
	} else {
		b = sext(src_read(cpu, in, 1, size), size);
		a = sext(gpr_read(cpu, d), size);
	}
	if (size == 8) {
		ovf = __builtin_mul_overflow(a, b, &p);
	} else {
		p = a * b; /* |a|,|b| <= 2^31: fits */
		ovf = p != sext((uint64_t)p, size);
	}
	gpr_write(cpu, d, (uint64_t)p);
	flags_mul(cpu, (uint64_t)p, size, ovf);
}

static void op_div(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->op[0].size;
	uint64_t d = src_read(cpu, in, 0, size);
	if (unlikely(d == 0))
		cpu_raise(cpu, EXC_DE, 0, 0);
	switch (size) {
	case 1: {
		uint64_t n = cpu->gpr[R_RAX] & 0xffff;
		uint64_t q = n / d, r = n % d;
		if (q > 0xff)
			cpu_raise(cpu, EXC_DE, 0, 0);
		gpr_set(cpu, R_RAX, 2, (r << 8) | q);
		break;
	}
	case 2:
	case 4: {
		unsigned bits = size * 8;
		uint64_t n = ((cpu->gpr[R_RDX] & size_mask(size)) << bits) |
			     (cpu->gpr[R_RAX] & size_mask(size));
		uint64_t q = n / d, r = n % d;
		if (q > size_mask(size))
			cpu_raise(cpu, EXC_DE, 0, 0);
		gpr_set(cpu, R_RAX, size, q);
		gpr_set(cpu, R_RDX, size, r);
		break;
	}
	default: {
		uint64_t hi = cpu->gpr[R_RDX], lo = cpu->gpr[R_RAX];
		if (hi >= d) /* quotient would need more than 64 bits */
			cpu_raise(cpu, EXC_DE, 0, 0);
		unsigned __int128 n = ((unsigned __int128)hi << 64) | lo;
		cpu->gpr[R_RAX] = (uint64_t)(n / d);
		cpu->gpr[R_RDX] = (uint64_t)(n % d);
		break;
	}
	}
}

static void op_idiv(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->op[0].size;
	int64_t d = sext(src_read(cpu, in, 0, size), size);
	if (unlikely(d == 0))
		cpu_raise(cpu, EXC_DE, 0, 0);
	if (size < 8) {
		unsigned bits = size * 8;
		int64_t n;
		if (size == 1)
			n = (int16_t)cpu->gpr[R_RAX];
		else
			n = (int64_t)((((cpu->gpr[R_RDX] & size_mask(size)) << bits) |
				       (cpu->gpr[R_RAX] & size_mask(size)))
				      << (64 - 2 * bits)) >> (64 - 2 * bits);
		/* INT64_MIN / -1 (32-bit IDIV of 0x80000000:00000000) overflows in C too */
		if (unlikely(d == -1 && n == INT64_MIN))
			cpu_raise(cpu, EXC_DE, 0, 0);
		int64_t q = n / d, r = n % d;
		if (q != sext((uint64_t)q, size))
			cpu_raise(cpu, EXC_DE, 0, 0);
		if (size == 1) {
			gpr_set(cpu, R_RAX, 2, (((uint64_t)r & 0xff) << 8) | ((uint64_t)q & 0xff));
		} else {
			gpr_set(cpu, R_RAX, size, (uint64_t)q);
			gpr_set(cpu, R_RDX, size, (uint64_t)r);
		}
		return;
	}
	__int128 n = (__int128)(((unsigned __int128)cpu->gpr[R_RDX] << 64) | cpu->gpr[R_RAX]);
	/* Quotient must fit in int64_t. Check on magnitudes to avoid __int128 overflow
	 * (INT128_MIN / -1). */
	unsigned __int128 un = n < 0 ? -(unsigned __int128)n : (unsigned __int128)n;
	unsigned __int128 ud = d < 0 ? -(unsigned __int128)(__int128)d : (unsigned __int128)d;
	unsigned __int128 uq = un / ud;
	bool neg = (n < 0) != (d < 0);
	if (uq > (neg ? (unsigned __int128)1 << 63 : ((unsigned __int128)1 << 63) - 1))
		cpu_raise(cpu, EXC_DE, 0, 0);
	unsigned __int128 ur = un % ud;
	uint64_t q = neg ? -(uint64_t)uq : (uint64_t)uq;
	uint64_t r = n < 0 ? -(uint64_t)ur : (uint64_t)ur; /* remainder has the dividend's sign */
	cpu->gpr[R_RAX] = q;
	cpu->gpr[R_RDX] = r;
}

const struct insn_entry muldiv_insns[] = {
	{ ZYDIS_MNEMONIC_MUL, op_mul },
	{ ZYDIS_MNEMONIC_IMUL, op_imul },
	{ ZYDIS_MNEMONIC_DIV, op_div },
	{ ZYDIS_MNEMONIC_IDIV, op_idiv },
	{ 0, NULL },
};
