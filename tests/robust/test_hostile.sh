#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile guest programs (tests/robust/progs/*.S), run natively and under the runner. They print
# one `label = value` line per operation; the lines are compared per group (the label's first
# word: the system call, or the test), so each divergence is its own FAIL, plus one check per
# run for the exit status (128+signal when killed; 99 from sanrun.sh: a sanitizer report).
#   badptr         system calls with pointers outside the guest's mappings, at the top of the
#                  guest window, non-canonical; absurd lengths; odd mmap/munmap/mremap/brk
#   smc            self-modifying code (rewrite, next instruction, loop body, via read(2),
#                  across pages, through a second mapping of the same page)
#   midinsn        jumps into the middle of instructions
#   noexec         executing non-executable memory (SIGSEGV), also after the code ran once
#   stackoverflow  unbounded recursion (SIGSEGV), and caught on a sigaltstack
#   threads        a thread exits while another runs; the main thread exits first; threads
#                  with bad stacks and bad tid pointers
#   norestorer     signal handlers without SA_RESTORER never run: SIGSEGV instead
. "$(dirname "$0")/../user/common.sh"

# Same stack limit for both runs: the recursion must hit it quickly.
ulimit -s 8192

# group_lines FILE: "key<TAB>line" for each line, key = label up to the first space or "("
group_lines() {
	awk '{ k = $0; sub(/ = .*/, "", k); sub(/[ (].*/, "", k); print k "\t" $0 }' "$1"
}

# check_labelled NAME CMD...: see the file comment.
check_labelled() {
	local name=$1 st_native st_runner key
	shift
	run_in_fresh_dir "$T/n" /dev/null "$@"
	st_native=$status
	run_in_fresh_dir "$T/r" /dev/null "${RUNNER_CMD[@]}" "$@"
	st_runner=$status
	rm -rf "$RUN"
	if [ "$st_native" = 124 ]; then
		fail "$name" "the native run timed out (test bug)"
		return
	fi
	group_lines "$T/n.out" >"$T/n.grp"
	group_lines "$T/r.out" >"$T/r.grp"
	for key in $(cut -f1 "$T/n.grp" "$T/r.grp" | awk '!seen[$0]++'); do
		awk -F'\t' -v k="$key" '$1 == k { print $2 }' "$T/n.grp" >"$T/n.key"
		awk -F'\t' -v k="$key" '$1 == k { print $2 }' "$T/r.grp" >"$T/r.key"
		if cmp -s "$T/n.key" "$T/r.key"; then
			pass "$name/$key"
		else
			fail "$name/$key" "output differs"
			show_diff "$key lines" "$T/n.key" "$T/r.key"
		fi
	done
	if [ "$st_native" = "$st_runner" ] && ! grep -qE 'sanrun:|AddressSanitizer|runtime error:' "$T/r.err"; then
		pass "$name: exit status $(describe_status "$st_native")"
	else
		fail "$name: exit status" "native $(describe_status "$st_native"), runner $(describe_status "$st_runner")"
		echo "  command: $*"
		head -n 30 "$T/r.err" | sed 's/^/  runner stderr: /'
	fi
}

P=$ROBUST_PROGS
for p in badptr smc midinsn noexec stackoverflow threads norestorer; do
	if [ ! -x "$P/$p" ]; then
		fail "$p" "$P/$p not built (make test-robust builds it)"
	fi
done
check_labelled badptr "$P/badptr"
check_labelled smc "$P/smc"
check_labelled midinsn "$P/midinsn"
for m in rw ro mprotect munmap; do
	check_labelled "noexec-$m" "$P/noexec" "$m"
done
check_labelled stackoverflow "$P/stackoverflow"
check_labelled stackoverflow-altstack "$P/stackoverflow" altstack
for m in join mainexit badstack; do
	check_labelled "threads-$m" "$P/threads" "$m"
done
for m in kill caught segv; do
	check_labelled "norestorer-$m" "$P/norestorer" "$m"
done

finish
