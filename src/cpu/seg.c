/* SPDX-License-Identifier: MIT */
/*
 * Segmentation in system mode: descriptor tables (GDT, LDT), segment-register loads with their
 * protection checks, far transfers, the task register, SYSCALL/SYSRET and SWAPGS.
 *
 * References: Intel SDM Vol. 3A ch. 3 (3.4.5 segment descriptors, 3.5 system descriptors),
 * ch. 5 (5.5-5.8 privilege checks), 7.2.3 (TSS descriptor in 64-bit mode), and for each
 * instruction its Vol. 2 pseudo-code (MOV, POP, LDS/LES/LFS/LGS/LSS, JMP, CALL, RET, LGDT,
 * LLDT, LTR, LAR, LSL, VERR/VERW, SWAPGS, SYSCALL, SYSRET). docs/exceptions.md describes what is
 * implemented and what is not.
 *
 * Not implemented (the guest gets #GP(selector), see each place): call gates, task gates and
 * TSS targets of far JMP/CALL (task switching), far CALL/JMP to a lower privilege level.
 * Segment limits and bases other than FS/GS are not applied to data accesses by the memory path
 * (flat segments assumed, as every 64-bit and Multiboot kernel uses); the limit checks the
 * pseudo-code makes on new instruction pointers are made here.
 *
 * MOV Sreg, PUSH/POP Sreg, far JMP/CALL and RETF share their mnemonic with forms that are not
 * system instructions, so they are not in seg_insns: the decoder asks sys_seg_select() for them.
 */
#include "sys.h"

/* ---- descriptors ------------------------------------------------------------------------- */

/* Fields of an 8-byte segment descriptor (SDM Vol. 3A 3.4.5, Figure 3-8). */
#define D_TYPE(d) ((unsigned)((d) >> 40) & 0xf)
#define D_S(d) (((d) >> 44) & 1)
#define D_DPL(d) ((unsigned)((d) >> 45) & 3)
#define D_P(d) (((d) >> 47) & 1)
#define D_L(d) (((d) >> 53) & 1)
#define D_DB(d) (((d) >> 54) & 1)
#define D_ACCESSED (1ULL << 40)

/* Type bits of code/data descriptors (S = 1; SDM Vol. 3A Table 3-1). */
#define T_CODE 0x8
#define T_CONFORMING 0x4 /* code */
#define T_READABLE 0x2   /* code */
#define T_WRITABLE 0x2   /* data */

static bool d_code(uint64_t d)
{
	return D_S(d) && (D_TYPE(d) & T_CODE);
}

static bool d_data(uint64_t d)
{
	return D_S(d) && !(D_TYPE(d) & T_CODE);
}

static bool d_conforming(uint64_t d)
{
	return d_code(d) && (D_TYPE(d) & T_CONFORMING);
}

static uint32_t d_limit(uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	return (d & (1ULL << 55)) ? (limit << 12) | 0xfff : limit;
}

static uint64_t d_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
}

static __attribute__((noreturn)) void raise_sel(struct vcpu *cpu, int vector, uint16_t sel)
{
	cpu_raise(cpu, vector, sel & 0xfffc, 0);
}

/* Linear address of the descriptor of @sel (@len bytes) in the GDT or LDT, or -1 if it is not
 * inside the table limit (or the LDT is not usable). */
static int desc_addr(struct vcpu *cpu, uint16_t sel, unsigned len, uint64_t *addr)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t base, off = sel & 0xfff8u;
	uint32_t limit;

	if (sel & 4) {
		if (!(s->ldtr.sel & 0xfffc) || !(s->ldtr.attr & SEG_ATTR_P))
			return -1;
		base = s->ldtr.base;
		limit = s->ldtr.limit;
	} else {
		base = s->gdtr.base;
		limit = s->gdtr.limit;
	}
	if (off + len - 1 > limit)
		return -1;
	*addr = sys_long_mode(cpu) ? base + off : (uint32_t)(base + off);
	return 0;
}

int sys_read_descriptor(struct vcpu *cpu, uint16_t sel, uint64_t *desc, uint64_t *desc_hi)
{
	uint64_t addr, d[2];

	if (desc_addr(cpu, sel, desc_hi ? 16 : 8, &addr))
		return -1;
	/* implicit supervisor-mode access, whatever the CPL (SDM Vol. 3A 4.6) */
	sys_lin_read(cpu, addr, d, desc_hi ? 16 : 8, 0);
	*desc = d[0];
	if (desc_hi)
		*desc_hi = d[1];
	return 0;
}

void sys_seg_from_desc(struct seg_cache *s, uint16_t sel, uint64_t desc)
{
	s->sel = sel;
	s->base = d_base(desc);
	s->limit = d_limit(desc);
	s->attr = (uint16_t)(((desc >> 40) & 0xff) | ((desc >> 44) & 0xf00));
}

/*
 * sys_desc_set_accessed - set the accessed bit of the code/data descriptor @desc of @sel in its
 * table, as loading a segment register does (SDM Vol. 3A 3.4.5.1); a no-op if already set.
 * May fault (#PF on the table): call before changing any state. Returns @desc | accessed.
 */
uint64_t sys_desc_set_accessed(struct vcpu *cpu, uint16_t sel, uint64_t desc)
{
	uint64_t addr;
	uint8_t access;

	if (!D_S(desc) || (desc & D_ACCESSED) || desc_addr(cpu, sel, 8, &addr))
		return desc | (D_S(desc) ? D_ACCESSED : 0);
	access = (uint8_t)(desc >> 40) | 1;
	sys_lin_write(cpu, addr + 5, &access, 1, 0);
	return desc | D_ACCESSED;
}

