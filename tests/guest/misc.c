/* SPDX-License-Identifier: MIT */
/*
 * Odds and ends of system mode:
 *   - CR0.TS=1: an SSE instruction or an x87 instruction raises #NM (Intel SDM Vol. 3A 2.5,
 *     Table 2-2 / 13.4 "Interrupt 7"); WAIT raises #NM when MP=1 and TS=1; CLTS clears TS
 *     (Vol. 2A CLTS) and the instructions run again
 *   - CR0.EM=1: SSE raises #UD, x87 raises #NM (Table 2-2)
 *   - port I/O to a port no device decodes reads all ones (PC bus: nothing drives the data
 *     lines, they float high), for 8, 16 and 32-bit IN; writes are dropped
 *   - RDTSC advances; RDTSCP returns IA32_TSC_AUX in ECX (Vol. 2B RDTSCP) and a TSC not below
 *     an earlier RDTSC
 *   - #DE (DIV by 0), #UD (UD2), #BP (INT3, trap: RIP after it), INTO is #UD in 64-bit mode
 */
#include "guest.h"

__asm__(".text\n"
	".globl p_movaps, p_movaps_insn, p_fld1, p_fld1_insn, p_fwait, p_fwait_insn\n"
	"p_movaps:\n"
	"p_movaps_insn: movaps %xmm0, %xmm1\n"
	"	ret\n"
	"p_fld1:\n"
	"p_fld1_insn: fld1\n"
	"	fstp %st(0)\n"
	"	ret\n"
	"p_fwait:\n"
	"p_fwait_insn: fwait\n"
	"	ret\n"
	".globl p_div0, p_div0_insn, p_ud2, p_ud2_insn, p_int3, p_int3_after, p_into, p_into_insn\n"
	"p_div0:\n"
	"	xor %edx, %edx\n"
	"	mov $1, %eax\n"
	"	xor %ecx, %ecx\n"
	"p_div0_insn: div %ecx\n"
	"	ret\n"
	"p_ud2:\n"
	"p_ud2_insn: ud2\n"
	"	ret\n"
	"p_int3:\n"
	"	int3\n"
	"p_int3_after: ret\n"
	"p_into:\n"
	"p_into_insn: .byte 0xce\n" /* INTO: invalid in 64-bit mode */
	"	ret\n");
uint64_t p_movaps(uint64_t), p_fld1(uint64_t), p_fwait(uint64_t), p_div0(uint64_t),
	p_ud2(uint64_t), p_int3(uint64_t), p_into(uint64_t);
extern char p_movaps_insn[], p_fld1_insn[], p_fwait_insn[], p_div0_insn[], p_ud2_insn[],
	p_int3_after[], p_into_insn[];

static void t(const char *what, uint64_t (*fn)(uint64_t))
{
	exc_clear();
	if (!try_call(fn, 0))
		printf("%s: ok\n", what);
	else
		print_exc(what, false);
}

void test_main(void)
{
	name_addr((uint64_t)p_movaps_insn, "movaps");
	name_addr((uint64_t)p_fld1_insn, "fld1");
	name_addr((uint64_t)p_fwait_insn, "fwait");
	name_addr((uint64_t)p_div0_insn, "div");
	name_addr((uint64_t)p_ud2_insn, "ud2");
	name_addr((uint64_t)p_int3_after, "after_int3");
	name_addr((uint64_t)p_into_insn, "into");

	__asm__ volatile("fninit");
	printf("cr0.mp=%lu cr0.em=%lu cr0.ts=%lu\n", read_cr0() >> 1 & 1, read_cr0() >> 2 & 1,
	       read_cr0() >> 3 & 1);
	t("movaps ts=0", p_movaps);
	t("fld1 ts=0", p_fld1);
	write_cr0(read_cr0() | CR0_TS);
	t("movaps ts=1", p_movaps);
	t("fld1 ts=1", p_fld1);
	t("fwait ts=1 mp=1", p_fwait);
	write_cr0(read_cr0() & ~(uint64_t)CR0_MP);
	t("fwait ts=1 mp=0", p_fwait);
	write_cr0(read_cr0() | CR0_MP);
	__asm__ volatile("clts");
	printf("after clts: cr0.ts=%lu\n", read_cr0() >> 3 & 1);
	t("movaps after clts", p_movaps);
	t("fld1 after clts", p_fld1);
	write_cr0(read_cr0() | CR0_EM);
	t("movaps em=1", p_movaps);
	t("fld1 em=1", p_fld1);
	write_cr0(read_cr0() & ~(uint64_t)CR0_EM);

	/* unassigned ports */
	printf("inb 0x2f0=%#x inw 0x2f0=%#x inl 0x2f0=%#x\n", inb(0x2f0), inw(0x2f0), inl(0x2f0));
	printf("inb 0x4321=%#x inl 0x1234=%#x\n", inb(0x4321), inl(0x1234));
	outb(0x2f0, 0x55);
	outl(0x4320, 0x12345678);
	printf("inb 0x2f0 after a write=%#x\n", inb(0x2f0));

	/* TSC */
	uint64_t t1 = rdtsc();
	for (volatile int i = 0; i < 10000; i++)
		;
	uint64_t t2 = rdtsc();
	printf("rdtsc advances: %s\n", t2 > t1 ? "yes" : "no");
	wrmsr(MSR_TSC_AUX, 0x5a17);
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	uint64_t t3 = ((uint64_t)hi << 32) | lo;
	printf("rdtscp: aux=%#x tsc >= earlier rdtsc: %s\n", aux, t3 >= t2 ? "yes" : "no");

	/* basic exceptions */
	t("div by 0", p_div0);
	t("ud2", p_ud2);
	t("into", p_into);
	set_handler(3, resume_handler);
	exc_clear();
	try_call(p_int3, 0);
	print_exc("int3", false);
	set_handler(3, NULL);
}
