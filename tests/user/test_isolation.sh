#!/bin/bash
# SPDX-License-Identifier: MIT
# What the program can see of the runner: /proc/self/maps must list the guest's own mappings
# (every address inside the guest window, below 1 TiB) and nothing of the runner's (its binary,
# libZydis, libc, its heap). Natively the same file lists the program's real mappings, so this is
# not a native-vs-runner comparison but a check of what the runner must hide.
. "$(dirname "$0")/common.sh"

read -r -a R <<<"$RUNNER"
out=$("${RUN_ENV[@]}" timeout 60 "${R[@]}" "$BUSYBOX" cat /proc/self/maps 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
	fail maps-readable "exit status $rc: $out"
else
	pass maps-readable
	bad=$(printf '%s\n' "$out" | awk '{ split($1, r, "-"); e = r[2]; sub(/^0+/, "", e); if (length(e) > 11 || (length(e) == 11 && e != "10000000000")) print }')
	if [ -n "$bad" ]; then fail maps-inside-window "$bad"; else pass maps-inside-window; fi
	if printf '%s\n' "$out" | grep -Eq 'omnivisor|Zydis|libc|\[heap\]|/'; then
		fail maps-no-runner "$(printf '%s\n' "$out" | grep -E 'omnivisor|Zydis|libc|\[heap\]|/' | head -3)"
	else
		pass maps-no-runner
	fi
	# the busybox text segment the program runs from must be listed, executable
	if printf '%s\n' "$out" | grep -Eq '^0*401000-[0-9a-f]+ r-xp'; then
		pass maps-lists-program
	else
		fail maps-lists-program "$out"
	fi
fi
finish
