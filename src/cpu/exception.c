/* SPDX-License-Identifier: MIT */
/*
 * Event delivery in system mode: exceptions, external interrupts, NMI and software interrupts
 * through the IDT, the double-fault and triple-fault rules, and IRET.
 *
 * References: Intel SDM Vol. 3A ch. 6 (6.12 exception and interrupt handling, 6.13 error code,
 * 6.14 64-bit mode, 6.15 per-vector reference with Tables 6-4/6-5 for #DF), 17.3.1.1 (RF in the
 * pushed RFLAGS), and Vol. 2 INT n/INTO/INT3/INT1 and IRET/IRETD/IRETQ pseudo-code.
 * docs/exceptions.md describes the design.
 *
 * Implemented: IA-32e mode (16-byte gates, RSPn/IST stack switch) and legacy protected mode
 * (8-byte 16/32-bit interrupt and trap gates, SS:ESP from a 16/32-bit TSS). Not implemented:
 * task gates and task switches (IRET with NT = 1 outside IA-32e mode), virtual-8086 mode (IRET
 * to VM = 1), real mode: the guest gets #GP as described at each place.
 */
#include "omnivisor/log.h"
#include "sys.h"

/* seg.c: checks and state changes shared by IRET and RETF (requested for sys.h) */
uint64_t sys_desc_set_accessed(struct vcpu *cpu, uint16_t sel, uint64_t desc);
void sys_load_null_ss(struct vcpu *cpu, unsigned rpl);
void sys_invalidate_data_segs(struct vcpu *cpu, unsigned cpl);
uint64_t sys_check_return_cs(struct vcpu *cpu, uint16_t cs);
uint64_t sys_check_return_ss(struct vcpu *cpu, uint16_t ss, unsigned rpl, uint64_t cs_desc);
void sys_commit_return_ss(struct vcpu *cpu, uint16_t ss, uint64_t desc, unsigned rpl);

/* Exception classes for the double-fault rules (SDM Vol. 3A Table 6-4). */
enum { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT, CLASS_DOUBLE_FAULT };

static int exc_class(unsigned vector)
{
	switch (vector) {
	case EXC_DE: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP:
		return CLASS_CONTRIBUTORY;
	case EXC_PF:
		return CLASS_PAGE_FAULT;
	case EXC_DF:
		return CLASS_DOUBLE_FAULT;
	default:
		return CLASS_BENIGN;
	}
}

/* Vectors that push an error code (SDM Vol. 3A Table 6-1): #DF, #TS, #NP, #SS, #GP, #PF, #AC. */
static bool pushes_error(unsigned vector)
{
	return vector == EXC_DF || (vector >= EXC_TS && vector <= EXC_PF) || vector == EXC_AC;
}

/* Fault-class exceptions push RF = 1 (SDM Vol. 3A 17.3.1.1); traps (#BP, #OF) and aborts (#DF,
 * #MC) push RF as it is. #DB raised by an instruction here is a fault (DR7.GD); INT1 is not an
 * exception of this kind (EV_PRIVSOFT). */
static bool is_fault(unsigned vector)
{
	return vector != 2 && vector != EXC_BP && vector != EXC_OF && vector != EXC_DF &&
	       vector != EXC_MC;
}

#define D_TYPE(d) ((unsigned)((d) >> 40) & 0xf)
#define D_S(d) (((d) >> 44) & 1)
#define D_DPL(d) ((unsigned)((d) >> 45) & 3)
#define D_P(d) (((d) >> 47) & 1)
#define D_L(d) (((d) >> 53) & 1)
#define D_DB(d) (((d) >> 54) & 1)

static uint32_t d_limit(uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	return (d & (1ULL << 55)) ? (limit << 12) | 0xfff : limit;
}

/* The RFLAGS image an event pushes (see is_fault; software interrupts clear RF first). */
static uint64_t pushed_rflags(struct vcpu *cpu, unsigned vector, enum event_kind kind)
{
	uint64_t fl = vcpu_get_rflags(cpu);
	if (kind == EV_SOFTINT || kind == EV_SOFTEXC || kind == EV_PRIVSOFT)
		fl &= ~(uint64_t)FLAG_RF;
	else if (kind == EV_EXCEPTION && is_fault(vector))
		fl |= FLAG_RF;
	return fl;
}

