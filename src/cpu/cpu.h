/* SPDX-License-Identifier: MIT */
/*
 * Internal interface of the virtual CPU: the decoded instruction form, operand access,
 * guest memory access, flag helpers and exceptions. Every instruction-class file
 * (alu.c, sse.c, ...) uses only this header.
 */
#ifndef OMNIVISOR_CPU_INTERNAL_H
#define OMNIVISOR_CPU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "omnivisor/mmu.h"
#include "omnivisor/vcpu.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Operand kinds of a decoded instruction. */
enum opkind {
	OPK_NONE = 0,
	OPK_GPR,  /* reg 0..15; with size 1 and hi8 set: AH/CH/DH/BH (bits 15:8 of reg) */
	OPK_MEM,  /* effective address from base/index/scale/disp + seg */
	OPK_IMM,  /* imm (sign- or zero-extended by Zydis to 64 bits) */
	OPK_XMM,  /* reg 0..15 */
	OPK_MMX,  /* reg 0..7 */
	OPK_ST,   /* x87 ST(reg) */
	OPK_SEG,  /* segment register (reg = ZydisRegister - ZYDIS_REGISTER_ES = enum seg_reg) */
	OPK_CR,   /* control register CRn, reg = n */
	OPK_DR,   /* debug register DRn, reg = n */
	OPK_OTHER,/* something we do not model (CR, DR, ...) */
};

#define REG_NONE 0xff
#define SEG_NONE 0
#define SEG_FS 1
#define SEG_GS 2

struct operand {
	uint8_t kind;  /* enum opkind */
	uint8_t size;  /* bytes (0 for agen-only operands such as LEA's source? no: LEA has size) */
	uint8_t reg;   /* OPK_GPR/XMM/MMX/ST/SEG */
	uint8_t hi8;   /* OPK_GPR: AH..BH */
	uint8_t base;  /* OPK_MEM: GPR index or REG_NONE */
	uint8_t index; /* OPK_MEM: GPR index or REG_NONE */
	uint8_t scale; /* OPK_MEM: 1, 2, 4, 8 */
	uint8_t seg;   /* OPK_MEM: SEG_NONE/FS/GS */
	int64_t disp;  /* OPK_MEM displacement (RIP-relative already resolved to absolute);
			  OPK_IMM value; relative branch targets are resolved to absolute;
			  far JMP/CALL ptr16:16/32: op[0] = offset, op[1] = selector (OPK_IMM) */
};

/* insn flags */
#define INSN_LOCK 0x01
#define INSN_REP 0x02   /* F3 on a string instruction: REP / REPE */
#define INSN_REPNE 0x04 /* F2 on a string instruction */
#define INSN_ASIZE32 0x08 /* 67 prefix: 32-bit addressing */
#define INSN_END 0x10   /* ends the block (control transfer, SYSCALL, ...) */
#define INSN_LAST 0x20  /* last instruction of its block (set by the decoder) */

struct insn;
typedef void (*insn_fn)(struct vcpu *cpu, const struct insn *in);

struct insn {
	insn_fn fn;
	uint16_t mnemonic; /* ZydisMnemonic */
	uint8_t len;       /* bytes */
	uint8_t opsize;    /* operand size in bytes (Zydis operand_width / 8), 0 if none */
	uint8_t nops;      /* visible operands */
	uint8_t flags;     /* INSN_* */
	uint8_t seg;       /* segment override for implicit memory (string source): SEG_* */
	uint8_t opcode;    /* last opcode byte (ZydisDecodedInstruction.opcode) */
	uint8_t mandatory; /* 0, 0x66, 0xF2, 0xF3: SSE mandatory prefix as decoded */
	uint8_t modrm;     /* ModRM byte as decoded (0 if none) */
	uint16_t end_off;  /* offset of the next instruction from the block's first byte */
	struct operand op[4];
};

/* A decoded basic block: guest code from gva up to a control transfer. */
struct block {
	uint64_t gva;       /* first instruction */
	uint64_t end;       /* one past the last byte */
	struct block *hash_next;
	struct block *page_next; /* blocks touching the same first page */
	volatile int valid;
	uint32_t nr;
	/* Decoded from a MAP_SHARED mapping: another mapping of the same memory can change the
	 * bytes without a write trap, so they are compared with this copy before each run. */
	const uint8_t *shared_copy;
	uint64_t retire_epoch; /* decode-cache epoch when invalidated */
	uint64_t pages[6];     /* pages whose change invalidates it (its own, its successors') */
	uint32_t nr_pages;
	uint32_t key;          /* vcpu->block_key it was decoded for (0 in user mode) */
	uint64_t phys, phys2;  /* system mode: GPA of the first byte and of the last byte's page */
	struct insn insns[];
};

