/* SPDX-License-Identifier: MIT */
/*
 * Self-modifying code. x86 guarantees that a store to code is seen by the next fetch of it
 * (Intel SDM Vol. 3A 9.1.3 "Handling Self- and Cross-Modifying Code": the processor detects
 * the write), so each result below is exact, and omnivisor's decoded-block cache must agree:
 *   smc-rewrite    rewrite a function between calls
 *   smc-next       an instruction patches the immediate of the instruction right after it
 *   smc-loop       a loop patches its own body while it runs (5 x 1 + 5 x 100)
 *   smc-syscall    read(2) from a pipe overwrites code that ran before
 *   smc-crosspage  an instruction straddling two pages; its immediate, in the second page,
 *                  is rewritten
 *   smc-alias      one memfd page mapped twice: written through the read-write mapping,
 *                  executed through the read-execute one
 */
#include "lib.h"

	.data
pipefd:	.long 0, 0

	.section .rodata
/* Templates copied into executable memory. RIP-relative references stay within a template. */
next_tpl:
	mov byte ptr [rip + next_imm], 42
	.byte 0xb8			/* mov eax, 7 */
next_imm:
	.long 7
	ret
next_end:
loop_tpl:
	push rbx
	xor ebx, ebx
	mov ecx, 10
1:	cmp ecx, 5
	jne 2f
	mov byte ptr [rip + loop_imm], 100
2:	.byte 0x83, 0xc3		/* add ebx, imm8 */
loop_imm:
	.byte 1
	dec ecx
	jnz 1b
	mov eax, ebx
	pop rbx
	ret
loop_end:
mov77:	.byte 0xb8, 77, 0, 0, 0, 0xc3	/* mov eax, 77; ret */
memfd_name: .asciz "smc"

	.text
/* copy rcx bytes from rsi to rdi */
copy:
	rep movsb
	ret

	.globl _start
_start:
	SYS __NR_mmap, 0, 16384, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	mov r12, rax

	/* smc-rewrite: mov eax, imm32; ret, with imm32 = 1, 2, 3 */
	mov byte ptr [r12], 0xb8
	mov byte ptr [r12 + 5], 0xc3
	.irp v, 1, 2, 3
	mov dword ptr [r12 + 1], \v
	call r12
	REPORT "smc-rewrite \v"
	.endr

	/* smc-next: run twice (the second run starts from the already patched code) */
	lea rdi, [r12 + 64]
	lea rsi, [rip + next_tpl]
	mov ecx, offset next_end - next_tpl
	call copy
	lea rax, [r12 + 64]
	call rax
	REPORT "smc-next first"
	lea rdi, [r12 + 64]
	lea rsi, [rip + next_tpl]
	mov ecx, offset next_end - next_tpl
	call copy
	lea rax, [r12 + 64]
	call rax
	REPORT "smc-next again"

	/* smc-loop, twice */
	.irp k, 1, 2
	lea rdi, [r12 + 128]
	lea rsi, [rip + loop_tpl]
	mov ecx, offset loop_end - loop_tpl
	call copy
	lea rax, [r12 + 128]
	call rax
	REPORT "smc-loop \k"
	.endr

	/* smc-syscall: the function at r12 (returns 3 now) is overwritten by read(2) */
	lea rdi, [rip + pipefd]
	SYS __NR_pipe2, rdi, 0
	mov edi, dword ptr [rip + pipefd + 4]
	lea rsi, [rip + mov77]
	SYS __NR_write, rdi, rsi, 6
	call r12
	REPORT "smc-syscall before"
	mov edi, dword ptr [rip + pipefd]
	SYS __NR_read, rdi, r12, 6
	call r12
	REPORT "smc-syscall after"

	/* smc-crosspage: mov eax, imm32 at page end - 3: the opcode and one immediate byte in the
	   first page, three immediate bytes and the ret in the second */
	lea r13, [r12 + 8192 - 3]
	mov byte ptr [r13], 0xb8
	mov dword ptr [r13 + 1], 0x01010101
	mov byte ptr [r13 + 5], 0xc3
	call r13
	REPORT "smc-crosspage before"
	mov byte ptr [r13 + 3], 0x22		/* in the second page */
	call r13
	REPORT "smc-crosspage after second-page write"
	mov byte ptr [r13 + 1], 0x33		/* in the first page */
	call r13
	REPORT "smc-crosspage after first-page write"

	/* smc-alias */
	lea rdi, [rip + memfd_name]
	SYS __NR_memfd_create, rdi, 0
	mov rbx, rax
	SYS __NR_ftruncate, rbx, 4096
	SYS __NR_mmap, 0, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, rbx, 0
	mov r14, rax
	SYS __NR_mmap, 0, 4096, PROT_READ|PROT_EXEC, MAP_SHARED, rbx, 0
	mov r15, rax
	mov byte ptr [r14], 0xb8
	mov byte ptr [r14 + 5], 0xc3
	.irp v, 5, 6
	mov dword ptr [r14 + 1], \v
	call r15
	REPORT "smc-alias \v"
	.endr

	EXIT 0

	DEFINE_PRINT_RESULT