/*
 * The handler's code segment from an interrupt or trap gate (SDM Vol. 2 INT n,
 * "TRAP-OR-INTERRUPT-GATE"): null -> #GP(EXT); outside the table, not code or DPL > CPL ->
 * #GP(sel + EXT); not present -> #NP(sel + EXT); in IA-32e mode not a 64-bit segment (L = 1,
 * D = 0) -> #GP(sel + EXT). Sets *new_cpl: the DPL for non-conforming code, else CPL.
 */
static uint64_t gate_code_segment(struct vcpu *cpu, uint16_t sel, uint32_t ext, unsigned *new_cpl)
{
	unsigned cpl = cpu->sys->cpl;
	uint64_t desc;
	uint32_t err = (sel & 0xfffcu) | ext;

	if (!(sel & 0xfffc))
		cpu_raise(cpu, EXC_GP, ext, 0);
	if (sys_read_descriptor(cpu, sel, &desc, NULL))
		cpu_raise(cpu, EXC_GP, err, 0);
	if (!D_S(desc) || !(D_TYPE(desc) & 8) || D_DPL(desc) > cpl)
		cpu_raise(cpu, EXC_GP, err, 0);
	if (!D_P(desc))
		cpu_raise(cpu, EXC_NP, err, 0);
	if (sys_long_mode(cpu) && (!D_L(desc) || D_DB(desc)))
		cpu_raise(cpu, EXC_GP, err, 0);
	*new_cpl = (D_TYPE(desc) & 4) ? cpl : D_DPL(desc); /* conforming: CPL unchanged */
	return desc;
}

/* Clear what entering a handler clears (SDM Vol. 2 INT n: TF, VM, RF, NT; IF for interrupt gates). */
static void handler_rflags(struct vcpu *cpu, bool interrupt_gate)
{
	cpu->rflags &= ~(uint64_t)(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
	if (interrupt_gate)
		cpu->rflags &= ~(uint64_t)FLAG_IF;
}

/* Read the 64-bit TSS field at @off (RSPn, ISTn; SDM Vol. 3A Figure 8-11): #TS(TR + EXT) if it
 * lies beyond the TSS limit. */
static uint64_t tss_read(struct vcpu *cpu, unsigned off, unsigned len, uint32_t ext)
{
	const struct seg_cache *tr = &cpu->sys->tr;
	uint64_t v = 0;
	if ((uint64_t)off + len - 1 > tr->limit)
		cpu_raise(cpu, EXC_TS, (tr->sel & 0xfffcu) | ext, 0);
	sys_lin_read(cpu, tr->base + off, &v, len, 0);
	return v;
}

/* IA-32e mode: 16-byte gates, 64-bit frames (SDM Vol. 3A 6.14). */
static void deliver64(struct vcpu *cpu, unsigned vector, enum event_kind kind, bool has_error,
		      uint32_t error)
{
	struct vcpu_sys *s = cpu->sys;
	bool soft = kind == EV_SOFTINT || kind == EV_SOFTEXC;
	uint32_t ext = soft ? 0 : 1, idt_err = vector * 8 + 2 + ext;
	unsigned cpl = s->cpl, new_cpl, type, ist, n = has_error ? 6 : 5;
	uint64_t gate[2], desc, offset, rsp, frame[6];
	uint16_t sel;

	if (vector * 16 + 15 > s->idtr.limit)
		cpu_raise(cpu, EXC_GP, idt_err, 0);
	sys_lin_read(cpu, s->idtr.base + vector * 16, gate, 16, 0);
	type = (unsigned)(gate[0] >> 40) & 0x1f; /* S = 0 and type 0xE / 0xF */
	if (type != 0xe && type != 0xf)
		cpu_raise(cpu, EXC_GP, idt_err, 0);
	if (soft && D_DPL(gate[0]) < cpl)
		cpu_raise(cpu, EXC_GP, vector * 8 + 2, 0);
	if (!D_P(gate[0]))
		cpu_raise(cpu, EXC_NP, idt_err, 0);
	sel = (uint16_t)(gate[0] >> 16);
	ist = (unsigned)(gate[0] >> 32) & 7;
	offset = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000) | (gate[1] << 32);
	desc = gate_code_segment(cpu, sel, ext, &new_cpl);

	/* stack: IST always, RSPn of the new CPL on a privilege change (SDM Vol. 3A 6.14.4-5) */
	if (ist)
		rsp = tss_read(cpu, 0x1c + 8 * ist, 8, ext);
	else if (new_cpl != cpl)
		rsp = tss_read(cpu, 4 + 8 * new_cpl, 8, ext);
	else
		rsp = cpu->gpr[R_RSP];
	rsp &= ~15ULL; /* 6.14.2: aligned to 16 bytes */
	if (!is_canonical(rsp) || !is_canonical(rsp - 8 * n))
		cpu_raise(cpu, EXC_SS, ext, 0);
	if (!is_canonical(offset))
		cpu_raise(cpu, EXC_GP, ext, 0);

	/* frame, lowest address first: [error code,] RIP, CS, RFLAGS, RSP, SS */
	{
		uint64_t *f = frame;
		if (has_error)
			*f++ = error;
		*f++ = cpu->rip;
		*f++ = s->seg[SR_CS].sel;
		*f++ = pushed_rflags(cpu, vector, kind);
		*f++ = cpu->gpr[R_RSP];
		*f++ = s->seg[SR_SS].sel;
	}
	desc = sys_desc_set_accessed(cpu, sel, desc);
	{
		/* highest slots first, as the processor pushes; 16 bytes at most per access */
		unsigned acc = new_cpl == 3 ? MMU_ACC_USER : 0, left = n * 8;
		while (left) {
			unsigned len = left >= 16 ? 16 : left;
			left -= len;
			sys_lin_write(cpu, rsp - 8 * n + left, (uint8_t *)frame + left, len, acc);
		}
	}

	/* commit */
	if (new_cpl != cpl)
		sys_load_null_ss(cpu, new_cpl);
	sys_seg_from_desc(&s->seg[SR_CS], (uint16_t)((sel & ~3u) | new_cpl), desc);
	cpu->gpr[R_RSP] = rsp - 8 * n;
	cpu->rip = offset;
	handler_rflags(cpu, type == 0xe);
	sys_set_cpl(cpu, new_cpl);
	sys_update_mode(cpu);
}

