/* SPDX-License-Identifier: MIT */
/*
 * System control instructions in system mode: MOV to/from CR0/CR2/CR3/CR4/CR8 and DR0-DR7,
 * CLTS, LMSW, SMSW, INVLPG, INVD, WBINVD, HLT, CLI, STI, PUSHF/POPF, RDPMC, and #UD for the
 * system instructions of features the CPUID profile does not advertise (MONITOR/MWAIT, XSAVE,
 * FSGSBASE, RDRAND, RDPID, SMAP, PKU, ...).
 *
 * References: Intel SDM Vol. 3A 2.5 (control registers), 2.8 (system instruction summary),
 * 4.10.4.1 (TLB invalidation), 9.8.5 (initializing IA-32e mode), 17.2 (debug registers);
 * Vol. 2 for each instruction; AMD APM Vol. 2 3.1.
 *
 * Not implemented (documented in docs/system-registers.md):
 *  - real mode (clearing CR0.PE) and the legacy paging modes (CR0.PG with EFER.LME = 0: 32-bit
 *    and PAE paging): the vCPU cannot run them, so the MOV to CR0 that would enter them raises
 *    #GP(0) instead, with a warning;
 *  - breakpoints: DR0-DR7 are stored with their fixed bits, DR7.GD raises #DB, but no data,
 *    instruction or I/O breakpoint ever triggers;
 *  - performance counters (RDPMC always #GP(0): every counter number is invalid);
 *  - virtual-8086 mode and protected-mode virtual interrupts (CR4.VME/PVI are reserved here).
 */
#include <inttypes.h>

#include "omnivisor/log.h"
#include "sys.h"
#include "sysctl.h"

/* CR0 bits that exist (SDM Vol. 3A 2.5, Figure 2-7); others in 31:0 are reserved and read 0
 * ("reserved bits in CR0 remain clear after any load"), bits 63:32 raise #GP(0). */
#define CR0_VALID                                                                            \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW |     \
	 CR0_CD | CR0_PG)

/* CR4 bits of features the CPUID profile advertises (cpuid.c): DE, PSE, TSC, PAE, MCE, PGE,
 * and the architectural TSD, PCE, OSFXSR, OSXMMEXCPT. Any other bit raises #GP(0): VME/PVI
 * (no VM86), UMIP, LA57, VMXE, SMXE, FSGSBASE, PCIDE, OSXSAVE, KL, SMEP, SMAP, PKE, CET, PKS. */
#define CR4_VALID                                                                            \
	(CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR |    \
	 CR4_OSXMMEXCPT)

/* DR6/DR7 (SDM Vol. 3A 17.2.3, 17.2.4; without RTM and bus-lock detection) */
#define DR6_FIXED1 0xffff0ff0ULL /* bits 4-11 and 16-31 read 1, bit 12 reads 0 */
#define DR6_RW 0xe00fULL         /* B0-B3, BD, BS, BT */
#define DR6_BD (1ULL << 13)
#define DR7_FIXED1 0x400ULL      /* bit 10 */
#define DR7_RW 0xffff23ffULL     /* L0-G3, LE, GE, GD, R/W0-LEN3 */
#define DR7_GD (1ULL << 13)

/* ---- control registers ------------------------------------------------------------------- */

/* Would the vCPU run the paging state of @cr0/@cr4/@efer? 0, or -ENOTSUP / -EINVAL from
 * paging_check_regs. */
static int check_paging(const struct vcpu_sys *s, uint64_t cr0, uint64_t cr3, uint64_t cr4,
			uint64_t efer)
{
	struct mmu_regs r = s->mmu;
	r.cr0 = cr0;
	r.cr3 = cr3;
	r.cr4 = cr4;
	r.efer = efer;
	return paging_check_regs(&r);
}

