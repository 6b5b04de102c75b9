/* SPDX-License-Identifier: MIT */
/*
 * SSE and SSE2 floating point, moves, conversions and MXCSR (Intel SDM Vol. 1 ch. 10-11, Vol. 2
 * instruction pages). The integer SIMD instructions of SSE/SSE2 live in mmx.c.
 *
 * Arithmetic, compares and conversions run the same instruction on the host SSE unit under the
 * guest MXCSR (simd.h: SIMD_FP), so results and exception flags are the hardware's for every
 * rounding mode, FTZ and DAZ, and the approximations RCPPS/RSQRTPS match bit for bit.
 * Unmasked exceptions raise #XM before the destination is written (simd_fp_commit).
 */
#include <math.h>

#include "simd.h"

/* ---------------------------------------------------------------------------------------- */
/* Unmasked SIMD floating-point exceptions (SDM Vol. 1 11.5.1, 11.5.2). */

static int lane_tiny(const void *res, int lanes)
{
	const union xmm_reg *r = res;
	int n;
	switch (lanes & SIMD_LANES) {
	case SIMD_PS:
	case SIMD_SS:
	case SIMD_PS2:
		n = (lanes & SIMD_LANES) == SIMD_PS ? 4 : (lanes & SIMD_LANES) == SIMD_SS ? 1 : 2;
		for (int i = 0; i < n; i++)
			if (!(r->d[i] & 0x7f800000u) && (r->d[i] & 0x7fffffu))
				return 1;
		return 0;
	case SIMD_PD:
	case SIMD_SD:
		n = (lanes & SIMD_LANES) == SIMD_PD ? 2 : 1;
		for (int i = 0; i < n; i++)
			if (!(r->q[i] & 0x7ff0000000000000ull) && (r->q[i] & 0xfffffffffffffull))
				return 1;
		return 0;
	default:
		return 0;
	}
}

/* Denormal input under DAZ reads as zero (SDM Vol. 1 10.2.3.4). */
static double daz64(double x, int daz)
{
	if (daz && fpclassify(x) == FP_SUBNORMAL)
		return copysign(0.0, x);
	return x;
}

static float daz32(float x, int daz)
{
	if (daz && fpclassify(x) == FP_SUBNORMAL)
		return copysignf(0.0f, x);
	return x;
}

/* x scaled by a power of two into [1, 2) (zero, infinity and NaN unchanged). */
static double norm64(double x)
{
	int e;
	if (!isfinite(x) || x == 0)
		return x;
	return 2 * frexp(x, &e);
}

static float norm32(float x)
{
	int e;
	if (!isfinite(x) || x == 0)
		return x;
	return 2 * frexpf(x, &e);
}

/*
 * Under an unmasked overflow or underflow the hardware reports PE for the result rounded to
 * the destination precision with an unbounded exponent (checked on hardware: 2^126 * 2^126
 * gives OE alone, a tiny inexact product UE and PE). Rescale the lane's operands by powers
 * of two so that the operation stays in range and rerun it for that PE. Additions underflow
 * only exactly, so for them only overflow matters and halving both operands suffices.
 */
static uint32_t unbounded_pe(struct vcpu *cpu, int lanes, int dbl, int lane, simd_run_fn run,
			     union xmm_reg *dl, union xmm_reg *sl)
{
	int daz = !!(cpu->mxcsr & MXCSR_DAZ), kind = lanes & SIMD_K_MASK;
	__m128i r;
	if (dbl) {
		double x = daz64(dl->df[lane], daz), y = daz64(sl->df[lane], daz);
		if (kind == SIMD_K_COMMON) {
			x = x / 2;
			y = y / 2;
		} else {
			x = norm64(x);
			y = norm64(y);
		}
		dl->df[lane] = x;
		sl->df[lane] = y;
	} else {
		float x = daz32(dl->f[lane], daz), y = daz32(sl->f[lane], daz);
		if (kind == SIMD_K_COMMON) {
			x = x / 2;
			y = y / 2;
		} else {
			x = norm32(x);
			y = norm32(y);
		}
		dl->f[lane] = x;
		sl->f[lane] = y;
	}
	r = _mm_load_si128((const __m128i *)dl);
	return run(&r, _mm_load_si128((const __m128i *)sl), simd_mxcsr_run(cpu)) & MXCSR_PE;
}

