/* SPDX-License-Identifier: MIT */
/*
 * Model-specific registers, the time-stamp counter and CPUID in system mode: RDMSR, WRMSR,
 * RDTSC, RDTSCP, CPUID (Intel SDM Vol. 2 for each instruction; Vol. 4 chapter 2, Table 2-2
 * "IA-32 Architectural MSRs"; Vol. 3A 2.2.1 for IA32_EFER; Vol. 3A 11.11 and 11.12 for the
 * MTRRs and PAT).
 *
 * The MSRs implemented are exactly those the CPUID profile (cpuid.c, cpu_cpuid_sys) promises,
 * plus those Linux 6.1 reads without rdmsr_safe on an Intel family 6 CPU of that profile
 * (IA32_PLATFORM_ID and IA32_BIOS_SIGN_ID from the microcode loader, IA32_MISC_ENABLE from
 * verify_cpu.S, the MTRRs and PAT from mtrr_bp_init). Every other MSR number raises #GP(0), as
 * on hardware; Linux reads the optional ones (IA32_FEATURE_CONTROL, MSR_PLATFORM_INFO,
 * MSR_MISC_FEATURES_ENABLES, MSR_TEST_CTRL, ...) with rdmsr_safe and copes with the #GP.
 * docs/system-registers.md has the table.
 */
#include <time.h>

#include "cpuid.h"
#include "sys.h"

/* MSR numbers, SDM Vol. 4 Table 2-2 (those not in vcpu_sys.h) */
#define MSR_IA32_PLATFORM_ID 0x17
#define MSR_IA32_BIOS_SIGN_ID 0x8b
#define MSR_IA32_MTRRCAP 0xfe
#define MSR_IA32_ARCH_CAPABILITIES 0x10a
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MCG_CAP 0x179
#define MSR_IA32_MCG_STATUS 0x17a
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_DEBUGCTL 0x1d9
#define MSR_IA32_MTRR_PHYSBASE0 0x200 /* base/mask pairs up to 0x20f (8 ranges) */
#define MSR_IA32_MTRR_FIX64K_00000 0x250
#define MSR_IA32_MTRR_FIX16K_80000 0x258
#define MSR_IA32_MTRR_FIX16K_A0000 0x259
#define MSR_IA32_MTRR_FIX4K_C0000 0x268 /* to 0x26f (F8000) */
#define MSR_IA32_MTRR_DEF_TYPE 0x2ff

/* Microcode update signature reported in IA32_BIOS_SIGN_ID[63:32] (a released E5504 level). */
#define UCODE_REV 0x19ULL

/*
 * IA32_MTRRCAP (SDM Vol. 3A 11.11.1, Figure 11-5): VCNT = 8 variable ranges, FIX (bit 8) fixed
 * ranges supported, WC (bit 10) write-combining type supported, no SMRR (bit 11).
 */
#define MTRRCAP_VALUE ((1ULL << 10) | (1ULL << 8) | 8ULL)
#define MTRR_NR_VAR 8

/*
 * IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2): writable are bit 0 (fast-string operations) and
 * bit 22 (limit CPUID maxval, honoured by cpu_cpuid_sys). Bits 11 (BTS unavailable) and 12
 * (PEBS unavailable) read 1 and ignore writes; bit 7 (performance monitoring available) reads
 * 0: there are no counters. Every other bit (automatic thermal control, EIST, MONITOR FSM,
 * xTPR, XD bit disable, ...) belongs to a feature this CPU lacks: writing 1 raises #GP(0).
 */
#define MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MISC_ENABLE_LIMIT_CPUID (1ULL << 22)
#define MISC_ENABLE_RW (MISC_ENABLE_FAST_STRING | MISC_ENABLE_LIMIT_CPUID)
#define MISC_ENABLE_RO ((1ULL << 11) | (1ULL << 12))

/*
 * IA32_ARCH_CAPABILITIES (SDM Vol. 4 Table 2-2; CPUID.07H:EDX[29]): this CPU is an interpreter
 * that does not speculate, cache data in fill buffers or predict branches, so it declares
 * itself not affected: RDCL_NO (0), SKIP_L1DFL_VMENTRY (3), SSB_NO (4), MDS_NO (5),
 * IF_PSCHANGE_MC_NO (6), TAA_NO (8), SBDR_SSDP_NO (13), FBSDP_NO (14), PSDP_NO (15),
 * BHI_NO (20), PBRSB_NO (24), GDS_NO (26), RFDS_NO (27). A guest kernel then skips page-table
 * isolation and buffer clearing it would otherwise apply to a Nehalem.
 */
#define ARCH_CAPABILITIES_VALUE                                                              \
	((1ULL << 0) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | (1ULL << 8) |  \
	 (1ULL << 13) | (1ULL << 14) | (1ULL << 15) | (1ULL << 20) | (1ULL << 24) |           \
	 (1ULL << 26) | (1ULL << 27))