/* Handler registration: each class file exports a table ending with { 0, NULL }. */
struct insn_entry {
	uint16_t mnemonic;
	insn_fn fn;
};

extern const struct insn_entry alu_insns[], shift_insns[], muldiv_insns[], bitops_insns[],
	string_insns[], control_insns[], datamov_insns[], system_insns[], x87_insns[],
	sse_insns[], sse4_insns[], mmx_insns[];

/* String MOVSD/CMPSD (opcodes A5/A7), chosen by the decoder by opcode map (string.c). */
void string_movsd(struct vcpu *cpu, const struct insn *in);
void string_cmpsd(struct vcpu *cpu, const struct insn *in);

/* ---------------------------------------------------------------------------------------- */
/* Exceptions. Never return: they unwind to vcpu_run() with RIP at the faulting instruction. */

__attribute__((noreturn)) void cpu_raise(struct vcpu *cpu, int vector, uint32_t error, uint64_t addr);
__attribute__((noreturn)) static inline void cpu_ud(struct vcpu *cpu)
{
	cpu_raise(cpu, EXC_UD, 0, 0);
}
__attribute__((noreturn)) static inline void cpu_gp0(struct vcpu *cpu)
{
	cpu_raise(cpu, EXC_GP, 0, 0);
}

/* Leave the block loop after the current instruction with @reason (enum vcpu_exit). */
void cpu_exit_after(struct vcpu *cpu, int reason);

/* ---------------------------------------------------------------------------------------- */
/* Guest memory access. gva is a guest virtual address. */

static inline int is_canonical(uint64_t gva)
{
	return (uint64_t)((int64_t)(gva << 16) >> 16) == gva;
}

__attribute__((noreturn)) void cpu_bad_address(struct vcpu *cpu, uint64_t gva, int write);

/*
 * System mode (cpu->tlb set): every access goes through the soft MMU. The inline part is the TLB
 * hit (one compare and an add, docs/mmu.md); sysmem.c does the rest: page walks, #PF, accesses
 * crossing a page, MMIO, writes to pages holding decoded code.
 *   sys_gva_ptr_slow: a host pointer valid for the instruction; for a crossing or MMIO access it
 *     points into a bounce buffer (filled for reads; for writes committed to guest memory after
 *     the instruction by the run loop). All faults are raised before it returns.
 *   sys_mem_read_slow / sys_mem_write_slow: complete the access.
 */
void *sys_gva_ptr_slow(struct vcpu *cpu, uint64_t gva, unsigned len, int write);
void sys_mem_read_slow(struct vcpu *cpu, uint64_t gva, void *dst, unsigned len);
void sys_mem_write_slow(struct vcpu *cpu, uint64_t gva, const void *src, unsigned len);

static inline void *sys_tlb_ptr(struct vcpu *cpu, uint64_t gva, unsigned len, int write)
{
	const struct tlb_entry *e = &cpu->tlb->e[cpu->mmu_idx][tlb_index(gva)];
	return tlb_hit(write ? e->tag_write : e->tag_read, e->addend, gva, len);
}

/* Host pointer for [gva, gva+len); raises #GP/#PF if the access is not allowed. */
static inline void *gva_ptr(struct vcpu *cpu, uint64_t gva, unsigned len, int write)
{
	if (unlikely(cpu->tlb)) {
		void *p = sys_tlb_ptr(cpu, gva, len, write);
		return likely(p != NULL) ? p : sys_gva_ptr_slow(cpu, gva, len, write);
	}
	if (unlikely(gva >= cpu->mem_limit || cpu->mem_limit - gva < len))
		cpu_bad_address(cpu, gva, write);
	return cpu->mem_base + gva;
}

static inline __attribute__((always_inline)) void mem_read(struct vcpu *cpu, uint64_t gva,
							   void *dst, unsigned len)
{
	if (unlikely(cpu->tlb)) {
		void *p = sys_tlb_ptr(cpu, gva, len, 0);
		if (likely(p != NULL))
			memcpy(dst, p, len);
		else
			sys_mem_read_slow(cpu, gva, dst, len);
		return;
	}
	memcpy(dst, gva_ptr(cpu, gva, len, 0), len);
}

