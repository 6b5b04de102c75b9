/* SPDX-License-Identifier: MIT */
/*
 * MSRs (Intel SDM Vol. 4 Table 2-2; Vol. 2B RDMSR/WRMSR; Vol. 3A 5.8.8, 3.4.4):
 *   - RDMSR/WRMSR of an MSR that does not exist (0x12345678): #GP(0), RIP = the instruction
 *   - STAR, LSTAR, SFMASK (IA32_FMASK), KERNEL_GS_BASE read back what was written
 *   - WRMSR of a non-canonical address to LSTAR, FS_BASE, GS_BASE or KERNEL_GS_BASE: #GP(0)
 *   - a reserved EFER bit (bit 1): #GP(0); EFER reads LME|LMA|SCE|NXE
 *   - SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE (Vol. 2B SWAPGS); %gs: uses the base
 *   - FS.base by WRMSR is what %fs: adds; MOV to FS with a GDT selector loads the
 *     descriptor's 32-bit base and clears bits 63:32 (3.4.4: "in 64-bit mode... the base is
 *     loaded from the descriptor", IA32_FS_BASE reflects it)
 *   - IA32_APIC_BASE: 0xFEE00000, enable (bit 11), BSP (bit 8)
 */
#include "guest.h"

__asm__(".text\n"
	".globl probe_rdmsr, probe_rdmsr_insn\n"
	"probe_rdmsr:\n"
	"	mov %edi, %ecx\n"
	"probe_rdmsr_insn: rdmsr\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	ret\n"
	/* wrmsr(ecx = wr_msr, edx:eax = rdi) */
	".globl probe_wrmsr, probe_wrmsr_insn\n"
	"probe_wrmsr:\n"
	"	mov wr_msr(%rip), %ecx\n"
	"	mov %edi, %eax\n"
	"	mov %rdi, %rdx\n"
	"	shr $32, %rdx\n"
	"probe_wrmsr_insn: wrmsr\n"
	"	xor %eax, %eax\n"
	"	ret\n");
uint64_t probe_rdmsr(uint64_t), probe_wrmsr(uint64_t);
extern char probe_rdmsr_insn[], probe_wrmsr_insn[];
uint32_t wr_msr;

static void rd(const char *what, uint32_t msr)
{
	exc_clear();
	if (!try_call(probe_rdmsr, msr))
		printf("%s: rdmsr %#x = %#lx\n", what, msr, try_result);
	else
		print_exc(what, false);
}

static void wr(const char *what, uint32_t msr, uint64_t v)
{
	exc_clear();
	wr_msr = msr;
	if (!try_call(probe_wrmsr, v))
		printf("%s: wrmsr %#x ok\n", what, msr);
	else
		print_exc(what, false);
}

static uint64_t buf[4] __attribute__((aligned(16))) = { 0x1111, 0x2222, 0x3333, 0x4444 };
static uint64_t buf2[4] __attribute__((aligned(16))) = { 0xaaaa, 0xbbbb, 0xcccc, 0xdddd };

void test_main(void)
{
	name_addr((uint64_t)probe_rdmsr_insn, "probe_rdmsr");
	name_addr((uint64_t)probe_wrmsr_insn, "probe_wrmsr");

	rd("unknown msr", 0x12345678);
	wr("unknown msr", 0x12345678, 0);
	rd("unknown msr 0xc0011234", 0xc0011234);

	rd("efer", MSR_EFER);
	wr("efer reserved bit 1", MSR_EFER, rdmsr(MSR_EFER) | 2);
	rd("apic base (bits 11:8)", MSR_APIC_BASE);

	wr("star", MSR_STAR, 0x0023001000000000UL);
	rd("star", MSR_STAR);
	wr("lstar", MSR_LSTAR, 0xffffffff81234560UL);
	rd("lstar", MSR_LSTAR);
	wr("lstar non-canonical", MSR_LSTAR, 0x0000800000000000UL);
	rd("lstar after", MSR_LSTAR);
	wr("sfmask", MSR_SFMASK, 0x47700);
	rd("sfmask", MSR_SFMASK);
	wr("kernel_gs_base", MSR_KERNEL_GS_BASE, 0xffff888012345678UL);
	rd("kernel_gs_base", MSR_KERNEL_GS_BASE);
	wr("kernel_gs_base non-canonical", MSR_KERNEL_GS_BASE, 0x8000000000000000UL);
	wr("fs_base non-canonical", MSR_FS_BASE, 0x0001000000000000UL);
	wr("gs_base non-canonical", MSR_GS_BASE, 0x00ff000000000000UL);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0);

	/* FS base via MSR */
	wrmsr(MSR_FS_BASE, (uint64_t)buf);
	uint64_t v;
	__asm__ volatile("mov %%fs:8, %0" : "=r"(v));
	printf("fs:8 with fs_base=&buf: %#lx\n", v);

	/* GS base and SWAPGS */
	wrmsr(MSR_GS_BASE, (uint64_t)buf);
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)buf2);
	__asm__ volatile("mov %%gs:16, %0" : "=r"(v));
	printf("gs:16 before swapgs: %#lx\n", v);
	__asm__ volatile("swapgs" ::: "memory");
	__asm__ volatile("mov %%gs:16, %0" : "=r"(v));
	printf("gs:16 after swapgs: %#lx\n", v);
	printf("after swapgs: gs_base=%s kernel_gs_base=%s\n",
	       rdmsr(MSR_GS_BASE) == (uint64_t)buf2 ? "buf2" : "wrong",
	       rdmsr(MSR_KERNEL_GS_BASE) == (uint64_t)buf ? "buf" : "wrong");
	__asm__ volatile("swapgs" ::: "memory");
	printf("after second swapgs: gs_base=%s\n",
	       rdmsr(MSR_GS_BASE) == (uint64_t)buf ? "buf" : "wrong");

	/* FS base via a segment descriptor (GDT 0x38: data, DPL 0, base = &buf2, limit 4G) */
	uint64_t base = (uint64_t)buf2;
	gdt[SEL_FSDATA / 8] = 0xffffUL | ((base & 0xffffff) << 16) | (0x92UL << 40) |
			      (0xcfUL << 48) | ((base >> 24 & 0xff) << 56);
	wrmsr(MSR_FS_BASE, 0x0000123400000000UL);
	__asm__ volatile("mov %0, %%fs" ::"r"((uint16_t)SEL_FSDATA));
	uint64_t fsb = rdmsr(MSR_FS_BASE);
	printf("mov fs, 0x38: fs_base=%s (%s)\n", fsb == base ? "descriptor base" : "other",
	       fsb >> 32 ? "high bits set" : "high bits clear");
	__asm__ volatile("mov %%fs:24, %0" : "=r"(v));
	printf("fs:24 after mov fs: %#lx\n", v);
	uint16_t sel;
	__asm__ volatile("mov %%fs, %0" : "=r"(sel));
	printf("fs selector: %#x\n", sel);

	/* TSC_AUX round trip (read back by RDTSCP in misc) */
	wr("tsc_aux", MSR_TSC_AUX, 0xabcd1234);
	rd("tsc_aux", MSR_TSC_AUX);
}
