/* SPDX-License-Identifier: MIT */
/*
 * SSE3, SSSE3, SSE4.1, SSE4.2 and POPCNT (Intel SDM Vol. 1 ch. 12, Vol. 2 instruction pages).
 *
 * Integer forms are computed in C (SSE2 intrinsics for the string compares). Floating-point forms
 * (ADDSUB, HADD/HSUB, ROUND, DP) run the same instruction on the host's SSE unit with the
 * guest's MXCSR loaded (exceptions masked), so results, rounding, DAZ/FTZ and the MXCSR flags
 * are exactly the hardware's; this needs a host with SSE4.1. When the guest unmasks an
 * exception, the instruction is replayed lane by lane (and step by step for DPPS/DPPD) to
 * find the flags the hardware reports with #XM, raised before anything is written
 * (SDM Vol. 1 11.5; see fp_lanes).
 *
 * SSSE3 instructions exist in an MMX form (64-bit, MMn = mantissa of x87 R_n) and an XMM form;
 * one handler serves both, selected by the destination operand kind.
 */
#include "simd.h"

/* ---------------------------------------------------------------------------------------- */
/* Operand helpers */

static inline uint8_t imm8(const struct insn *in, int i)
{
	return (uint8_t)in->op[i].disp;
}

/*
 * Source XMM operand for a legacy-SSE instruction: 16-byte memory operands must be aligned
 * (SDM Vol. 1 11.6.7, Vol. 2 2.4 "Exceptions Type 1/4": #GP(0) otherwise); smaller memory operands are read zero-padded.
 */
static inline const union xmm_reg *xsrc(struct vcpu *cpu, const struct insn *in, int i,
					union xmm_reg *tmp)
{
	const struct operand *o = &in->op[i];
	uint64_t ea;
	if (likely(o->kind == OPK_XMM))
		return &cpu->xmm[o->reg];
	if (unlikely(o->kind != OPK_MEM))
		cpu_ud(cpu);
	ea = op_ea(cpu, in, o);
	if (o->size >= 16) {
		if (unlikely(ea & 15))
			cpu_gp0(cpu);
		mem_read(cpu, ea, tmp, 16);
	} else {
		tmp->q[0] = tmp->q[1] = 0;
		mem_read(cpu, ea, tmp, o->size);
	}
	return tmp;
}

/* Same, without the alignment requirement (LDDQU, PCMPxSTRx). */
static inline const union xmm_reg *xsrc_u(struct vcpu *cpu, const struct insn *in, int i,
					  union xmm_reg *tmp)
{
	const struct operand *o = &in->op[i];
	if (likely(o->kind == OPK_XMM))
		return &cpu->xmm[o->reg];
	if (unlikely(o->kind != OPK_MEM))
		cpu_ud(cpu);
	tmp->q[0] = tmp->q[1] = 0;
	mem_read(cpu, op_ea(cpu, in, o), tmp, o->size > 16 ? 16 : o->size);
	return tmp;
}

static inline union xmm_reg *xdst(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->op[0].kind != OPK_XMM))
		cpu_ud(cpu);
	return &cpu->xmm[in->op[0].reg];
}

/* MMX source: MMn or m64 (no alignment requirement). */
static inline uint64_t mmx_src(struct vcpu *cpu, const struct insn *in, int i)
{
	const struct operand *o = &in->op[i];
	if (o->kind == OPK_MMX)
		return mmx_get(cpu, o->reg);
	if (o->kind == OPK_MEM)
		return mem_read64(cpu, op_ea(cpu, in, o));
	cpu_ud(cpu);
}

static inline int16_t sat16(int32_t v)
{
	return v > 32767 ? 32767 : v < -32768 ? -32768 : (int16_t)v;
}

static inline uint16_t satu16(int32_t v)
{
	return v > 65535 ? 65535 : v < 0 ? 0 : (uint16_t)v;
}

/* ---------------------------------------------------------------------------------------- */
/* Host SSE execution for floating-point forms */

typedef float v4sf __attribute__((vector_size(16)));

/* a = a OP b on the host with MXCSR @mx; returns the raised exception flags. */
#define HOST_SSE_OP(name, mnem)                                                                \
	static inline uint32_t name(v4sf *a, v4sf b, uint32_t mx)                              \
	{                                                                                      \
		uint32_t saved = 0, out;                                                       \
		__asm__ volatile("stmxcsr %[sv]\n\t"                                           \
				 "ldmxcsr %[mx]\n\t" mnem " %[b], %[a]\n\t"                    \
				 "stmxcsr %[out]\n\t"                                          \
				 "ldmxcsr %[sv]"                                               \
				 : [a] "+x"(*a), [sv] "+m"(saved), [out] "=m"(out)             \
				 : [b] "x"(b), [mx] "m"(mx));                                  \
		return out & MXCSR_FLAGS;                                                      \
	}

HOST_SSE_OP(host_addsubps, "addsubps")
HOST_SSE_OP(host_addsubpd, "addsubpd")
HOST_SSE_OP(host_haddps, "haddps")
HOST_SSE_OP(host_haddpd, "haddpd")
HOST_SSE_OP(host_hsubps, "hsubps")
HOST_SSE_OP(host_hsubpd, "hsubpd")
/* ROUNDxx with imm 4 (MXCSR.RC) or 12 (MXCSR.RC, precision suppressed) */
HOST_SSE_OP(host_roundps_4, "roundps $4,")
HOST_SSE_OP(host_roundps_c, "roundps $12,")
HOST_SSE_OP(host_roundpd_4, "roundpd $4,")
HOST_SSE_OP(host_roundpd_c, "roundpd $12,")
HOST_SSE_OP(host_roundss_4, "roundss $4,")
HOST_SSE_OP(host_roundss_c, "roundss $12,")
HOST_SSE_OP(host_roundsd_4, "roundsd $4,")
HOST_SSE_OP(host_roundsd_c, "roundsd $12,")
/* scalar steps, for replaying an instruction lane by lane when an exception is unmasked */
HOST_SSE_OP(host_addss, "addss")
HOST_SSE_OP(host_subss, "subss")
HOST_SSE_OP(host_mulss, "mulss")
HOST_SSE_OP(host_addsd, "addsd")
HOST_SSE_OP(host_subsd, "subsd")
HOST_SSE_OP(host_mulsd, "mulsd")

typedef uint32_t (*host_op_fn)(v4sf *a, v4sf b, uint32_t mx);