/*
 * The guest unmasked at least one exception; @flags come from a run with everything masked.
 * An unmasked pre-computation exception (invalid, denormal, divide by zero) in any lane
 * reports only the pre-computation flags (SDM Vol. 1 11.5.1). Otherwise each lane reports its
 * own post-computation flags under the unmasked rules, so an operation that may overflow or
 * underflow (@run given) is rerun lane by lane, the other lanes holding 1.0 (no flags):
 * - with underflow unmasked a tiny result signals UE even if exact (SDM Vol. 1 11.5.2.5);
 *   the masked run does not flag that, so a denormal result (FTZ was off) is taken as tiny;
 * - an unmasked OE/UE reports PE of the unbounded-exponent result (unbounded_pe).
 */
void simd_fp_unmasked(struct vcpu *cpu, uint32_t flags, const void *res, int lanes,
		      simd_run_fn run, __m128i d, __m128i s)
{
	uint32_t unmasked = ~(cpu->mxcsr >> 7) & MXCSR_FLAGS;
	uint32_t pre = flags & (MXCSR_IE | MXCSR_DE | MXCSR_ZE);
	int layout = lanes & SIMD_LANES;

	if (pre & unmasked) {
		cpu->mxcsr |= pre;
		cpu_raise(cpu, EXC_XM, 0, 0);
	}
	if (run && (lanes & SIMD_K_MASK) && (flags & (MXCSR_OE | MXCSR_UE | MXCSR_PE))) {
		/* input lanes: CVTPD2PS/CVTSD2SS read doubles and write floats */
		int dbl = layout == SIMD_PD || layout == SIMD_SD || layout == SIMD_PS2 ||
			  (lanes & SIMD_K_MASK) == SIMD_K_UNARY;
		int n = layout == SIMD_PS ? 4 : layout == SIMD_PD || layout == SIMD_PS2 ? 2 : 1;
		uint32_t all = 0;
		union xmm_reg di, si;
		_mm_store_si128((__m128i *)&di, d);
		_mm_store_si128((__m128i *)&si, s);
		for (int i = 0; i < n; i++) {
			union xmm_reg dl, sl;
			for (int j = 0; j < (dbl ? 2 : 4); j++) {
				if (dbl) {
					dl.q[j] = j == i ? di.q[j] : 0x3ff0000000000000ull;
					sl.q[j] = j == i ? si.q[j] : 0x3ff0000000000000ull;
				} else {
					dl.d[j] = j == i ? di.d[j] : 0x3f800000u;
					sl.d[j] = j == i ? si.d[j] : 0x3f800000u;
				}
			}
			__m128i r = _mm_load_si128((const __m128i *)&dl);
			uint32_t f = run(&r, _mm_load_si128((const __m128i *)&sl),
					 simd_mxcsr_run(cpu)) & MXCSR_FLAGS;
			if ((unmasked & MXCSR_UE) && lane_tiny(&r, lanes))
				f |= MXCSR_UE;
			if (f & unmasked & (MXCSR_OE | MXCSR_UE))
				f = (f & ~MXCSR_PE) | unbounded_pe(cpu, lanes, dbl, i, run, &dl, &sl);
			all |= f;
		}
		flags = all;
	} else if ((unmasked & MXCSR_UE) && lane_tiny(res, lanes)) {
		flags |= MXCSR_UE;
	}
	cpu->mxcsr |= flags;
	if (flags & unmasked)
		cpu_raise(cpu, EXC_XM, 0, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Arithmetic: op[0] = op[0] OP op[1] on the host. */

#define FP_BIN(name, text, lanes)                                                         \
	static uint32_t name##_run(__m128i *d, __m128i s, uint32_t mx)                      \
	{                                                                                   \
		SIMD_FP(text " %[s], %[d]", mx, [d] "+x"(*d) : [s] "x"(s));                \
		return mx;                                                                  \
	}                                                                                   \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		__m128i s = simd_src(cpu, in, 1);                                           \
		__m128i d0 = *xmm_ptr(cpu, in->op[0].reg), d = d0;                          \
		uint32_t mx = name##_run(&d, s, simd_mxcsr_run(cpu));                       \
		simd_fp_commit_run(cpu, mx, &d, lanes, name##_run, d0, s);                  \
		*xmm_ptr(cpu, in->op[0].reg) = d;                                           \
	}

FP_BIN(h_addps, "addps", SIMD_PS | SIMD_K_COMMON)
FP_BIN(h_addss, "addss", SIMD_SS | SIMD_K_COMMON)
FP_BIN(h_addpd, "addpd", SIMD_PD | SIMD_K_COMMON)
FP_BIN(h_addsd, "addsd", SIMD_SD | SIMD_K_COMMON)
FP_BIN(h_subps, "subps", SIMD_PS | SIMD_K_COMMON)
FP_BIN(h_subss, "subss", SIMD_SS | SIMD_K_COMMON)
FP_BIN(h_subpd, "subpd", SIMD_PD | SIMD_K_COMMON)
FP_BIN(h_subsd, "subsd", SIMD_SD | SIMD_K_COMMON)
FP_BIN(h_mulps, "mulps", SIMD_PS | SIMD_K_INDEP)
FP_BIN(h_mulss, "mulss", SIMD_SS | SIMD_K_INDEP)
FP_BIN(h_mulpd, "mulpd", SIMD_PD | SIMD_K_INDEP)
FP_BIN(h_mulsd, "mulsd", SIMD_SD | SIMD_K_INDEP)
FP_BIN(h_divps, "divps", SIMD_PS | SIMD_K_INDEP)
FP_BIN(h_divss, "divss", SIMD_SS | SIMD_K_INDEP)
FP_BIN(h_divpd, "divpd", SIMD_PD | SIMD_K_INDEP)
FP_BIN(h_divsd, "divsd", SIMD_SD | SIMD_K_INDEP)
FP_BIN(h_minps, "minps", SIMD_NOUF)
FP_BIN(h_minss, "minss", SIMD_NOUF)
FP_BIN(h_minpd, "minpd", SIMD_NOUF)
FP_BIN(h_minsd, "minsd", SIMD_NOUF)
FP_BIN(h_maxps, "maxps", SIMD_NOUF)
FP_BIN(h_maxss, "maxss", SIMD_NOUF)
FP_BIN(h_maxpd, "maxpd", SIMD_NOUF)
FP_BIN(h_maxsd, "maxsd", SIMD_NOUF)
/* Unary forms keep the "+x" destination: the scalar forms merge bits 127:32 (or 127:64). */
FP_BIN(h_sqrtps, "sqrtps", SIMD_NOUF)
FP_BIN(h_sqrtss, "sqrtss", SIMD_NOUF)
FP_BIN(h_sqrtpd, "sqrtpd", SIMD_NOUF)
FP_BIN(h_sqrtsd, "sqrtsd", SIMD_NOUF)
FP_BIN(h_rcpps, "rcpps", SIMD_NOUF)
FP_BIN(h_rcpss, "rcpss", SIMD_NOUF)
FP_BIN(h_rsqrtps, "rsqrtps", SIMD_NOUF)
FP_BIN(h_rsqrtss, "rsqrtss", SIMD_NOUF)
/* Conversions between float formats and from packed int32 (xmm/m128 or xmm/m64 sources). */
FP_BIN(h_cvtps2pd, "cvtps2pd", SIMD_NOUF)
FP_BIN(h_cvtpd2ps, "cvtpd2ps", SIMD_PS2 | SIMD_K_UNARY)
FP_BIN(h_cvtss2sd, "cvtss2sd", SIMD_NOUF)
FP_BIN(h_cvtsd2ss, "cvtsd2ss", SIMD_SS | SIMD_K_UNARY)
FP_BIN(h_cvtdq2ps, "cvtdq2ps", SIMD_NOUF)
FP_BIN(h_cvtps2dq, "cvtps2dq", SIMD_NOUF)
FP_BIN(h_cvttps2dq, "cvttps2dq", SIMD_NOUF)
FP_BIN(h_cvtdq2pd, "cvtdq2pd", SIMD_NOUF)
FP_BIN(h_cvtpd2dq, "cvtpd2dq", SIMD_NOUF)
FP_BIN(h_cvttpd2dq, "cvttpd2dq", SIMD_NOUF)

/*
 * CMPPS/CMPSS/CMPPD/CMPSD xmm, xmm/m, imm8. The legacy encodings use imm8[2:0] only (the host
 * ignores bits 7:3, checked on hardware); the predicate is part of the instruction encoding,
 * hence one asm per predicate.
 */
#define CMP_CASE(mn, n)                                                                    \
	case n:                                                                            \
		SIMD_FP(mn " $" #n ", %[s], %[d]", mx, [d] "+x"(d) : [s] "x"(s));           \
		break;
#define FP_CMP(name, mn)                                                                   \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		__m128i s = simd_src(cpu, in, 1);                                           \
		__m128i d = *xmm_ptr(cpu, in->op[0].reg);                                   \
		uint32_t mx = simd_mxcsr_run(cpu);                                          \
		switch (in->op[2].disp & 7) {                                               \
			CMP_CASE(mn, 0) CMP_CASE(mn, 1) CMP_CASE(mn, 2) CMP_CASE(mn, 3)     \
			CMP_CASE(mn, 4) CMP_CASE(mn, 5) CMP_CASE(mn, 6) CMP_CASE(mn, 7)     \
		}                                                                           \
		simd_fp_commit(cpu, mx, &d, SIMD_NOUF);                                     \
		*xmm_ptr(cpu, in->op[0].reg) = d;                                           \
	}

FP_CMP(h_cmpps, "cmpps")
FP_CMP(h_cmpss, "cmpss")
FP_CMP(h_cmppd, "cmppd")
FP_CMP(cmpsd_sse, "cmpsd")

/*
 * MOVSD and CMPSD share their Zydis mnemonic with the string instructions (A5, A7). The
 * string forms are string.c's: look its handler up in its table.
 */
static insn_fn string_handler(uint16_t mnemonic)
{
	for (const struct insn_entry *e = string_insns; e->fn; e++)
		if (e->mnemonic == mnemonic)
			return e->fn;
	return NULL;
}

__attribute__((noinline)) static void string_form(struct vcpu *cpu, const struct insn *in)
{
	insn_fn fn = string_handler(in->mnemonic);
	if (!fn)
		cpu_ud(cpu);
	fn(cpu, in);
}

static void h_cmpsd(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->opcode != 0xc2))
		string_form(cpu, in);
	else
		cmpsd_sse(cpu, in);
}

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the compare, OF = SF = AF = 0. */
#define FP_COMI(name, mn)                                                                  \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		__m128i s = simd_src(cpu, in, 1);                                           \
		__m128i d = *xmm_ptr(cpu, in->op[0].reg);                                   \
		uint32_t mx = simd_mxcsr_run(cpu);                                          \
		uint8_t zf, pf, cf;                                                         \
		SIMD_FP(mn " %[s], %[d]", mx,                                               \
			[z] "=@ccz"(zf), [p] "=@ccp"(pf), [c] "=@ccc"(cf)                   \
			: [d] "x"(d), [s] "x"(s));                                          \
		simd_fp_commit(cpu, mx, NULL, SIMD_NOUF);                                   \
		set_flags(cpu, FLAGS_ARITH,                                                 \
			  (zf ? FLAG_ZF : 0) | (pf ? FLAG_PF : 0) | (cf ? FLAG_CF : 0));    \
	}

