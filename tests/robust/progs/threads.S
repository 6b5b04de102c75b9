/* SPDX-License-Identifier: MIT */
/*
 * Threads made with raw clone(2), argv[1] selects the case:
 *   join       a thread counts to 1000000 while the main thread counts too; the main thread
 *              waits for it with CLONE_CHILD_CLEARTID + futex
 *   mainexit   the main thread leaves with exit(2) (not exit_group) while another thread runs;
 *              that thread waits for it (set_tid_address + futex) and ends the process with
 *              exit_group(7)
 *   badstack   threads whose stack pointer is non-canonical, beyond the guest window, 0 (the
 *              parent's stack) or whose CLONE_PARENT_SETTID/CLONE_CHILD_CLEARTID pointers are
 *              bad: each exits at once without touching its stack; then a fork-like clone with
 *              a non-canonical stack exits with status 3; then one that pushes dies of SIGSEGV
 *              (reported by wait4); finally a thread that pushes onto its non-canonical stack
 *              kills the whole process with SIGSEGV (status 139)
 */
#include "lib.h"

#define SIGCHLD 17

	.data
	.balign 8
counter:	.quad 0
tidword:	.quad 0
mainword:	.quad 0
flag:		.quad 0
status:		.quad 0
	.bss
	.balign 16
stack1:	.skip 65536
stack1_top:

	.text
	.globl _start
_start:
	mov rbx, [rsp + 16]		/* argv[1] */
	test rbx, rbx
	jz usage
	mov r12d, dword ptr [rbx]
	cmp r12d, 0x6e696f6a		/* "join" */
	je join
	cmp r12d, 0x6e69616d		/* "main" */
	je mainexit
	cmp r12d, 0x73646162		/* "bads" */
	je badstack
usage:
	EXIT 2

/* ---- join ---- */
join:
	lea rsi, [rip + stack1_top]
	lea r10, [rip + tidword]
	SYS __NR_clone, CLONE_THREAD_FLAGS|CLONE_CHILD_CLEARTID|CLONE_PARENT_SETTID, rsi, r10, r10, 0
	test rax, rax
	jz join_child
	REPORT_OK "clone"
	/* meanwhile: count to 1000000 here too */
	xor ecx, ecx
1:	inc rcx
	cmp rcx, 1000000
	jne 1b
	mov rax, rcx
	REPORT "main counted"
	/* wait until the kernel clears tidword at the thread's exit */
2:	mov edx, dword ptr [rip + tidword]
	test edx, edx
	jz 3f
	lea rdi, [rip + tidword]
	SYS __NR_futex, rdi, FUTEX_WAIT, rdx, 0
	jmp 2b
3:	mov rax, [rip + counter]
	REPORT "thread counted"
	EXIT 0
join_child:
	xor ecx, ecx
1:	inc qword ptr [rip + counter]
	inc rcx
	cmp rcx, 1000000
	jne 1b
	SYS __NR_exit, 0

/* ---- mainexit ---- */
mainexit:
	SYS __NR_gettid
	mov [rip + mainword], rax
	lea rdi, [rip + mainword]
	SYS __NR_set_tid_address, rdi
	lea rsi, [rip + stack1_top]
	SYS __NR_clone, CLONE_THREAD_FLAGS, rsi, 0, 0, 0
	test rax, rax
	jz mainexit_child
	REPORT_OK "clone"
	SYS __NR_exit, 0		/* the main thread only */
	EXIT 1				/* not reached */
mainexit_child:
2:	mov edx, dword ptr [rip + mainword]
	test edx, edx
	jz 3f
	lea rdi, [rip + mainword]
	SYS __NR_futex, rdi, FUTEX_WAIT, rdx, 0
	jmp 2b
3:	mov eax, 0
	REPORT "main thread gone, still running"
	EXIT 7

/* ---- badstack ---- */
/* clone a thread with flags \fl and stack \stk that exits at once; wait for it through flag */
	.macro CLONE_EXITS label, fl, stk, ptid=0, ctid=0
	mov qword ptr [rip + flag], 0
	SYS __NR_clone, \fl, \stk, \ptid, \ctid, 0
	test rax, rax
	jz exit_child
	REPORT_OK "\label"
	js 9f
8:	cmp qword ptr [rip + flag], 0
	jne 9f
	SYS __NR_sched_yield
	jmp 8b
9:
	.endm

badstack:
	CLONE_EXITS "clone(stack non-canonical)", CLONE_THREAD_FLAGS, 0xdead000000000000
	CLONE_EXITS "clone(stack 0: the parent's)", CLONE_THREAD_FLAGS, 0
	CLONE_EXITS "clone(stack at the window top)", CLONE_THREAD_FLAGS, 0x10000000000
	CLONE_EXITS "clone(stack -1)", CLONE_THREAD_FLAGS, -1
	lea rsi, [rip + stack1_top]
	CLONE_EXITS "clone(PARENT_SETTID non-canonical)", CLONE_THREAD_FLAGS|CLONE_PARENT_SETTID, rsi, 0xdead000000000000
	lea rsi, [rip + stack1_top]
	CLONE_EXITS "clone(CHILD_CLEARTID non-canonical)", CLONE_THREAD_FLAGS|CLONE_CHILD_CLEARTID, rsi, 0, 0xdead000000000000
	lea rsi, [rip + stack1_top]
	CLONE_EXITS "clone(PARENT_SETTID unmapped)", CLONE_THREAD_FLAGS|CLONE_PARENT_SETTID, rsi, 0x1000

	/* a child process with a non-canonical stack: exit(3) */
	SYS __NR_clone, SIGCHLD, 0xdead000000000000, 0, 0, 0
	test rax, rax
	jz exit3_child
	REPORT_OK "fork(stack non-canonical)"
	lea rsi, [rip + status]
	SYS __NR_wait4, -1, rsi, 0, 0
	REPORT_OK "wait4"
	mov rax, [rip + status]
	REPORT "child status"
	/* a child process that pushes onto it: SIGSEGV */
	SYS __NR_clone, SIGCHLD, 0xdead000000000000, 0, 0, 0
	test rax, rax
	jz push_child
	REPORT_OK "fork(stack non-canonical), child pushes"
	lea rsi, [rip + status]
	SYS __NR_wait4, -1, rsi, 0, 0
	REPORT_OK "wait4"
	mov rax, [rip + status]
	and eax, 0x7f			/* the signal, without the core-dump bit */
	REPORT "child killed by signal"

	/* last: a thread that pushes onto a non-canonical stack kills the process */
	mov eax, 0
	REPORT "thread pushes onto a non-canonical stack"
	SYS __NR_clone, CLONE_THREAD_FLAGS, 0xdead000000000000, 0, 0, 0
	test rax, rax
	jz push_child
1:	SYS __NR_sched_yield
	jmp 1b

exit_child:
	mov qword ptr [rip + flag], 1
	SYS __NR_exit, 0
exit3_child:
	SYS __NR_exit, 3
push_child:
	push rax
	SYS __NR_exit, 5

	DEFINE_PRINT_RESULT
