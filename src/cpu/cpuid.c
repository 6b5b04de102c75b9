/* SPDX-License-Identifier: MIT */
/*
 * CPUID as our virtual CPU implements it (Intel SDM Vol. 2A, CPUID). The guest must see
 * exactly the features this CPU executes in 64-bit user mode, nothing the host happens to
 * have: software chooses code paths from these bits (glibc's ifuncs, for one), and a bit set
 * here for an unimplemented instruction would turn into #UD in the guest.
 *
 * The identity is that of a Nehalem-class Core i7 (family 6, model 1AH), a real processor with
 * the same SSE set and without AES-NI, PCLMULQDQ, AVX or XSAVE, so software tuned per model
 * makes sensible choices. The brand string says what it really is.
 */
#include "cpu.h"
#include "cpuid.h"
#include "omnivisor/vcpu_sys.h"

_Static_assert(25000000ULL * 80 == VCPU_TSC_HZ, "CPUID 15H disagrees with VCPU_TSC_HZ");

/* Highest basic and extended leaves (CPUID.00H:EAX, CPUID.80000000H:EAX). */
#define CPUID_MAX_BASIC 0x7u
#define CPUID_MAX_EXT 0x80000008u

/* CPUID.01H:EAX version information (SDM Vol. 2A Figure 3-6): stepping 5, model 1AH
 * (extended model 1, model A), family 6. */
#define CPUID_1_EAX_VERSION 0x000106a5u
/* CPUID.01H:EBX: bits 15:8 CLFLUSH line size in 8-byte units (64 bytes), bits 23:16 maximum
 * logical processor IDs (1), bits 31:24 initial APIC ID (0). */
#define CPUID_1_EBX ((8u << 8) | (1u << 16))

/* CPUID.01H:ECX, SDM Vol. 2A Table 3-10 "Feature Information Returned in the ECX Register" */
#define CPUID_1_ECX_SSE3 (1u << 0)
#define CPUID_1_ECX_SSSE3 (1u << 9)
#define CPUID_1_ECX_CX16 (1u << 13)
#define CPUID_1_ECX_SSE4_1 (1u << 19)
#define CPUID_1_ECX_SSE4_2 (1u << 20)
#define CPUID_1_ECX_POPCNT (1u << 23)
#define CPUID_1_ECX                                                                          \
	(CPUID_1_ECX_SSE3 | CPUID_1_ECX_SSSE3 | CPUID_1_ECX_CX16 | CPUID_1_ECX_SSE4_1 |      \
	 CPUID_1_ECX_SSE4_2 | CPUID_1_ECX_POPCNT)

/* CPUID.01H:EDX, SDM Vol. 2A Table 3-11 "Feature Information Returned in the EDX Register".
 * Only what exists in user mode: no PSE/PAE/MSR/APIC/... (system features we do not model). */
#define CPUID_1_EDX_FPU (1u << 0)
#define CPUID_1_EDX_TSC (1u << 4)
#define CPUID_1_EDX_CX8 (1u << 8)
#define CPUID_1_EDX_CMOV (1u << 15)
#define CPUID_1_EDX_CLFSH (1u << 19)
#define CPUID_1_EDX_MMX (1u << 23)
#define CPUID_1_EDX_FXSR (1u << 24)
#define CPUID_1_EDX_SSE (1u << 25)
#define CPUID_1_EDX_SSE2 (1u << 26)
#define CPUID_1_EDX                                                                          \
	(CPUID_1_EDX_FPU | CPUID_1_EDX_TSC | CPUID_1_EDX_CX8 | CPUID_1_EDX_CMOV |             \
	 CPUID_1_EDX_CLFSH | CPUID_1_EDX_MMX | CPUID_1_EDX_FXSR | CPUID_1_EDX_SSE |           \
	 CPUID_1_EDX_SSE2)

/* CPUID.80000001H:ECX, SDM Vol. 2A Table 3-8 (leaf 80000001H): LAHF/SAHF in 64-bit mode
 * (bit 0), PREFETCHW (bit 8; we execute it as the hint it is). */
/* Leaf 7 subleaf 0 EBX bit 9, ERMS: REP MOVSB/STOSB are the fast way to copy and fill (true of
 * string.c's page-at-a-time paths, so glibc's memcpy/memset use them for large sizes). */
#define CPUID_7_EBX_ERMS (1u << 9)

#define CPUID_80000001_ECX_LAHF_LM (1u << 0)
#define CPUID_80000001_ECX_PREFETCHW (1u << 8)
#define CPUID_80000001_ECX (CPUID_80000001_ECX_LAHF_LM | CPUID_80000001_ECX_PREFETCHW)

