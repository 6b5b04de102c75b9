/* SPDX-License-Identifier: MIT */
/*
 * Integer SIMD of MMX, SSE and SSE2 on MMX and XMM registers (Intel SDM Vol. 1 ch. 9, 10.4.4,
 * 11.4.3; Vol. 2 for each instruction): PADD/PSUB/PMUL/PAVG/PMIN/PMAX/PSADBW, compares, packs,
 * unpacks, shuffles, shifts, logic, PMOVMSKB/PEXTRW/PINSRW, MOVD/MOVQ/MOVQ2DQ/MOVDQ2Q,
 * MOVNTQ/MASKMOVQ/MASKMOVDQU.
 *
 * One handler per mnemonic serves both register files: the XMM form works on 128 bits; the
 * MMX form puts the 64-bit operands in the low half of a host XMM register and uses the same
 * SSE2 operation, which for every lane-wise operation gives the MMX result in the low half.
 * Packs and high unpacks, whose lane layout differs, get their own MMX expressions.
 */
#include "simd.h"

/* Pack/unpack helpers for the MMX forms (a = destination, b = source, both in the low half). */
#define MMX_LOHI(a, b) _mm_unpacklo_epi64((a), (b))
#define MMX_HIGH(x) _mm_unpackhi_epi64((x), (x))

/*
 * PI_OP(name, xmm_expr, mmx_expr): op[0] = op(op[0], op[1]) with a = destination and
 * b = source. The source is read (and alignment-checked) before anything is written.
 */
#define PI_OP(name, xexpr, mexpr)                                                        \
	static void name(struct vcpu *cpu, const struct insn *in)                          \
	{                                                                                  \
		__m128i b = simd_src(cpu, in, 1), a;                                       \
		if (likely(in->op[0].kind == OPK_XMM)) {                                   \
			__m128i *d = xmm_ptr(cpu, in->op[0].reg);                          \
			a = *d;                                                            \
			*d = (xexpr);                                                      \
		} else {                                                                   \
			mmx_enter(cpu);                                                    \
			a = _mm_cvtsi64_si128((long long)mmx_get(cpu, in->op[0].reg));     \
			mmx_set(cpu, in->op[0].reg, (uint64_t)_mm_cvtsi128_si64(mexpr));   \
		}                                                                          \
	}
#define PI_SAME(name, expr) PI_OP(name, expr, expr)

PI_SAME(h_paddb, _mm_add_epi8(a, b))
PI_SAME(h_paddw, _mm_add_epi16(a, b))
PI_SAME(h_paddd, _mm_add_epi32(a, b))
PI_SAME(h_paddq, _mm_add_epi64(a, b))
PI_SAME(h_paddsb, _mm_adds_epi8(a, b))
PI_SAME(h_paddsw, _mm_adds_epi16(a, b))
PI_SAME(h_paddusb, _mm_adds_epu8(a, b))
PI_SAME(h_paddusw, _mm_adds_epu16(a, b))
PI_SAME(h_psubb, _mm_sub_epi8(a, b))
PI_SAME(h_psubw, _mm_sub_epi16(a, b))
PI_SAME(h_psubd, _mm_sub_epi32(a, b))
PI_SAME(h_psubq, _mm_sub_epi64(a, b))
PI_SAME(h_psubsb, _mm_subs_epi8(a, b))
PI_SAME(h_psubsw, _mm_subs_epi16(a, b))
PI_SAME(h_psubusb, _mm_subs_epu8(a, b))
PI_SAME(h_psubusw, _mm_subs_epu16(a, b))
PI_SAME(h_pmullw, _mm_mullo_epi16(a, b))
PI_SAME(h_pmulhw, _mm_mulhi_epi16(a, b))
PI_SAME(h_pmulhuw, _mm_mulhi_epu16(a, b))
PI_SAME(h_pmuludq, _mm_mul_epu32(a, b))
PI_SAME(h_pmaddwd, _mm_madd_epi16(a, b))
PI_SAME(h_pavgb, _mm_avg_epu8(a, b))
PI_SAME(h_pavgw, _mm_avg_epu16(a, b))
PI_SAME(h_pminub, _mm_min_epu8(a, b))
PI_SAME(h_pmaxub, _mm_max_epu8(a, b))
PI_SAME(h_pminsw, _mm_min_epi16(a, b))
PI_SAME(h_pmaxsw, _mm_max_epi16(a, b))
PI_SAME(h_psadbw, _mm_sad_epu8(a, b))
PI_SAME(h_pcmpeqb, _mm_cmpeq_epi8(a, b))
PI_SAME(h_pcmpeqw, _mm_cmpeq_epi16(a, b))
PI_SAME(h_pcmpeqd, _mm_cmpeq_epi32(a, b))
PI_SAME(h_pcmpgtb, _mm_cmpgt_epi8(a, b))
PI_SAME(h_pcmpgtw, _mm_cmpgt_epi16(a, b))
PI_SAME(h_pcmpgtd, _mm_cmpgt_epi32(a, b))
PI_SAME(h_pand, _mm_and_si128(a, b))
PI_SAME(h_pandn, _mm_andnot_si128(a, b))
PI_SAME(h_por, _mm_or_si128(a, b))
PI_SAME(h_pxor, _mm_xor_si128(a, b))

