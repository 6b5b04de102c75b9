/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the SIMD instruction classes (mmx.c, sse.c, sse4.c): MMX register access
 * with the x87 aliasing rules, XMM/MMX/memory source operands with the SSE alignment rule, and
 * running a floating-point instruction on the host SSE unit under the guest MXCSR.
 *
 * The host is x86-64, so SSE2 is always there: integer SIMD is done with SSE2 intrinsics (exact
 * by construction), floating point with the host instruction itself (exact results and MXCSR
 * flags for every rounding mode, FTZ and DAZ, bit for bit including RCPPS/RSQRTPS).
 */
#ifndef OMNIVISOR_CPU_SIMD_H
#define OMNIVISOR_CPU_SIMD_H

#include <emmintrin.h>

#include "cpu.h"

/* MXCSR, Intel SDM Vol. 1 10.2.3 */
#define MXCSR_IE 0x0001u
#define MXCSR_DE 0x0002u
#define MXCSR_ZE 0x0004u
#define MXCSR_OE 0x0008u
#define MXCSR_UE 0x0010u
#define MXCSR_PE 0x0020u
#define MXCSR_FLAGS 0x003fu
#define MXCSR_DAZ 0x0040u
#define MXCSR_MASKS 0x1f80u /* IM DM ZM OM UM PM */
#define MXCSR_UM 0x0800u
#define MXCSR_RC 0x6000u
#define MXCSR_FTZ 0x8000u
#define MXCSR_RESERVED 0xffff0000u /* LDMXCSR/FXRSTOR: #GP(0) if set (MXCSR_MASK 0xffff) */

/* ---------------------------------------------------------------------------------------- */
/* MMX registers: MMi is the significand of physical x87 register Ri (SDM Vol. 1 9.5). */

/*
 * An MMX instruction first delivers a pending unmasked x87 exception (#MF), then switches the
 * x87 unit to MMX mode: TOP = 0, all tags valid (SDM Vol. 1 9.5.1, Table 9-3).
 * mmx_check raises the #MF (no state change); mmx_mode makes the switch; mmx_enter does both
 * and is called once every other fault of a register/load form has been checked. Store forms
 * call mmx_check, write memory, then mmx_mode, so a faulting store changes nothing.
 */
static inline void mmx_check(struct vcpu *cpu)
{
	const struct x87_state *f = &cpu->fpu;
	if (unlikely(f->fsw & ~f->fcw & 0x3f))
		cpu_raise(cpu, EXC_MF, 0, 0);
}

static inline void mmx_mode(struct vcpu *cpu)
{
	cpu->fpu.top = 0;
	cpu->fpu.ftw = 0xff;
}

static inline void mmx_enter(struct vcpu *cpu)
{
	mmx_check(cpu);
	mmx_mode(cpu);
}

static inline uint64_t mmx_get(const struct vcpu *cpu, unsigned reg)
{
	return cpu->fpu.st[reg & 7].m.mant;
}

/* Write MMi: the exponent/sign field of Ri becomes all ones (SDM Vol. 1 9.5.1). */
static inline void mmx_set(struct vcpu *cpu, unsigned reg, uint64_t v)
{
	cpu->fpu.st[reg & 7].m.mant = v;
	cpu->fpu.st[reg & 7].m.sexp = 0xffff;
}

/* ---------------------------------------------------------------------------------------- */
/* Source operands. */

/*
 * Legacy-SSE 16-byte memory operands must be 16-byte aligned, else #GP(0) (SDM Vol. 1 11.6.7
 * and Vol. 2 "Exceptions Type 1/4"); MOVUPS/MOVUPD/MOVDQU/LDDQU/MASKMOVDQU are the exceptions
 * and use simd_src_u. Operands of other sizes are never checked.
 */
static inline __m128i simd_mem_load(struct vcpu *cpu, const struct insn *in, const struct operand *o,
				    int aligned)
{
	uint64_t ea = op_ea(cpu, in, o);
	if (likely(o->size == 16)) {
		if (aligned && unlikely(ea & 15))
			cpu_gp0(cpu);
		return _mm_loadu_si128((const __m128i *)gva_ptr(cpu, ea, 16, 0));
	}
	switch (o->size) {
	case 8: return _mm_cvtsi64_si128((long long)mem_read64(cpu, ea));
	case 4: return _mm_cvtsi32_si128((int)mem_read32(cpu, ea));
	case 2: return _mm_cvtsi32_si128(mem_read16(cpu, ea));
	default: return _mm_cvtsi32_si128(mem_read8(cpu, ea));
	}
}

/*
 * Operand @i as a 128-bit value: XMM register, memory (zero-extended to 128 bits, 16-byte
 * operands alignment-checked), MMX register (zero-extended) or imm8 (zero-extended).
 */
static inline __m128i simd_src(struct vcpu *cpu, const struct insn *in, int i)
{
	const struct operand *o = &in->op[i];
	if (likely(o->kind == OPK_XMM))
		return _mm_load_si128((const __m128i *)&cpu->xmm[o->reg]);
	if (o->kind == OPK_MEM)
		return simd_mem_load(cpu, in, o, 1);
	if (o->kind == OPK_MMX)
		return _mm_cvtsi64_si128((long long)mmx_get(cpu, o->reg));
	if (o->kind == OPK_IMM)
		return _mm_cvtsi32_si128((int)(o->disp & 0xff));
	if (o->kind == OPK_GPR)
		return _mm_cvtsi64_si128((long long)gpr_read(cpu, o));
	cpu_ud(cpu);
}