/*
 * sys_load_null_ss - SS = null selector with RPL @rpl, as 64-bit mode allows at CPL < 3 (stack
 * switch of an interrupt in IA-32e mode, SDM Vol. 3A 6.14.4; IRET/RETF to a 64-bit CPL 0-2).
 * The cache is the flat writable segment of DPL @rpl that 64-bit code sees (base and limit are
 * not used in 64-bit mode).
 */
void sys_load_null_ss(struct vcpu *cpu, unsigned rpl)
{
	struct seg_cache *ss = &cpu->sys->seg[SR_SS];
	ss->sel = (uint16_t)rpl;
	ss->base = 0;
	ss->limit = 0xffffffff;
	ss->attr = (uint16_t)(0x3 | SEG_ATTR_S | (rpl << SEG_ATTR_DPL_SHIFT) | SEG_ATTR_P |
			      SEG_ATTR_DB | SEG_ATTR_G);
}

/*
 * sys_invalidate_data_segs - after a return to an outer privilege level (IRET, RETF): ES, DS,
 * FS, GS holding a data or non-conforming code segment with DPL < new CPL become null (SDM Vol. 2
 * IRET / RET pseudo-code). The hidden base is kept: in 64-bit mode FS/GS bases set through the
 * MSRs stay valid (null selectors are skipped, as QEMU does; Intel documents only the selector).
 */
void sys_invalidate_data_segs(struct vcpu *cpu, unsigned cpl)
{
	static const enum seg_reg regs[] = { SR_ES, SR_DS, SR_FS, SR_GS };
	for (unsigned i = 0; i < 4; i++) {
		struct seg_cache *sc = &cpu->sys->seg[regs[i]];
		unsigned dpl = (sc->attr & SEG_ATTR_DPL) >> SEG_ATTR_DPL_SHIFT;
		bool conforming_code = (sc->attr & SEG_ATTR_S) && (sc->attr & T_CODE) &&
				       (sc->attr & T_CONFORMING);
		if (!(sc->sel & 0xfffc) || conforming_code || dpl >= cpl)
			continue;
		sc->sel = 0;
		sc->attr &= (uint16_t)~SEG_ATTR_P;
	}
}

/* A null data-segment register: selector kept (with its RPL), cache unusable (P = 0). */
static void load_null(struct vcpu *cpu, enum seg_reg sr, uint16_t sel)
{
	struct seg_cache *sc = &cpu->sys->seg[sr];
	sc->sel = sel;
	sc->base = 0;
	sc->limit = 0;
	sc->attr = 0;
	/* Intel: a null selector loaded into FS/GS clears the base (AMD keeps it: Linux's
	 * X86_BUG_NULL_SEG); we report GenuineIntel. */
	if (sr == SR_FS)
		cpu->fs_base = 0;
	else if (sr == SR_GS)
		cpu->gs_base = 0;
}

void sys_load_seg(struct vcpu *cpu, enum seg_reg sr, uint16_t sel)
{
	struct vcpu_sys *s = cpu->sys;
	unsigned cpl = s->cpl, rpl = sel & 3, dpl;
	uint64_t desc;

	if (sr == SR_CS || sr >= SR_NR)
		cpu_ud(cpu);
	if (!(sel & 0xfffc)) {
		if (sr != SR_SS) {
			load_null(cpu, sr, sel);
			return;
		}
		/* SDM Vol. 3A 6.15 #GP: null SS only in 64-bit mode at CPL < 3 with RPL = CPL */
		if (!sys_64bit_code(cpu) || cpl == 3 || rpl != cpl)
			cpu_gp0(cpu);
		sys_load_null_ss(cpu, cpl);
		return;
	}
	if (sys_read_descriptor(cpu, sel, &desc, NULL))
		raise_sel(cpu, EXC_GP, sel);
	dpl = D_DPL(desc);
	if (sr == SR_SS) {
		/* SDM Vol. 2 MOV: RPL = CPL, writable data, DPL = CPL; not present: #SS */
		if (rpl != cpl || !d_data(desc) || !(D_TYPE(desc) & T_WRITABLE) || dpl != cpl)
			raise_sel(cpu, EXC_GP, sel);
		if (!D_P(desc))
			raise_sel(cpu, EXC_SS, sel);
	} else {
		/* data or readable code; data and non-conforming code need DPL >= max(CPL, RPL)
		 * (SDM Vol. 3A 5.6); not present: #NP */
		if (!D_S(desc) || (d_code(desc) && !(D_TYPE(desc) & T_READABLE)))
			raise_sel(cpu, EXC_GP, sel);
		if (!d_conforming(desc) && (rpl > dpl || cpl > dpl))
			raise_sel(cpu, EXC_GP, sel);
		if (!D_P(desc))
			raise_sel(cpu, EXC_NP, sel);
	}
	desc = sys_desc_set_accessed(cpu, sel, desc);
	sys_seg_from_desc(&s->seg[sr], sel, desc);
	/* FS/GS: the base every access adds; a descriptor holds 32 bits (SDM Vol. 3A 3.4.4) */
	if (sr == SR_FS)
		cpu->fs_base = d_base(desc);
	else if (sr == SR_GS)
		cpu->gs_base = d_base(desc);
}