/*
 * Legacy protected mode: 8-byte gates (16-bit 6/7, 32-bit E/F), SS:ESP of an inner level from a
 * 32-bit (or 16-bit) TSS with the #TS/#SS checks of INT n "INTER-PRIVILEGE-LEVEL-INTERRUPT".
 * Task gates (type 5) are not implemented: #GP(vector * 8 + 2 + EXT). Segment limits of the
 * stack are not checked.
 */
static void deliver32(struct vcpu *cpu, unsigned vector, enum event_kind kind, bool has_error,
		      uint32_t error)
{
	struct vcpu_sys *s = cpu->sys;
	bool soft = kind == EV_SOFTINT || kind == EV_SOFTEXC;
	uint32_t ext = soft ? 0 : 1, idt_err = vector * 8 + 2 + ext;
	unsigned cpl = s->cpl, new_cpl, type, psize, n = 0;
	uint64_t gate, desc, offset, ss_desc = 0, sp, sp_mask, ss_base;
	uint32_t frame[6];
	uint16_t sel, ss = 0;

	if (vector * 8 + 7 > s->idtr.limit)
		cpu_raise(cpu, EXC_GP, idt_err, 0);
	sys_lin_read(cpu, (uint32_t)(s->idtr.base + vector * 8), &gate, 8, 0);
	type = (unsigned)(gate >> 40) & 0x1f;
	if (type != 0x6 && type != 0x7 && type != 0xe && type != 0xf && type != 0x5)
		cpu_raise(cpu, EXC_GP, idt_err, 0);
	if (soft && D_DPL(gate) < cpl)
		cpu_raise(cpu, EXC_GP, vector * 8 + 2, 0);
	if (!D_P(gate))
		cpu_raise(cpu, EXC_NP, idt_err, 0);
	if (type == 0x5) {
		pr_warn("vcpu: task gate for vector %u: task switches are not implemented", vector);
		cpu_raise(cpu, EXC_GP, idt_err, 0);
	}
	psize = (type & 8) ? 4 : 2;
	sel = (uint16_t)(gate >> 16);
	offset = (gate & 0xffff) | ((gate >> 32) & 0xffff0000);
	if (psize == 2)
		offset &= 0xffff;
	desc = gate_code_segment(cpu, sel, ext, &new_cpl);

	if (new_cpl != cpl) {
		/* 32-bit TSS (type 9/B): ESPn at 4 + 8n, SSn at 8 + 8n; 16-bit TSS: 2 + 4n, 4 + 4n */
		bool tss32 = (s->tr.attr & 8) != 0;
		unsigned off = tss32 ? 4 + 8 * new_cpl : 2 + 4 * new_cpl;
		sp = tss_read(cpu, off, tss32 ? 4 : 2, ext);
		ss = (uint16_t)tss_read(cpu, off + (tss32 ? 4 : 2), 2, ext);
		if (!(ss & 0xfffc))
			cpu_raise(cpu, EXC_TS, ext, 0);
		if (sys_read_descriptor(cpu, ss, &ss_desc, NULL) || (ss & 3u) != new_cpl ||
		    D_DPL(ss_desc) != new_cpl || !D_S(ss_desc) || (D_TYPE(ss_desc) & 0xa) != 0x2)
			cpu_raise(cpu, EXC_TS, (ss & 0xfffcu) | ext, 0);
		if (!D_P(ss_desc))
			cpu_raise(cpu, EXC_SS, (ss & 0xfffcu) | ext, 0);
		sp_mask = D_DB(ss_desc) ? 0xffffffff : 0xffff;
		ss_base = ((ss_desc >> 16) & 0xffffff) | ((ss_desc >> 32) & 0xff000000);
	} else {
		sp = cpu->gpr[R_RSP];
		sp_mask = (s->seg[SR_SS].attr & SEG_ATTR_DB) ? 0xffffffff : 0xffff;
		ss_base = s->seg[SR_SS].base;
	}
	if (offset > d_limit(desc))
		cpu_raise(cpu, EXC_GP, 0, 0);

	/* frame, highest slot first: [SS, ESP,] EFLAGS, CS, EIP, [error code] */
	if (new_cpl != cpl) {
		frame[n++] = s->seg[SR_SS].sel;
		frame[n++] = (uint32_t)cpu->gpr[R_RSP];
	}
	frame[n++] = (uint32_t)pushed_rflags(cpu, vector, kind);
	frame[n++] = s->seg[SR_CS].sel;
	frame[n++] = (uint32_t)cpu->rip;
	if (has_error)
		frame[n++] = error;
	desc = sys_desc_set_accessed(cpu, sel, desc);
	if (ss_desc)
		ss_desc = sys_desc_set_accessed(cpu, ss, ss_desc);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = (uint32_t)(ss_base + ((sp - (i + 1) * psize) & sp_mask));
		sys_lin_write(cpu, a, &frame[i], psize, new_cpl == 3 ? MMU_ACC_USER : 0);
	}

	/* commit */
	if (new_cpl != cpl)
		sys_seg_from_desc(&s->seg[SR_SS], ss, ss_desc);
	sys_seg_from_desc(&s->seg[SR_CS], (uint16_t)((sel & ~3u) | new_cpl), desc);
	sp = (sp - n * psize) & sp_mask;
	if (sp_mask == 0xffff)
		cpu->gpr[R_RSP] = (cpu->gpr[R_RSP] & ~0xffffULL) | sp;
	else
		cpu->gpr[R_RSP] = sp;
	cpu->rip = offset;
	handler_rflags(cpu, !(type & 1));
	sys_set_cpl(cpu, new_cpl);
	sys_update_mode(cpu);
}