/* MOV to CR0 (SDM Vol. 2 MOV CR "Protected Mode Exceptions", Vol. 3A 2.5, 9.8.5). */
static void write_cr0(struct vcpu *cpu, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t old = s->cr0, efer = s->efer;

	if (v >> 32)
		cpu_gp0(cpu);
	v = (v & CR0_VALID) | CR0_ET; /* ET is hardwired to 1 on P6 and later */
	if ((v & CR0_PG) && !(v & CR0_PE))
		cpu_gp0(cpu);
	if ((v & CR0_NW) && !(v & CR0_CD))
		cpu_gp0(cpu);
	/* "If the logical processor is in 64-bit mode, an attempt to clear CR0.PG causes #GP"
	 * (SDM Vol. 3A 9.8.5.4: leave IA-32e mode from compatibility mode). */
	if (!(v & CR0_PG) && (old & CR0_PG) && sys_64bit_code(cpu))
		cpu_gp0(cpu);
	if ((v & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
		/* activating IA-32e mode (9.8.5): requires CR4.PAE; a 64-bit CS (L = 1) cannot be
		 * the current code segment (as KVM checks: AMD APM Vol. 2 14.6.1) */
		if (!(s->cr4 & CR4_PAE) || (s->seg[SR_CS].attr & SEG_ATTR_L))
			cpu_gp0(cpu);
	}
	if (!(v & CR0_PG))
		efer &= ~EFER_LMA; /* leaving IA-32e mode (or staying out) */
	else if (efer & EFER_LME)
		efer |= EFER_LMA;
	if (!(v & CR0_PE)) {
		pr_warn("vcpu: MOV to CR0 would enter real mode, which is not implemented: #GP");
		cpu_gp0(cpu);
	}
	if (check_paging(s, v, s->cr3, s->cr4, efer)) {
		pr_warn("vcpu: MOV to CR0 %#" PRIx64 " (CR4 %#" PRIx64 ", EFER %#" PRIx64 ") enables a "
			"paging mode that is not implemented (only IA-32e paging is): #GP",
			v, s->cr4, efer);
		cpu_gp0(cpu);
	}
	s->cr0 = v;
	s->efer = efer;
	sys_update_mode(cpu);
	if ((old ^ v) & (CR0_PG | CR0_WP))
		sys_flush_tlb_all(cpu);
}

/* MOV to CR3 (SDM Vol. 3A 2.5, 4.10.4.1): no PCIDs, so bit 63 and the bits at or above
 * MAXPHYADDR are reserved in IA-32e mode (#GP(0)); flushes all non-global translations. */
static void write_cr3(struct vcpu *cpu, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;

	if ((s->efer & EFER_LMA) && (v >> s->mmu.maxphyaddr))
		cpu_gp0(cpu);
	if (s->cr0 & CR0_PG) {
		int err = check_paging(s, s->cr0, v, s->cr4, s->efer);
		if (err)
			cpu_gp0(cpu);
	}
	s->cr3 = v;
	sys_update_mode(cpu);
	sys_flush_tlb_nonglobal(cpu);
}

/* MOV to CR4 (SDM Vol. 2 MOV CR, Vol. 3A 2.5, 4.10.4.1). */
static void write_cr4(struct vcpu *cpu, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t old = s->cr4;

	if (v & ~CR4_VALID)
		cpu_gp0(cpu); /* reserved, or a feature CPUID does not report */
	if ((s->efer & EFER_LMA) && !(v & CR4_PAE))
		cpu_gp0(cpu); /* leaving IA-32e mode by clearing CR4.PAE */
	if (check_paging(s, s->cr0, s->cr3, v, s->efer))
		cpu_gp0(cpu);
	s->cr4 = v;
	sys_update_mode(cpu);
	if ((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE))
		sys_flush_tlb_all(cpu);
}

/* MOV to CR8 (SDM Vol. 3A 10.8.6.1): TPR[7:4]; bits 63:4 reserved. */
static void write_cr8(struct vcpu *cpu, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;

	if (v & ~0xfULL)
		cpu_gp0(cpu);
	if (s->intc && s->intc->set_cr8)
		s->intc->set_cr8(s->intc_opaque, v);
	else
		s->cr8 = v;
}

static uint64_t read_cr(struct vcpu *cpu, unsigned n)
{
	struct vcpu_sys *s = cpu->sys;
	switch (n) {
	case 0: return s->cr0;
	case 2: return s->cr2;
	case 3: return s->cr3;
	case 4: return s->cr4;
	default: /* 8 */
		if (s->intc && s->intc->get_cr8)
			return s->intc->get_cr8(s->intc_opaque) & 0xf;
		return s->cr8;
	}
}

/*
 * MOV CRn, r32/r64 and MOV r32/r64, CRn. The GPR operand is 64-bit in 64-bit mode and 32-bit
 * otherwise (the decoder gives its size); a 32-bit write zero-extends into the control register.
 * CR1, CR5-CR7, CR9-CR15 (and CR8 outside 64-bit mode) raise #UD, as does a LOCK prefix (the
 * AMD alternative CR8 encoding is not an Intel feature); CPL > 0 raises #GP(0).
 */
void sysctl_mov_cr(struct vcpu *cpu, const struct insn *in)
{
	bool to_cr = in->op[0].kind == OPK_CR;
	const struct operand *cr = &in->op[to_cr ? 0 : 1], *gpr = &in->op[to_cr ? 1 : 0];
	unsigned n = cr->reg;

	if (cr->kind != OPK_CR || gpr->kind != OPK_GPR || (in->flags & INSN_LOCK))
		cpu_ud(cpu);
	if (n != 0 && n != 2 && n != 3 && n != 4 && !(n == 8 && sys_64bit_code(cpu)))
		cpu_ud(cpu);
	sys_require_cpl0(cpu);
	if (!to_cr) {
		gpr_write(cpu, gpr, read_cr(cpu, n) & size_mask(gpr->size));
		return;
	}
	uint64_t v = cpu->gpr[gpr->reg] & size_mask(gpr->size);
	switch (n) {
	case 0: write_cr0(cpu, v); break;
	case 2: cpu->sys->cr2 = v; break;
	case 3: write_cr3(cpu, v); break;
	case 4: write_cr4(cpu, v); break;
	default: write_cr8(cpu, v); break;
	}
}

/* ---- debug registers --------------------------------------------------------------------- */

/*
 * MOV DRn, r / MOV r, DRn (SDM Vol. 2; Vol. 3A 17.2). Checks in this order: DR8-DR15, or
 * DR4/DR5 with CR4.DE = 1: #UD; CPL > 0: #GP(0); DR7.GD = 1: #DB with DR6.BD set (general
 * detect, 17.2.4; GD is cleared for the handler). Without CR4.DE, DR4/DR5 are DR6/DR7. Writes of
 * bits 63:32 of DR6/DR7 raise #GP(0). The registers are stored; breakpoints are not implemented.
 */
void sysctl_mov_dr(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	bool to_dr = in->op[0].kind == OPK_DR;
	const struct operand *dr = &in->op[to_dr ? 0 : 1], *gpr = &in->op[to_dr ? 1 : 0];
	unsigned n = dr->reg;

	if (dr->kind != OPK_DR || gpr->kind != OPK_GPR || n > 7)
		cpu_ud(cpu);
	if (n == 4 || n == 5) {
		if (s->cr4 & CR4_DE)
			cpu_ud(cpu);
		n += 2;
	}
	sys_require_cpl0(cpu);
	if (s->dr[7] & DR7_GD) {
		s->dr[6] |= DR6_BD;
		s->dr[7] &= ~DR7_GD;
		cpu_raise(cpu, EXC_DB, 0, 0);
	}
	if (!to_dr) {
		gpr_write(cpu, gpr, s->dr[n] & size_mask(gpr->size));
		return;
	}
	uint64_t v = cpu->gpr[gpr->reg] & size_mask(gpr->size);
	if (n >= 6 && (v >> 32))
		cpu_gp0(cpu);
	if (n == 6)
		v = (v & DR6_RW) | DR6_FIXED1;
	else if (n == 7)
		v = (v & DR7_RW) | DR7_FIXED1;
	s->dr[n] = v;
}

/* ---- CR0 shortcuts, TLB, caches, HLT ------------------------------------------------------ */

/* CLTS (SDM Vol. 2): CR0.TS <- 0. */
static void op_clts(struct vcpu *cpu, const struct insn *in)
{
	sys_require_cpl0(cpu);
	cpu->sys->cr0 &= ~CR0_TS;
	sys_update_mode(cpu); /* TS is part of the block key */
}

/* LMSW r/m16 (SDM Vol. 2): CR0[3:0] <- source[3:0], except that PE cannot be cleared. */
static void op_lmsw(struct vcpu *cpu, const struct insn *in)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t src;

	sys_require_cpl0(cpu);
	src = op_read(cpu, in, 0) & 0xf;
	s->cr0 = (s->cr0 & ~0xeULL) | src | (s->cr0 & CR0_PE);
	sys_update_mode(cpu);
}