/* ---- the stack in any mode ----------------------------------------------------------------- */

/* Stack-pointer width: 8 in 64-bit mode, else SS.B (SDM Vol. 3A 3.4.5 "D/B flag"). */
static unsigned sp_bytes(const struct vcpu *cpu)
{
	if (sys_64bit_code(cpu))
		return 8;
	return (cpu->sys->seg[SR_SS].attr & SEG_ATTR_DB) ? 4 : 2;
}

/* Linear address of stack offset @sp (already wrapped to the stack width). */
static uint64_t stack_lin(struct vcpu *cpu, uint64_t sp)
{
	if (sys_64bit_code(cpu)) {
		if (!is_canonical(sp))
			cpu_raise(cpu, EXC_SS, 0, 0);
		return sp;
	}
	return (uint32_t)(cpu->sys->seg[SR_SS].base + sp);
}

static uint64_t sp_wrap(const struct vcpu *cpu, uint64_t sp)
{
	return sp & size_mask(sp_bytes(cpu));
}

/* Write RSP with the stack width: 32-bit zero-extends, 16-bit keeps the upper bits. */
static void set_sp(struct vcpu *cpu, uint64_t sp)
{
	gpr_set(cpu, R_RSP, sp_bytes(cpu), sp);
}

static uint64_t stack_read(struct vcpu *cpu, uint64_t sp, unsigned size)
{
	return mem_read_sz(cpu, stack_lin(cpu, sp_wrap(cpu, sp)), size);
}

static void stack_write(struct vcpu *cpu, uint64_t sp, uint64_t v, unsigned size)
{
	mem_write_sz(cpu, stack_lin(cpu, sp_wrap(cpu, sp)), v, size);
}

/* ---- MOV / PUSH / POP with a segment register, LDS LES LFS LGS LSS -------------------------- */

/* MOV Sreg, r/m16 and MOV r/m, Sreg (SDM Vol. 2 MOV). */
void sys_mov_sreg(struct vcpu *cpu, const struct insn *in)
{
	if (in->op[0].kind == OPK_SEG) {
		unsigned sr = in->op[0].reg;
		uint16_t sel;
		if (sr == SR_CS || sr >= SR_NR)
			cpu_ud(cpu);
		sel = (uint16_t)op_read(cpu, in, 1);
		sys_load_seg(cpu, sr, sel);
		if (sr == SR_SS)
			sys_set_irq_shadow(cpu); /* SDM Vol. 3A 6.8.3 */
		return;
	}
	if (in->op[1].kind != OPK_SEG || in->op[1].reg >= SR_NR)
		cpu_ud(cpu);
	/* register destination: zero-extended to 32/64 bits (P6 and later); memory: 16 bits */
	op_write(cpu, in, 0, cpu->sys->seg[in->op[1].reg].sel);
}

/*
 * PUSH Sreg (SDM Vol. 2 PUSH): the stack pointer moves by the operand size; with a 32-bit
 * operand size recent Intel processors write only the 16-bit selector, leaving the upper bytes of
 * the slot unmodified (as documented there); a 64-bit push zero-extends.
 */
void sys_push_sreg(struct vcpu *cpu, const struct insn *in)
{
	unsigned sr = in->op[0].reg, size = in->opsize ? in->opsize : sp_bytes(cpu);
	uint64_t sp = cpu->gpr[R_RSP] - size;

	if (in->op[0].kind != OPK_SEG || sr >= SR_NR)
		cpu_ud(cpu);
	stack_write(cpu, sp, cpu->sys->seg[sr].sel, size == 4 ? 2 : size);
	set_sp(cpu, sp);
}

/* POP Sreg: the selector is loaded (with the checks) before the stack pointer moves. */
void sys_pop_sreg(struct vcpu *cpu, const struct insn *in)
{
	unsigned sr = in->op[0].reg, size = in->opsize ? in->opsize : sp_bytes(cpu);
	uint64_t sp = cpu->gpr[R_RSP];
	uint16_t sel;

	if (in->op[0].kind != OPK_SEG || sr == SR_CS || sr >= SR_NR)
		cpu_ud(cpu);
	sel = (uint16_t)stack_read(cpu, sp, 2);
	sys_load_seg(cpu, sr, sel);
	set_sp(cpu, sp + size);
	if (sr == SR_SS)
		sys_set_irq_shadow(cpu);
}

/* LDS/LES/LFS/LGS/LSS r, m16:16/32/64: offset first in memory, then the selector. */
static void load_far_ptr(struct vcpu *cpu, const struct insn *in, enum seg_reg sr)
{
	unsigned osz = in->opsize;
	uint64_t ea, off;
	uint16_t sel;

	if (in->op[1].kind != OPK_MEM || in->op[0].kind != OPK_GPR)
		cpu_ud(cpu);
	ea = op_ea(cpu, in, &in->op[1]);
	off = mem_read_sz(cpu, ea, osz);
	sel = mem_read16(cpu, ea + osz);
	sys_load_seg(cpu, sr, sel);
	gpr_write(cpu, &in->op[0], off);
	if (sr == SR_SS)
		sys_set_irq_shadow(cpu);
}