static inline __attribute__((always_inline)) void mem_write(struct vcpu *cpu, uint64_t gva,
							    const void *src, unsigned len)
{
	if (unlikely(cpu->tlb)) {
		void *p = sys_tlb_ptr(cpu, gva, len, 1);
		if (likely(p != NULL))
			memcpy(p, src, len);
		else
			sys_mem_write_slow(cpu, gva, src, len);
		return;
	}
	memcpy(gva_ptr(cpu, gva, len, 1), src, len);
}

#define DEFINE_MEM_ACCESS(bits)                                                            \
	static inline uint##bits##_t mem_read##bits(struct vcpu *cpu, uint64_t gva)         \
	{                                                                                   \
		uint##bits##_t v;                                                           \
		mem_read(cpu, gva, &v, bits / 8);                                           \
		return v;                                                                   \
	}                                                                                   \
	static inline void mem_write##bits(struct vcpu *cpu, uint64_t gva, uint##bits##_t v) \
	{                                                                                   \
		mem_write(cpu, gva, &v, bits / 8);                                          \
	}
DEFINE_MEM_ACCESS(8)
DEFINE_MEM_ACCESS(16)
DEFINE_MEM_ACCESS(32)
DEFINE_MEM_ACCESS(64)
#undef DEFINE_MEM_ACCESS