/* CPUID.80000001H:EDX: SYSCALL/SYSRET (bit 11), execute disable (bit 20), Intel 64 (bit 29). */
#define CPUID_80000001_EDX_SYSCALL (1u << 11)
#define CPUID_80000001_EDX_NX (1u << 20)
#define CPUID_80000001_EDX_LM (1u << 29)
#define CPUID_80000001_EDX                                                                   \
	(CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX | CPUID_80000001_EDX_LM)

/* CPUID.80000006H:ECX: L2 line size 64 (7:0), 8-way (15:12 = 6), 256 KiB (31:16). */
#define CPUID_80000006_ECX ((256u << 16) | (6u << 12) | 64u)
/* CPUID.80000008H:EAX: 40 physical and 48 linear address bits. */
#define CPUID_80000008_EAX ((48u << 8) | 40u)

/* "GenuineIntel" in EBX, EDX, ECX order. */
#define VENDOR_EBX 0x756e6547u /* "Genu" */
#define VENDOR_EDX 0x49656e69u /* "ineI" */
#define VENDOR_ECX 0x6c65746eu /* "ntel" */

static const char brand[48] = "Omnivisor virtual x86-64 CPU";

/*
 * Deterministic cache parameters, CPUID.04H (SDM Vol. 2A Table 3-8, leaf 04H), Nehalem-like:
 * EAX: type (4:0; 1 data, 2 instruction, 3 unified), level (7:5), self-initialising (8);
 * EBX: ways-1 (31:22), partitions-1 (21:12), line size-1 (11:0); ECX: sets-1;
 * EDX bit 1: inclusive of lower levels. Leaf 2 points here with descriptor FFH.
 */
struct cache_desc {
	uint32_t eax, ebx, ecx, edx;
};
#define CACHE(type, level, ways, line, size, incl)                                           \
	{ (type) | ((level) << 5) | (1u << 8), (((ways)-1u) << 22) | ((line)-1u),            \
	  (size) / ((ways) * (line)) - 1u, (incl) ? 2u : 0u }
static const struct cache_desc caches[] = {
	CACHE(1u, 1u, 8u, 64u, 32u * 1024, 0),		/* L1d 32 KiB 8-way */
	CACHE(2u, 1u, 4u, 64u, 32u * 1024, 0),		/* L1i 32 KiB 4-way */
	CACHE(3u, 2u, 8u, 64u, 256u * 1024, 0),	/* L2 256 KiB 8-way */
	CACHE(3u, 3u, 16u, 64u, 8u * 1024 * 1024, 1), /* L3 8 MiB 16-way, inclusive */
};

static void set4(uint32_t out[4], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	out[0] = a;
	out[1] = b;
	out[2] = c;
	out[3] = d;
}

void cpu_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	/* SDM Vol. 2A CPUID: an input above the highest basic or extended leaf returns the data
	 * of the highest basic leaf. */
	if (leaf >= 0x80000000u ? leaf > CPUID_MAX_EXT : leaf > CPUID_MAX_BASIC)
		leaf = CPUID_MAX_BASIC;

	switch (leaf) {
	case 0x0:
		set4(out, CPUID_MAX_BASIC, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX);
		break;
	case 0x1:
		set4(out, CPUID_1_EAX_VERSION, CPUID_1_EBX, CPUID_1_ECX, CPUID_1_EDX);
		break;
	case 0x2:
		/* AL = 1 (one call needed); descriptor FFH: "use leaf 4" (SDM Table 3-12). */
		set4(out, 0x0000ff01u, 0, 0, 0);
		break;
	case 0x4:
		if (subleaf < sizeof(caches) / sizeof(caches[0]))
			set4(out, caches[subleaf].eax, caches[subleaf].ebx, caches[subleaf].ecx,
			     caches[subleaf].edx);
		else
			set4(out, 0, 0, 0, 0); /* type 0: no more caches */
		break;
	case 0x7:
		/* subleaf 0: EAX = highest subleaf (0); nothing else of leaf 7 is implemented */
		set4(out, 0, subleaf == 0 ? CPUID_7_EBX_ERMS : 0, 0, 0);
		break;
	case 0x80000000u:
		set4(out, CPUID_MAX_EXT, 0, 0, 0);
		break;
	case 0x80000001u:
		set4(out, 0, 0, CPUID_80000001_ECX, CPUID_80000001_EDX);
		break;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		memcpy(out, brand + (leaf - 0x80000002u) * 16, 16);
		break;
	case 0x80000006u:
		set4(out, 0, 0, CPUID_80000006_ECX, 0);
		break;
	case 0x80000008u:
		set4(out, CPUID_80000008_EAX, 0, 0, 0);
		break;
	default:
		/* 03H (no serial number), 05H (no MONITOR), 06H (no thermal/power features),
		 * 07H is above: only ERMS (no BMI, AVX2, FSGSBASE, ...),
		 * 80000005H (reserved on Intel), 80000007H (nothing advertised). */
		set4(out, 0, 0, 0, 0);
		break;
	}
}

