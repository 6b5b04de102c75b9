/* SPDX-License-Identifier: MIT */
/*
 * MOV to/from control and debug registers (sysctl.c). Zydis names them MOV, like every other
 * MOV, so they cannot be registered by mnemonic in sysctl_insns: the system-mode decoder picks
 * these handlers for a MOV with an OPK_CR / OPK_DR operand.
 */
#ifndef OMNIVISOR_CPU_SYSCTL_H
#define OMNIVISOR_CPU_SYSCTL_H

struct vcpu;
struct insn;

/* MOV CRn, r / MOV r, CRn (0F 22 / 0F 20; SDM Vol. 2 "MOV—Move to/from Control Registers") */
void sysctl_mov_cr(struct vcpu *cpu, const struct insn *in);
/* MOV DRn, r / MOV r, DRn (0F 23 / 0F 21; SDM Vol. 2 "MOV—Move to/from Debug Registers") */
void sysctl_mov_dr(struct vcpu *cpu, const struct insn *in);

#endif