FP_COMI(h_comiss, "comiss")
FP_COMI(h_ucomiss, "ucomiss")
FP_COMI(h_comisd, "comisd")
FP_COMI(h_ucomisd, "ucomisd")

/* ---------------------------------------------------------------------------------------- */
/* Conversions with a GPR or MMX operand. */

/* CVTSI2SS/CVTSI2SD xmm, r/m32|r/m64 */
#define FP_CVTSI(name, mn)                                                                 \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		uint64_t v = op_read(cpu, in, 1);                                           \
		__m128i d = *xmm_ptr(cpu, in->op[0].reg);                                   \
		uint32_t mx = simd_mxcsr_run(cpu);                                          \
		if (in->op[1].size == 8)                                                    \
			SIMD_FP(mn "q %[s], %[d]", mx, [d] "+x"(d) : [s] "r"(v));          \
		else                                                                        \
			SIMD_FP(mn "l %k[s], %[d]", mx, [d] "+x"(d) : [s] "r"(v));         \
		simd_fp_commit(cpu, mx, &d, SIMD_NOUF);                                     \
		*xmm_ptr(cpu, in->op[0].reg) = d;                                           \
	}

FP_CVTSI(h_cvtsi2ss, "cvtsi2ss")
FP_CVTSI(h_cvtsi2sd, "cvtsi2sd")

