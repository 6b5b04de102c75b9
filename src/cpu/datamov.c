/* SPDX-License-Identifier: MIT */
/*
 * Data movement: MOV (incl. moffs and segment registers), MOVZX MOVSX MOVSXD MOVNTI, LEA,
 * PUSH POP PUSHF POPF LEAVE ENTER, XCHG XADD CMPXCHG CMPXCHG8B CMPXCHG16B, CBW CWDE CDQE
 * CWD CDQ CQO, BSWAP, LAHF SAHF, XLAT, CMOVcc, SETcc, the NOP family (NOP, hint NOPs,
 * PAUSE, ENDBR, prefetches), LFENCE MFENCE SFENCE, CLFLUSH CLFLUSHOPT.
 * Intel SDM Vol. 2 for each instruction.
 *
 * Memory forms of XCHG, XADD and CMPXCHG* always run as one atomic host operation on the
 * guest page (XCHG with memory is locked by definition; for the others an atomic update is
 * a correct implementation of the unlocked form too, and the destination is written even
 * when a compare fails, as the SDM requires), so other vCPU threads see one update and a
 * fault leaves memory and registers untouched.
 *
 * CMOVcc, SETcc are generated per condition code (the condition is a compile-time constant,
 * so cond_true() folds to one flag test).
 */
#include <stdbool.h>

#include "cpu.h"

/* Segment register numbers as decoded (ZydisRegister - ZYDIS_REGISTER_ES). */
enum { SR_ES, SR_CS, SR_SS, SR_DS, SR_FS, SR_GS };

/* Linux x86-64 user-mode selectors (arch/x86/include/asm/segment.h): GDT entry 5 = user data
 * (0x2b with RPL 3), entry 6 = 64-bit user code (0x33). DS/ES/FS/GS hold the null selector. */
#define SEL_USER_DS 0x2b
#define SEL_USER_CS 0x33

/* Writable RFLAGS bits at CPL 3 with IOPL 0 (SDM Vol. 2 POPF, "Operation": IF and IOPL are
 * unaffected, VIP/VIF/VM/RF are not changed by POPF in 64-bit mode). */
#define FLAG_NT (1u << 14)
#define POPF_USER_MASK                                                                       \
	(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF | FLAG_OF |      \
	 FLAG_NT | FLAG_AC | FLAG_ID)

/* Selector values as a Linux x86-64 process sees them. */
static uint64_t seg_read(unsigned sr)
{
	switch (sr) {
	case SR_CS: return SEL_USER_CS;
	case SR_SS: return SEL_USER_DS;
	default: return 0;
	}
}

/* GDT selectors of Linux's user segments (32-bit code 0x23, data 0x2b, 64-bit code 0x33), all
 * DPL 3 and readable, so loadable into DS/ES/FS/GS with any RPL (SDM Vol. 3A 5.6). */
static bool user_gdt_readable(uint16_t sel)
{
	sel &= 0xfffc;
	return sel == 0x20 || sel == 0x28 || sel == 0x30;
}

/*
 * Load a segment register at CPL 3 (SDM Vol. 2 MOV "64-bit mode" operation, Vol. 3A 5.4.1).
 * We model the flat Linux GDT: the null selector (not for SS) and the user segments are
 * accepted (SS: only the writable data segment); anything else raises #GP(selector). On
 * Intel, loading FS/GS in 64-bit mode loads the base from the descriptor (0 for these) and a
 * null selector clears the base as well (Linux arch/x86/kernel/cpu/common.c, detect_null_seg_behavior).
 */
static void seg_write(struct vcpu *cpu, unsigned sr, uint64_t v)
{
	uint16_t sel = (uint16_t)v;
	if (sr == SR_CS)
		cpu_ud(cpu);
	if ((sel & 0xfffc) == 0) {
		if (sr == SR_SS)
			cpu_gp0(cpu);
	} else if (sr == SR_SS ? sel != SEL_USER_DS : !user_gdt_readable(sel)) {
		cpu_raise(cpu, EXC_GP, sel & 0xfffc, 0);
	}
	if (sr == SR_FS)
		cpu->fs_base = 0;
	else if (sr == SR_GS)
		cpu->gs_base = 0;
}


/* ---------------------------------------------------------------------------------------- */
/* MOV and friends */