static void op_lds(struct vcpu *cpu, const struct insn *in)
{
	load_far_ptr(cpu, in, SR_DS);
}
static void op_les(struct vcpu *cpu, const struct insn *in)
{
	load_far_ptr(cpu, in, SR_ES);
}
static void op_lfs(struct vcpu *cpu, const struct insn *in)
{
	load_far_ptr(cpu, in, SR_FS);
}
static void op_lgs(struct vcpu *cpu, const struct insn *in)
{
	load_far_ptr(cpu, in, SR_GS);
}
static void op_lss(struct vcpu *cpu, const struct insn *in)
{
	load_far_ptr(cpu, in, SR_SS);
}

/* ---- descriptor-table registers --------------------------------------------------------------- */

static void umip_check(struct vcpu *cpu)
{
	if (cpu->sys->cpl && (cpu->sys->cr4 & CR4_UMIP))
		cpu_gp0(cpu);
}

/* LGDT/LIDT m16&64 (64-bit mode) or m16&32 (24-bit base with a 16-bit operand size). */
static void load_dtr(struct vcpu *cpu, const struct insn *in, struct desc_table *t)
{
	uint64_t ea, base;
	uint16_t limit;

	if (in->op[0].kind != OPK_MEM)
		cpu_ud(cpu);
	sys_require_cpl0(cpu);
	ea = op_ea(cpu, in, &in->op[0]);
	limit = mem_read16(cpu, ea);
	if (sys_64bit_code(cpu)) {
		base = mem_read64(cpu, ea + 2);
		if (!is_canonical(base))
			cpu_gp0(cpu);
	} else {
		base = mem_read32(cpu, ea + 2);
		if (in->opsize == 2)
			base &= 0xffffff;
	}
	t->base = base;
	t->limit = limit;
}

static void op_lgdt(struct vcpu *cpu, const struct insn *in)
{
	load_dtr(cpu, in, &cpu->sys->gdtr);
}

static void op_lidt(struct vcpu *cpu, const struct insn *in)
{
	load_dtr(cpu, in, &cpu->sys->idtr);
}

/* SGDT/SIDT: limit then the full base (8 bytes in 64-bit mode, 4 otherwise; SDM Vol. 2 SGDT). */
static void store_dtr(struct vcpu *cpu, const struct insn *in, const struct desc_table *t)
{
	uint64_t ea;
	uint8_t buf[10];

	if (in->op[0].kind != OPK_MEM)
		cpu_ud(cpu);
	umip_check(cpu);
	ea = op_ea(cpu, in, &in->op[0]);
	memcpy(buf, &t->limit, 2);
	memcpy(buf + 2, &t->base, 8);
	mem_write(cpu, ea, buf, sys_64bit_code(cpu) ? 10 : 6);
}

static void op_sgdt(struct vcpu *cpu, const struct insn *in)
{
	store_dtr(cpu, in, &cpu->sys->gdtr);
}

static void op_sidt(struct vcpu *cpu, const struct insn *in)
{
	store_dtr(cpu, in, &cpu->sys->idtr);
}

/* SLDT/STR r/m16: a register destination gets the selector zero-extended. */
static void store_sel(struct vcpu *cpu, const struct insn *in, uint16_t sel)
{
	umip_check(cpu);
	op_write(cpu, in, 0, sel);
}

static void op_sldt(struct vcpu *cpu, const struct insn *in)
{
	store_sel(cpu, in, cpu->sys->ldtr.sel);
}

static void op_str(struct vcpu *cpu, const struct insn *in)
{
	store_sel(cpu, in, cpu->sys->tr.sel);
}

/* Base of a system descriptor: 64 bits in IA-32e mode (16-byte form, SDM Vol. 3A 7.2.3). */
static uint64_t sys_desc_base(struct vcpu *cpu, uint16_t sel, uint64_t desc, uint64_t hi)
{
	uint64_t base = d_base(desc);
	if (sys_long_mode(cpu)) {
		base |= hi << 32;
		if (!is_canonical(base))
			raise_sel(cpu, EXC_GP, sel);
	}
	return base;
}

/* LLDT r/m16 (SDM Vol. 2 LLDT): null makes LDTR unusable; else an LDT descriptor in the GDT. */
static void op_lldt(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t desc, hi = 0, base;
	uint16_t sel;

	sys_require_cpl0(cpu);
	sel = (uint16_t)op_read(cpu, in, 0);
	if (!(sel & 0xfffc)) {
		s->ldtr.sel = sel;
		s->ldtr.base = 0;
		s->ldtr.limit = 0;
		s->ldtr.attr = 0;
		return;
	}
	if ((sel & 4) || sys_read_descriptor(cpu, sel, &desc, sys_long_mode(cpu) ? &hi : NULL))
		raise_sel(cpu, EXC_GP, sel);
	if (D_S(desc) || D_TYPE(desc) != 2)
		raise_sel(cpu, EXC_GP, sel);
	if (!D_P(desc))
		raise_sel(cpu, EXC_NP, sel);
	base = sys_desc_base(cpu, sel, desc, hi);
	sys_seg_from_desc(&s->ldtr, sel, desc);
	s->ldtr.base = base;
}

/*
 * LTR r/m16 (SDM Vol. 2 LTR): an available TSS in the GDT (64-bit TSS, type 9, in IA-32e mode;
 * 16- or 32-bit TSS, type 1 or 9, otherwise); the descriptor is marked busy.
 */
