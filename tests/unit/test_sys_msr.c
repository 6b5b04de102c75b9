/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of RDMSR/WRMSR, RDTSC/RDTSCP and CPUID in system mode (src/cpu/msr.c, cpuid.c's
 * cpu_cpuid_sys). Expected values: Intel SDM Vol. 2 (RDMSR, WRMSR, RDTSC, RDTSCP, CPUID and its
 * Tables 3-8/3-10/3-11), Vol. 4 Table 2-2 (architectural MSRs), Vol. 3A 2.2.1 (EFER), 11.11
 * (MTRRs), 11.12 (PAT). Bit positions are written out here independently of the sources.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "cpu/cpuid.h"
#include "sys_ctl_env.h"

#define BIT(n) (1ULL << (n))
#define E(s) struct env *e = *(s); struct vcpu *cpu = &e->cpu; struct vcpu_sys *sys = e->sys; \
	(void)cpu; (void)sys

/* rdmsr / wrmsr through the handlers: -1 or the exception vector */
static int rdmsr(struct env *e, uint32_t msr, uint64_t *v)
{
	e->cpu.gpr[R_RCX] = msr;
	e->cpu.gpr[R_RAX] = e->cpu.gpr[R_RDX] = 0xdeadbeefdeadbeefULL;
	int r = exec1(e, 0x0f, 0x32);
	if (r < 0) {
		assert_int_equal(e->cpu.gpr[R_RAX] >> 32, 0);
		assert_int_equal(e->cpu.gpr[R_RDX] >> 32, 0);
		*v = e->cpu.gpr[R_RAX] | e->cpu.gpr[R_RDX] << 32;
	}
	return r;
}

static int wrmsr(struct env *e, uint32_t msr, uint64_t v)
{
	e->cpu.gpr[R_RCX] = msr;
	e->cpu.gpr[R_RAX] = (uint32_t)v | 0xffffffff00000000ULL; /* upper halves are ignored */
	e->cpu.gpr[R_RDX] = v >> 32;
	return exec1(e, 0x0f, 0x30);
}

static uint64_t rd(struct env *e, uint32_t msr)
{
	uint64_t v = 0;
	assert_int_equal(rdmsr(e, msr, &v), -1);
	return v;
}

#define WR_OK(e, msr, v) assert_int_equal(wrmsr((e), (msr), (v)), -1)
#define WR_GP(e, msr, v) assert_int_equal(wrmsr((e), (msr), (v)), EXC_GP)

/* RDMSR/WRMSR: #GP(0) at CPL > 0 (SDM Vol. 2), and for an MSR that does not exist. */
static void test_msr_privilege_and_unknown(void **state)
{
	E(state);
	uint64_t v;
	sys_set_cpl(cpu, 3);
	assert_int_equal(rdmsr(e, 0xc0000080, &v), EXC_GP);
	WR_GP(e, 0xc0000100, 0);
	sys_set_cpl(cpu, 0);
	/* IA32_FEATURE_CONTROL: absent without VMX/SMX/LMCE; SPEC_CTRL, PLATFORM_INFO, x2APIC */
	static const uint32_t absent[] = { 0x3a, 0x48, 0xce, 0x140, 0x802, 0x17b, 0x6e0, 0x1b,
					   0x3b, 0xc0000104, 0x4b564d00, 0x40000000 };
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		assert_int_equal(rdmsr(e, absent[i], &v), EXC_GP);
		assert_int_equal(cpu->rip, CODE);
		WR_GP(e, absent[i], 0);
	}
}

/* IA32_EFER (SDM Vol. 3A 2.2.1, 9.8.5): reserved bits #GP; LME cannot change with CR0.PG = 1;
 * LMA is read-only; NXE flushes the TLB and reaches the MMU. */
static void test_efer(void **state)
{
	E(state);
	uint64_t n = sys->tlb.nr_flush_all;
	assert_int_equal(rd(e, 0xc0000080), BIT(8) | BIT(10));
	WR_GP(e, 0xc0000080, BIT(8) | BIT(10) | BIT(1));
	WR_GP(e, 0xc0000080, BIT(8) | BIT(10) | BIT(12)); /* SVME: AMD only */
	WR_GP(e, 0xc0000080, BIT(10));			    /* LME cleared while paging */
	WR_OK(e, 0xc0000080, BIT(0) | BIT(8) | BIT(11));    /* LMA written 0: ignored */
	assert_int_equal(sys->efer, BIT(0) | BIT(8) | BIT(10) | BIT(11));
	assert_int_equal(sys->mmu.efer, sys->efer);
	assert_int_equal(sys->tlb.nr_flush_all, n + 1);
}