/* CPUID.80000008H:EAX[7:0]: physical-address width; bits at or above it are reserved. */
#define MAXPHYADDR 40
#define PHYS_RSVD (~((1ULL << MAXPHYADDR) - 1))

/* ---- time-stamp counter --------------------------------------------------------------------- */

/* Host CLOCK_MONOTONIC in ticks of VCPU_TSC_HZ. */
static uint64_t host_ticks(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * VCPU_TSC_HZ +
	       (uint64_t)((unsigned __int128)(uint64_t)ts.tv_nsec * VCPU_TSC_HZ / 1000000000u);
}

uint64_t sys_read_tsc(struct vcpu *cpu)
{
	return host_ticks() + (uint64_t)cpu->sys->tsc_offset;
}

/* IA32_TSC write (SDM Vol. 3B 18.17): the counter continues from @v. */
static void write_tsc(struct vcpu *cpu, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;
	s->tsc_offset = (int64_t)(v - host_ticks());
	/* tell the LAPIC (a TSC deadline may now have passed); it answers -ENOENT if it does not
	 * care */
	if (s->intc && s->intc->wrmsr)
		s->intc->wrmsr(s->intc_opaque, MSR_IA32_TSC, v);
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* Memory types valid in the MTRRs (SDM Vol. 3A 11.11.1 Table 11-8): UC, WC, WT, WP, WB. */
static bool mtrr_type_ok(uint64_t t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

/* Every byte of a fixed-range MTRR is a memory type (SDM Vol. 3A 11.11.2.2). */
static bool mtrr_fixed_ok(uint64_t v)
{
	for (int i = 0; i < 8; i++)
		if (!mtrr_type_ok((v >> (8 * i)) & 0xff))
			return false;
	return true;
}

/* IA32_PAT (SDM Vol. 3A 11.12.2): eight 3-bit types (bits 7:3 of each byte reserved); 2 and 3
 * are reserved encodings. Writing either raises #GP(0). */
static bool pat_ok(uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		uint64_t t = (v >> (8 * i)) & 0xff;
		if (t > 7 || t == 2 || t == 3)
			return false;
	}
	return true;
}

/* Fixed-range MTRR index in sys->mtrr_fixed, or -1. */
static int mtrr_fixed_index(uint32_t msr)
{
	if (msr == MSR_IA32_MTRR_FIX64K_00000)
		return 0;
	if (msr == MSR_IA32_MTRR_FIX16K_80000)
		return 1;
	if (msr == MSR_IA32_MTRR_FIX16K_A0000)
		return 2;
	if (msr >= MSR_IA32_MTRR_FIX4K_C0000 && msr < MSR_IA32_MTRR_FIX4K_C0000 + 8)
		return 3 + (int)(msr - MSR_IA32_MTRR_FIX4K_C0000);
	return -1;
}

/* ---- RDMSR / WRMSR --------------------------------------------------------------------------- */

/* Read MSR @msr into *@val: 0, or -1 if the MSR does not exist (#GP(0)). */
static int msr_read(struct vcpu *cpu, uint32_t msr, uint64_t *val)
{
	struct vcpu_sys *s = cpu->sys;
	int i;

	switch (msr) {
	case MSR_IA32_TSC:
		*val = sys_read_tsc(cpu);
		return 0;
	case MSR_IA32_PLATFORM_ID:
		*val = 0; /* platform ID (bits 52:50) 0 */
		return 0;
	case MSR_IA32_APIC_BASE:
	case MSR_IA32_TSC_DEADLINE:
		/* the local APIC's (SDM Vol. 3A 11.4.4, 11.5.4.1); no APIC, no MSR */
		if (!s->intc || !s->intc->rdmsr)
			return -1;
		return s->intc->rdmsr(s->intc_opaque, msr, val) ? -1 : 0;
	case MSR_IA32_BIOS_SIGN_ID:
		*val = UCODE_REV << 32;
		return 0;
	case MSR_IA32_MTRRCAP:
		*val = MTRRCAP_VALUE;
		return 0;
	case MSR_IA32_ARCH_CAPABILITIES:
		*val = ARCH_CAPABILITIES_VALUE;
		return 0;
	case MSR_IA32_SYSENTER_CS:
		*val = s->sysenter_cs;
		return 0;
	case MSR_IA32_SYSENTER_ESP:
		*val = s->sysenter_esp;
		return 0;
	case MSR_IA32_SYSENTER_EIP:
		*val = s->sysenter_eip;
		return 0;
	case MSR_IA32_MCG_CAP:
		*val = 0; /* no banks, no IA32_MCG_CTL, no extended state, no CMCI, no LMCE */
		return 0;
	case MSR_IA32_MCG_STATUS:
		*val = 0; /* no machine check is ever in progress */
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*val = (s->misc_enable & MISC_ENABLE_RW) | MISC_ENABLE_RO;
		return 0;
	case MSR_IA32_DEBUGCTL:
		*val = 0; /* LBR, BTF, BTS: not implemented */
		return 0;
	case MSR_IA32_PAT:
		*val = s->pat;
		return 0;
	case MSR_IA32_MTRR_DEF_TYPE:
		*val = s->mtrr_def_type;
		return 0;
	case MSR_EFER:
		*val = s->efer;
		return 0;
	case MSR_STAR:
		*val = s->star;
		return 0;
	case MSR_LSTAR:
		*val = s->lstar;
		return 0;
	case MSR_CSTAR:
		*val = s->cstar;
		return 0;
	case MSR_SFMASK:
		*val = s->sfmask;
		return 0;
	case MSR_FS_BASE:
		*val = cpu->fs_base;
		return 0;
	case MSR_GS_BASE:
		*val = cpu->gs_base;
		return 0;
	case MSR_KERNEL_GS_BASE:
		*val = s->kernel_gs_base;
		return 0;
	case MSR_TSC_AUX:
		*val = s->tsc_aux;
		return 0;
	}
	if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * MTRR_NR_VAR) {
		*val = s->mtrr_var[msr - MSR_IA32_MTRR_PHYSBASE0];
		return 0;
	}
	i = mtrr_fixed_index(msr);
	if (i >= 0) {
		*val = s->mtrr_fixed[i];
		return 0;
	}
	return -1;
}

