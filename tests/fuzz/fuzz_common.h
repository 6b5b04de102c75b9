/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): host fault handling that gives the
 * guest window to omnivisor's handler and everything else back to libFuzzer/ASan.
 *
 * omnivisor turns host SIGSEGV/SIGBUS on the guest window into guest exceptions
 * (mem_install_fault_handler); any other fault is a bug of the runner and must reach the
 * sanitizer's handler so libFuzzer reports it and saves the input. libFuzzer installs its
 * handlers after LLVMFuzzerInitialize, so this runs on the first input.
 */
#ifndef OMNIVISOR_FUZZ_COMMON_H
#define OMNIVISOR_FUZZ_COMMON_H

#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "omnivisor/memory.h"

static struct sigaction fuzz_prev_segv, fuzz_prev_bus, fuzz_ov_segv, fuzz_ov_bus;
static uint8_t *fuzz_win_lo, *fuzz_win_hi;

static void fuzz_fault(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr;
	struct sigaction *ov = sig == SIGSEGV ? &fuzz_ov_segv : &fuzz_ov_bus;
	struct sigaction *prev = sig == SIGSEGV ? &fuzz_prev_segv : &fuzz_prev_bus;

	if (a >= fuzz_win_lo && a < fuzz_win_hi) {
		ov->sa_sigaction(sig, si, uc); /* may longjmp into vcpu_run */
		return;
	}
	/* not the guest's: let the sanitizer see the fault when the instruction re-executes */
	sigaction(sig, prev, NULL);
}

/* fuzz_install_fault_handler - route faults on [lo, hi) to omnivisor, others to libFuzzer. */
static void fuzz_install_fault_handler(uint8_t *lo, uint8_t *hi)
{
	struct sigaction sa;

	fuzz_win_lo = lo;
	fuzz_win_hi = hi;
	sigaction(SIGSEGV, NULL, &fuzz_prev_segv);
	sigaction(SIGBUS, NULL, &fuzz_prev_bus);
	mem_install_fault_handler();
	sigaction(SIGSEGV, NULL, &fuzz_ov_segv);
	sigaction(SIGBUS, NULL, &fuzz_ov_bus);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fuzz_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

#endif
