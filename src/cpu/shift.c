/* SPDX-License-Identifier: MIT */
/*
 * Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD (Intel SDM Vol. 2 "SAL/SAR/SHL/SHR",
 * "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
 *
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes neither
 * the destination nor any flag. A 32-bit register destination is still written (and so
 * zero-extended to 64 bits) with a zero count, as the hardware does.
 *
 * Flags the SDM leaves undefined are produced the way current Intel cores do (measured on the
 * host, a Xeon, for every size and count): OF for a count > 1 is the SDM's count-1 formula
 * evaluated on the ORIGINAL operand (as if the instruction had shifted by one), except that
 * ROL/ROR of a register by an immediate other than 1 leave OF unchanged; AF is cleared by
 * SHL/SHR/SAR/SHLD/SHRD and untouched by the rotates; RCL/RCR by a multiple of 9 (8-bit) or
 * 17 (16-bit) change nothing at all. For flag liveness: with a nonzero count SHL/SHR/SAR/
 * SHLD/SHRD write all six arithmetic flags, the rotates only CF and (see above) OF.
 */
#include <stdbool.h>

#include "cpu.h"

/* Flags an Intel core writes for SHL/SHR/SAR with a nonzero count: CF OF SF ZF PF, AF (cleared) */
#define SHIFT_FLAGS FLAGS_ARITH
/* ROL/ROR/RCL/RCR touch only CF and OF. */
#define ROT_FLAGS (FLAG_CF | FLAG_OF)

/* Raw count operand (op[1], or op[2] for SHLD/SHRD): CL or an immediate; absent means 1. */
static inline unsigned raw_count(const struct vcpu *cpu, const struct insn *in, int i)
{
	if (in->nops <= i)
		return 1;
	const struct operand *o = &in->op[i];
	if (o->kind == OPK_IMM)
		return (unsigned)o->disp & 0xff;
	return (unsigned)cpu->gpr[o->reg] & 0xff; /* CL */
}

/* Read the destination (op[0]); for memory, *ea receives its address. */
static inline uint64_t dst_read(struct vcpu *cpu, const struct insn *in, uint64_t *ea)
{
	const struct operand *d = &in->op[0];
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	if (likely(d->kind == OPK_GPR))
		return gpr_read(cpu, d);
	if (d->kind == OPK_MEM) {
		*ea = op_ea(cpu, in, d);
		return mem_read_sz(cpu, *ea, d->size);
	}
	cpu_ud(cpu);
}

static inline void dst_write(struct vcpu *cpu, const struct insn *in, uint64_t ea, uint64_t v)
{
	const struct operand *d = &in->op[0];
	if (likely(d->kind == OPK_GPR))
		gpr_write(cpu, d, v);
	else
		mem_write_sz(cpu, ea, v, d->size);
}

/* Masked count == 0: nothing changes, except that a 32-bit register is rewritten (zero-extend). */
static inline void count_zero(struct vcpu *cpu, const struct insn *in, uint64_t a)
{
	const struct operand *d = &in->op[0];
	if (d->kind == OPK_GPR && d->size == 4)
		gpr_write(cpu, d, a);
}

static inline unsigned count_mask(unsigned size)
{
	return size == 8 ? 63 : 31;
}

static inline uint64_t msb(uint64_t v, unsigned size)
{
	return (v >> (size * 8 - 1)) & 1;
}

static void op_shl(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = raw_count(cpu, in, 1) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t res = (a << c) & size_mask(size);
	/* CF = last bit shifted out; for c > bits it is undefined by the SDM, 0 on Intel (the
	 * bit comes from beyond the zero-extended operand). */
	uint64_t cf = bits == 64 ? (a >> (64 - c)) & 1 : ((a << c) >> bits) & 1;
	dst_write(cpu, in, ea, res);
	uint64_t f = flags_szp(res, size) | (cf ? FLAG_CF : 0);
	/* OF = MSB(result) XOR CF for count 1, i.e. the XOR of the two top bits of the original. */
	if ((msb(a, size) ^ (a >> (bits - 2))) & 1)
		f |= FLAG_OF;
	set_flags(cpu, SHIFT_FLAGS, f);
}