/* Read/write @size (1,2,4,8) bytes, zero-extended. */
static inline uint64_t mem_read_sz(struct vcpu *cpu, uint64_t gva, unsigned size)
{
	switch (size) {
	case 1: return mem_read8(cpu, gva);
	case 2: return mem_read16(cpu, gva);
	case 4: return mem_read32(cpu, gva);
	default: return mem_read64(cpu, gva);
	}
}
static inline void mem_write_sz(struct vcpu *cpu, uint64_t gva, uint64_t v, unsigned size)
{
	switch (size) {
	case 1: mem_write8(cpu, gva, (uint8_t)v); break;
	case 2: mem_write16(cpu, gva, (uint16_t)v); break;
	case 4: mem_write32(cpu, gva, (uint32_t)v); break;
	default: mem_write64(cpu, gva, v); break;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Operand access. */

static inline uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}
static inline uint64_t sign_bit(unsigned size)
{
	return 1ULL << (size * 8 - 1);
}
static inline int64_t sext(uint64_t v, unsigned size)
{
	unsigned sh = 64 - size * 8;
	return (int64_t)(v << sh) >> sh;
}

/* Address generation without the segment base: base + index * scale + disp at the address
 * size (Intel SDM Vol. 1 3.7.5); what LEA computes. */
static inline uint64_t op_agen(const struct vcpu *cpu, const struct insn *in,
			       const struct operand *o)
{
	uint64_t ea = (uint64_t)o->disp;
	if (o->base != REG_NONE)
		ea += cpu->gpr[o->base];
	if (o->index != REG_NONE)
		ea += cpu->gpr[o->index] * o->scale;
	if (unlikely(in->flags & INSN_ASIZE32))
		ea = (uint32_t)ea;
	return ea;
}

/* Effective address of a memory operand, segment base (FS/GS in 64-bit mode) included. */
static inline uint64_t op_ea(const struct vcpu *cpu, const struct insn *in, const struct operand *o)
{
	uint64_t ea = op_agen(cpu, in, o);
	if (unlikely(o->seg))
		ea += o->seg == SEG_FS ? cpu->fs_base : cpu->gs_base;
	return ea;
}

static inline uint64_t gpr_read(const struct vcpu *cpu, const struct operand *o)
{
	if (unlikely(o->hi8))
		return (cpu->gpr[o->reg] >> 8) & 0xff;
	return cpu->gpr[o->reg] & size_mask(o->size);
}

/* Register write with x86-64 rules: 32-bit writes zero-extend, 8/16-bit writes merge. */
static inline void gpr_write(struct vcpu *cpu, const struct operand *o, uint64_t v)
{
	uint64_t *r = &cpu->gpr[o->reg];
	switch (o->size) {
	case 1:
		if (o->hi8)
			*r = (*r & ~0xff00ULL) | ((v & 0xff) << 8);
		else
			*r = (*r & ~0xffULL) | (v & 0xff);
		break;
	case 2: *r = (*r & ~0xffffULL) | (v & 0xffff); break;
	case 4: *r = (uint32_t)v; break;
	default: *r = v; break;
	}
}

/* Write a full GPR by index with operand size @size (same rules as gpr_write). */
static inline void gpr_set(struct vcpu *cpu, unsigned reg, unsigned size, uint64_t v)
{
	struct operand o = { .kind = OPK_GPR, .size = (uint8_t)size, .reg = (uint8_t)reg };
	gpr_write(cpu, &o, v);
}

/* Value of an integer operand (GPR, memory, immediate) zero-extended to 64 bits. */
static inline uint64_t op_read(struct vcpu *cpu, const struct insn *in, int i)
{
	const struct operand *o = &in->op[i];
	switch (o->kind) {
	case OPK_GPR: return gpr_read(cpu, o);
	case OPK_MEM: return mem_read_sz(cpu, op_ea(cpu, in, o), o->size);
	case OPK_IMM: return (uint64_t)o->disp & size_mask(o->size);
	default: cpu_ud(cpu);
	}
}

static inline void op_write(struct vcpu *cpu, const struct insn *in, int i, uint64_t v)
{
	const struct operand *o = &in->op[i];
	switch (o->kind) {
	case OPK_GPR: gpr_write(cpu, o, v); break;
	case OPK_MEM: mem_write_sz(cpu, op_ea(cpu, in, o), v, o->size); break;
	default: cpu_ud(cpu);
	}
}

/* Host pointer to an XMM register or 16-byte-or-less memory operand (read side). For memory,
 * the bytes are copied into @tmp (size o->size) and tmp is returned. */
static inline const union xmm_reg *op_xmm_src(struct vcpu *cpu, const struct insn *in, int i,
					       union xmm_reg *tmp)
{
	const struct operand *o = &in->op[i];
	if (o->kind == OPK_XMM)
		return &cpu->xmm[o->reg];
	if (o->kind == OPK_MEM) {
		memset(tmp, 0, sizeof(*tmp));
		mem_read(cpu, op_ea(cpu, in, o), tmp, o->size);
		return tmp;
	}
	cpu_ud(cpu);
}

/* ---------------------------------------------------------------------------------------- */
/* Flags (Intel SDM Vol. 1 3.4.3.1, Appendix B). All helpers take operand size in bytes. */

static inline __attribute__((always_inline)) uint64_t flags_szp(uint64_t res, unsigned size)
{
	uint64_t f = 0;
	res &= size_mask(size);
	if (res == 0)
		f |= FLAG_ZF;
	if (res & sign_bit(size))
		f |= FLAG_SF;
	if (!__builtin_parity((unsigned)(res & 0xff)))
		f |= FLAG_PF;
	return f;
}

static inline void set_flags(struct vcpu *cpu, uint64_t mask, uint64_t f)
{
	cpu->rflags = (cpu->rflags & ~mask) | (f & mask);
}

/* res = a + b + carry_in */
static inline __attribute__((always_inline)) uint64_t flags_add(uint64_t a, uint64_t b, uint64_t res, unsigned size)
{
	uint64_t m = size_mask(size), sb = sign_bit(size);
	uint64_t f = flags_szp(res, size);
	a &= m; b &= m; res &= m;
	f |= (((a & b) | ((a | b) & ~res)) & sb) ? FLAG_CF : 0;
	f |= ((a ^ b ^ res) & 0x10) ? FLAG_AF : 0;
	f |= ((~(a ^ b) & (a ^ res)) & sb) ? FLAG_OF : 0;
	return f;
}

/* res = a - b - borrow_in */
static inline __attribute__((always_inline)) uint64_t flags_sub(uint64_t a, uint64_t b, uint64_t res, unsigned size)
{
	uint64_t m = size_mask(size), sb = sign_bit(size);
	uint64_t f = flags_szp(res, size);
	a &= m; b &= m; res &= m;
	f |= (((~a & b) | ((~a | b) & res)) & sb) ? FLAG_CF : 0;
	f |= ((a ^ b ^ res) & 0x10) ? FLAG_AF : 0;
	f |= (((a ^ b) & (a ^ res)) & sb) ? FLAG_OF : 0;
	return f;
}

/* AND/OR/XOR/TEST: CF=OF=0, AF undefined (we clear it, as current Intel/AMD cores do) */
static inline __attribute__((always_inline)) uint64_t flags_logic(uint64_t res, unsigned size)
{
	return flags_szp(res, size);
}

/* Condition codes (SDM Vol. 1 Appendix B), cc = low nibble of the Jcc/SETcc/CMOVcc opcode. */
static inline int cond_true(const struct vcpu *cpu, unsigned cc)
{
	uint64_t f = cpu->rflags;
	int r;
	switch (cc >> 1) {
	case 0: r = !!(f & FLAG_OF); break;
	case 1: r = !!(f & FLAG_CF); break;
	case 2: r = !!(f & FLAG_ZF); break;
	case 3: r = !!(f & (FLAG_CF | FLAG_ZF)); break;
	case 4: r = !!(f & FLAG_SF); break;
	case 5: r = !!(f & FLAG_PF); break;
	case 6: r = !!(f & FLAG_SF) != !!(f & FLAG_OF); break;
	default: r = (f & FLAG_ZF) || (!!(f & FLAG_SF) != !!(f & FLAG_OF)); break;
	}
	return r ^ (int)(cc & 1);
}

/* Stack helpers (64-bit mode, SS base 0). Push writes before RSP changes so a fault leaves RSP. */
static inline void cpu_push(struct vcpu *cpu, uint64_t v, unsigned size)
{
	uint64_t rsp = cpu->gpr[R_RSP] - size;
	mem_write_sz(cpu, rsp, v, size);
	cpu->gpr[R_RSP] = rsp;
}
static inline uint64_t cpu_pop(struct vcpu *cpu, unsigned size)
{
	uint64_t v = mem_read_sz(cpu, cpu->gpr[R_RSP], size);
	cpu->gpr[R_RSP] += size;
	return v;
}

/* FXSAVE/FXRSTOR images of the x87/SSE state (x87.c; SDM Vol. 2 FXSAVE table 3-53/3-56 layout),
 * also used for signal frames. cpu_fxrstor_image returns -1 on reserved MXCSR bits. */
void cpu_fxsave_image(const struct vcpu *cpu, void *area, bool rex_w);
int cpu_fxrstor_image(struct vcpu *cpu, const void *area, bool rex_w);

/* CPUID as implemented: leaf/subleaf -> eax..edx (cpuid.c). */
void cpu_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* Per-vCPU jump cache: GVA -> block, direct-mapped (exec.c, fastpath.c). */
#define JCACHE_SIZE 4096
static inline unsigned jcache_index(uint64_t gva)
{
	return (unsigned)((gva ^ (gva >> 12)) & (JCACHE_SIZE - 1));
}

/* fastpath.c: a specialised handler for @in's form, or NULL; @flags_dead: no flag it writes
 * is read before being overwritten (decode.c's liveness pass). */
insn_fn fastpath_select(const struct insn *in, int flags_dead);
/* fastpath.c: one handler for @in (CMP, TEST, or an ALU op) and the Jcc @jcc closing the block,
 * when no flag @in writes is live after @jcc; NULL if the pair has no fused form. */
insn_fn fastpath_select_fused(const struct insn *in, const struct insn *jcc);

/* Decoder/cache (decode.c) */
void block_cache_unlock_after_fault(struct vcpu *cpu);
/* vCPU registration with its block cache, and the epoch check at safe points (decode.c). */
void block_cache_attach(struct block_cache *bc, struct vcpu *cpu);
void block_cache_detach(struct block_cache *bc, struct vcpu *cpu);
bool block_cache_epoch_changed(const struct vcpu *cpu);
void vcpu_sync_epoch_slow(struct vcpu *cpu);
/* block_stale - @b (from a shared mapping) no longer matches guest memory: it has been
 * invalidated; look the address up again. */
bool block_stale(struct vcpu *cpu, struct block *b);
struct block *block_lookup(struct vcpu *cpu, uint64_t gva);
void block_cache_invalidate_page(struct block_cache *bc, uint64_t page_gva);
/* Decode one instruction at @gva into @out for tests/traces. 0 or -errno. */
int cpu_decode_one(const uint8_t *bytes, size_t len, uint64_t gva, struct insn *out);
/* Format the instruction at @bytes (Intel syntax) into @buf, for --trace. */
void cpu_disasm(const uint8_t *bytes, size_t len, uint64_t gva, char *buf, size_t buflen);

#endif