static void op_ltr(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t desc, hi = 0, base, addr;
	unsigned type;
	uint16_t sel;
	uint8_t access;

	sys_require_cpl0(cpu);
	sel = (uint16_t)op_read(cpu, in, 0);
	if (!(sel & 0xfffc))
		cpu_gp0(cpu);
	if ((sel & 4) || sys_read_descriptor(cpu, sel, &desc, sys_long_mode(cpu) ? &hi : NULL))
		raise_sel(cpu, EXC_GP, sel);
	type = D_TYPE(desc);
	if (D_S(desc) || !(type == 9 || (type == 1 && !sys_long_mode(cpu))))
		raise_sel(cpu, EXC_GP, sel);
	if (!D_P(desc))
		raise_sel(cpu, EXC_NP, sel);
	base = sys_desc_base(cpu, sel, desc, hi);
	desc |= 2ULL << 40; /* busy */
	access = (uint8_t)(desc >> 40);
	if (desc_addr(cpu, sel, 8, &addr) == 0)
		sys_lin_write(cpu, addr + 5, &access, 1, 0);
	sys_seg_from_desc(&s->tr, sel, desc);
	s->tr.base = base;
}

/* ---- far transfers ---------------------------------------------------------------------------- */

/* Does @desc run in 64-bit mode (IA-32e mode and L = 1)? */
static bool target_64(const struct vcpu *cpu, uint64_t desc)
{
	return sys_long_mode(cpu) && D_L(desc);
}

/* Load CS from @desc with RPL @cpl and switch privilege and decoder mode. */
static void commit_cs(struct vcpu *cpu, uint16_t sel, uint64_t desc, unsigned cpl)
{
	sys_seg_from_desc(&cpu->sys->seg[SR_CS], (uint16_t)((sel & ~3u) | cpl), desc);
	sys_set_cpl(cpu, cpl);
	sys_update_mode(cpu);
}

/* New instruction pointer check: canonical for 64-bit code, else inside the CS limit. */
static void check_ip(struct vcpu *cpu, uint64_t desc, uint64_t ip)
{
	if (target_64(cpu, desc) ? !is_canonical(ip) : ip > d_limit(desc))
		cpu_gp0(cpu);
}

/*
 * The code-segment checks of a far JMP/CALL to @sel (SDM Vol. 2 JMP/CALL, protected and IA-32e
 * mode): conforming code with DPL <= CPL, or non-conforming with RPL <= CPL and DPL = CPL. Call
 * gates, task gates and TSSs are not implemented: #GP(selector).
 */
static uint64_t far_target(struct vcpu *cpu, uint16_t sel, uint64_t ip)
{
	unsigned cpl = cpu->sys->cpl;
	uint64_t desc;

	if (!(sel & 0xfffc))
		cpu_gp0(cpu);
	if (sys_read_descriptor(cpu, sel, &desc, NULL))
		raise_sel(cpu, EXC_GP, sel);
	if (!d_code(desc))
		raise_sel(cpu, EXC_GP, sel); /* also gates and TSSs: not implemented */
	if (sys_long_mode(cpu) && D_L(desc) && D_DB(desc))
		raise_sel(cpu, EXC_GP, sel);
	if (d_conforming(desc) ? D_DPL(desc) > cpl : ((sel & 3) > cpl || D_DPL(desc) != cpl))
		raise_sel(cpu, EXC_GP, sel);
	if (!D_P(desc))
		raise_sel(cpu, EXC_NP, sel);
	check_ip(cpu, desc, ip);
	return desc;
}

/* Far pointer operand: ptr16:16/32 (op[0] offset, op[1] selector) or m16:16/32/64. */
static void far_operand(struct vcpu *cpu, const struct insn *in, uint16_t *sel, uint64_t *ip,
			unsigned *osz)
{
	const struct operand *o = &in->op[0];
	if (o->kind == OPK_IMM && in->nops >= 2 && in->op[1].kind == OPK_IMM) {
		*osz = in->opsize == 2 ? 2 : 4;
		*ip = (uint64_t)o->disp & size_mask(*osz);
		*sel = (uint16_t)in->op[1].disp;
		return;
	}
	if (o->kind != OPK_MEM || o->size < 4)
		cpu_ud(cpu); /* JMP FAR / CALL FAR with a register operand */
	*osz = o->size - 2u;
	uint64_t ea = op_ea(cpu, in, o);
	*ip = mem_read_sz(cpu, ea, *osz);
	*sel = mem_read16(cpu, ea + *osz);
}

void sys_far_jmp(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ip, desc;
	unsigned osz;
	uint16_t sel;

	far_operand(cpu, in, &sel, &ip, &osz);
	desc = far_target(cpu, sel, ip);
	desc = sys_desc_set_accessed(cpu, sel, desc);
	commit_cs(cpu, sel, desc, cpu->sys->cpl);
	cpu->rip = ip;
}

/* Far CALL to the same privilege level: push CS then the return offset, operand-size slots. */
void sys_far_call(struct vcpu *cpu, const struct insn *in)
{
	uint64_t ip, desc, sp;
	unsigned osz;
	uint16_t sel;

	far_operand(cpu, in, &sel, &ip, &osz);
	desc = far_target(cpu, sel, ip);
	sp = cpu->gpr[R_RSP];
	stack_write(cpu, sp - osz, cpu->sys->seg[SR_CS].sel, osz);
	stack_write(cpu, sp - 2 * osz, cpu->rip, osz);
	desc = sys_desc_set_accessed(cpu, sel, desc);
	set_sp(cpu, sp - 2 * osz);
	commit_cs(cpu, sel, desc, cpu->sys->cpl);
	cpu->rip = ip;
}

