/* SPDX-License-Identifier: MIT */
/*
 * Specialised handlers for the hottest instruction forms, chosen once at decode time.
 *
 * The class handlers (alu.c, datamov.c, ...) are general: they switch on operand kinds and
 * sizes and always compute flags. Here, forms that dominate real programs (register and
 * immediate ALU operations, moves, shifts by a constant, LEA, MOVZX) get a handler with the
 * operand kinds and size fixed, and a "no flags" variant used when the decoder's flag-liveness
 * pass (decode.c) proved that every flag the instruction writes is overwritten later in the
 * same block before anything reads it. Results are identical to the class handlers; the
 * differential tests exercise these handlers because they go through the same decoder.
 */
#include "cpu.h"

#define R0 (cpu->gpr[in->op[0].reg])
#define R1 (cpu->gpr[in->op[1].reg])
#define IMM1 ((uint64_t)in->op[1].disp)
#define EA0 op_ea(cpu, in, &in->op[0])
#define EA1 op_ea(cpu, in, &in->op[1])

/*
 * Threaded dispatch: a specialised handler ends by jumping straight to the next instruction's
 * handler (a sibling call), unless it is the block's last or the vCPU must stop. exec.c's loop
 * picks up from cpu->cur when a chain ends in a class handler.
 */
#define NEXT(check_exit)                                                                        \
	do {                                                                                    \
		const struct insn *n_ = in + 1;                                                 \
		if ((in->flags & INSN_LAST) || ((check_exit) && unlikely(cpu->exit_request)))   \
			return;                                                                 \
		cpu->cur = n_;                                                                  \
		cpu->rip = cpu->blk_gva + n_->end_off;                                          \
		n_->fn(cpu, n_);                                                                \
	} while (0)

/*
 * FN: a handler that does not write guest memory; FN_ST: one that may, and so may have hit a
 * page of decoded code (mem.c then sets exit_request so the stale rest of the block is not run).
 * Kicks are noticed at the block's end (chain() and the loop check exit_request there).
 */
#define FN_GEN(name, check_exit)                                                                \
	static inline __attribute__((always_inline)) void name##_body(struct vcpu *cpu,         \
								       const struct insn *in); \
	static void name(struct vcpu *cpu, const struct insn *in)                               \
	{                                                                                       \
		name##_body(cpu, in);                                                           \
		NEXT(check_exit);                                                               \
	}                                                                                       \
	static inline __attribute__((always_inline)) void name##_body(struct vcpu *cpu,         \
								       const struct insn *in)
#define FN(name) FN_GEN(name, 0)
#define FN_ST(name) FN_GEN(name, 1)

/* ---- moves ------------------------------------------------------------------------------ */
FN(mov64_rr) { R0 = R1; }
FN(mov32_rr) { R0 = (uint32_t)R1; }
FN(mov64_ri) { R0 = IMM1; }
FN(mov32_ri) { R0 = (uint32_t)IMM1; }
FN(mov64_rm) { R0 = mem_read64(cpu, EA1); }
FN(mov32_rm) { R0 = mem_read32(cpu, EA1); }
FN_ST(mov64_mr) { mem_write64(cpu, EA0, R1); }
FN_ST(mov32_mr) { mem_write32(cpu, EA0, (uint32_t)R1); }
FN_ST(mov64_mi) { mem_write64(cpu, EA0, IMM1); }
FN_ST(mov32_mi) { mem_write32(cpu, EA0, (uint32_t)IMM1); }
FN(movzx_r_m8) { R0 = mem_read8(cpu, EA1); }
FN(movzx_r_m16) { R0 = mem_read16(cpu, EA1); }
FN(movzx_r_r8) { R0 = (uint8_t)R1; }
FN(movzx_r_r16) { R0 = (uint16_t)R1; }
FN(lea64) { R0 = op_agen(cpu, in, &in->op[1]); }
FN(lea32) { R0 = (uint32_t)op_agen(cpu, in, &in->op[1]); }
FN(nop) { }