static inline int fp_unmasked(const struct vcpu *cpu)
{
	return (cpu->mxcsr & MXCSR_MASKS) != MXCSR_MASKS;
}

/*
 * #XM decision for flags @f of one step (@acc: flags of earlier steps of the same instruction),
 * SDM Vol. 1 11.5.1: an unmasked pre-computation exception (IE, DE, ZE) reports only the
 * pre-computation flags; else an unmasked exception reports all. Returns acc | f if no #XM.
 */
static uint32_t fp_decide(struct vcpu *cpu, uint32_t acc, uint32_t f)
{
	uint32_t unmasked = ~(cpu->mxcsr >> 7) & MXCSR_FLAGS;
	if (f & unmasked & (MXCSR_IE | MXCSR_DE | MXCSR_ZE)) {
		cpu->mxcsr |= acc | (f & (MXCSR_IE | MXCSR_DE | MXCSR_ZE));
		cpu_raise(cpu, EXC_XM, 0, 0);
	}
	if (f & unmasked) {
		cpu->mxcsr |= acc | f;
		cpu_raise(cpu, EXC_XM, 0, 0);
	}
	return acc | f;
}

/*
 * Lane-by-lane replay for unmasked overflow/underflow. The masked host run cannot show two
 * things the hardware does when OE/UE is unmasked (measured; SDM Vol. 1 11.5.2.4/11.5.2.5):
 * an unmasked underflow is signalled for every tiny result, exact or not, and for a lane that
 * overflows or underflows PE reflects the rounding of the result with an unbounded exponent
 * (as x87's scaled result), not of the denormalised/infinite one.
 */
enum { LOP_ADD, LOP_SUB, LOP_MUL };
struct lane_op {
	uint8_t op;
	uint64_t a, b; /* float or double bit patterns */
};

/* |v| = m * 2^e (m = 0 for zeros, and for denormals under DAZ); returns the sign. */
static int fp_decomp(uint64_t v, int dbl, int daz, uint64_t *m, int *e)
{
	unsigned mbits = dbl ? 52 : 23, ebits = dbl ? 11 : 8;
	int bias = dbl ? 1023 : 127;
	uint64_t frac = v & ((1ULL << mbits) - 1);
	unsigned exp = (unsigned)(v >> mbits) & ((1u << ebits) - 1);
	if (exp == 0) {
		*m = daz ? 0 : frac;
		*e = 1 - bias - (int)mbits;
	} else {
		*m = frac | (1ULL << mbits);
		*e = (int)exp - bias - (int)mbits;
	}
	return (int)(v >> (mbits + ebits)) & 1;
}

static unsigned bitlen128(unsigned __int128 v)
{
	uint64_t hi = (uint64_t)(v >> 64);
	if (hi)
		return 128 - (unsigned)__builtin_clzll(hi);
	return v ? 64 - (unsigned)__builtin_clzll((uint64_t)v) : 0;
}

/* Is the exact result of @l representable with the format's precision and any exponent? */
static int fp_exact_unbounded(const struct lane_op *l, int dbl, int daz)
{
	unsigned prec = dbl ? 53 : 24;
	uint64_t ma, mb;
	int ea, eb, sa = fp_decomp(l->a, dbl, daz, &ma, &ea), sb = fp_decomp(l->b, dbl, daz, &mb, &eb);
	unsigned __int128 r;
	if (l->op == LOP_MUL) {
		r = (unsigned __int128)ma * mb;
	} else {
		__int128 x, y;
		if (l->op == LOP_SUB)
			sb ^= 1;
		if (!ma || !mb)
			return 1;
		if (ea < eb) {
			uint64_t tm = ma; int te = ea, ts = sa;
			ma = mb; ea = eb; sa = sb;
			mb = tm; eb = te; sb = ts;
		}
		if (ea - eb > 64)
			return 0; /* the bits of both operands are too far apart */
		x = (__int128)((unsigned __int128)ma << (ea - eb));
		y = (__int128)mb;
		x = sa ? -x : x;
		y = sb ? -y : y;
		x += y;
		r = (unsigned __int128)(x < 0 ? -x : x);
	}
	if (!r)
		return 1;
	while (!(r & 1))
		r >>= 1;
	return bitlen128(r) <= prec;
}

/* Replay @n lane ops; raise #XM as the hardware would or return acc | flags. */
static uint32_t fp_lanes(struct vcpu *cpu, uint32_t acc, const struct lane_op *l, unsigned n,
			 int dbl, uint64_t *res)
{
	static const host_op_fn ops[2][3] = {
		{ host_addss, host_subss, host_mulss },
		{ host_addsd, host_subsd, host_mulsd },
	};
	uint32_t mx = simd_mxcsr_run(cpu), unmasked = ~(cpu->mxcsr >> 7) & MXCSR_FLAGS, f = 0;
	int daz = !!(cpu->mxcsr & MXCSR_DAZ);
	for (unsigned i = 0; i < n; i++) {
		union xmm_reg x, y;
		v4sf a, b;
		uint32_t fi;
		int tiny;
		memset(&x, 0, sizeof(x));
		memset(&y, 0, sizeof(y));
		x.q[0] = l[i].a;
		y.q[0] = l[i].b;
		memcpy(&a, &x, 16);
		memcpy(&b, &y, 16);
		fi = ops[dbl][l[i].op](&a, b, mx);
		memcpy(&x, &a, 16);
		if (!dbl)
			x.q[0] &= 0xffffffffu;
		tiny = (fi & MXCSR_UE) ||
		       (dbl ? !(x.q[0] & 0x7ff0000000000000ULL) && (x.q[0] & 0x000fffffffffffffULL)
			    : !(x.q[0] & 0x7f800000u) && (x.q[0] & 0x007fffffu));
		if (((unmasked & MXCSR_UE) && tiny) || ((unmasked & MXCSR_OE) && (fi & MXCSR_OE))) {
			if (tiny)
				fi |= MXCSR_UE;
			fi &= ~MXCSR_PE;
			if (!fp_exact_unbounded(&l[i], dbl, daz))
				fi |= MXCSR_PE;
		}
		f |= fi;
		if (res)
			res[i] = x.q[0];
	}
	return fp_decide(cpu, acc, f);
}

static inline uint64_t lane(const union xmm_reg *x, unsigned i, int dbl)
{
	return dbl ? x->q[i] : x->d[i];
}