/* EFER.LME may change while paging is off (32-bit start state). */
static void test_efer_lme_paging_off(void **state)
{
	struct env *e;
	env_setup((void **)&e);
	WR_OK(e, 0xc0000080, BIT(8));
	assert_int_equal(e->sys->efer, BIT(8));
	WR_OK(e, 0xc0000080, 0);
	assert_int_equal(e->sys->efer, 0);
	env_teardown((void **)&e);
}

/* SYSCALL MSRs and bases (SDM Vol. 2 WRMSR: non-canonical LSTAR, CSTAR?, FS/GS/KERNEL_GS base,
 * SYSENTER_ESP/EIP #GP(0); IA32_FMASK and IA32_TSC_AUX bits 63:32 reserved). */
static void test_syscall_msrs(void **state)
{
	static const uint32_t addr_msrs[] = { 0xc0000082, 0xc0000083, 0xc0000100, 0xc0000101,
					      0xc0000102, 0x175, 0x176 };
	E(state);
	for (size_t i = 0; i < sizeof(addr_msrs) / sizeof(addr_msrs[0]); i++) {
		WR_GP(e, addr_msrs[i], 0x0000800000000000ULL);
		WR_OK(e, addr_msrs[i], 0xffff800012345678ULL);
		assert_int_equal(rd(e, addr_msrs[i]), 0xffff800012345678ULL);
	}
	assert_int_equal(cpu->fs_base, 0xffff800012345678ULL);
	assert_int_equal(cpu->gs_base, 0xffff800012345678ULL);
	assert_int_equal(sys->kernel_gs_base, 0xffff800012345678ULL);
	WR_OK(e, 0xc0000081, 0x0023001000000000ULL);
	assert_int_equal(sys->star, 0x0023001000000000ULL);
	WR_GP(e, 0xc0000084, BIT(32));
	WR_OK(e, 0xc0000084, 0x47700);
	assert_int_equal(rd(e, 0xc0000084), 0x47700);
	WR_GP(e, 0xc0000103, BIT(32));
	WR_OK(e, 0xc0000103, 0x1234);
	WR_OK(e, 0x174, 0x10);
	assert_int_equal(rd(e, 0x174), 0x10);
}

/* IA32_PAT (SDM Vol. 3A 11.12.2): power-up value 0007040600070406H; types 2, 3 and values above
 * 7 are reserved (#GP(0)). */
static void test_pat(void **state)
{
	E(state);
	assert_int_equal(rd(e, 0x277), 0x0007040600070406ULL);
	WR_GP(e, 0x277, 0x0007040600070402ULL);
	WR_GP(e, 0x277, 0x0007040600070403ULL);
	WR_GP(e, 0x277, 0x0807040600070406ULL);
	WR_OK(e, 0x277, 0x0007010600070406ULL);
	assert_int_equal(rd(e, 0x277), 0x0007010600070406ULL);
}

/* MTRRs (SDM Vol. 3A 11.11): MTRRCAP = VCNT 8, FIX, WC; valid types 0, 1, 4, 5, 6; reserved
 * bits and bits above MAXPHYADDR (40) raise #GP(0). */
static void test_mtrr(void **state)
{
	E(state);
	assert_int_equal(rd(e, 0xfe), BIT(10) | BIT(8) | 8);
	WR_GP(e, 0xfe, 0);
	/* IA32_MTRR_DEF_TYPE: type 7:0, FE 10, E 11 */
	WR_GP(e, 0x2ff, 0xc02);
	WR_GP(e, 0x2ff, 0xc06 | BIT(9));
	WR_GP(e, 0x2ff, 0xc07);
	WR_OK(e, 0x2ff, 0xc06);
	assert_int_equal(rd(e, 0x2ff), 0xc06);
	/* variable range 7: PHYSBASE7 = 20EH, PHYSMASK7 = 20FH */
	WR_GP(e, 0x20e, 0x80000000ULL | 2);
	WR_GP(e, 0x20e, 0x80000000ULL | BIT(8));
	WR_GP(e, 0x20e, BIT(40));
	WR_OK(e, 0x20e, 0x80000000ULL | 0);
	WR_GP(e, 0x20f, 0xff80000000ULL | BIT(11) | 1);
	WR_GP(e, 0x20f, BIT(40) | BIT(11));
	WR_OK(e, 0x20f, 0xff80000000ULL | BIT(11));
	assert_int_equal(rd(e, 0x20e), 0x80000000ULL);
	assert_int_equal(rd(e, 0x20f), 0xff80000000ULL | BIT(11));
	assert_int_equal(rdmsr(e, 0x210, &(uint64_t){ 0 }), EXC_GP); /* only 8 ranges */
	/* fixed ranges: 250H, 258H, 259H, 268H-26FH; every byte a type */
	static const uint32_t fixed[] = { 0x250, 0x258, 0x259, 0x268, 0x26f };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		WR_GP(e, fixed[i], 0x0606060606060602ULL);
		WR_OK(e, fixed[i], 0x0506040100060605ULL);
		assert_int_equal(rd(e, fixed[i]), 0x0506040100060605ULL);
	}
	assert_int_equal(rdmsr(e, 0x251, &(uint64_t){ 0 }), EXC_GP);
	assert_int_equal(rdmsr(e, 0x270, &(uint64_t){ 0 }), EXC_GP);
}

/* IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2): fast strings on, BTS/PEBS unavailable; bit 22 limits
 * CPUID.0:EAX to 2; features absent here cannot be enabled. Read-only identification MSRs. */
static void test_misc_and_ids(void **state)
{
	E(state);
	uint32_t r[4];
	assert_int_equal(rd(e, 0x1a0), BIT(0) | BIT(11) | BIT(12));
	WR_GP(e, 0x1a0, BIT(0) | BIT(11) | BIT(12) | BIT(18)); /* MONITOR FSM */
	WR_GP(e, 0x1a0, BIT(0) | BIT(34));		       /* XD disable */
	WR_OK(e, 0x1a0, BIT(0) | BIT(22));
	assert_int_equal(rd(e, 0x1a0), BIT(0) | BIT(11) | BIT(12) | BIT(22));
	cpu_cpuid_sys(cpu, 0, 0, r);
	assert_int_equal(r[0], 2);
	WR_OK(e, 0x1a0, BIT(11) | BIT(12)); /* fast strings off, limit off */
	cpu_cpuid_sys(cpu, 0, 0, r);
	assert_int_equal(r[0], 0x16);
	/* IA32_PLATFORM_ID, IA32_BIOS_SIGN_ID (microcode loader), ARCH_CAPABILITIES, MCG_CAP */
	assert_int_equal(rd(e, 0x17), 0);
	WR_GP(e, 0x17, 0);
	WR_OK(e, 0x8b, 0);
	assert_int_equal(rd(e, 0x8b) & 0xffffffff, 0);
	assert_true(rd(e, 0x8b) >> 32);
	uint64_t ac = rd(e, 0x10a);
	assert_true(ac & BIT(0)); /* RDCL_NO */
	assert_true(ac & BIT(5)); /* MDS_NO */
	assert_false(ac & BIT(7)); /* no TSX_CTRL */
	WR_GP(e, 0x10a, ac);
	assert_int_equal(rd(e, 0x179), 0);
	WR_GP(e, 0x179, 0);
	assert_int_equal(rd(e, 0x17a), 0);
	WR_OK(e, 0x17a, 0);
	assert_int_equal(rd(e, 0x1d9), 0);
	WR_OK(e, 0x1d9, 0);
	WR_GP(e, 0x1d9, 1);
}

/* IA32_APIC_BASE and IA32_TSC_DEADLINE belong to the local APIC: #GP without one, forwarded
 * with one (its -EINVAL becomes #GP(0)). */
static uint64_t fake_base = 0xfee00900;
static int fake_rdmsr(void *o, uint32_t msr, uint64_t *v)
{
	if (msr != 0x1b)
		return -2;
	*v = fake_base;
	return 0;
}
static int fake_wrmsr(void *o, uint32_t msr, uint64_t v)
{
	if (msr != 0x1b)
		return -2;
	if (v & BIT(10))
		return -22;
	fake_base = v;
	return 0;
}
static int fake_pending(void *o)
{
	return -1;
}
static const struct vcpu_intc_ops fake_intc = {
	.pending = fake_pending, .rdmsr = fake_rdmsr, .wrmsr = fake_wrmsr,
};

static void test_apic_msrs(void **state)
{
	E(state);
	uint64_t v;
	assert_int_equal(rdmsr(e, 0x1b, &v), EXC_GP);
	vcpu_sys_set_intc(cpu, &fake_intc, NULL);
	assert_int_equal(rd(e, 0x1b), 0xfee00900);
	WR_OK(e, 0x1b, 0xfee00800);
	assert_int_equal(fake_base, 0xfee00800);
	WR_GP(e, 0x1b, 0xfee00c00);
	assert_int_equal(rdmsr(e, 0x6e0, &v), EXC_GP); /* the intc does not own it */
}