/* SMSW (SDM Vol. 2): m16 <- CR0[15:0]; r16/r32/r64 <- CR0 at the operand size. Allowed at every
 * CPL: CR4.UMIP is not available. */
static void op_smsw(struct vcpu *cpu, const struct insn *in)
{
	const struct operand *o = &in->op[0];
	uint64_t cr0 = cpu->sys->cr0;

	if (o->kind == OPK_MEM)
		mem_write16(cpu, op_ea(cpu, in, o), (uint16_t)cr0);
	else
		op_write(cpu, in, 0, cr0 & size_mask(o->size));
}

/* INVLPG m (SDM Vol. 2): drop the translations of the page of the operand's linear address.
 * A non-canonical address is no fault (nothing is cached for it). */
static void op_invlpg(struct vcpu *cpu, const struct insn *in)
{
	uint64_t la;

	if (in->op[0].kind != OPK_MEM)
		cpu_ud(cpu);
	sys_require_cpl0(cpu);
	la = op_ea(cpu, in, &in->op[0]);
	if (!sys_64bit_code(cpu))
		la = (uint32_t)la;
	sys_flush_tlb_page(cpu, la);
}

/* INVD, WBINVD (SDM Vol. 2): privileged; the virtual CPU has no caches to write back. */
static void op_cache_inv(struct vcpu *cpu, const struct insn *in)
{
	sys_require_cpl0(cpu);
}

