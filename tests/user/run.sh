#!/bin/sh
# SPDX-License-Identifier: MIT
# `make test-user`: runs each tests/user/test_*.sh given as an argument and sums the
# `N passed, N failed` line each prints last. A script that ends without that line counts as one
# failure. The last line of the output is the total; the exit status is 1 if anything failed.
# The environment (RUNNER, BUSYBOX, PROGS, ...) passes through to the scripts: see common.sh.
set -u
total_pass=0
total_fail=0
log=$(mktemp "${TMPDIR:-/tmp}/ov-user-log.XXXXXX")
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	echo "--- $t"
	bash "$t" | tee "$log"
	line=$(tail -n 1 "$log")
	case $line in
	*" passed, "*" failed")
		total_pass=$((total_pass + ${line%% passed*}))
		f=${line#*passed, }
		total_fail=$((total_fail + ${f%% failed}))
		;;
	*)
		echo "FAIL $t: ended without a result line"
		total_fail=$((total_fail + 1))
		;;
	esac
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