void sys_deliver(struct vcpu *cpu, unsigned vector, enum event_kind kind, bool has_error,
		 uint32_t error)
{
	struct vcpu_sys *s = cpu->sys;

	vector &= 0xff;
	s->delivering = (int)vector;
	s->delivering_class = kind == EV_EXCEPTION ? exc_class(vector) : CLASS_BENIGN;
	if (!(s->cr0 & CR0_PE)) {
		/* real mode is never entered (vcpu_sys.h); nothing to deliver through */
		pr_err("vcpu: event %u in real mode: not implemented", vector);
		cpu_raise(cpu, EXC_GP, 0, 0);
	}
	if (sys_long_mode(cpu))
		deliver64(cpu, vector, kind, has_error, error);
	else
		deliver32(cpu, vector, kind, has_error, error);
	if (kind == EV_NMI)
		s->nmi_blocked = true; /* until the next IRET (SDM Vol. 3A 6.7.1) */
	s->halted = false;
	s->delivering = -1;
}

int sys_exception_unwound(struct vcpu *cpu)
{
	struct vcpu_sys *s = cpu->sys;
	int vector = cpu->exc_vector;
	uint32_t error = cpu->exc_error;
	enum event_kind kind = EV_EXCEPTION;

	cpu->cur = NULL; /* a fault delivering this one is not the instruction's */
	s->nr_exceptions++;
	if (vector < 0 || vector > 31) {
		/* EXC_HOST_SIGBUS is a user-mode artefact: a VMM bug if it gets here */
		pr_err("vcpu: exception %d has no vector: shutdown", vector);
		s->delivering = -1;
		return VCPU_EXIT_SHUTDOWN;
	}
	if (vector == EXC_PF)
		s->cr2 = cpu->exc_addr; /* loaded when the #PF is generated, even if it becomes #DF */
	if (s->delivering >= 0) {
		/* SDM Vol. 3A Table 6-5 */
		int first = s->delivering_class, second = exc_class((unsigned)vector);
		if (first == CLASS_DOUBLE_FAULT) {
			s->delivering = -1;
			return VCPU_EXIT_SHUTDOWN; /* triple fault: registers left as they are */
		}
		if ((first == CLASS_CONTRIBUTORY && second == CLASS_CONTRIBUTORY) ||
		    (first == CLASS_PAGE_FAULT &&
		     (second == CLASS_CONTRIBUTORY || second == CLASS_PAGE_FAULT))) {
			vector = EXC_DF;
			error = 0;
		}
	}
	if (vector == EXC_BP || vector == EXC_OF)
		kind = EV_SOFTEXC; /* traps from INT3 / INTO: the gate DPL is checked */
	sys_deliver(cpu, (unsigned)vector, kind, pushes_error((unsigned)vector), error);
	return 0;
}