static void op_shr(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size;
	unsigned c = raw_count(cpu, in, 1) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t res = a >> c;
	uint64_t cf = (a >> (c - 1)) & 1;
	dst_write(cpu, in, ea, res);
	uint64_t f = flags_szp(res, size) | (cf ? FLAG_CF : 0);
	/* OF = MSB(original) (SDM for count 1; Intel for every count). */
	if (msb(a, size))
		f |= FLAG_OF;
	set_flags(cpu, SHIFT_FLAGS, f);
}

static void op_sar(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size;
	unsigned c = raw_count(cpu, in, 1) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	int64_t s = sext(a, size);
	uint64_t res = (uint64_t)(s >> c) & size_mask(size);
	uint64_t cf = (uint64_t)(s >> (c - 1)) & 1;
	dst_write(cpu, in, ea, res);
	/* OF = 0 for SAR (count 1 by the SDM, every count on Intel). */
	set_flags(cpu, SHIFT_FLAGS, flags_szp(res, size) | (cf ? FLAG_CF : 0));
}

static inline uint64_t rotl(uint64_t a, unsigned r, unsigned bits)
{
	if (r == 0)
		return a;
	return ((a << r) | (a >> (bits - r))) & size_mask(bits / 8);
}

/* Intel: ROL/ROR of a register by an immediate count other than 1 leave OF unchanged (the CL
 * forms and the memory forms write it for every count). */
static inline uint64_t rot_flags(const struct insn *in, unsigned c)
{
	if (in->op[0].kind == OPK_GPR && in->nops > 1 && in->op[1].kind == OPK_IMM && c != 1)
		return FLAG_CF;
	return ROT_FLAGS;
}

static void op_rol(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = raw_count(cpu, in, 1) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t res = rotl(a, c & (bits - 1), bits);
	dst_write(cpu, in, ea, res);
	/* CF = LSB(result); OF = MSB(result) XOR CF for count 1 = XOR of the original's two top
	 * bits, which Intel uses for any count. */
	uint64_t cf = res & 1;
	uint64_t f = (cf ? FLAG_CF : 0) | ((msb(a, size) ^ (a >> (bits - 2))) & 1 ? FLAG_OF : 0);
	set_flags(cpu, rot_flags(in, c), f);
}

static void op_ror(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = raw_count(cpu, in, 1) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	unsigned r = c & (bits - 1);
	uint64_t res = rotl(a, r ? bits - r : 0, bits);
	dst_write(cpu, in, ea, res);
	/* CF = MSB(result); OF = XOR of the two top result bits for count 1, i.e. LSB XOR MSB of
	 * the original, which Intel uses for any count. */
	uint64_t cf = msb(res, size);
	uint64_t f = (cf ? FLAG_CF : 0) | ((msb(a, size) ^ a) & 1 ? FLAG_OF : 0);
	set_flags(cpu, rot_flags(in, c), f);
}

/* RCL/RCR count: 5 bits (6 for 64-bit), then modulo 9 / 17 for 8- / 16-bit operands. */
static inline unsigned rc_count(unsigned raw, unsigned size)
{
	unsigned c = raw & count_mask(size);
	if (size == 1)
		return c % 9;
	if (size == 2)
		return c % 17;
	return c;
}

static void op_rcl(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = rc_count(raw_count(cpu, in, 1), size);
	/* count 0, or a multiple of 9 / 17: nothing changes, OF included (Intel) */
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t cf = cpu->rflags & FLAG_CF;
	uint64_t res;
	/* OF = MSB(result) XOR CF for count 1 = XOR of the original's two top bits; Intel uses
	 * that for any count (also when the count is a multiple of 9/17). */
	uint64_t of = (msb(a, size) ^ (a >> (bits - 2))) & 1;
	/* rotate the (bits+1)-bit value CF:a left by c */
	unsigned __int128 v = ((unsigned __int128)cf << bits) | a;
	unsigned __int128 r = (v << c) | (v >> (bits + 1 - c));
	res = (uint64_t)r & size_mask(size);
	cf = (uint64_t)(r >> bits) & 1;
	dst_write(cpu, in, ea, res);
	uint64_t f = (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0);
	set_flags(cpu, ROT_FLAGS, f);
}

