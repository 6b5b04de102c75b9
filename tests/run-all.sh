#!/bin/sh
# SPDX-License-Identifier: MIT
# `make test`: runs every test tier and sums the `N passed, N failed` line each tier prints
# last. A tier that fails without such a line (a build error, a crash of the harness) or that
# exits nonzero while reporting no failure counts as one failure. The last line of the output
# is the total `N passed, N failed`; the exit status is 1 if anything failed.
# Environment: MAKE (set by the Makefile), TIERS (default "unit cpu user guest boot robust fuzz").
set -u
: "${MAKE:=make}"
: "${TIERS:=unit cpu user guest boot robust fuzz}"
total_pass=0
total_fail=0
summary=""
log=$(mktemp "${TMPDIR:-/tmp}/ov-test.XXXXXX")
trap 'rm -f "$log" "$log.rc"' EXIT

for tier in $TIERS; do
	target=test-$tier
	if [ "$tier" = user ] && [ ! -f tests/user/user.mk ]; then
		echo "=== $target: tests/user/user.mk not present (skipped)"
		summary="$summary
  $target: not available"
		continue
	fi
	echo "=== $target"
	# keep the tier's exit status through the pipe into tee
	{ $MAKE --no-print-directory "$target" 2>&1; echo $? >"$log.rc"; } | tee "$log"
	rc=$(cat "$log.rc")
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
	else
		p=0
		f=0
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		line="${line:-no result line} (exit status $rc: counted as 1 failure)"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary="$summary
  $target: $line"
done
echo "=== summary$summary"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
