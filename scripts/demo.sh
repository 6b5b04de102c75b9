#!/bin/sh
# `make run`: until the VM boots, the main job is partial virtualization: Debian's busybox
# running on Omnivisor's virtual CPU. Usage: scripts/demo.sh OMNIVISOR BUSYBOX
set -eu
OV=$1
BB=$2
echo "== omnivisor exec $BB sh (Debian's busybox-static on the virtual CPU)" >&2
exec "$OV" exec -- "$BB" sh -c '
echo "kernel seen by the program: $(uname -srm)"
echo "busybox: $(busybox 2>&1 | head -n 1)"
printf "sha256 of \"omnivisor\": "; printf omnivisor | sha256sum | cut -d" " -f1
awk "BEGIN { printf \"floating point in awk: 355/113 = %.12f, 2^-20 = %g\n\", 355/113, 1/1048576 }"
seq 1 100000 | gzip -c | gunzip -c | tail -n 1 | sed "s/^/last line after a gzip round trip: /"
( sleep 0.1; echo "a background job finished" ) & wait
echo "directories in /: $(ls / | wc -l)"
'