static void op_rcr(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = rc_count(raw_count(cpu, in, 1), size);
	/* count 0, or a multiple of 9 / 17: nothing changes, OF included (Intel) */
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t cf = cpu->rflags & FLAG_CF;
	uint64_t res;
	/* OF = MSB(dest) XOR CF before the rotation (SDM for count 1; Intel for any count). */
	uint64_t of = msb(a, size) ^ cf;
	unsigned __int128 v = ((unsigned __int128)cf << bits) | a;
	unsigned __int128 r = (v >> c) | (v << (bits + 1 - c));
	res = (uint64_t)r & size_mask(size);
	cf = (uint64_t)(r >> bits) & 1;
	dst_write(cpu, in, ea, res);
	uint64_t f = (cf ? FLAG_CF : 0) | (of ? FLAG_OF : 0);
	set_flags(cpu, ROT_FLAGS, f);
}

/*
 * SHLD/SHRD. For a 16-bit operand with count > 16 the SDM leaves result and flags undefined;
 * Intel cores (P6 and later) shift the 48-bit value dest:src:dest, which is what we do
 * (same as Bochs). OF for count > 1: the count-1 formula on the original operands, as on
 * Intel. AF: undefined, cleared.
 */
static void op_shld(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = raw_count(cpu, in, 2) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t b = gpr_read(cpu, &in->op[1]);
	uint64_t res, cf;
	if (bits == 16) {
		uint64_t w = (a << 32) | (b << 16) | a; /* 48 bits */
		res = ((w << c) >> 32) & 0xffff;
		cf = (w >> (48 - c)) & 1;
	} else {
		res = ((a << c) | (b >> (bits - c))) & size_mask(size);
		cf = (a >> (bits - c)) & 1;
	}
	dst_write(cpu, in, ea, res);
	uint64_t f = flags_szp(res, size) | (cf ? FLAG_CF : 0);
	/* OF: sign change for count 1 = XOR of the original's two top bits */
	if ((msb(a, size) ^ (a >> (bits - 2))) & 1)
		f |= FLAG_OF;
	set_flags(cpu, SHIFT_FLAGS, f);
}

static void op_shrd(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = 0, a = dst_read(cpu, in, &ea);
	unsigned size = in->op[0].size, bits = size * 8;
	unsigned c = raw_count(cpu, in, 2) & count_mask(size);
	if (unlikely(c == 0))
		return count_zero(cpu, in, a);
	uint64_t b = gpr_read(cpu, &in->op[1]);
	uint64_t res, cf;
	if (bits == 16) {
		uint64_t w = (a << 32) | (b << 16) | a; /* 48 bits: dest:src:dest */
		res = (w >> c) & 0xffff;
		cf = (w >> (c - 1)) & 1;
	} else {
		res = ((a >> c) | (b << (bits - c))) & size_mask(size);
		cf = (a >> (c - 1)) & 1;
	}
	dst_write(cpu, in, ea, res);
	uint64_t f = flags_szp(res, size) | (cf ? FLAG_CF : 0);
	/* OF: sign change for count 1 = MSB(dest) XOR LSB(src) */
	if ((msb(a, size) ^ b) & 1)
		f |= FLAG_OF;
	set_flags(cpu, SHIFT_FLAGS, f);
}

const struct insn_entry shift_insns[] = {
	{ ZYDIS_MNEMONIC_SHL, op_shl },
	{ ZYDIS_MNEMONIC_SHR, op_shr },
	{ ZYDIS_MNEMONIC_SAR, op_sar },
	{ ZYDIS_MNEMONIC_ROL, op_rol },
	{ ZYDIS_MNEMONIC_ROR, op_ror },
	{ ZYDIS_MNEMONIC_RCL, op_rcl },
	{ ZYDIS_MNEMONIC_RCR, op_rcr },
	{ ZYDIS_MNEMONIC_SHLD, op_shld },
	{ ZYDIS_MNEMONIC_SHRD, op_shrd },
	{ 0, NULL },
};