/* ADDSUB/HADD/HSUB as lane ops, for fp_lanes */
enum { K_ADDSUB, K_HADD, K_HSUB };
static unsigned fp_binop_lanes(int kind, int dbl, const union xmm_reg *d, const union xmm_reg *s,
			       struct lane_op *l)
{
	unsigned n = dbl ? 2 : 4;
	for (unsigned i = 0; i < n; i++) {
		if (kind == K_ADDSUB) {
			l[i].op = (i & 1) ? LOP_ADD : LOP_SUB;
			l[i].a = lane(d, i, dbl);
			l[i].b = lane(s, i, dbl);
		} else {
			const union xmm_reg *x = i < n / 2 ? d : s;
			unsigned j = 2 * (i % (n / 2));
			l[i].op = kind == K_HADD ? LOP_ADD : LOP_SUB;
			l[i].a = lane(x, j, dbl);
			l[i].b = lane(x, j + 1, dbl);
		}
	}
	return n;
}

static inline void fp_binop(struct vcpu *cpu, const struct insn *in, host_op_fn fn, int kind,
			    int dbl)
{
	union xmm_reg tmp;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);
	union xmm_reg *d = xdst(cpu, in);
	v4sf a, b;
	uint32_t f;
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	f = fn(&a, b, simd_mxcsr_run(cpu));
	if (unlikely(fp_unmasked(cpu))) {
		struct lane_op l[4];
		fp_lanes(cpu, 0, l, fp_binop_lanes(kind, dbl, d, s, l), dbl, NULL);
	}
	cpu->mxcsr |= f;
	memcpy(d, &a, 16);
}

#define FP_HANDLER(name, kind, dbl)                                                            \
	static void op_##name(struct vcpu *cpu, const struct insn *in)                         \
	{                                                                                      \
		fp_binop(cpu, in, host_##name, kind, dbl);                                     \
	}

FP_HANDLER(addsubps, K_ADDSUB, 0)
FP_HANDLER(addsubpd, K_ADDSUB, 1)
FP_HANDLER(haddps, K_HADD, 0)
FP_HANDLER(haddpd, K_HADD, 1)
FP_HANDLER(hsubps, K_HSUB, 0)
FP_HANDLER(hsubpd, K_HSUB, 1)

/*
 * ROUNDPS/PD/SS/SD (SDM Vol. 2 ROUNDPS): imm[2] selects MXCSR.RC, else imm[1:0] is the rounding
 * mode; imm[3] suppresses the precision exception. We put the requested mode into the host
 * MXCSR's RC field and run the host instruction in "use MXCSR.RC" mode. Rounding to an integer
 * can neither overflow nor underflow, so fp_decide covers unmasked exceptions.
 */
static void round_common(struct vcpu *cpu, const struct insn *in, host_op_fn rc, host_op_fn rc_noprec,
			 unsigned scalar_bytes)
{
	union xmm_reg tmp, r;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);
	union xmm_reg *d = xdst(cpu, in);
	uint8_t imm = imm8(in, 2);
	uint32_t mx = simd_mxcsr_run(cpu), f;
	v4sf a, b;
	if (!(imm & 4))
		mx = (mx & ~MXCSR_RC) | ((uint32_t)(imm & 3) << 13);
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	f = (imm & 8) ? rc_noprec(&a, b, mx) : rc(&a, b, mx);
	if (unlikely(fp_unmasked(cpu)))
		fp_decide(cpu, 0, f);
	cpu->mxcsr |= f;
	memcpy(&r, &a, 16);
	if (scalar_bytes)
		memcpy(d, &r, scalar_bytes); /* upper part of the destination is kept */
	else
		*d = r;
}

static void op_roundps(struct vcpu *cpu, const struct insn *in)
{
	round_common(cpu, in, host_roundps_4, host_roundps_c, 0);
}
static void op_roundpd(struct vcpu *cpu, const struct insn *in)
{
	round_common(cpu, in, host_roundpd_4, host_roundpd_c, 0);
}
static void op_roundss(struct vcpu *cpu, const struct insn *in)
{
	round_common(cpu, in, host_roundss_4, host_roundss_c, 4);
}
static void op_roundsd(struct vcpu *cpu, const struct insn *in)
{
	round_common(cpu, in, host_roundsd_4, host_roundsd_c, 8);
}

/*
 * DPPS/DPPD: the immediate is part of the host instruction, so one asm per immediate value
 * (256 for DPPS; DPPD only uses imm[5:4] and imm[1:0]).
 */
#define DP_CASE(mnem, n)                                                                       \
	case (n):                                                                              \
		__asm__ volatile("stmxcsr %[sv]\n\t"                                           \
				 "ldmxcsr %[mx]\n\t" mnem " %[imm], %[b], %[a]\n\t"            \
				 "stmxcsr %[out]\n\t"                                          \
				 "ldmxcsr %[sv]"                                               \
				 : [a] "+x"(*a), [sv] "+m"(saved), [out] "=m"(out)             \
				 : [b] "x"(b), [mx] "m"(mx), [imm] "i"(n));                    \
		break;
#define DPPS_CASE(n) DP_CASE("dpps", n)
#define DPPD_CASE(n) DP_CASE("dppd", n)
#define DP4(C, n) C(n) C((n) + 1) C((n) + 2) C((n) + 3)
#define DP16(C, n) DP4(C, n) DP4(C, (n) + 4) DP4(C, (n) + 8) DP4(C, (n) + 12)
#define DP64(C, n) DP16(C, n) DP16(C, (n) + 16) DP16(C, (n) + 32) DP16(C, (n) + 48)

static uint32_t host_dpps(v4sf *a, v4sf b, uint32_t mx, uint8_t imm)
{
	uint32_t saved = 0, out = 0;
	switch (imm) {
		DP64(DPPS_CASE, 0)
		DP64(DPPS_CASE, 64)
		DP64(DPPS_CASE, 128)
		DP64(DPPS_CASE, 192)
	}
	return out & MXCSR_FLAGS;
}

static uint32_t host_dppd(v4sf *a, v4sf b, uint32_t mx, uint8_t imm)
{
	uint32_t saved = 0, out = 0;
	switch (imm & 0x33) {
		DP4(DPPD_CASE, 0x00)
		DP4(DPPD_CASE, 0x10)
		DP4(DPPD_CASE, 0x20)
		DP4(DPPD_CASE, 0x30)
	}
	return out & MXCSR_FLAGS;
}

/*
 * With an exception unmasked, DPPS/DPPD stop at the step that raises it (measured; SDM Vol. 2
 * DPPS pseudo-code: products, pairwise sums, final sum, each rounded), so replay the steps to
 * find the flags the hardware reports with #XM. Unselected products are +0.0 and raise nothing.
 */