/* Packs: MMX packs dst words 0-3 then src words 0-3 (SDM Vol. 2 PACKSSWB). */
PI_OP(h_packsswb, _mm_packs_epi16(a, b), _mm_packs_epi16(MMX_LOHI(a, b), MMX_LOHI(a, b)))
PI_OP(h_packssdw, _mm_packs_epi32(a, b), _mm_packs_epi32(MMX_LOHI(a, b), MMX_LOHI(a, b)))
PI_OP(h_packuswb, _mm_packus_epi16(a, b), _mm_packus_epi16(MMX_LOHI(a, b), MMX_LOHI(a, b)))

/* Unpacks: the MMX low forms read only 32 bits of memory (Zydis gives the size). */
PI_SAME(h_punpcklbw, _mm_unpacklo_epi8(a, b))
PI_SAME(h_punpcklwd, _mm_unpacklo_epi16(a, b))
PI_SAME(h_punpckldq, _mm_unpacklo_epi32(a, b))
PI_SAME(h_punpcklqdq, _mm_unpacklo_epi64(a, b))
PI_OP(h_punpckhbw, _mm_unpackhi_epi8(a, b), MMX_HIGH(_mm_unpacklo_epi8(a, b)))
PI_OP(h_punpckhwd, _mm_unpackhi_epi16(a, b), MMX_HIGH(_mm_unpacklo_epi16(a, b)))
PI_OP(h_punpckhdq, _mm_unpackhi_epi32(a, b), MMX_HIGH(_mm_unpacklo_epi32(a, b)))
PI_SAME(h_punpckhqdq, _mm_unpackhi_epi64(a, b))

/*
 * Shifts by imm8, by an MMX/XMM register or by memory: the count is the full low 64 bits
 * (imm8 zero-extended); counts above the lane width give 0 (logical) or the sign (arithmetic).
 */
PI_SAME(h_psllw, _mm_sll_epi16(a, b))
PI_SAME(h_pslld, _mm_sll_epi32(a, b))
PI_SAME(h_psllq, _mm_sll_epi64(a, b))
PI_SAME(h_psrlw, _mm_srl_epi16(a, b))
PI_SAME(h_psrld, _mm_srl_epi32(a, b))
PI_SAME(h_psrlq, _mm_srl_epi64(a, b))
PI_SAME(h_psraw, _mm_sra_epi16(a, b))
PI_SAME(h_psrad, _mm_sra_epi32(a, b))