/* HLT (SDM Vol. 2): privileged; the vCPU stops until an interrupt, NMI or reset. RIP is past the
 * instruction, so the interrupt handler returns after it. */
static void op_hlt(struct vcpu *cpu, const struct insn *in)
{
	sys_require_cpl0(cpu);
	cpu->sys->halted = true;
	cpu->sys->nr_halts++;
	cpu_exit_after(cpu, VCPU_EXIT_HLT);
}

/* ---- interrupt flag, RFLAGS --------------------------------------------------------------- */

static unsigned iopl(const struct vcpu *cpu)
{
	return (unsigned)(cpu->rflags >> 12) & 3;
}

/* CLI (SDM Vol. 2): IF <- 0 if CPL <= IOPL, else #GP(0) (no VME/PVI). */
static void op_cli(struct vcpu *cpu, const struct insn *in)
{
	if (cpu->sys->cpl > iopl(cpu))
		cpu_gp0(cpu);
	cpu->rflags &= ~(uint64_t)FLAG_IF;
}

/* STI (SDM Vol. 2): IF <- 1 if CPL <= IOPL, else #GP(0). When IF was 0, interrupts stay blocked
 * until the next instruction completes (Vol. 3A 6.8.3). */
static void op_sti(struct vcpu *cpu, const struct insn *in)
{
	if (cpu->sys->cpl > iopl(cpu))
		cpu_gp0(cpu);
	if (!(cpu->rflags & FLAG_IF)) {
		cpu->rflags |= FLAG_IF;
		sys_set_irq_shadow(cpu);
	}
}

/* Stack push/pop at the current stack width: RSP in 64-bit mode; ESP (flat SS, as the rest of
 * the 32-bit implementation assumes) otherwise. A fault leaves RSP unchanged. */
