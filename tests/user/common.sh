# SPDX-License-Identifier: MIT
# Shared code of the user-mode program tests (tests/user/test_*.sh), sourced by each of them.
#
# A check runs one command twice from identical state: natively, and under the runner
# (`build/omnivisor exec --` by default), and compares stdout, stderr, the exit status and the
# files the command left in its working directory, byte for byte. Each run starts in a fresh
# copy of the input directory at the same absolute path, with the same clean environment.
#
# Environment (set by tests/user/user.mk; the defaults suit a run from the repository root):
#   RUNNER      command prefix for the virtualized run       (build/omnivisor exec --)
#   BUSYBOX     the static busybox under test                (build/guest/busybox-static/bin/busybox)
#   PROGS       directory of the tiny programs of tests/user/progs (build/tests/user/progs)
#   ERR_PREFIX  how the runner's own error messages start    (omnivisor:)
#   TIMEOUT     seconds before a run counts as hung          (120)
#   KEEP=1      keep the scratch directory for inspection
#   VERBOSE=1   show the commands as they run
# Output: `PASS name` or `FAIL name` (with the differences) per check, `SKIP name: why` when a
# check cannot run here, and as the last line `N passed, N failed`. Exit status 1 on any failure.

set -u
ulimit -c 0 2>/dev/null || true # runs killed by signals must not leave core files

: "${RUNNER:=build/omnivisor exec --}"
: "${BUSYBOX:=build/guest/busybox-static/bin/busybox}"
: "${PROGS:=build/tests/user/progs}"
: "${ERR_PREFIX:=omnivisor:}"
: "${TIMEOUT:=120}"
: "${KEEP:=0}"
: "${VERBOSE:=0}"