/* CVT(T)SS2SI/CVT(T)SD2SI r32|r64, xmm/m32|m64 */
#define FP_CVT2SI(name, mn)                                                                \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		__m128i s = simd_src(cpu, in, 1);                                           \
		uint32_t mx = simd_mxcsr_run(cpu);                                          \
		uint64_t v;                                                                 \
		if (in->op[0].size == 8)                                                    \
			SIMD_FP(mn " %[s], %q[d]", mx, [d] "=r"(v) : [s] "x"(s));          \
		else                                                                        \
			SIMD_FP(mn " %[s], %k[d]", mx, [d] "=r"(v) : [s] "x"(s));          \
		simd_fp_commit(cpu, mx, NULL, SIMD_NOUF);                                   \
		gpr_set(cpu, in->op[0].reg, in->op[0].size, v);                             \
	}

FP_CVT2SI(h_cvtss2si, "cvtss2si")
FP_CVT2SI(h_cvttss2si, "cvttss2si")
FP_CVT2SI(h_cvtsd2si, "cvtsd2si")
FP_CVT2SI(h_cvttsd2si, "cvttsd2si")

/*
 * MMX-operand conversions, done with the XMM instruction on the low 64 bits (the other lanes
 * are zero and raise no flag). An MMX register operand switches the x87 unit to MMX mode, even
 * if the instruction then raises #XM (checked on hardware); a memory source does not (SDM
 * Vol. 2 CVTPI2PS: "executed as an SSE instruction").
 */