/*
 * The SS checks of a return to privilege level @rpl into @cs_desc (SDM Vol. 2 IRET/RET
 * "RETURN-TO-OUTER-PRIVILEGE-LEVEL" and "IA-32e-MODE-RETURN"): a null SS only into 64-bit code
 * at CPL < 3 with SS.RPL = RPL, else #GP(0); RPL and DPL = RPL, writable data, else #GP(SS);
 * present, else #SS(SS). Returns the descriptor (0 for null).
 */
uint64_t sys_check_return_ss(struct vcpu *cpu, uint16_t ss, unsigned rpl, uint64_t cs_desc)
{
	uint64_t desc;

	if (!(ss & 0xfffc)) {
		if (!target_64(cpu, cs_desc) || rpl == 3 || (ss & 3) != rpl)
			cpu_gp0(cpu);
		return 0;
	}
	if (sys_read_descriptor(cpu, ss, &desc, NULL))
		raise_sel(cpu, EXC_GP, ss);
	if ((ss & 3) != rpl || !d_data(desc) || !(D_TYPE(desc) & T_WRITABLE) || D_DPL(desc) != rpl)
		raise_sel(cpu, EXC_GP, ss);
	if (!D_P(desc))
		raise_sel(cpu, EXC_SS, ss);
	return desc;
}

/*
 * The CS checks of a far return (RETF, IRET) to @cs (SDM Vol. 2 RET/IRET): null -> #GP(0);
 * a code segment, RPL >= CPL, conforming DPL <= RPL or non-conforming DPL = RPL, L and D not
 * both set in IA-32e mode -> else #GP(CS); present -> else #NP(CS). Returns the descriptor.
 */
uint64_t sys_check_return_cs(struct vcpu *cpu, uint16_t cs)
{
	unsigned rpl = cs & 3;
	uint64_t desc;

	if (!(cs & 0xfffc))
		cpu_gp0(cpu);
	if (sys_read_descriptor(cpu, cs, &desc, NULL))
		raise_sel(cpu, EXC_GP, cs);
	if (!d_code(desc) || rpl < cpu->sys->cpl)
		raise_sel(cpu, EXC_GP, cs);
	if (d_conforming(desc) ? D_DPL(desc) > rpl : D_DPL(desc) != rpl)
		raise_sel(cpu, EXC_GP, cs);
	if (sys_long_mode(cpu) && D_L(desc) && D_DB(desc))
		raise_sel(cpu, EXC_GP, cs);
	if (!D_P(desc))
		raise_sel(cpu, EXC_NP, cs);
	return desc;
}

/* Load SS after a return: @desc from sys_check_return_ss (0 = null SS of RPL @rpl). */
void sys_commit_return_ss(struct vcpu *cpu, uint16_t ss, uint64_t desc, unsigned rpl)
{
	if (!desc)
		sys_load_null_ss(cpu, rpl);
	else
		sys_seg_from_desc(&cpu->sys->seg[SR_SS], ss, desc);
}

/*
 * RETF / RETF imm16 (SDM Vol. 2 RET, far return in protected and IA-32e mode): to the same
 * privilege level, or to an outer one with SS:RSP popped after CS:RIP and imm16 released on both
 * stacks; ES/DS/FS/GS then invalid for the new CPL become null.
 */
void sys_retf(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	unsigned osz = in->opsize ? in->opsize : 4, cpl = s->cpl, rpl;
	uint64_t imm = in->nops ? (uint64_t)in->op[0].disp & 0xffff : 0;
	uint64_t sp = cpu->gpr[R_RSP], ip, cs_desc, ss_desc = 0, new_sp = 0;
	uint16_t cs, ss = 0;

	ip = stack_read(cpu, sp, osz);
	cs = (uint16_t)stack_read(cpu, sp + osz, osz);
	cs_desc = sys_check_return_cs(cpu, cs);
	rpl = cs & 3;
	if (rpl > cpl) {
		new_sp = stack_read(cpu, sp + 2 * osz + imm, osz);
		ss = (uint16_t)stack_read(cpu, sp + 3 * osz + imm, osz);
		ss_desc = sys_check_return_ss(cpu, ss, rpl, cs_desc);
	}
	check_ip(cpu, cs_desc, ip);
	cs_desc = sys_desc_set_accessed(cpu, cs, cs_desc);
	if (ss_desc)
		ss_desc = sys_desc_set_accessed(cpu, ss, ss_desc);
	if (rpl == cpl) {
		set_sp(cpu, sp + 2 * osz + imm);
		commit_cs(cpu, cs, cs_desc, cpl);
	} else {
		commit_cs(cpu, cs, cs_desc, rpl);
		sys_commit_return_ss(cpu, ss, ss_desc, rpl);
		set_sp(cpu, new_sp + imm);
		sys_invalidate_data_segs(cpu, rpl);
	}
	cpu->rip = ip;
}

/*
 * Far forms of instructions whose mnemonic also has near/ordinary forms: the system-mode decoder
 * asks here before its mnemonic tables. NULL if @in is not one of them.
 */
