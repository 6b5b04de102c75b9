/* SPDX-License-Identifier: MIT */
/*
 * Bit test and scan: BT BTS BTR BTC, BSF BSR, and TZCNT/LZCNT encodings (Intel SDM Vol. 2).
 *
 * Bit-string addressing (SDM Vol. 2 BT): with a register bit offset and a memory operand the
 * offset is signed (operand size) and selects the operand-size unit at
 * EA + size * floor(offset / bits); the access may be outside the operand. With an immediate
 * offset, or a register destination, the offset is taken modulo the operand width.
 *
 * We do not advertise BMI1/ABM in CPUID, so F3 0F BC / F3 0F BD (decoded by Zydis as
 * TZCNT/LZCNT) execute as BSF/BSR, exactly as on a CPU without those extensions where the F3
 * prefix is ignored.
 */
#include <stdbool.h>

#include "cpu.h"

enum bt_op { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

/*
 * Flags after BT*: CF = the selected bit; ZF unchanged; OF SF AF PF are undefined (SDM) and
 * Intel cores leave them unchanged, as we do.
 */
static inline void bt_flags(struct vcpu *cpu, uint64_t bit)
{
	cpu->rflags = (cpu->rflags & ~(uint64_t)FLAG_CF) | (bit & 1);
}

static inline uint64_t bt_apply(enum bt_op op, uint64_t v, uint64_t mask)
{
	switch (op) {
	case BT_SET: return v | mask;
	case BT_RESET: return v & ~mask;
	case BT_COMPLEMENT: return v ^ mask;
	default: return v;
	}
}

/* Atomic BTS/BTR/BTC of @size bytes at host @p; returns the old value. */
#define BT_ATOMIC_T(T, op, p, mask)                                                             \
	((op) == BT_SET	     ? (uint64_t)__atomic_fetch_or((T *)(p), (T)(mask), __ATOMIC_SEQ_CST) : \
	 (op) == BT_RESET    ? (uint64_t)__atomic_fetch_and((T *)(p), (T) ~(mask),              \
							  __ATOMIC_SEQ_CST)                  \
			     : (uint64_t)__atomic_fetch_xor((T *)(p), (T)(mask), __ATOMIC_SEQ_CST))

static inline uint64_t bt_atomic(enum bt_op op, void *p, unsigned size, uint64_t mask)
{
	switch (size) {
	case 2: return BT_ATOMIC_T(uint16_t, op, p, mask);
	case 4: return BT_ATOMIC_T(uint32_t, op, p, mask);
	default: return BT_ATOMIC_T(uint64_t, op, p, mask);
	}
}

static inline __attribute__((always_inline)) void bt_common(struct vcpu *cpu,
							    const struct insn *in,
							    enum bt_op op)
{
	const struct operand *d = &in->op[0], *s = &in->op[1];
	unsigned size = d->size, bits = size * 8;
	uint64_t off, v, mask;

	if (s->kind == OPK_IMM)
		off = (uint64_t)s->disp;
	else if (s->kind == OPK_GPR)
		off = gpr_read(cpu, s);
	else
		cpu_ud(cpu);

	if (likely(d->kind == OPK_GPR)) {
		if (unlikely(in->flags & INSN_LOCK))
			cpu_ud(cpu);
		mask = 1ULL << (off & (bits - 1));
		v = gpr_read(cpu, d);
		if (op != BT_TEST)
			gpr_write(cpu, d, bt_apply(op, v, mask));
		bt_flags(cpu, (v & mask) != 0);
		return;
	}
	if (d->kind != OPK_MEM)
		cpu_ud(cpu);
	if (unlikely(in->flags & INSN_LOCK) && op == BT_TEST)
		cpu_ud(cpu);

