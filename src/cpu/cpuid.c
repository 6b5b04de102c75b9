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