/* IA32_EFER (SDM Vol. 3A 2.2.1, 9.8.5): SCE, LME, NXE writable; LMA is read-only (a written
 * value is ignored, as KVM does); LME cannot change while CR0.PG = 1. */
static int write_efer(struct vcpu *cpu, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;
	uint64_t old = s->efer, nv;

	if (v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
		return -1;
	nv = (v & (EFER_SCE | EFER_LME | EFER_NXE)) | (old & EFER_LMA);
	if (((nv ^ old) & EFER_LME) && (s->cr0 & CR0_PG))
		return -1;
	s->efer = nv;
	sys_update_mode(cpu);
	if ((nv ^ old) & EFER_NXE)
		sys_flush_tlb_all(cpu); /* SDM Vol. 3A 4.10.4.1; mmu.h */
	return 0;
}

/* Write @v to MSR @msr: 0, or -1 for #GP(0) (no such MSR, read-only, reserved bits, invalid
 * value). Nothing changes when -1 is returned. */
static int msr_write(struct vcpu *cpu, uint32_t msr, uint64_t v)
{
	struct vcpu_sys *s = cpu->sys;
	int i;

	switch (msr) {
	case MSR_IA32_TSC:
		write_tsc(cpu, v);
		return 0;
	case MSR_IA32_APIC_BASE:
	case MSR_IA32_TSC_DEADLINE:
		if (!s->intc || !s->intc->wrmsr)
			return -1;
		return s->intc->wrmsr(s->intc_opaque, msr, v) ? -1 : 0;
	case MSR_IA32_BIOS_SIGN_ID:
		/* writing it (0, by convention) before CPUID loads the signature: nothing to do */
		return 0;
	case MSR_IA32_SYSENTER_CS:
		s->sysenter_cs = (uint32_t)v; /* a 32-bit register (SDM Vol. 4 Table 2-2) */
		return 0;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		/* SDM Vol. 2 WRMSR: non-canonical addresses raise #GP(0) */
		if (!is_canonical(v))
			return -1;
		if (msr == MSR_IA32_SYSENTER_ESP)
			s->sysenter_esp = v;
		else
			s->sysenter_eip = v;
		return 0;
	case MSR_IA32_MCG_STATUS:
		/* no machine check is ever in progress: clearing (writing 0) is all there is */
		return v ? -1 : 0;
	case MSR_IA32_MISC_ENABLE:
		if (v & ~(MISC_ENABLE_RW | MISC_ENABLE_RO))
			return -1;
		s->misc_enable = v & MISC_ENABLE_RW;
		return 0;
	case MSR_IA32_DEBUGCTL:
		return v ? -1 : 0; /* LBR/BTF/BTS/FREEZE_*: not implemented */
	case MSR_IA32_PAT:
		if (!pat_ok(v))
			return -1;
		s->pat = v;
		return 0;
	case MSR_IA32_MTRR_DEF_TYPE:
		/* type 7:0, FE (10), E (11); the rest reserved (SDM Vol. 3A 11.11.2.1) */
		if ((v & ~0xcffULL) || !mtrr_type_ok(v & 0xff))
			return -1;
		s->mtrr_def_type = v;
		return 0;
	case MSR_EFER:
		return write_efer(cpu, v);
	case MSR_STAR:
		s->star = v;
		return 0;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		if (!is_canonical(v))
			return -1;
		if (msr == MSR_LSTAR)
			s->lstar = v;
		else if (msr == MSR_CSTAR)
			s->cstar = v;
		else if (msr == MSR_FS_BASE)
			cpu->fs_base = v;
		else if (msr == MSR_GS_BASE)
			cpu->gs_base = v;
		else
			s->kernel_gs_base = v;
		return 0;
	case MSR_SFMASK:
		if (v >> 32) /* IA32_FMASK bits 63:32 reserved */
			return -1;
		s->sfmask = v;
		return 0;
	case MSR_TSC_AUX:
		if (v >> 32) /* bits 63:32 reserved */
			return -1;
		s->tsc_aux = v;
		return 0;
	}
	if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * MTRR_NR_VAR) {
		unsigned n = msr - MSR_IA32_MTRR_PHYSBASE0;
		/* SDM Vol. 3A 11.11.2.3 Figure 11-7: PHYSBASE = type 7:0, base MAXPHYADDR-1:12;
		 * PHYSMASK = V (11), mask MAXPHYADDR-1:12; everything else reserved */
		if (n % 2 == 0 && ((v & (PHYS_RSVD | 0xf00)) || !mtrr_type_ok(v & 0xff)))
			return -1;
		if (n % 2 == 1 && (v & (PHYS_RSVD | 0x7ff)))
			return -1;
		s->mtrr_var[n] = v;
		return 0;
	}
	i = mtrr_fixed_index(msr);
	if (i >= 0) {
		if (!mtrr_fixed_ok(v))
			return -1;
		s->mtrr_fixed[i] = v;
		return 0;
	}
	/* read-only (PLATFORM_ID, MTRRCAP, ARCH_CAPABILITIES, MCG_CAP) or not implemented */
	return -1;
}

