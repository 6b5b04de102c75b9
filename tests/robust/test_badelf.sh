#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile ELF files (tests/robust/gen-badelf.py): truncated at many lengths, bad identification,
# machine and type, bad program header tables, PT_LOADs with offsets/sizes/addresses out of
# range or wrapping, overlapping PT_LOADs, bad entry points, bad PT_INTERP (no NUL, NUL inside,
# past the end, huge, naming a text file, an empty file, a directory, a truncated or relocatable
# ELF, a program with an interpreter, itself). `reject` files must be refused with one line
# `omnivisor: ...` and a nonzero status that is no signal; `same` files (which Linux runs)
# must end exactly as natively. Run under the sanitizer build by tests/robust/run.sh, where a
# sanitizer report makes the check fail (see sanrun.sh).
. "$(dirname "$0")/../user/common.sh"

list=$(python3 "$(dirname "$0")/gen-badelf.py" "$DATA" "$RUN" "$PROGS/hello") || {
	fail gen-badelf "gen-badelf.py failed"
	finish
}
while read -r kind name; do
	case $kind in
	reject) check_rejected "elf-$name" "./$name" ;;
	same) check "elf-$name" --no-stderr -- "./$name" ;;
	esac
done <<<"$list"

finish
