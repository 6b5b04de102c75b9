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
#define NEXT()                                                                                  \
	do {                                                                                    \
		const struct insn *n_ = in + 1;                                                 \
		if ((in->flags & INSN_LAST) || unlikely(cpu->exit_request))                     \
			return;                                                                 \
		cpu->cur = n_;                                                                  \
		cpu->rip += n_->len;                                                            \
		n_->fn(cpu, n_);                                                                \
	} while (0)

#define FN(name)                                                                                \
	static inline __attribute__((always_inline)) void name##_body(struct vcpu *cpu,         \
								       const struct insn *in); \
	static void name(struct vcpu *cpu, const struct insn *in)                               \
	{                                                                                       \
		name##_body(cpu, in);                                                           \
		NEXT();                                                                         \
	}                                                                                       \
	static inline __attribute__((always_inline)) void name##_body(struct vcpu *cpu,         \
								       const struct insn *in)

/* ---- moves ------------------------------------------------------------------------------ */
FN(mov64_rr) { R0 = R1; }
FN(mov32_rr) { R0 = (uint32_t)R1; }
FN(mov64_ri) { R0 = IMM1; }
FN(mov32_ri) { R0 = (uint32_t)IMM1; }
FN(mov64_rm) { R0 = mem_read64(cpu, EA1); }
FN(mov32_rm) { R0 = mem_read32(cpu, EA1); }
FN(mov64_mr) { mem_write64(cpu, EA0, R1); }
FN(mov32_mr) { mem_write32(cpu, EA0, (uint32_t)R1); }
FN(mov64_mi) { mem_write64(cpu, EA0, IMM1); }
FN(mov32_mi) { mem_write32(cpu, EA0, (uint32_t)IMM1); }
FN(movzx_r_m8) { R0 = mem_read8(cpu, EA1); }
FN(movzx_r_m16) { R0 = mem_read16(cpu, EA1); }
FN(movzx_r_r8) { R0 = (uint8_t)R1; }
FN(movzx_r_r16) { R0 = (uint16_t)R1; }
FN(lea64) { R0 = EA1; }
FN(lea32) { R0 = (uint32_t)EA1; }
FN(nop) { }

