/* SPDX-License-Identifier: MIT */
/*
 * Canonical addresses (Intel SDM Vol. 3A 3.3.7.1; 6.15 "Interrupt 12", "Interrupt 13"): with
 * 48-bit linear addresses, bits 63:47 must be equal.
 *   - a data reference to a non-canonical address: #GP(0), RIP = the instruction, CR2 untouched
 *   - a reference through RSP or RBP (SS segment): #SS(0) (the #SS gate uses IST2 here, since
 *     the exception cannot be pushed on a non-canonical stack)
 *   - a jump to a non-canonical address: #GP(0) on the jump itself (Vol. 2A JMP: "If the target
 *     offset is non-canonical, #GP(0)"; RIP = the JMP)
 *   - the last canonical addresses on both sides are ordinary (unmapped here: #PF, CR2 = it)
 */
#include "guest.h"

__asm__(".text\n"
	".globl probe_rbp, probe_rbp_insn\n"
	"probe_rbp:\n"
	"	push %rbp\n"
	"	mov %rdi, %rbp\n"
	"probe_rbp_insn: mov 8(%rbp), %rax\n"
	"	pop %rbp\n"
	"	ret\n"
	".globl probe_rsp_read, probe_rsp_read_insn\n"
	"probe_rsp_read:\n"
	"	mov %rsp, %rsi\n"
	"	mov %rdi, %rsp\n"
	"probe_rsp_read_insn: mov (%rsp), %rax\n"
	"	mov %rsi, %rsp\n"
	"	ret\n");
uint64_t probe_rbp(uint64_t), probe_rsp_read(uint64_t);
extern char probe_rbp_insn[], probe_rsp_read_insn[];

static void try(const char *what, uint64_t (*fn)(uint64_t), uint64_t addr)
{
	exc_clear();
	write_cr2(0xc2c2c2c2UL);
	int r = try_call(fn, addr);
	if (!r)
		printf("%s: no exception, value=%#lx\n", what, try_result);
	else
		print_exc(what, true);
}

void test_main(void)
{
	name_addr((uint64_t)probe_rbp_insn, "probe_rbp");
	name_addr((uint64_t)probe_rsp_read_insn, "probe_rsp_read");
	/* #SS (and #GP, which some VMMs raise instead) must not push onto the bad stack */
	set_gate(12, 0, 2, true);
	set_gate(13, 0, 2, true);

	try("read 0x0000800000000000", probe_read, 0x0000800000000000UL);
	try("read 0xffff7ffffffffff8", probe_read, 0xffff7ffffffffff8UL);
	try("read 0x8000000000000000", probe_read, 0x8000000000000000UL);
	try("write 0x0000800000001000", probe_write, 0x0000800000001000UL);
	try("write 0xfff0000000000000", probe_write, 0xfff0000000000000UL);
	try("rbp-based read 0x0000900000000000", probe_rbp, 0x0000900000000000UL);
	try("rsp-based read 0x0000900000000000", probe_rsp_read, 0x0000900000000000UL);
	try("push with rsp 0x0000800000000008", probe_push, 0x0000800000000008UL);
	printf("  (its handler ran on %s)\n", last_exc.stack_top == IST2_TOP ? "ist2" : "another stack");
	try("jmp 0x0000800000000000", probe_jmp, 0x0000800000000000UL);
	try("jmp 0xdead000000000000", probe_jmp, 0xdead000000000000UL);
	try("call 0x0000800000000000", probe_exec, 0x0000800000000000UL);
	/* canonical on both sides of the hole, not mapped: #PF */
	try("read 0x00007ffffffffff8", probe_read, 0x00007ffffffffff8UL);
	try("read 0xffff800000000000", probe_read, 0xffff800000000000UL);
	/* the address is formed modulo 2^64, then checked: base + displacement wrapping to 0x1000
	 * is canonical and mapped */
	*(volatile uint64_t *)0x1000UL = 0x1234;
	try("rbp-based read wrapping to 0x1000", probe_rbp, 0xfffffffffffffff8UL + 0x1000);
}