/* ==========================================================================================
 * System mode (full virtualization): the guest is an operating system, so the profile also
 * describes the system features the vCPU implements (paging, MSRs, APIC, MTRR/PAT, ...),
 * exactly those and nothing else, and tells nothing of a hypervisor: no CPUID.01H:ECX[31], no
 * 4000_0000H leaves. Identity: an Intel Xeon E5504 (Nehalem-EP, family 6 model 1AH stepping 5,
 * 2.00 GHz, 4 MiB L3, no Hyper-Threading, no Turbo Boost), the real processor closest to what
 * we implement at the TSC frequency we report (VCPU_TSC_HZ). Unlike that part, the profile
 * also has the leaves 0BH/15H/16H (topology and TSC frequency, so a kernel need not calibrate),
 * 1 GiB pages, RDTSCP and IA32_ARCH_CAPABILITIES (this CPU does not speculate). Every choice
 * is listed, with reasons, in docs/system-registers.md.
 * ========================================================================================== */
#define SYS_MAX_BASIC 0x16u
#define SYS_MAX_EXT 0x80000008u

/* CPUID.01H:EDX (SDM Vol. 2A Table 3-11) */
#define SYS_1_EDX                                                                            \
	((1u << 0) |  /* FPU */                                                              \
	 (1u << 2) |  /* DE: CR4.DE, DR4/DR5 #UD (breakpoints themselves: not implemented) */ \
	 (1u << 3) |  /* PSE: CR4.PSE (required by x86-64 Linux; ignored by IA-32e paging) */ \
	 (1u << 4) |  /* TSC, CR4.TSD */                                                      \
	 (1u << 5) |  /* MSR: RDMSR/WRMSR */                                                  \
	 (1u << 6) |  /* PAE (IA-32e paging; legacy PAE paging is not implemented) */         \
	 (1u << 7) |  /* MCE: CR4.MCE (no #MC is ever raised) */                              \
	 (1u << 8) |  /* CX8 */                                                               \
	 (1u << 12) | /* MTRR: the MTRR MSRs (stored; memory types have no effect) */         \
	 (1u << 13) | /* PGE: global pages */                                                 \
	 (1u << 14) | /* MCA: IA32_MCG_CAP/STATUS with 0 banks */                             \
	 (1u << 15) | /* CMOV */                                                              \
	 (1u << 16) | /* PAT: IA32_PAT (stored) */                                            \
	 (1u << 19) | /* CLFSH */                                                             \
	 (1u << 23) | /* MMX */                                                               \
	 (1u << 24) | /* FXSR */                                                              \
	 (1u << 25) | /* SSE */                                                               \
	 (1u << 26) | /* SSE2 */                                                              \
	 (1u << 27))  /* SS: self-snoop (caches are always coherent here) */
#define SYS_1_EDX_APIC (1u << 9)
/* CPUID.01H:ECX (Table 3-10): the user-mode set; never bit 31 (hypervisor present) */
#define SYS_1_ECX CPUID_1_ECX
#define SYS_1_ECX_TSC_DEADLINE (1u << 24)

/* CPUID.06H:EAX bit 2, ARAT: the APIC timer runs in every C-state (ours never stops). */
#define SYS_6_EAX_ARAT (1u << 2)
/* CPUID.07H.0:EDX bit 29: IA32_ARCH_CAPABILITIES (MSR 10AH) exists. */
#define SYS_7_EDX_ARCH_CAPABILITIES (1u << 29)

/* CPUID.80000001H:EDX: SYSCALL, NX, Page1GB (26), RDTSCP (27), LM */
#define SYS_80000001_EDX (CPUID_80000001_EDX | (1u << 26) | (1u << 27))
/* CPUID.80000007H:EDX bit 8: invariant TSC */
#define SYS_80000007_EDX (1u << 8)

static const char sys_brand[48] = "Intel(R) Xeon(R) CPU           E5504  @ 2.00GHz";

/* Leaf 04H of the E5504: L1d 32 KiB 8-way, L1i 32 KiB 4-way, L2 256 KiB 8-way, L3 4 MiB 16-way
 * inclusive. One core, one thread per cache (EAX[31:26] and EAX[25:14] = 0). */
