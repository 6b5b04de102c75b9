#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs libFuzzer targets: `run.sh FUZZ_DIR "LIBFUZZER OPTIONS" TARGET...` (see fuzz.mk).
# Each target starts from the committed seeds tests/fuzz/corpus/TARGET/ plus what earlier runs
# found (FUZZ_DIR/corpus/TARGET/, where new inputs go). A target passes if libFuzzer ends
# normally; a crash, sanitizer report, leak or timeout fails it, with libFuzzer's report and
# the saved input (FUZZ_DIR/artifacts/). Last line: `N passed, N failed`.
set -u
dir=$1
opts=$2
shift 2
pass=0
failed=0
for t in "$@"; do
	bin=$dir/$t
	work=$dir/corpus/$t
	art=$dir/artifacts
	log=$dir/$t.log
	mkdir -p "$work" "$art" "tests/fuzz/corpus/$t"
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin not built"
		failed=$((failed + 1))
		continue
	fi
	# -timeout: one input running longer is a hang; -rss_limit_mb: the guest windows are
	# reservations, not resident memory
	# shellcheck disable=SC2086
	if ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}allow_user_segv_handler=1:detect_leaks=1" \
		"$bin" $opts -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$art/$t-" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
		echo "PASS $t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{ print $2 }') inputs," \
			"$(grep -E '^stat::new_units_added' "$log" | awk '{ print $2 }') new," \
			"coverage $(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')"
		pass=$((pass + 1))
	else
		echo "FAIL $t: libFuzzer found a problem (log $log)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal|timeout' "$log" |
			head -n 20 | sed 's/^/  /'
		grep -A 12 -E '^==[0-9]+==ERROR' "$log" | head -n 40 | sed 's/^/  /'
		failed=$((failed + 1))
	fi
done
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