/* CVTPI2PS xmm, mm/m64: bits 127:64 of the destination are kept. */
static void h_cvtpi2ps(struct vcpu *cpu, const struct insn *in)
{
	__m128i s = simd_src(cpu, in, 1), r;
	union xmm_reg *d = &cpu->xmm[in->op[0].reg];
	uint32_t mx = simd_mxcsr_run(cpu);
	if (in->op[1].kind == OPK_MMX)
		mmx_enter(cpu);
	s = _mm_move_epi64(s);
	SIMD_FP("cvtdq2ps %[s], %[r]", mx, [r] "=x"(r) : [s] "x"(s));
	simd_fp_commit(cpu, mx, NULL, SIMD_NOUF);
	d->q[0] = (uint64_t)_mm_cvtsi128_si64(r);
}

/* CVTPI2PD xmm, mm/m64 (exact) */
static void h_cvtpi2pd(struct vcpu *cpu, const struct insn *in)
{
	__m128i s = simd_src(cpu, in, 1), r;
	uint32_t mx = simd_mxcsr_run(cpu);
	if (in->op[1].kind == OPK_MMX)
		mmx_enter(cpu);
	SIMD_FP("cvtdq2pd %[s], %[r]", mx, [r] "=x"(r) : [s] "x"(s));
	simd_fp_commit(cpu, mx, NULL, SIMD_NOUF);
	*xmm_ptr(cpu, in->op[0].reg) = r;
}

/* CVT(T)PS2PI mm, xmm/m64 and CVT(T)PD2PI mm, xmm/m128: mm = low 64 bits of the XMM form. */
#define FP_CVT2PI(name, mn, low)                                                           \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		__m128i s = simd_src(cpu, in, 1), r;                                        \
		uint32_t mx = simd_mxcsr_run(cpu);                                          \
		if (low)                                                                    \
			s = _mm_move_epi64(s);                                              \
		mmx_enter(cpu);                                                             \
		SIMD_FP(mn " %[s], %[r]", mx, [r] "=x"(r) : [s] "x"(s));                   \
		simd_fp_commit(cpu, mx, NULL, SIMD_NOUF);                                   \
		mmx_set(cpu, in->op[0].reg, (uint64_t)_mm_cvtsi128_si64(r));                \
	}

FP_CVT2PI(h_cvtps2pi, "cvtps2dq", 1)
FP_CVT2PI(h_cvttps2pi, "cvttps2dq", 1)
FP_CVT2PI(h_cvtpd2pi, "cvtpd2dq", 0)
FP_CVT2PI(h_cvttpd2pi, "cvttpd2dq", 0)

/* ---------------------------------------------------------------------------------------- */
/* Bitwise logic, shuffles and unpacks (no MXCSR involvement). */

#define XOP(name, expr)                                                                    \
	static void name(struct vcpu *cpu, const struct insn *in)                           \
	{                                                                                   \
		__m128i b = simd_src(cpu, in, 1);                                           \
		__m128i *d = xmm_ptr(cpu, in->op[0].reg), a = *d;                           \
		*d = (expr);                                                                \
	}

XOP(h_andps, _mm_and_si128(a, b))
XOP(h_andnps, _mm_andnot_si128(a, b))
XOP(h_orps, _mm_or_si128(a, b))
XOP(h_xorps, _mm_xor_si128(a, b))
XOP(h_unpcklps, _mm_unpacklo_epi32(a, b))
XOP(h_unpckhps, _mm_unpackhi_epi32(a, b))
XOP(h_unpcklpd, _mm_unpacklo_epi64(a, b))
XOP(h_unpckhpd, _mm_unpackhi_epi64(a, b))

/* SHUFPS xmm, xmm/m128, imm8: two lanes from the destination, two from the source. */
static void h_shufps(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg s, *d = &cpu->xmm[in->op[0].reg], a = *d;
	unsigned imm = (unsigned)in->op[2].disp;
	_mm_store_si128((__m128i *)&s, simd_src(cpu, in, 1));
	d->d[0] = a.d[imm & 3];
	d->d[1] = a.d[(imm >> 2) & 3];
	d->d[2] = s.d[(imm >> 4) & 3];
	d->d[3] = s.d[(imm >> 6) & 3];
}

static void h_shufpd(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg s, *d = &cpu->xmm[in->op[0].reg], a = *d;
	unsigned imm = (unsigned)in->op[2].disp;
	_mm_store_si128((__m128i *)&s, simd_src(cpu, in, 1));
	d->q[0] = a.q[imm & 1];
	d->q[1] = s.q[(imm >> 1) & 1];
}