/* RDMSR (SDM Vol. 2): EDX:EAX <- MSR[ECX]; #GP(0) at CPL > 0 or for a missing MSR. */
static void op_rdmsr(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v;
	sys_require_cpl0(cpu);
	if (msr_read(cpu, (uint32_t)cpu->gpr[R_RCX], &v))
		cpu_gp0(cpu);
	cpu->gpr[R_RAX] = (uint32_t)v;
	cpu->gpr[R_RDX] = v >> 32;
}

/* WRMSR (SDM Vol. 2): MSR[ECX] <- EDX:EAX. */
static void op_wrmsr(struct vcpu *cpu, const struct insn *in)
{
	uint64_t v = (cpu->gpr[R_RDX] << 32) | (uint32_t)cpu->gpr[R_RAX];
	sys_require_cpl0(cpu);
	if (msr_write(cpu, (uint32_t)cpu->gpr[R_RCX], v))
		cpu_gp0(cpu);
}

/* RDTSC (SDM Vol. 2): #GP(0) if CR4.TSD = 1 and CPL > 0. */
static void op_rdtsc(struct vcpu *cpu, const struct insn *in)
{
	uint64_t t;
	if ((cpu->sys->cr4 & CR4_TSD) && cpu->sys->cpl)
		cpu_gp0(cpu);
	t = sys_read_tsc(cpu);
	cpu->gpr[R_RAX] = (uint32_t)t;
	cpu->gpr[R_RDX] = t >> 32;
}

/* RDTSCP (SDM Vol. 2): RDTSC, and ECX <- IA32_TSC_AUX[31:0]. */
static void op_rdtscp(struct vcpu *cpu, const struct insn *in)
{
	op_rdtsc(cpu, in);
	cpu->gpr[R_RCX] = (uint32_t)cpu->sys->tsc_aux;
}

/* CPUID (SDM Vol. 2): any CPL (CPUID faulting is not implemented, MSR_PLATFORM_INFO #GPs). */
static void op_cpuid(struct vcpu *cpu, const struct insn *in)
{
	uint32_t r[4];
	cpu_cpuid_sys(cpu, (uint32_t)cpu->gpr[R_RAX], (uint32_t)cpu->gpr[R_RCX], r);
	cpu->gpr[R_RAX] = r[0];
	cpu->gpr[R_RBX] = r[1];
	cpu->gpr[R_RCX] = r[2];
	cpu->gpr[R_RDX] = r[3];
}

const struct insn_entry msr_insns[] = {
	{ ZYDIS_MNEMONIC_RDMSR, op_rdmsr },
	{ ZYDIS_MNEMONIC_WRMSR, op_wrmsr },
	{ ZYDIS_MNEMONIC_RDTSC, op_rdtsc },
	{ ZYDIS_MNEMONIC_RDTSCP, op_rdtscp },
	{ ZYDIS_MNEMONIC_CPUID, op_cpuid },
	{ 0, NULL },
};
