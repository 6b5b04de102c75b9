#!/bin/bash
# SPDX-License-Identifier: MIT
# Tiny static programs (tests/user/progs/*.S) that exit or die by a CPU exception; the runner must
# end the same way as the native run: same stdout, and the same exit status, 128+signal when the
# program dies by a signal (SIGILL 132, SIGTRAP 133, SIGFPE 136, SIGSEGV 139). stderr is not
# compared: the runner may report the fatal signal there.
# Then static C programs: sighandler (CPU exceptions caught by SA_SIGINFO handlers, resumed by
# editing the saved context or left by siglongjmp; blocked and pending signals; SA_RESETHAND),
# threads (pthreads: clone, futex, TLS, LOCK-prefixed atomics) and memory (brk, mmap, mremap,
# mprotect, MAP_FIXED, file mappings: mappings stay disjoint and keep their contents).
# See common.sh for how a check works and the environment it takes.
. "$(dirname "$0")/common.sh"

for p in hello ud2 div0 jmpbad nullread wrtext wrrodata int3 hlt sighandler threads memory jit; do
	if [ ! -x "$PROGS/$p" ]; then
		fail "prog-$p" "$PROGS/$p not built (make test-user builds it)"
		continue
	fi
	check "prog-$p" --no-stderr -- "$PROGS/$p"
done

finish