/* ---- ALU ---------------------------------------------------------------------------------- */
/* Register write at a fixed size with the x86-64 rules (32-bit zero-extends, 8/16-bit merge). */
static inline void wr_sz(struct vcpu *cpu, const struct insn *in, uint64_t v, unsigned size)
{
	uint64_t *r = &R0;
	switch (size) {
	case 8: *r = v; break;
	case 4: *r = (uint32_t)v; break;
	case 2: *r = (*r & ~0xffffULL) | (v & 0xffff); break;
	default: *r = (*r & ~0xffULL) | (v & 0xff); break;
	}
}

#define LOGIC_FLAGS(a, b, r, size) flags_logic(r, size)
#define OP_add(a, b) ((a) + (b))
#define OP_sub(a, b) ((a) - (b))
#define OP_and(a, b) ((a) & (b))
#define OP_or(a, b) ((a) | (b))
#define OP_xor(a, b) ((a) ^ (b))
#define OP_cmp OP_sub
#define OP_test OP_and
#define FL_add flags_add
#define FL_sub flags_sub
#define FL_cmp flags_sub
#define FL_and LOGIC_FLAGS
#define FL_or LOGIC_FLAGS
#define FL_xor LOGIC_FLAGS
#define FL_test LOGIC_FLAGS
#define WB_add 1
#define WB_sub 1
#define WB_and 1
#define WB_or 1
#define WB_xor 1
#define WB_cmp 0
#define WB_test 0

/* Operand fetchers by form; m = memory at op[1] (xx_rm) or op[0] (xx_mr, xx_mi). */
#define SRC_rr(sz) (R1 & size_mask(sz))
#define SRC_ri(sz) (IMM1 & size_mask(sz))
#define SRC_rm(sz) mem_read_sz(cpu, EA1, sz)

