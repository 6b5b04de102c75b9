/* SPDX-License-Identifier: MIT */
/*
 * CPUID (Intel SDM Vol. 2A CPUID, Tables 3-8, 3-10, 3-11): the identity and the feature bits
 * this machine set needs. The identity differs by design between Omnivisor (GenuineIntel,
 * family 6, model 1AH, TSC leaf 15H) and QEMU's -cpu max, so the QEMU run compares with
 * cpuid.qemu.ref. Required of both: hypervisor bit (leaf 1 ECX[31]) = 0 (QEMU is run with
 * -cpu max, which sets it: see the README), and 1 for LM, NX, Page1GB, SYSCALL (80000001H EDX
 * 29, 20, 26, 11), FPU, TSC, MSR, PAE, APIC, PGE, FXSR, SSE, SSE2 (1 EDX 0, 4, 5, 6, 9, 13, 24,
 * 25, 26), RDTSCP (80000001H EDX 27), and physical/linear address widths.
 */
#include "guest.h"

static void bit(const char *name, uint32_t reg, int b)
{
	printf(" %s=%u", name, reg >> b & 1);
}

void test_main(void)
{
	uint32_t r[4];
	char vendor[13];
	cpuid(0, 0, r);
	*(uint32_t *)&vendor[0] = r[1];
	*(uint32_t *)&vendor[4] = r[3];
	*(uint32_t *)&vendor[8] = r[2];
	vendor[12] = 0;
	uint32_t max_basic = r[0];
	printf("vendor=%s\n", vendor);
	cpuid(0x80000000, 0, r);
	printf("max_ext=%#x\n", r[0]);

	cpuid(1, 0, r);
	uint32_t fam = r[0] >> 8 & 0xf, model = r[0] >> 4 & 0xf;
	if (fam == 0xf)
		fam += r[0] >> 20 & 0xff; /* Vol. 2A Figure 3-6: display family */
	if (fam == 6 || fam == 0xf)
		model += (r[0] >> 16 & 0xf) << 4;
	printf("family=%#x model=%#x\n", fam, model);
	printf("leaf1 edx:");
	bit("fpu", r[3], 0);
	bit("tsc", r[3], 4);
	bit("msr", r[3], 5);
	bit("pae", r[3], 6);
	bit("cx8", r[3], 8);
	bit("apic", r[3], 9);
	bit("pge", r[3], 13);
	bit("cmov", r[3], 15);
	bit("fxsr", r[3], 24);
	bit("sse", r[3], 25);
	bit("sse2", r[3], 26);
	printf("\nleaf1 ecx:");
	bit("sse3", r[2], 0);
	bit("cx16", r[2], 13);
	bit("hypervisor", r[2], 31);
	printf("\n");
	cpuid(0x80000001, 0, r);
	printf("leaf 80000001 edx:");
	bit("syscall", r[3], 11);
	bit("nx", r[3], 20);
	bit("page1gb", r[3], 26);
	bit("rdtscp", r[3], 27);
	bit("lm", r[3], 29);
	printf("\n");
	cpuid(0x80000008, 0, r);
	printf("address bits: physical=%u linear=%u\n", r[0] & 0xff, r[0] >> 8 & 0xff);
	if (max_basic >= 0x15) {
		cpuid(0x15, 0, r);
		printf("leaf 15: eax=%u ebx=%u ecx=%u\n", r[0], r[1], r[2]);
	} else {
		printf("leaf 15: absent\n");
	}
	/* a leaf above the maximum returns the data of the highest basic leaf (Vol. 2A CPUID:
	 * "If a value entered for CPUID.EAX is higher than the maximum input value for basic or
	 * extended function ... the data for the highest basic information leaf is returned") */
	uint32_t hi[4], above[4];
	cpuid(max_basic, 0, hi);
	cpuid(0x4fffffff, 0, above);
	printf("leaf above max = highest basic leaf: %s\n",
	       hi[0] == above[0] && hi[1] == above[1] && hi[2] == above[2] && hi[3] == above[3]
		       ? "yes"
		       : "no");
}
