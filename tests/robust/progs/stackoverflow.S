/* SPDX-License-Identifier: MIT */
/*
 * Unbounded recursion overflows the stack (run with an 8 MiB stack limit): Linux delivers
 * SIGSEGV. Without an argument the program dies of it (status 139); with argument "altstack" a
 * SA_ONSTACK handler on a sigaltstack catches it, prints, and exits with status 3.
 */
#include "lib.h"

#define SIGSEGV 11
#define SA_SIGINFO 4
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000 /* x86-64 Linux delivers no handler without one */

	.data
	.balign 8
act:	.quad handler, SA_SIGINFO|SA_ONSTACK|SA_RESTORER, restorer, 0
sigstk:	.quad altstack, 0, 65536	/* ss_sp, ss_flags (+pad), ss_size */
	.bss
	.balign 16
altstack: .skip 65536

	.text
	.globl _start
_start:
	cmp qword ptr [rsp + 16], 0
	je 1f
	lea rdi, [rip + sigstk]
	SYS __NR_sigaltstack, rdi, 0
	REPORT "sigaltstack"
	lea rsi, [rip + act]
	SYS __NR_rt_sigaction, SIGSEGV, rsi, 0, 8
	REPORT "rt_sigaction"
1:	mov eax, 0
	REPORT "recursing"
	call recurse
	EXIT 1

recurse:
	push rbx
	call recurse
	pop rbx
	ret

handler:
	/* on the alternate stack: is RSP inside it? */
	lea rax, [rip + altstack]
	cmp rsp, rax
	jb 2f
	add rax, 65536
	cmp rsp, rax
	jae 2f
	mov eax, SIGSEGV
	REPORT "caught on the alternate stack"
	EXIT 3
2:	mov eax, -1
	REPORT "handler not on the alternate stack"
	EXIT 4

restorer:			/* never used: the handler exits */
	ud2

	DEFINE_PRINT_RESULT