insn_fn sys_seg_select(const struct insn *in)
{
	unsigned modrm_reg = (in->modrm >> 3) & 7;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		if (in->op[0].kind == OPK_SEG || in->op[1].kind == OPK_SEG)
			return sys_mov_sreg;
		break;
	case ZYDIS_MNEMONIC_PUSH:
		if (in->op[0].kind == OPK_SEG)
			return sys_push_sreg;
		break;
	case ZYDIS_MNEMONIC_POP:
		if (in->op[0].kind == OPK_SEG)
			return sys_pop_sreg;
		break;
	case ZYDIS_MNEMONIC_JMP:
		/* EA ptr16:16/32, FF /5 m16:xx */
		if (in->opcode == 0xea || (in->opcode == 0xff && modrm_reg == 5))
			return sys_far_jmp;
		break;
	case ZYDIS_MNEMONIC_CALL:
		/* 9A ptr16:16/32, FF /3 m16:xx */
		if (in->opcode == 0x9a || (in->opcode == 0xff && modrm_reg == 3))
			return sys_far_call;
		break;
	case ZYDIS_MNEMONIC_RET:
		if (in->opcode == 0xca || in->opcode == 0xcb)
			return sys_retf;
		break;
	default:
		break;
	}
	return NULL;
}

/* ---- LAR, LSL, VERR, VERW ---------------------------------------------------------------------- */

/*
 * The descriptor LAR/LSL may report (SDM Vol. 2 LAR/LSL tables of valid system types), with the
 * privilege check DPL >= CPL and DPL >= RPL for all but conforming code. The P bit is not looked
 * at. Descriptor reads are implicit supervisor accesses, so this works at CPL 3 (Linux's vDSO
 * reads the CPU number with LSL).
 */
static bool lar_lsl_desc(struct vcpu *cpu, uint16_t sel, bool lsl, uint64_t *desc)
{
	unsigned cpl = cpu->sys->cpl, type;

	if (!(sel & 0xfffc) || sys_read_descriptor(cpu, sel, desc, NULL))
		return false;
	type = D_TYPE(*desc);
	if (!D_S(*desc)) {
		bool ok;
		if (sys_long_mode(cpu))
			ok = type == 2 || type == 9 || type == 0xb || (!lsl && type == 0xc);
		else
			ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb ||
			     (!lsl && (type == 4 || type == 5 || type == 0xc));
		if (!ok)
			return false;
	} else if (d_conforming(*desc)) {
		return true;
	}
	return D_DPL(*desc) >= cpl && D_DPL(*desc) >= (sel & 3u);
}

static void op_lar(struct vcpu *cpu, const struct insn *in)
{
	uint16_t sel = (uint16_t)op_read(cpu, in, 1);
	uint64_t desc;

	if (!lar_lsl_desc(cpu, sel, false, &desc)) {
		cpu->rflags &= ~(uint64_t)FLAG_ZF;
		return;
	}
	/* access rights: bits 23:8 of the second dword, masked with 00FxFF00H (x: 0 here, as
	 * QEMU), or FF00H for a 16-bit operand */
	gpr_write(cpu, &in->op[0], (desc >> 32) & (in->op[0].size == 2 ? 0xff00 : 0x00f0ff00));
	cpu->rflags |= FLAG_ZF;
}

static void op_lsl(struct vcpu *cpu, const struct insn *in)
{
	uint16_t sel = (uint16_t)op_read(cpu, in, 1);
	uint64_t desc;

	if (!lar_lsl_desc(cpu, sel, true, &desc)) {
		cpu->rflags &= ~(uint64_t)FLAG_ZF;
		return;
	}
	gpr_write(cpu, &in->op[0], d_limit(desc)); /* byte-granular limit, G applied */
	cpu->rflags |= FLAG_ZF;
}

/* VERR/VERW (SDM Vol. 2 VERR/VERW): readable / writable at CPL and RPL; ZF reports it. */
static void verify(struct vcpu *cpu, const struct insn *in, bool write)
{
	uint16_t sel = (uint16_t)op_read(cpu, in, 0);
	unsigned cpl = cpu->sys->cpl, rpl = sel & 3;
	uint64_t desc;
	bool ok = false;

	if ((sel & 0xfffc) && !sys_read_descriptor(cpu, sel, &desc, NULL) && D_S(desc)) {
		bool priv = D_DPL(desc) >= cpl && D_DPL(desc) >= rpl;
		if (write)
			ok = d_data(desc) && (D_TYPE(desc) & T_WRITABLE) && priv;
		else if (d_code(desc))
			ok = (D_TYPE(desc) & T_READABLE) && (d_conforming(desc) || priv);
		else
			ok = priv;
	}
	if (ok)
		cpu->rflags |= FLAG_ZF;
	else
		cpu->rflags &= ~(uint64_t)FLAG_ZF;
}

static void op_verr(struct vcpu *cpu, const struct insn *in)
{
	verify(cpu, in, false);
}

static void op_verw(struct vcpu *cpu, const struct insn *in)
{
	verify(cpu, in, true);
}

/* ---- SWAPGS, SYSCALL, SYSRET ---------------------------------------------------------------- */

/* SWAPGS (SDM Vol. 2): 64-bit mode only (#UD), CPL 0 (#GP(0)); GS.base <-> IA32_KERNEL_GS_BASE. */
static void op_swapgs(struct vcpu *cpu, const struct insn *in)
{
	(void)in;
	uint64_t t;
	if (!sys_64bit_code(cpu))
		cpu_ud(cpu);
	sys_require_cpl0(cpu);
	t = cpu->gs_base;
	cpu->gs_base = cpu->sys->kernel_gs_base;
	cpu->sys->kernel_gs_base = t;
}

