#!/bin/bash
# SPDX-License-Identifier: MIT
# Files the runner cannot run. Each must be refused with one line on stderr starting with
# "omnivisor:" and a nonzero exit status that is not a signal (see check_rejected in common.sh).
# Natively, execve(2) fails on all of them (ENOEXEC, ENOENT, EACCES), except the 32-bit ELF,
# which a kernel with IA-32 emulation runs; omnivisor runs 64-bit programs only.
. "$(dirname "$0")/common.sh"

bad=$DATA/bad
mkdir -p "$bad"

# A text file without "#!".
printf 'this is not a program\nexit 0\n' >"$bad/notelf.txt"
# Nothing at all.
: >"$bad/empty"
# A complete 32-bit i386 ELF executable, 96 bytes: ELF header, one PT_LOAD, and
# `mov eax, 1; mov ebx, 42; int 0x80` (exit(42)) at 0x08048054.
printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000' >"$bad/elf32"
printf '\002\000\003\000\001\000\000\000\124\200\004\010\064\000\000\000\000\000\000\000' >>"$bad/elf32"
printf '\000\000\000\000\064\000\040\000\001\000\000\000\000\000\000\000' >>"$bad/elf32"
printf '\001\000\000\000\000\000\000\000\000\200\004\010\000\200\004\010' >>"$bad/elf32"
printf '\140\000\000\000\140\000\000\000\005\000\000\000\000\020\000\000' >>"$bad/elf32"
printf '\270\001\000\000\000\273\052\000\000\000\315\200' >>"$bad/elf32"
# The first 200 bytes of busybox: a valid ELF header whose program headers run past the end.
head -c 200 "$BUSYBOX" >"$bad/truncated"
# The first 64 bytes only: the ELF header alone.
head -c 64 "$BUSYBOX" >"$bad/header-only"
# A 64-bit ELF for another machine: busybox with e_machine (offset 18) set to AArch64 (183).
cp "$BUSYBOX" "$bad/aarch64"
printf '\267\000' | dd of="$bad/aarch64" bs=1 seek=18 conv=notrunc status=none
# A 64-bit ELF whose program header table lies beyond the end of the file (e_phoff, offset 32).
cp "$BUSYBOX" "$bad/bad-phoff"
printf '\000\000\000\100\000\000\000\000' | dd of="$bad/bad-phoff" bs=1 seek=32 conv=notrunc status=none
# A relocatable object (busybox with e_type, offset 16, set to ET_REL): nothing to load.
cp "$BUSYBOX" "$bad/relocatable"
printf '\001\000' | dd of="$bad/relocatable" bs=1 seek=16 conv=notrunc status=none
# A dynamically linked program whose PT_INTERP names a missing loader (same length string).
interp=/lib64/ld-linux-x86-64.so.2
dyn=/usr/bin/md5sum
off=$(LC_ALL=C grep -obUa "$interp" "$dyn" | head -n 1 | cut -d: -f1)
cp "$dyn" "$bad/missing-interp"
printf '/nonexistent/ld-x86-64.so.2' | dd of="$bad/missing-interp" bs=1 seek="$off" conv=notrunc status=none
chmod +x "$bad"/*
# Not executable: mode 0644 (natively EACCES).
cp "$BUSYBOX" "$bad/not-executable"
chmod 644 "$bad/not-executable"

check_rejected not-elf --expect 'ELF|exec format' bad/notelf.txt
check_rejected empty-file --expect 'ELF|exec format|empty' bad/empty
check_rejected elf32 --expect '32-bit|64-bit|class' bad/elf32
check_rejected truncated-elf --expect 'truncated|short|corrupt|invalid' bad/truncated
check_rejected header-only-elf --expect 'truncated|short|corrupt|invalid' bad/header-only
check_rejected wrong-machine --expect 'x86-64|x86_64|machine|architecture' bad/aarch64 --help
check_rejected phdrs-past-eof --expect 'truncated|short|corrupt|invalid' bad/bad-phoff
check_rejected relocatable-object --expect 'executable|ET_REL|relocatable|type' bad/relocatable
check_rejected missing-interpreter --expect 'interpreter.*/nonexistent/ld-x86-64\.so\.2|/nonexistent/ld-x86-64\.so\.2.*interpreter' bad/missing-interp bad/empty
check_rejected missing-file --expect 'No such file' bad/no-such-program
check_rejected missing-file-abs --expect 'No such file' /nonexistent/program arg
check_rejected directory --expect 'is a directory|permission denied' bad
check_rejected not-executable --expect 'permission denied|not executable' bad/not-executable true

finish
