/* SPDX-License-Identifier: MIT */
/*
 * System instructions as a Linux x86-64 user process (CPL 3, IOPL 0) sees them: CPUID, RDTSC,
 * SYSCALL, IRET, the software interrupts INT3/INT1/INT n, the #UD opcodes, and the privileged
 * instructions, which raise #GP(0) at CPL 3 (Intel SDM Vol. 2, "Protected Mode Exceptions" of
 * each; Vol. 3A 2.8 "System Instruction Summary").
 */
#include <x86intrin.h>

#include "cpu.h"

/* CPUID: EAX/EBX/ECX/EDX <- leaf EAX, subleaf ECX; the upper halves are cleared. */
static void op_cpuid(struct vcpu *cpu, const struct insn *in)
{
	uint32_t r[4];
	cpu_cpuid((uint32_t)cpu->gpr[R_RAX], (uint32_t)cpu->gpr[R_RCX], r);
	cpu->gpr[R_RAX] = r[0];
	cpu->gpr[R_RBX] = r[1];
	cpu->gpr[R_RCX] = r[2];
	cpu->gpr[R_RDX] = r[3];
}

/* RDTSC: the host time-stamp counter (Linux leaves CR4.TSD clear). */
static void op_rdtsc(struct vcpu *cpu, const struct insn *in)
{
	uint64_t t = __rdtsc();
	cpu->gpr[R_RAX] = (uint32_t)t;
	cpu->gpr[R_RDX] = t >> 32;
}

/*
 * SYSCALL (SDM Vol. 2 SYSCALL): RCX <- RIP of the next instruction, R11 <- RFLAGS, then the
 * kernel runs; here the runner does, after vcpu_run() returns VCPU_EXIT_SYSCALL with RIP past
 * the instruction. Linux returns with RCX and R11 still holding these values.
 */
static void op_syscall(struct vcpu *cpu, const struct insn *in)
{
	cpu->gpr[R_RCX] = cpu->rip;
	cpu->gpr[R_R11] = vcpu_get_rflags(cpu);
	cpu_exit_after(cpu, VCPU_EXIT_SYSCALL);
}

/* INT3 (CC): #BP, a trap: RIP stays after the instruction (SDM Vol. 3A 6.5). */
static void op_int3(struct vcpu *cpu, const struct insn *in)
{
	cpu_raise(cpu, EXC_BP, 0, 0);
}

/*
 * INT1/ICEBP (F1): #DB as a trap (SDM Vol. 3A 17.3.1.5, the single-byte INT1 "is treated as a
 * trap-like debug exception"). cpu_raise() reports faults at the instruction itself for every
 * vector but #BP/#OF, so RIP is moved forward first to leave it after the instruction.
 */
static void op_int1(struct vcpu *cpu, const struct insn *in)
{
	cpu->rip += in->len;
	cpu_raise(cpu, EXC_DB, 0, 0);
}

/*
 * INT n (SDM Vol. 2 INT n, Vol. 3A 6.12.1.1): a gate whose DPL is below CPL raises
 * #GP(vector * 8 + 2) (IDT bit set in the error code). In Linux's 64-bit IDT only the #BP and
 * #OF gates are open to user mode (arch/x86/kernel/idt.c); the IA-32 INT 80H entry is not
 * emulated, so INT 80H faults here.
 */
static void op_int(struct vcpu *cpu, const struct insn *in)
{
	unsigned vec = (unsigned)in->op[0].disp & 0xff;
	if (vec == EXC_BP || vec == EXC_OF)
		cpu_raise(cpu, vec, 0, 0);
	cpu_raise(cpu, EXC_GP, vec * 8 + 2, 0);
}

/* UD0/UD1/UD2 and INTO (invalid in 64-bit mode): #UD. */
static void op_ud(struct vcpu *cpu, const struct insn *in)
{
	cpu_ud(cpu);
}

/* Privileged at CPL 3: #GP(0). Covers CPL-0-only instructions, IOPL-sensitive ones with IOPL 0
 * (CLI STI IN OUT INS OUTS; Linux grants no I/O bitmap by default), RDPMC with CR4.PCE clear,
 * and SGDT/SIDT/SLDT/STR/SMSW under CR4.UMIP. */
static void op_gp0(struct vcpu *cpu, const struct insn *in)
{
	cpu_gp0(cpu);
}

#define FLAG_NT (1u << 14)
#define IRET_USER_MASK                                                                       \
	(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF | FLAG_OF |      \
	 FLAG_NT | FLAG_AC | FLAG_ID)

/*
 * IRET/IRETD/IRETQ to the same privilege level (SDM Vol. 2 IRET, "RETURN-TO-SAME-PRIVILEGE-
 * LEVEL" in IA-32e mode): pop RIP, CS, RFLAGS, RSP, SS. Only the Linux 64-bit user code (33H)
 * and data (2BH) selectors are accepted; RFLAGS changes as for POPF at CPL 3 (IF and IOPL
 * kept). NT=1 in the current RFLAGS would mean a task return: #GP(0) in IA-32e mode.
 */