/* PSLLDQ/PSRLDQ xmm, imm8: byte shifts, counts above 15 clear the register. */
static void h_pslldq(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg *d = &cpu->xmm[in->op[0].reg], s = *d;
	unsigned n = (unsigned)in->op[1].disp & 0xff;
	for (unsigned i = 0; i < 16; i++)
		d->b[i] = i >= n ? s.b[i - n] : 0;
}

static void h_psrldq(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg *d = &cpu->xmm[in->op[0].reg], s = *d;
	unsigned n = (unsigned)in->op[1].disp & 0xff;
	for (unsigned i = 0; i < 16; i++)
		d->b[i] = i + n < 16 ? s.b[i + n] : 0;
}

/* Source operand @i as bytes. */
static inline union xmm_reg src_bytes(struct vcpu *cpu, const struct insn *in, int i)
{
	union xmm_reg r;
	_mm_store_si128((__m128i *)&r, simd_src(cpu, in, i));
	return r;
}

/* PSHUFD xmm, xmm/m128, imm8 */
static void h_pshufd(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg s = src_bytes(cpu, in, 1), *d = &cpu->xmm[in->op[0].reg];
	unsigned imm = (unsigned)in->op[2].disp;
	for (unsigned i = 0; i < 4; i++)
		d->d[i] = s.d[(imm >> (2 * i)) & 3];
}

/* PSHUFHW: words 4-7 shuffled, 0-3 copied; PSHUFLW the other way round. */
static void h_pshufhw(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg s = src_bytes(cpu, in, 1), *d = &cpu->xmm[in->op[0].reg];
	unsigned imm = (unsigned)in->op[2].disp;
	d->q[0] = s.q[0];
	for (unsigned i = 0; i < 4; i++)
		d->w[4 + i] = s.w[4 + ((imm >> (2 * i)) & 3)];
}

static void h_pshuflw(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg s = src_bytes(cpu, in, 1), *d = &cpu->xmm[in->op[0].reg];
	unsigned imm = (unsigned)in->op[2].disp;
	for (unsigned i = 0; i < 4; i++)
		d->w[i] = s.w[(imm >> (2 * i)) & 3];
	d->q[1] = s.q[1];
}

/* PSHUFW mm, mm/m64, imm8 */
static void h_pshufw(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg s = src_bytes(cpu, in, 1), r;
	unsigned imm = (unsigned)in->op[2].disp;
	mmx_enter(cpu);
	for (unsigned i = 0; i < 4; i++)
		r.w[i] = s.w[(imm >> (2 * i)) & 3];
	mmx_set(cpu, in->op[0].reg, r.q[0]);
}

/* PMOVMSKB r32/r64, mm/xmm */
static void h_pmovmskb(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *s = &in->op[1];
	unsigned v;
	if (likely(s->kind == OPK_XMM)) {
		v = (unsigned)_mm_movemask_epi8(*xmm_ptr(cpu, s->reg));
	} else {
		mmx_enter(cpu);
		v = (unsigned)_mm_movemask_epi8(_mm_cvtsi64_si128((long long)mmx_get(cpu, s->reg))) &
		    0xff;
	}
	gpr_set(cpu, in->op[0].reg, in->op[0].size, v);
}

/* PEXTRW r32/r64, mm/xmm, imm8 and (SSE4.1, 66 0F 3A 15) PEXTRW r/m16, xmm, imm8 */
static void h_pextrw(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *s = &in->op[1];
	unsigned imm = (unsigned)in->op[2].disp;
	uint16_t v;
	if (s->kind == OPK_XMM) {
		v = cpu->xmm[s->reg].w[imm & 7];
	} else {
		union xmm_reg t;
		t.q[0] = mmx_get(cpu, s->reg);
		mmx_enter(cpu);
		v = t.w[imm & 3];
	}
	if (in->op[0].kind == OPK_MEM)
		mem_write16(cpu, op_ea(cpu, in, &in->op[0]), v);
	else
		gpr_set(cpu, in->op[0].reg, in->op[0].size, v);
}