/* MOVMSKPS/MOVMSKPD r32/r64, xmm */
static void h_movmskps(struct vcpu *cpu, const struct insn *in)
{
	unsigned v = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(*xmm_ptr(cpu, in->op[1].reg)));
	gpr_set(cpu, in->op[0].reg, in->op[0].size, v);
}

static void h_movmskpd(struct vcpu *cpu, const struct insn *in)
{
	unsigned v = (unsigned)_mm_movemask_pd(_mm_castsi128_pd(*xmm_ptr(cpu, in->op[1].reg)));
	gpr_set(cpu, in->op[0].reg, in->op[0].size, v);
}

/* ---------------------------------------------------------------------------------------- */
/* Moves. */

/* 128-bit stores: MOVAPS/APD/DQA/NTPS/NTPD/NTDQ need 16-byte alignment, #GP(0) otherwise. */
static inline void store128(struct vcpu *cpu, const struct insn *in, __m128i v, int aligned)
{
	uint64_t ea = op_ea(cpu, in, &in->op[0]);
	if (aligned && unlikely(ea & 15))
		cpu_gp0(cpu);
	_mm_storeu_si128((__m128i *)gva_ptr(cpu, ea, 16, 1), v);
}

/* MOVAPS MOVAPD MOVDQA MOVNTPS MOVNTPD MOVNTDQ */
static void h_mov128a(struct vcpu *cpu, const struct insn *in)
{
	if (likely(in->op[0].kind == OPK_XMM))
		*xmm_ptr(cpu, in->op[0].reg) = simd_src(cpu, in, 1);
	else
		store128(cpu, in, *xmm_ptr(cpu, in->op[1].reg), 1);
}

/* MOVUPS MOVUPD MOVDQU */
static void h_mov128u(struct vcpu *cpu, const struct insn *in)
{
	if (likely(in->op[0].kind == OPK_XMM))
		*xmm_ptr(cpu, in->op[0].reg) = simd_src_u(cpu, in, 1);
	else
		store128(cpu, in, *xmm_ptr(cpu, in->op[1].reg), 0);
}

/* MOVSS: xmm <- xmm merges bits 31:0; xmm <- m32 zeroes bits 127:32; m32 <- xmm. */
static void h_movss(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	if (d->kind == OPK_MEM) {
		mem_write32(cpu, op_ea(cpu, in, d), cpu->xmm[s->reg].d[0]);
	} else if (s->kind == OPK_MEM) {
		uint32_t v = mem_read32(cpu, op_ea(cpu, in, s));
		*xmm_ptr(cpu, d->reg) = _mm_cvtsi32_si128((int)v);
	} else {
		cpu->xmm[d->reg].d[0] = cpu->xmm[s->reg].d[0];
	}
}

/* MOVSD (F2 0F 10/11): as MOVSS with 64 bits. A5 is the string MOVSD. */
static void h_movsd(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	if (unlikely(in->opcode != 0x10 && in->opcode != 0x11)) {
		string_form(cpu, in);
	} else if (d->kind == OPK_MEM) {
		mem_write64(cpu, op_ea(cpu, in, d), cpu->xmm[s->reg].q[0]);
	} else if (s->kind == OPK_MEM) {
		uint64_t v = mem_read64(cpu, op_ea(cpu, in, s));
		*xmm_ptr(cpu, d->reg) = _mm_cvtsi64_si128((long long)v);
	} else {
		cpu->xmm[d->reg].q[0] = cpu->xmm[s->reg].q[0];
	}
}

/* MOVLPS/MOVLPD (lane 0) and MOVHPS/MOVHPD (lane 1): xmm <-> m64, other lane kept. */
static inline void movhl_mem(struct vcpu *cpu, const struct insn *in, int lane)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	if (d->kind == OPK_MEM)
		mem_write64(cpu, op_ea(cpu, in, d), cpu->xmm[s->reg].q[lane]);
	else
		cpu->xmm[d->reg].q[lane] = mem_read64(cpu, op_ea(cpu, in, s));
}

static void h_movlps(struct vcpu *cpu, const struct insn *in)
{
	movhl_mem(cpu, in, 0);
}

static void h_movhps(struct vcpu *cpu, const struct insn *in)
{
	movhl_mem(cpu, in, 1);
}

/* MOVHLPS xmm1, xmm2: low <- high of xmm2. MOVLHPS: high <- low of xmm2. */
static void h_movhlps(struct vcpu *cpu, const struct insn *in)
{
	cpu->xmm[in->op[0].reg].q[0] = cpu->xmm[in->op[1].reg].q[1];
}

