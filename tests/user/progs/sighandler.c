/* SPDX-License-Identifier: MIT */
/*
 * Synchronous and asynchronous signal delivery to handlers: each CPU exception is caught with
 * SA_SIGINFO, its siginfo is printed, and the handler either resumes after the faulting
 * instruction by editing the saved RIP (so sigreturn must restore the whole context) or leaves
 * with siglongjmp. Also raise() with a blocked signal, sigpending, and SA_RESETHAND.
 * Output is deterministic (a static non-PIE binary: addresses are fixed).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int skip_bytes; /* >0: resume that many bytes further; 0: siglongjmp */
static volatile sig_atomic_t nr_usr1;

extern char ud2_at[], div_at[], int3_after[], rdfault_at[];

static void handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	uintptr_t rip = uc->uc_mcontext.gregs[REG_RIP];
	/* si_addr is meaningful for faults only (si_code > 0); raise() fills in pid and uid */
	printf("  signal %d (%s) code %d addr %#lx rip %#lx\n", sig, strsignal(sig), si->si_code,
	       si->si_code > 0 ? (unsigned long)(uintptr_t)si->si_addr : 0UL,
	       si->si_code > 0 ? (unsigned long)rip : 0UL);
	if (skip_bytes) {
		uc->uc_mcontext.gregs[REG_RIP] += skip_bytes;
		uc->uc_mcontext.gregs[REG_RAX] = 0x1234; /* visible after the return */
		return;
	}
	siglongjmp(env, sig);
}

static void usr1(int sig __attribute__((unused)))
{
	nr_usr1++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP && s != SIGUSR1)
			sigaction(s, &sa, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ud2_at %p div_at %p int3_after %p rdfault_at %p\n", (void *)ud2_at, (void *)div_at,
	       (void *)int3_after, (void *)rdfault_at);

	/* Resume after the instruction: RAX set by the handler must survive sigreturn. */
	uint64_t rax, rbx = 0x5555;
	skip_bytes = 2;
	printf("ud2, resumed:\n");
	__asm__ volatile("mov $7, %%eax\n\tmov $0x77, %%rbx\nud2_at: ud2\n\t"
			 : "=a"(rax), "+b"(rbx) : : "memory");
	printf("  after: rax %#lx rbx %#lx\n", (unsigned long)rax, (unsigned long)rbx);

	skip_bytes = 2; /* idiv ecx is 2 bytes (f7 f9) */
	printf("divide by zero, resumed:\n");
	__asm__ volatile("mov $1, %%eax\n\tcdq\n\txor %%ecx, %%ecx\ndiv_at: idiv %%ecx\n\t"
			 : "=a"(rax) : : "rcx", "rdx", "memory");
	printf("  after: rax %#lx\n", (unsigned long)rax);

	skip_bytes = 0;
	static const int sigs_expected[] = { SIGSEGV, SIGSEGV, SIGTRAP, SIGBUS };
	static volatile int i; /* survives siglongjmp */
	for (i = 0; i < 4; i++) {
		int got = sigsetjmp(env, 1);
		if (got) {
			printf("  left by siglongjmp from signal %d, expected %d\n", got, sigs_expected[i]);
			continue;
		}
		switch (i) {
		case 0:
			printf("read from an unmapped address:\n");
			__asm__ volatile("mov $0xdead000, %%eax\nrdfault_at: mov (%%rax), %%rax" : : : "rax");
			break;
		case 1:
			printf("write to read-only data:\n");
			*(volatile char *)ud2_at = 0;
			break;
		case 2:
			printf("int3:\n");
			__asm__ volatile("int3\nint3_after:");
			break;
		case 3:
			printf("raise(SIGBUS):\n");
			raise(SIGBUS);
			break;
		}
		printf("  not reached\n");
	}

	/* A blocked signal stays pending until unblocked. */
	signal(SIGUSR1, usr1);
	sigset_t set, old, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	kill(getpid(), SIGUSR1);
	sigpending(&pend);
	printf("blocked: pending %d, delivered %d\n", sigismember(&pend, SIGUSR1), (int)nr_usr1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("unblocked: delivered %d\n", (int)nr_usr1);

	/* SA_RESETHAND: the second SIGSEGV kills the process (status 139). */
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	volatile int *volatile null8 = (volatile int *)(uintptr_t)8;
	for (i = 0; i < 2; i++) {
		if (sigsetjmp(env, 1)) {
			printf("  caught once\n");
			continue;
		}
		printf("null write %d:\n", i);
		*null8 = 1;
	}
	printf("not reached\n");
	return 0;
}