static void op_mov(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	uint64_t v;

	if (likely(s->kind == OPK_GPR))
		v = gpr_read(cpu, s);
	else if (s->kind == OPK_MEM)
		v = mem_read_sz(cpu, op_ea(cpu, in, s), s->size);
	else if (s->kind == OPK_IMM)
		v = (uint64_t)s->disp;
	else if (s->kind == OPK_SEG)
		v = seg_read(s->reg);
	else
		cpu_gp0(cpu); /* MOV from CRn/DRn at CPL 3: #GP(0) */

	if (likely(d->kind == OPK_GPR))
		gpr_write(cpu, d, v);
	else if (d->kind == OPK_MEM)
		mem_write_sz(cpu, op_ea(cpu, in, d), v, d->size);
	else if (d->kind == OPK_SEG)
		seg_write(cpu, d->reg, v);
	else
		cpu_gp0(cpu); /* MOV to CRn/DRn at CPL 3 */
}

/* Integer source operand, zero-extended, at its own size. */
static inline uint64_t src_read(struct vcpu *cpu, const struct insn *in, const struct operand *s)
{
	if (likely(s->kind == OPK_GPR))
		return gpr_read(cpu, s);
	if (s->kind == OPK_MEM)
		return mem_read_sz(cpu, op_ea(cpu, in, s), s->size);
	cpu_ud(cpu);
}

static void op_movzx(struct vcpu *cpu, const struct insn *in)
{
	gpr_write(cpu, &in->op[0], src_read(cpu, in, &in->op[1]));
}

/* MOVSX and MOVSXD (66/no-REX.W forms of MOVSXD just move 16/32 bits: SDM Vol. 2 MOVSX). */
static void op_movsx(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *s = &in->op[1];
	gpr_write(cpu, &in->op[0], (uint64_t)sext(src_read(cpu, in, s), s->size));
}

static void op_lea(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->op[1].kind != OPK_MEM))
		cpu_ud(cpu);
	gpr_write(cpu, &in->op[0], op_agen(cpu, in, &in->op[1]));
}

/* MOVNTI m32/m64, r: the non-temporal hint has no architectural effect. */
static void op_movnti(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0];
	if (unlikely(d->kind != OPK_MEM))
		cpu_ud(cpu);
	mem_write_sz(cpu, op_ea(cpu, in, d), gpr_read(cpu, &in->op[1]), d->size);
}

/* ---------------------------------------------------------------------------------------- */
/* Stack */

static void op_push(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	unsigned size = in->opsize == 2 ? 2 : 8;
	uint64_t v;

	if (likely(o->kind == OPK_GPR))
		v = cpu->gpr[o->reg];
	else if (o->kind == OPK_IMM)
		v = (uint64_t)o->disp; /* imm8/imm32 sign-extended to the operand size */
	else if (o->kind == OPK_MEM)
		v = mem_read_sz(cpu, op_ea(cpu, in, o), size);
	else if (o->kind == OPK_SEG)
		v = seg_read(o->reg); /* 64-bit: zero-extended selector (SDM Vol. 2 PUSH) */
	else
		cpu_ud(cpu);
	cpu_push(cpu, v, size);
}

static void op_pop(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	unsigned size = in->opsize == 2 ? 2 : 8;
	uint64_t rsp = cpu->gpr[R_RSP];
	uint64_t v = mem_read_sz(cpu, rsp, size);

	if (likely(o->kind == OPK_GPR)) {
		cpu->gpr[R_RSP] = rsp + size;
		gpr_write(cpu, o, v); /* POP RSP: the popped value wins */
	} else if (o->kind == OPK_MEM) {
		/* SDM Vol. 2 POP: an RSP-based address is computed after RSP is incremented. */
		uint64_t ea;
		cpu->gpr[R_RSP] = rsp + size;
		ea = op_ea(cpu, in, o);
		cpu->gpr[R_RSP] = rsp;
		mem_write_sz(cpu, ea, v, size);
		cpu->gpr[R_RSP] = rsp + size;
	} else if (o->kind == OPK_SEG) {
		seg_write(cpu, o->reg, v);
		cpu->gpr[R_RSP] = rsp + size;
	} else {
		cpu_ud(cpu);
	}
}