	uint64_t ea = op_ea(cpu, in, d);
	if (s->kind == OPK_GPR) {
		/* signed offset: unit index = floor(off / bits), scaled to bytes */
		int64_t soff = sext(off, size);
		int shift = bits == 16 ? 4 : bits == 32 ? 5 : 6;
		ea += (uint64_t)((soff >> shift) * (int64_t)size);
		if (unlikely(in->flags & INSN_ASIZE32) && d->seg == SEG_NONE)
			ea = (uint32_t)ea; /* 32-bit address arithmetic wraps */
	}
	mask = 1ULL << (off & (bits - 1));
	if (unlikely(in->flags & INSN_LOCK)) {
		v = bt_atomic(op, gva_ptr(cpu, ea, size, 1), size, mask);
	} else {
		v = mem_read_sz(cpu, ea, size);
		if (op != BT_TEST)
			mem_write_sz(cpu, ea, bt_apply(op, v, mask), size);
	}
	bt_flags(cpu, (v & mask) != 0);
}

static void op_bt(struct vcpu *cpu, const struct insn *in)
{
	bt_common(cpu, in, BT_TEST);
}
static void op_bts(struct vcpu *cpu, const struct insn *in)
{
	bt_common(cpu, in, BT_SET);
}
static void op_btr(struct vcpu *cpu, const struct insn *in)
{
	bt_common(cpu, in, BT_RESET);
}
static void op_btc(struct vcpu *cpu, const struct insn *in)
{
	bt_common(cpu, in, BT_COMPLEMENT);
}

static inline uint64_t scan_src(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[1];
	if (unlikely(in->flags & INSN_LOCK))
		cpu_ud(cpu);
	if (likely(o->kind == OPK_GPR))
		return gpr_read(cpu, o);
	if (o->kind == OPK_MEM)
		return mem_read_sz(cpu, op_ea(cpu, in, o), o->size);
	cpu_ud(cpu);
}

/*
 * BSF/BSR: source 0 sets ZF and leaves the destination unchanged (all 64 bits, also for a
 * 32-bit operand), as Intel and AMD do; otherwise ZF=0 and the destination gets the index.
 * CF OF SF AF PF are undefined (SDM); Intel cores (measured on the host) clear CF OF SF AF
 * and set PF from the index as a logic instruction would (index 0 for a zero source).
 */
static inline void scan_flags(struct vcpu *cpu, uint64_t src, uint64_t idx)
{
	uint64_t f = src ? flags_szp(idx, 1) & FLAG_PF : FLAG_ZF | FLAG_PF;
	set_flags(cpu, FLAGS_ARITH, f);
}

static void op_bsf(struct vcpu *cpu, const struct insn *in)
{
	uint64_t src = scan_src(cpu, in), idx = 0;
	if (src) {
		idx = (uint64_t)__builtin_ctzll(src);
		gpr_write(cpu, &in->op[0], idx);
	}
	scan_flags(cpu, src, idx);
}

static void op_bsr(struct vcpu *cpu, const struct insn *in)
{
	uint64_t src = scan_src(cpu, in), idx = 0;
	if (src) {
		idx = (uint64_t)(63 - __builtin_clzll(src));
		gpr_write(cpu, &in->op[0], idx);
	}
	scan_flags(cpu, src, idx);
}

const struct insn_entry bitops_insns[] = {
	{ ZYDIS_MNEMONIC_BT, op_bt },
	{ ZYDIS_MNEMONIC_BTS, op_bts },
	{ ZYDIS_MNEMONIC_BTR, op_btr },
	{ ZYDIS_MNEMONIC_BTC, op_btc },
	{ ZYDIS_MNEMONIC_BSF, op_bsf },
	{ ZYDIS_MNEMONIC_BSR, op_bsr },
	/* F3 0F BC / F3 0F BD without BMI1/ABM: BSF/BSR (F3 ignored) */
	{ ZYDIS_MNEMONIC_TZCNT, op_bsf },
	{ ZYDIS_MNEMONIC_LZCNT, op_bsr },
	{ 0, NULL },
};