/* Same, without the alignment check (MOVUPS and friends). */
static inline __m128i simd_src_u(struct vcpu *cpu, const struct insn *in, int i)
{
	const struct operand *o = &in->op[i];
	if (likely(o->kind == OPK_XMM))
		return _mm_load_si128((const __m128i *)&cpu->xmm[o->reg]);
	if (o->kind == OPK_MEM)
		return simd_mem_load(cpu, in, o, 0);
	return simd_src(cpu, in, i);
}

static inline __m128i *xmm_ptr(struct vcpu *cpu, unsigned reg)
{
	return (__m128i *)&cpu->xmm[reg];
}

/* ---------------------------------------------------------------------------------------- */
/*
 * Floating point on the host SSE unit. The guest MXCSR is loaded with all exceptions masked
 * and its flags cleared, the host instruction runs, the new flags are read back and the host
 * MXCSR is restored, all within one asm statement so no host floating-point code can run under
 * the guest's control bits. simd_fp_commit() then merges the sticky flags or raises #XM.
 *
 * FTZ only acts while underflow is masked (SDM Vol. 1 10.2.3.3), so it is dropped for the
 * masked run when the guest unmasks underflow.
 */
static inline uint32_t simd_mxcsr_run(const struct vcpu *cpu)
{
	uint32_t mx = (cpu->mxcsr & ~MXCSR_FLAGS) | MXCSR_MASKS;
	if (unlikely(!(cpu->mxcsr & MXCSR_UM)))
		mx &= ~MXCSR_FTZ;
	return mx;
}

/* Result layout (and rescaling kind) of an operation, for the unmasked-exception path. */
enum simd_lanes {
	SIMD_NOUF = 0, /* the operation cannot underflow (compare, convert to integer, min/max) */
	SIMD_PS,       /* 4 floats */
	SIMD_SS,       /* float in lane 0 */
	SIMD_PD,       /* 2 doubles */
	SIMD_SD,       /* double in lane 0 */
	SIMD_PS2,      /* 2 floats from 2 doubles (CVTPD2PS); SIMD_SS with SIMD_K_UNARY: CVTSD2SS */
	SIMD_LANES = 0x0f,
	/* How operands are rescaled to recompute PE under an unmasked OE/UE (simd_fp_unmasked):
	 * each independently (MUL, DIV), both by one factor (ADD, SUB), the only input (CVT). */
	SIMD_K_INDEP = 0x10,
	SIMD_K_COMMON = 0x20,
	SIMD_K_UNARY = 0x30,
	SIMD_K_MASK = 0x30,
};

/*
 * A host run of one instruction: *d = d OP s under MXCSR @mx, returns the MXCSR after it.
 * Given to the unmasked-exception path so it can rerun an operation lane by lane.
 */
typedef uint32_t (*simd_run_fn)(__m128i *d, __m128i s, uint32_t mx);

void simd_fp_unmasked(struct vcpu *cpu, uint32_t flags, const void *res, int lanes,
		      simd_run_fn run, __m128i d, __m128i s);

/*
 * simd_fp_commit - the host run of an instruction set MXCSR @flags and produced @res (not yet
 * written to the guest). With all guest exceptions masked the flags are merged; otherwise
 * raise #XM as the hardware would (SDM Vol. 1 11.5.1: an unmasked pre-computation exception
 * (IE, DE, ZE) reports the pre-computation flags only; else all flags are set and an unmasked
 * post-computation exception (OE, UE, PE) raises #XM). Returns only if the result is stored.
 * Operations that can overflow or underflow use simd_fp_commit_run instead, which reruns the
 * lanes one by one when needed: under an unmasked OE/UE each lane reports PE of its result
 * with an unbounded exponent. simd_fp_unmasked is in sse.c.
 */
static inline void simd_fp_commit(struct vcpu *cpu, uint32_t flags, const void *res, int lanes)
{
	if (likely((cpu->mxcsr & MXCSR_MASKS) == MXCSR_MASKS)) {
		cpu->mxcsr |= flags & MXCSR_FLAGS;
		return;
	}
	simd_fp_unmasked(cpu, flags & MXCSR_FLAGS, res, lanes, NULL, _mm_setzero_si128(),
			 _mm_setzero_si128());
}

/* Same, with the operation @run and its inputs @d (destination before) and @s. */
static inline void simd_fp_commit_run(struct vcpu *cpu, uint32_t flags, const void *res,
				      int lanes, simd_run_fn run, __m128i d, __m128i s)
{
	if (likely((cpu->mxcsr & MXCSR_MASKS) == MXCSR_MASKS)) {
		cpu->mxcsr |= flags & MXCSR_FLAGS;
		return;
	}
	simd_fp_unmasked(cpu, flags & MXCSR_FLAGS, res, lanes, run, d, s);
}

/*
 * SIMD_FP(text, mx, outputs : inputs) - run host instruction(s) @text (AT&T syntax, GNU asm
 * operand names) under MXCSR value @mx (a uint32_t lvalue from simd_mxcsr_run); on return @mx
 * holds the MXCSR after the instruction (flags in bits 5:0). The variable part is the asm
 * output list, a colon, and the input list, e.g.
 *	SIMD_FP("addps %[s], %[d]", mx, [d] "+x"(d) : [s] "x"(s));
 */
#define SIMD_FP(text, mx, ...)                                                           \
	do {                                                                              \
		uint32_t simd_host_mx_;                                                   \
		__asm__ volatile("stmxcsr %[hmx_]\n\t"                                    \
				 "ldmxcsr %[gmx_]\n\t" text "\n\t"                        \
				 "stmxcsr %[gmx_]\n\t"                                    \
				 "ldmxcsr %[hmx_]"                                        \
				 : [hmx_] "=m"(simd_host_mx_), [gmx_] "+m"(mx), __VA_ARGS__); \
	} while (0)

#endif