/* PUSHF/PUSHFQ: RF and VM are cleared in the image (SDM Vol. 2 PUSHF); we never set them. */
static void op_pushf(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->opsize == 2 ? 2 : 8;
	cpu_push(cpu, vcpu_get_rflags(cpu), size);
}

static void op_popf(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->opsize == 2 ? 2 : 8;
	uint64_t mask = POPF_USER_MASK & size_mask(size);
	uint64_t v = cpu_pop(cpu, size);
	cpu->rflags = (cpu->rflags & ~mask) | (v & mask);
}

/* LEAVE: RSP <- RBP; RBP <- Pop() (SDM Vol. 2 LEAVE). */
static void op_leave(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->opsize == 2 ? 2 : 8;
	uint64_t rbp = cpu->gpr[R_RBP];
	uint64_t v = mem_read_sz(cpu, rbp, size);
	cpu->gpr[R_RSP] = rbp + size;
	gpr_set(cpu, R_RBP, size, v);
}

/*
 * ENTER imm16, imm8 (SDM Vol. 2 ENTER, 64-bit operation): push RBP, copy NestingLevel-1 frame
 * pointers from the enclosing frame, push the new frame pointer, allocate. Registers change
 * only after every access has succeeded; stores done before a fault stay, as on hardware.
 */
static void op_enter(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->opsize == 2 ? 2 : 8;
	uint64_t alloc = (uint64_t)in->op[0].disp & 0xffff;
	unsigned level = (unsigned)in->op[1].disp & 31;
	uint64_t rsp = cpu->gpr[R_RSP], rbp = cpu->gpr[R_RBP], frame;

	rsp -= size;
	mem_write_sz(cpu, rsp, rbp, size);
	frame = rsp;
	if (level > 0) {
		for (unsigned i = 1; i < level; i++) {
			rbp -= size;
			uint64_t v = mem_read_sz(cpu, rbp, size);
			rsp -= size;
			mem_write_sz(cpu, rsp, v, size);
		}
		rsp -= size;
		mem_write_sz(cpu, rsp, frame, size);
	}
	if (alloc) {
		/* Intel hardware then write-probes the new stack top: a fault there comes after
		 * the pushes above, with the registers unchanged. A locked OR of zero is a write
		 * access that leaves the byte as it is. */
		uint8_t *p = gva_ptr(cpu, rsp - alloc, size, 1);
		__atomic_fetch_or(p, 0, __ATOMIC_RELAXED);
	}
	gpr_set(cpu, R_RBP, size, frame);
	cpu->gpr[R_RSP] = rsp - alloc;
}

/* ---------------------------------------------------------------------------------------- */
/* Exchange and atomics */

/* Host pointer for an atomic read-modify-write of @size bytes at memory operand @o. */
static inline void *atomic_ptr(struct vcpu *cpu, const struct insn *in, const struct operand *o,
			       unsigned size)
{
	return gva_ptr(cpu, op_ea(cpu, in, o), size, 1);
}