static void op_iret(struct vcpu *cpu, const struct insn *in)
{
	unsigned osz = in->opsize == 8 ? 8 : in->opsize == 2 ? 2 : 4;
	uint64_t sp = cpu->gpr[R_RSP], rip, cs, fl, rsp, ss;

	if (cpu->rflags & FLAG_NT)
		cpu_gp0(cpu);
	rip = mem_read_sz(cpu, sp, osz);
	cs = mem_read_sz(cpu, sp + osz, osz) & 0xffff;
	fl = mem_read_sz(cpu, sp + 2 * osz, osz);
	rsp = mem_read_sz(cpu, sp + 3 * osz, osz);
	ss = mem_read_sz(cpu, sp + 4 * osz, osz) & 0xffff;
	if (cs != 0x33)
		cpu_raise(cpu, EXC_GP, (uint32_t)cs & 0xfffc, 0);
	if (ss != 0x2b)
		cpu_raise(cpu, EXC_GP, (uint32_t)ss & 0xfffc, 0);
	if (!is_canonical(rip))
		cpu_gp0(cpu);
	set_flags(cpu, IRET_USER_MASK & size_mask(osz), fl);
	cpu->gpr[R_RSP] = rsp;
	cpu->rip = rip;
}

const struct insn_entry system_insns[] = {
	{ ZYDIS_MNEMONIC_CPUID, op_cpuid },
	{ ZYDIS_MNEMONIC_RDTSC, op_rdtsc },
	{ ZYDIS_MNEMONIC_SYSCALL, op_syscall },
	{ ZYDIS_MNEMONIC_INT3, op_int3 },
	{ ZYDIS_MNEMONIC_INT1, op_int1 },
	{ ZYDIS_MNEMONIC_INT, op_int },
	{ ZYDIS_MNEMONIC_INTO, op_ud },
	{ ZYDIS_MNEMONIC_UD0, op_ud },
	{ ZYDIS_MNEMONIC_UD1, op_ud },
	{ ZYDIS_MNEMONIC_UD2, op_ud },
	/* Not advertised by our CPUID: CR4.OSXSAVE clear (XGETBV), no RDRAND/RDSEED. */
	{ ZYDIS_MNEMONIC_XGETBV, op_ud },
	{ ZYDIS_MNEMONIC_RDRAND, op_ud },
	{ ZYDIS_MNEMONIC_RDSEED, op_ud },
	{ ZYDIS_MNEMONIC_IRET, op_iret },
	{ ZYDIS_MNEMONIC_IRETD, op_iret },
	{ ZYDIS_MNEMONIC_IRETQ, op_iret },
	{ ZYDIS_MNEMONIC_HLT, op_gp0 },
	{ ZYDIS_MNEMONIC_CLI, op_gp0 },
	{ ZYDIS_MNEMONIC_STI, op_gp0 },
	{ ZYDIS_MNEMONIC_IN, op_gp0 },
	{ ZYDIS_MNEMONIC_OUT, op_gp0 },
	{ ZYDIS_MNEMONIC_INSB, op_gp0 },
	{ ZYDIS_MNEMONIC_INSW, op_gp0 },
	{ ZYDIS_MNEMONIC_INSD, op_gp0 },
	{ ZYDIS_MNEMONIC_OUTSB, op_gp0 },
	{ ZYDIS_MNEMONIC_OUTSW, op_gp0 },
	{ ZYDIS_MNEMONIC_OUTSD, op_gp0 },
	{ ZYDIS_MNEMONIC_LGDT, op_gp0 },
	{ ZYDIS_MNEMONIC_LIDT, op_gp0 },
	{ ZYDIS_MNEMONIC_LLDT, op_gp0 },
	{ ZYDIS_MNEMONIC_LTR, op_gp0 },
	{ ZYDIS_MNEMONIC_LMSW, op_gp0 },
	{ ZYDIS_MNEMONIC_SGDT, op_gp0 },
	{ ZYDIS_MNEMONIC_SIDT, op_gp0 },
	{ ZYDIS_MNEMONIC_SLDT, op_gp0 },
	{ ZYDIS_MNEMONIC_STR, op_gp0 },
	{ ZYDIS_MNEMONIC_SMSW, op_gp0 },
	{ ZYDIS_MNEMONIC_CLTS, op_gp0 },
	{ ZYDIS_MNEMONIC_INVD, op_gp0 },
	{ ZYDIS_MNEMONIC_WBINVD, op_gp0 },
	{ ZYDIS_MNEMONIC_INVLPG, op_gp0 },
	{ ZYDIS_MNEMONIC_RDMSR, op_gp0 },
	{ ZYDIS_MNEMONIC_WRMSR, op_gp0 },
	{ ZYDIS_MNEMONIC_RDPMC, op_gp0 },
	{ ZYDIS_MNEMONIC_SWAPGS, op_gp0 },
	{ ZYDIS_MNEMONIC_SYSRET, op_gp0 },
	{ ZYDIS_MNEMONIC_SYSEXIT, op_gp0 },
	{ 0, NULL },
};