static void push_sz(struct vcpu *cpu, uint64_t v, unsigned size)
{
	if (sys_64bit_code(cpu)) {
		cpu_push(cpu, v, size);
		return;
	}
	uint32_t esp = (uint32_t)cpu->gpr[R_RSP] - size;
	mem_write_sz(cpu, esp, v, size);
	cpu->gpr[R_RSP] = esp;
}

static uint64_t pop_sz(struct vcpu *cpu, unsigned size)
{
	if (sys_64bit_code(cpu))
		return cpu_pop(cpu, size);
	uint32_t esp = (uint32_t)cpu->gpr[R_RSP];
	uint64_t v = mem_read_sz(cpu, esp, size);
	cpu->gpr[R_RSP] = (uint32_t)(esp + size);
	return v;
}

/* PUSHF/PUSHFD/PUSHFQ (SDM Vol. 2): the RFLAGS image with VM and RF cleared, at the operand
 * size (16, 32 or 64 bits). */
static void op_pushf(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->opsize == 2 ? 2 : in->opsize == 4 ? 4 : 8;
	uint64_t f = vcpu_get_rflags(cpu) & ~(uint64_t)(FLAG_VM | FLAG_RF);
	push_sz(cpu, f & size_mask(size), size);
}

/* Flags POPF may write at any CPL (SDM Vol. 2 POPF, Table 4-16 "Effect of POPF/POPFD on the
 * EFLAGS Register"): all but IF, IOPL, and the VIP/VIF/VM/RF group. */
#define POPF_ALWAYS                                                                          \
	(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF | FLAG_OF |      \
	 FLAG_NT | FLAG_AC | FLAG_ID)

/*
 * POPF/POPFD/POPFQ (SDM Vol. 2 POPF "Operation", protected/64-bit mode, VM = 0): IOPL changes
 * only at CPL 0, IF only if CPL <= IOPL (silently kept otherwise, no fault); VIP, VIF and VM are
 * never changed; RF ends up 0. A 16-bit POPF writes only FLAGS[15:0]. Setting IF this way opens
 * no interrupt shadow (only STI does).
 */
static void op_popf(struct vcpu *cpu, const struct insn *in)
{
	unsigned size = in->opsize == 2 ? 2 : in->opsize == 4 ? 4 : 8;
	unsigned cpl = cpu->sys->cpl;
	uint64_t mask = POPF_ALWAYS, v;

	if (cpl == 0)
		mask |= FLAG_IOPL | FLAG_IF;
	else if (cpl <= iopl(cpu))
		mask |= FLAG_IF;
	mask &= size_mask(size);
	v = pop_sz(cpu, size);
	cpu->rflags = ((cpu->rflags & ~mask) | (v & mask)) & ~(uint64_t)FLAG_RF;
}

/* ---- instructions of features not present ------------------------------------------------ */

/* RDPMC (SDM Vol. 2): #GP(0) at CPL > 0 with CR4.PCE = 0, and for an invalid counter number:
 * there are no counters (CPUID.0AH reports version 0), so every number is invalid. */
static void op_rdpmc(struct vcpu *cpu, const struct insn *in)
{
	cpu_gp0(cpu);
}

/* Instructions whose CPUID feature flag is 0 in the system profile (or whose enabling CR4 bit
 * cannot be set): #UD, as on a processor without them. */
static void op_ud(struct vcpu *cpu, const struct insn *in)
{
	cpu_ud(cpu);
}

