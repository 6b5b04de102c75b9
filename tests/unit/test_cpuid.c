/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of CPUID as the virtual CPU reports it (src/cpu/cpuid.c). The differential tests
 * cannot compare CPUID with the host (ours describes what we implement, not the host), so the
 * exact values are checked here against the bit positions of Intel SDM Vol. 2A, CPUID
 * (Tables 3-8, 3-10, 3-11), written out independently of cpuid.c's constants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"

#define BIT(n) (1u << (n))

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	memset(r, 0xa5, 4 * sizeof(r[0]));
	cpu_cpuid(leaf, subleaf, r);
}

static void test_vendor_and_max_leaf(void **state)
{
	uint32_t r[4];
	char vendor[13];

	cpuid(0, 0, r);
	assert_int_equal(r[0], 7);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	assert_string_equal(vendor, "GenuineIntel");
}

static void test_leaf1_version(void **state)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	/* family 6, model 1AH (extended model 1), stepping 5: a Nehalem Core i7 */
	assert_int_equal((r[0] >> 8) & 0xf, 6);
	assert_int_equal(((r[0] >> 16) & 0xf) << 4 | ((r[0] >> 4) & 0xf), 0x1a);
	assert_int_equal(r[0] & 0xf, 5);
	assert_int_equal((r[1] >> 8) & 0xff, 8); /* CLFLUSH line: 8 * 8 = 64 bytes */
	assert_int_equal(r[1] >> 24, 0);	 /* initial APIC ID */
}

/* Leaf 1 ECX/EDX must be exactly the implemented set. */
static void test_leaf1_features(void **state)
{
	uint32_t r[4];
	const uint32_t ecx = BIT(0)     /* SSE3 */
			     | BIT(9)   /* SSSE3 */
			     | BIT(13)  /* CMPXCHG16B */
			     | BIT(19)  /* SSE4.1 */
			     | BIT(20)  /* SSE4.2 */
			     | BIT(23); /* POPCNT */
	const uint32_t edx = BIT(0)     /* FPU */
			     | BIT(4)   /* TSC */
			     | BIT(8)   /* CMPXCHG8B */
			     | BIT(15)  /* CMOV */
			     | BIT(19)  /* CLFLUSH */
			     | BIT(23)  /* MMX */
			     | BIT(24)  /* FXSAVE/FXRSTOR */
			     | BIT(25)  /* SSE */
			     | BIT(26); /* SSE2 */

	cpuid(1, 0, r);
	assert_int_equal(r[2], ecx);
	assert_int_equal(r[3], edx);
	/* spelled out: what must never appear */
	assert_false(r[2] & BIT(1));  /* PCLMULQDQ */
	assert_false(r[2] & BIT(3));  /* MONITOR */
	assert_false(r[2] & BIT(12)); /* FMA */
	assert_false(r[2] & BIT(22)); /* MOVBE */
	assert_false(r[2] & BIT(25)); /* AES */
	assert_false(r[2] & BIT(26)); /* XSAVE */
	assert_false(r[2] & BIT(27)); /* OSXSAVE */
	assert_false(r[2] & BIT(28)); /* AVX */
	assert_false(r[2] & BIT(30)); /* RDRAND */
	assert_false(r[2] & BIT(31)); /* hypervisor present */
	assert_false(r[3] & BIT(28)); /* HTT */
}

static void test_leaf7_empty(void **state)
{
	uint32_t r[4];

	for (uint32_t sub = 0; sub < 3; sub++) {
		cpuid(7, sub, r);
		assert_int_equal(r[0], 0);
		/* subleaf 0: only ERMS (bit 9, SDM Vol. 2A Table 3-8); no BMI1/2, AVX2, FSGSBASE,
		 * RDSEED, SHA ... */
		assert_int_equal(r[1], sub == 0 ? BIT(9) : 0);
		assert_int_equal(r[2], 0);
		assert_int_equal(r[3], 0);
	}
}