/* dst is a register: forms rr, ri, rm; with flags (F) and without (NF) */
#define ALU_R(op, sz, form)                                                                     \
	FN(op##sz##_##form) {                                                                   \
		uint64_t b = SRC_##form(sz), a = R0 & size_mask(sz);                            \
		uint64_t r = OP_##op(a, b) & size_mask(sz);                                      \
		set_flags(cpu, FLAGS_ARITH, FL_##op(a, b, r, sz));                              \
		if (WB_##op)                                                                    \
			wr_sz(cpu, in, r, sz);                                                  \
	}                                                                                       \
	FN(op##sz##_##form##_nf) {                                                              \
		uint64_t b = SRC_##form(sz), a = R0;                                            \
		if (WB_##op)                                                                    \
			wr_sz(cpu, in, OP_##op(a, b), sz);                                      \
	}
/* dst is memory, source a register (mr) or an immediate (mi) */
#define ALU_M(op, sz, form, SRC)                                                                \
	FN_ST(op##sz##_##form) {                                                                   \
		uint64_t ea = EA0, b = SRC & size_mask(sz), a = mem_read_sz(cpu, ea, sz);        \
		uint64_t r = OP_##op(a, b) & size_mask(sz);                                      \
		if (WB_##op)                                                                    \
			mem_write_sz(cpu, ea, r, sz);                                           \
		set_flags(cpu, FLAGS_ARITH, FL_##op(a, b, r, sz));                              \
	}                                                                                       \
	FN_ST(op##sz##_##form##_nf) {                                                           \
		uint64_t ea = EA0, b = SRC, a = mem_read_sz(cpu, ea, sz);                        \
		if (WB_##op)                                                                    \
			mem_write_sz(cpu, ea, OP_##op(a, b), sz);                               \
	}
#define ALU_SIZE(op, sz)                                                                        \
	ALU_R(op, sz, rr) ALU_R(op, sz, ri) ALU_R(op, sz, rm)                                   \
	ALU_M(op, sz, mr, R1) ALU_M(op, sz, mi, IMM1)
#define ALU_ALL(op) ALU_SIZE(op, 1) ALU_SIZE(op, 2) ALU_SIZE(op, 4) ALU_SIZE(op, 8)
ALU_ALL(add)
ALU_ALL(sub)
ALU_ALL(and)
ALU_ALL(or)
ALU_ALL(xor)
ALU_ALL(cmp)
ALU_ALL(test)

#define TABLE_SIZE(op, sz)                                                                      \
	{ { NULL, op##sz##_rr, op##sz##_ri, op##sz##_rm, op##sz##_mr, op##sz##_mi },            \
	  { NULL, op##sz##_rr_nf, op##sz##_ri_nf, op##sz##_rm_nf, op##sz##_mr_nf, op##sz##_mi_nf } }
#define TABLE(op)                                                                               \
	static const insn_fn op##_table[4][2][6] = { TABLE_SIZE(op, 1), TABLE_SIZE(op, 2),      \
						     TABLE_SIZE(op, 4), TABLE_SIZE(op, 8) };
TABLE(add)
TABLE(sub)
TABLE(and)
TABLE(or)
TABLE(xor)
TABLE(cmp)
TABLE(test)

/* INC/DEC keep CF (SDM Vol. 2 INC, DEC); NEG sets CF = (src != 0) */
#define INCDEC(sz)                                                                              \
	FN(inc##sz) { uint64_t a = R0 & size_mask(sz), r = (a + 1) & size_mask(sz);             \
		set_flags(cpu, FLAGS_ARITH & ~FLAG_CF, flags_add(a, 1, r, sz)); wr_sz(cpu, in, r, sz); } \
	FN(dec##sz) { uint64_t a = R0 & size_mask(sz), r = (a - 1) & size_mask(sz);             \
		set_flags(cpu, FLAGS_ARITH & ~FLAG_CF, flags_sub(a, 1, r, sz)); wr_sz(cpu, in, r, sz); } \
	FN(inc##sz##_nf) { wr_sz(cpu, in, R0 + 1, sz); }                                        \
	FN(dec##sz##_nf) { wr_sz(cpu, in, R0 - 1, sz); }                                        \
	FN(neg##sz##_nf) { wr_sz(cpu, in, -R0, sz); }
INCDEC(1)
INCDEC(2)
INCDEC(4)
INCDEC(8)

/* 8- and 16-bit moves */
FN(mov16_rr) { wr_sz(cpu, in, R1, 2); }
FN(mov8_rr) { wr_sz(cpu, in, R1, 1); }
FN(mov16_ri) { wr_sz(cpu, in, IMM1, 2); }
FN(mov8_ri) { wr_sz(cpu, in, IMM1, 1); }
FN(mov16_rm) { wr_sz(cpu, in, mem_read16(cpu, EA1), 2); }
FN(mov8_rm) { wr_sz(cpu, in, mem_read8(cpu, EA1), 1); }
FN_ST(mov16_mr) { mem_write16(cpu, EA0, (uint16_t)R1); }
FN_ST(mov8_mr) { mem_write8(cpu, EA0, (uint8_t)R1); }
FN_ST(mov16_mi) { mem_write16(cpu, EA0, (uint16_t)IMM1); }
FN_ST(mov8_mi) { mem_write8(cpu, EA0, (uint8_t)IMM1); }
FN(movsx64_m32) { R0 = (uint64_t)(int64_t)(int32_t)mem_read32(cpu, EA1); }
FN(movsx64_r32) { R0 = (uint64_t)(int64_t)(int32_t)R1; }

/* ---- shifts and rotates by a nonzero constant, flags dead -------------------------------- */
/* The decoder guarantees 0 < count < width, so none of these shifts is undefined in C. */
#define CNT ((unsigned)in->op[1].disp)
FN(shl64_nf) { R0 = R0 << CNT; }
FN(shl32_nf) { R0 = (uint32_t)(R0 << CNT); }
FN(shr64_nf) { R0 = R0 >> CNT; }
FN(shr32_nf) { R0 = (uint32_t)R0 >> CNT; }
FN(sar64_nf) { R0 = (uint64_t)((int64_t)R0 >> CNT); }
FN(sar32_nf) { R0 = (uint32_t)((int32_t)R0 >> CNT); }
FN(rol64_nf) { R0 = (R0 << CNT) | (R0 >> (64 - CNT)); }
FN(rol32_nf) { uint32_t v = (uint32_t)R0; R0 = (uint32_t)((v << CNT) | (v >> (32 - CNT))); }
FN(ror64_nf) { R0 = (R0 >> CNT) | (R0 << (64 - CNT)); }
FN(ror32_nf) { uint32_t v = (uint32_t)R0; R0 = (uint32_t)((v >> CNT) | (v << (32 - CNT))); }

enum form { F_NONE, F_RR, F_RI, F_RM, F_MR, F_MI };

static int plain_gpr(const struct operand *o, unsigned size)
{
	return o->kind == OPK_GPR && !o->hi8 && o->size == size;
}

static enum form form_of(const struct insn *in, unsigned size)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	if (in->nops != 2 || (in->flags & INSN_LOCK))
		return F_NONE;
	if (plain_gpr(d, size)) {
		if (plain_gpr(s, size))
			return F_RR;
		if (s->kind == OPK_IMM)
			return F_RI;
		if (s->kind == OPK_MEM && s->size == size)
			return F_RM;
	} else if (d->kind == OPK_MEM && d->size == size) {
		if (plain_gpr(s, size))
			return F_MR;
		if (s->kind == OPK_IMM)
			return F_MI;
	}
	return F_NONE;
}

static int size_index(unsigned size)
{
	return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

/* ---- control transfers with block chaining ------------------------------------------------ */
/*
 * After a branch, continue straight into the target block when this vCPU's jump cache has it,
 * instead of returning to the dispatch loop (block chaining through the cache).
 */
static inline __attribute__((always_inline)) void chain(struct vcpu *cpu)
{
	struct block *b;
	const struct insn *n;
	if (unlikely(cpu->exit_request) || cpu->chain_budget-- == 0)
		return;
	b = cpu->jcache[jcache_index(cpu->rip)];
	if (!b || b->gva != cpu->rip || !b->valid || b->shared_copy || b->key != cpu->block_key)
		return; /* blocks of shared mappings are checked by the loop */
	n = b->insns;
	cpu->cur = n;
	cpu->blk_gva = b->gva;
	cpu->rip = b->gva + n->end_off;
	n->fn(cpu, n);
}

#define TARGET ((uint64_t)in->op[0].disp)
static void jmp_rel(struct vcpu *cpu, const struct insn *in)
{
	cpu->rip = TARGET;
	chain(cpu);
}

/* Near CALL rel32 with a canonical target (checked at decode): push the return address. */
static void call_rel(struct vcpu *cpu, const struct insn *in)
{
	mem_write64(cpu, cpu->gpr[R_RSP] - 8, cpu->rip);
	cpu->gpr[R_RSP] -= 8;
	cpu->rip = TARGET;
	chain(cpu);
}

static void ret_near(struct vcpu *cpu, const struct insn *in)
{
	uint64_t t = mem_read64(cpu, cpu->gpr[R_RSP]);
	if (unlikely(!is_canonical(t)))
		cpu_gp0(cpu); /* SDM Vol. 2 RET: #GP(0) if the return address is non-canonical */
	cpu->gpr[R_RSP] += 8;
	cpu->rip = t;
	chain(cpu);
}

#define JCC(name, cc)                                                                           \
	static void jcc_##name(struct vcpu *cpu, const struct insn *in)                         \
	{                                                                                       \
		if (cond_true(cpu, cc))                                                         \
			cpu->rip = TARGET;                                                      \
		chain(cpu);                                                                     \
	}
JCC(o, 0x0) JCC(no, 0x1) JCC(b, 0x2) JCC(nb, 0x3) JCC(z, 0x4) JCC(nz, 0x5) JCC(be, 0x6)
JCC(nbe, 0x7) JCC(s, 0x8) JCC(ns, 0x9) JCC(p, 0xa) JCC(np, 0xb) JCC(l, 0xc) JCC(nl, 0xd)
JCC(le, 0xe) JCC(nle, 0xf)

static insn_fn select_branch(const struct insn *in)
{
	static const struct { uint16_t mnemonic; insn_fn fn; } jcc[] = {
		{ ZYDIS_MNEMONIC_JO, jcc_o }, { ZYDIS_MNEMONIC_JNO, jcc_no },
		{ ZYDIS_MNEMONIC_JB, jcc_b }, { ZYDIS_MNEMONIC_JNB, jcc_nb },
		{ ZYDIS_MNEMONIC_JZ, jcc_z }, { ZYDIS_MNEMONIC_JNZ, jcc_nz },
		{ ZYDIS_MNEMONIC_JBE, jcc_be }, { ZYDIS_MNEMONIC_JNBE, jcc_nbe },
		{ ZYDIS_MNEMONIC_JS, jcc_s }, { ZYDIS_MNEMONIC_JNS, jcc_ns },
		{ ZYDIS_MNEMONIC_JP, jcc_p }, { ZYDIS_MNEMONIC_JNP, jcc_np },
		{ ZYDIS_MNEMONIC_JL, jcc_l }, { ZYDIS_MNEMONIC_JNL, jcc_nl },
		{ ZYDIS_MNEMONIC_JLE, jcc_le }, { ZYDIS_MNEMONIC_JNLE, jcc_nle },
	};
	if (in->mnemonic == ZYDIS_MNEMONIC_RET)
		return in->opcode == 0xc3 && in->nops == 0 && in->opsize == 8 ? ret_near : NULL;
	/* relative forms with a 64-bit operand size and a canonical target only */
	if (in->nops != 1 || in->op[0].kind != OPK_IMM || in->opsize != 8 ||
	    (in->flags & INSN_ASIZE32) || !is_canonical(TARGET))
		return NULL;
	if (in->mnemonic == ZYDIS_MNEMONIC_JMP)
		return jmp_rel;
	if (in->mnemonic == ZYDIS_MNEMONIC_CALL)
		return call_rel;
	for (size_t i = 0; i < sizeof(jcc) / sizeof(jcc[0]); i++)
		if (jcc[i].mnemonic == in->mnemonic)
			return jcc[i].fn;
	return NULL;
}
#undef TARGET

/* ---- flag-setting instruction + Jcc, fused ------------------------------------------------ */
/*
 * Used when the flags are dead after the Jcc (decode.c looked at both successors): the
 * condition comes straight from the operands, SDM Vol. 1 Appendix B, and no flag is written.
 * The Jcc (in + 1) is never dispatched; cur is moved onto it so the loop sees the block's end.
 */
static inline __attribute__((always_inline)) void fused_branch(struct vcpu *cpu,
							       const struct insn *in, int taken)
{
	const struct insn *j = in + 1;
	cpu->cur = j;
	cpu->rip = taken ? (uint64_t)j->op[0].disp : cpu->blk_gva + j->end_off;
	chain(cpu);
}

#define SX(v, sz) sext(v, sz)
#define CMPC_b(a, b, sz) ((a) < (b))
#define CMPC_nb(a, b, sz) ((a) >= (b))
#define CMPC_z(a, b, sz) ((a) == (b))
#define CMPC_nz(a, b, sz) ((a) != (b))
#define CMPC_be(a, b, sz) ((a) <= (b))
#define CMPC_nbe(a, b, sz) ((a) > (b))
#define CMPC_s(a, b, sz) ((((a) - (b)) & sign_bit(sz)) != 0)
#define CMPC_ns(a, b, sz) ((((a) - (b)) & sign_bit(sz)) == 0)
#define CMPC_l(a, b, sz) (SX(a, sz) < SX(b, sz))
#define CMPC_nl(a, b, sz) (SX(a, sz) >= SX(b, sz))
#define CMPC_le(a, b, sz) (SX(a, sz) <= SX(b, sz))
#define CMPC_nle(a, b, sz) (SX(a, sz) > SX(b, sz))
/* TEST: CF = OF = 0, so L is SF and LE is ZF|SF */
#define TSTC_z(a, b, sz) (((a) & (b)) == 0)
#define TSTC_nz(a, b, sz) (((a) & (b)) != 0)
#define TSTC_s(a, b, sz) (((a) & (b) & sign_bit(sz)) != 0)
#define TSTC_ns(a, b, sz) (((a) & (b) & sign_bit(sz)) == 0)
#define TSTC_le(a, b, sz) (((a) & (b)) == 0 || ((a) & (b) & sign_bit(sz)) != 0)
#define TSTC_nle(a, b, sz) (((a) & (b)) != 0 && ((a) & (b) & sign_bit(sz)) == 0)

/* operands (a, b) per form, masked to the size */
#define FA_rr(sz) (R0 & size_mask(sz))
#define FB_rr(sz) (R1 & size_mask(sz))
#define FA_ri(sz) (R0 & size_mask(sz))
#define FB_ri(sz) (IMM1 & size_mask(sz))
#define FA_rm(sz) (R0 & size_mask(sz))
#define FB_rm(sz) mem_read_sz(cpu, EA1, sz)
#define FA_mr(sz) mem_read_sz(cpu, EA0, sz)
#define FB_mr(sz) (R1 & size_mask(sz))

#define FUSED(kind, cc, sz, form)                                                               \
	static void kind##_##cc##sz##_##form(struct vcpu *cpu, const struct insn *in)           \
	{                                                                                       \
		uint64_t a = FA_##form(sz), b = FB_##form(sz);                                  \
		fused_branch(cpu, in, kind##C_##cc(a, b, sz));                                  \
	}
#define FUSED_FORMS(kind, cc, sz)                                                               \
	FUSED(kind, cc, sz, rr) FUSED(kind, cc, sz, ri) FUSED(kind, cc, sz, rm) FUSED(kind, cc, sz, mr)
#define FUSED_SIZES(kind, cc)                                                                   \
	FUSED_FORMS(kind, cc, 1) FUSED_FORMS(kind, cc, 2) FUSED_FORMS(kind, cc, 4)              \
	FUSED_FORMS(kind, cc, 8)
#define FUSED_ROW(kind, cc, sz) { NULL, kind##_##cc##sz##_rr, kind##_##cc##sz##_ri,             \
				  kind##_##cc##sz##_rm, kind##_##cc##sz##_mr, NULL }
#define FUSED_CC(kind, cc)                                                                      \
	{ FUSED_ROW(kind, cc, 1), FUSED_ROW(kind, cc, 2), FUSED_ROW(kind, cc, 4),               \
	  FUSED_ROW(kind, cc, 8) }

FUSED_SIZES(CMP, b) FUSED_SIZES(CMP, nb) FUSED_SIZES(CMP, z) FUSED_SIZES(CMP, nz)
FUSED_SIZES(CMP, be) FUSED_SIZES(CMP, nbe) FUSED_SIZES(CMP, s) FUSED_SIZES(CMP, ns)
FUSED_SIZES(CMP, l) FUSED_SIZES(CMP, nl) FUSED_SIZES(CMP, le) FUSED_SIZES(CMP, nle)
FUSED_SIZES(TST, z) FUSED_SIZES(TST, nz) FUSED_SIZES(TST, s) FUSED_SIZES(TST, ns)
FUSED_SIZES(TST, le) FUSED_SIZES(TST, nle)

/* indexed by condition code (low nibble of the Jcc opcode), size, form */
static const insn_fn cmp_fused[16][4][6] = {
	[0x2] = FUSED_CC(CMP, b), [0x3] = FUSED_CC(CMP, nb), [0x4] = FUSED_CC(CMP, z),
	[0x5] = FUSED_CC(CMP, nz), [0x6] = FUSED_CC(CMP, be), [0x7] = FUSED_CC(CMP, nbe),
	[0x8] = FUSED_CC(CMP, s), [0x9] = FUSED_CC(CMP, ns), [0xc] = FUSED_CC(CMP, l),
	[0xd] = FUSED_CC(CMP, nl), [0xe] = FUSED_CC(CMP, le), [0xf] = FUSED_CC(CMP, nle),
};
static const insn_fn test_fused[16][4][6] = {
	[0x4] = FUSED_CC(TST, z), [0x5] = FUSED_CC(TST, nz), [0x8] = FUSED_CC(TST, s),
	[0x9] = FUSED_CC(TST, ns), [0xe] = FUSED_CC(TST, le), [0xf] = FUSED_CC(TST, nle),
};

/* DEC/INC/ADD/SUB/AND r + JZ/JNZ: write the result, branch on it being zero */
#define RES_dec(a, b) ((a) - 1)
#define RES_inc(a, b) ((a) + 1)
#define RES_add(a, b) ((a) + (b))
#define RES_sub(a, b) ((a) - (b))
#define RES_and(a, b) ((a) & (b))
#define FUSED_RES(op, sz, form, B, zero)                                                       \
	static void op##_##sz##form##_j##zero(struct vcpu *cpu, const struct insn *in)         \
	{                                                                                       \
		uint64_t r = RES_##op(R0, B) & size_mask(sz);                                    \
		wr_sz(cpu, in, r, sz);                                                          \
		fused_branch(cpu, in, (r == 0) == (#zero[0] == 'z'));                           \
	}
#define FUSED_RES_ALL(op, form, B)                                                             \
	FUSED_RES(op, 4, form, B, z) FUSED_RES(op, 4, form, B, nz)                              \
	FUSED_RES(op, 8, form, B, z) FUSED_RES(op, 8, form, B, nz)
FUSED_RES_ALL(dec, r, 0)
FUSED_RES_ALL(inc, r, 0)
FUSED_RES_ALL(add, rr, R1)
FUSED_RES_ALL(add, ri, IMM1)
FUSED_RES_ALL(sub, rr, R1)
FUSED_RES_ALL(sub, ri, IMM1)
FUSED_RES_ALL(and, rr, R1)
FUSED_RES_ALL(and, ri, IMM1)

static insn_fn fused_res(const struct insn *in, unsigned size, int jz, enum form f)
{
#define PICK_RES(op, form)                                                                     \
	return size == 8 ? (jz ? op##_8##form##_jz : op##_8##form##_jnz)                        \
			 : (jz ? op##_4##form##_jz : op##_4##form##_jnz)
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_DEC:
		if (in->nops == 1 && plain_gpr(&in->op[0], size))
			PICK_RES(dec, r);
		return NULL;
	case ZYDIS_MNEMONIC_INC:
		if (in->nops == 1 && plain_gpr(&in->op[0], size))
			PICK_RES(inc, r);
		return NULL;
	case ZYDIS_MNEMONIC_ADD:
		if (f == F_RR) PICK_RES(add, rr);
		if (f == F_RI) PICK_RES(add, ri);
		return NULL;
	case ZYDIS_MNEMONIC_SUB:
		if (f == F_RR) PICK_RES(sub, rr);
		if (f == F_RI) PICK_RES(sub, ri);
		return NULL;
	case ZYDIS_MNEMONIC_AND:
		if (f == F_RR) PICK_RES(and, rr);
		if (f == F_RI) PICK_RES(and, ri);
		return NULL;
	default:
		return NULL;
	}
#undef PICK_RES
}

insn_fn fastpath_select_fused(const struct insn *in, const struct insn *jcc)
{
	unsigned size = in->opsize, cc;
	enum form f;

	if (!(jcc->flags & INSN_LAST) || select_branch(jcc) == NULL || jcc->nops != 1 ||
	    jcc->mnemonic == ZYDIS_MNEMONIC_JMP || jcc->mnemonic == ZYDIS_MNEMONIC_CALL ||
	    (in->flags & (INSN_LOCK | INSN_END)))
		return NULL;
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return NULL;
	cc = jcc->opcode & 0xf;
	f = form_of(in, size);
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_CMP:
		return f == F_NONE || f == F_MI ? NULL : cmp_fused[cc][size_index(size)][f];
	case ZYDIS_MNEMONIC_TEST:
		return f == F_NONE || f == F_MI ? NULL : test_fused[cc][size_index(size)][f];
	default:
		if ((size != 4 && size != 8) || (cc != 4 && cc != 5))
			return NULL;
		return fused_res(in, size, cc == 4, f);
	}
}

/* ---- selection ---------------------------------------------------------------------------- */

insn_fn fastpath_select(const struct insn *in, int flags_dead)
{
	unsigned size = in->opsize;
	const insn_fn(*table)[2][6] = NULL;
	enum form f;

	if (in->flags & INSN_END)
		return select_branch(in);
	if (size != 8 && size != 4 && size != 2 && size != 1)
		return NULL;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MOV: {
		static const insn_fn movs[4][6] = {
			{ NULL, mov8_rr, mov8_ri, mov8_rm, mov8_mr, mov8_mi },
			{ NULL, mov16_rr, mov16_ri, mov16_rm, mov16_mr, mov16_mi },
			{ NULL, mov32_rr, mov32_ri, mov32_rm, mov32_mr, mov32_mi },
			{ NULL, mov64_rr, mov64_ri, mov64_rm, mov64_mr, mov64_mi },
		};
		return movs[size_index(size)][form_of(in, size)];
	}
	case ZYDIS_MNEMONIC_MOVZX:
		if ((size != 4 && size != 8) || in->nops != 2 || !plain_gpr(&in->op[0], size))
			return NULL;
		if (in->op[1].kind == OPK_MEM)
			return in->op[1].size == 1 ? movzx_r_m8 : movzx_r_m16;
		if (in->op[1].kind == OPK_GPR && !in->op[1].hi8)
			return in->op[1].size == 1 ? movzx_r_r8 : movzx_r_r16;
		return NULL;
	case ZYDIS_MNEMONIC_MOVSXD:
		if (size != 8 || in->nops != 2 || !plain_gpr(&in->op[0], 8) || in->op[1].size != 4)
			return NULL;
		if (in->op[1].kind == OPK_MEM)
			return movsx64_m32;
		return in->op[1].kind == OPK_GPR ? movsx64_r32 : NULL;
	case ZYDIS_MNEMONIC_LEA:
		if ((size != 4 && size != 8) || in->nops != 2 || !plain_gpr(&in->op[0], size) ||
		    in->op[1].kind != OPK_MEM)
			return NULL;
		return size == 8 ? lea64 : lea32;
	case ZYDIS_MNEMONIC_ADD: table = add_table; break;
	case ZYDIS_MNEMONIC_SUB: table = sub_table; break;
	case ZYDIS_MNEMONIC_AND: table = and_table; break;
	case ZYDIS_MNEMONIC_OR: table = or_table; break;
	case ZYDIS_MNEMONIC_XOR: table = xor_table; break;
	case ZYDIS_MNEMONIC_CMP:
	case ZYDIS_MNEMONIC_TEST:
		f = form_of(in, size);
		if (flags_dead && (f == F_RR || f == F_RI))
			return nop; /* no effect but flags, and nothing reads them */
		table = in->mnemonic == ZYDIS_MNEMONIC_CMP ? cmp_table : test_table;
		break;
	case ZYDIS_MNEMONIC_INC:
	case ZYDIS_MNEMONIC_DEC:
	case ZYDIS_MNEMONIC_NEG: {
		static const insn_fn incdec[3][2][4] = {
			{ { inc1, inc2, inc4, inc8 }, { inc1_nf, inc2_nf, inc4_nf, inc8_nf } },
			{ { dec1, dec2, dec4, dec8 }, { dec1_nf, dec2_nf, dec4_nf, dec8_nf } },
			{ { NULL, NULL, NULL, NULL }, { neg1_nf, neg2_nf, neg4_nf, neg8_nf } },
		};
		int which = in->mnemonic == ZYDIS_MNEMONIC_INC ? 0 : in->mnemonic == ZYDIS_MNEMONIC_DEC ? 1 : 2;
		if (in->nops != 1 || !plain_gpr(&in->op[0], size) || (in->flags & INSN_LOCK))
			return NULL;
		return incdec[which][!!flags_dead][size_index(size)];
	}
	case ZYDIS_MNEMONIC_SHL:
	case ZYDIS_MNEMONIC_SHR:
	case ZYDIS_MNEMONIC_SAR:
	case ZYDIS_MNEMONIC_ROL:
	case ZYDIS_MNEMONIC_ROR: {
		uint64_t cnt;
		if (!flags_dead || (size != 4 && size != 8) || in->nops != 2 ||
		    !plain_gpr(&in->op[0], size) || in->op[1].kind != OPK_IMM)
			return NULL;
		cnt = (uint64_t)in->op[1].disp & (size == 8 ? 63 : 31);
		if (cnt == 0 || cnt != (uint64_t)in->op[1].disp)
			return NULL; /* count 0 or needing masking: leave it to shift.c */
		switch (in->mnemonic) {
		case ZYDIS_MNEMONIC_SHL: return size == 8 ? shl64_nf : shl32_nf;
		case ZYDIS_MNEMONIC_SHR: return size == 8 ? shr64_nf : shr32_nf;
		case ZYDIS_MNEMONIC_SAR: return size == 8 ? sar64_nf : sar32_nf;
		case ZYDIS_MNEMONIC_ROL: return size == 8 ? rol64_nf : rol32_nf;
		default: return size == 8 ? ror64_nf : ror32_nf;
		}
	}
	default:
		return NULL;
	}
	f = form_of(in, size);
	if (f == F_NONE)
		return NULL;
	return table[size_index(size)][!!flags_dead][f];
}