static void dp_unmasked(struct vcpu *cpu, const union xmm_reg *d, const union xmm_reg *s,
			uint8_t imm, int dbl)
{
	struct lane_op l[4];
	uint64_t t[4], u[2];
	unsigned n = dbl ? 2 : 4;
	uint32_t acc;
	for (unsigned i = 0; i < n; i++) {
		int sel = (imm >> (4 + i)) & 1;
		l[i].op = LOP_MUL;
		l[i].a = sel ? lane(d, i, dbl) : 0;
		l[i].b = sel ? lane(s, i, dbl) : 0;
	}
	acc = fp_lanes(cpu, 0, l, n, dbl, t);
	if (!dbl) {
		l[0] = (struct lane_op){ LOP_ADD, t[0], t[1] };
		l[1] = (struct lane_op){ LOP_ADD, t[2], t[3] };
		acc = fp_lanes(cpu, acc, l, 2, 0, u);
		l[0] = (struct lane_op){ LOP_ADD, u[0], u[1] };
	} else {
		l[0] = (struct lane_op){ LOP_ADD, t[0], t[1] };
	}
	fp_lanes(cpu, acc, l, 1, dbl, NULL);
}

static void dp_common(struct vcpu *cpu, const struct insn *in, int dbl)
{
	union xmm_reg tmp;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);
	union xmm_reg *d = xdst(cpu, in);
	uint8_t imm = imm8(in, 2);
	v4sf a, b;
	uint32_t f;
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	if (dbl)
		f = host_dppd(&a, b, simd_mxcsr_run(cpu), imm);
	else
		f = host_dpps(&a, b, simd_mxcsr_run(cpu), imm);
	if (unlikely(fp_unmasked(cpu)))
		dp_unmasked(cpu, d, s, imm, dbl);
	cpu->mxcsr |= f;
	memcpy(d, &a, 16);
}

static void op_dpps(struct vcpu *cpu, const struct insn *in)
{
	dp_common(cpu, in, 0);
}

static void op_dppd(struct vcpu *cpu, const struct insn *in)
{
	dp_common(cpu, in, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* SSE3 moves */

static void op_movshdup(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg tmp, r;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);
	r.d[0] = r.d[1] = s->d[1];
	r.d[2] = r.d[3] = s->d[3];
	*xdst(cpu, in) = r;
}

static void op_movsldup(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg tmp, r;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);
	r.d[0] = r.d[1] = s->d[0];
	r.d[2] = r.d[3] = s->d[2];
	*xdst(cpu, in) = r;
}

static void op_movddup(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg tmp, r;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp); /* m64 */
	r.q[0] = r.q[1] = s->q[0];
	*xdst(cpu, in) = r;
}

/* LDDQU and MOVNTDQA: 16-byte loads; LDDQU needs no alignment, MOVNTDQA does. */
static void op_lddqu(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg tmp;
	if (in->op[1].kind != OPK_MEM)
		cpu_ud(cpu);
	*xdst(cpu, in) = *xsrc_u(cpu, in, 1, &tmp);
}

static void op_movntdqa(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg tmp;
	if (in->op[1].kind != OPK_MEM)
		cpu_ud(cpu);
	*xdst(cpu, in) = *xsrc(cpu, in, 1, &tmp);
}

/* ---------------------------------------------------------------------------------------- */
/* SSSE3: one element-wise body per instruction, used for n = 8 (MMX) and n = 16 (XMM) bytes. */

static inline void k_pshufb(union xmm_reg *r, const union xmm_reg *d, const union xmm_reg *s,
			    unsigned n, unsigned imm)
{
	for (unsigned i = 0; i < n; i++)
		r->b[i] = (s->b[i] & 0x80) ? 0 : d->b[s->b[i] & (n - 1)];
}

#define K_HORIZ(name, T, field, expr)                                                          \
	static inline void k_##name(union xmm_reg *r, const union xmm_reg *d,                  \
				    const union xmm_reg *s, unsigned n, unsigned imm)          \
	{                                                                                      \
		unsigned e = n / sizeof(T), h = e / 2;                                         \
		for (unsigned i = 0; i < h; i++) {                                             \
			T x = d->field[2 * i], y = d->field[2 * i + 1];                        \
			r->field[i] = (expr);                                                  \
		}                                                                              \
		for (unsigned i = 0; i < h; i++) {                                             \
			T x = s->field[2 * i], y = s->field[2 * i + 1];                        \
			r->field[h + i] = (expr);                                              \
		}                                                                              \
	}

K_HORIZ(phaddw, uint16_t, w, (uint16_t)(x + y))
K_HORIZ(phaddd, uint32_t, d, x + y)
K_HORIZ(phaddsw, int16_t, sw, sat16((int32_t)x + y))
K_HORIZ(phsubw, uint16_t, w, (uint16_t)(x - y))
K_HORIZ(phsubd, uint32_t, d, x - y)
K_HORIZ(phsubsw, int16_t, sw, sat16((int32_t)x - y))

static inline void k_pmaddubsw(union xmm_reg *r, const union xmm_reg *d, const union xmm_reg *s,
			       unsigned n, unsigned imm)
{
	for (unsigned i = 0; i < n / 2; i++)
		r->sw[i] = sat16((int32_t)d->b[2 * i] * s->sb[2 * i] +
				 (int32_t)d->b[2 * i + 1] * s->sb[2 * i + 1]);
}

static inline void k_pmulhrsw(union xmm_reg *r, const union xmm_reg *d, const union xmm_reg *s,
			      unsigned n, unsigned imm)
{
	for (unsigned i = 0; i < n / 2; i++)
		r->w[i] = (uint16_t)(((((int32_t)d->sw[i] * s->sw[i]) >> 14) + 1) >> 1);
}

#define K_SIGN(name, field, cnt)                                                               \
	static inline void k_##name(union xmm_reg *r, const union xmm_reg *d,                  \
				    const union xmm_reg *s, unsigned n, unsigned imm)          \
	{                                                                                      \
		for (unsigned i = 0; i < n / (cnt); i++)                                       \
			r->field[i] = s->s##field[i] < 0 ? 0 - d->field[i]                     \
				    : s->s##field[i] == 0 ? 0 : d->field[i];                   \
	}
K_SIGN(psignb, b, 1)
K_SIGN(psignw, w, 2)
K_SIGN(psignd, d, 4)