/* PINSRW mm/xmm, r32/m16, imm8 */
static void h_pinsrw(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0];
	unsigned imm = (unsigned)in->op[2].disp;
	uint16_t v;
	if (in->op[1].kind == OPK_MEM)
		v = mem_read16(cpu, op_ea(cpu, in, &in->op[1]));
	else
		v = (uint16_t)cpu->gpr[in->op[1].reg];
	if (d->kind == OPK_XMM) {
		cpu->xmm[d->reg].w[imm & 7] = v;
	} else {
		union xmm_reg t;
		mmx_enter(cpu);
		t.q[0] = mmx_get(cpu, d->reg);
		t.w[imm & 3] = v;
		mmx_set(cpu, d->reg, t.q[0]);
	}
}

/* Read operand @i as a 64-bit MOVD/MOVQ source of @size bytes. */
static uint64_t movq_src(struct vcpu *cpu, const struct insn *in, int i, unsigned size)
{
	const struct operand *o = &in->op[i];
	switch (o->kind) {
	case OPK_XMM: return cpu->xmm[o->reg].q[0] & size_mask(size);
	case OPK_MMX: return mmx_get(cpu, o->reg) & size_mask(size);
	case OPK_GPR: return cpu->gpr[o->reg] & size_mask(size);
	case OPK_MEM: return size == 4 ? mem_read32(cpu, op_ea(cpu, in, o))
				       : mem_read64(cpu, op_ea(cpu, in, o));
	default: cpu_ud(cpu);
	}
}

/*
 * MOVD/MOVQ in all forms (SDM Vol. 2 MOVD/MOVQ): GPR/m32/m64 <-> MMX/XMM, MMX <-> MMX/m64,
 * XMM <-> XMM/m64. Writes to an XMM register zero bits 127:size*8.
 */
static void h_movdq(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0];
	unsigned size = in->mnemonic == ZYDIS_MNEMONIC_MOVD ? 4 : 8;
	int mmx = d->kind == OPK_MMX || in->op[1].kind == OPK_MMX;
	uint64_t v = movq_src(cpu, in, 1, size);

	if (mmx)
		mmx_check(cpu);
	switch (d->kind) {
	case OPK_XMM:
		cpu->xmm[d->reg].q[0] = v;
		cpu->xmm[d->reg].q[1] = 0;
		break;
	case OPK_MMX: mmx_set(cpu, d->reg, v); break;
	case OPK_GPR: gpr_set(cpu, d->reg, size, v); break;
	case OPK_MEM: mem_write_sz(cpu, op_ea(cpu, in, d), v, size); break;
	default: cpu_ud(cpu);
	}
	if (mmx)
		mmx_mode(cpu);
}

/* MOVQ2DQ xmm, mm */
static void h_movq2dq(struct vcpu *cpu, const struct insn *in)
{
	mmx_enter(cpu);
	cpu->xmm[in->op[0].reg].q[0] = mmx_get(cpu, in->op[1].reg);
	cpu->xmm[in->op[0].reg].q[1] = 0;
}

/* MOVDQ2Q mm, xmm */
static void h_movdq2q(struct vcpu *cpu, const struct insn *in)
{
	mmx_enter(cpu);
	mmx_set(cpu, in->op[0].reg, cpu->xmm[in->op[1].reg].q[0]);
}

/* MOVNTQ m64, mm (the non-temporal hint is irrelevant here) */
static void h_movntq(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = mmx_get(cpu, in->op[1].reg);
	mmx_check(cpu);
	mem_write64(cpu, op_ea(cpu, in, &in->op[0]), v);
	mmx_mode(cpu);
}

/*
 * MASKMOVQ mm1, mm2 / MASKMOVDQU xmm1, xmm2: store the bytes of op[0] whose mask byte in op[1]
 * has bit 7 set to DS:[RDI] (segment overridable). Only the span from the first to the last
 * selected byte is touched, read first so that a fault leaves memory unchanged; a zero mask
 * touches nothing.
 */