/* Leaf 2 defers to leaf 4; leaf 4 lists L1d, L1i, L2, L3 and then a null entry. */
static void test_cache_leaves(void **state)
{
	static const struct {
		uint32_t type, level, size;
	} want[] = {
		{ 1, 1, 32 << 10 }, { 2, 1, 32 << 10 }, { 3, 2, 256 << 10 }, { 3, 3, 8 << 20 },
	};
	uint32_t r[4];

	cpuid(2, 0, r);
	assert_int_equal(r[0] & 0xff, 1);
	assert_int_equal((r[0] >> 8) & 0xff, 0xff);
	for (uint32_t i = 0; i < 4; i++) {
		cpuid(4, i, r);
		uint32_t ways = (r[1] >> 22) + 1, parts = ((r[1] >> 12) & 0x3ff) + 1;
		uint32_t line = (r[1] & 0xfff) + 1, sets = r[2] + 1;
		assert_int_equal(r[0] & 0x1f, want[i].type);
		assert_int_equal((r[0] >> 5) & 7, want[i].level);
		assert_int_equal(line, 64);
		assert_int_equal(ways * parts * line * sets, want[i].size);
	}
	cpuid(4, 4, r);
	assert_int_equal(r[0] & 0x1f, 0);
}

static void test_extended_leaves(void **state)
{
	uint32_t r[4];
	char brand[49];

	cpuid(0x80000000u, 0, r);
	assert_int_equal(r[0], 0x80000008u);
	cpuid(0x80000001u, 0, r);
	assert_int_equal(r[2], BIT(0) | BIT(8));	       /* LAHF/SAHF, PREFETCHW */
	assert_int_equal(r[3], BIT(11) | BIT(20) | BIT(29)); /* SYSCALL, NX, LM */
	assert_false(r[3] & BIT(27));			       /* RDTSCP */
	assert_false(r[3] & BIT(26));			       /* 1 GiB pages */
	assert_false(r[2] & BIT(5));			       /* LZCNT */

	for (uint32_t i = 0; i < 3; i++) {
		cpuid(0x80000002u + i, 0, r);
		memcpy(brand + 16 * i, r, 16);
	}
	brand[48] = 0;
	assert_string_equal(brand, "Omnivisor virtual x86-64 CPU");

	cpuid(0x80000006u, 0, r);
	assert_int_equal(r[2] & 0xff, 64);
	assert_int_equal(r[2] >> 16, 256);
	cpuid(0x80000008u, 0, r);
	assert_int_equal(r[0] & 0xff, 40);
	assert_int_equal((r[0] >> 8) & 0xff, 48);
}

/* SDM: a leaf above the maximum (basic or extended) returns the highest basic leaf's data. */
static void test_out_of_range(void **state)
{
	uint32_t r[4], top[4];

	cpuid(7, 0, top);
	const uint32_t leaves[] = { 8, 0xb, 0xd, 0x40000000u, 0x7fffffffu, 0x80000009u,
				    0xffffffffu };
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		cpuid(leaves[i], 0, r);
		assert_memory_equal(r, top, sizeof(top));
	}
	cpuid(3, 0, r); /* no processor serial number */
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
}

/* The CPUID instruction: leaf from EAX, subleaf from ECX, 32-bit results zero-extended. */
static void test_cpuid_instruction(void **state)
{
	static const uint8_t code[] = { 0x0f, 0xa2 };
	static struct vcpu cpu;
	struct insn in;
	uint32_t r[4];

	assert_int_equal(cpu_decode_one(code, sizeof(code), 0x1000, &in), 0);
	memset(&cpu, 0, sizeof(cpu));
	cpu.gpr[R_RAX] = 0xffffffff00000004ULL;
	cpu.gpr[R_RCX] = 0x1234567800000002ULL;
	cpu.gpr[R_RDX] = cpu.gpr[R_RBX] = ~0ULL;
	in.fn(&cpu, &in);
	cpu_cpuid(4, 2, r);
	assert_int_equal(cpu.gpr[R_RAX], r[0]);
	assert_int_equal(cpu.gpr[R_RBX], r[1]);
	assert_int_equal(cpu.gpr[R_RCX], r[2]);
	assert_int_equal(cpu.gpr[R_RDX], r[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vendor_and_max_leaf),
		cmocka_unit_test(test_leaf1_version),
		cmocka_unit_test(test_leaf1_features),
		cmocka_unit_test(test_leaf7_empty),
		cmocka_unit_test(test_cache_leaves),
		cmocka_unit_test(test_extended_leaves),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_cpuid_instruction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