#define K_ABS(name, field, cnt)                                                                \
	static inline void k_##name(union xmm_reg *r, const union xmm_reg *d,                  \
				    const union xmm_reg *s, unsigned n, unsigned imm)          \
	{                                                                                      \
		for (unsigned i = 0; i < n / (cnt); i++)                                       \
			r->field[i] = s->s##field[i] < 0 ? 0 - s->field[i] : s->field[i];      \
	}
K_ABS(pabsb, b, 1)
K_ABS(pabsw, w, 2)
K_ABS(pabsd, d, 4)

/* PALIGNR: (dest:src) >> (imm * 8), low n bytes; shifts of 2n bytes or more give 0. */
static inline void k_palignr(union xmm_reg *r, const union xmm_reg *d, const union xmm_reg *s,
			     unsigned n, unsigned imm)
{
	uint8_t cat[48];
	if (imm >= 2 * n) {
		memset(r->b, 0, n);
		return;
	}
	memcpy(cat, s->b, n);
	memcpy(cat + n, d->b, n);
	memset(cat + 2 * n, 0, 16);
	memcpy(r->b, cat + imm, n);
}

#define SSSE3_HANDLER(name)                                                                    \
	static void op_##name(struct vcpu *cpu, const struct insn *in)                         \
	{                                                                                      \
		union xmm_reg r;                                                               \
		unsigned imm = in->nops > 2 ? imm8(in, 2) : 0;                                 \
		if (in->op[0].kind == OPK_MMX) {                                               \
			union xmm_reg a, b;                                                    \
			b.q[0] = mmx_src(cpu, in, 1);                                          \
			a.q[0] = mmx_get(cpu, in->op[0].reg);                                  \
			b.q[1] = a.q[1] = 0;                                                   \
			k_##name(&r, &a, &b, 8, imm);                                          \
			mmx_enter(cpu);                                                        \
			mmx_set(cpu, in->op[0].reg, r.q[0]);                                   \
		} else {                                                                       \
			union xmm_reg tmp;                                                     \
			const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);                       \
			union xmm_reg *d = xdst(cpu, in);                                      \
			k_##name(&r, d, s, 16, imm);                                           \
			*d = r;                                                                \
		}                                                                              \
	}

SSSE3_HANDLER(pshufb)
SSSE3_HANDLER(phaddw)
SSSE3_HANDLER(phaddd)
SSSE3_HANDLER(phaddsw)
SSSE3_HANDLER(phsubw)
SSSE3_HANDLER(phsubd)
SSSE3_HANDLER(phsubsw)
SSSE3_HANDLER(pmaddubsw)
SSSE3_HANDLER(pmulhrsw)
SSSE3_HANDLER(psignb)
SSSE3_HANDLER(psignw)
SSSE3_HANDLER(psignd)
SSSE3_HANDLER(pabsb)
SSSE3_HANDLER(pabsw)
SSSE3_HANDLER(pabsd)
SSSE3_HANDLER(palignr)

/* ---------------------------------------------------------------------------------------- */
/* SSE4.1 integer, XMM only: r = f(dest, src, imm) */

#define XMM_HANDLER(name, ...)                                                                 \
	static void op_##name(struct vcpu *cpu, const struct insn *in)                         \
	{                                                                                      \
		union xmm_reg tmp, r;                                                          \
		const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);                               \
		union xmm_reg *d = xdst(cpu, in);                                              \
		unsigned imm = in->nops > 2 ? imm8(in, 2) : 0;                                 \
		(void)imm;                                                                     \
		__VA_ARGS__;                                                                   \
		*d = r;                                                                        \
	}

#define EACH(cnt, stmt)                                                                        \
	do {                                                                                   \
		for (unsigned i = 0; i < (cnt); i++)                                           \
			stmt;                                                                  \
	} while (0)