/* ---- ALU without flags ------------------------------------------------------------------ */
#define ALU_NF(op, OPER)                                                                        \
	FN(op##64_rr_nf) { R0 = R0 OPER R1; }                                                    \
	FN(op##32_rr_nf) { R0 = (uint32_t)(R0 OPER R1); }                                        \
	FN(op##64_ri_nf) { R0 = R0 OPER IMM1; }                                                  \
	FN(op##32_ri_nf) { R0 = (uint32_t)(R0 OPER IMM1); }                                      \
	FN(op##64_rm_nf) { R0 = R0 OPER mem_read64(cpu, EA1); }                                  \
	FN(op##32_rm_nf) { R0 = (uint32_t)(R0 OPER mem_read32(cpu, EA1)); }
ALU_NF(add, +)
ALU_NF(sub, -)
ALU_NF(and, &)
ALU_NF(or, |)
ALU_NF(xor, ^)

FN(inc64_nf) { R0 = R0 + 1; }
FN(inc32_nf) { R0 = (uint32_t)(R0 + 1); }
FN(dec64_nf) { R0 = R0 - 1; }
FN(dec32_nf) { R0 = (uint32_t)(R0 - 1); }
FN(neg64_nf) { R0 = -R0; }
FN(neg32_nf) { R0 = (uint32_t)-R0; }

/* ---- ALU with flags (the flag helpers inline to straight-line code at a constant size) ---- */
#define ALU_F(op, OPER, FLAGS, WRITE)                                                           \
	FN(op##64_rr) { uint64_t a = R0, b = R1, r = a OPER b;                                   \
		set_flags(cpu, FLAGS_ARITH, FLAGS(a, b, r, 8)); WRITE(r); }                      \
	FN(op##32_rr) { uint64_t a = (uint32_t)R0, b = (uint32_t)R1, r = (uint32_t)(a OPER b); \
		set_flags(cpu, FLAGS_ARITH, FLAGS(a, b, r, 4)); WRITE##32(r); }                 \
	FN(op##64_ri) { uint64_t a = R0, b = IMM1, r = a OPER b;                                 \
		set_flags(cpu, FLAGS_ARITH, FLAGS(a, b, r, 8)); WRITE(r); }                      \
	FN(op##32_ri) { uint64_t a = (uint32_t)R0, b = (uint32_t)IMM1, r = (uint32_t)(a OPER b); \
		set_flags(cpu, FLAGS_ARITH, FLAGS(a, b, r, 4)); WRITE##32(r); }                 \
	FN(op##64_rm) { uint64_t b = mem_read64(cpu, EA1), a = R0, r = a OPER b;                 \
		set_flags(cpu, FLAGS_ARITH, FLAGS(a, b, r, 8)); WRITE(r); }                      \
	FN(op##32_rm) { uint64_t b = mem_read32(cpu, EA1), a = (uint32_t)R0,                     \
		r = (uint32_t)(a OPER b);                                                         \
		set_flags(cpu, FLAGS_ARITH, FLAGS(a, b, r, 4)); WRITE##32(r); }
#define LOGIC_FLAGS(a, b, r, size) flags_logic(r, size)
#define W(r) (R0 = (r))
#define W32(r) (R0 = (r))
#define NOWRITE(r) ((void)(r))
#define NOWRITE32(r) ((void)(r))
ALU_F(add, +, flags_add, W)
ALU_F(sub, -, flags_sub, W)
ALU_F(and, &, LOGIC_FLAGS, W)
ALU_F(or, |, LOGIC_FLAGS, W)
ALU_F(xor, ^, LOGIC_FLAGS, W)
ALU_F(cmp, -, flags_sub, NOWRITE)
ALU_F(test, &, LOGIC_FLAGS, NOWRITE)

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

/* ---- selection ---------------------------------------------------------------------------- */
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

/* handlers indexed [form][size == 8] */
#define PICK(f, name)                                                                       \
	do {                                                                                \
		if (f == F_RR) return size == 8 ? name##64_rr : name##32_rr;                \
		if (f == F_RI) return size == 8 ? name##64_ri : name##32_ri;                \
		if (f == F_RM) return size == 8 ? name##64_rm : name##32_rm;                \
		return NULL;                                                                \
	} while (0)
#define PICK_NF(f, name)                                                                    \
	do {                                                                                \
		if (f == F_RR) return size == 8 ? name##64_rr_nf : name##32_rr_nf;          \
		if (f == F_RI) return size == 8 ? name##64_ri_nf : name##32_ri_nf;          \
		if (f == F_RM) return size == 8 ? name##64_rm_nf : name##32_rm_nf;          \
		return NULL;                                                                \
	} while (0)

insn_fn fastpath_select(const struct insn *in, int flags_dead)
{
	unsigned size = in->opsize;
	enum form f;

	if (size != 8 && size != 4)
		return NULL;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		f = form_of(in, size);
		switch (f) {
		case F_RR: return size == 8 ? mov64_rr : mov32_rr;
		case F_RI: return size == 8 ? mov64_ri : mov32_ri;
		case F_RM: return size == 8 ? mov64_rm : mov32_rm;
		case F_MR: return size == 8 ? mov64_mr : mov32_mr;
		case F_MI: return size == 8 ? mov64_mi : mov32_mi;
		default: return NULL;
		}
	case ZYDIS_MNEMONIC_MOVZX:
		if (in->nops != 2 || !plain_gpr(&in->op[0], size))
			return NULL;
		if (in->op[1].kind == OPK_MEM)
			return in->op[1].size == 1 ? movzx_r_m8 : movzx_r_m16;
		if (in->op[1].kind == OPK_GPR && !in->op[1].hi8)
			return in->op[1].size == 1 ? movzx_r_r8 : movzx_r_r16;
		return NULL;
	case ZYDIS_MNEMONIC_LEA:
		/* LEA ignores segments; op_ea would add an FS/GS base, so leave those to datamov.c */
		if (in->nops != 2 || !plain_gpr(&in->op[0], size) || in->op[1].kind != OPK_MEM ||
		    in->op[1].seg)
			return NULL;
		return size == 8 ? lea64 : lea32;
	case ZYDIS_MNEMONIC_ADD:
		f = form_of(in, size);
		if (flags_dead) PICK_NF(f, add);
		PICK(f, add);
	case ZYDIS_MNEMONIC_SUB:
		f = form_of(in, size);
		if (flags_dead) PICK_NF(f, sub);
		PICK(f, sub);
	case ZYDIS_MNEMONIC_AND:
		f = form_of(in, size);
		if (flags_dead) PICK_NF(f, and);
		PICK(f, and);
	case ZYDIS_MNEMONIC_OR:
		f = form_of(in, size);
		if (flags_dead) PICK_NF(f, or);
		PICK(f, or);
	case ZYDIS_MNEMONIC_XOR:
		f = form_of(in, size);
		if (flags_dead) PICK_NF(f, xor);
		PICK(f, xor);
	case ZYDIS_MNEMONIC_CMP:
		f = form_of(in, size);
		if (flags_dead && (f == F_RR || f == F_RI))
			return nop;
		PICK(f, cmp);
	case ZYDIS_MNEMONIC_TEST:
		f = form_of(in, size);
		if (flags_dead && (f == F_RR || f == F_RI))
			return nop;
		PICK(f, test);
	case ZYDIS_MNEMONIC_INC:
	case ZYDIS_MNEMONIC_DEC:
	case ZYDIS_MNEMONIC_NEG:
		if (!flags_dead || in->nops != 1 || !plain_gpr(&in->op[0], size) ||
		    (in->flags & INSN_LOCK))
			return NULL;
		if (in->mnemonic == ZYDIS_MNEMONIC_INC)
			return size == 8 ? inc64_nf : inc32_nf;
		if (in->mnemonic == ZYDIS_MNEMONIC_DEC)
			return size == 8 ? dec64_nf : dec32_nf;
		return size == 8 ? neg64_nf : neg32_nf;
	case ZYDIS_MNEMONIC_SHL:
	case ZYDIS_MNEMONIC_SHR:
	case ZYDIS_MNEMONIC_SAR:
	case ZYDIS_MNEMONIC_ROL:
	case ZYDIS_MNEMONIC_ROR: {
		uint64_t cnt;
		if (!flags_dead || in->nops != 2 || !plain_gpr(&in->op[0], size) ||
		    in->op[1].kind != OPK_IMM)
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
}