static uint64_t atomic_xchg(void *p, uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return __atomic_exchange_n((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST);
	case 2: return __atomic_exchange_n((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST);
	case 4: return __atomic_exchange_n((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST);
	default: return __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_SEQ_CST);
	}
}

static uint64_t atomic_fetch_add(void *p, uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return __atomic_fetch_add((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST);
	case 2: return __atomic_fetch_add((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST);
	case 4: return __atomic_fetch_add((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST);
	default: return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_SEQ_CST);
	}
}

/* Compare-exchange; *old receives the value found. Returns true if it matched. */
static bool atomic_cas(void *p, uint64_t *old, uint64_t v, unsigned size)
{
	bool ok;
	switch (size) {
	case 1: {
		uint8_t e = (uint8_t)*old;
		ok = __atomic_compare_exchange_n((uint8_t *)p, &e, (uint8_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	case 2: {
		uint16_t e = (uint16_t)*old;
		ok = __atomic_compare_exchange_n((uint16_t *)p, &e, (uint16_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	case 4: {
		uint32_t e = (uint32_t)*old;
		ok = __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)v, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = e;
		break;
	}
	default:
		ok = __atomic_compare_exchange_n((uint64_t *)p, old, v, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST);
		break;
	}
	return ok;
}

/* XCHG: with a memory operand the exchange is locked whether or not LOCK is present. */
static void op_xchg(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *a = &in->op[0], *b = &in->op[1];
	if (likely(a->kind == OPK_GPR && b->kind == OPK_GPR)) {
		uint64_t va = gpr_read(cpu, a), vb = gpr_read(cpu, b);
		gpr_write(cpu, a, vb);
		gpr_write(cpu, b, va);
		return;
	}
	if (b->kind == OPK_MEM) {
		const struct operand *t = a;
		a = b;
		b = t;
	}
	if (a->kind != OPK_MEM || b->kind != OPK_GPR)
		cpu_ud(cpu);
	gpr_write(cpu, b, atomic_xchg(atomic_ptr(cpu, in, a, a->size), gpr_read(cpu, b), a->size));
}

/* XADD: TEMP <- SRC + DEST; SRC <- DEST; DEST <- TEMP; flags as ADD (SDM Vol. 2 XADD). */
static void op_xadd(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	unsigned size = d->size;
	uint64_t a, b = gpr_read(cpu, s), res;

	if (likely(d->kind == OPK_GPR)) {
		if (unlikely(in->flags & INSN_LOCK))
			cpu_ud(cpu);
		a = gpr_read(cpu, d);
		res = a + b;
		gpr_write(cpu, s, a);
		gpr_write(cpu, d, res);
	} else if (d->kind == OPK_MEM) {
		a = atomic_fetch_add(atomic_ptr(cpu, in, d, size), b, size);
		res = a + b;
		gpr_write(cpu, s, a);
	} else {
		cpu_ud(cpu);
	}
	set_flags(cpu, FLAGS_ARITH, flags_add(a, b, res, size));
}

/*
 * CMPXCHG (SDM Vol. 2): compare the accumulator with DEST (flags as CMP acc, DEST); equal:
 * DEST <- SRC, else accumulator <- DEST. A register destination is not written at all when
 * the compare fails (so a 32-bit one is not zero-extended), and the accumulator is written
 * only when it fails.
 */
static void op_cmpxchg(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	unsigned size = d->size;
	uint64_t acc = cpu->gpr[R_RAX] & size_mask(size), src = gpr_read(cpu, s), old;
	bool eq;

	if (likely(d->kind == OPK_MEM)) {
		old = acc;
		eq = atomic_cas(atomic_ptr(cpu, in, d, size), &old, src, size);
	} else if (d->kind == OPK_GPR) {
		if (unlikely(in->flags & INSN_LOCK))
			cpu_ud(cpu);
		old = gpr_read(cpu, d);
		eq = old == acc;
		if (eq)
			gpr_write(cpu, d, src);
	} else {
		cpu_ud(cpu);
	}
	if (!eq)
		gpr_set(cpu, R_RAX, size, old);
	set_flags(cpu, FLAGS_ARITH, flags_sub(acc, old, acc - old, size));
}

/* CMPXCHG8B m64: EDX:EAX vs m64; equal: m64 <- ECX:EBX, ZF=1; else EDX:EAX <- m64, ZF=0.
 * Other flags unchanged (SDM Vol. 2 CMPXCHG8B/CMPXCHG16B). */
static void op_cmpxchg8b(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0];
	uint64_t old, v;
	if (unlikely(d->kind != OPK_MEM))
		cpu_ud(cpu);
	old = (cpu->gpr[R_RDX] << 32) | (uint32_t)cpu->gpr[R_RAX];
	v = (cpu->gpr[R_RCX] << 32) | (uint32_t)cpu->gpr[R_RBX];
	if (atomic_cas(atomic_ptr(cpu, in, d, 8), &old, v, 8)) {
		cpu->rflags |= FLAG_ZF;
	} else {
		cpu->gpr[R_RAX] = (uint32_t)old;
		cpu->gpr[R_RDX] = old >> 32;
		cpu->rflags &= ~(uint64_t)FLAG_ZF;
	}
}

/* CMPXCHG16B m128: #GP(0) unless 16-byte aligned. The host instruction itself does the work:
 * every x86-64 host we run on has CX16, and no libatomic call is involved. */
static void op_cmpxchg16b(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *d = &in->op[0];
	uint64_t ea, lo, hi;
	void *p;
	bool ok;

	if (unlikely(d->kind != OPK_MEM))
		cpu_ud(cpu);
	ea = op_ea(cpu, in, d);
	if (ea & 15)
		cpu_gp0(cpu);
	p = gva_ptr(cpu, ea, 16, 1);
	lo = cpu->gpr[R_RAX];
	hi = cpu->gpr[R_RDX];
	asm volatile("lock cmpxchg16b %1"
		     : "=@ccz"(ok), "+m"(*(unsigned __int128 *)p), "+a"(lo), "+d"(hi)
		     : "b"(cpu->gpr[R_RBX]), "c"(cpu->gpr[R_RCX])
		     : "memory");
	if (ok) {
		cpu->rflags |= FLAG_ZF;
	} else {
		cpu->gpr[R_RAX] = lo;
		cpu->gpr[R_RDX] = hi;
		cpu->rflags &= ~(uint64_t)FLAG_ZF;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Conversions, byte order, flags to/from AH, table lookup */

static void op_cbw(struct vcpu *cpu, const struct insn *in)
{
	gpr_set(cpu, R_RAX, 2, (uint64_t)(int64_t)(int8_t)cpu->gpr[R_RAX]);
}
static void op_cwde(struct vcpu *cpu, const struct insn *in)
{
	gpr_set(cpu, R_RAX, 4, (uint64_t)(int64_t)(int16_t)cpu->gpr[R_RAX]);
}
static void op_cdqe(struct vcpu *cpu, const struct insn *in)
{
	cpu->gpr[R_RAX] = (uint64_t)(int64_t)(int32_t)cpu->gpr[R_RAX];
}
static void op_cwd(struct vcpu *cpu, const struct insn *in)
{
	gpr_set(cpu, R_RDX, 2, (uint64_t)((int64_t)(int16_t)cpu->gpr[R_RAX] >> 16));
}
static void op_cdq(struct vcpu *cpu, const struct insn *in)
{
	gpr_set(cpu, R_RDX, 4, (uint64_t)((int64_t)(int32_t)cpu->gpr[R_RAX] >> 32));
}
static void op_cqo(struct vcpu *cpu, const struct insn *in)
{
	cpu->gpr[R_RDX] = (uint64_t)((int64_t)cpu->gpr[R_RAX] >> 63);
}

/* BSWAP: with a 16-bit operand the SDM calls the result undefined; Intel and AMD hardware
 * write zero to the low 16 bits (the bytes swapped out of a 32-bit swap). */
static void op_bswap(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	uint64_t v = cpu->gpr[o->reg];
	switch (o->size) {
	case 8: cpu->gpr[o->reg] = __builtin_bswap64(v); break;
	case 4: cpu->gpr[o->reg] = __builtin_bswap32((uint32_t)v); break;
	default: gpr_write(cpu, o, 0); break;
	}
}

/* LAHF: AH <- SF:ZF:0:AF:0:PF:1:CF (SDM Vol. 2 LAHF). */
static void op_lahf(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ah = (vcpu_get_rflags(cpu) & 0xd5) | 2;
	cpu->gpr[R_RAX] = (cpu->gpr[R_RAX] & ~0xff00ULL) | (ah << 8);
}

/* SAHF: SF ZF AF PF CF <- AH bits 7 6 4 2 0. */
static void op_sahf(struct vcpu *cpu, const struct insn *in)
{
	uint64_t m = FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF;
	set_flags(cpu, m, cpu->gpr[R_RAX] >> 8);
}

/* XLAT: AL <- [seg:RBX + ZeroExtend(AL)] (address-size aware). */
static void op_xlat(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ea = cpu->gpr[R_RBX] + (cpu->gpr[R_RAX] & 0xff);
	if (in->flags & INSN_ASIZE32)
		ea = (uint32_t)ea;
	if (in->seg)
		ea += in->seg == SEG_FS ? cpu->fs_base : cpu->gs_base;
	uint8_t v = mem_read8(cpu, ea);
	cpu->gpr[R_RAX] = (cpu->gpr[R_RAX] & ~0xffULL) | v;
}

/* ---------------------------------------------------------------------------------------- */
/* CMOVcc, SETcc */

/* CMOVcc: the source is always read (a memory source faults even if the condition is false)
 * and a 32-bit destination is zero-extended either way (SDM Vol. 2 CMOVcc). */
static inline __attribute__((always_inline)) void cmov(struct vcpu *cpu, const struct insn *in,
						       unsigned cc)
{
	const struct operand *d = &in->op[0];
	uint64_t v = src_read(cpu, in, &in->op[1]);
	if (cond_true(cpu, cc))
		gpr_write(cpu, d, v);
	else if (d->size == 4)
		cpu->gpr[d->reg] = (uint32_t)cpu->gpr[d->reg];
}

static inline __attribute__((always_inline)) void setcc(struct vcpu *cpu, const struct insn *in,
							unsigned cc)
{
	const struct operand *d = &in->op[0];
	uint64_t v = (uint64_t)cond_true(cpu, cc);
	if (likely(d->kind == OPK_GPR))
		gpr_write(cpu, d, v);
	else if (d->kind == OPK_MEM)
		mem_write8(cpu, op_ea(cpu, in, d), (uint8_t)v);
	else
		cpu_ud(cpu);
}

#define CC_HANDLERS(name, cc)                                                                \
	static void op_cmov##name(struct vcpu *cpu, const struct insn *in)                  \
	{                                                                                    \
		cmov(cpu, in, cc);                                                           \
	}                                                                                    \
	static void op_set##name(struct vcpu *cpu, const struct insn *in)                   \
	{                                                                                    \
		setcc(cpu, in, cc);                                                          \
	}
CC_HANDLERS(o, 0x0)
CC_HANDLERS(no, 0x1)
CC_HANDLERS(b, 0x2)
CC_HANDLERS(nb, 0x3)
CC_HANDLERS(z, 0x4)
CC_HANDLERS(nz, 0x5)
CC_HANDLERS(be, 0x6)
CC_HANDLERS(nbe, 0x7)
CC_HANDLERS(s, 0x8)
CC_HANDLERS(ns, 0x9)
CC_HANDLERS(p, 0xa)
CC_HANDLERS(np, 0xb)
CC_HANDLERS(l, 0xc)
CC_HANDLERS(nl, 0xd)
CC_HANDLERS(le, 0xe)
CC_HANDLERS(nle, 0xf)

/* ---------------------------------------------------------------------------------------- */
/* NOPs, fences, cache control */

/* NOP, 0F 1F /0 and the reserved hint NOPs 0F 18-1F (no memory access: SDM Vol. 2 NOP),
 * ENDBR32/64 and RDSSP (NOPs while CET is not enabled, SDM Vol. 1 ch. 17), MPX instructions
 * (NOPs when MPX is absent or disabled, which is how Linux runs user code), the prefetch
 * hints (never fault: SDM Vol. 2 PREFETCHh) and CLDEMOTE (a hint). */
static void op_nop(struct vcpu *cpu, const struct insn *in)
{
}

/* PAUSE: spin-wait hint; pass it on so a spinning guest thread yields the core's resources. */
static void op_pause(struct vcpu *cpu, const struct insn *in)
{
	__builtin_ia32_pause();
}

static void op_lfence(struct vcpu *cpu, const struct insn *in)
{
	__builtin_ia32_lfence();
}
static void op_mfence(struct vcpu *cpu, const struct insn *in)
{
	__builtin_ia32_mfence();
}
static void op_sfence(struct vcpu *cpu, const struct insn *in)
{
	__builtin_ia32_sfence();
}

/* CLFLUSH/CLFLUSHOPT m8: faults like a byte read (SDM Vol. 2 CLFLUSH "treated as a read");
 * the host CLFLUSH on the host address gives exactly that check and the flush itself. */
static void op_clflush(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	if (unlikely(o->kind != OPK_MEM))
		cpu_ud(cpu);
	const char *p = gva_ptr(cpu, op_ea(cpu, in, o), 1, 0);
	asm volatile("clflush %0" : : "m"(*p) : "memory");
}

const struct insn_entry datamov_insns[] = {
	{ ZYDIS_MNEMONIC_MOV, op_mov },
	{ ZYDIS_MNEMONIC_MOVZX, op_movzx },
	{ ZYDIS_MNEMONIC_MOVSX, op_movsx },
	{ ZYDIS_MNEMONIC_MOVSXD, op_movsx },
	{ ZYDIS_MNEMONIC_MOVNTI, op_movnti },
	{ ZYDIS_MNEMONIC_LEA, op_lea },
	{ ZYDIS_MNEMONIC_PUSH, op_push },
	{ ZYDIS_MNEMONIC_POP, op_pop },
	{ ZYDIS_MNEMONIC_PUSHF, op_pushf },
	{ ZYDIS_MNEMONIC_PUSHFQ, op_pushf },
	{ ZYDIS_MNEMONIC_POPF, op_popf },
	{ ZYDIS_MNEMONIC_POPFQ, op_popf },
	{ ZYDIS_MNEMONIC_LEAVE, op_leave },
	{ ZYDIS_MNEMONIC_ENTER, op_enter },
	{ ZYDIS_MNEMONIC_XCHG, op_xchg },
	{ ZYDIS_MNEMONIC_XADD, op_xadd },
	{ ZYDIS_MNEMONIC_CMPXCHG, op_cmpxchg },
	{ ZYDIS_MNEMONIC_CMPXCHG8B, op_cmpxchg8b },
	{ ZYDIS_MNEMONIC_CMPXCHG16B, op_cmpxchg16b },
	{ ZYDIS_MNEMONIC_CBW, op_cbw },
	{ ZYDIS_MNEMONIC_CWDE, op_cwde },
	{ ZYDIS_MNEMONIC_CDQE, op_cdqe },
	{ ZYDIS_MNEMONIC_CWD, op_cwd },
	{ ZYDIS_MNEMONIC_CDQ, op_cdq },
	{ ZYDIS_MNEMONIC_CQO, op_cqo },
	{ ZYDIS_MNEMONIC_BSWAP, op_bswap },
	{ ZYDIS_MNEMONIC_LAHF, op_lahf },
	{ ZYDIS_MNEMONIC_SAHF, op_sahf },
	{ ZYDIS_MNEMONIC_XLAT, op_xlat },
#define CC_ENTRIES(NAME, name)                                                               \
	{ ZYDIS_MNEMONIC_CMOV##NAME, op_cmov##name }, { ZYDIS_MNEMONIC_SET##NAME, op_set##name },
	CC_ENTRIES(O, o) CC_ENTRIES(NO, no) CC_ENTRIES(B, b) CC_ENTRIES(NB, nb)
	CC_ENTRIES(Z, z) CC_ENTRIES(NZ, nz) CC_ENTRIES(BE, be) CC_ENTRIES(NBE, nbe)
	CC_ENTRIES(S, s) CC_ENTRIES(NS, ns) CC_ENTRIES(P, p) CC_ENTRIES(NP, np)
	CC_ENTRIES(L, l) CC_ENTRIES(NL, nl) CC_ENTRIES(LE, le) CC_ENTRIES(NLE, nle)
#undef CC_ENTRIES
	{ ZYDIS_MNEMONIC_NOP, op_nop },
	{ ZYDIS_MNEMONIC_ENDBR32, op_nop },
	{ ZYDIS_MNEMONIC_ENDBR64, op_nop },
	{ ZYDIS_MNEMONIC_RDSSPD, op_nop },
	{ ZYDIS_MNEMONIC_RDSSPQ, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCH, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCHNTA, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCHT0, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCHT1, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCHT2, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCHW, op_nop },
	{ ZYDIS_MNEMONIC_PREFETCHWT1, op_nop },
	{ ZYDIS_MNEMONIC_CLDEMOTE, op_nop },
	{ ZYDIS_MNEMONIC_BNDCL, op_nop },
	{ ZYDIS_MNEMONIC_BNDCN, op_nop },
	{ ZYDIS_MNEMONIC_BNDCU, op_nop },
	{ ZYDIS_MNEMONIC_BNDLDX, op_nop },
	{ ZYDIS_MNEMONIC_BNDMK, op_nop },
	{ ZYDIS_MNEMONIC_BNDMOV, op_nop },
	{ ZYDIS_MNEMONIC_BNDSTX, op_nop },
	{ ZYDIS_MNEMONIC_PAUSE, op_pause },
	{ ZYDIS_MNEMONIC_LFENCE, op_lfence },
	{ ZYDIS_MNEMONIC_MFENCE, op_mfence },
	{ ZYDIS_MNEMONIC_SFENCE, op_sfence },
	{ ZYDIS_MNEMONIC_CLFLUSH, op_clflush },
	{ ZYDIS_MNEMONIC_CLFLUSHOPT, op_clflush },
	{ 0, NULL },
};