/* RDTSC/RDTSCP (SDM Vol. 2): EDX:EAX, upper halves cleared; #GP(0) with CR4.TSD at CPL > 0;
 * RDTSCP also loads ECX from IA32_TSC_AUX. The TSC runs at VCPU_TSC_HZ and IA32_TSC writes move
 * it (SDM Vol. 3B 18.17). */
static void test_tsc(void **state)
{
	E(state);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	WR_OK(e, 0x10, 1000);
	uint64_t t0 = rd(e, 0x10);
	assert_true(t0 >= 1000 && t0 < 1000 + VCPU_TSC_HZ / 10); /* within 100 ms */
	nanosleep(&ts, NULL);
	cpu->gpr[R_RAX] = cpu->gpr[R_RDX] = ~0ULL;
	assert_int_equal(exec1(e, 0x0f, 0x31), -1);
	uint64_t t1 = cpu->gpr[R_RAX] | cpu->gpr[R_RDX] << 32;
	assert_int_equal(cpu->gpr[R_RAX] >> 32, 0);
	assert_true(t1 >= t0 + VCPU_TSC_HZ / 100); /* 10 ms at 2 GHz */
	WR_OK(e, 0xc0000103, 0x5a5a);
	cpu->gpr[R_RCX] = ~0ULL;
	assert_int_equal(exec1(e, 0x0f, 0x01, 0xf9), -1); /* rdtscp */
	assert_int_equal(cpu->gpr[R_RCX], 0x5a5a);
	assert_true((cpu->gpr[R_RAX] | cpu->gpr[R_RDX] << 32) >= t1);
	sys_set_cpl(cpu, 3);
	assert_int_equal(exec1(e, 0x0f, 0x31), -1);
	sys->cr4 |= CR4_TSD;
	assert_int_equal(exec1(e, 0x0f, 0x31), EXC_GP);
	assert_int_equal(exec1(e, 0x0f, 0x01, 0xf9), EXC_GP);
	sys_set_cpl(cpu, 0);
	assert_int_equal(exec1(e, 0x0f, 0x31), -1);
}

/* ---- CPUID ---------------------------------------------------------------------------------- */

static void test_cpuid_identity(void **state)
{
	E(state);
	uint32_t r[4];
	char s[49];

	cpu_cpuid_sys(cpu, 0, 0, r);
	assert_int_equal(r[0], 0x16);
	assert_memory_equal(&r[1], "Genu", 4);
	assert_memory_equal(&r[3], "ineI", 4);
	assert_memory_equal(&r[2], "ntel", 4);
	cpu_cpuid_sys(cpu, 1, 0, r);
	assert_int_equal(r[0], 0x106a5); /* family 6, model 1AH, stepping 5 */
	assert_int_equal(r[1], (1u << 16) | (8u << 8));
	for (uint32_t l = 0x80000002u; l <= 0x80000004u; l++)
		cpu_cpuid_sys(cpu, l, 0, (uint32_t *)(s + (l - 0x80000002u) * 16));
	s[48] = 0;
	assert_string_equal(s, "Intel(R) Xeon(R) CPU           E5504  @ 2.00GHz");
	/* the user-mode profile is unchanged */
	cpu_cpuid(0, 0, r);
	assert_int_equal(r[0], 7);
}

/* Feature bits (SDM Vol. 2A Tables 3-10, 3-11; leaf 80000001H): exactly what is implemented,
 * no hypervisor bit (ECX[31]); APIC and TSC-deadline only with an interrupt controller. */
