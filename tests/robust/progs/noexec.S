/* SPDX-License-Identifier: MIT */
/*
 * Executing memory the guest may not execute: Linux delivers SIGSEGV (status 139).
 * argv[1] selects the case:
 *   rw        a page mapped PROT_READ|PROT_WRITE holding `ret`
 *   ro        a page mapped PROT_READ only
 *   mprotect  a PROT_READ|PROT_WRITE|PROT_EXEC page whose code already ran (and sits in the
 *             decoded-block cache), then mprotect(PROT_READ|PROT_WRITE)
 *   munmap    the same, but the page is unmapped
 * Each prints what happened before the fatal call.
 */
#include "lib.h"

	.text
	.globl _start
_start:
	mov rbx, [rsp + 16]		/* argv[1] */
	test rbx, rbx
	jz usage
	mov r12d, dword ptr [rbx]
	mov r13d, PROT_READ|PROT_WRITE
	cmp r12w, 0x6f72		/* "ro" */
	jne 1f
	mov r13d, PROT_READ
1:	cmp r12b, 'm'
	jne 2f
	mov r13d, PROT_READ|PROT_WRITE|PROT_EXEC
2:	SYS __NR_mmap, 0, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0
	mov r14, rax
	mov byte ptr [r14], 0xb8	/* mov eax, 1; ret */
	mov dword ptr [r14 + 1], 1
	mov byte ptr [r14 + 5], 0xc3
	SYS __NR_mprotect, r14, 4096, r13
	REPORT "mprotect"
	cmp r12b, 'm'
	jne fatal
	call r14
	REPORT "first call"
	cmp r12w, 0x756d		/* "mu" */
	je 3f
	SYS __NR_mprotect, r14, 4096, PROT_READ|PROT_WRITE
	REPORT "mprotect(PROT_READ|PROT_WRITE)"
	jmp fatal
3:	SYS __NR_munmap, r14, 4096
	REPORT "munmap"
fatal:
	mov eax, 0
	REPORT "calling"
	call r14
	REPORT "returned (wrong)"
	EXIT 1
usage:
	EXIT 2

	DEFINE_PRINT_RESULT