/* Fixed descriptor caches of SYSCALL/SYSRET (SDM Vol. 2 SYSCALL/SYSRET pseudo-code). */
#define ATTR_CODE64_DPL0 (0xb | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_L | SEG_ATTR_G)
#define ATTR_DATA_DPL0 (0x3 | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_DPL3 (3u << SEG_ATTR_DPL_SHIFT)

static void flat(struct seg_cache *sc, uint16_t sel, uint16_t attr)
{
	sc->sel = sel;
	sc->base = 0;
	sc->limit = 0xffffffff;
	sc->attr = attr;
}

/*
 * SYSCALL (SDM Vol. 2 SYSCALL): #UD unless 64-bit mode and EFER.SCE (this vCPU is GenuineIntel:
 * SYSCALL from compatibility mode is #UD on Intel, so CSTAR is never used). RCX = next RIP,
 * R11 = RFLAGS, RFLAGS &= ~(SFMASK | RF), CS/SS fixed flat segments from STAR[47:32], CPL 0.
 */
static void op_syscall(struct vcpu *cpu, const struct insn *in)
{
	(void)in;
	struct vcpu_sys *s = cpu->sys;
	uint16_t sel = (uint16_t)(s->star >> 32);

	if (!sys_64bit_code(cpu) || !(s->efer & EFER_SCE))
		cpu_ud(cpu);
	cpu->gpr[R_RCX] = cpu->rip;
	cpu->gpr[R_R11] = vcpu_get_rflags(cpu) & ~(uint64_t)FLAG_RF;
	cpu->rflags = (vcpu_get_rflags(cpu) & ~(s->sfmask | FLAG_RF)) | 2;
	flat(&s->seg[SR_CS], sel & 0xfffc, ATTR_CODE64_DPL0);
	flat(&s->seg[SR_SS], (uint16_t)(sel + 8), ATTR_DATA_DPL0);
	cpu->rip = s->lstar;
	sys_set_cpl(cpu, 0);
	sys_update_mode(cpu);
}

/*
 * SYSRET (SDM Vol. 2 SYSRET): #UD unless 64-bit mode and EFER.SCE; #GP(0) unless CPL 0, or
 * (REX.W form) if RCX is not canonical (raised at CPL 0, as Intel does). CS = STAR[63:48] + 16
 * (64-bit) or STAR[63:48] (32-bit), SS = STAR[63:48] + 8, RPL 3; RFLAGS = R11 & 3C7FD7H | 2.
 */
static void op_sysret(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	uint16_t base = (uint16_t)(s->star >> 48);
	bool to64 = in->opsize == 8;

	if (!sys_64bit_code(cpu) || !(s->efer & EFER_SCE))
		cpu_ud(cpu);
	sys_require_cpl0(cpu);
	if (to64 && !is_canonical(cpu->gpr[R_RCX]))
		cpu_gp0(cpu);
	cpu->rip = to64 ? cpu->gpr[R_RCX] : (uint32_t)cpu->gpr[R_RCX];
	cpu->rflags = (cpu->gpr[R_R11] & 0x3c7fd7) | 2;
	if (to64)
		flat(&s->seg[SR_CS], (uint16_t)((base + 16) | 3), ATTR_CODE64_DPL0 | ATTR_DPL3);
	else
		flat(&s->seg[SR_CS], (uint16_t)(base | 3),
		     (0xb | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G) | ATTR_DPL3);
	flat(&s->seg[SR_SS], (uint16_t)((base + 8) | 3), ATTR_DATA_DPL0 | ATTR_DPL3);
	sys_set_cpl(cpu, 3);
	sys_update_mode(cpu);
}

/* SYSENTER/SYSEXIT: not advertised by CPUID (SEP clear), #UD. */
static void op_ud(struct vcpu *cpu, const struct insn *in)
{
	(void)in;
	cpu_ud(cpu);
}

const struct insn_entry seg_insns[] = {
	{ ZYDIS_MNEMONIC_LDS, op_lds },
	{ ZYDIS_MNEMONIC_LES, op_les },
	{ ZYDIS_MNEMONIC_LFS, op_lfs },
	{ ZYDIS_MNEMONIC_LGS, op_lgs },
	{ ZYDIS_MNEMONIC_LSS, op_lss },
	{ ZYDIS_MNEMONIC_LGDT, op_lgdt },
	{ ZYDIS_MNEMONIC_LIDT, op_lidt },
	{ ZYDIS_MNEMONIC_SGDT, op_sgdt },
	{ ZYDIS_MNEMONIC_SIDT, op_sidt },
	{ ZYDIS_MNEMONIC_LLDT, op_lldt },
	{ ZYDIS_MNEMONIC_SLDT, op_sldt },
	{ ZYDIS_MNEMONIC_LTR, op_ltr },
	{ ZYDIS_MNEMONIC_STR, op_str },
	{ ZYDIS_MNEMONIC_LAR, op_lar },
	{ ZYDIS_MNEMONIC_LSL, op_lsl },
	{ ZYDIS_MNEMONIC_VERR, op_verr },
	{ ZYDIS_MNEMONIC_VERW, op_verw },
	{ ZYDIS_MNEMONIC_SWAPGS, op_swapgs },
	{ ZYDIS_MNEMONIC_SYSCALL, op_syscall },
	{ ZYDIS_MNEMONIC_SYSRET, op_sysret },
	{ ZYDIS_MNEMONIC_SYSENTER, op_ud },
	{ ZYDIS_MNEMONIC_SYSEXIT, op_ud },
	{ 0, NULL },
};
