#!/bin/bash
# SPDX-License-Identifier: MIT
# Busybox applets, native vs runner: hashes, compression, text tools, tar, find and friends.
# See common.sh for how a check works and the environment it takes.
. "$(dirname "$0")/common.sh"
B=$BUSYBOX

# ---- inputs (deterministic; made natively, once) ----
gen_text 1 6000 >"$DATA/text.txt"
gen_text 7 300 >"$DATA/small.txt"
gen_bytes 2 100000 >"$DATA/bytes.bin"
: >"$DATA/empty"
LC_ALL=C awk 'BEGIN { s = 99; for (i = 0; i < 3000; i++) {
	s = (s * 1664525 + 1013904223) % 4294967296
	printf "%d:%s:%.6g\n", s % 1000 - 500, (s % 7 ? "k" (s % 13) : "K" (s % 11)), (s / 4294967296 - 0.5) * 10 ^ (s % 9 - 4)
} }' >"$DATA/nums.txt"
mkdir -p "$DATA/tree/a/aa" "$DATA/tree/b" "$DATA/tree/c/empty-dir"
head -c 1000 "$DATA/text.txt" >"$DATA/tree/a/one.txt"
head -c 70000 "$DATA/bytes.bin" >"$DATA/tree/a/aa/blob.bin"
tail -n 50 "$DATA/text.txt" >"$DATA/tree/b/two.txt"
cp "$DATA/small.txt" "$DATA/tree/b/three.log"
: >"$DATA/tree/c/zero.txt"
ln -s ../a/one.txt "$DATA/tree/b/link.txt"
chmod 600 "$DATA/tree/b/three.log"
chmod 755 "$DATA/tree/a/aa"
# Fixed modification times so archives and listings do not depend on when the test ran.
find "$DATA" -exec touch -h -d '2024-02-29 12:34:56 UTC' {} +
# Compressed inputs made by the host tools.
gzip -9 -n -c "$DATA/text.txt" >"$DATA/text.txt.gz"
gzip -c "$DATA/nums.txt" >"$DATA/only.gz"
bzip2 -c "$DATA/text.txt" >"$DATA/text.txt.bz2"
xz -c "$DATA/bytes.bin" >"$DATA/bytes.bin.xz"
(cd "$DATA" && tar --owner=0 --group=0 -cf tree.tar tree)
(cd "$DATA" && md5sum text.txt bytes.bin empty >sums.md5)
touch -d '2024-02-29 12:34:56 UTC' "$DATA"/*

# ---- hashes ----
check sha256sum -- "$B" sha256sum text.txt bytes.bin empty
check sha256sum-stdin --in bytes.bin -- "$B" sha256sum
check sha256sum-busybox -- "$B" sha256sum "$B"
check sha1sum -- "$B" sha1sum text.txt bytes.bin
check sha512sum -- "$B" sha512sum text.txt bytes.bin empty
check sha3sum -- "$B" sha3sum text.txt bytes.bin
check md5sum -- "$B" md5sum text.txt bytes.bin empty
check md5sum-check -- "$B" md5sum -c sums.md5
check md5sum-missing -- "$B" md5sum text.txt nonexistent
check crc32 -- "$B" crc32 text.txt

# ---- compression ----
check gzip-c -- "$B" gzip -c text.txt
check gzip-9-binary -- "$B" gzip -9 -c bytes.bin
check gzip-1 -- "$B" gzip -1 -c text.txt
check gzip-in-place -- "$B" gzip small.txt bytes.bin
check gunzip-c -- "$B" gunzip -c text.txt.gz
check gunzip-in-place -- "$B" gunzip only.gz
check gzip-t -- "$B" gzip -t text.txt.gz
check gunzip-not-gzip -- "$B" gunzip -c text.txt
check gzip-roundtrip -- "$B" sh -c "$B gzip -c bytes.bin >b.gz && $B gunzip -c b.gz >b.out && cmp b.out bytes.bin && echo same"
check zcat -- "$B" zcat text.txt.gz
check bzip2-c -- "$B" bzip2 -c text.txt
check bzip2-binary -- "$B" bzip2 -c bytes.bin
check bunzip2-c -- "$B" bunzip2 -c text.txt.bz2
check bzip2-roundtrip -- "$B" sh -c "$B bzip2 -k small.txt && $B bunzip2 -c small.txt.bz2 | cmp - small.txt && echo same"
check unxz -- "$B" unxz -c bytes.bin.xz

# ---- sort, uniq, and other text tools ----
check sort -- "$B" sort text.txt
check sort-n -- "$B" sort -n nums.txt
check sort-g -- "$B" sort -t: -k3,3g nums.txt
check sort-rk2 -- "$B" sort -r -k2 text.txt
check sort-u -- "$B" sort -u text.txt
check sort-field -- "$B" sort -t: -k2,2 -k1,1n nums.txt
check sort-stdin --in small.txt -- "$B" sort -f
check sort-o -- "$B" sort -o small.txt small.txt
check uniq-c -- "$B" sh -c "$B sort text.txt | $B uniq -c | $B sort -rn | $B head -20"
check wc -- "$B" wc text.txt bytes.bin empty
check head-tail -- "$B" sh -c "$B head -n 7 text.txt; $B tail -n 5 text.txt; $B tail -c 100 bytes.bin | $B od -An -tx1"
check cut -- "$B" cut -d: -f2,3 nums.txt
check tr --in text.txt -- "$B" tr 'a-z' 'A-Z'
check tr-squeeze --in text.txt -- "$B" tr -s 'a-z ' 'n-za-m_'
check tr-delete --in bytes.bin -- "$B" tr -d '\000-\037'
check od --in bytes.bin -- "$B" od -Ax -tx1 -N 4096
check od-c-d --in bytes.bin -- "$B" od -c -td4 -N 1000
check hexdump -- "$B" hexdump -C small.txt
check xxd -- "$B" xxd -l 2048 bytes.bin
check base64 -- "$B" base64 bytes.bin
check base64-d -- "$B" sh -c "$B base64 bytes.bin | $B base64 -d | $B md5sum"
check rev-tac-nl -- "$B" sh -c "$B rev small.txt | $B tac | $B nl -ba"
check fold-expand --in small.txt -- "$B" sh -c "$B expand -t 3 | $B fold -w 17"
check strings -- "$B" strings -n 6 "$B"
check cmp-diff -- "$B" sh -c "$B cmp text.txt small.txt; echo cmp=\$?; $B diff -u small.txt tree/b/three.log; echo diff=\$?; $B head -100 small.txt | $B diff small.txt -; echo diff=\$?"
check dd -- "$B" dd if=bytes.bin of=out.bin bs=4096 skip=3 count=5 conv=notrunc
check seq-sort-r -- "$B" sh -c "$B seq 1 20 | $B sort -n -r"

# ---- awk (floating point, strings, arrays) ----
check awk-sum -- "$B" awk -F: '{ s += $1; t += $3 } END { printf "%d %.10f %.6e\n", s, t, t / NR }' nums.txt
# Debian's busybox awk has no math library (sqrt, exp, ^ fail with "Math support is not compiled
# in"), so sqrt and exp are computed here by Newton's method and the Taylor series: the same
# floating-point arithmetic and printf conversions. mawk's libm versions are in test_dynamic.sh.
check awk-math -- "$B" awk '
function sqrt_(x,  r, i) { r = x > 1 ? x : 1; for (i = 0; i < 60; i++) r = (r + x / r) / 2; return r }
function exp_(x,  s, t, i) { s = 1; t = 1; for (i = 1; i < 40; i++) { t = t * x / i; s += t }; return s }
BEGIN {
	printf "%.10f %.10f %.10f %.10f\n", sqrt_(2), sqrt_(1e-6), sqrt_(123456789), exp_(1)
	for (i = -3; i <= 12; i++) printf "%.10f ", exp_(i) / (i * i + 1); print ""
	printf "%.10f %.10f %.10f %.10f\n", 1 / 3, 22 / 7, -7 / 2, 1e-300 / 1e10
	printf "%d %d %.0f %.0f\n", int(-7 / 2), -7 % 3, 9007199254740993, -2.5
	printf "%.15g %.17g %g %g %g\n", 0.1 + 0.2, 1 / 3, 1e300 * 1e10, -1e300 * 1e10, 0 * -1
	printf "%e %G %x %o %c|%5.2f|%-8s|%i\n", 123456.789, 0.000012345, 255, 8, 65, 3.14159, "ab", "12abc"
	x = 1; for (i = 0; i < 64; i++) x *= 2; printf "%.0f %d %d %d\n", x, x, -x, 2147483648
	printf "%s %s %s %s\n", 1e6, 1e16, 123456789012, 0.1 * 3
	CONVFMT = "%.3g"; y = 3.14159265; z = y ""; print z, 17 / 4, 1e3 / 8
	srand(1); r = rand(); print (r >= 0 && r < 1), int(r * 1000000)
	print length(12345.5), substr("abcdef", 2.5, 2.4), index("hello", "l") * 1.5
}'
check awk-strings -- "$B" awk '{ n = split($0, w, /[ \t]+/); for (i = 1; i <= n; i++) c[toupper(w[i])]++
	if (index($0, "pi")) p++; gsub(/a/, "4"); if (NR % 500 == 0) print NR": "substr($0, 2, 20)" "length($0) }
	END { for (k in c) if (c[k] > 400) print k, c[k] | "sort"; close("sort"); print p }' text.txt
check awk-div0 -- "$B" awk 'BEGIN { x = 0; print 1 / x }'
check awk-printf-num -- "$B" awk -F: '{ printf "%10.4f|%-12g|%+d\n", $3, $3 * 1000, $1 }' nums.txt

# ---- sed ----
check sed-s -- "$B" sed -e 's/alpha/ALPHA/g' -e 's/\([0-9]\+\)\.\([0-9]*\)/<\2.\1>/' text.txt
check sed-E -- "$B" sed -E -n '/^(beta|gamma)[[:space:]]/{s/([a-z]+)[ \t]+([a-z]+)/\2 \1/;p}' text.txt
check sed-range -- "$B" sed -n '10,20p;/omega$/,/^alpha/{=;}' text.txt
check sed-y-d -- "$B" sed -e 'y/abc/xyz/' -e '/^$/d' -e '3,5d' -e '$a\
the end' small.txt
check sed-i -- "$B" sed -i -e 's/e/E/2' -e '1i\
first' small.txt
check sed-hold -- "$B" sed -n '1!G;h;$p' small.txt

# ---- grep ----
check grep-E -- "$B" grep -E '^(alpha|omega)[[:space:]]+[0-9]+' text.txt
check grep-c-v-i -- "$B" sh -c "$B grep -c -v -i zebra text.txt; $B grep -n -w -i MANGO small.txt; $B grep -o -E '[0-9]+\.[0-9]+' small.txt"
check grep-nomatch -- "$B" grep -E 'no such thing' text.txt
check grep-missing -- "$B" grep -E alpha nonexistent
check grep-r -- "$B" sh -c "$B grep -r -l -E 'omega|pi' tree | $B sort"
check grep-F-x -- "$B" grep -F -x -e 'pi' -e 'mu' text.txt

# ---- tar ----
check tar-create -- "$B" tar -cf out.tar tree
check tar-list -- "$B" tar -tvf tree.tar
check tar-extract -- "$B" sh -c "mkdir x && cd x && $B tar -xf ../tree.tar && $B ls -lR --full-time ."
check tar-czf -- "$B" sh -c "$B tar -czf t.tgz tree && $B tar -tzvf t.tgz && $B tar -xzOf t.tgz tree/b/two.txt | $B md5sum"
check tar-pipe -- "$B" sh -c "$B tar -cf - tree | (mkdir y && cd y && $B tar -xvf -)"
check cpio --no-files -- "$B" sh -c "$B find tree | $B sort | $B cpio -o -H newc >t.cpio && $B cpio -it <t.cpio"

# ---- find, ls, xargs ----
check find -- "$B" sh -c "$B find tree | $B sort"
check find-type-name -- "$B" sh -c "$B find tree -type f -name '*.txt' | $B sort; $B find tree -type d -empty; $B find tree -type l"
check find-size-perm -- "$B" sh -c "$B find tree -size +2k | $B sort; $B find tree -perm 600; $B find . -maxdepth 1 -newer sums.md5 | $B sort"
check find-exec -- "$B" sh -c "$B find tree -type f -exec $B wc -c {} \\; | $B sort"
check find-xargs -- "$B" sh -c "$B find tree -type f -print0 | $B sort -z | $B xargs -0 $B md5sum"
check ls-l -- "$B" ls -lR --full-time tree
check xargs-n -- "$B" sh -c "$B seq 1 23 | $B xargs -n 4 echo"

# ---- numbers ----
check bc -- "$B" sh -c "echo 'scale=60; 4*a(1); e(1); sqrt(2); 2^200; 100/7' | $B bc -l"
check dc -- "$B" sh -c "echo '30 k 2 v p 10 3 / p 2 128 ^ p' | $B dc"
# (no large 64-bit prime: busybox factor tries divisors up to its square root, seconds natively)
check factor -- "$B" factor 18446744073709551615 600851475143 9007199254740993 999985999949 4294967291 97 1
check seq-printf -- "$B" sh -c "$B seq -w 0 7 70; $B seq 1.5 0.25 3; $B printf '%d %x %o %5.3f %e %s\n' 255 255 255 3.14159265 12345.678 str"
check expr -- "$B" sh -c "$B expr 7 \\* 6; $B expr 2147483647 + 1; $B expr -9223372036854775807 - 1; $B expr 100 / 7 % 4; $B expr abcdef : 'ab\\(.*\\)e'"
check date-fixed -- "$B" date -u -d @1700000000 '+%Y-%m-%d %H:%M:%S %j %a %s'

finish