const struct insn_entry sysctl_insns[] = {
	{ ZYDIS_MNEMONIC_CLTS, op_clts },
	{ ZYDIS_MNEMONIC_LMSW, op_lmsw },
	{ ZYDIS_MNEMONIC_SMSW, op_smsw },
	{ ZYDIS_MNEMONIC_INVLPG, op_invlpg },
	{ ZYDIS_MNEMONIC_INVD, op_cache_inv },
	{ ZYDIS_MNEMONIC_WBINVD, op_cache_inv },
	{ ZYDIS_MNEMONIC_HLT, op_hlt },
	{ ZYDIS_MNEMONIC_CLI, op_cli },
	{ ZYDIS_MNEMONIC_STI, op_sti },
	{ ZYDIS_MNEMONIC_PUSHF, op_pushf },
	{ ZYDIS_MNEMONIC_PUSHFD, op_pushf },
	{ ZYDIS_MNEMONIC_PUSHFQ, op_pushf },
	{ ZYDIS_MNEMONIC_POPF, op_popf },
	{ ZYDIS_MNEMONIC_POPFD, op_popf },
	{ ZYDIS_MNEMONIC_POPFQ, op_popf },
	{ ZYDIS_MNEMONIC_RDPMC, op_rdpmc },
	/* CPUID.01H:ECX.MONITOR = 0 */
	{ ZYDIS_MNEMONIC_MONITOR, op_ud },
	{ ZYDIS_MNEMONIC_MWAIT, op_ud },
	{ ZYDIS_MNEMONIC_MONITORX, op_ud },
	{ ZYDIS_MNEMONIC_MWAITX, op_ud },
	{ ZYDIS_MNEMONIC_UMONITOR, op_ud },
	{ ZYDIS_MNEMONIC_UMWAIT, op_ud },
	{ ZYDIS_MNEMONIC_TPAUSE, op_ud },
	/* CPUID.01H:ECX.XSAVE = 0, CR4.OSXSAVE cannot be set */
	{ ZYDIS_MNEMONIC_XSETBV, op_ud },
	{ ZYDIS_MNEMONIC_XGETBV, op_ud },
	{ ZYDIS_MNEMONIC_XSAVE, op_ud },
	{ ZYDIS_MNEMONIC_XSAVE64, op_ud },
	{ ZYDIS_MNEMONIC_XRSTOR, op_ud },
	{ ZYDIS_MNEMONIC_XRSTOR64, op_ud },
	{ ZYDIS_MNEMONIC_XSAVEOPT, op_ud },
	{ ZYDIS_MNEMONIC_XSAVEOPT64, op_ud },
	{ ZYDIS_MNEMONIC_XSAVEC, op_ud },
	{ ZYDIS_MNEMONIC_XSAVEC64, op_ud },
	{ ZYDIS_MNEMONIC_XSAVES, op_ud },
	{ ZYDIS_MNEMONIC_XSAVES64, op_ud },
	{ ZYDIS_MNEMONIC_XRSTORS, op_ud },
	{ ZYDIS_MNEMONIC_XRSTORS64, op_ud },
	/* RDRAND, RDSEED, RDPID, FSGSBASE, PKU, SMAP, INVPCID, SERIALIZE, SMX, VMX: not reported */
	{ ZYDIS_MNEMONIC_RDRAND, op_ud },
	{ ZYDIS_MNEMONIC_RDSEED, op_ud },
	{ ZYDIS_MNEMONIC_RDPID, op_ud },
	{ ZYDIS_MNEMONIC_RDFSBASE, op_ud },
	{ ZYDIS_MNEMONIC_RDGSBASE, op_ud },
	{ ZYDIS_MNEMONIC_WRFSBASE, op_ud },
	{ ZYDIS_MNEMONIC_WRGSBASE, op_ud },
	{ ZYDIS_MNEMONIC_RDPKRU, op_ud },
	{ ZYDIS_MNEMONIC_WRPKRU, op_ud },
	{ ZYDIS_MNEMONIC_CLAC, op_ud },
	{ ZYDIS_MNEMONIC_STAC, op_ud },
	{ ZYDIS_MNEMONIC_INVPCID, op_ud },
	{ ZYDIS_MNEMONIC_SERIALIZE, op_ud },
	{ ZYDIS_MNEMONIC_GETSEC, op_ud },
	{ ZYDIS_MNEMONIC_VMCALL, op_ud },
	{ ZYDIS_MNEMONIC_RDPRU, op_ud },
	{ 0, NULL },
};