# Absolute paths: checks run in their own directory.
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
BUSYBOX=$(abspath "$BUSYBOX")
PROGS=$(abspath "$PROGS")
read -r -a RUNNER_CMD <<<"$RUNNER"
case "${RUNNER_CMD[0]}" in */*) RUNNER_CMD[0]=$(abspath "${RUNNER_CMD[0]}") ;; esac

if [ ! -x "$BUSYBOX" ]; then
	echo "error: $BUSYBOX missing (run scripts/fetch-busybox.sh)" >&2
	exit 2
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/ov-user.XXXXXX")
T=$(cd "$T" && pwd -P)
DATA=$T/data # inputs, copied to $RUN for every run
RUN=$T/run   # where each run happens
mkdir -p "$DATA"
cleanup() {
	if [ "$KEEP" = 1 ]; then echo "scratch directory kept: $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

# The same small clean environment for both runs (no locale, fixed time zone and home).
RUN_ENV=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$T/home" LC_ALL=C TZ=UTC TERM=dumb)
mkdir -p "$T/home"

nr_pass=0
nr_fail=0

pass() {
	echo "PASS $1"
	nr_pass=$((nr_pass + 1))
}
fail() {
	echo "FAIL $1${2:+: $2}"
	nr_fail=$((nr_fail + 1))
}
skip() { echo "SKIP $1: $2"; }

# Prints the differences between two files, text or binary, at most 40 lines.
show_diff() { # LABEL FILE_NATIVE FILE_RUNNER
	if LC_ALL=C grep -qI . "$2" "$3" 2>/dev/null || [ ! -s "$2" ] || [ ! -s "$3" ]; then
		echo "  --- $1: native vs runner"
		diff -u "$2" "$3" | tail -n +3 | head -n 40 | sed 's/^/  /'
	else
		echo "  --- $1 (binary): native $(wc -c <"$2") bytes, runner $(wc -c <"$3") bytes"
		cmp "$2" "$3" 2>&1 | head -n 3 | sed 's/^/  /'
	fi
}

# run_in_fresh_dir OUT_PREFIX STDIN CMD...: runs CMD in a fresh copy of $DATA at $RUN, stdin from
# STDIN (relative to $RUN), stdout/stderr to OUT_PREFIX.out/.err, and sets $status.
run_in_fresh_dir() {
	local out=$1 in=$2
	shift 2
	rm -rf "$RUN"
	cp -a "$DATA" "$RUN"
	[ "$VERBOSE" = 1 ] && echo "  + $*" >&2
	status=0
	# The braces silence bash's "Illegal instruction" report for runs killed by a signal.
	{ (cd "$RUN" && exec timeout -k 5 "$TIMEOUT" "${RUN_ENV[@]}" "$@" <"$in" >"$out.out" 2>"$out.err"); } 2>/dev/null || status=$?
}

describe_status() {
	case $1 in
	124) echo "124 (timed out after ${TIMEOUT}s)" ;;
	129 | 1[3-8][0-9] | 19[0-2]) echo "$1 (killed by $(kill -l $(($1 - 128)) 2>/dev/null || echo signal $(($1 - 128))))" ;;
	*) echo "$1" ;;
	esac
}

# check NAME [--in FILE] [--no-stderr] [--no-files] [--status-only] -- CMD [ARGS...]
#   Runs CMD natively and under the runner and compares the results.
#   --in FILE      stdin from FILE (relative to the data directory); default /dev/null
#   --no-stderr    don't compare stderr (the runner may report a fatal signal there)
#   --no-files     don't compare the working directories afterwards
check() {
	local name=$1 in=/dev/null cmp_err=1 cmp_files=1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--in) in=$2; shift 2 ;;
		--no-stderr) cmp_err=0; shift ;;
		--no-files) cmp_files=0; shift ;;
		--) shift; break ;;
		*) echo "check: bad option $1" >&2; exit 2 ;;
		esac
	done
	local st_native st_runner ok=1 why=""
	rm -rf "$T/native" "$T/runner"
	run_in_fresh_dir "$T/n" "$in" "$@"
	st_native=$status
	mv "$RUN" "$T/native"
	run_in_fresh_dir "$T/r" "$in" "${RUNNER_CMD[@]}" "$@"
	st_runner=$status
	mv "$RUN" "$T/runner"

	if [ "$st_native" = 124 ]; then
		fail "$name" "the native run timed out (test bug)"
		return
	fi
	[ "$st_native" = "$st_runner" ] || { ok=0; why="exit status"; }
	cmp -s "$T/n.out" "$T/r.out" || { ok=0; why="$why${why:+, }stdout"; }
	if [ $cmp_err = 1 ] && ! cmp -s "$T/n.err" "$T/r.err"; then
		ok=0
		why="$why${why:+, }stderr"
	fi
	local dirdiff=""
	if [ $cmp_files = 1 ]; then
		dirdiff=$(cd "$T" && diff -r native runner 2>&1 | head -n 20)
		[ -z "$dirdiff" ] || { ok=0; why="$why${why:+, }files"; }
	fi
	if [ $ok = 1 ]; then
		pass "$name"
		[ "$VERBOSE" = 1 ] && echo "  status $st_native, stdout $(wc -c <"$T/n.out") bytes," \
			"stderr $(wc -c <"$T/n.err") bytes: $(head -c 100 "$T/n.err" | head -n 1)"
		return
	fi
	fail "$name" "$why differ"
	echo "  command: $*"
	echo "  exit status: native $(describe_status "$st_native"), runner $(describe_status "$st_runner")"
	if [ "$st_runner" != "$st_native" ] && [ "$st_runner" -gt 128 ] && [ "$st_runner" -le 192 ]; then
		echo "  (to see why: cd $T/runner && ${RUNNER_CMD[*]} ... with --trace signal,exec for omnivisor)"
	fi
	cmp -s "$T/n.out" "$T/r.out" || show_diff stdout "$T/n.out" "$T/r.out"
	if [ $cmp_err = 1 ]; then
		cmp -s "$T/n.err" "$T/r.err" || show_diff stderr "$T/n.err" "$T/r.err"
	elif [ -s "$T/r.err" ]; then
		echo "  --- runner stderr (not compared):"
		head -n 10 "$T/r.err" | sed 's/^/  /'
	fi
	[ -z "$dirdiff" ] || { echo "  --- files:"; echo "$dirdiff" | sed 's/^/  /'; }
}

# check_sh NAME [options] -- SCRIPT: check of `busybox sh -c SCRIPT` (options as for check).
check_sh() {
	local name=$1
	shift
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	check "$name" "${opts[@]}" -- "$BUSYBOX" sh -c "$1"
}

# check_rejected NAME [--expect ERE] FILE [ARGS...]: FILE is not something the runner can run. It
# must print one line on stderr starting with $ERR_PREFIX (and matching ERE, case-insensitive, so
# the message says what is wrong), nothing on stdout, and exit nonzero without a signal.
check_rejected() {
	local name=$1 expect=""
	shift
	if [ "$1" = --expect ]; then
		expect=$2
		shift 2
	fi
	run_in_fresh_dir "$T/r" /dev/null "${RUNNER_CMD[@]}" "$@"
	rm -rf "$RUN"
	local lines why=""
	lines=$(wc -l <"$T/r.err")
	if [ "$status" = 0 ]; then
		why="exit status 0"
	elif [ "$status" = 124 ] || { [ "$status" -gt 128 ] && [ "$status" -le 192 ]; }; then
		why="exit status $(describe_status "$status")" # timed out, or killed by a signal
	elif [ "$lines" != 1 ] || [ "$(head -c 1 "$T/r.err" | wc -c)" = 0 ]; then
		why="stderr has $lines lines, expected one"
	elif [ "$(tail -c 1 "$T/r.err" | od -An -c | tr -d ' ')" != '\n' ]; then
		why="stderr does not end with a newline"
	elif [ "$(head -c ${#ERR_PREFIX} "$T/r.err")" != "$ERR_PREFIX" ]; then
		why="stderr does not start with \"$ERR_PREFIX\""
	elif [ -n "$expect" ] && ! grep -qiE -- "$expect" "$T/r.err"; then
		why="the message does not say what is wrong (expected /$expect/)"
	elif [ -s "$T/r.out" ]; then
		why="stdout not empty"
	fi
	if [ -z "$why" ]; then
		pass "$name"
		[ "$VERBOSE" = 1 ] && sed 's/^/  stderr: /' "$T/r.err"
		return
	fi
	fail "$name" "$why"
	echo "  command: ${RUNNER_CMD[*]} $*"
	echo "  exit status: $(describe_status "$status")"
	head -n 5 "$T/r.err" | sed 's/^/  stderr: /'
	head -n 5 "$T/r.out" | sed 's/^/  stdout: /'
}

# Deterministic pseudo-random text: gen_text SEED LINES > FILE. A 32-bit LCG (Numerical Recipes
# constants; every intermediate value stays below 2^53 so awk's doubles compute it exactly).
gen_text() {
	LC_ALL=C awk -v seed="$1" -v lines="$2" 'BEGIN {
		split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi " \
		      "omicron pi rho sigma tau upsilon phi chi psi omega Zebra apple Mango 42 -7 " \
		      "3.25 1e3 0x1f foo_bar baz:qux a,b,c", w, " ")
		nw = 0; for (k in w) nw++
		s = seed
		for (i = 0; i < lines; i++) {
			s = (s * 1664525 + 1013904223) % 4294967296
			n = 1 + int(s / 4294967296 * 9)
			line = ""
			for (j = 0; j < n; j++) {
				s = (s * 1664525 + 1013904223) % 4294967296
				v = int(s / 4294967296 * (nw + 3))
				if (v < nw) word = w[v + 1]
				else if (v == nw) word = int(s % 100000)
				else if (v == nw + 1) word = sprintf("%d.%03d", s % 1000, s % 997)
				else word = ""
				line = line (j ? (s % 5 ? " " : "\t") : "") word
			}
			print line
		}
	}'
}

# gen_bytes SEED COUNT > FILE: deterministic pseudo-random binary data (all byte values).
gen_bytes() {
	LC_ALL=C awk -v seed="$1" -v count="$2" 'BEGIN {
		s = seed
		for (i = 0; i < count; i++) {
			s = (s * 1664525 + 1013904223) % 4294967296
			printf "%c", int(s / 16777216)
		}
	}'
}

finish() {
	echo "$nr_pass passed, $nr_fail failed"
	[ "$nr_fail" = 0 ]
	exit
}
