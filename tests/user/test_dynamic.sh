#!/bin/bash
# SPDX-License-Identifier: MIT
# Dynamically linked Debian programs (ld.so, libc, libm, libcrypto), native vs runner.
# See common.sh for how a check works and the environment it takes.
. "$(dirname "$0")/common.sh"

gen_text 5 4000 >"$DATA/text.txt"
gen_bytes 6 200000 >"$DATA/bytes.bin"

# dynamic_check NAME PROGRAM [ARGS...]: a check when PROGRAM is installed, else SKIP.
dynamic_check() {
	local name=$1 prog=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	if [ ! -x "$prog" ]; then
		skip "$name" "$prog not installed"
		return
	fi
	check "$name" "${opts[@]}" -- "$prog" "$@"
}

dynamic_check coreutils-sort /usr/bin/sort -- -k2,2 -k1,1r text.txt
dynamic_check coreutils-sort-n /usr/bin/sort -- -t' ' -k3,3g -s text.txt
dynamic_check coreutils-sort-stdin /usr/bin/sort --in text.txt -- -u -f
dynamic_check coreutils-md5sum /usr/bin/md5sum -- text.txt bytes.bin
dynamic_check coreutils-sha256sum /usr/bin/sha256sum -- text.txt bytes.bin
dynamic_check coreutils-ls /usr/bin/ls -- -lR --time-style=+%s --color=never . /usr/bin/ls
dynamic_check coreutils-cat-missing /usr/bin/cat -- text.txt nonexistent
dynamic_check coreutils-od /usr/bin/od -- -A x -t x8 -t f8 -N 512 bytes.bin
dynamic_check coreutils-printf /usr/bin/printf -- '%.20g %a %e %Lf\n' 0.1 1.5 1e-310 3.141592653589793238462643
dynamic_check coreutils-factor /usr/bin/factor -- 18446744073709551557 340282366920938463463374607431768211297 1000000016000000063
dynamic_check mawk-math /usr/bin/mawk -- 'BEGIN {
	printf "%.10f %.10f %.10f %.10f\n", sqrt(2), exp(1), log(10), 1 / 7
	printf "%.10f %.10f %.10f %.10f\n", sin(1), cos(1), atan2(1, 2), 2 ^ 0.5
	for (i = -3; i <= 20; i++) printf "%.10f %.6e\n", exp(i) / (i * i + 1), sqrt(i + 3) * 1e-8
	printf "%.17g %.17g %d\n", 0.1 + 0.2, 1e308 * 10, -7 % 3
}'
dynamic_check mawk-fields /usr/bin/mawk -- '{ n += NF; for (i = 1; i <= NF; i++) if ($i + 0 == $i) s += $i }
	END { printf "%d %.6f\n", n, s }' text.txt
dynamic_check bash-c /bin/bash -- -c 'x=0; for i in {1..2000}; do x=$(( (x * 31 + i) % 1000003 )); done; echo $x
	a=(one two three); echo "${a[@]:1} ${#a[@]}"; declare -A m=([k]=v); echo "${m[k]}"
	printf "%(%Y-%m-%d)T\n" 86400; echo "$(( 2 ** 62 )) $(( -9223372036854775807 - 1 ))"'
dynamic_check python3-arith /usr/bin/python3 -- -c '
import math
print(2 ** 200, 3 ** 100 % 1000000007, -7 // 2, -7 % 3, 7 / 3)
print(math.sqrt(2), math.exp(1), math.log(10), math.sin(1), math.pi)
print("%.10f %.17g %e %r" % (1 / 7, 0.1 + 0.2, 1e-310, 1e300 * 1e10))
print(sum(i * i for i in range(200000)), math.factorial(40))
print(int("123456789" * 6) // 987654321, float("1e308") * 10, round(2.675, 2))
print(divmod(10 ** 30, 7 ** 20), pow(3, -1, 1000003), math.gcd(2 ** 64, 6 ** 30))
print(sorted([3.5, -1, 2 ** 70, 0.0]), hex(2 ** 64 - 1), (1.1).hex())'
dynamic_check python3-hash /usr/bin/python3 -- -c '
import hashlib, zlib, struct
d = open("bytes.bin", "rb").read()
print(hashlib.sha256(d).hexdigest(), hashlib.md5(d).hexdigest(), hashlib.sha512(d).hexdigest()[:32])
print(zlib.crc32(d), zlib.adler32(d), len(zlib.compress(d, 9)))
print(struct.unpack("<4d", d[:32]), sum(struct.unpack("<1000Q", d[:8000])) % 2 ** 64)'
dynamic_check python3-error /usr/bin/python3 -- -c 'print("ok"); raise SystemExit(3)'

finish
