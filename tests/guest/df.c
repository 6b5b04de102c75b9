/* SPDX-License-Identifier: MIT */
/*
 * Double fault (Intel SDM Vol. 3A 6.15 "Interrupt 8", Table 6-4 classes, Table 6-5 "Conditions
 * for Generating a Double Fault"). #DF always pushes error code 0; its gate uses IST1 here. Its
 * saved CS:RIP is undefined (abort class), so only vector, error and stack are printed.
 *   - contributory then contributory: #GP whose gate is not present (-> #NP) gives #DF
 *   - page fault then page fault: #PF while pushing the #PF frame (RSP in an unmapped page)
 *   - page fault then contributory: #PF whose gate is not present gives #DF
 *   - benign then contributory is handled serially: #UD whose gate is not present raises
 *     #NP with error code 6*8 + IDT(2) + EXT(1) = 0x33 (6.13: EXT set, the #NP occurred while
 *     delivering an earlier exception); RIP = the UD2
 *   - for comparison an INT n (software) to a not-present gate: #NP(n*8+2), EXT = 0
 */
#include "guest.h"

__asm__(".text\n"
	/* read from rdi with RSP = rdi as well: the fault's frame cannot be pushed */
	".globl probe_pf_stack\n"
	"probe_pf_stack:\n"
	"	mov %rsp, %rsi\n"
	"	mov %rdi, %rsp\n"
	"	mov (%rdi), %rax\n"
	"	mov %rsi, %rsp\n"
	"	ret\n"
	".globl probe_ud2, probe_ud2_insn\n"
	"probe_ud2:\n"
	"probe_ud2_insn: ud2\n"
	"	ret\n"
	".globl probe_int41, probe_int41_insn\n"
	"probe_int41:\n"
	"probe_int41_insn: int $0x41\n"
	"	ret\n");
uint64_t probe_pf_stack(uint64_t), probe_ud2(uint64_t), probe_int41(uint64_t);
extern char probe_ud2_insn[], probe_int41_insn[];

static void show(const char *what, bool rip)
{
	printf("%s: vector=%lu err=%#lx stack=%s", what, last_exc.vector, last_exc.error,
	       last_exc.stack_top == IST1_TOP ? "ist1" : "other");
	if (rip)
		printf(" rip=%s", rip_name(last_exc.rip));
	printf("\n");
}

void test_main(void)
{
	name_addr((uint64_t)probe_ud2_insn, "probe_ud2");
	name_addr((uint64_t)probe_int41_insn, "probe_int41");

	/* #GP -> gate 13 not present -> #NP: contributory + contributory */
	set_gate(13, 0, 0, false);
	exc_clear();
	try_call(probe_read, 0x8000000000000000UL);
	show("#GP with absent #GP gate", false);
	printf("  exceptions seen: %lu\n", exc_count);
	set_gate(13, 0, 0, true);

	/* #PF on the stack while delivering #PF */
	exc_clear();
	try_call(probe_pf_stack, 0x0000008000000000UL);
	show("#PF with unmapped stack", false);
	printf("  exceptions seen: %lu\n", exc_count);

	/* #PF -> gate 14 not present -> #NP: page fault + contributory */
	set_gate(14, 0, 0, false);
	exc_clear();
	try_call(probe_read, 0x0000008000000000UL);
	show("#PF with absent #PF gate", false);
	set_gate(14, 0, 0, true);

	/* #UD (benign) -> gate 6 not present -> #NP, handled serially */
	set_gate(6, 0, 0, false);
	exc_clear();
	try_call(probe_ud2, 0);
	show("#UD with absent #UD gate", true);
	set_gate(6, 0, 0, true);

	/* INT 0x41 to an absent gate: #NP(0x41*8+2), no EXT */
	set_gate(0x41, 0, 0, false);
	exc_clear();
	try_call(probe_int41, 0);
	show("int 0x41 with absent gate", true);
	set_gate(0x41, 0, 0, true);

	/* the machine still works after all this */
	exc_clear();
	try_call(probe_ud2, 0);
	show("#UD", true);
}
