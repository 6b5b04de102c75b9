/* SPDX-License-Identifier: MIT */
/*
 * Control transfer: JMP, Jcc, CALL, RET (near; far only to the same code segment), LOOP LOOPE LOOPNE, JRCXZ/JECXZ.
 * Intel SDM Vol. 2 for each instruction. The decoder resolves relative targets to absolute
 * addresses (op[0].disp) and ends the block after each of these instructions.
 *
 * Near branches in 64-bit mode use a 64-bit operand size on Intel whatever the 66 prefix says
 * (SDM Vol. 2 JMP/CALL/RET "64-bit mode" notes), so stack accesses are always 8 bytes.
 * A non-canonical target raises #GP(0) at the branch itself with the registers unchanged (SDM
 * Vol. 2 JMP/CALL/RET 64-bit mode exceptions; Intel reports the fault on the branch, and a
 * CALL has already stored the return address then, as the differential tests show).
 */
#include "cpu.h"

#define SEL_USER_CS 0x33 /* Linux 64-bit user code segment, the only one we run */

/*
 * Far JMP/CALL m16:16/m16:32/m16:64 and far RET (SDM Vol. 2 JMP/CALL/RET, "far" operation in
 * 64-bit mode): only a transfer to the 64-bit user code segment at the same privilege level is
 * supported, which is then a near transfer that also checks the selector. Any other selector
 * (including the 32-bit compatibility-mode segment, which we cannot run) raises #GP(selector).
 */
static void check_far_selector(struct vcpu *cpu, uint16_t sel)
{
	if ((sel & 0xfffc) != (SEL_USER_CS & 0xfffc) || (sel & 3) != 3)
		cpu_raise(cpu, EXC_GP, sel & 0xfffc, 0);
}

static void far_branch(struct vcpu *cpu, const struct insn *in, int call)
{
	const struct operand *o = &in->op[0];
	unsigned osz = o->size - 2u; /* offset bytes: 2, 4 or 8 */
	uint64_t ea = op_ea(cpu, in, o);
	uint64_t t = mem_read_sz(cpu, ea, osz);
	uint16_t sel = mem_read16(cpu, ea + osz);

	check_far_selector(cpu, sel);
	if (unlikely(!is_canonical(t)))
		cpu_gp0(cpu);
	if (call) {
		uint64_t rsp = cpu->gpr[R_RSP] - 2 * osz;
		mem_write_sz(cpu, rsp + osz, SEL_USER_CS, osz);
		mem_write_sz(cpu, rsp, cpu->rip, osz);
		cpu->gpr[R_RSP] = rsp;
	}
	cpu->rip = t;
}

static void far_ret(struct vcpu *cpu, const struct insn *in)
{
	unsigned osz = in->opsize == 8 ? 8 : in->opsize == 2 ? 2 : 4;
	uint64_t rsp = cpu->gpr[R_RSP];
	uint64_t t = mem_read_sz(cpu, rsp, osz);
	uint16_t sel = (uint16_t)mem_read_sz(cpu, rsp + osz, osz);

	check_far_selector(cpu, sel);
	if (unlikely(!is_canonical(t)))
		cpu_gp0(cpu);
	rsp += 2 * osz;
	if (in->nops)
		rsp += (uint64_t)in->op[0].disp & 0xffff;
	cpu->gpr[R_RSP] = rsp;
	cpu->rip = t;
}

/* Target of a near branch: resolved immediate, register or memory (not yet checked). */
static inline uint64_t branch_target(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	if (likely(o->kind == OPK_IMM))
		return (uint64_t)o->disp;
	if (o->kind == OPK_GPR)
		return cpu->gpr[o->reg];
	if (o->kind == OPK_MEM)
		return mem_read64(cpu, op_ea(cpu, in, o));
	cpu_ud(cpu);
}

static void op_jmp(struct vcpu *cpu, const struct insn *in)
{
	if (unlikely(in->op[0].kind == OPK_MEM && in->op[0].size != 8)) {
		far_branch(cpu, in, 0);
		return;
	}
	uint64_t t = branch_target(cpu, in);
	if (unlikely(!is_canonical(t)))
		cpu_gp0(cpu);
	cpu->rip = t;
}

static void op_call(struct vcpu *cpu, const struct insn *in)
{
	uint64_t t;
	if (unlikely(in->op[0].kind == OPK_MEM && in->op[0].size != 8)) {
		far_branch(cpu, in, 1);
		return;
	}
	t = branch_target(cpu, in);
	/* Intel hardware stores the return address before it checks the target: a
	 * non-canonical target leaves that store in memory, RSP and RIP unchanged. */
	mem_write64(cpu, cpu->gpr[R_RSP] - 8, cpu->rip);
	if (unlikely(!is_canonical(t)))
		cpu_gp0(cpu);
	cpu->gpr[R_RSP] -= 8;
	cpu->rip = t;
}

