/* SPDX-License-Identifier: MIT */
/*
 * A handler installed without SA_RESTORER: x86-64 Linux has no return path to give it, so it
 * never runs; the kernel forces SIGSEGV instead (arch/x86/kernel/signal_64.c
 * x64_setup_rt_frame, signal_setup_done -> force_sigsegv). argv[1] selects the case:
 *   kill    SIGUSR1's handler lacks SA_RESTORER: kill(self, SIGUSR1) ends with SIGSEGV (139)
 *   caught  the same, with a SIGSEGV handler that has SA_RESTORER: it runs, sees si_code
 *           SI_KERNEL (128) and that the SIGUSR1 handler did not run, exits with status 3
 *   segv    SIGSEGV's own handler lacks SA_RESTORER: kill(self, SIGSEGV) ends with SIGSEGV
 */
#include "lib.h"

#define SIGSEGV 11
#define SA_SIGINFO 4
#define SA_RESTORER 0x04000000

	.data
	.balign 8
act_usr1:	.quad usr1_handler, SA_SIGINFO, 0, 0
act_segv_ok:	.quad segv_handler, SA_SIGINFO|SA_RESTORER, restorer, 0
act_segv_bad:	.quad segv_handler, SA_SIGINFO, 0, 0
usr1_ran:	.quad 0

	.text
	.globl _start
_start:
	mov rbx, [rsp + 16]		/* argv[1] */
	test rbx, rbx
	jz usage
	mov r12d, dword ptr [rbx]
	cmp r12d, 0x6c6c696b		/* "kill" */
	je kill_case
	cmp r12d, 0x67756163		/* "caug" */
	je caught_case
	cmp r12d, 0x76676573		/* "segv" */
	je segv_case
usage:
	EXIT 2

kill_case:
	lea rsi, [rip + act_usr1]
	SYS __NR_rt_sigaction, SIGUSR1, rsi, 0, 8
	REPORT "rt_sigaction(SIGUSR1 without SA_RESTORER)"
	jmp send_usr1

caught_case:
	lea rsi, [rip + act_usr1]
	SYS __NR_rt_sigaction, SIGUSR1, rsi, 0, 8
	REPORT "rt_sigaction(SIGUSR1 without SA_RESTORER)"
	lea rsi, [rip + act_segv_ok]
	SYS __NR_rt_sigaction, SIGSEGV, rsi, 0, 8
	REPORT "rt_sigaction(SIGSEGV with SA_RESTORER)"
send_usr1:
	SYS __NR_getpid
	SYS __NR_kill, rax, SIGUSR1
	REPORT "kill(self, SIGUSR1) returned"
	EXIT 1

segv_case:
	lea rsi, [rip + act_segv_bad]
	SYS __NR_rt_sigaction, SIGSEGV, rsi, 0, 8
	REPORT "rt_sigaction(SIGSEGV without SA_RESTORER)"
	SYS __NR_getpid
	SYS __NR_kill, rax, SIGSEGV
	REPORT "kill(self, SIGSEGV) returned"
	EXIT 1

usr1_handler:
	mov qword ptr [rip + usr1_ran], 1
	mov eax, SIGUSR1
	REPORT "SIGUSR1 handler ran"
	EXIT 4

segv_handler:				/* rsi = siginfo */
	mov eax, dword ptr [rsi + 8]	/* si_code */
	REPORT "SIGSEGV handler: si_code"
	mov rax, [rip + usr1_ran]
	REPORT "SIGSEGV handler: SIGUSR1 handler ran"
	EXIT 3

restorer:				/* never used: the handler exits */
	ud2

	DEFINE_PRINT_RESULT