/* Blends; the variable forms use implicit XMM0 (SDM Vol. 2 BLENDVPS). */
XMM_HANDLER(pblendvb, EACH(16, r.b[i] = (cpu->xmm[0].b[i] & 0x80) ? s->b[i] : d->b[i]))
XMM_HANDLER(blendvps, EACH(4, r.d[i] = (cpu->xmm[0].d[i] >> 31) ? s->d[i] : d->d[i]))
XMM_HANDLER(blendvpd, EACH(2, r.q[i] = (cpu->xmm[0].q[i] >> 63) ? s->q[i] : d->q[i]))
XMM_HANDLER(pblendw, EACH(8, r.w[i] = (imm >> i) & 1 ? s->w[i] : d->w[i]))
XMM_HANDLER(blendps, EACH(4, r.d[i] = (imm >> i) & 1 ? s->d[i] : d->d[i]))
XMM_HANDLER(blendpd, EACH(2, r.q[i] = (imm >> i) & 1 ? s->q[i] : d->q[i]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
XMM_HANDLER(pminsb, EACH(16, r.sb[i] = MIN(d->sb[i], s->sb[i])))
XMM_HANDLER(pminsd, EACH(4, r.sd[i] = MIN(d->sd[i], s->sd[i])))
XMM_HANDLER(pminuw, EACH(8, r.w[i] = MIN(d->w[i], s->w[i])))
XMM_HANDLER(pminud, EACH(4, r.d[i] = MIN(d->d[i], s->d[i])))
XMM_HANDLER(pmaxsb, EACH(16, r.sb[i] = MAX(d->sb[i], s->sb[i])))
XMM_HANDLER(pmaxsd, EACH(4, r.sd[i] = MAX(d->sd[i], s->sd[i])))
XMM_HANDLER(pmaxuw, EACH(8, r.w[i] = MAX(d->w[i], s->w[i])))
XMM_HANDLER(pmaxud, EACH(4, r.d[i] = MAX(d->d[i], s->d[i])))

XMM_HANDLER(pmulld, EACH(4, r.d[i] = (uint32_t)((int64_t)d->sd[i] * s->sd[i])))
XMM_HANDLER(pmuldq, EACH(2, r.sq[i] = (int64_t)d->sd[2 * i] * s->sd[2 * i]))
XMM_HANDLER(pcmpeqq, EACH(2, r.q[i] = d->q[i] == s->q[i] ? ~0ULL : 0))
XMM_HANDLER(pcmpgtq, EACH(2, r.q[i] = d->sq[i] > s->sq[i] ? ~0ULL : 0))
XMM_HANDLER(packusdw, EACH(4, (r.w[i] = satu16(d->sd[i]), r.w[4 + i] = satu16(s->sd[i]))))

/* PHMINPOSUW: minimum unsigned word and its lowest index (SDM Vol. 2 PHMINPOSUW). */
XMM_HANDLER(phminposuw, {
	unsigned idx = 0;
	for (unsigned i = 1; i < 8; i++)
		if (s->w[i] < s->w[idx])
			idx = i;
	r.q[0] = s->w[idx] | ((uint64_t)idx << 16);
	r.q[1] = 0;
})

/* MPSADBW (SDM Vol. 2 MPSADBW): imm[2] selects the dest block, imm[1:0] the source dword. */
XMM_HANDLER(mpsadbw, {
	unsigned o1 = (imm & 4) ? 4 : 0, o2 = (imm & 3) * 4;
	for (unsigned i = 0; i < 8; i++) {
		unsigned sum = 0;
		for (unsigned k = 0; k < 4; k++) {
			int dd = (int)d->b[o1 + i + k] - (int)s->b[o2 + k];
			sum += (unsigned)(dd < 0 ? -dd : dd);
		}
		r.w[i] = (uint16_t)sum;
	}
})

/* PMOVSX/PMOVZX: the source is the low part of an XMM register or a small memory operand. */
#define PMOV_HANDLER(name, cnt, dfield, sfield)                                                \
	static void op_##name(struct vcpu *cpu, const struct insn *in)                         \
	{                                                                                      \
		union xmm_reg tmp, r;                                                          \
		const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);                               \
		for (unsigned i = 0; i < (cnt); i++)                                           \
			r.dfield[i] = s->sfield[i];                                            \
		*xdst(cpu, in) = r;                                                            \
	}
PMOV_HANDLER(pmovsxbw, 8, sw, sb)
PMOV_HANDLER(pmovsxbd, 4, sd, sb)
PMOV_HANDLER(pmovsxbq, 2, sq, sb)
PMOV_HANDLER(pmovsxwd, 4, sd, sw)
PMOV_HANDLER(pmovsxwq, 2, sq, sw)
PMOV_HANDLER(pmovsxdq, 2, sq, sd)
PMOV_HANDLER(pmovzxbw, 8, w, b)
PMOV_HANDLER(pmovzxbd, 4, d, b)
PMOV_HANDLER(pmovzxbq, 2, q, b)
PMOV_HANDLER(pmovzxwd, 4, d, w)
PMOV_HANDLER(pmovzxwq, 2, q, w)
PMOV_HANDLER(pmovzxdq, 2, q, d)

/* PTEST: ZF = (src AND dest) == 0, CF = (src AND NOT dest) == 0, others cleared. */
static void op_ptest(struct vcpu *cpu, const struct insn *in)
{
	union xmm_reg tmp;
	const union xmm_reg *s = xsrc(cpu, in, 1, &tmp);
	const union xmm_reg *d = xdst(cpu, in);
	uint64_t f = 0;
	if (!((s->q[0] & d->q[0]) | (s->q[1] & d->q[1])))
		f |= FLAG_ZF;
	if (!((s->q[0] & ~d->q[0]) | (s->q[1] & ~d->q[1])))
		f |= FLAG_CF;
	set_flags(cpu, FLAGS_ARITH, f);
}

/* ---------------------------------------------------------------------------------------- */
/* Element insert/extract */

/* Store an extracted element: a register destination is written zero-extended (all sizes). */
static inline void put_extract(struct vcpu *cpu, const struct insn *in, uint64_t v)
{
	const struct operand *o = &in->op[0];
	if (o->kind == OPK_GPR)
		cpu->gpr[o->reg] = v;
	else if (o->kind == OPK_MEM)
		mem_write_sz(cpu, op_ea(cpu, in, o), v, o->size);
	else
		cpu_ud(cpu);
}

static void op_pextrb(struct vcpu *cpu, const struct insn *in)
{
	put_extract(cpu, in, cpu->xmm[in->op[1].reg].b[imm8(in, 2) & 15]);
}

static void op_pextrd(struct vcpu *cpu, const struct insn *in)
{
	put_extract(cpu, in, cpu->xmm[in->op[1].reg].d[imm8(in, 2) & 3]);
}

static void op_pextrq(struct vcpu *cpu, const struct insn *in)
{
	put_extract(cpu, in, cpu->xmm[in->op[1].reg].q[imm8(in, 2) & 1]);
}

static void op_extractps(struct vcpu *cpu, const struct insn *in)
{
	put_extract(cpu, in, cpu->xmm[in->op[1].reg].d[imm8(in, 2) & 3]);
}

static void op_pinsrb(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = op_read(cpu, in, 1);
	xdst(cpu, in)->b[imm8(in, 2) & 15] = (uint8_t)v;
}

static void op_pinsrd(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = op_read(cpu, in, 1);
	xdst(cpu, in)->d[imm8(in, 2) & 3] = (uint32_t)v;
}

static void op_pinsrq(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = op_read(cpu, in, 1);
	xdst(cpu, in)->q[imm8(in, 2) & 1] = v;
}

/* INSERTPS (SDM Vol. 2): imm[7:6] source dword (register form only), imm[5:4] destination
 * dword, imm[3:0] zero mask. */
static void op_insertps(struct vcpu *cpu, const struct insn *in)
{
	uint8_t imm = imm8(in, 2);
	uint32_t v;
	union xmm_reg *d;
	if (in->op[1].kind == OPK_XMM)
		v = cpu->xmm[in->op[1].reg].d[imm >> 6];
	else if (in->op[1].kind == OPK_MEM)
		v = mem_read32(cpu, op_ea(cpu, in, &in->op[1]));
	else
		cpu_ud(cpu);
	d = xdst(cpu, in);
	d->d[(imm >> 4) & 3] = v;
	for (unsigned i = 0; i < 4; i++)
		if (imm & (1u << i))
			d->d[i] = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* SSE4.2 string compares (SDM Vol. 2 4.1, PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM) */

/* Explicit length: absolute value of RAX/RDX (or EAX/EDX), saturated to the element count. */
static inline unsigned explicit_len(uint64_t v, unsigned opsize, unsigned max)
{
	int64_t l = opsize == 8 ? (int64_t)v : (int64_t)(int32_t)v;
	uint64_t a = l < 0 ? 0 - (uint64_t)l : (uint64_t)l;
	return a > max ? max : (unsigned)a;
}

/* Bit j set where element j of the compare result @c is all ones (bytes or words). */
static inline unsigned elem_mask(__m128i c, int words)
{
	if (words)
		c = _mm_packs_epi16(c, _mm_setzero_si128());
	return (unsigned)_mm_movemask_epi8(c);
}

static inline __m128i elem_eq(__m128i x, __m128i y, int words)
{
	return words ? _mm_cmpeq_epi16(x, y) : _mm_cmpeq_epi8(x, y);
}

/* signed x > y per element (unsigned data is biased by the caller) */
static inline __m128i elem_gt(__m128i x, __m128i y, int words)
{
	return words ? _mm_cmpgt_epi16(x, y) : _mm_cmpgt_epi8(x, y);
}

/* Element @i of @x broadcast to all elements. */
static inline __m128i elem_bcast(const union xmm_reg *x, unsigned i, int words)
{
	return words ? _mm_set1_epi16((short)x->w[i]) : _mm_set1_epi8((char)x->b[i]);
}

static inline unsigned implicit_len(const union xmm_reg *x, int words)
{
	__m128i v = _mm_load_si128((const __m128i *)x);
	unsigned z = elem_mask(elem_eq(v, _mm_setzero_si128(), words), words);
	return z ? (unsigned)__builtin_ctz(z) : words ? 8 : 16;
}

/*
 * IntRes2 of a string compare of @a (Src1, length la) against @b (Src2, length lb), as bit
 * masks (bit j for element j of Src2), and the arithmetic flags (SDM Vol. 2 4.1.4-4.1.7,
 * Table 4-7 for invalid elements: equal any and ranges never match them, equal each matches
 * two invalid elements, equal ordered matches an invalid Src1 element with anything).
 */
static unsigned pcmpstr(struct vcpu *cpu, const union xmm_reg *a, unsigned la,
			const union xmm_reg *b, unsigned lb, unsigned imm)
{
	int words = imm & 1;
	unsigned max = words ? 8 : 16, all = (1u << max) - 1;
	unsigned va = (1u << la) - 1, vb = (1u << lb) - 1, res = 0;
	__m128i xb = _mm_load_si128((const __m128i *)b);
	uint64_t f = 0;

	switch ((imm >> 2) & 3) {
	case 0: /* equal any: is b[j] one of a[0..la) */
		for (unsigned i = 0; i < la; i++)
			res |= elem_mask(elem_eq(elem_bcast(a, i, words), xb, words), words);
		res &= vb;
		break;
	case 1: { /* ranges: a[i] <= b[j] <= a[i+1] for an even i; an odd la drops the last */
		__m128i bias = (imm & 2) ? _mm_setzero_si128()
			       : words ? _mm_set1_epi16((short)0x8000) : _mm_set1_epi8((char)0x80);
		xb = _mm_xor_si128(xb, bias);
		for (unsigned i = 0; i + 1 < la; i += 2) {
			__m128i lo = _mm_xor_si128(elem_bcast(a, i, words), bias);
			__m128i hi = _mm_xor_si128(elem_bcast(a, i + 1, words), bias);
			unsigned below = elem_mask(elem_gt(lo, xb, words), words);
			unsigned above = elem_mask(elem_gt(xb, hi, words), words);
			res |= ~(below | above);
		}
		res &= vb;
		break;
	}
	case 2: /* equal each */
		res = elem_mask(elem_eq(_mm_load_si128((const __m128i *)a), xb, words), words);
		res = (res & va & vb) | (~va & ~vb & all);
		break;
	default: /* equal ordered: does the substring a[0..la) start at b[j] */
		res = all;
		for (unsigned i = 0; i < la; i++) {
			unsigned m = elem_mask(elem_eq(elem_bcast(a, i, words), xb, words), words) & vb;
			/* bit j needs b[i + j] == a[i]; positions past the end impose nothing */
			res &= (m >> i) | (all & ~((1u << (max - i)) - 1));
		}
		break;
	}
	switch ((imm >> 4) & 3) {
	case 1: res ^= all; break;
	case 3: res ^= vb; break;
	default: break;
	}
	res &= all;
	if (res)
		f |= FLAG_CF;
	if (lb < max)
		f |= FLAG_ZF;
	if (la < max)
		f |= FLAG_SF;
	if (res & 1)
		f |= FLAG_OF;
	set_flags(cpu, FLAGS_ARITH, f);
	return res;
}

static void pcmpstr_index(struct vcpu *cpu, unsigned res, unsigned imm)
{
	unsigned max = (imm & 1) ? 8 : 16, idx;
	if (!res)
		idx = max;
	else if (imm & 0x40)
		idx = 31 - (unsigned)__builtin_clz(res);
	else
		idx = (unsigned)__builtin_ctz(res);
	cpu->gpr[R_RCX] = idx;
}

static void pcmpstr_mask(struct vcpu *cpu, unsigned res, unsigned imm)
{
	union xmm_reg r;
	r.q[0] = r.q[1] = 0;
	if (!(imm & 0x40)) {
		r.q[0] = res;
	} else if (imm & 1) {
		for (unsigned i = 0; i < 8; i++)
			r.w[i] = (res >> i) & 1 ? 0xffff : 0;
	} else {
		for (unsigned i = 0; i < 16; i++)
			r.b[i] = (res >> i) & 1 ? 0xff : 0;
	}
	cpu->xmm[0] = r;
}

static unsigned pcmpestr(struct vcpu *cpu, const struct insn *in, unsigned imm)
{
	union xmm_reg tmp;
	const union xmm_reg *b = xsrc_u(cpu, in, 1, &tmp);
	const union xmm_reg *a = xdst(cpu, in);
	unsigned max = (imm & 1) ? 8 : 16;
	unsigned la = explicit_len(cpu->gpr[R_RAX], in->opsize, max);
	unsigned lb = explicit_len(cpu->gpr[R_RDX], in->opsize, max);
	return pcmpstr(cpu, a, la, b, lb, imm);
}

static unsigned pcmpistr(struct vcpu *cpu, const struct insn *in, unsigned imm)
{
	union xmm_reg tmp;
	const union xmm_reg *b = xsrc_u(cpu, in, 1, &tmp);
	const union xmm_reg *a = xdst(cpu, in);
	return pcmpstr(cpu, a, implicit_len(a, imm & 1), b, implicit_len(b, imm & 1), imm);
}

static void op_pcmpestri(struct vcpu *cpu, const struct insn *in)
{
	unsigned imm = imm8(in, 2);
	pcmpstr_index(cpu, pcmpestr(cpu, in, imm), imm);
}

static void op_pcmpestrm(struct vcpu *cpu, const struct insn *in)
{
	unsigned imm = imm8(in, 2);
	pcmpstr_mask(cpu, pcmpestr(cpu, in, imm), imm);
}

static void op_pcmpistri(struct vcpu *cpu, const struct insn *in)
{
	unsigned imm = imm8(in, 2);
	pcmpstr_index(cpu, pcmpistr(cpu, in, imm), imm);
}

static void op_pcmpistrm(struct vcpu *cpu, const struct insn *in)
{
	unsigned imm = imm8(in, 2);
	pcmpstr_mask(cpu, pcmpistr(cpu, in, imm), imm);
}

/* ---------------------------------------------------------------------------------------- */
/* CRC32 (CRC-32C, reflected polynomial 0x82F63B78, no pre/post inversion) and POPCNT */

static uint32_t crc32c_table[8][256];

__attribute__((constructor)) static void crc32c_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1) ? 0x82f63b78u : 0);
		crc32c_table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (unsigned t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
					     crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

static void op_crc32(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = op_read(cpu, in, 1);
	uint32_t crc = (uint32_t)cpu->gpr[in->op[0].reg];
	switch (in->op[1].size) {
	case 8: {
		uint64_t x = v ^ crc;
		crc = crc32c_table[7][x & 0xff] ^ crc32c_table[6][(x >> 8) & 0xff] ^
		      crc32c_table[5][(x >> 16) & 0xff] ^ crc32c_table[4][(x >> 24) & 0xff] ^
		      crc32c_table[3][(x >> 32) & 0xff] ^ crc32c_table[2][(x >> 40) & 0xff] ^
		      crc32c_table[1][(x >> 48) & 0xff] ^ crc32c_table[0][x >> 56];
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v ^ crc;
		crc = crc32c_table[3][x & 0xff] ^ crc32c_table[2][(x >> 8) & 0xff] ^
		      crc32c_table[1][(x >> 16) & 0xff] ^ crc32c_table[0][x >> 24];
		break;
	}
	default:
		for (unsigned i = 0; i < in->op[1].size; i++, v >>= 8)
			crc = (crc >> 8) ^ crc32c_table[0][(crc ^ v) & 0xff];
		break;
	}
	cpu->gpr[in->op[0].reg] = crc; /* 32- and 64-bit destinations are both zero-extended */
}

/* POPCNT: ZF = (src == 0); CF OF SF AF PF cleared (SDM Vol. 2 POPCNT). */
static void op_popcnt(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = op_read(cpu, in, 1);
	gpr_write(cpu, &in->op[0], (uint64_t)__builtin_popcountll(v));
	set_flags(cpu, FLAGS_ARITH, v ? 0 : FLAG_ZF);
}

/* ---------------------------------------------------------------------------------------- */

#define E(m, fn) { ZYDIS_MNEMONIC_##m, op_##fn }

const struct insn_entry sse4_insns[] = {
	/* SSE3 (MONITOR/MWAIT are not advertised and stay #UD) */
	E(ADDSUBPS, addsubps), E(ADDSUBPD, addsubpd), E(HADDPS, haddps), E(HADDPD, haddpd),
	E(HSUBPS, hsubps), E(HSUBPD, hsubpd), E(MOVSHDUP, movshdup), E(MOVSLDUP, movsldup),
	E(MOVDDUP, movddup), E(LDDQU, lddqu),
	/* SSSE3 */
	E(PSHUFB, pshufb), E(PHADDW, phaddw), E(PHADDD, phaddd), E(PHADDSW, phaddsw),
	E(PHSUBW, phsubw), E(PHSUBD, phsubd), E(PHSUBSW, phsubsw), E(PMADDUBSW, pmaddubsw),
	E(PMULHRSW, pmulhrsw), E(PSIGNB, psignb), E(PSIGNW, psignw), E(PSIGND, psignd),
	E(PABSB, pabsb), E(PABSW, pabsw), E(PABSD, pabsd), E(PALIGNR, palignr),
	/* SSE4.1 (PEXTRW, all encodings, is in mmx.c with PINSRW) */
	E(PBLENDVB, pblendvb), E(BLENDVPS, blendvps), E(BLENDVPD, blendvpd), E(PBLENDW, pblendw),
	E(BLENDPS, blendps), E(BLENDPD, blendpd), E(PTEST, ptest), E(PMINSB, pminsb),
	E(PMINSD, pminsd), E(PMINUW, pminuw), E(PMINUD, pminud), E(PMAXSB, pmaxsb),
	E(PMAXSD, pmaxsd), E(PMAXUW, pmaxuw), E(PMAXUD, pmaxud), E(PMULLD, pmulld),
	E(PMULDQ, pmuldq), E(PCMPEQQ, pcmpeqq), E(PACKUSDW, packusdw),
	E(PMOVSXBW, pmovsxbw), E(PMOVSXBD, pmovsxbd), E(PMOVSXBQ, pmovsxbq),
	E(PMOVSXWD, pmovsxwd), E(PMOVSXWQ, pmovsxwq), E(PMOVSXDQ, pmovsxdq),
	E(PMOVZXBW, pmovzxbw), E(PMOVZXBD, pmovzxbd), E(PMOVZXBQ, pmovzxbq),
	E(PMOVZXWD, pmovzxwd), E(PMOVZXWQ, pmovzxwq), E(PMOVZXDQ, pmovzxdq),
	E(PHMINPOSUW, phminposuw), E(PINSRB, pinsrb), E(PINSRD, pinsrd), E(PINSRQ, pinsrq),
	E(PEXTRB, pextrb), E(PEXTRD, pextrd), E(PEXTRQ, pextrq),
	E(EXTRACTPS, extractps), E(INSERTPS, insertps), E(ROUNDPS, roundps), E(ROUNDPD, roundpd),
	E(ROUNDSS, roundss), E(ROUNDSD, roundsd), E(DPPS, dpps), E(DPPD, dppd),
	E(MPSADBW, mpsadbw), E(MOVNTDQA, movntdqa),
	/* SSE4.2, POPCNT */
	E(PCMPGTQ, pcmpgtq), E(CRC32, crc32), E(PCMPESTRI, pcmpestri), E(PCMPESTRM, pcmpestrm),
	E(PCMPISTRI, pcmpistri), E(PCMPISTRM, pcmpistrm), E(POPCNT, popcnt),
	{ 0, NULL },
};
