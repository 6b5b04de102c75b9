# SPDX-License-Identifier: MIT
#
# Turns one differential-test case file (tests/cpu/cases/NAME.txt) into GNU as source:
# one labelled snippet per form in .rodata (several instructions if separated by ";;") and one `struct dt_case` entry per form in the
# `difftest_cases` section (collected by the linker; see tests/cpu/difftest.c).
# Usage: awk -v src=tests/cpu/cases/alu.txt -f tests/cpu/gen-cases.awk tests/cpu/cases/alu.txt
# Bad options fail here with file:line; bad instructions fail in the assembler with the same
# file:line (the generated source carries line markers).

function esc(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return s
}

function trim(s) {
	sub(/^[ \t\r]+/, "", s)
	sub(/[ \t\r]+$/, "", s)
	return s
}

function die(msg) {
	printf("%s:%d: error: %s\n", src, FNR, msg) > "/dev/stderr"
	err = 1
}

function check_opts(opts,    n, i, a, kv, k, v, m, j, fl) {
	n = split(opts, a, /[ \t;]+/)
	for (i = 1; i <= n; i++) {
		if (a[i] == "")
			continue
		if (index(a[i], "=") == 0) {
			die("option `" a[i] "' needs a value (undef=CF,OF x87=N df=1 mxcsr=0xHEX fcw=0xHEX)")
			continue
		}
		k = substr(a[i], 1, index(a[i], "=") - 1)
		v = substr(a[i], index(a[i], "=") + 1)
		if (k == "undef") {
			m = split(v, fl, ",")
			for (j = 1; j <= m; j++)
				if (fl[j] !~ /^(CF|PF|AF|ZF|SF|OF|C0|C1|C2|C3)$/)
					die("undef: unknown flag `" fl[j] "' (CF PF AF ZF SF OF C0 C1 C2 C3)")
		} else if (k == "x87") {
			if (v !~ /^[0-8]$/)
				die("x87=N needs 0 <= N <= 8")
		} else if (k == "df") {
			if (v !~ /^[01]$/)
				die("df= needs 0 or 1")
		} else if (k == "mxcsr" || k == "fcw") {
			if (v !~ /^0[xX][0-9a-fA-F]+$/)
				die(k "= needs a hex value such as 0x1F80")
		} else {
			die("unknown option `" k "' (undef= x87= df= mxcsr= fcw=)")
		}
	}
}

BEGIN {
	if (src == "")
		src = ARGV[1]
	print "\t.intel_syntax noprefix"
	printf("\t.section .rodata\n.Lfile: .asciz \"%s\"\n", esc(src))
	n = 0
	err = 0
}

{
	line = $0
	sub(/\r$/, "", line)
	if (line ~ /^[ \t]*(#|$)/)
		next
	# ";;" separates instructions of one form; a single ";" starts the options
	gsub(/;;/, "\001", line)
	text = line
	opts = ""
	p = index(line, ";")
	if (p > 0) {
		text = substr(line, 1, p - 1)
		opts = substr(line, p + 1)
	}
	text = trim(text)
	asm = text
	gsub(/\001/, sprintf("\n# %d \"%s\"\n\t", FNR, src), asm)
	gsub(/[ \t]*\001[ \t]*/, " ;; ", text)
	opts = trim(opts)
	if (text == "") {
		die("no instruction before `;'")
		next
	}
	check_opts(opts)
	n++
	printf("\t.section .rodata\n")
	printf("# %d \"%s\"\n", FNR, src)
	printf(".Ls%d:\t%s\n", n, asm)
	printf(".Le%d:\n", n)
	printf(".Lt%d: .asciz \"%s\"\n", n, esc(text))
	printf(".Lo%d: .asciz \"%s\"\n", n, esc(opts))
	printf("\t.section difftest_cases,\"aw\"\n\t.balign 8\n")
	printf("\t.quad .Ls%d, .Le%d, .Lt%d, .Lo%d, .Lfile\n\t.long %d, 0\n", n, n, n, n, FNR)
}

END {
	print "\t.section .note.GNU-stack,\"\",@progbits"
	if (err)
		exit 1
}