static void h_movlhps(struct vcpu *cpu, const struct insn *in)
{
	cpu->xmm[in->op[0].reg].q[1] = cpu->xmm[in->op[1].reg].q[0];
}

/* ---------------------------------------------------------------------------------------- */
/* MXCSR. (MOVNTI, fences, prefetches and CLFLUSH are in datamov.c.) */

/* LDMXCSR m32: reserved bits set -> #GP(0) (SDM Vol. 2 LDMXCSR). */
static void h_ldmxcsr(struct vcpu *cpu, const struct insn *in)
{
	uint32_t v = mem_read32(cpu, op_ea(cpu, in, &in->op[0]));
	if (v & MXCSR_RESERVED)
		cpu_gp0(cpu);
	cpu->mxcsr = v;
}

static void h_stmxcsr(struct vcpu *cpu, const struct insn *in)
{
	mem_write32(cpu, op_ea(cpu, in, &in->op[0]), cpu->mxcsr);
}

const struct insn_entry sse_insns[] = {
	{ ZYDIS_MNEMONIC_ADDPS, h_addps },
	{ ZYDIS_MNEMONIC_ADDSS, h_addss },
	{ ZYDIS_MNEMONIC_ADDPD, h_addpd },
	{ ZYDIS_MNEMONIC_ADDSD, h_addsd },
	{ ZYDIS_MNEMONIC_SUBPS, h_subps },
	{ ZYDIS_MNEMONIC_SUBSS, h_subss },
	{ ZYDIS_MNEMONIC_SUBPD, h_subpd },
	{ ZYDIS_MNEMONIC_SUBSD, h_subsd },
	{ ZYDIS_MNEMONIC_MULPS, h_mulps },
	{ ZYDIS_MNEMONIC_MULSS, h_mulss },
	{ ZYDIS_MNEMONIC_MULPD, h_mulpd },
	{ ZYDIS_MNEMONIC_MULSD, h_mulsd },
	{ ZYDIS_MNEMONIC_DIVPS, h_divps },
	{ ZYDIS_MNEMONIC_DIVSS, h_divss },
	{ ZYDIS_MNEMONIC_DIVPD, h_divpd },
	{ ZYDIS_MNEMONIC_DIVSD, h_divsd },
	{ ZYDIS_MNEMONIC_MINPS, h_minps },
	{ ZYDIS_MNEMONIC_MINSS, h_minss },
	{ ZYDIS_MNEMONIC_MINPD, h_minpd },
	{ ZYDIS_MNEMONIC_MINSD, h_minsd },
	{ ZYDIS_MNEMONIC_MAXPS, h_maxps },
	{ ZYDIS_MNEMONIC_MAXSS, h_maxss },
	{ ZYDIS_MNEMONIC_MAXPD, h_maxpd },
	{ ZYDIS_MNEMONIC_MAXSD, h_maxsd },
	{ ZYDIS_MNEMONIC_SQRTPS, h_sqrtps },
	{ ZYDIS_MNEMONIC_SQRTSS, h_sqrtss },
	{ ZYDIS_MNEMONIC_SQRTPD, h_sqrtpd },
	{ ZYDIS_MNEMONIC_SQRTSD, h_sqrtsd },
	{ ZYDIS_MNEMONIC_RCPPS, h_rcpps },
	{ ZYDIS_MNEMONIC_RCPSS, h_rcpss },
	{ ZYDIS_MNEMONIC_RSQRTPS, h_rsqrtps },
	{ ZYDIS_MNEMONIC_RSQRTSS, h_rsqrtss },
	{ ZYDIS_MNEMONIC_CMPPS, h_cmpps },
	{ ZYDIS_MNEMONIC_CMPSS, h_cmpss },
	{ ZYDIS_MNEMONIC_CMPPD, h_cmppd },
	{ ZYDIS_MNEMONIC_CMPSD, h_cmpsd },
	{ ZYDIS_MNEMONIC_COMISS, h_comiss },
	{ ZYDIS_MNEMONIC_UCOMISS, h_ucomiss },
	{ ZYDIS_MNEMONIC_COMISD, h_comisd },
	{ ZYDIS_MNEMONIC_UCOMISD, h_ucomisd },
	{ ZYDIS_MNEMONIC_CVTPS2PD, h_cvtps2pd },
	{ ZYDIS_MNEMONIC_CVTPD2PS, h_cvtpd2ps },
	{ ZYDIS_MNEMONIC_CVTSS2SD, h_cvtss2sd },
	{ ZYDIS_MNEMONIC_CVTSD2SS, h_cvtsd2ss },
	{ ZYDIS_MNEMONIC_CVTDQ2PS, h_cvtdq2ps },
	{ ZYDIS_MNEMONIC_CVTPS2DQ, h_cvtps2dq },
	{ ZYDIS_MNEMONIC_CVTTPS2DQ, h_cvttps2dq },
	{ ZYDIS_MNEMONIC_CVTDQ2PD, h_cvtdq2pd },
	{ ZYDIS_MNEMONIC_CVTPD2DQ, h_cvtpd2dq },
	{ ZYDIS_MNEMONIC_CVTTPD2DQ, h_cvttpd2dq },
	{ ZYDIS_MNEMONIC_CVTSI2SS, h_cvtsi2ss },
	{ ZYDIS_MNEMONIC_CVTSI2SD, h_cvtsi2sd },
	{ ZYDIS_MNEMONIC_CVTSS2SI, h_cvtss2si },
	{ ZYDIS_MNEMONIC_CVTTSS2SI, h_cvttss2si },
	{ ZYDIS_MNEMONIC_CVTSD2SI, h_cvtsd2si },
	{ ZYDIS_MNEMONIC_CVTTSD2SI, h_cvttsd2si },
	{ ZYDIS_MNEMONIC_CVTPI2PS, h_cvtpi2ps },
	{ ZYDIS_MNEMONIC_CVTPI2PD, h_cvtpi2pd },
	{ ZYDIS_MNEMONIC_CVTPS2PI, h_cvtps2pi },
	{ ZYDIS_MNEMONIC_CVTTPS2PI, h_cvttps2pi },
	{ ZYDIS_MNEMONIC_CVTPD2PI, h_cvtpd2pi },
	{ ZYDIS_MNEMONIC_CVTTPD2PI, h_cvttpd2pi },
	{ ZYDIS_MNEMONIC_ANDPS, h_andps },
	{ ZYDIS_MNEMONIC_ANDNPS, h_andnps },
	{ ZYDIS_MNEMONIC_ORPS, h_orps },
	{ ZYDIS_MNEMONIC_XORPS, h_xorps },
	{ ZYDIS_MNEMONIC_ANDPD, h_andps },
	{ ZYDIS_MNEMONIC_ANDNPD, h_andnps },
	{ ZYDIS_MNEMONIC_ORPD, h_orps },
	{ ZYDIS_MNEMONIC_XORPD, h_xorps },
	{ ZYDIS_MNEMONIC_UNPCKLPS, h_unpcklps },
	{ ZYDIS_MNEMONIC_UNPCKHPS, h_unpckhps },
	{ ZYDIS_MNEMONIC_UNPCKLPD, h_unpcklpd },
	{ ZYDIS_MNEMONIC_UNPCKHPD, h_unpckhpd },
	{ ZYDIS_MNEMONIC_SHUFPS, h_shufps },
	{ ZYDIS_MNEMONIC_SHUFPD, h_shufpd },
	{ ZYDIS_MNEMONIC_MOVMSKPS, h_movmskps },
	{ ZYDIS_MNEMONIC_MOVMSKPD, h_movmskpd },
	{ ZYDIS_MNEMONIC_MOVAPS, h_mov128a },
	{ ZYDIS_MNEMONIC_MOVAPD, h_mov128a },
	{ ZYDIS_MNEMONIC_MOVDQA, h_mov128a },
	{ ZYDIS_MNEMONIC_MOVNTPS, h_mov128a },
	{ ZYDIS_MNEMONIC_MOVNTPD, h_mov128a },
	{ ZYDIS_MNEMONIC_MOVNTDQ, h_mov128a },
	{ ZYDIS_MNEMONIC_MOVUPS, h_mov128u },
	{ ZYDIS_MNEMONIC_MOVUPD, h_mov128u },
	{ ZYDIS_MNEMONIC_MOVDQU, h_mov128u },
	{ ZYDIS_MNEMONIC_MOVSS, h_movss },
	{ ZYDIS_MNEMONIC_MOVSD, h_movsd },
	{ ZYDIS_MNEMONIC_MOVLPS, h_movlps },
	{ ZYDIS_MNEMONIC_MOVLPD, h_movlps },
	{ ZYDIS_MNEMONIC_MOVHPS, h_movhps },
	{ ZYDIS_MNEMONIC_MOVHPD, h_movhps },
	{ ZYDIS_MNEMONIC_MOVHLPS, h_movhlps },
	{ ZYDIS_MNEMONIC_MOVLHPS, h_movlhps },
	{ ZYDIS_MNEMONIC_LDMXCSR, h_ldmxcsr },
	{ ZYDIS_MNEMONIC_STMXCSR, h_stmxcsr },
	{ 0, NULL },
};