/* ---- software interrupts --------------------------------------------------------------------- */

/* INT n (SDM Vol. 2 INT n): through the gate with the DPL check; RIP is past the instruction. */
static void op_int(struct vcpu *cpu, const struct insn *in)
{
	sys_deliver(cpu, (unsigned)in->op[0].disp & 0xff, EV_SOFTINT, false, 0);
}

/* INT3 (CC): #BP as a trap with the gate DPL check. */
static void op_int3(struct vcpu *cpu, const struct insn *in)
{
	(void)in;
	sys_deliver(cpu, EXC_BP, EV_SOFTEXC, false, 0);
}

/* INTO: #UD in 64-bit mode; else #OF (trap, DPL check) if OF = 1. */
static void op_into(struct vcpu *cpu, const struct insn *in)
{
	(void)in;
	if (sys_64bit_code(cpu))
		cpu_ud(cpu);
	if (cpu->rflags & FLAG_OF)
		sys_deliver(cpu, EXC_OF, EV_SOFTEXC, false, 0);
}

/* INT1 / ICEBP (F1): #DB as a privileged software exception: no DPL check, EXT = 1 in error
 * codes of faults while delivering it (SDM Vol. 3A 6.13). */
static void op_int1(struct vcpu *cpu, const struct insn *in)
{
	(void)in;
	sys_deliver(cpu, EXC_DB, EV_PRIVSOFT, false, 0);
}

/* ---- IRET ---------------------------------------------------------------------------------- */

/* A 64-bit stack address: #SS(0) if not canonical (SDM Vol. 3A 6.15 "Interrupt 12"). */
static uint64_t stack_addr64(struct vcpu *cpu, uint64_t a)
{
	if (!is_canonical(a))
		cpu_raise(cpu, EXC_SS, 0, 0);
	return a;
}

/* RFLAGS bits IRET loads (SDM Vol. 2 IRET), decided with the CPL before the return. */
static uint64_t iret_flags_mask(unsigned osz, unsigned cpl, uint64_t rflags)
{
	uint64_t mask = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF |
			FLAG_OF | FLAG_NT;
	unsigned iopl = (unsigned)(rflags & FLAG_IOPL) >> 12;

	if (osz >= 4)
		mask |= FLAG_RF | FLAG_AC | FLAG_ID;
	if (cpl <= iopl)
		mask |= FLAG_IF;
	if (cpl == 0) {
		mask |= FLAG_IOPL;
		if (osz >= 4)
			mask |= FLAG_VIF | FLAG_VIP;
	}
	return osz == 2 ? mask & 0xffff : mask;
}

/*
 * IRET/IRETD/IRETQ in protected and IA-32e mode (SDM Vol. 2 IRET "PROTECTED-MODE-RETURN",
 * "IA-32e-MODE-RETURN"). In 64-bit mode SS:RSP are always popped (slots of the operand size:
 * IRETQ 8, IRETD 4); elsewhere only for a return to an outer level. Unblocks NMIs.
 */