static const struct cache_desc sys_caches[] = {
	CACHE(1u, 1u, 8u, 64u, 32u * 1024, 0),
	CACHE(2u, 1u, 4u, 64u, 32u * 1024, 0),
	CACHE(3u, 2u, 8u, 64u, 256u * 1024, 0),
	CACHE(3u, 3u, 16u, 64u, 4u * 1024 * 1024, 1),
};

void cpu_cpuid_sys(struct vcpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	const struct vcpu_sys *s = cpu->sys;
	bool intc = s->intc != NULL;
	uint32_t apic_id = s->index & 0xff;

	/* SDM Vol. 2A CPUID: above the highest basic or extended leaf (4000_0000H included), the
	 * data of the highest basic leaf. */
	if (leaf >= 0x80000000u ? leaf > SYS_MAX_EXT : leaf > SYS_MAX_BASIC) {
		leaf = SYS_MAX_BASIC;
		subleaf = 0;
	}

	switch (leaf) {
	case 0x0:
		/* IA32_MISC_ENABLE[22] (Limit CPUID Maxval): leaf 0 reports 2 (SDM Vol. 4 2-2) */
		set4(out, (s->misc_enable & (1ULL << 22)) ? 2u : SYS_MAX_BASIC, VENDOR_EBX, VENDOR_ECX,
		     VENDOR_EDX);
		break;
	case 0x1:
		set4(out, CPUID_1_EAX_VERSION, (apic_id << 24) | (1u << 16) | (8u << 8),
		     SYS_1_ECX | (intc ? SYS_1_ECX_TSC_DEADLINE : 0),
		     SYS_1_EDX | (intc ? SYS_1_EDX_APIC : 0));
		break;
	case 0x2:
		set4(out, 0x0000ff01u, 0, 0, 0); /* FFH: cache and TLB data are in leaf 04H */
		break;
	case 0x4:
		if (subleaf < sizeof(sys_caches) / sizeof(sys_caches[0]))
			set4(out, sys_caches[subleaf].eax, sys_caches[subleaf].ebx,
			     sys_caches[subleaf].ecx, sys_caches[subleaf].edx);
		else
			set4(out, 0, 0, 0, 0);
		break;
	case 0x6:
		set4(out, intc ? SYS_6_EAX_ARAT : 0, 0, 0, 0);
		break;
	case 0x7:
		if (subleaf == 0)
			set4(out, 0, CPUID_7_EBX_ERMS, 0, SYS_7_EDX_ARCH_CAPABILITIES);
		else
			set4(out, 0, 0, 0, 0);
		break;
	case 0xb:
		/* x2APIC topology (SDM Vol. 3A 9.9.1): one thread per core, one core per package.
		 * ECX[15:8] level type (1 SMT, 2 core, 0 invalid), EDX x2APIC ID. */
		if (subleaf == 0)
			set4(out, 0, 1, (1u << 8) | 0, apic_id);
		else if (subleaf == 1)
			set4(out, 0, 1, (2u << 8) | 1, apic_id);
		else
			set4(out, 0, 0, subleaf & 0xff, apic_id);
		break;
	case 0x15:
		/* TSC/crystal ratio 80/1 with a 25 MHz crystal: VCPU_TSC_HZ = 2.0 GHz */
		set4(out, 1, 80, 25000000u, 0);
		break;
	case 0x16:
		/* base, maximum and bus (reference) frequency in MHz */
		set4(out, (uint32_t)(VCPU_TSC_HZ / 1000000), (uint32_t)(VCPU_TSC_HZ / 1000000), 100, 0);
		break;
	case 0x80000000u:
		set4(out, SYS_MAX_EXT, 0, 0, 0);
		break;
	case 0x80000001u:
		set4(out, 0, 0, CPUID_80000001_ECX, SYS_80000001_EDX);
		break;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		memcpy(out, sys_brand + (leaf - 0x80000002u) * 16, 16);
		break;
	case 0x80000006u:
		set4(out, 0, 0, CPUID_80000006_ECX, 0);
		break;
	case 0x80000007u:
		set4(out, 0, 0, 0, SYS_80000007_EDX);
		break;
	case 0x80000008u:
		set4(out, CPUID_80000008_EAX, 0, 0, 0);
		break;
	default:
		/* 03H (no PSN), 05H (no MONITOR), 08H, 09H (no DCA), 0AH (no architectural
		 * performance monitoring: version 0), 0CH, 0DH (no XSAVE), 0EH-14H (no RDT, SGX,
		 * PT), 80000005H (reserved on Intel) */
		set4(out, 0, 0, 0, 0);
		break;
	}
}
