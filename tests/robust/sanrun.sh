#!/bin/sh
# SPDX-License-Identifier: MIT
# Runner wrapper of the robust tier: `sanrun.sh OMNIVISOR PROGRAM [ARGS...]` runs
# `OMNIVISOR exec -- PROGRAM ARGS...` (an AddressSanitizer + UBSan build) with the sanitizers'
# reports going to files of a private directory instead of the guest's stderr. If any report
# was written, it is copied to stderr between `sanrun:` lines and the exit status is 99, so
# every check of tests/user/common.sh (status comparison, one-line error message) fails on it.
# Otherwise the status is omnivisor's own; a run killed by a signal kills this script with the
# same signal, so the caller sees exactly what it would see without the wrapper.
# The sanitizer variables are set after `env -i` (common.sh clears the environment) and are
# removed from the guest's environment with -U.
set -u
bin=$1
shift
logs=$(mktemp -d "${TMPDIR:-/tmp}/ov-san.XXXXXX") || exit 98
# The shell's own stderr goes nowhere (dash reports children killed by a signal there, even
# through a redirection of the command itself, but not for a subshell); the runner's and ours
# go to fd 3, the caller's stderr.
exec 3>&2 2>/dev/null
# LeakSanitizer is on: every exit of the runner, error exits included, frees what it allocated.
# allow_user_segv_handler: the runner turns host faults on the guest window into guest faults.
(ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:allow_user_segv_handler=1:abort_on_error=0${SANRUN_ASAN_OPTIONS:+:$SANRUN_ASAN_OPTIONS}" \
UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1" \
	exec "$bin" exec -U ASAN_OPTIONS -U UBSAN_OPTIONS -- "$@") 2>&3
rc=$?
if [ -n "$(ls -A "$logs")" ]; then
	for f in "$logs"/*; do
		echo "sanrun: sanitizer report $(basename "$f") (exit status $rc):"
		cat "$f"
	done >&3
	echo "sanrun: end of sanitizer reports" >&3
	rm -rf "$logs"
	exit 99
fi
rm -rf "$logs"
if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
	sig=$((rc - 128))
	trap - "$sig" 2>/dev/null
	kill -s "$(kill -l "$sig")" $$ 2>/dev/null
fi
exit "$rc"