static void op_iret(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	unsigned osz = in->opsize ? in->opsize : 4, cpl = s->cpl, rpl;
	bool in64 = sys_64bit_code(cpu), pop_ss;
	uint64_t sp = cpu->gpr[R_RSP], sp_mask, ip, fl, new_sp = 0, cs_desc, ss_desc = 0, mask;
	uint16_t cs, ss = 0;

	if (cpu->rflags & FLAG_NT) {
		/* IA-32e mode: #GP(0); legacy mode: a task return, not implemented (#GP(0)) */
		if (!sys_long_mode(cpu))
			pr_warn("vcpu: IRET with NT = 1 (task return) is not implemented: #GP");
		cpu_gp0(cpu);
	}
	sp_mask = in64 ? ~0ULL : (s->seg[SR_SS].attr & SEG_ATTR_DB) ? 0xffffffff : 0xffff;
#define POP(i) mem_read_sz(cpu, in64 ? stack_addr64(cpu, sp + (i) * osz)                     \
				      : (uint32_t)(s->seg[SR_SS].base + ((sp + (i) * osz) & sp_mask)), \
			   osz)
	ip = POP(0);
	cs = (uint16_t)POP(1);
	fl = POP(2);
	if (!sys_long_mode(cpu) && (fl & FLAG_VM) && cpl == 0 && osz == 4) {
		pr_warn("vcpu: IRET to virtual-8086 mode is not implemented: #GP");
		cpu_gp0(cpu);
	}
	if (!(cs & 0xfffc) || (sys_long_mode(cpu) && !is_canonical(ip)))
		cpu_gp0(cpu);
	cs_desc = sys_check_return_cs(cpu, cs);
	rpl = cs & 3;
	pop_ss = in64 || rpl > cpl;
	if (pop_ss) {
		new_sp = POP(3);
		ss = (uint16_t)POP(4);
		ss_desc = sys_check_return_ss(cpu, ss, rpl, cs_desc);
	}
#undef POP
	if (!(sys_long_mode(cpu) && D_L(cs_desc))) {
		/* not to 64-bit code: inside the CS limit (64-bit: canonical, checked above) */
		if (osz == 2)
			ip &= 0xffff;
		if (ip > d_limit(cs_desc))
			cpu_gp0(cpu);
	}
	cs_desc = sys_desc_set_accessed(cpu, cs, cs_desc);
	if (ss_desc)
		ss_desc = sys_desc_set_accessed(cpu, ss, ss_desc);

	/* commit */
	mask = iret_flags_mask(osz, cpl, cpu->rflags);
	cpu->rflags = ((cpu->rflags & ~mask) | (fl & mask)) | 2;
	sys_seg_from_desc(&s->seg[SR_CS], cs, cs_desc);
	sys_set_cpl(cpu, rpl);
	sys_update_mode(cpu);
	if (pop_ss) {
		sys_commit_return_ss(cpu, ss, ss_desc, rpl);
		if (sys_64bit_code(cpu))
			cpu->gpr[R_RSP] = new_sp;
		else if (s->seg[SR_SS].attr & SEG_ATTR_DB)
			cpu->gpr[R_RSP] = (uint32_t)new_sp;
		else
			cpu->gpr[R_RSP] = (cpu->gpr[R_RSP] & ~0xffffULL) | (new_sp & 0xffff);
	} else {
		uint64_t nsp = (sp + 3 * osz) & sp_mask;
		cpu->gpr[R_RSP] = sp_mask == 0xffff ? (cpu->gpr[R_RSP] & ~0xffffULL) | nsp : nsp;
	}
	if (rpl > cpl)
		sys_invalidate_data_segs(cpu, rpl);
	cpu->rip = ip;
	s->nmi_blocked = false;
}

const struct insn_entry exception_insns[] = {
	{ ZYDIS_MNEMONIC_INT, op_int },
	{ ZYDIS_MNEMONIC_INT3, op_int3 },
	{ ZYDIS_MNEMONIC_INTO, op_into },
	{ ZYDIS_MNEMONIC_INT1, op_int1 },
	{ ZYDIS_MNEMONIC_IRET, op_iret },
	{ ZYDIS_MNEMONIC_IRETD, op_iret },
	{ ZYDIS_MNEMONIC_IRETQ, op_iret },
	{ 0, NULL },
};