static void maskmov(struct vcpu *cpu, const struct insn *in, const uint8_t *data, unsigned mask,
		    unsigned n)
{
	uint64_t ea = cpu->gpr[R_RDI];
	unsigned first, last;
	uint8_t buf[16];

	if (in->flags & INSN_ASIZE32)
		ea = (uint32_t)ea;
	if (in->seg)
		ea += in->seg == SEG_FS ? cpu->fs_base : cpu->gs_base;
	mask &= (1u << n) - 1;
	if (!mask)
		return;
	first = (unsigned)__builtin_ctz(mask);
	last = 31u - (unsigned)__builtin_clz(mask);
	mem_read(cpu, ea + first, buf + first, last - first + 1);
	for (unsigned i = first; i <= last; i++)
		if (mask & (1u << i))
			buf[i] = data[i];
	mem_write(cpu, ea + first, buf + first, last - first + 1);
}

static void h_maskmovq(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg d, m;
	d.q[0] = mmx_get(cpu, in->op[0].reg);
	m.q[0] = mmx_get(cpu, in->op[1].reg);
	mmx_check(cpu);
	maskmov(cpu, in, d.b, (unsigned)_mm_movemask_epi8(_mm_cvtsi64_si128((long long)m.q[0])), 8);
	mmx_mode(cpu);
}

static void h_maskmovdqu(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg d = cpu->xmm[in->op[0].reg];
	maskmov(cpu, in, d.b, (unsigned)_mm_movemask_epi8(*xmm_ptr(cpu, in->op[1].reg)), 16);
}