/* RET and RET imm16: pop RIP, then release imm16 bytes (RETF: far_ret). */
static void op_ret(struct vcpu *cpu, const struct insn *in)
{
	uint64_t rsp = cpu->gpr[R_RSP], t;
	if (unlikely(in->opcode == 0xcb || in->opcode == 0xca)) {
		far_ret(cpu, in);
		return;
	}
	t = mem_read64(cpu, rsp);
	if (unlikely(!is_canonical(t)))
		cpu_gp0(cpu);
	rsp += 8;
	if (in->nops)
		rsp += (uint64_t)in->op[0].disp & 0xffff;
	cpu->gpr[R_RSP] = rsp;
	cpu->rip = t;
}

/* Jcc: one handler per condition code so the test is a constant flag mask. */
#define JCC(name, cc)                                                                        \
	static void op_j##name(struct vcpu *cpu, const struct insn *in)                     \
	{                                                                                    \
		if (cond_true(cpu, cc))                                                      \
			cpu->rip = (uint64_t)in->op[0].disp;                                 \
	}
JCC(o, 0x0)
JCC(no, 0x1)
JCC(b, 0x2)
JCC(nb, 0x3)
JCC(z, 0x4)
JCC(nz, 0x5)
JCC(be, 0x6)
JCC(nbe, 0x7)
JCC(s, 0x8)
JCC(ns, 0x9)
JCC(p, 0xa)
JCC(np, 0xb)
JCC(l, 0xc)
JCC(nl, 0xd)
JCC(le, 0xe)
JCC(nle, 0xf)

/*
 * LOOP/LOOPE/LOOPNE: decrement the count register (RCX, or ECX with a 67 prefix; flags are
 * not affected) and branch if it is nonzero (and ZF=1 / ZF=0). SDM Vol. 2 LOOP/LOOPcc.
 */
static inline __attribute__((always_inline)) void loop(struct vcpu *cpu, const struct insn *in,
						       int zf_cond)
{
	uint64_t c;
	if (unlikely(in->flags & INSN_ASIZE32)) {
		c = (uint32_t)(cpu->gpr[R_RCX] - 1);
		cpu->gpr[R_RCX] = c;
	} else {
		c = --cpu->gpr[R_RCX];
	}
	if (c && (zf_cond < 0 || !!(cpu->rflags & FLAG_ZF) == zf_cond))
		cpu->rip = (uint64_t)in->op[0].disp;
}

static void op_loop(struct vcpu *cpu, const struct insn *in)
{
	loop(cpu, in, -1);
}
static void op_loope(struct vcpu *cpu, const struct insn *in)
{
	loop(cpu, in, 1);
}
static void op_loopne(struct vcpu *cpu, const struct insn *in)
{
	loop(cpu, in, 0);
}

/* JRCXZ / JECXZ (67 prefix): branch if the count register is zero. */
static void op_jrcxz(struct vcpu *cpu, const struct insn *in)
{
	uint64_t c = cpu->gpr[R_RCX];
	if (in->flags & INSN_ASIZE32)
		c = (uint32_t)c;
	if (!c)
		cpu->rip = (uint64_t)in->op[0].disp;
}

const struct insn_entry control_insns[] = {
	{ ZYDIS_MNEMONIC_JMP, op_jmp },
	{ ZYDIS_MNEMONIC_CALL, op_call },
	{ ZYDIS_MNEMONIC_RET, op_ret },
	{ ZYDIS_MNEMONIC_JO, op_jo },
	{ ZYDIS_MNEMONIC_JNO, op_jno },
	{ ZYDIS_MNEMONIC_JB, op_jb },
	{ ZYDIS_MNEMONIC_JNB, op_jnb },
	{ ZYDIS_MNEMONIC_JZ, op_jz },
	{ ZYDIS_MNEMONIC_JNZ, op_jnz },
	{ ZYDIS_MNEMONIC_JBE, op_jbe },
	{ ZYDIS_MNEMONIC_JNBE, op_jnbe },
	{ ZYDIS_MNEMONIC_JS, op_js },
	{ ZYDIS_MNEMONIC_JNS, op_jns },
	{ ZYDIS_MNEMONIC_JP, op_jp },
	{ ZYDIS_MNEMONIC_JNP, op_jnp },
	{ ZYDIS_MNEMONIC_JL, op_jl },
	{ ZYDIS_MNEMONIC_JNL, op_jnl },
	{ ZYDIS_MNEMONIC_JLE, op_jle },
	{ ZYDIS_MNEMONIC_JNLE, op_jnle },
	{ ZYDIS_MNEMONIC_LOOP, op_loop },
	{ ZYDIS_MNEMONIC_LOOPE, op_loope },
	{ ZYDIS_MNEMONIC_LOOPNE, op_loopne },
	{ ZYDIS_MNEMONIC_JRCXZ, op_jrcxz },
	{ ZYDIS_MNEMONIC_JECXZ, op_jrcxz },
	{ 0, NULL },
};