static void test_cpuid_features(void **state)
{
	E(state);
	uint32_t r[4];
	const uint32_t edx = BIT(0) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) |
			     BIT(12) | BIT(13) | BIT(14) | BIT(15) | BIT(16) | BIT(19) | BIT(23) |
			     BIT(24) | BIT(25) | BIT(26) | BIT(27);
	const uint32_t ecx = BIT(0) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(23);

	cpu_cpuid_sys(cpu, 1, 0, r);
	assert_int_equal(r[3], edx);
	assert_int_equal(r[2], ecx);
	vcpu_sys_set_intc(cpu, &fake_intc, NULL);
	cpu_cpuid_sys(cpu, 1, 0, r);
	assert_int_equal(r[3], edx | BIT(9));
	assert_int_equal(r[2], ecx | BIT(24));
	cpu_cpuid_sys(cpu, 6, 0, r);
	assert_int_equal(r[0], BIT(2)); /* ARAT */
	cpu_cpuid_sys(cpu, 7, 0, r);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1], BIT(9)); /* ERMS only */
	assert_int_equal(r[2], 0);
	assert_int_equal(r[3], BIT(29)); /* IA32_ARCH_CAPABILITIES */
	cpu_cpuid_sys(cpu, 0x80000001u, 0, r);
	assert_int_equal(r[2], BIT(0) | BIT(8));
	assert_int_equal(r[3], BIT(11) | BIT(20) | BIT(26) | BIT(27) | BIT(29));
	cpu_cpuid_sys(cpu, 0x80000007u, 0, r);
	assert_int_equal(r[3], BIT(8));
	cpu_cpuid_sys(cpu, 0x80000008u, 0, r);
	assert_int_equal(r[0], 0x3028);
	cpu_cpuid_sys(cpu, 0xd, 0, r); /* no XSAVE */
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	cpu_cpuid_sys(cpu, 0xa, 0, r); /* no architectural PMU */
	assert_int_equal(r[0], 0);
}

/* Leaves 15H/16H give the 2.0 GHz TSC (SDM Vol. 3B 18.7.3: TSC = ECX * EBX / EAX); above the
 * maximum (4000_0000H, no hypervisor leaves) the highest basic leaf answers; topology and
 * caches are consistent with one thread. */
static void test_cpuid_leaves(void **state)
{
	E(state);
	uint32_t r[4], h[4];

	cpu_cpuid_sys(cpu, 0x15, 0, r);
	assert_int_equal((uint64_t)r[2] * r[1] / r[0], VCPU_TSC_HZ);
	cpu_cpuid_sys(cpu, 0x16, 0, r);
	assert_int_equal(r[0], 2000);
	assert_int_equal(r[1], 2000);
	assert_int_equal(r[2], 100);
	cpu_cpuid_sys(cpu, 0x40000000u, 0, h);
	assert_memory_equal(h, r, sizeof(r));
	cpu_cpuid_sys(cpu, 0x17, 0, h);
	assert_memory_equal(h, r, sizeof(r));
	cpu_cpuid_sys(cpu, 0x80000009u, 0, h);
	assert_memory_equal(h, r, sizeof(r));
	cpu_cpuid_sys(cpu, 2, 0, r);
	assert_int_equal(r[0], 0xff01);
	cpu_cpuid_sys(cpu, 4, 3, r); /* L3: 4 MiB = 16 ways x 64 B x 4096 sets */
	assert_int_equal(r[0] & 0x1f, 3);
	assert_int_equal((r[0] >> 5) & 7, 3);
	assert_int_equal(((r[1] >> 22) + 1) * ((r[1] & 0xfff) + 1) * (r[2] + 1), 4u << 20);
	cpu_cpuid_sys(cpu, 4, 4, r);
	assert_int_equal(r[0] & 0x1f, 0);
	cpu_cpuid_sys(cpu, 0xb, 0, r);
	assert_int_equal(r[1], 1);
	assert_int_equal(r[2], 0x100);
	cpu_cpuid_sys(cpu, 0xb, 1, r);
	assert_int_equal(r[2], 0x201);
	cpu_cpuid_sys(cpu, 0xb, 2, r);
	assert_int_equal(r[1], 0);
	assert_int_equal((r[2] >> 8) & 0xff, 0);
}

/* The CPUID instruction in a program: registers zero-extended, any CPL. */
static void test_cpuid_insn(void **state)
{
	E(state);
	sys_set_cpl(cpu, 3);
	cpu->gpr[R_RAX] = 0xffffffff00000001ULL;
	cpu->gpr[R_RCX] = ~0ULL;
	assert_int_equal(exec1(e, 0x0f, 0xa2), -1);
	assert_int_equal(cpu->gpr[R_RAX], 0x106a5);
	assert_int_equal(cpu->gpr[R_RCX] >> 31, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, env_setup64, env_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_msr_privilege_and_unknown),
		T(test_efer),
		cmocka_unit_test(test_efer_lme_paging_off),
		T(test_syscall_msrs),
		T(test_pat),
		T(test_mtrr),
		T(test_misc_and_ids),
		T(test_apic_msrs),
		T(test_tsc),
		T(test_cpuid_identity),
		T(test_cpuid_features),
		T(test_cpuid_leaves),
		T(test_cpuid_insn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
