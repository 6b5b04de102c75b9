#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the cmocka unit-test programs given as arguments (built by `make test-unit` under
# ASan + UBSan) and turns their output into one count: each test function is one test; tests a
# crash left unrun count as failed; a program that leaks or exits nonzero without a failed
# test counts one failure.
# Last line: `N passed, N failed`. Exit status 1 if anything failed.
# Environment: UNIT_TIMEOUT (seconds per program, default 300).
set -u
: "${UNIT_TIMEOUT:=300}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
passed=0
failed=0
out=$(mktemp "${TMPDIR:-/tmp}/ov-unit.XXXXXX")
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	name=${t##*/}
	if [ ! -x "$t" ]; then
		echo "FAIL $name: did not build"
		failed=$((failed + 1))
		continue
	fi
	timeout "$UNIT_TIMEOUT" "$t" >"$out" 2>&1
	rc=$?
	# tests announced by "[==========] Running N test(s)." (per group); a crash leaves the
	# rest of the group unrun: they count as failed
	runs=$(sed -n 's/^\[==========\] Running \([0-9]*\) test(s)\.$/\1/p' "$out" |
		awk '{ n += $1 } END { print n + 0 }')
	started=$(grep -c '^\[ RUN      \]' "$out")
	[ "$started" -gt "$runs" ] && runs=$started
	oks=$(grep -c '^\[       OK \]' "$out")
	bad=$((runs - oks))
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	passed=$((passed + oks))
	failed=$((failed + bad))
	if [ "$bad" -ne 0 ]; then
		cat "$out"
		case $rc in
		124) why="timed out after ${UNIT_TIMEOUT}s" ;;
		0 | 1) why="$bad failed" ;;
		*) why="exit status $rc (crash, sanitizer report or leak)" ;;
		esac
		echo "FAIL $name: $oks passed, $why"
	else
		echo "ok   $name: $oks passed"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