const struct insn_entry mmx_insns[] = {
	{ ZYDIS_MNEMONIC_PADDB, h_paddb },
	{ ZYDIS_MNEMONIC_PADDW, h_paddw },
	{ ZYDIS_MNEMONIC_PADDD, h_paddd },
	{ ZYDIS_MNEMONIC_PADDQ, h_paddq },
	{ ZYDIS_MNEMONIC_PADDSB, h_paddsb },
	{ ZYDIS_MNEMONIC_PADDSW, h_paddsw },
	{ ZYDIS_MNEMONIC_PADDUSB, h_paddusb },
	{ ZYDIS_MNEMONIC_PADDUSW, h_paddusw },
	{ ZYDIS_MNEMONIC_PSUBB, h_psubb },
	{ ZYDIS_MNEMONIC_PSUBW, h_psubw },
	{ ZYDIS_MNEMONIC_PSUBD, h_psubd },
	{ ZYDIS_MNEMONIC_PSUBQ, h_psubq },
	{ ZYDIS_MNEMONIC_PSUBSB, h_psubsb },
	{ ZYDIS_MNEMONIC_PSUBSW, h_psubsw },
	{ ZYDIS_MNEMONIC_PSUBUSB, h_psubusb },
	{ ZYDIS_MNEMONIC_PSUBUSW, h_psubusw },
	{ ZYDIS_MNEMONIC_PMULLW, h_pmullw },
	{ ZYDIS_MNEMONIC_PMULHW, h_pmulhw },
	{ ZYDIS_MNEMONIC_PMULHUW, h_pmulhuw },
	{ ZYDIS_MNEMONIC_PMULUDQ, h_pmuludq },
	{ ZYDIS_MNEMONIC_PMADDWD, h_pmaddwd },
	{ ZYDIS_MNEMONIC_PAVGB, h_pavgb },
	{ ZYDIS_MNEMONIC_PAVGW, h_pavgw },
	{ ZYDIS_MNEMONIC_PMINUB, h_pminub },
	{ ZYDIS_MNEMONIC_PMAXUB, h_pmaxub },
	{ ZYDIS_MNEMONIC_PMINSW, h_pminsw },
	{ ZYDIS_MNEMONIC_PMAXSW, h_pmaxsw },
	{ ZYDIS_MNEMONIC_PSADBW, h_psadbw },
	{ ZYDIS_MNEMONIC_PCMPEQB, h_pcmpeqb },
	{ ZYDIS_MNEMONIC_PCMPEQW, h_pcmpeqw },
	{ ZYDIS_MNEMONIC_PCMPEQD, h_pcmpeqd },
	{ ZYDIS_MNEMONIC_PCMPGTB, h_pcmpgtb },
	{ ZYDIS_MNEMONIC_PCMPGTW, h_pcmpgtw },
	{ ZYDIS_MNEMONIC_PCMPGTD, h_pcmpgtd },
	{ ZYDIS_MNEMONIC_PAND, h_pand },
	{ ZYDIS_MNEMONIC_PANDN, h_pandn },
	{ ZYDIS_MNEMONIC_POR, h_por },
	{ ZYDIS_MNEMONIC_PXOR, h_pxor },
	{ ZYDIS_MNEMONIC_PACKSSWB, h_packsswb },
	{ ZYDIS_MNEMONIC_PACKSSDW, h_packssdw },
	{ ZYDIS_MNEMONIC_PACKUSWB, h_packuswb },
	{ ZYDIS_MNEMONIC_PUNPCKLBW, h_punpcklbw },
	{ ZYDIS_MNEMONIC_PUNPCKLWD, h_punpcklwd },
	{ ZYDIS_MNEMONIC_PUNPCKLDQ, h_punpckldq },
	{ ZYDIS_MNEMONIC_PUNPCKLQDQ, h_punpcklqdq },
	{ ZYDIS_MNEMONIC_PUNPCKHBW, h_punpckhbw },
	{ ZYDIS_MNEMONIC_PUNPCKHWD, h_punpckhwd },
	{ ZYDIS_MNEMONIC_PUNPCKHDQ, h_punpckhdq },
	{ ZYDIS_MNEMONIC_PUNPCKHQDQ, h_punpckhqdq },
	{ ZYDIS_MNEMONIC_PSLLW, h_psllw },
	{ ZYDIS_MNEMONIC_PSLLD, h_pslld },
	{ ZYDIS_MNEMONIC_PSLLQ, h_psllq },
	{ ZYDIS_MNEMONIC_PSRLW, h_psrlw },
	{ ZYDIS_MNEMONIC_PSRLD, h_psrld },
	{ ZYDIS_MNEMONIC_PSRLQ, h_psrlq },
	{ ZYDIS_MNEMONIC_PSRAW, h_psraw },
	{ ZYDIS_MNEMONIC_PSRAD, h_psrad },
	{ ZYDIS_MNEMONIC_PSLLDQ, h_pslldq },
	{ ZYDIS_MNEMONIC_PSRLDQ, h_psrldq },
	{ ZYDIS_MNEMONIC_PSHUFD, h_pshufd },
	{ ZYDIS_MNEMONIC_PSHUFHW, h_pshufhw },
	{ ZYDIS_MNEMONIC_PSHUFLW, h_pshuflw },
	{ ZYDIS_MNEMONIC_PSHUFW, h_pshufw },
	{ ZYDIS_MNEMONIC_PMOVMSKB, h_pmovmskb },
	{ ZYDIS_MNEMONIC_PEXTRW, h_pextrw },
	{ ZYDIS_MNEMONIC_PINSRW, h_pinsrw },
	{ ZYDIS_MNEMONIC_MOVD, h_movdq },
	{ ZYDIS_MNEMONIC_MOVQ, h_movdq },
	{ ZYDIS_MNEMONIC_MOVQ2DQ, h_movq2dq },
	{ ZYDIS_MNEMONIC_MOVDQ2Q, h_movdq2q },
	{ ZYDIS_MNEMONIC_MOVNTQ, h_movntq },
	{ ZYDIS_MNEMONIC_MASKMOVQ, h_maskmovq },
	{ ZYDIS_MNEMONIC_MASKMOVDQU, h_maskmovdqu },
	{ 0, NULL },
};
